"""Is a worker's supervision on time? Pure evaluation of stored facts against a policy pack, as of a day.

The read model stores facts only (sessions held, records signed, agreements, cancellations, case
discussions, each with the moment it was recorded); this module turns the facts known on a day into
due dates, overdue days and reasons. Nothing here reads a clock: "as of" is always a parameter, so a
past day's dashboard or a past month's report is recomputed exactly from what was known then.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta

from domain.agreements import AgreedTerms, agreed_due, agreed_interval, agreed_minimum_minutes
from domain.employee_reviews import ReviewFact, review_cycles, reviews_due
from domain.observations import (CycleDue, ObservationFact, day_words, observation_cycles, observations_due,
                                 step_down_label)
from domain.pack_history import PackHistory
from domain.policy import CancellationReason as PackCancellationReason
from domain.policy import Interval, PolicyPack, WorkerCategory, add_interval
from domain.schedule_rules import (
    agreement_review_due,
    calendar_for,
    case_review_due,
    completion_deadline,
    next_due_date,
    rebooking_deadline,
)
from domain.session_length import judge_length, judge_week, last_full_week, weekly_minutes_rule
from domain.working_days import WorkingCalendar

DUE_SOON_DAYS = 7
AGREEMENT_REVIEW_SOON_DAYS = 30
_ONE_DAY = timedelta(days=1)

CATEGORY_LABELS = {
    "nqsw_asye": "NQSW/ASYE",
    "returner": "Returner",
    "role_changer": "Role changer",
    "overseas_recruited": "Overseas-recruited",
    "experienced": "Experienced",
    "family_support": "Family support",
    "manager": "Manager",
    "volunteer": "Volunteer",
    "agency": "Agency",
    "trainee": "Social worker in training",
}


# --- facts (what the read model knows on the day) -----------------------------------------------------


@dataclass(frozen=True)
class OpenRecord:
    """A record drafted for a session but not yet signed by both."""

    record_id: str
    session_date: date
    state: str
    drafted_by: str | None = None
    # Drafted by a supervisor the worker has since moved away from: only its author could sign it as supervisor,
    # and they no longer have access, so it stays as it is (see domain/authorisation.py).
    frozen: bool = False
    shared_on: date | None = None  # first shared with the supervisee (bury's "returned to the supervisee")


@dataclass(frozen=True)
class Cancellation:
    session_id: str
    session_date: date  # the day the session was due to take place
    reason: str  # sickness | leave | operational
    cancelled_by: str  # supervisee | supervisor
    returned_on: date | None = None  # after sickness
    rebooked_for: date | None = None  # the replacement session's date, once rebooked
    next_held_on: date | None = None  # first session held on or after the missed day


@dataclass(frozen=True)
class AgreementFact:
    agreement_id: str
    supervisor_id: str
    drafted_on: date
    in_force_on: date | None = None
    last_reviewed_on: date | None = None
    lapsed_on: date | None = None
    lapse_reason: str | None = None
    awaiting: tuple[str, ...] = ()


@dataclass(frozen=True)
class CaseFact:
    case_id: str
    opened_on: date
    rating: str | None
    approved: bool
    last_discussed_on: date | None
    reference: str | None = None  # initials or a number; filled in by the caller for display


@dataclass(frozen=True)
class WorkerFacts:
    worker_id: str
    category: str
    start_date: date
    joined_on: date  # when the ledger first knew the worker
    supervisor_id: str | None = None
    supervisor_since: date | None = None
    last_session: date | None = None
    last_session_minutes: int | None = None  # how long the last session lasted, if it was recorded as held
    next_booked: date | None = None
    open_records: tuple[OpenRecord, ...] = ()
    unrecorded_sessions: tuple[date, ...] = ()
    agreements: tuple[AgreementFact, ...] = ()
    cancellations: tuple[Cancellation, ...] = ()
    cases: tuple[CaseFact, ...] = ()
    last_held: tuple[date, int] | None = None  # the last session recorded as held, and its minutes, counted or not
    minutes_in_week: int | None = None  # minutes held in the last full week (None: not asked for)
    # Observation and review cycles, step-down decisions and the agreements' own terms (domain/observations.py,
    # domain/employee_reviews.py, domain/agreements.py); filled in by projections/practice_cycles.py.
    observations: tuple[ObservationFact, ...] = ()
    reviews: tuple[ReviewFact, ...] = ()
    step_downs: tuple[date, ...] = ()  # decisions to reduce the frequency under the current category
    supervises_since: date | None = None  # supervising someone now, since
    agreed_terms: dict[str, dict] = field(default_factory=dict)  # agreement id -> its terms


# --- results ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Issue:
    kind: str
    severity: str  # "overdue" (a deadline has passed) | "warning" (needs action) | "info"
    text: str
    due: date | None = None
    days_overdue: int = 0
    ref: str | None = None


@dataclass(frozen=True)
class FrequencyStatus:
    rule: str
    source: str
    last_session: date | None
    due: date
    days_overdue: int
    status: str  # overdue | due_soon | on_time
    reason: str


@dataclass(frozen=True)
class WorkerCompliance:
    worker_id: str
    category: str
    supervisor_id: str | None
    frequency: FrequencyStatus
    next_booked: date | None
    issues: tuple[Issue, ...] = field(default=())

    @property
    def needs_attention(self) -> bool:
        return self.frequency.status == "overdue" or any(i.severity in ("overdue", "warning") for i in self.issues)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class MonthFrequency:
    held: int
    required: int
    overdue_days: int

    @property
    def met(self) -> bool:
        return self.held >= self.required and self.overdue_days == 0


# --- evaluation ------------------------------------------------------------------------------------------


def evaluate(pack: PolicyPack, facts: WorkerFacts, as_of: date, calendar: WorkingCalendar | None = None,
             history: PackHistory | None = None) -> WorkerCompliance:
    """Every check for one worker, as of the end of `as_of`, under `pack` (the version in force that day).
    With the pack's `history`, the next session's due date allows for a change of frequency between the
    last session and that date (PackHistory.next_due_across)."""
    calendar = calendar or calendar_for(pack)
    frequency = frequency_status(pack, facts, as_of, history)
    issues = [
        *_supervisor_issues(facts),
        *_record_issues(pack, facts, as_of, calendar),
        *_cancellation_issues(pack, facts, as_of, calendar),
        *_agreement_issues(pack, facts, as_of),
        *_case_issues(pack, facts, as_of),
        *_session_length_issues(pack, facts),
        *_weekly_minutes_issues(pack, facts, as_of),
        *_agreed_length_issues(pack, facts),
        *_cycle_issues(pack, facts, as_of),
    ]
    return WorkerCompliance(facts.worker_id, facts.category, facts.supervisor_id, frequency, facts.next_booked,
                            tuple(issues))


def monitoring_from(facts: WorkerFacts) -> date:
    """With no session yet, the clock runs from the start date, or from when the ledger first knew the
    worker if that is later (staff already in post when the ledger was introduced)."""
    return max(facts.start_date, facts.joined_on)


def frequency_status(pack: PolicyPack, facts: WorkerFacts, as_of: date,
                     history: PackHistory | None = None) -> FrequencyStatus:
    anchor = facts.last_session if facts.last_session is not None else monitoring_from(facts)
    if history is None:
        due = next_due_date(pack, facts.category, facts.start_date, anchor, facts.step_downs)
    else:
        due = history.next_due_across(facts.category, facts.start_date, anchor, facts.step_downs)
        pack = history.in_force_on(due)  # the rule quoted is the one that sets the due date
    rule, source = rule_in_force(pack, facts.category, facts.start_date, due, facts.step_downs)
    agreement = current_agreement(facts)
    terms = facts.agreed_terms.get(agreement.agreement_id, {}) if agreement and agreement.in_force_on else {}
    stricter = agreed_due(terms, anchor, due)
    if stricter is not None:
        due, source = stricter, rule
        rule = (f"Agreed every {agreed_interval(terms['every'])} (the supervision agreement in force since "
                f"{short_date(agreement.in_force_on, as_of)}; stricter than {rule})")  # type: ignore[union-attr]
    days = (as_of - due).days
    if facts.last_session is not None and facts.last_session < facts.start_date:
        since = (f"last session {short_date(facts.last_session, as_of)}, before this rule began on "
                 f"{short_date(facts.start_date, as_of)}")
    elif facts.last_session is not None:
        since = f"last session {short_date(facts.last_session, as_of)}"
    elif facts.joined_on > facts.start_date:
        since = f"no session recorded since joining the ledger on {short_date(facts.joined_on, as_of)}"
    else:
        since = f"no session recorded since starting on {short_date(facts.start_date, as_of)}"
    if days > 0:
        status, when = "overdue", f"due {short_date(due, as_of)}, {_days(days)} overdue"
    elif days == 0:
        status, when = "due_soon", "due today"
    elif -days <= DUE_SOON_DAYS:
        status, when = "due_soon", f"due {short_date(due, as_of)} (in {_days(-days)})"
    else:
        status, when = "on_time", f"due {short_date(due, as_of)}"
    reason = f"{rule}: {since}, {when}"
    if facts.next_booked is not None:
        late = " - after the due date" if facts.next_booked > due else ""
        reason += f"; next booked {short_date(facts.next_booked, as_of)}{late}"
    return FrequencyStatus(rule, source, facts.last_session, due, max(days, 0), status, reason)


def rule_in_force(pack: PolicyPack, category: str, start_date: date, on_date: date,
                  steps: Sequence[date] = ()) -> tuple[str, str]:
    """A short name for the frequency phase in force on a day, and the pack's words for the whole rule."""
    rule = pack.frequency.for_category(WorkerCategory(category))
    label = CATEGORY_LABELS.get(category, category)
    source = rule.source or rule.note or ""
    phases = rule.phases
    whose = pack.cite(rule)
    if len(phases) == 1:
        return f"{label} {every_word(phases[0].every)} ({whose})", source
    if rule.step_down is not None:
        return step_down_label(label, whose, phases, [s for s in steps if s <= on_date]), source
    previous: Interval | None = None
    for n, phase in enumerate(phases):
        ends = None if phase.until is None else add_interval(start_date, phase.until)
        if ends is None or on_date < ends:
            word = every_word(phase.every)
            if n == 0:
                window = f"{word} for the first {phase.until}"
            elif phase.until is None:
                window = f"{word} after {previous}"
            else:
                window = f"{word} from {previous} to {phase.until}"
            return f"{label} {word} phase ({whose}: {window})", source
        previous = phase.until
    raise AssertionError("unreachable: the last phase is open-ended")  # pragma: no cover


