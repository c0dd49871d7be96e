"""Direct observations of practice and of supervision, and the decisions to reduce a frequency that rest on them.

Where a policy makes a step depend on a judgement, the judgement is recorded as a decision by a named person,
never replaced by a timer. bcp: social workers appointed from outside the UK are supervised "every two weeks,
increased to every three weeks and then monthly if the worker is meeting the required standard of practice.
Direct observation of practice must take place before a decision is taken to reduce the frequency of
supervisions." So an observation (who observed, when, the outcome) is an event, and a step down is a decision
the rules refuse without an observation of the worker's practice that met the standard, made on or before the
decision and since the previous step down.

The cycles (bcp: each worker's direct practice and each supervisor's supervision observed at least annually;
hull: peer observation of supervisors) are pure functions of the observations known on a day.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum
from functools import lru_cache
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.anonymisation import Screening
from domain.errors import DomainError, NotPermitted, OutOfOrder
from domain.policy import FrequencyPhase, FrequencyRule, Interval, ObservationCycle, PolicyPack, add_interval
from domain.timestamps import require_not_before, require_plausible_day, require_utc

_MAX_TEXT = 4000
SOON_DAYS = 30


class Observed(str, Enum):
    PRACTICE = "practice"  # a worker's direct practice ("live supervision")
    SUPERVISION = "supervision"  # a supervisor holding a supervision session


class Outcome(str, Enum):
    MEETS_STANDARD = "meets_standard"
    BELOW_STANDARD = "below_standard"


class Relation(str, Enum):
    """The observer's place relative to the one observed."""

    SUPERVISOR = "supervisor"  # their own supervisor (for a supervisor observed: "the manager of the supervisor")
    SENIOR = "senior"  # higher in their line management
    PEER = "peer"  # another supervisor


def relation_of(observer_id: str, subject_chain: Sequence[str], observer_supervises: bool) -> Relation | None:
    """Where the observer stands to the subject. ``subject_chain`` is the subject's line management upwards
    (their supervisor, that supervisor's supervisor, ...). None: they may not record it (the subject, or
    someone who supervises nobody and is not above them)."""
    if subject_chain and observer_id == subject_chain[0]:
        return Relation.SUPERVISOR
    if observer_id in subject_chain[1:]:
        return Relation.SENIOR
    return Relation.PEER if observer_supervises else None


class PracticeObservation(Aggregate):
    @event("Recorded")
    def __init__(self, subject_id: str, observed: str, observer_id: str, relation: str, observed_on: date,
                 outcome: str, feedback: str, anonymity_confirmed: bool, actor: str, timestamp: datetime) -> None:
        self.subject_id = subject_id
        self.observed = observed
        self.observer_id = observer_id
        self.relation = relation
        self.observed_on = observed_on
        self.outcome = outcome
        self.feedback = feedback

    @classmethod
    def record(cls, *, subject_id: str, observed: Observed | str, observer_id: str, relation: Relation | None,
               observed_on: date, outcome: Outcome | str, actor: str, timestamp: datetime, feedback: str = "",
               screening: Screening | None = None, confirmed_anonymous: bool = False) -> PracticeObservation:
        """The observer records what they saw, as themselves; the feedback is screened like a record's text."""
        require_utc(timestamp)
        require_plausible_day(observed_on, "observed_on")
        kind, result = _enum(Observed, observed, "observed"), _enum(Outcome, outcome, "outcome")
        if actor != observer_id:
            raise NotPermitted("an observation is recorded by the one who observed, as themselves")
        if observer_id == subject_id:
            raise NotPermitted("nobody observes their own practice")
        if relation is None:
            raise NotPermitted("only the worker's supervisor, someone above them in line management, or another "
                               "supervisor (a peer) records an observation of them")
        if observed_on > timestamp.date():
            raise DomainError(f"the observation date {observed_on} is in the future", field="observed_on")
        text = feedback.strip()
        if len(text) > _MAX_TEXT:
            raise DomainError(f"feedback is longer than {_MAX_TEXT} characters", field="feedback")
        confirmed = screening.check({"feedback": text}, confirmed_anonymous=confirmed_anonymous) \
            if screening and text else False
        return cls(subject_id, kind.value, observer_id, Relation(relation).value, observed_on, result.value, text,
                   confirmed, actor, timestamp)

    def fact(self) -> ObservationFact:
        return ObservationFact(str(self.id), self.subject_id, self.observed, self.relation, self.observed_on,
                               self.outcome)


