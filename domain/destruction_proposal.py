"""Disposition review: the list of files due for destruction is proposed by one authorised person and approved
(or rejected) by another before any key is destroyed. The list is fixed when proposed; the approval, with its
rationale, is recorded here and signed into each file's destruction certificate.
"""

from datetime import date, datetime

from eventsourcing.domain import Aggregate, event

from domain.errors import DomainError, NotPermitted, OutOfOrder
from domain.labels import ACTOR_LENGTH, bounded
from domain.timestamps import require_not_before, require_utc

RATIONALE_LENGTH = 2000


class DestructionProposal(Aggregate):
    """Files due for destruction on a day, each with its due date and the rule that set it."""

    @event("DestructionProposed")
    def __init__(self, as_of: date, files: list[dict], pack: str, actor: str, proposer_user: str,
                 timestamp: datetime) -> None:
        self.as_of = as_of
        self.files = files  # [{"worker_id", "destruction_date" (ISO), "rule"}], in schedule order
        self.pack = pack
        self.proposed_by = actor
        self.proposer_user = proposer_user
        self.decision: str | None = None  # approved | rejected
        self.decided_by: str | None = None
        self.decided_at: datetime | None = None
        self.rationale: str | None = None
        self.executed_at: datetime | None = None
        self.destroyed: list[str] = []
        self.skipped: list[dict] = []

    @classmethod
    def propose(cls, *, as_of: date, files: list[dict], pack: str, actor: str, proposer_user: str,
                timestamp: datetime) -> "DestructionProposal":
        require_utc(timestamp)
        if as_of > timestamp.date():
            raise DomainError(f"as_of {as_of} is in the future: only files due by today may be proposed")
        if not files:
            raise OutOfOrder(f"no file is due for destruction on {as_of}: there is nothing to propose")
        workers = [f["worker_id"] for f in files]
        if len(set(workers)) != len(workers):
            raise DomainError("a file appears twice in the proposed list")
        return cls(as_of, [dict(f) for f in files], pack, bounded(actor, ACTOR_LENGTH, "actor"), proposer_user,
                   timestamp)

    @property
    def worker_ids(self) -> list[str]:
        return [f["worker_id"] for f in self.files]

    @property
    def status(self) -> str:
        if self.executed_at is not None:
            return "executed"
        return self.decision or "proposed"

    def approve(self, rationale: str, *, actor: str, user: str, timestamp: datetime) -> None:
        self._check_decision(rationale, user, timestamp)
        self._approved(rationale=rationale.strip(), actor=bounded(actor, ACTOR_LENGTH, "actor"), timestamp=timestamp)

    def reject(self, rationale: str, *, actor: str, user: str, timestamp: datetime) -> None:
        self._check_decision(rationale, user, timestamp)
        self._rejected(rationale=rationale.strip(), actor=bounded(actor, ACTOR_LENGTH, "actor"), timestamp=timestamp)

    def _check_decision(self, rationale: str, user: str, timestamp: datetime) -> None:
        require_not_before(timestamp, self.modified_on)
        if self.decision is not None:
            raise OutOfOrder(f"this proposal was already {self.decision} by {self.decided_by} on "
                             f"{self.decided_at:%Y-%m-%d}")
        if user == self.proposer_user:
            raise NotPermitted("the person who proposed a list may not approve or reject it: a second person must")
        if not rationale.strip():
            raise DomainError("approving or rejecting a destruction proposal needs a rationale")
        if len(rationale) > RATIONALE_LENGTH:
            raise DomainError(f"the rationale is longer than {RATIONALE_LENGTH} characters")

    @event("DestructionApproved")
    def _approved(self, rationale: str, actor: str, timestamp: datetime) -> None:
        self.decision, self.decided_by, self.decided_at, self.rationale = "approved", actor, timestamp, rationale

    @event("DestructionRejected")
    def _rejected(self, rationale: str, actor: str, timestamp: datetime) -> None:
        self.decision, self.decided_by, self.decided_at, self.rationale = "rejected", actor, timestamp, rationale

    def require_approved(self) -> None:
        if self.decision != "approved":
            state = "rejected" if self.decision == "rejected" else "not yet approved"
            raise OutOfOrder(f"the destruction proposal of {self.as_of} is {state}: nothing may be destroyed "
                             "under it until a second authorised person approves it")

    def record_execution(self, *, destroyed: list[str], skipped: list[dict], actor: str,
                         timestamp: datetime) -> None:
        """What the run did with the approved list: the files destroyed, and those it left (with why)."""
        require_not_before(timestamp, self.modified_on)
        self.require_approved()
        unknown = (set(destroyed) | {s["worker_id"] for s in skipped}) - set(self.worker_ids)
        if unknown:
            raise DomainError(f"files outside the approved list: {', '.join(sorted(unknown))}")
        self._executed(destroyed=sorted({*self.destroyed, *destroyed}), skipped=skipped, actor=actor,
                       timestamp=timestamp)

    @event("DestructionRunRecorded")
    def _executed(self, destroyed: list[str], skipped: list[dict], actor: str, timestamp: datetime) -> None:
        self.executed_at = timestamp
        self.destroyed = destroyed
        self.skipped = skipped
