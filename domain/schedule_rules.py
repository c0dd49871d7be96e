"""Pure date rules derived from a policy pack: when things are due.

Conventions
- A "category start date" is the day the worker's current frequency regime began
  (employment start for an NQSW, return date for a returner, move date for a role changer).
- Frequency phases are measured from that start date; a phase's ``until`` is exclusive.
- Deadlines are the last permissible day: a record due "within 5 working days" of a
  Monday session is due on (and still in time on) the following Monday.
- No clock reads: "today" is always a parameter.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

from dateutil.relativedelta import relativedelta

from domain.policy import (
    CancellationReason,
    Deadline,
    FrequencyPhase,
    Interval,
    PolicyIncomplete,
    PolicyPack,
    WorkerCategory,
    add_interval,
)
from domain.timestamps import require_plausible_day
from domain.working_days import WorkingCalendar

_ONE_DAY = timedelta(days=1)

# Statutory deadlines roll over weekends and public holidays only; an organisation's
# own closure days do not extend a legal time limit.
_STATUTORY_CALENDAR = WorkingCalendar()


def calendar_for(pack: PolicyPack) -> WorkingCalendar:
    """The organisation's working calendar: bank holidays plus its own closure days."""
    return WorkingCalendar(pack.closure_dates)


# --- supervision frequency -------------------------------------------------


def _category(category: WorkerCategory | str) -> WorkerCategory:
    try:
        return WorkerCategory(category)
    except ValueError:
        known = ", ".join(c.value for c in WorkerCategory)
        raise ValueError(f"unknown worker category {category!r}; expected one of: {known}") from None


def _phases_with_ends(pack: PolicyPack, category: WorkerCategory | str, start_date: date,
                      steps: Sequence[date] = ()) -> list[tuple[FrequencyPhase, date | None]]:
    """Each phase with the day it ends (exclusive). A rule that steps down by decision ends each phase on the
    day of the decision that left it (``steps``, in order); the phase no decision has left is open-ended."""
    rule = pack.frequency.for_category(_category(category))
    if rule.step_down is not None:
        taken = sorted(steps)[:len(rule.phases) - 1]
        return [(p, taken[n] if n < len(taken) else None) for n, p in enumerate(rule.phases[:len(taken) + 1])]
    return [(p, None if p.until is None else add_interval(start_date, p.until)) for p in rule.phases]


def required_interval(pack: PolicyPack, category: WorkerCategory | str, start_date: date, on_date: date,
                      steps: Sequence[date] = ()) -> Interval:
    """The maximum gap between sessions in force on ``on_date`` for this category."""
    if on_date < start_date:
        raise ValueError(f"{on_date} is before the category start date {start_date}")
    for phase, ends in _phases_with_ends(pack, category, start_date, steps):
        if ends is None or on_date < ends:
            return phase.every
    raise AssertionError("unreachable: the last phase is open-ended")  # pragma: no cover


def next_due_date(
    pack: PolicyPack,
    category: WorkerCategory | str,
    start_date: date,
    last_session_date: date | None,
    steps: Sequence[date] = (),
) -> date:
    """The latest date the next session may take place without breaching the minimum frequency.

    The rule: on every day t after the last session, t must be no later than
    last session + the interval in force on t. The answer is the latest date for
    which that holds on every day up to it - never later than the rule allows, and
    never earlier than it requires. A session before the start date (or none) counts
    from the start date: a new regime begins with its own first interval. ``steps`` are the days of the
    step-down decisions taken under a rule that eases only by decision (domain/observations.py).
    """
    anchor = start_date if last_session_date is None else max(last_session_date, start_date)
    phase_start = start_date
    for phase, ends in _phases_with_ends(pack, category, start_date, steps):
        first_day = max(anchor + _ONE_DAY, phase_start)  # first day after the anchor in this phase
        if ends is not None:
            # month arithmetic can end a phase no later than its predecessor (4 weeks vs
            # 1 month from 1 Feb); such a phase is empty, as in required_interval
            phase_start = max(phase_start, ends)
        if ends is not None and ends <= first_day:
            continue  # no day of this phase falls after the anchor
        candidate = add_interval(anchor, phase.every)
        if candidate < first_day:
            # mixed units (e.g. 30 days, then 1 month) can make this phase's limit fall
            # before it starts: its first day is already too late
            return first_day - _ONE_DAY
        if ends is None or candidate + _ONE_DAY < ends:
            return candidate  # the day after falls in this phase and is too late
        # every remaining day of this phase is within its interval; later phases decide
    raise AssertionError("unreachable: the last phase is open-ended")  # pragma: no cover


# --- deadlines in days -----------------------------------------------------