@dataclass(frozen=True)
class ObservationFact:
    observation_id: str
    subject_id: str
    observed: str  # practice | supervision
    relation: str
    observed_on: date
    outcome: str


# --- step-down decisions ---------------------------------------------------------------------------------------


def steps_id(worker_id: UUID | str) -> UUID:
    """One log of step-down decisions per worker: two decisions taken at once conflict instead of both counting."""
    return uuid5(NAMESPACE_URL, f"svl:frequency-steps:{worker_id}")


def check_step_down(rule: FrequencyRule, *, whose: str, regime_start: date, steps_taken: Sequence[date],
                    decided_on: date, observation: ObservationFact | None, worker_id: str,
                    rationale: str) -> tuple[Interval, Interval]:
    """May the frequency be reduced on ``decided_on``? Returns (from, to); refuses with the policy's words."""
    if rule.step_down is None:
        raise DomainError(f"{whose}: this worker's frequency eases by date, not by a decision")
    if len(steps_taken) >= len(rule.phases) - 1:
        raise OutOfOrder(f"the frequency is already at its last step (every {rule.phases[-1].every})")
    if decided_on < regime_start:
        raise DomainError(f"the decision date {decided_on} is before the frequency began on {regime_start}",
                          field="decided_on")
    last_step = max(steps_taken, default=None)
    if last_step is not None and decided_on < last_step:
        raise DomainError(f"the decision date {decided_on} is before the previous step down on {last_step}",
                          field="decided_on")
    if not rationale.strip():
        raise DomainError("record why the worker is meeting the required standard of practice (the rationale)",
                          field="rationale")
    if rule.step_down.observation_required:
        words = f"({whose}: '{rule.step_down.source}')" if rule.step_down.source else f"({whose})"
        if observation is None:
            raise NotPermitted(f"no direct observation of practice is recorded for this decision {words}",
                               field="observation_id")
        if observation.subject_id != worker_id or observation.observed != Observed.PRACTICE.value:
            raise NotPermitted(f"the observation cited is not of this worker's practice {words}",
                               field="observation_id")
        if observation.observed_on > decided_on:
            raise NotPermitted(f"the observation on {observation.observed_on} is after the decision {words}",
                               field="observation_id")
        since = max(regime_start, last_step) if last_step is not None else regime_start
        if observation.observed_on < since:
            raise NotPermitted(f"the observation on {observation.observed_on} is older than the frequency now in "
                               f"force (since {since}): observe the practice again first {words}",
                               field="observation_id")
        if observation.outcome != Outcome.MEETS_STANDARD.value:
            raise NotPermitted("the observation found the practice below the required standard: the frequency "
                               f"is reduced only 'if the worker is meeting the required standard of practice' {words}",
                               field="observation_id")
    step = len(steps_taken)
    return rule.phases[step].every, rule.phases[step + 1].every


def step_down_label(label: str, whose: str, phases: Sequence[FrequencyPhase], steps: Sequence[date]) -> str:
    """"Overseas-recruited every 2 weeks (bcp: until a decision to reduce it, after a direct observation)"."""
    step = min(len(steps), len(phases) - 1)
    every = phases[step].every
    if step == len(phases) - 1:
        return f"{label} every {every} ({whose}: reduced by decision on {steps[-1]:%-d %b %Y})"
    since = f"since the decision of {steps[-1]:%-d %b %Y}, " if steps else ""
    after = phases[step + 1].every
    to = "monthly" if after == Interval(months=1) else f"every {after}"
    return (f"{label} every {every} ({whose}: {since}until a decision to reduce it to {to}, taken after a direct "
            "observation of practice)")


