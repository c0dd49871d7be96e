"""The supervision agreement (contract): agreed and signed by both at the start of the relationship,
reviewed at least annually, and re-negotiated when the supervisor changes (bcp, hull, bury, school-trust).

An agreement binds one supervisee to one supervisor, so it lapses when that supervisor stops being theirs;
re-negotiating means a new agreement, which may name the one it replaces. Agreements signed on paper before
the ledger was in use are recorded as such, with the date they were signed.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import Enum

from eventsourcing.domain import Aggregate, event

from pydantic import ValidationError

from domain.errors import DomainError, NotPermitted, OutOfOrder
from domain.policy import Interval, add_interval
from domain.parties import party_of
from domain.timestamps import require_not_before, require_utc

_TERM_TEXT = ("frequency", "location", "arrangements", "notes")
_MAX_TEXT = 4000


class AgreementState(str, Enum):
    DRAFT = "draft"  # awaiting one or both signatures
    IN_FORCE = "in_force"
    LAPSED = "lapsed"


class LapseReason(str, Enum):
    SUPERVISOR_CHANGED = "supervisor_changed"
    SUPERSEDED = "superseded"  # re-negotiated: a new agreement came into force
    WORKER_LEFT = "worker_left"


def check_terms(terms: dict) -> dict:
    """What was agreed: frequency, session length, location, arrangements, notes. All optional but one."""
    if not isinstance(terms, dict):
        raise DomainError("agreement terms must be an object")
    unknown = sorted(set(terms) - {*_TERM_TEXT, "session_minutes", "every"})
    if unknown:
        raise DomainError(f"unknown agreement terms: {', '.join(unknown)}")
    checked: dict = {}
    for key in _TERM_TEXT:
        value = str(terms.get(key, "") or "").strip()
        if len(value) > _MAX_TEXT:
            raise DomainError(f"agreement term {key!r} is longer than {_MAX_TEXT} characters")
        if value:
            checked[key] = value
    minutes = terms.get("session_minutes")
    if minutes is not None:
        if not isinstance(minutes, int) or isinstance(minutes, bool) or not 1 <= minutes <= 480:
            raise DomainError(f"session_minutes must be a whole number of minutes from 1 to 480, got {minutes!r}")
        checked["session_minutes"] = minutes
    every = terms.get("every")
    if every is not None:
        checked["every"] = agreed_interval(every).model_dump(exclude_defaults=True)
    if not checked:
        raise DomainError("an agreement needs at least one term (e.g. frequency, session_minutes, arrangements)")
    return checked


def agreed_interval(every: object) -> Interval:
    """The agreement's own frequency as an interval ({"weeks": 2}), checked like a pack's."""
    if isinstance(every, Interval):
        return every
    if not isinstance(every, dict):
        raise DomainError('the agreed frequency `every` is an interval, e.g. {"weeks": 2} or {"months": 1}')
    try:
        return Interval(**every)
    except (ValidationError, TypeError) as exc:
        raise DomainError(f"the agreed frequency `every` is not an interval: {exc}") from None


def agreed_due(terms: dict, anchor: date, pack_due: date) -> date | None:
    """The day the agreement's own frequency makes the next session due, where that is earlier (stricter) than
    the pack's; None where the agreement sets none or a looser one (hull: "The frequency listed is the minimum,
    in any instance. Individual supervision may be required at a greater frequency. This will be agreed at an
    individual level and reflected in the Supervision Contract.")."""
    if "every" not in terms:
        return None
    due = add_interval(anchor, agreed_interval(terms["every"]))
    return due if due < pack_due else None


def agreed_minimum_minutes(terms: dict, pack_minimum: int | None) -> int | None:
    """The agreement's session length where it is longer than the pack's minimum (the school trust: "The
    supervisor and supervisee will agree on the duration and frequency of supervision")."""
    minutes = terms.get("session_minutes")
    if minutes is None or (pack_minimum is not None and minutes <= pack_minimum):
        return None
    return minutes


@dataclass(frozen=True)
class AgreedTerms:
    """What one agreement binds to, and the days it binds: from the day both signed until the day it lapsed
    (superseded, the supervisor changed, the worker left), that day itself no longer bound."""

    agreement_id: str
    from_day: date
    until: date | None = None
    every: Interval | None = None
    session_minutes: int | None = None

    def binds_on(self, day: date) -> bool:
        return self.from_day <= day and (self.until is None or day < self.until)

    def overdue_on(self, day: date, anchor: date) -> bool:
        """Whether `day` is past what this agreement's frequency allows after a session on `anchor`."""
        return self.every is not None and self.binds_on(day) and day > add_interval(anchor, self.every)

    def first_overdue_after(self, anchor: date) -> date | None:
        """The first day this agreement makes overdue after a session on `anchor` (None: it never does)."""
        if self.every is None:
            return None
        day = max(add_interval(anchor, self.every) + timedelta(days=1), self.from_day)
        return day if self.until is None or day < self.until else None


