"""What a supervision record says, validated, and the exact bytes a signature covers."""

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from datetime import date

from domain.anonymisation import NameLexicon, Screening
from domain.errors import InvalidContent

# Initials ("J.S.", "JS", "J S") or a case number containing digits ("CN-10234", "104331", "LCS 55821").
_INITIALS = re.compile(r"^(?:[A-Z]\.?\s?){1,4}$")
_CASE_NUMBER = re.compile(r"^(?:(?P<prefix>[A-Z]{1,6}|[Cc]ase|[Rr]ef|[Nn]o)\.?[-/ #]?)?\d[\dA-Za-z\-/]{0,19}$")
# A descriptor and an initial or a number: "Child A", "Baby J", "Sibling 2", "YP1".
_PSEUDONYM = re.compile(r"^(?:child|baby|sibling|young person|yp|cyp|infant|twin|mother|father|parent|carer)"
                        r"\s?(?:[A-Z]|\d{1,3})$", re.IGNORECASE)
_DATE = re.compile(r"\b\d{1,2}[/.\-]\d{1,2}[/.\-]\d{2,4}\b|\b(?:d\.?o\.?b|born)\b", re.IGNORECASE)
# Two or more capitalised words, e.g. "John Smith": what the policies forbid in a personal record.
_FULL_NAME = re.compile(r"\b[A-Z][a-z'’-]+(?:\s+[A-Z][a-z'’-]+)+\b")


def _is_name(word: str, lexicon: NameLexicon | None) -> bool:
    return lexicon is not None and (lexicon.is_given_name(word) or lexicon.is_surname(word))


def check_case_reference(reference: str, lexicon: NameLexicon | None = None) -> str:
    """Cases are referenced by initials, a pseudonym or a unique number, never by name (bury, bcp).

    With a lexicon, capitals that spell a name ("JOHN") are not initials and a name is not a case
    number's prefix ("TOM 12"); a surname with a number ("Smith 12345") is never a case number."""
    ref = reference.strip()
    if not ref:
        raise InvalidContent("case reference must not be empty: use initials or a case number")
    if _PSEUDONYM.match(ref):
        return ref
    if _DATE.search(ref):
        raise InvalidContent(f"case reference {ref!r} holds a date (a date of birth identifies a child): "
                             "use initials or a case number")
    if _FULL_NAME.search(ref):
        raise InvalidContent(
            f"case reference {ref!r} looks like a full name: use initials (e.g. 'J.S.') or a case number"
        )
    letters = re.sub(r"[^A-Za-z]", "", ref)
    if _INITIALS.match(ref) and not (len(letters) >= 3 and "." not in ref and " " not in ref
                                     and _is_name(letters, lexicon)):
        return ref
    number = _CASE_NUMBER.match(ref)
    prefix = number.group("prefix") if number else None
    if number and not (prefix and len(prefix) >= 3 and prefix.isupper() and _is_name(prefix, lexicon)):
        return ref
    if letters and _is_name(re.split(r"[^A-Za-z'’-]", ref)[0], lexicon):
        raise InvalidContent(f"case reference {ref!r} looks like a name: use initials (e.g. 'J.S.'), a "
                             "pseudonym (e.g. 'Child A') or a case number")
    raise InvalidContent(
        f"case reference {ref!r} is neither initials (e.g. 'J.S.'), a pseudonym (e.g. 'Child A') nor a case "
        "number (e.g. 'CN-10234')"
    )


@dataclass(frozen=True)
class Action:
    description: str
    owner: str
    due: date

    @classmethod
    def from_dict(cls, data: dict) -> "Action":
        try:
            due = data["due"] if isinstance(data["due"], date) else date.fromisoformat(str(data["due"]))
            description, owner = str(data["description"]).strip(), str(data["owner"]).strip()
        except (KeyError, ValueError) as exc:
            raise InvalidContent(f"an action needs description, owner and an ISO due date: {exc}") from None
        if not description or not owner:
            raise InvalidContent("an action needs a description and an owner")
        return cls(description, owner, due)


