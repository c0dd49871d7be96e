"""Disposition review, for every record class destroyed under retention: the list of items due for destruction
(a leaver's personal supervision files, or case supervision records where the pack keeps them apart) is proposed
by one authorised person and approved (or rejected) by another before any key is destroyed. The list is fixed
when proposed; the decision, with its rationale, is recorded here and signed into each item's destruction
certificate; then what the run destroyed and left.

One aggregate for both classes. Lists of case supervision records were first stored as events of their own
aggregate (``domain.case_record_disposal:CaseRecordDisposal``); those stored events still load, as lists of this
one (the topics registered at the end of this module, and the created event's ``upcast_v1_v2``).
"""

from dataclasses import dataclass
from datetime import date, datetime

from eventsourcing.domain import Aggregate, event
from eventsourcing.utils import register_topic

from domain.errors import DomainError, NotPermitted, OutOfOrder
from domain.labels import ACTOR_LENGTH, bounded
from domain.timestamps import require_not_before, require_utc

RATIONALE_LENGTH = 2000


@dataclass(frozen=True)
class ListedClass:
    """What a list of one record class is made of, and the words it is spoken of in."""

    name: str  # the record class (domain.record_classes)
    key: str  # each item's id: {key, "destruction_date" (ISO), and "rule" for personal files}
    item: str  # "file"
    items: str  # "files", as in "files due by today"
    noun: str  # "destruction proposal", "list of case supervision records"
    short: str  # "proposal", "list"
    done: str  # its status once run
    reruns: bool  # a run may be repeated (a file held since the proposal is destroyed by a later run)


PERSONAL = ListedClass("personal_supervision", "worker_id", "file", "files", "destruction proposal", "proposal",
                       "executed", reruns=True)
CASE_SUPERVISION = ListedClass("case_supervision", "record_id", "case supervision record", "records",
                               "list of case supervision records", "list", "destroyed", reruns=False)
LISTED_CLASSES = {c.name: c for c in (PERSONAL, CASE_SUPERVISION)}


def listed_class(name: str) -> ListedClass:
    try:
        return LISTED_CLASSES[name]
    except KeyError:
        raise DomainError(f"record class {name!r} is not destroyed under a reviewed list: one of "
                          f"{', '.join(LISTED_CLASSES)}") from None