class SupervisionAgreement(Aggregate):
    @event("Drafted")
    def __init__(self, supervisee_id: str, supervisor_id: str, terms: dict, replaces: str | None, actor: str,
                 timestamp: datetime) -> None:
        self.supervisee_id = supervisee_id
        self.supervisor_id = supervisor_id
        self.terms = terms
        self.replaces = replaces
        self.state = AgreementState.DRAFT.value
        self.signatures: dict[str, dict] = {}
        self.in_force_on: date | None = None
        self.reviews: list[dict] = []
        self.lapsed_on: date | None = None
        self.lapse_reason: str | None = None

    @classmethod
    def draft(cls, *, supervisee_id: str, supervisor_id: str, terms: dict, actor: str, timestamp: datetime,
              replaces: str | None = None) -> "SupervisionAgreement":
        """The supervisor drafts it with the supervisee; both then sign."""
        require_utc(timestamp)
        if actor != supervisor_id:
            raise NotPermitted("only the supervisor drafts the supervision agreement")
        if supervisee_id == supervisor_id:
            raise DomainError("supervisee and supervisor must be different people")
        return cls(supervisee_id, supervisor_id, check_terms(terms), replaces, actor, timestamp)

    @classmethod
    def from_paper(cls, *, supervisee_id: str, supervisor_id: str, terms: dict, signed_on: date, actor: str,
                   timestamp: datetime) -> "SupervisionAgreement":
        """An agreement both signed on paper before the ledger was used, entered by whoever holds it (HR)."""
        require_utc(timestamp)
        if supervisee_id == supervisor_id:
            raise DomainError("supervisee and supervisor must be different people")
        if signed_on > timestamp.date():
            raise DomainError(f"the paper agreement cannot have been signed on {signed_on}, in the future")
        agreement = cls(supervisee_id, supervisor_id, check_terms(terms), None, actor, timestamp)
        for party, signer in (("supervisee", supervisee_id), ("supervisor", supervisor_id)):
            agreement._signed(party=party, signer=signer, signed_on=signed_on, on_paper=True, actor=actor,
                              timestamp=timestamp)
        return agreement

    # -- queries -----------------------------------------------------------------------------------

    def party(self, actor: str) -> str | None:
        return party_of(actor, supervisor_id=self.supervisor_id, supervisee_id=self.supervisee_id)

    @property
    def last_reviewed_on(self) -> date | None:
        return self.reviews[-1]["reviewed_on"] if self.reviews else None

    @property
    def awaiting(self) -> list[str]:
        return [p for p in ("supervisee", "supervisor") if p not in self.signatures]

    # -- commands ----------------------------------------------------------------------------------

    def sign(self, *, actor: str, timestamp: datetime) -> None:
        """Each party signs once, in either order; the second signature brings it into force."""
        party = self._party_or_refuse(actor, "sign the agreement", timestamp)
        if self.state != AgreementState.DRAFT.value:
            raise OutOfOrder(f"cannot sign: the agreement is {self.state.replace('_', ' ')}")
        if party in self.signatures:
            raise OutOfOrder(f"the {party} has already signed this agreement")
        self._signed(party=party, signer=actor, signed_on=timestamp.date(), on_paper=False, actor=actor,
                     timestamp=timestamp)

    @event("Signed")
    def _signed(self, party: str, signer: str, signed_on: date, on_paper: bool, actor: str,
                timestamp: datetime) -> None:
        self.signatures[party] = {"signer": signer, "signed_on": signed_on, "on_paper": on_paper}
        if len(self.signatures) == 2:
            self.state = AgreementState.IN_FORCE.value
            self.in_force_on = max(s["signed_on"] for s in self.signatures.values())

    def review(self, *, reviewed_on: date, actor: str, timestamp: datetime, notes: str = "") -> None:
        """Reviewed together at least annually; a review that changes the terms is a new agreement."""
        self._party_or_refuse(actor, "review the agreement", timestamp)
        if self.state != AgreementState.IN_FORCE.value:
            raise OutOfOrder(f"only an agreement in force is reviewed; this one is {self.state.replace('_', ' ')}")
        assert self.in_force_on is not None
        if reviewed_on > timestamp.date():
            raise DomainError(f"the review date {reviewed_on} is in the future")
        earliest = self.last_reviewed_on or self.in_force_on
        if reviewed_on < earliest:
            raise DomainError(f"the review date {reviewed_on} is before {earliest}, when it was last agreed or reviewed")
        if len(notes) > _MAX_TEXT:
            raise DomainError(f"review notes are longer than {_MAX_TEXT} characters")
        self._reviewed(reviewed_on=reviewed_on, notes=notes.strip(), actor=actor, timestamp=timestamp)

    @event("Reviewed")
    def _reviewed(self, reviewed_on: date, notes: str, actor: str, timestamp: datetime) -> None:
        self.reviews.append({"reviewed_on": reviewed_on, "by": actor})

    def lapse(self, reason: LapseReason | str, *, lapsed_on: date, actor: str, timestamp: datetime) -> None:
        """It stops binding: the supervisor changed, a re-negotiated agreement replaced it, or the worker left."""
        require_not_before(timestamp, self.modified_on)
        why = LapseReason(reason)
        if self.state == AgreementState.LAPSED.value:
            raise OutOfOrder(f"the agreement already lapsed on {self.lapsed_on} ({self.lapse_reason})")
        self._lapsed(reason=why.value, lapsed_on=lapsed_on, actor=actor, timestamp=timestamp)

    @event("Lapsed")
    def _lapsed(self, reason: str, lapsed_on: date, actor: str, timestamp: datetime) -> None:
        self.state = AgreementState.LAPSED.value
        self.lapsed_on = lapsed_on
        self.lapse_reason = reason

    def _party_or_refuse(self, actor: str, step: str, timestamp: datetime) -> str:
        party = self.party(actor)
        if party is None:
            raise NotPermitted(f"only the supervisee and the supervisor can {step}")
        require_not_before(timestamp, self.modified_on)
        return party
