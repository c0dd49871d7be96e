"""The destruction of case supervision records at the end of their own retention period, reviewed first.

Case supervision records are kept for their own period (``record_classes.case_supervision.retention``), each
sealed with its own key, so they are destroyed on their own schedule, apart from any worker's personal file.
As for personal files, one authorised person proposes the records due on a day and a second approves the list
(``destruction_approval``) before a key is destroyed; the list, the review and what was destroyed are kept here,
under the organisation's key, so they outlive the records they describe.
"""

from datetime import date, datetime

from eventsourcing.domain import Aggregate, event

from domain.destruction_proposal import RATIONALE_LENGTH
from domain.errors import DomainError, NotPermitted, OutOfOrder
from domain.labels import ACTOR_LENGTH, bounded
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
        self.decision, self.decided_by, self.rationale = decision, actor, rationale

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


__all__ = ["CaseRecordDisposal"]