class DestructionProposal(Aggregate):
    """The items of one record class due for destruction on a day, each with its due date."""

    @event("DestructionProposed")
    def __init__(self, as_of: date, items: list[dict], record_class: str, pack: str, rule: str | None, actor: str,
                 proposer_user: str, timestamp: datetime) -> None:
        self.as_of = as_of
        self.items = items  # in schedule order
        self.record_class = record_class
        self.pack = pack
        self.rule = rule  # the class's rule, where one covers every item (personal files carry their own)
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
    def propose(cls, *, record_class: str, as_of: date, items: list[dict], pack: str, actor: str, proposer_user: str,
                timestamp: datetime, rule: str | None = None) -> "DestructionProposal":
        require_utc(timestamp)
        kind = listed_class(record_class)
        if as_of > timestamp.date():
            raise DomainError(f"as_of {as_of} is in the future: only {kind.items} due by today may be proposed")
        if not items:
            raise OutOfOrder(f"no {kind.item} is due for destruction on {as_of}: there is nothing to propose")
        ids = [i[kind.key] for i in items]
        if len(set(ids)) != len(ids):
            raise DomainError(f"a {kind.item} appears twice in the proposed list")
        late = [i[kind.key] for i in items if date.fromisoformat(i["destruction_date"]) > as_of]
        if late:
            raise DomainError(f"{kind.item} {late[0]} is not due for destruction on {as_of}")
        return cls(as_of, [dict(i) for i in items], kind.name, pack, rule, bounded(actor, ACTOR_LENGTH, "actor"),
                   proposer_user, timestamp)

    @property
    def kind(self) -> ListedClass:
        return LISTED_CLASSES[self.record_class]

    @property
    def item_ids(self) -> list[str]:
        return [i[self.kind.key] for i in self.items]

    @property
    def status(self) -> str:
        """proposed | approved | rejected, then the class's word once run (executed; destroyed)."""
        if self.executed_at is not None:
            return self.kind.done
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
            raise OutOfOrder(f"this {self.kind.short} was already {self.decision} by {self.decided_by} on "
                             f"{self.decided_at:%Y-%m-%d}")
        if user == self.proposer_user:
            raise NotPermitted("the person who proposed a list may not approve or reject it: a second person must")
        if not rationale.strip():
            raise DomainError(f"approving or rejecting a {self.kind.noun} needs a rationale")
        if len(rationale) > RATIONALE_LENGTH:
            raise DomainError(f"the rationale is longer than {RATIONALE_LENGTH} characters")

    @event("DestructionApproved")
    def _approved(self, rationale: str, actor: str, timestamp: datetime) -> None:
        self._decided("approved", rationale, actor, timestamp)

    @event("DestructionRejected")
    def _rejected(self, rationale: str, actor: str, timestamp: datetime) -> None:
        self._decided("rejected", rationale, actor, timestamp)

    @event("CaseRecordDestructionDecided")
    def _decided_v1(self, decision: str, rationale: str, actor: str, timestamp: datetime) -> None:
        """Only stored lists of case supervision records had it (CaseRecordDisposal); new decisions are the two
        above."""
        self._decided(decision, rationale, actor, timestamp)

    def _decided(self, decision: str, rationale: str, actor: str, timestamp: datetime) -> None:
        self.decision, self.decided_by, self.decided_at, self.rationale = decision, actor, timestamp, rationale

    def require_approved(self) -> None:
        if self.decision != "approved":
            state = "rejected" if self.decision == "rejected" else "not yet approved"
            raise OutOfOrder(f"the {self.kind.noun} of {self.as_of} is {state}: nothing may be destroyed under it "
                             "until a second authorised person approves it")

    def require_runnable(self) -> None:
        """Approved, and not run already where its class runs a list once."""
        self.require_approved()
        if self.executed_at is not None and not self.kind.reruns:
            raise OutOfOrder(f"this {self.kind.short} was already destroyed")

    def record_execution(self, *, destroyed: list[str], skipped: list[dict], actor: str,
                         timestamp: datetime) -> None:
        """What the run did with the approved list: the items destroyed, and those it left (with why)."""
        require_not_before(timestamp, self.modified_on)
        self.require_runnable()
        unknown = (set(destroyed) | {s[self.kind.key] for s in skipped}) - set(self.item_ids)
        if unknown:
            raise DomainError(f"{self.kind.items} outside the approved list: {', '.join(sorted(unknown))}")
        self._executed(destroyed=sorted({*self.destroyed, *destroyed}), skipped=skipped, actor=actor,
                       timestamp=timestamp)

    @event("DestructionRunRecorded")
    def _executed(self, destroyed: list[str], skipped: list[dict], actor: str, timestamp: datetime) -> None:
        self.executed_at = timestamp
        self.destroyed = destroyed
        self.skipped = skipped


def _upcast_proposed_v1_v2(state: dict) -> None:
    """v1: a proposal of files (``files``), or a list of case supervision records (``records``, ``rule``) stored
    by the aggregate CaseRecordDisposal."""
    if "records" in state:
        state["items"], state["record_class"] = state.pop("records"), CASE_SUPERVISION.name
    else:
        state["items"], state["record_class"] = state.pop("files"), PERSONAL.name
        state["rule"] = None


def _upcast_run_v1_v2(state: dict) -> None:
    """v1 of a list of case supervision records' run (CaseRecordsDestroyed) recorded no skipped records."""
    state.setdefault("skipped", [])


# The library reads an event's `class_version` and its `upcast_vN_vN+1` on decoding (eventsourcing's Mapper);
# the event classes are made by the @event decorators above, so they are versioned here.
DestructionProposal.DestructionProposed.class_version = 2
DestructionProposal.DestructionProposed.upcast_v1_v2 = staticmethod(_upcast_proposed_v1_v2)
DestructionProposal.DestructionRunRecorded.class_version = 2
DestructionProposal.DestructionRunRecorded.upcast_v1_v2 = staticmethod(_upcast_run_v1_v2)

# Where lists of case supervision records were stored as events of CaseRecordDisposal: the same events now.
_FORMER = "domain.case_record_disposal:CaseRecordDisposal"
register_topic(_FORMER, DestructionProposal)
register_topic(f"{_FORMER}.CaseRecordDestructionProposed", DestructionProposal.DestructionProposed)
register_topic(f"{_FORMER}.CaseRecordDestructionDecided", DestructionProposal.CaseRecordDestructionDecided)
register_topic(f"{_FORMER}.CaseRecordsDestroyed", DestructionProposal.DestructionRunRecorded)


__all__ = ["CASE_SUPERVISION", "LISTED_CLASSES", "PERSONAL", "RATIONALE_LENGTH", "DestructionProposal",
           "ListedClass", "listed_class"]
