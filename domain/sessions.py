"""A supervision session: scheduled, then held (with its actual length) or cancelled and rebooked.

The pack's minimum session length is checked when a session is held, and a shortfall is recorded rather
than refused: the session still happened, and the shortfall is what quality assurance needs to see.
A cancelled session must be re-held within the pack's deadline; the deadline is derived from the facts
(the day the session was due, the reason, the return to work after sickness) and the pack, never stored,
so a report can be recomputed under the pack it is asked about.
"""

from datetime import date, datetime
from enum import Enum

from eventsourcing.domain import Aggregate, event

from domain.errors import DomainError, NotPermitted, OutOfOrder
from domain.policy import CancellationReason as PackCancellationReason
from domain.policy import PolicyPack
from domain.schedule_rules import rebooking_deadline
from domain.timestamps import require_not_before, require_utc

MAX_SESSION_MINUTES = 8 * 60


class CancellationReason(str, Enum):
    SICKNESS = "sickness"
    LEAVE = "leave"
    OPERATIONAL = "operational"

    @property
    def for_pack(self) -> PackCancellationReason:
        # The packs distinguish sickness (counted from the return) from every other reason.
        return PackCancellationReason.SICKNESS if self is CancellationReason.SICKNESS else PackCancellationReason.OTHER


class SessionState(str, Enum):
    SCHEDULED = "scheduled"
    HELD = "held"
    CANCELLED = "cancelled"


