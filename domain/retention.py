"""Retention: legal holds and the destruction of a leaver's file when its retention period ends.

Records are destroyed by crypto-shredding (the worker's data key is deleted). What is recorded here is
the lawful decision and its execution: which file, under which rule, when, by whom — kept under the
organisation's key so that it outlives the file it describes.
"""

from datetime import date, datetime
from enum import Enum
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.errors import DomainError, OutOfOrder
from domain.labels import ACTOR_LENGTH, bounded
from domain.timestamps import require_not_before, require_utc


class HoldKind(str, Enum):
    INVESTIGATION = "investigation"
    LITIGATION = "litigation"
    SUBJECT_ACCESS_REQUEST = "subject_access_request"
    OTHER = "other"


class LegalHold(Aggregate):
    """Keeps a worker's file from destruction while an investigation, litigation or SAR is open."""

    @event("LegalHoldPlaced")
    def __init__(self, worker_id: str, kind: str, reason: str, reference: str, actor: str,
                 timestamp: datetime) -> None:
        self.worker_id = worker_id
        self.kind = kind
        self.reason = reason
        self.reference = reference
        self.placed_by = actor
        self.released_at: datetime | None = None
        self.release_reason: str | None = None

    @classmethod
    def place(cls, *, worker_id: str, kind: str, reason: str, reference: str, actor: str,
              timestamp: datetime) -> "LegalHold":
        require_utc(timestamp)
        try:
            HoldKind(kind)
        except ValueError:
            raise DomainError(f"hold kind {kind!r} is not one of: {', '.join(k.value for k in HoldKind)}") from None
        if not reason.strip() or not reference.strip():
            raise DomainError("a legal hold needs a reason and a reference (e.g. the investigation number)")
        return cls(worker_id, kind, reason.strip(), reference.strip(), bounded(actor, ACTOR_LENGTH, "actor"), timestamp)

    @property
    def is_active(self) -> bool:
        return self.released_at is None

    def release(self, reason: str, *, actor: str, timestamp: datetime) -> None:
        require_not_before(timestamp, self.modified_on)
        if not self.is_active:
            raise OutOfOrder(f"the hold was already released on {self.released_at}")
        if not reason.strip():
            raise DomainError("releasing a hold needs a reason")
        self._released(reason=reason.strip(), actor=actor, timestamp=timestamp)

    @event("LegalHoldReleased")
    def _released(self, reason: str, actor: str, timestamp: datetime) -> None:
        self.released_at = timestamp
        self.release_reason = reason


def require_due_and_approved(subject: str, kind: str, as_of: date, destruction_date: date, approval: dict) -> None:
    """What every destruction under retention needs before it starts, whatever the record class: its date has
    come, and a second person approved the list it is on."""
    if as_of < destruction_date:
        raise DomainError(f"{subject} is not due for destruction until {destruction_date}")
    if not approval.get("approved_by") or approval.get("proposed_by") == approval.get("approved_by"):
        raise DomainError(f"{kind} is destroyed only under a list a second person approved")


def destruction_id(worker_id: str) -> UUID:
    """One destruction per worker file: a rerun after a crash finds it, two runs at once conflict."""
    return uuid5(NAMESPACE_URL, f"svl:file-destruction:{worker_id}")


class FileDestruction(Aggregate):
    """Started before the key is deleted and completed after, so a run killed halfway is finished by the next."""

    @event("DestructionStarted")
    def __init__(self, worker_id: str, key_id: str, record_ids: list[str], event_count: int, rule: str,
                 pack: str, leaving_date: date, destruction_date: date, checkpoint_before: dict | None,
                 actor: str, timestamp: datetime, approval: dict | None = None) -> None:
        self.worker_id = worker_id
        # The disposition review it was destroyed under: proposal id, proposed_by, approved_by, approved_at,
        # rationale (None only in destructions recorded before reviews existed).
        self.approval = approval
        self.key_id = key_id
        self.record_ids = record_ids
        self.event_count = event_count
        self.rule = rule
        self.pack = pack
        self.leaving_date = leaving_date
        self.destruction_date = destruction_date
        self.checkpoint_before = checkpoint_before
        self.started_by = actor
        self.completed_at: datetime | None = None
        self.checkpoint_after: dict | None = None
        self.ciphertext_purged = False
        self.certificate_sha256: str | None = None

    @classmethod
    def start(cls, *, worker_id: str, key_id: str, record_ids: list[str], event_count: int, rule: str, pack: str,
              leaving_date: date, destruction_date: date, as_of: date, checkpoint_before: dict | None,
              actor: str, timestamp: datetime, approval: dict) -> "FileDestruction":
        require_utc(timestamp)
        require_due_and_approved("the file", "a file", as_of, destruction_date, approval)
        return cls(worker_id, key_id, record_ids, event_count, rule, pack, leaving_date, destruction_date,
                   checkpoint_before, actor, timestamp, approval)

    @staticmethod
    def create_id(worker_id: str) -> UUID:
        return destruction_id(worker_id)

    @property
    def is_complete(self) -> bool:
        return self.completed_at is not None

    def complete(self, *, ciphertext_purged: bool, checkpoint_after: dict | None, certificate_sha256: str,
                 actor: str, timestamp: datetime) -> None:
        require_not_before(timestamp, self.modified_on)
        if self.is_complete:
            raise OutOfOrder("this destruction is already complete")
        self._completed(worker_id=self.worker_id, ciphertext_purged=ciphertext_purged,
                        checkpoint_after=checkpoint_after, certificate_sha256=certificate_sha256, actor=actor,
                        timestamp=timestamp)

    @event("DestructionCompleted")
    def _completed(self, worker_id: str, ciphertext_purged: bool, checkpoint_after: dict | None,
                   certificate_sha256: str, actor: str, timestamp: datetime) -> None:
        self.completed_at = timestamp
        self.ciphertext_purged = ciphertext_purged
        self.checkpoint_after = checkpoint_after
        self.certificate_sha256 = certificate_sha256


def retention_status(*, state: str, leaving_date: date | None, destruction_date: date | None,
                     archival_deadline: date | None, active_holds: int, destroyed: bool, as_of: date) -> str:
    """What the schedule says of one worker's file on a given day."""
    if destroyed:
        return "destroyed"
    if state == "active":
        return "active"
    if state == "left":
        return "archival_overdue" if archival_deadline is not None and as_of > archival_deadline else "awaiting_archival"
    if destruction_date is None:
        return "retained"
    if as_of < destruction_date:
        return "retained"
    return "held" if active_holds else "due"
