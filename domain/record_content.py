"""What a supervision record says, validated, and the exact bytes a signature covers."""

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from datetime import date

from domain.errors import InvalidContent

# Initials ("J.S.", "JS", "J S") or a case number containing digits ("CN-10234", "104331").
_INITIALS = re.compile(r"^(?:[A-Z]\.?\s?){1,4}$")
_CASE_NUMBER = re.compile(r"^[A-Za-z]{0,5}[-/ ]?\d[\dA-Za-z\-/]{0,19}$")
# Two or more capitalised words, e.g. "John Smith": what the policies forbid in a personal record.
_FULL_NAME = re.compile(r"\b[A-Z][a-z'’-]+(?:\s+[A-Z][a-z'’-]+)+\b")


def check_case_reference(reference: str) -> str:
    """Cases are referenced by initials or a unique number, never by name (bury, bcp)."""
    ref = reference.strip()
    if not ref:
        raise InvalidContent("case reference must not be empty: use initials or a case number")
    if _FULL_NAME.search(ref):
        raise InvalidContent(
            f"case reference {ref!r} looks like a full name: use initials (e.g. 'J.S.') or a case number"
        )
    if not (_INITIALS.match(ref) or _CASE_NUMBER.match(ref)):
        raise InvalidContent(
            f"case reference {ref!r} is neither initials (e.g. 'J.S.') nor a case number (e.g. 'CN-10234')"
        )
    return ref


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
    def from_dict(cls, data: dict) -> "CaseDiscussion":
        try:
            ref = check_case_reference(str(data["case_reference"]))
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
    def from_dict(cls, data: dict) -> "RecordContent":
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
            case_discussions=tuple(CaseDiscussion.from_dict(c) for c in data.get("case_discussions", ())),
        )

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