class SupervisionSession(Aggregate):
    @event("Scheduled")
    def __init__(
        self,
        supervisee_id: str,
        supervisor_id: str,
        starts_at: datetime,
        planned_minutes: int,
        rebooks: str | None,
        actor: str,
        timestamp: datetime,
    ) -> None:
        self.supervisee_id = supervisee_id
        self.supervisor_id = supervisor_id
        self.starts_at = starts_at
        self.planned_minutes = planned_minutes
        self.rebooks = rebooks
        self.state = SessionState.SCHEDULED.value
        self.held_on: date | None = None
        self.actual_minutes: int | None = None
        self.shortfall_minutes = 0
        self.cancellation: dict | None = None
        self.returned_on: date | None = None
        self.rebooked_as: str | None = None

    @classmethod
    def schedule(
        cls,
        *,
        supervisee_id: str,
        supervisor_id: str,
        starts_at: datetime,
        planned_minutes: int,
        actor: str,
        timestamp: datetime,
        rebooks: str | None = None,
    ) -> "SupervisionSession":
        """The supervisor books a session with their supervisee."""
        require_utc(timestamp)
        require_utc(starts_at)
        if actor != supervisor_id:
            raise NotPermitted("only the supervisor schedules supervision sessions")
        if supervisee_id == supervisor_id:
            raise DomainError("supervisee and supervisor must be different people")
        _check_minutes(planned_minutes, "planned")
        return cls(supervisee_id, supervisor_id, starts_at, planned_minutes, rebooks, actor, timestamp)

    # -- queries -----------------------------------------------------------------------------------

    @property
    def session_date(self) -> date:
        return self.starts_at.date()

    def party(self, actor: str) -> str | None:
        if actor == self.supervisor_id:
            return "supervisor"
        if actor == self.supervisee_id:
            return "supervisee"
        return None

    def rebook_by(self, pack: PolicyPack) -> date | None:
        """Last day the cancelled session may be re-held under `pack`; None when there is no deadline
        (the pack sets none, or the sick person has not returned yet)."""
        if self.cancellation is None:
            return None
        reason = CancellationReason(self.cancellation["reason"])
        missed_on = self.session_date
        if reason is CancellationReason.SICKNESS:
            if self.returned_on is None:
                return None
            return rebooking_deadline(pack, min(missed_on, self.returned_on), reason.for_pack, self.returned_on)
        return rebooking_deadline(pack, missed_on, reason.for_pack)

    # -- commands ----------------------------------------------------------------------------------

    def hold(self, *, actual_minutes: int, pack: PolicyPack, actor: str, timestamp: datetime,
             held_on: date | None = None) -> None:
        """The supervisor records that the session took place and how long it lasted."""
        self._check(actor, "record the session as held", timestamp, "supervisor")
        self._require_scheduled("record it as held")
        _check_minutes(actual_minutes, "actual")
        day = held_on or self.session_date
        if day > timestamp.date():
            raise DomainError(f"a session cannot be recorded as held on {day}, which is in the future")
        minimum = pack.minimum_session_minutes.minutes
        shortfall = max(0, minimum - actual_minutes) if minimum else 0
        self._held(held_on=day, actual_minutes=actual_minutes, minimum_minutes=minimum,
                   shortfall_minutes=shortfall, pack=pack.short_name, pack_version=pack.version,
                   actor=actor, timestamp=timestamp)

    @event("Held")
    def _held(self, held_on: date, actual_minutes: int, minimum_minutes: int | None, shortfall_minutes: int,
              pack: str, pack_version: int, actor: str, timestamp: datetime) -> None:
        self.state = SessionState.HELD.value
        self.held_on = held_on
        self.actual_minutes = actual_minutes
        self.shortfall_minutes = shortfall_minutes

    def cancel(self, reason: CancellationReason | str, *, actor: str, timestamp: datetime) -> None:
        """Either party cancels; who it was and why are kept, because the rebooking deadline depends on it."""
        party = self._check(actor, "cancel the session", timestamp)
        self._require_scheduled("cancel it")
        try:
            why = CancellationReason(reason)
        except ValueError:
            allowed = ", ".join(r.value for r in CancellationReason)
            raise DomainError(f"cancellation reason {reason!r} is not one of: {allowed}") from None
        self._cancelled(reason=why.value, cancelled_by=party, actor=actor, timestamp=timestamp)

    @event("Cancelled")
    def _cancelled(self, reason: str, cancelled_by: str, actor: str, timestamp: datetime) -> None:
        self.state = SessionState.CANCELLED.value
        self.cancellation = {"reason": reason, "cancelled_by": cancelled_by, "cancelled_at": timestamp.isoformat()}

    def record_return_to_work(self, returned_on: date, *, actor: str, timestamp: datetime) -> None:
        """After a sickness cancellation the rebooking clock starts on the day the person is back."""
        self._check(actor, "record the return to work", timestamp)
        if self.cancellation is None or self.cancellation["reason"] != CancellationReason.SICKNESS.value:
            raise OutOfOrder("a return to work is recorded only for a session cancelled because of sickness")
        if self.returned_on is not None:
            raise OutOfOrder(f"the return to work was already recorded ({self.returned_on})")
        cancelled_on = datetime.fromisoformat(self.cancellation["cancelled_at"]).date()
        if returned_on < cancelled_on:
            raise DomainError(f"the return to work ({returned_on}) is before the cancellation ({cancelled_on})")
        if returned_on > timestamp.date():
            raise DomainError(f"the return to work ({returned_on}) is in the future")
        self._returned(returned_on=returned_on, actor=actor, timestamp=timestamp)

    @event("ReturnToWorkRecorded")
    def _returned(self, returned_on: date, actor: str, timestamp: datetime) -> None:
        self.returned_on = returned_on

    def mark_rebooked(self, new_session_id: str, *, actor: str, timestamp: datetime) -> None:
        """Links the cancelled session to the one that replaces it."""
        self._check(actor, "rebook the session", timestamp, "supervisor")
        if self.state != SessionState.CANCELLED.value:
            raise OutOfOrder(f"only a cancelled session is rebooked; this one is {self.state}")
        if self.rebooked_as is not None:
            raise OutOfOrder(f"this session was already rebooked as {self.rebooked_as}")
        self._rebooked(new_session_id=new_session_id, actor=actor, timestamp=timestamp)

    @event("Rebooked")
    def _rebooked(self, new_session_id: str, actor: str, timestamp: datetime) -> None:
        self.rebooked_as = new_session_id

    # -- rules shared by the commands ----------------------------------------------------------------

    def _check(self, actor: str, step: str, timestamp: datetime, required: str | None = None) -> str:
        party = self.party(actor)
        if party is None or (required is not None and party != required):
            who = f"the {required}" if required else "the supervisee or the supervisor"
            raise NotPermitted(f"only {who} can {step}")
        require_not_before(timestamp, self.modified_on)
        return party

    def _require_scheduled(self, step: str) -> None:
        if self.state != SessionState.SCHEDULED.value:
            raise OutOfOrder(f"cannot {step}: the session is already {self.state}")


def _check_minutes(minutes: int, which: str) -> None:
    if not isinstance(minutes, int) or isinstance(minutes, bool) or not 1 <= minutes <= MAX_SESSION_MINUTES:
        raise DomainError(f"the {which} length must be between 1 and {MAX_SESSION_MINUTES} minutes, got {minutes!r}")
