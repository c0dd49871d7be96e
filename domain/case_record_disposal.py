"""The destruction of case supervision records at the end of their own retention period, reviewed first.

Case supervision records are kept for their own period (``record_classes.case_supervision.retention``), each
sealed with its own key, so they are destroyed on their own schedule, apart from any worker's personal file.
As for personal files, one authorised person proposes the records due on a day and a second approves the list
(``destruction_approval``) before a key is destroyed; the list, the review and what was destroyed are kept here,
under the organisation's key, so they outlive the records they describe. Each record's destruction is started
before its key goes and completed after, with its certificate, by the same steps as a personal file's
(``domain.retention.FileDestruction``, api/retention_service.py).
"""

from datetime import date, datetime
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.destruction_proposal import RATIONALE_LENGTH
from domain.errors import DomainError, NotPermitted, OutOfOrder
from domain.labels import ACTOR_LENGTH, bounded
from domain.retention import require_due_and_approved
from domain.timestamps import require_not_before, require_utc


class CaseRecordDisposal(Aggregate):
    @event("CaseRecordDestructionProposed")
    def __init__(self, as_of: date, records: list[dict], pack: str, rule: str, actor: str, proposer_user: str,
                 timestamp: datetime) -> None:
        self.as_of = as_of
        self.records = records  # [{"record_id", "destruction_date" (ISO)}]
        self.pack = pack
        self.rule = rule
        self.proposed_by = actor
        self.proposer_user = proposer_user
        self.decision: str | None = None
        self.decided_by: str | None = None
        self.decided_at: datetime | None = None
        self.rationale: str | None = None
        self.destroyed: list[str] = []
        self.destroyed_at: datetime | None = None

    @classmethod
    def propose(cls, *, as_of: date, records: list[dict], pack: str, rule: str, actor: str, proposer_user: str,
                timestamp: datetime) -> "CaseRecordDisposal":
        require_utc(timestamp)
        if as_of > timestamp.date():
            raise DomainError(f"as_of {as_of} is in the future: only records due by today may be proposed")
        if not records:
            raise OutOfOrder(f"no case supervision record is due for destruction on {as_of}: nothing to propose")
        ids = [r["record_id"] for r in records]
        if len(set(ids)) != len(ids):
            raise DomainError("a case supervision record appears twice in the proposed list")
        late = [r["record_id"] for r in records if date.fromisoformat(r["destruction_date"]) > as_of]
        if late:
            raise DomainError(f"case supervision record {late[0]} is not due for destruction on {as_of}")
        return cls(as_of, [dict(r) for r in records], pack, rule, bounded(actor, ACTOR_LENGTH, "actor"),
                   proposer_user, timestamp)

    @property
    def record_ids(self) -> list[str]:
        return [r["record_id"] for r in self.records]

    def approve(self, rationale: str, *, actor: str, user: str, timestamp: datetime) -> None:
        self._check_decision(rationale, user, timestamp)
        self._decided(decision="approved", rationale=rationale.strip(), actor=bounded(actor, ACTOR_LENGTH, "actor"),
                      timestamp=timestamp)

    def reject(self, rationale: str, *, actor: str, user: str, timestamp: datetime) -> None:
        self._check_decision(rationale, user, timestamp)
        self._decided(decision="rejected", rationale=rationale.strip(), actor=bounded(actor, ACTOR_LENGTH, "actor"),
                      timestamp=timestamp)

    def _check_decision(self, rationale: str, user: str, timestamp: datetime) -> None:
        require_not_before(timestamp, self.modified_on)
        if self.decision is not None:
            raise OutOfOrder(f"this list was already {self.decision} by {self.decided_by}")
        if user == self.proposer_user:
            raise NotPermitted("the person who proposed a list may not approve or reject it: a second person must")
        if not rationale.strip():
            raise DomainError("approving or rejecting a destruction list needs a rationale")
        if len(rationale) > RATIONALE_LENGTH:
            raise DomainError(f"the rationale is longer than {RATIONALE_LENGTH} characters")

    @event("CaseRecordDestructionDecided")
    def _decided(self, decision: str, rationale: str, actor: str, timestamp: datetime) -> None:
        self.decision, self.decided_by, self.decided_at, self.rationale = decision, actor, timestamp, rationale

    def require_approved(self) -> None:
        if self.decision != "approved":
            state = "rejected" if self.decision == "rejected" else "not yet approved"
            raise OutOfOrder(f"the list of case supervision records of {self.as_of} is {state}: nothing may be "
                             "destroyed under it until a second authorised person approves it")

    def record_destruction(self, destroyed: list[str], *, actor: str, timestamp: datetime) -> None:
        """Recorded after the records' keys are gone (a rerun finishes a run that stopped before this)."""
        require_not_before(timestamp, self.modified_on)
        self.require_approved()
        if self.destroyed_at is not None:
            raise OutOfOrder("this list was already destroyed")
        unknown = set(destroyed) - set(self.record_ids)
        if unknown:
            raise DomainError(f"records outside the approved list: {', '.join(sorted(unknown))}")
        self._destroyed(destroyed=sorted(destroyed), actor=actor, timestamp=timestamp)

    @event("CaseRecordsDestroyed")
    def _destroyed(self, destroyed: list[str], actor: str, timestamp: datetime) -> None:
        self.destroyed = destroyed
        self.destroyed_at = timestamp


