"""A member of staff whose supervision is recorded: joiner, allocation, transfer, leaver, archival."""

from datetime import date, datetime
from enum import Enum

from eventsourcing.domain import Aggregate, event

from domain.errors import DomainError, OutOfOrder
from domain.labels import ROLE_LENGTH, bounded
from domain.policy import WorkerCategory  # one list of categories: the policy packs key their rules by it
from domain.timestamps import require_not_before, require_plausible_day, require_utc


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
        self.organisation = organisation
        self.supervisor_id: str | None = None
        self.previous_supervisors: list[dict] = []
        self.state = EmploymentState.ACTIVE.value
        self.leaving_date: date | None = None
        self.destruction_date: date | None = None

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
        try:
            WorkerCategory(category)
        except ValueError:
            allowed = ", ".join(c.value for c in WorkerCategory)
            raise DomainError(f"category {category!r} is not one of: {allowed}") from None
        return cls(name.strip(), role, category, start_date, organisation, actor, timestamp)

    def allocate_supervisor(self, supervisor_id: str, *, actor: str, timestamp: datetime) -> None:
        """The first supervisor; later changes are transfers, so the previous one is named."""
        self._require_active("allocate a supervisor")
        require_not_before(timestamp, self.modified_on)
        if self.supervisor_id is not None:
            raise OutOfOrder("a supervisor is already allocated: use a transfer to change supervisor")
        if supervisor_id == str(self.id):
            raise DomainError("a worker cannot supervise themselves")
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

    def _require_active(self, step: str) -> None:
        if self.state != EmploymentState.ACTIVE.value:
            raise OutOfOrder(f"cannot {step}: the worker is {self.state}")
