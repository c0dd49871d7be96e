"""A record's full history for an investigating officer: every version, who did what and when,
what changed between versions, and the record exactly as it stood at any moment."""

import difflib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from api.application import SupervisionApplication
from api.errors import NotFound
from domain.supervision_record import SupervisionRecord

_CONTENT_EVENTS = {"Drafted", "Amended"}


@dataclass(frozen=True)
class HistoryEntry:
    version: int
    event: str
    actor: str
    actor_name: str
    at: datetime
    summary: str
    content_version: int
    diff: list[str]

    def to_dict(self) -> dict:
        return {"version": self.version, "event": self.event, "actor": self.actor, "actor_name": self.actor_name,
                "at": self.at.isoformat(), "summary": self.summary, "content_version": self.content_version,
                "diff": self.diff}


def render_content(content: dict) -> list[str]:
    """Stable, line-per-fact text of a record's content, so that diffs read naturally."""
    lines = [f"session date: {content['session_date']}", f"attendees: {', '.join(content['attendees'])}"]
    lines += [f"agenda: {item}" for item in content.get("agenda", [])]
    lines += ["discussion:"] + [f"  {line}" for line in content["discussion"].splitlines()]
    lines += [f"action: {a['description']} (owner {a['owner']}, due {a['due']})" for a in content.get("actions", [])]
    lines += [f"case {c['case_reference']}: {c['summary']}" + (f" | decision: {c['decision']}" if c.get("decision") else "")
              for c in content.get("case_discussions", [])]
    return lines


def _summary(name: str, e: Any) -> str:
    return {
        "Drafted": "drafted the record",
        "SharedWithSupervisee": "shared the draft with the supervisee",
        "AmendmentRequested": f"requested an amendment: {getattr(e, 'text', '')}",
        "Amended": "amended the record",
        "AmendmentDeclined": f"declined the amendment (area of disagreement): {getattr(e, 'rationale', '')}",
        "SignedBySupervisee": f"signed as supervisee (SHA-256 {getattr(e, 'content_sha256', '')[:16]}…)",
        "SignedBySupervisor": f"signed as supervisor (SHA-256 {getattr(e, 'content_sha256', '')[:16]}…): locked",
        "AddendumAdded": f"added addendum {getattr(e, 'number', '')}: {getattr(e, 'reason', '')}",
        "AddendumCountersigned": f"countersigned addendum {getattr(e, 'number', '')}",
    }.get(name, name)


def record_history(app: SupervisionApplication, record_id: UUID | str) -> list[HistoryEntry]:
    names = NameBook(app)
    entries, previous, content_version = [], None, 0
    for e in app.records.record_events(record_id):
        name = type(e).__name__
        diff: list[str] = []
        if name in _CONTENT_EVENTS:
            content_version += 1
            current = render_content(e.content)
            diff = list(difflib.unified_diff(previous or [], current, f"v{content_version - 1}",
                                             f"v{content_version}", lineterm="", n=1)) if previous else []
            previous = current
        entries.append(HistoryEntry(e.originator_version, name, e.actor, names.name(e.actor), e.timestamp,
                                    _summary(name, e), content_version, diff))
    return entries


def record_view(record: SupervisionRecord, names: "NameBook") -> dict:
    return {
        "record_id": str(record.id), "version": record.version, "state": record.state,
        "supervisee": {"id": record.supervisee_id, "name": names.name(record.supervisee_id)},
        "supervisor": {"id": record.supervisor_id, "name": names.name(record.supervisor_id)},
        "content_version": record.content_version, "content_sha256": record.content_sha256,
        "content": record.content, "signatures": record.signatures, "amendments": record.amendments,
        "open_amendment": record.open_amendment, "areas_of_disagreement": record.disagreements,
        "addenda": record.addenda, "last_changed": record.modified_on.isoformat(),
    }


class NameBook:
    """Actor ids to display names, read from the (sealed) worker events, cached per request."""

    def __init__(self, app: SupervisionApplication) -> None:
        self.app = app
        self._names: dict[str, str] = {}

    def name(self, actor: str) -> str:
        if actor not in self._names:
            try:
                self._names[actor] = self.app.people.worker_name(UUID(actor))
            except (ValueError, NotFound):
                self._names[actor] = actor
        return self._names[actor]


def to_json(value: Any) -> str:
    return json.dumps(value, indent=2, default=str, ensure_ascii=False)