# By (months, weeks, days): hashing an Interval costs more than the look-up.
_EVERY_WORDS = {(0, 1, 0): "weekly", (0, 2, 0): "fortnightly", (1, 0, 0): "monthly", (12, 0, 0): "annually"}


def every_word(interval: Interval) -> str:
    return _EVERY_WORDS.get((interval.months, interval.weeks, interval.days)) or f"every {interval}"


def _supervisor_issues(facts: WorkerFacts) -> list[Issue]:
    if facts.supervisor_id is None:
        return [Issue("no_supervisor", "warning", "needs a supervisor: no supervisor allocated, so nobody is "
                                                  "responsible for this worker's supervision")]
    return []


def _record_issues(pack: PolicyPack, facts: WorkerFacts, as_of: date, calendar: WorkingCalendar) -> list[Issue]:
    issues = []
    rule = _deadline_words(pack.completion.record.days, pack.completion.record.counting)
    whose = pack.cite(pack.completion.record)
    ends = pack.completion.record_ends.event
    for record in sorted(facts.open_records, key=lambda r: r.session_date):
        deadline = completion_deadline(pack, record.session_date, calendar)
        if ends == "drafted" or (ends == "shared" and record.shared_on is not None):
            # The deadline ended at the step the pack names; the signatures are the parties' own story.
            issues.append(Issue("record_awaiting_signatures", "info",
                                f"record of the {short_date(record.session_date, as_of)} session "
                                f"{_ended_words(record, as_of)}; {record.state.replace('_', ' ')}",
                                ref=record.record_id))
            continue
        if record.frozen:
            issues.append(Issue(
                "record_frozen", "info",
                f"record of the {short_date(record.session_date, as_of)} session was not signed by both before the "
                "transfer: it stays as it was (only its author could sign it as supervisor)", deadline,
                ref=record.record_id))
            continue
        if as_of > deadline:
            days = (as_of - deadline).days
            issues.append(Issue(
                "record_unsigned", "overdue",
                f"record of the {short_date(record.session_date, as_of)} session {_not_ended_words(ends)} "
                f"({record.state.replace('_', ' ')}): due {short_date(deadline, as_of)} ({whose}: "
                f"{rule}), {_days(days)} late", deadline, days, record.record_id))
    for held_on in sorted(facts.unrecorded_sessions):
        deadline = completion_deadline(pack, held_on, calendar)
        if as_of > deadline:
            days = (as_of - deadline).days
            issues.append(Issue(
                "record_missing", "overdue",
                f"session held {short_date(held_on, as_of)} has no record: due {short_date(deadline, as_of)} "
                f"({whose}: {rule}), {_days(days)} late", deadline, days))
    return issues


