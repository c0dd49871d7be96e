"""A member of staff whose supervision is recorded: joiner, allocation, transfer, change of role, return after a
long absence, leaver, archival.

A worker's `category` and `category_since` name the frequency regime in force (domain/schedule_rules.py: phases
run from the category start). Joining starts the first; a major change of role and a return after a career break
or other long term absence start the pack's `frequency.role_changer` and `frequency.returner` (hull: "should also
receive supervision fortnightly for the first 3 months"). Whether a change is major, or an absence long term, is
HR's judgement, recorded with the name of who made it (the event's actor)."""

from datetime import date, datetime
from enum import Enum

from eventsourcing.domain import Aggregate, event

from domain.errors import DomainError, OutOfOrder
from domain.labels import ROLE_LENGTH, bounded
from domain.policy import WorkerCategory  # one list of categories: the policy packs key their rules by it
from domain.timestamps import require_not_before, require_plausible_day, require_utc


class Absence(str, Enum):
    """hull: "practitioners returning to work following a career break or other long term absence"."""

    CAREER_BREAK = "career_break"
    LONG_TERM_ABSENCE = "long_term_absence"


class EmploymentState(str, Enum):
    ACTIVE = "active"
    LEFT = "left"
    ARCHIVED = "archived"


class Worker(Aggregate):
    """One member of staff. Supervisor allocation and transfers are events on the worker's file."""

    @event("Joined")
    def __init__(
        self,
        name: str,
        role: str,
        category: str,
        start_date: date,
        organisation: str,
        actor: str,
        timestamp: datetime,
    ) -> None:
        self.name = name
        self.role = role
        self.category = category
        self.start_date = start_date
        self.category_since = start_date  # the day the current frequency regime began
        self.organisation = organisation
        self.supervisor_id: str | None = None
        self.previous_supervisors: list[dict] = []
        self.state = EmploymentState.ACTIVE.value
        self.leaving_date: date | None = None
        self.destruction_date: date | None = None
        # Allocation (domain/allocation.py): a second supervisor where the pack names one, what HR recorded of
        # the person's standing, and departures from the allocation rules agreed by the role the pack names.
        self.second_supervisor_id: str | None = None
        self.level: int | None = None
        self.registered: bool | None = None
        self.supervising_since: date | None = None
        self.allocation_exceptions: list[dict] = []

    @classmethod
    def join(
        cls,
        *,
        name: str,
        role: str,
        category: str,
        start_date: date,
        organisation: str,
        actor: str,
        timestamp: datetime,
    ) -> "Worker":
        require_utc(timestamp)
        if not name.strip():
            raise DomainError("name must not be empty")
        role = bounded(role, ROLE_LENGTH, "role")
        organisation = bounded(organisation, ROLE_LENGTH, "organisation")
        _require_category(category)
        return cls(name.strip(), role, category, start_date, organisation, actor, timestamp)

    def allocate_supervisor(self, supervisor_id: str, *, actor: str, timestamp: datetime) -> None:
        """The first supervisor; later changes are transfers, so the previous one is named."""
        self._require_active("allocate a supervisor")
        require_not_before(timestamp, self.modified_on)
        if self.supervisor_id is not None:
            raise OutOfOrder("a supervisor is already allocated: use a transfer to change supervisor")
        if supervisor_id == str(self.id):
            raise DomainError("a worker cannot supervise themselves")
        self._require_not_second(supervisor_id)
        self._supervisor_allocated(supervisor_id=supervisor_id, actor=actor, timestamp=timestamp)

    @event("SupervisorAllocated")
    def _supervisor_allocated(self, supervisor_id: str, actor: str, timestamp: datetime) -> None:
        self.supervisor_id = supervisor_id

    def transfer(self, new_supervisor_id: str, reason: str, *, actor: str, timestamp: datetime) -> None:
        """Records move with the worker; the previous supervisor keeps no access."""
        self._require_active("transfer")
        require_not_before(timestamp, self.modified_on)
        if self.supervisor_id is None:
            raise OutOfOrder("no supervisor is allocated yet: allocate one first")
        if new_supervisor_id == self.supervisor_id:
            raise DomainError("the new supervisor is already this worker's supervisor")
        if new_supervisor_id == str(self.id):
            raise DomainError("a worker cannot supervise themselves")
        self._require_not_second(new_supervisor_id)
        self._transferred(
            previous_supervisor_id=self.supervisor_id,
            new_supervisor_id=new_supervisor_id,
            reason=reason,
            actor=actor,
            timestamp=timestamp,
        )

    @event("TransferredToNewSupervisor")
    def _transferred(
        self,
        previous_supervisor_id: str,
        new_supervisor_id: str,
        reason: str,
        actor: str,
        timestamp: datetime,
    ) -> None:
        self.previous_supervisors.append(
            {"supervisor_id": previous_supervisor_id, "until": timestamp.isoformat(), "reason": reason}
        )
        self.supervisor_id = new_supervisor_id

    def end_supervision(self, reason: str, *, actor: str, timestamp: datetime) -> None:
        """The supervisor left: nobody supervises this worker until HR allocates someone."""
        self._require_active("end supervision")
        require_not_before(timestamp, self.modified_on)
        if self.supervisor_id is None:
            raise OutOfOrder("no supervisor is allocated")
        self._supervision_ended(previous_supervisor_id=self.supervisor_id, reason=reason, actor=actor,
                                timestamp=timestamp)

    @event("SupervisionEnded")
    def _supervision_ended(self, previous_supervisor_id: str, reason: str, actor: str, timestamp: datetime) -> None:
        self.previous_supervisors.append(
            {"supervisor_id": previous_supervisor_id, "until": timestamp.isoformat(), "reason": reason}
        )
        self.supervisor_id = None

    def change_role(self, role: str, *, effective_on: date, major_change: bool, category: str | None = None,
                    reason: str, actor: str, timestamp: datetime) -> None:
        """A new role, or a new category (e.g. an NQSW whose ASYE is over). A major change of role starts the
        role-changer regime (hull: "Social workers who have undertaken a major change of role in transferring
        to a different team"); a new category starts its own regime; a new role title alone changes nothing due."""
        self._require_active("record a change of role")
        require_not_before(timestamp, self.modified_on)
        require_plausible_day(effective_on, "effective_on")
        role = bounded(role, ROLE_LENGTH, "role")
        if effective_on < self.category_since:
            raise DomainError(f"the change ({effective_on}) is before the current regime began ({self.category_since})")
        if category is not None:
            _require_category(category)
        if major_change and category not in (None, WorkerCategory.ROLE_CHANGER.value):
            raise DomainError("a major change of role starts the role-changer regime (the pack's "
                              "frequency.role_changer): give no other category")
        new_category = WorkerCategory.ROLE_CHANGER.value if major_change else (category or self.category)
        regime_starts = major_change or new_category != self.category
        if not regime_starts and role == self.role:
            raise DomainError("nothing changes: give a new role, a new category, or say it is a major change of role")
        self._role_changed(role=role, category=new_category,
                           category_since=effective_on if regime_starts else self.category_since,
                           major_change=major_change, previous_role=self.role, previous_category=self.category,
                           reason=bounded(reason, ROLE_LENGTH, "reason"), actor=actor, timestamp=timestamp)

    @event("RoleChanged")
    def _role_changed(self, role: str, category: str, category_since: date, major_change: bool, previous_role: str,
                      previous_category: str, reason: str, actor: str, timestamp: datetime) -> None:
        self.role = role
        self.category = category
        self.category_since = category_since

    def record_return(self, returned_on: date, *, absence: Absence | str, actor: str, timestamp: datetime) -> None:
        """Back after a career break or other long term absence: the returner regime starts on the day back
        (hull: "practitioners returning to work following a career break or other long term absence")."""
        self._require_active("record a return to work")
        require_not_before(timestamp, self.modified_on)
        require_plausible_day(returned_on, "returned_on")
        try:
            why = Absence(absence)
        except ValueError:
            allowed = ", ".join(a.value for a in Absence)
            raise DomainError(f"absence {absence!r} is not one of: {allowed}") from None
        if returned_on < self.category_since:
            raise DomainError(f"the return ({returned_on}) is before the current regime began ({self.category_since})")
        self._returned(returned_on=returned_on, absence=why.value, category=WorkerCategory.RETURNER.value,
                       previous_category=self.category, actor=actor, timestamp=timestamp)

    @event("ReturnedAfterAbsence")
    def _returned(self, returned_on: date, absence: str, category: str, previous_category: str, actor: str,
                  timestamp: datetime) -> None:
        self.category = category
        self.category_since = returned_on

    def leave(self, leaving_date: date, *, actor: str, timestamp: datetime) -> None:
        self._require_active("record leaving")
        require_not_before(timestamp, self.modified_on)
        require_plausible_day(leaving_date, "leaving_date")
        if leaving_date < self.start_date:
            raise DomainError(f"leaving date {leaving_date} is before the start date {self.start_date}")
        self._left(leaving_date=leaving_date, actor=actor, timestamp=timestamp)

    @event("Left")
    def _left(self, leaving_date: date, actor: str, timestamp: datetime) -> None:
        self.state = EmploymentState.LEFT.value
        self.leaving_date = leaving_date

    def archive(self, destruction_date: date, rule: str, *, actor: str, timestamp: datetime) -> None:
        """A leaver's file is archived read-only with a stated destruction date."""
        require_not_before(timestamp, self.modified_on)
        if self.state != EmploymentState.LEFT.value:
            raise OutOfOrder(f"only a leaver's file can be archived; this worker is {self.state}")
        assert self.leaving_date is not None
        if destruction_date <= self.leaving_date:
            raise DomainError("the destruction date must be after the leaving date")
        self._archived(destruction_date=destruction_date, rule=rule, actor=actor, timestamp=timestamp)

    @event("Archived")
    def _archived(self, destruction_date: date, rule: str, actor: str, timestamp: datetime) -> None:
        self.state = EmploymentState.ARCHIVED.value
        self.destruction_date = destruction_date

    def note_hold(self, hold_id: str, *, actor: str, timestamp: datetime) -> None:
        """A legal hold placed on this file is noted on the file too (the hold itself is its own aggregate, kept
        under the organisation's key): a destruction decides on the file's version, so a hold stored after that
        decision makes the destruction conflict instead of passing unseen (domain/retention.py)."""
        require_not_before(timestamp, self.modified_on)
        self._hold_noted(hold_id=hold_id, actor=actor, timestamp=timestamp)

    @event("HoldNoted")
    def _hold_noted(self, hold_id: str, actor: str, timestamp: datetime) -> None:
        pass

    # -- allocation: standing, a second supervisor, recorded departures ------------------------------------

    def record_standing(self, *, level: int | None, registered: bool | None, supervising_since: date | None,
                        actor: str, timestamp: datetime) -> None:
        """HR records the person's level in the line management structure, professional registration and
        since when they supervise; None leaves a fact unrecorded (it is then not checked)."""
        self._require_active("record standing")
        require_not_before(timestamp, self.modified_on)
        if level is not None and (isinstance(level, bool) or not isinstance(level, int) or not 1 <= level <= 20):
            raise DomainError(f"level must be a whole number from 1 (front line) to 20, got {level!r}")
        if supervising_since is not None:
            require_plausible_day(supervising_since, "supervising_since")
            if supervising_since > timestamp.date():
                raise DomainError(f"supervising since {supervising_since} is in the future")
        self._standing_recorded(level=level, registered=registered, supervising_since=supervising_since,
                                actor=actor, timestamp=timestamp)

    @event("StandingRecorded")
    def _standing_recorded(self, level: int | None, registered: bool | None, supervising_since: date | None,
                           actor: str, timestamp: datetime) -> None:
        self.level, self.registered, self.supervising_since = level, registered, supervising_since

    def allocate_second_supervisor(self, supervisor_id: str, title: str, *, actor: str, timestamp: datetime) -> None:
        """A second supervisor (bcp: the ASYE assessor/mentor) alongside the line manager; replaces any earlier one."""
        self._require_active("allocate a second supervisor")
        require_not_before(timestamp, self.modified_on)
        if supervisor_id == str(self.id):
            raise DomainError("a worker cannot supervise themselves")
        if supervisor_id == self.supervisor_id:
            raise DomainError("this person is already the worker's supervisor (line manager)")
        if supervisor_id == self.second_supervisor_id:
            raise DomainError(f"this person is already the worker's {title}")
        self._second_supervisor_allocated(supervisor_id=supervisor_id, title=title,
                                          previous_id=self.second_supervisor_id, actor=actor, timestamp=timestamp)

    @event("SecondSupervisorAllocated")
    def _second_supervisor_allocated(self, supervisor_id: str, title: str, previous_id: str | None, actor: str,
                                     timestamp: datetime) -> None:
        self.second_supervisor_id = supervisor_id

    def end_second_supervision(self, reason: str, *, actor: str, timestamp: datetime) -> None:
        self._require_active("end the second supervision")
        require_not_before(timestamp, self.modified_on)
        if self.second_supervisor_id is None:
            raise OutOfOrder("no second supervisor is allocated")
        self._second_supervision_ended(previous_id=self.second_supervisor_id, reason=reason, actor=actor,
                                       timestamp=timestamp)

    @event("SecondSupervisionEnded")
    def _second_supervision_ended(self, previous_id: str, reason: str, actor: str, timestamp: datetime) -> None:
        self.second_supervisor_id = None

    def agree_allocation_exception(self, supervisor_id: str, rules: tuple[str, ...], reason: str, *,
                                   agreed_by_role: str, actor: str, timestamp: datetime) -> None:
        """A departure from the allocation rules, recorded in the individual's file with the reason and who
        agreed it (bcp: "clearly recorded in the individual's supervision file and agreed by the Service
        Manager"). Which rules and who may agree are checked by domain.allocation.check_exception."""
        self._require_active("record an allocation exception")
        require_not_before(timestamp, self.modified_on)
        if supervisor_id == str(self.id):
            raise DomainError("a worker cannot supervise themselves")
        # The supervisor may be a proposed one: where the pack refuses a departing allocation, the exception
        # is agreed first.
        self._allocation_exception_agreed(supervisor_id=supervisor_id, rules=list(rules), reason=reason,
                                          agreed_by_role=agreed_by_role, actor=actor, timestamp=timestamp)

    @event("AllocationExceptionAgreed")
    def _allocation_exception_agreed(self, supervisor_id: str, rules: list[str], reason: str, agreed_by_role: str,
                                     actor: str, timestamp: datetime) -> None:
        self.allocation_exceptions.append({"supervisor_id": supervisor_id, "rules": list(rules), "reason": reason,
                                           "agreed_by": actor, "agreed_at": timestamp.isoformat()})

    def excepted_rules(self, supervisor_id: str) -> frozenset[str]:
        return frozenset(r for e in self.allocation_exceptions if e["supervisor_id"] == supervisor_id
                         for r in e["rules"])

    def _require_not_second(self, supervisor_id: str) -> None:
        if supervisor_id == self.second_supervisor_id:
            raise DomainError("this person is the worker's second supervisor: end that first")

    def _require_active(self, step: str) -> None:
        if self.state != EmploymentState.ACTIVE.value:
            raise OutOfOrder(f"cannot {step}: the worker is {self.state}")


def _require_category(category: str) -> None:
    try:
        WorkerCategory(category)
    except ValueError:
        allowed = ", ".join(c.value for c in WorkerCategory)
        raise DomainError(f"category {category!r} is not one of: {allowed}") from None