class FrequencySteps(Aggregate):
    """A worker's step-down decisions, each naming who decided, when, the observation it rests on and why."""

    @staticmethod
    def create_id(worker_id: str) -> UUID:  # type: ignore[override]
        return steps_id(worker_id)

    @event("Started")
    def __init__(self, worker_id: str, actor: str, timestamp: datetime) -> None:
        self.worker_id = worker_id
        self.steps: list[dict] = []

    @classmethod
    def start(cls, *, worker_id: str, actor: str, timestamp: datetime) -> FrequencySteps:
        require_utc(timestamp)
        return cls(worker_id, actor, timestamp)

    def steps_under(self, category: str, regime_start: date) -> list[date]:
        """The days of the decisions taken under this category's frequency since it began on ``regime_start``."""
        return [s["decided_on"] for s in self.steps
                if s["category"] == category and s["regime_start"] == regime_start]

    def step_down(self, *, rule: FrequencyRule, whose: str, category: str, regime_start: date, decided_on: date,
                  observation: ObservationFact | None, rationale: str, supervisor_now: str | None, actor: str,
                  timestamp: datetime, screening: Screening | None = None,
                  confirmed_anonymous: bool = False) -> None:
        require_utc(timestamp)
        require_not_before(timestamp, self.modified_on)
        require_plausible_day(decided_on, "decided_on")
        if actor != supervisor_now:
            raise NotPermitted("only the worker's current supervisor decides to reduce their supervision frequency")
        if decided_on > timestamp.date():
            raise DomainError(f"the decision date {decided_on} is in the future", field="decided_on")
        text = rationale.strip()
        if len(text) > _MAX_TEXT:
            raise DomainError(f"the rationale is longer than {_MAX_TEXT} characters", field="rationale")
        before, after = check_step_down(rule, whose=whose, regime_start=regime_start,
                                        steps_taken=self.steps_under(category, regime_start), decided_on=decided_on,
                                        observation=observation, worker_id=self.worker_id, rationale=text)
        confirmed = screening.check({"rationale": text}, confirmed_anonymous=confirmed_anonymous) \
            if screening else False
        self._stepped_down(worker_id=self.worker_id, category=category, regime_start=regime_start,
                           decided_on=decided_on,
                           from_every=before.model_dump(exclude_defaults=True),
                           to_every=after.model_dump(exclude_defaults=True),
                           observation_id=observation.observation_id if observation else None, rationale=text,
                           anonymity_confirmed=confirmed, actor=actor, timestamp=timestamp)

    @event("SteppedDown")
    def _stepped_down(self, worker_id: str, category: str, regime_start: date, decided_on: date, from_every: dict,
                      to_every: dict,
                      observation_id: str | None, rationale: str, anonymity_confirmed: bool, actor: str,
                      timestamp: datetime) -> None:
        self.steps.append({"category": category, "regime_start": regime_start, "decided_on": decided_on,
                           "from_every": from_every, "to_every": to_every, "observation_id": observation_id,
                           "decided_by": actor})


# --- the cycles ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CycleDue:
    """One observation or review falling due for one person, as of a day."""

    kind: str  # the pack key, e.g. "observation.direct_practice"
    due: date
    days_overdue: int
    text: str  # the whole sentence, when it falls due included (the due view, the API, the CLI)
    what: str = ""  # the same without when it falls due, for a page that shows the date beside it

    @property
    def severity(self) -> str:
        return "overdue" if self.days_overdue > 0 else "info"