def _ended_words(record: OpenRecord, as_of: date) -> str:
    return (f"shared with the supervisee {short_date(record.shared_on, as_of)}" if record.shared_on
            else "drafted")


def _not_ended_words(ends: str) -> str:
    return "not yet shared with the supervisee" if ends == "shared" else "not signed by both"


def _cancellation_issues(pack: PolicyPack, facts: WorkerFacts, as_of: date, calendar: WorkingCalendar) -> list[Issue]:
    issues = []
    for c in sorted(facts.cancellations, key=lambda c: c.session_date):
        what = (f"session of {short_date(c.session_date, as_of)} cancelled by the {c.cancelled_by} ({c.reason})")
        sickness = c.reason == "sickness"
        if sickness and c.returned_on is None:
            rule = pack.rebooking.after_sickness or pack.rebooking.after_cancellation
            if rule is not None and c.next_held_on is None and c.rebooked_for is None:
                issues.append(Issue("awaiting_return", "info",
                                    f"{what}: rebook within {_deadline_words(rule.days, rule.counting)} of the "
                                    f"return to work ({pack.short_name}); return not yet recorded", ref=c.session_id))
            continue
        deadline = (rebooking_deadline(pack, min(c.session_date, c.returned_on), PackCancellationReason.SICKNESS,
                                       c.returned_on, calendar) if sickness and c.returned_on is not None
                    else rebooking_deadline(pack, c.session_date, PackCancellationReason.OTHER, calendar=calendar))
        if deadline is None:
            if c.rebooked_for is None and c.next_held_on is None:
                issues.append(Issue("cancellation_not_rebooked", "info",
                                    f"{what}: not rebooked ({pack.short_name} sets no rebooking deadline; the "
                                    "minimum frequency still applies)", ref=c.session_id))
            continue
        if c.next_held_on is not None and c.next_held_on <= deadline:
            continue
        if c.rebooked_for is not None and c.rebooked_for <= deadline:
            continue  # booked in time; whether it is held is the next session's own story
        if c.rebooked_for is not None:
            issues.append(Issue("cancellation_rebooked_late", "warning",
                                f"{what}: rebooked for {short_date(c.rebooked_for, as_of)}, after the "
                                f"{pack.short_name} deadline of {short_date(deadline, as_of)}",
                                deadline, max(0, (as_of - deadline).days), c.session_id))
        elif as_of > deadline:
            days = (as_of - deadline).days
            issues.append(Issue("cancellation_not_rebooked", "overdue",
                                f"{what}: not rebooked; {pack.short_name} deadline {short_date(deadline, as_of)} "
                                f"passed {_days(days)} ago", deadline, days, c.session_id))
        else:
            issues.append(Issue("cancellation_not_rebooked", "info",
                                f"{what}: rebook by {short_date(deadline, as_of)} ({pack.short_name})",
                                deadline, 0, c.session_id))
    return issues