CASE_RECORD_CLASS = "case_supervision"


def case_record_destruction_id(record_id: str) -> UUID:
    """One destruction per record, derived from its id alone (svl-verify derives it the same way, so a certificate
    proves this record's own destruction event; a rerun after a crash finds it)."""
    return uuid5(NAMESPACE_URL, f"svl:case-supervision-destruction:{record_id}")


class CaseRecordDestruction(Aggregate):
    """One case supervision record's destruction under its class's own retention: started (with the checkpoint
    before and the review it was approved in) before its key is destroyed, completed (with its certificate's
    digest) after."""

    @event("CaseRecordDestructionStarted")
    def __init__(self, record_id: str, worker_id: str, key_id: str, event_count: int, rule: str, pack: str,
                 discussed_on: date, destruction_date: date, disposal_id: str, checkpoint_before: dict,
                 approval: dict, actor: str, timestamp: datetime) -> None:
        self.record_class = CASE_RECORD_CLASS
        self.record_id = record_id
        self.worker_id = worker_id
        self.key_id = key_id
        self.event_count = event_count
        self.rule = rule
        self.pack = pack
        self.discussed_on = discussed_on
        self.destruction_date = destruction_date
        self.disposal_id = disposal_id
        self.checkpoint_before = checkpoint_before
        self.approval = approval
        self.started_by = actor
        self.completed_at: datetime | None = None
        self.certificate_sha256: str | None = None

    @classmethod
    def start(cls, *, record_id: str, worker_id: str, key_id: str, event_count: int, rule: str, pack: str,
              discussed_on: date, destruction_date: date, as_of: date, disposal_id: str, checkpoint_before: dict,
              approval: dict, actor: str, timestamp: datetime) -> "CaseRecordDestruction":
        require_utc(timestamp)
        require_due_and_approved(f"case supervision record {record_id}", "a case supervision record", as_of,
                                 destruction_date, approval)
        return cls(record_id, worker_id, key_id, event_count, rule, pack, discussed_on, destruction_date, disposal_id,
                   checkpoint_before, approval, bounded(actor, ACTOR_LENGTH, "actor"), timestamp)

    @staticmethod
    def create_id(record_id: str) -> UUID:
        return case_record_destruction_id(record_id)

    @property
    def is_complete(self) -> bool:
        return self.completed_at is not None

    def complete(self, *, ciphertext_purged: bool, checkpoint_after: dict | None, certificate_sha256: str,
                 actor: str, timestamp: datetime) -> None:
        """The same step as a personal file's (FileDestruction.complete); case records' ciphertext is kept."""
        require_not_before(timestamp, self.modified_on)
        if self.is_complete:
            raise OutOfOrder("this destruction is already complete")
        if ciphertext_purged:
            raise DomainError("a case supervision record's ciphertext is kept (its leaf with it): only its key goes")
        self._completed(record_id=self.record_id, certificate_sha256=certificate_sha256, actor=actor,
                        timestamp=timestamp)

    @event("CaseRecordDestructionCompleted")
    def _completed(self, record_id: str, certificate_sha256: str, actor: str, timestamp: datetime) -> None:
        self.completed_at = timestamp
        self.certificate_sha256 = certificate_sha256


__all__ = ["CASE_RECORD_CLASS", "CaseRecordDestruction", "CaseRecordDisposal", "case_record_destruction_id"]
