"""The record form: the pack's template sections (their titles and prompts), actions and case discussions,
translated to and from a record's content. The content keeps its one schema (domain/record_content.py): each
filled section becomes a `## Title` block of the discussion, so a record reads the same through the API."""

import re
from dataclasses import dataclass, field
from datetime import date

from domain.policy import RecordTemplate
from domain.record_template import OTHER, join_sections, split_sections

ACTION_ROWS = 3
CASE_ROWS = 2


@dataclass
class FormErrors:
    """Field id -> message, in page order, for the GOV.UK error summary."""

    messages: dict[str, str] = field(default_factory=dict)

    def add(self, field_id: str, message: str) -> None:
        self.messages.setdefault(field_id, message)

    def __bool__(self) -> bool:
        return bool(self.messages)

    def summary(self) -> list[dict]:
        return [{"text": m, "href": f"#{f}"} for f, m in self.messages.items()]


@dataclass
class RecordForm:
    day: str = ""
    month: str = ""
    year: str = ""
    attendees: str = ""
    agenda: str = ""
    sections: dict[str, str] = field(default_factory=dict)
    actions: list[dict] = field(default_factory=list)
    cases: list[dict] = field(default_factory=list)

    # -- from content (to amend) and from a submitted form ---------------------------------------------------

    @classmethod
    def blank(cls, attendees: list[str]) -> "RecordForm":
        return cls(attendees="\n".join(attendees)).padded()

    @classmethod
    def from_content(cls, content: dict, template: RecordTemplate) -> "RecordForm":
        year, month, day = str(content["session_date"]).split("-")
        return cls(day=str(int(day)), month=str(int(month)), year=year, attendees="\n".join(content["attendees"]),
                   agenda="\n".join(content.get("agenda", [])),
                   sections=split_sections(content["discussion"], template),
                   actions=[dict(a) for a in content.get("actions", [])],
                   cases=[{"case_reference": c["case_reference"], "summary": c.get("summary", ""),
                           "decision": c.get("decision", "")} for c in content.get("case_discussions", [])]
                   ).padded()

    @classmethod
    def from_submitted(cls, form: dict[str, str], template: RecordTemplate) -> "RecordForm":
        keys = [s.key for s in template.sections] + [OTHER]
        rows = _rows(form, "action", ("description", "owner", "due"))
        cases = _rows(form, "case", ("case_reference", "summary", "decision"))
        return cls(day=form.get("session_date-day", "").strip(), month=form.get("session_date-month", "").strip(),
                   year=form.get("session_date-year", "").strip(), attendees=form.get("attendees", ""),
                   agenda=form.get("agenda", ""),
                   sections={k: form.get(f"section-{k}", "") for k in keys if form.get(f"section-{k}", "").strip()},
                   actions=rows, cases=cases)

    def padded(self) -> "RecordForm":
        """Blank rows to fill in, with JavaScript off (no 'add another' button needed)."""
        self.actions = [a for a in self.actions if any(str(v).strip() for v in a.values())]
        self.cases = [c for c in self.cases if any(str(v).strip() for v in c.values())]
        self.actions += [{"description": "", "owner": "", "due": ""}] * ACTION_ROWS
        self.cases += [{"case_reference": "", "summary": "", "decision": ""}] * CASE_ROWS
        return self

    # -- to content ------------------------------------------------------------------------------------------

    def content(self, template: RecordTemplate, errors: FormErrors) -> dict:
        """The record content, or errors naming each field that cannot become content."""
        session_date = self._date(errors)
        attendees = _lines(self.attendees)
        if not attendees:
            errors.add("attendees", "Enter who attended, one person on each line")
        sections = {k: v.strip() for k, v in self.sections.items() if v.strip()}
        if not sections:
            errors.add(f"section-{template.sections[0].key}", "Write at least one section of the record")
        actions = []
        for n, a in enumerate(self.actions, start=1):
            if not any(str(v).strip() for v in a.values()):
                continue
            for part, label in (("description", "what is to be done"), ("owner", "who will do it"),
                                ("due", "the date it is due")):
                if not str(a.get(part, "")).strip():
                    errors.add(f"action-{n}-{part}", f"Action {n}: enter {label}")
            if str(a.get("due", "")).strip() and not _iso_date(str(a["due"]).strip()):
                errors.add(f"action-{n}-due", f"Action {n}: the due date must be a real date, like 2026-12-15")
            actions.append({k: str(a.get(k, "")).strip() for k in ("description", "owner", "due")})
        cases = []
        for n, c in enumerate(self.cases, start=1):
            if not any(str(v).strip() for v in c.values()):
                continue
            if not str(c.get("case_reference", "")).strip():
                errors.add(f"case-{n}-case_reference", f"Case {n}: enter the case's initials or case number")
            cases.append({k: str(c.get(k, "")).strip() for k in ("case_reference", "summary", "decision")
                          if k == "case_reference" or str(c.get(k, "")).strip()})
        titles = {s.key: s.title for s in template.sections}
        agenda = _lines(self.agenda) or [titles[k] for k in titles if k in sections]
        return {"session_date": session_date, "attendees": attendees, "agenda": agenda,
                "discussion": join_sections(sections, template), "actions": actions, "case_discussions": cases}

    def _date(self, errors: FormErrors) -> str:
        if not (self.day and self.month and self.year):
            errors.add("session_date-day", "Enter the date of the session, with a day, month and year")
            return ""
        try:
            return date(int(self.year), int(self.month), int(self.day)).isoformat()
        except ValueError:
            errors.add("session_date-day", "The date of the session must be a real date")
            return ""


def error_field(message: str, form: RecordForm, template: RecordTemplate) -> str:
    """Which field a refusal of the content (domain/record_content.py) is about, for the error summary."""
    lowered = message.lower()
    if "case reference" in lowered or "case_reference" in lowered:
        for n, c in enumerate(form.cases, start=1):
            ref = str(c.get("case_reference", "")).strip()
            if ref and repr(ref) in message:
                return f"case-{n}-case_reference"
        return "case-1-case_reference"
    if "session_date" in lowered:
        return "session_date-day"
    if "attendee" in lowered:
        return "attendees"
    if "action" in lowered:
        return "action-1-description"
    return f"section-{template.sections[0].key}"


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _iso_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
        return True
    except ValueError:
        return False


def _rows(form: dict[str, str], prefix: str, parts: tuple[str, ...]) -> list[dict]:
    numbers = sorted({int(m.group(1)) for k in form if (m := re.match(rf"^{prefix}-(\d{{1,3}})-", k))})
    return [{p: form.get(f"{prefix}-{n}-{p}", "") for p in parts} for n in numbers]