def current_agreement(facts: WorkerFacts) -> AgreementFact | None:
    """The latest agreement with the current supervisor that has not lapsed."""
    mine = [a for a in facts.agreements if a.supervisor_id == facts.supervisor_id and a.lapsed_on is None]
    return max(mine, key=lambda a: a.drafted_on) if mine else None


def _agreement_issues(pack: PolicyPack, facts: WorkerFacts, as_of: date) -> list[Issue]:
    if facts.supervisor_id is None:
        return []
    agreement = current_agreement(facts)
    if agreement is None:
        lapsed = [a for a in facts.agreements if a.lapse_reason == "supervisor_changed" and a.lapsed_on]
        if lapsed and pack.agreement.renegotiate_on_supervisor_change:
            last = max(lapsed, key=lambda a: a.lapsed_on or date.min)
            return [Issue("agreement_lapsed", "warning",
                          f"agreement lapsed when the supervisor changed on {short_date(last.lapsed_on, as_of)}: "
                          f"re-negotiate with the new supervisor ({pack.cite(pack.agreement)})", last.lapsed_on,
                          ref=last.agreement_id)]
        return [Issue("agreement_missing", "warning",
                      f"no supervision agreement with the current supervisor ({pack.short_name}: agreed at the "
                      "start of the relationship)", facts.supervisor_since)]
    if agreement.in_force_on is None:
        waiting = " and ".join(agreement.awaiting) or "both"
        return [Issue("agreement_unsigned", "warning",
                      f"agreement drafted {short_date(agreement.drafted_on, as_of)} awaits the signature of the "
                      f"{waiting}", ref=agreement.agreement_id)]
    basis = agreement.last_reviewed_on or agreement.in_force_on
    due = agreement_review_due(pack, basis)
    what = "last reviewed" if agreement.last_reviewed_on else "agreed"
    every = every_word(pack.agreement.review_every)
    if as_of > due:
        days = (as_of - due).days
        return [Issue("agreement_review", "overdue",
                      f"agreement review due {short_date(due, as_of)} ({what} {short_date(basis, as_of)}; "
                      f"{pack.cite(pack.agreement)}: reviewed {every}), {_days(days)} overdue", due, days,
                      agreement.agreement_id)]
    if (due - as_of).days <= AGREEMENT_REVIEW_SOON_DAYS:
        return [Issue("agreement_review", "info",
                      f"agreement review due {short_date(due, as_of)} ({what} {short_date(basis, as_of)})", due,
                      ref=agreement.agreement_id)]
    return []