@dataclass(frozen=True)
class CaseDiscussion:
    case_reference: str
    summary: str
    decision: str = ""

    @classmethod
    def from_dict(cls, data: dict, lexicon: NameLexicon | None = None) -> "CaseDiscussion":
        try:
            ref = check_case_reference(str(data["case_reference"]), lexicon)
        except KeyError:
            raise InvalidContent("a case discussion needs a case_reference") from None
        return cls(ref, str(data.get("summary", "")).strip(), str(data.get("decision", "")).strip())


@dataclass(frozen=True)
class RecordContent:
    """The agreed text of one supervision session."""

    session_date: date
    attendees: tuple[str, ...]
    agenda: tuple[str, ...]
    discussion: str
    actions: tuple[Action, ...] = field(default_factory=tuple)
    case_discussions: tuple[CaseDiscussion, ...] = field(default_factory=tuple)

    @classmethod
    def from_dict(cls, data: dict, lexicon: NameLexicon | None = None) -> "RecordContent":
        if not isinstance(data, dict):
            raise InvalidContent("record content must be an object")
        try:
            raw_date = data["session_date"]
            session_date = raw_date if isinstance(raw_date, date) else date.fromisoformat(str(raw_date))
        except KeyError:
            raise InvalidContent("session_date is required") from None
        except ValueError:
            raise InvalidContent(f"session_date {data['session_date']!r} is not an ISO date") from None
        attendees = tuple(str(a).strip() for a in data.get("attendees", ()) if str(a).strip())
        if not attendees:
            raise InvalidContent("attendees must name at least one person")
        discussion = str(data.get("discussion", "")).strip()
        if not discussion:
            raise InvalidContent("discussion must not be empty")
        return cls(
            session_date=session_date,
            attendees=attendees,
            agenda=tuple(str(a).strip() for a in data.get("agenda", ()) if str(a).strip()),
            discussion=discussion,
            actions=tuple(Action.from_dict(a) for a in data.get("actions", ())),
            case_discussions=tuple(CaseDiscussion.from_dict(c, lexicon) for c in data.get("case_discussions", ())),
        )

    def free_text(self) -> list[tuple[str, str]]:
        """(field, text) for every field a person writes freely: what the anonymisation check reads.

        Attendees and action owners are the staff at the session, named on purpose."""
        fields = [("discussion", self.discussion)]
        fields += [(f"agenda[{n}]", item) for n, item in enumerate(self.agenda)]
        fields += [(f"actions[{n}].description", a.description) for n, a in enumerate(self.actions)]
        for n, case in enumerate(self.case_discussions):
            fields += [(f"case_discussions[{n}].summary", case.summary),
                       (f"case_discussions[{n}].decision", case.decision)]
        return fields

    @classmethod
    def screened(cls, data: dict, screening: Screening | None, confirmed_anonymous: bool) -> tuple[dict, bool]:
        """The validated content as stored, and whether it was accepted on the supervisor's confirmation."""
        content = cls.from_dict(data, screening.lexicon if screening else None)
        if screening is None:
            if confirmed_anonymous:
                raise InvalidContent("nothing to confirm: no anonymisation check applies here")
            return content.to_dict(), False
        return content.to_dict(), screening.check(content.free_text(), confirmed_anonymous=confirmed_anonymous)

    def to_dict(self) -> dict:
        """JSON-ready: dates as ISO strings, lists not tuples."""
        return json.loads(json.dumps(asdict(self), default=_iso))


def _iso(value: object) -> str:
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"not serialisable: {value!r}")


def content_sha256(record_id: str, content_version: int, content: dict) -> str:
    """Canonical JSON of the exact version: a signature covers this hash, bound to the record and version."""
    document = {"record_id": record_id, "content_version": content_version, "content": content}
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def addendum_sha256(record_id: str, number: int, text: str, reason: str) -> str:
    document = {"record_id": record_id, "addendum": number, "text": text, "reason": reason}
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