def _deadline(start: date, deadline: Deadline, calendar: WorkingCalendar) -> date:
    if deadline.counting == "working_days":
        return calendar.add_working_days(start, deadline.days)
    return start + timedelta(days=deadline.days)


def completion_deadline(pack: PolicyPack, session_date: date, calendar: WorkingCalendar | None = None) -> date:
    """Last day for the record of a session to be completed (and returned to the supervisee)."""
    return _deadline(session_date, pack.completion.record, calendar or calendar_for(pack))


def case_decision_deadline(pack: PolicyPack, session_date: date, calendar: WorkingCalendar | None = None) -> date | None:
    """Last day for case decisions to reach the child's record; None if the policy sets none."""
    rule = pack.completion.case_decisions
    return None if rule is None else _deadline(session_date, rule, calendar or calendar_for(pack))


def rebooking_deadline(
    pack: PolicyPack,
    cancelled_on: date,
    reason: CancellationReason | str,
    returned_on: date | None = None,
    calendar: WorkingCalendar | None = None,
) -> date | None:
    """Last day a cancelled session may be re-held; None if the policy sets no separate deadline.

    After sickness the clock starts on the day the person returns to work, so
    ``returned_on`` is required (the deadline is unknown while they are still off).
    Where the policy has no sickness rule, the ordinary rule applies from the return.
    """
    reason = CancellationReason(reason)
    calendar = calendar or calendar_for(pack)
    rules = pack.rebooking
    if reason is CancellationReason.SICKNESS:
        if returned_on is None:
            raise ValueError("a sickness cancellation needs returned_on: the deadline runs from the return to work")
        if returned_on < cancelled_on:
            raise ValueError(f"returned_on {returned_on} is before cancelled_on {cancelled_on}")
        rule = rules.after_sickness or rules.after_cancellation
        return None if rule is None else _deadline(returned_on, rule, calendar)
    rule = rules.after_cancellation
    return None if rule is None else _deadline(cancelled_on, rule, calendar)


# --- leavers, agreements, cases, SARs --------------------------------------


def destruction_date(pack: PolicyPack, leaving_date: date) -> date:
    """Leaving date + N calendar years (29 Feb -> 28 Feb); PolicyIncomplete without a period."""
    require_plausible_day(leaving_date, "leaving_date")
    return leaving_date + relativedelta(years=pack.retention_years_required())


def archival_deadline(pack: PolicyPack, leaving_date: date) -> date | None:
    """Last day to archive a leaver's file; None if the policy sets no deadline."""
    interval = pack.archival.deadline_after_leaving
    return None if interval is None else add_interval(leaving_date, interval)


def agreement_review_due(pack: PolicyPack, agreed_on: date) -> date:
    return add_interval(agreed_on, pack.agreement.review_every)


def case_review_due(pack: PolicyPack, rag: str | None, last_discussed: date) -> date:
    """When a child's case must next be discussed, by its rating (None: unrated)."""
    rules = pack.case_supervision
    if rag is None:
        return add_interval(last_discussed, rules.unrated.every)
    rating = rules.ratings.get(rag.lower())
    if rating is None:
        known = ", ".join(sorted(rules.ratings)) or "none (use an unrated case)"
        raise ValueError(f"{pack.short_name} has no case rating {rag!r}; known ratings: {known}")
    return add_interval(last_discussed, rating.every)


def sar_deadline(pack: PolicyPack, received_on: date, extended: bool = False) -> date:
    """UK GDPR response deadline, counted as the ICO does.

    From the day of receipt to the corresponding date in the month after (the last day
    of that month if it has no such date); if that is a weekend or bank holiday, the
    next working day. An extension adds two further months to the same start.
    """
    require_plausible_day(received_on, "received_on")
    rule = pack.sar_response
    within = rule.respond_within
    if extended:
        # counted from receipt: 31 Jan + 3 months = 30 Apr, not 28 Feb + 2 months
        within = Interval(
            months=within.months + rule.extension.months,
            weeks=within.weeks + rule.extension.weeks,
            days=within.days + rule.extension.days,
        )
    return _STATUTORY_CALENDAR.next_working_day_on_or_after(add_interval(received_on, within))


def incomplete_rules(pack: PolicyPack) -> list[str]:
    """Key paths the organisation must still configure before every action is allowed."""
    missing = []
    if pack.retention.years_after_employment_ends is None:
        missing.append("retention.years_after_employment_ends")
    return missing


__all__ = [
    "PolicyIncomplete",
    "agreement_review_due",
    "archival_deadline",
    "calendar_for",
    "case_decision_deadline",
    "case_review_due",
    "completion_deadline",
    "destruction_date",
    "incomplete_rules",
    "next_due_date",
    "rebooking_deadline",
    "required_interval",
    "sar_deadline",
]