def _case_issues(pack: PolicyPack, facts: WorkerFacts, as_of: date) -> list[Issue]:
    issues = []
    for case in facts.cases:
        rating, note = case.rating, ""
        if rating is not None and rating not in pack.case_supervision.ratings:
            rating, note = None, f" ('{case.rating}' is not a {pack.short_name} rating: unrated interval used)"
        rule = pack.case_supervision.ratings[rating] if rating else pack.case_supervision.unrated
        label = f"case {case.reference or case.case_id[:8]} ({rating or 'unrated'}, {every_word(rule.every)}){note}"
        if rule.approval_by and not case.approved:
            issues.append(Issue("case_rating_unapproved", "warning",
                                f"{label}: rating not approved by the {rule.approval_by.replace('_', ' ')}",
                                ref=case.case_id))
        basis = case.last_discussed_on or case.opened_on
        due = case_review_due(pack, rating, basis)
        if as_of > due:
            days = (as_of - due).days
            since = (f"last discussed {short_date(case.last_discussed_on, as_of)}" if case.last_discussed_on
                     else f"not discussed since it was opened on {short_date(case.opened_on, as_of)}")
            issues.append(Issue("case_overdue", "overdue", f"{label}: {since}, due {short_date(due, as_of)}, "
                                f"{_days(days)} overdue", due, days, case.case_id))
    return issues