def observation_due(cycle: ObservationCycle, observations: Sequence[ObservationFact], from_day: date) -> tuple[
        date, ObservationFact | None]:
    """When the cycle next falls due: ``every`` after the latest observation that counts for it (of its kind, by
    an observer it names), or after ``from_day`` (when the person came under the cycle) if none does."""
    counting = [o for o in observations if o.observed == cycle.of and o.relation in cycle.observers]
    latest = max(counting, key=lambda o: o.observed_on, default=None)
    return add_interval(latest.observed_on if latest else from_day, cycle.every), latest


def observations_due(pack: PolicyPack, *, category: str, monitored_from: date, supervises_since: date | None,
                     observations: Sequence[ObservationFact], as_of: date) -> list[CycleDue]:
    """Each of the pack's observation cycles that is overdue, or due within SOON_DAYS, for one person."""
    # Worded only once known to be due: the due view asks this for every worker, and most cycles are not due.
    return [_cycle_due(pack, key, cycle, start, due, latest, as_of)
            for key, cycle, start, due, latest in _cycles(pack, category, monitored_from, supervises_since,
                                                          observations)
            if (as_of - due).days > -SOON_DAYS]


def observation_cycles(pack: PolicyPack, *, category: str, monitored_from: date, supervises_since: date | None,
                       observations: Sequence[ObservationFact], as_of: date) -> list[CycleDue]:
    """Every observation cycle of the pack that applies to one person, with when it next falls due."""
    return [_cycle_due(pack, key, cycle, start, due, latest, as_of)
            for key, cycle, start, due, latest in _cycles(pack, category, monitored_from, supervises_since,
                                                          observations)]


def _cycles(pack: PolicyPack, category: str, monitored_from: date, supervises_since: date | None,
            observations: Sequence[ObservationFact]) -> Iterator[tuple[str, ObservationCycle, date, date,
                                                                       ObservationFact | None]]:
    """Each cycle that applies, with the day the person came under it, when it falls due and the latest
    observation that counts for it."""
    for key, cycle in pack.observation.items():
        if cycle.of == Observed.PRACTICE.value:
            if category in cycle.except_categories:
                continue
            start = monitored_from
        else:
            if supervises_since is None:
                continue  # supervises nobody now
            start = max(supervises_since, monitored_from)
        due, latest = observation_due(cycle, observations, start)
        yield key, cycle, start, due, latest


def _cycle_due(pack: PolicyPack, key: str, cycle: ObservationCycle, start: date, due: date,
               latest: ObservationFact | None, as_of: date) -> CycleDue:
    late = (as_of - due).days
    what = "direct practice observed" if cycle.of == Observed.PRACTICE.value else "supervision observed"
    by = " or ".join(_OBSERVER_WORDS[o] for o in cycle.observers)
    last = f"last {day_words(latest.observed_on)}" if latest else f"none recorded since {day_words(start)}"
    described = f"{what} by {by} every {cycle.every} ({pack.cite(cycle)}): {last}"
    return CycleDue(f"observation.{key}", due, max(late, 0),
                    f"{described}, due {day_words(due)}"
                    + (f", {late} day{'s' if late != 1 else ''} overdue" if late > 0 else ""), described)


# The due view words the same few hundred days for thousands of workers, and strftime's month name cost more
# than the rest of a worker's evaluation.
@lru_cache(maxsize=65536)
def day_words(day: date, with_year: bool = True) -> str:
    return f"{day.day} {day:%b %Y}" if with_year else f"{day.day} {day:%b}"


_OBSERVER_WORDS = {"supervisor": "their supervisor", "senior": "a senior manager", "peer": "a peer"}


def _enum(kind: type[Enum], value: object, field: str) -> Enum:
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(str(m.value) for m in list(kind))
        raise DomainError(f"{field} must be one of: {allowed}; got {value!r}", field=field) from None


__all__ = ["CycleDue", "FrequencySteps", "ObservationFact", "Observed", "Outcome", "PracticeObservation",
           "Relation", "check_step_down", "observation_cycles", "observation_due", "observations_due", "relation_of",
           "steps_id"]