def _agreed_length_issues(pack: PolicyPack, facts: WorkerFacts) -> list[Issue]:
    """A session shorter than the length the agreement in force sets, where that is longer than the pack's."""
    agreement = current_agreement(facts)
    terms = facts.agreed_terms.get(agreement.agreement_id, {}) if agreement and agreement.in_force_on else {}
    agreed = agreed_minimum_minutes(terms, pack.minimum_session_minutes.minutes)
    lasted = facts.last_session_minutes
    if agreed and lasted is not None and lasted < agreed:
        return [Issue("session_short_of_agreement", "info",
                      f"last session lasted {lasted} min, {agreed - lasted} min short of the {agreed} min the "
                      "supervision agreement sets", ref=agreement.agreement_id)]  # type: ignore[union-attr]
    return []


def _cycle_issues(pack: PolicyPack, facts: WorkerFacts, as_of: date) -> list[Issue]:
    due = [*observations_due(pack, category=facts.category, monitored_from=monitoring_from(facts),
                             supervises_since=facts.supervises_since, observations=facts.observations, as_of=as_of),
           *reviews_due(pack, facts.reviews, monitoring_from(facts), as_of)]
    return [Issue(d.kind, d.severity, d.text, d.due, d.days_overdue) for d in due]


def practice_cycles(pack: PolicyPack, facts: WorkerFacts, as_of: date) -> list[CycleDue]:
    """Every observation and review cycle the pack applies to the worker, each with its next due date (the due
    view lists only those overdue or due soon)."""
    return [*observation_cycles(pack, category=facts.category, monitored_from=monitoring_from(facts),
                                supervises_since=facts.supervises_since, observations=facts.observations,
                                as_of=as_of),
            *review_cycles(pack, facts.reviews, monitoring_from(facts), as_of)]


def _session_length_issues(pack: PolicyPack, facts: WorkerFacts) -> list[Issue]:
    """The last held session's length, as the pack judges it (domain/session_length.py)."""
    if facts.last_held is None:
        return []
    day, lasted = facts.last_held
    verdict = judge_length(pack, lasted)
    if verdict.severity is None:
        return []
    minimum = pack.minimum_session_minutes.minutes
    kind = "session_short" if minimum and lasted < minimum else "session_long"
    return [Issue(kind, verdict.severity, f"session of {short_date(day, day)} {verdict.text}", day)]


def _weekly_minutes_issues(pack: PolicyPack, facts: WorkerFacts, as_of: date) -> list[Issue]:
    rule = weekly_minutes_rule(pack, facts.category)
    week = last_full_week(as_of)
    if rule is None or facts.minutes_in_week is None or week[0] < max(facts.start_date, facts.joined_on):
        return []  # a week that began before the regime (or before the ledger knew the worker) is not judged
    verdict = judge_week(rule, facts.minutes_in_week, week,
                         pack.cite(pack.frequency.for_category(WorkerCategory(facts.category))))
    return [Issue("weekly_minutes", verdict.severity, verdict.text, week[1])] if verdict.severity else []


# --- the month: sessions held vs required -------------------------------------------------------------------


def binding_terms(agreements: Iterable[AgreementFact], terms: dict[str, dict], supervisor_id: str | None = None,
                  supervisor_since: date | None = None) -> tuple[AgreedTerms, ...]:
    """The agreements that bound the worker at some time, each with the days it bound and its own frequency and
    session length (only those both signed and that set either). An agreement with someone other than the
    supervisor of `supervisor_since` lapsed that day if its own lapse is not yet known (it follows the transfer,
    as on the due view)."""
    bound = []
    for a in agreements:
        agreed = terms.get(a.agreement_id, {})
        if a.in_force_on is None or not ("every" in agreed or "session_minutes" in agreed):
            continue
        until = a.lapsed_on
        if until is None and supervisor_id is not None and a.supervisor_id != supervisor_id:
            until = supervisor_since
        bound.append(AgreedTerms(a.agreement_id, a.in_force_on, until,
                                 agreed_interval(agreed["every"]) if "every" in agreed else None,
                                 agreed.get("session_minutes")))
    return tuple(sorted(bound, key=lambda t: (t.from_day, t.agreement_id)))


def month_frequency(pack: PolicyPack, category: str, start_date: date, monitored_from: date,
                    last_before: date | None, held: Iterable[date], first: date, last: date,
                    steps: Sequence[date] = (), agreed: Sequence[AgreedTerms] = ()) -> MonthFrequency:
    """Sessions held in [first, last], the fewest that would have kept the worker within the rule, and the
    days in the window on which they were overdue.

    A day is overdue when it is past the pack's due date, or past what an agreement binding on that day allows
    (the stricter of the two: hull "The frequency listed is the minimum ... reflected in the Supervision
    Contract"; the school trust's contract sets the frequency). `required` is the greedy count: each session on
    the latest day that is not overdue. Those days never move earlier when the last session is later, so no
    other placement needs fewer sessions."""
    days_held = sorted({d for d in held if first <= d <= last})

    def latest_allowed(anchor: date) -> date:
        overdue_from = next_due_date(pack, category, start_date, anchor, steps) + _ONE_DAY
        for terms in agreed:
            day = terms.first_overdue_after(anchor)
            if day is not None and day < overdue_from:
                overdue_from = day
        return overdue_from - _ONE_DAY

    anchor = last_before if last_before is not None else monitored_from
    required, due = 0, latest_allowed(anchor)
    while due <= last:
        required += 1
        due = latest_allowed(max(due, first))
    overdue, held_set = 0, set(days_held)
    pack_due = next_due_date(pack, category, start_date, anchor, steps)
    day = first
    while day <= last:
        if day in held_set:
            anchor, pack_due = day, next_due_date(pack, category, start_date, day, steps)
        elif day >= monitored_from and (day > pack_due or any(t.overdue_on(day, anchor) for t in agreed)):
            overdue += 1
        day += _ONE_DAY
    return MonthFrequency(len(days_held), required, overdue)


def short_sessions(pack: PolicyPack, lengths: Iterable[tuple[date, int]], agreed: Sequence[AgreedTerms] = ()) -> int:
    """Sessions shorter than the pack's minimum, or than the length an agreement binding on their day sets where
    that is longer (the school trust: "The supervisor and supervisee will agree on the duration")."""
    minimum = pack.minimum_session_minutes.minutes
    count = 0
    for day, lasted in lengths:
        floor = max([m for m in (minimum, *(t.session_minutes for t in agreed if t.binds_on(day))) if m],
                    default=None)
        count += floor is not None and lasted < floor
    return count


def agreed_rule(pack: PolicyPack, category: str, start_date: date, on: date, agreed: Sequence[AgreedTerms],
                steps: Sequence[date] = ()) -> tuple[str, str] | None:
    """The words for an agreement's frequency binding on `on` where it is stricter than the pack's (as the due
    view says it), else None."""
    rule, source = rule_in_force(pack, category, start_date, on, steps)
    pack_due = next_due_date(pack, category, start_date, on, steps)
    for terms in agreed:
        if terms.every is not None and terms.binds_on(on) and add_interval(on, terms.every) < pack_due:
            return (f"Agreed every {terms.every} (the supervision agreement in force since "
                    f"{short_date(terms.from_day, on)}; stricter than {rule})"), rule
    return None


# --- wording ----------------------------------------------------------------------------------------------------


def short_date(day: date | None, as_of: date) -> str:
    if day is None:
        return "-"
    return day_words(day, with_year=day.year != as_of.year)


def _days(n: int) -> str:
    return f"{n} day" if n == 1 else f"{n} days"


def _deadline_words(days: int, counting: str) -> str:
    if counting == "calendar_days" and days == 7:
        return "one week"
    unit = "working day" if counting == "working_days" else "day"
    return f"{days} {unit}{'' if days == 1 else 's'}"


def sorted_for_attention(rows: Sequence[WorkerCompliance]) -> list[WorkerCompliance]:
    """Most overdue first, then those due soonest; workers with open issues before those without."""
    order = {"overdue": 0, "due_soon": 1, "on_time": 2}
    return sorted(rows, key=lambda r: (order[r.frequency.status], -r.frequency.days_overdue,
                                       not r.needs_attention, r.frequency.due, r.worker_id))
