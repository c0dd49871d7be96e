"""Schedule rules, pack by pack: each table row quotes the policy sentence it checks."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from dateutil.relativedelta import relativedelta
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from domain.policy import (
    ClosureDays,
    Frequency,
    FrequencyPhase,
    FrequencyRule,
    Interval,
    PolicyIncomplete,
    PolicyPack,
    WorkerCategory,
    add_interval,
)
from domain.schedule_rules import (
    agreement_review_due,
    archival_deadline,
    calendar_for,
    case_decision_deadline,
    case_review_due,
    completion_deadline,
    destruction_date,
    next_due_date,
    rebooking_deadline,
    required_interval,
    sar_deadline,
)
from domain.working_days import WorkingCalendar
from infrastructure.policy_packs import load_all_packs

PACKS: dict[str, PolicyPack] = load_all_packs()
D = date
ONE_DAY = timedelta(days=1)
START = D(2026, 1, 5)  # a Monday


def _source(pack: PolicyPack, category: str) -> str:
    rule = pack.frequency.for_category(WorkerCategory(category))
    return f"{rule.source or ''} {rule.note or ''}"


# --- frequency: one row per rule, quoting the policy ---------------------------------

FREQUENCY_TABLE = [
    # (pack, category, last session, expected due, quote from the policy)
    ("hull", "nqsw_asye", None, D(2026, 1, 12), "weekly individual supervision for the first six weeks of employment"),
    ("hull", "nqsw_asye", D(2026, 1, 26), D(2026, 2, 2), "weekly individual supervision for the first six weeks of employment"),
    ("hull", "nqsw_asye", D(2026, 3, 2), D(2026, 3, 16), "then fortnightly up to six months"),
    ("hull", "nqsw_asye", D(2026, 8, 5), D(2026, 9, 5), "and monthly thereafter"),
    ("hull", "returner", D(2026, 2, 5), D(2026, 2, 19), "supervision fortnightly for the first 3 months"),
    ("hull", "returner", D(2026, 4, 10), D(2026, 5, 10), "then a minimum of monthly as for other staff"),
    ("hull", "role_changer", D(2026, 2, 5), D(2026, 2, 19), "major change of role in transferring to a different team"),
    ("hull", "experienced", D(2026, 1, 31), D(2026, 2, 28), "as a minimum once a month"),
    ("bcp", "nqsw_asye", D(2026, 1, 26), D(2026, 2, 2), "weekly for the first six weeks of practice"),
    ("bcp", "nqsw_asye", D(2026, 9, 7), D(2026, 9, 21), "two weekly for up to twelve months"),
    ("bcp", "nqsw_asye", D(2027, 2, 1), D(2027, 3, 1), "the formal supervision decreases to monthly"),
    ("bcp", "overseas_recruited", D(2026, 2, 5), D(2026, 2, 19), "every two weeks"),
    # no timer: without a step-down decision (domain/observations.py) it stays every two weeks
    ("bcp", "overseas_recruited", D(2026, 4, 20), D(2026, 5, 4), "every two weeks"),
    ("bcp", "overseas_recruited", D(2026, 7, 20), D(2026, 8, 3), "every two weeks"),
    ("bcp", "manager", D(2026, 3, 31), D(2026, 4, 30), "the expected frequency of supervision is monthly"),
    ("bcp", "agency", D(2026, 3, 10), D(2026, 4, 10), "in the same way as permanent staff"),
    ("darlington", "nqsw_asye", D(2026, 1, 26), D(2026, 2, 2), "As a minimum weekly for the first 6 weeks"),
    ("darlington", "nqsw_asye", D(2026, 5, 4), D(2026, 5, 18), "then fortnightly until 6 months"),
    ("darlington", "family_support", D(2026, 3, 10), D(2026, 4, 10), "Non-Qualified roles working directly with children Monthly"),
    ("bury", "experienced", D(2026, 3, 10), D(2026, 4, 10), "should take place every month"),
    ("bury", "nqsw_asye", D(2026, 1, 26), D(2026, 2, 2), "The frequency increases for newly qualified social workers"),
    ("school-trust", "volunteer", D(2026, 3, 10), D(2026, 4, 10), "policy silent on a number: baseline monthly"),
    ("school-trust", "nqsw_asye", None, D(2026, 2, 5), "more frequent supervision for staff who are newly qualified"),
]


@pytest.mark.parametrize(("pack", "category", "last", "expected", "quote"), FREQUENCY_TABLE)
def test_next_due_date_follows_the_policy(pack: str, category: str, last: date | None, expected: date, quote: str) -> None:
    assert quote in _source(PACKS[pack], category), "the quoted sentence must be the pack's source"
    assert next_due_date(PACKS[pack], category, START, last) == expected


def test_phase_boundary_at_six_weeks_hull() -> None:
    # "weekly ... for the first six weeks of employment, then fortnightly"
    hull = PACKS["hull"]
    six_weeks = START + timedelta(weeks=6)
    assert required_interval(hull, "nqsw_asye", START, six_weeks - ONE_DAY) == Interval(weeks=1)
    assert required_interval(hull, "nqsw_asye", START, six_weeks) == Interval(weeks=2)
    assert required_interval(hull, "nqsw_asye", START, D(2026, 7, 5)) == Interval(months=1)
    # A session in week 6 whose week would end in the fortnightly phase: every day left
    # in the weekly phase is within a week of it, so the fortnightly rule decides.
    assert next_due_date(hull, "nqsw_asye", START, six_weeks - timedelta(days=7)) == six_weeks + timedelta(days=7)


def test_session_before_the_category_start_counts_from_the_start() -> None:
    # A returner's last session before the career break does not make them overdue on day one.
    assert next_due_date(PACKS["hull"], "returner", START, D(2024, 6, 1)) == START + timedelta(weeks=2)


def test_unknown_category_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown worker category 'student'"):
        next_due_date(PACKS["hull"], "student", START, None)


def test_required_interval_refuses_dates_before_the_start() -> None:
    with pytest.raises(ValueError, match="before the category start date"):
        required_interval(PACKS["hull"], "nqsw_asye", START, START - ONE_DAY)


# --- completion, case decisions, rebooking --------------------------------------------

COMPLETION_TABLE = [
    # "It is advised that the Supervision Record is completed within 5 working days of the supervision taking place."
    ("hull", D(2026, 4, 2), D(2026, 4, 13), "within 5 working days of the supervision taking place"),
    # "returned to the supervisee within one week of the supervision session."
    ("bury", D(2026, 4, 2), D(2026, 4, 9), "within one week of the supervision session"),
    # policy silent: baseline one week
    ("bcp", D(2026, 4, 2), D(2026, 4, 9), "policy silent: baseline one week"),
    ("darlington", D(2026, 4, 2), D(2026, 4, 9), "policy silent on a timescale: baseline one week"),
    ("school-trust", D(2026, 4, 2), D(2026, 4, 9), "policy silent on a timescale: baseline one week"),
]


@pytest.mark.parametrize(("pack", "session", "expected", "quote"), COMPLETION_TABLE)
def test_completion_deadline(pack: str, session: date, expected: date, quote: str) -> None:
    rule = PACKS[pack].completion.record
    assert quote in f"{rule.source} {rule.note}"
    assert completion_deadline(PACKS[pack], session, WorkingCalendar()) == expected


def test_completion_uses_the_pack_closure_days_by_default() -> None:
    hull = PACKS["hull"].model_copy(update={"closure_days": ClosureDays(dates=(D(2026, 4, 7),), note="test")})
    assert calendar_for(hull).closure_days == {D(2026, 4, 7)}
    assert completion_deadline(hull, D(2026, 4, 2)) == D(2026, 4, 14)


def test_case_decisions_bcp_within_one_week() -> None:
    # "All case work discussions, decisions and actions must be recorded on the child's record within a maximum of one week."
    assert case_decision_deadline(PACKS["bcp"], D(2026, 4, 2)) == D(2026, 4, 9)
    assert case_decision_deadline(PACKS["hull"], D(2026, 4, 2)) is None


def test_rebooking_hull_within_5_working_days() -> None:
    # "If for whatever reason supervision has to be cancelled, it should be re-scheduled to take place within 5 working days."
    # Fri 22 May 2026; Mon 25 May is the late May bank holiday.
    assert rebooking_deadline(PACKS["hull"], D(2026, 5, 22), "other") == D(2026, 6, 1)


def test_rebooking_hull_after_sickness_runs_from_the_return() -> None:
    # "...the session should be arranged to take place within 5 days of the individual's return to work."
    assert rebooking_deadline(PACKS["hull"], D(2026, 5, 22), "sickness", returned_on=D(2026, 6, 8)) == D(2026, 6, 13)
    with pytest.raises(ValueError, match="needs returned_on"):
        rebooking_deadline(PACKS["hull"], D(2026, 5, 22), "sickness")
    with pytest.raises(ValueError, match="before cancelled_on"):
        rebooking_deadline(PACKS["hull"], D(2026, 5, 22), "sickness", returned_on=D(2026, 5, 1))


@pytest.mark.parametrize("pack", ["bcp", "darlington", "bury", "school-trust"])
def test_rebooking_silent_policies_set_no_deadline(pack: str) -> None:
    assert "policy silent" in (PACKS[pack].rebooking.note or "")
    assert rebooking_deadline(PACKS[pack], D(2026, 5, 22), "other") is None
    assert rebooking_deadline(PACKS[pack], D(2026, 5, 22), "sickness", returned_on=D(2026, 6, 1)) is None


# --- leavers -------------------------------------------------------------------------

DESTRUCTION_TABLE = [
    # "...no less than 6 years after an employee has left the employment of the Authority."
    ("bcp", D(2026, 3, 31), D(2032, 3, 31)),
    # "retained for seven years after employment has ceased, following this time the file will be destroyed."
    ("hull", D(2026, 3, 31), D(2033, 3, 31)),
    ("hull", D(2024, 2, 29), D(2031, 2, 28)),
    # "retained by the organisation for two years after an employee leaves or retires."
    ("bury", D(2024, 2, 29), D(2026, 2, 28)),
    ("bury", D(2026, 2, 28), D(2028, 2, 28)),
    ("bcp", D(2022, 2, 28), D(2028, 2, 28)),
]


@pytest.mark.parametrize(("pack", "leaving", "expected"), DESTRUCTION_TABLE)
def test_destruction_date(pack: str, leaving: date, expected: date) -> None:
    assert destruction_date(PACKS[pack], leaving) == expected


@pytest.mark.parametrize("pack", ["darlington", "school-trust"])
def test_destruction_refused_without_a_period(pack: str) -> None:
    with pytest.raises(PolicyIncomplete, match="must set retention.years_after_employment_ends"):
        destruction_date(PACKS[pack], D(2026, 3, 31))


def test_archival_deadline() -> None:
    # "The file should be stored with Human Resources within one month of the supervisee's termination of employment"
    assert archival_deadline(PACKS["hull"], D(2026, 1, 31)) == D(2026, 2, 28)
    assert archival_deadline(PACKS["bcp"], D(2026, 1, 31)) is None


# --- agreements, cases, SARs -----------------------------------------------------------


@pytest.mark.parametrize("pack", sorted(PACKS))
def test_agreement_reviewed_within_twelve_months(pack: str) -> None:
    # e.g. bcp "As a minimum, the Individual Supervision Agreement should be reviewed annually."
    assert agreement_review_due(PACKS[pack], D(2026, 2, 28)) == D(2027, 2, 28)
    assert agreement_review_due(PACKS[pack], D(2028, 2, 29)) == D(2029, 2, 28)
    assert PACKS[pack].agreement.renegotiate_on_supervisor_change


CASE_TABLE = [
    # darlington: "Red Monthly", "Amber Bi monthly (every other month)", "Green Every 3 months",
    # "Green CWD Every 6 months"; "During the assessment process all cases should be supervised monthly"
    ("darlington", "red", D(2026, 1, 31), D(2026, 2, 28)),
    ("darlington", "amber", D(2026, 1, 31), D(2026, 3, 31)),
    ("darlington", "green", D(2026, 1, 31), D(2026, 4, 30)),
    ("darlington", "green_cwd", D(2026, 1, 31), D(2026, 7, 31)),
    ("darlington", "GREEN", D(2026, 1, 31), D(2026, 4, 30)),
    ("darlington", None, D(2026, 1, 31), D(2026, 2, 28)),
    # bcp: "all cases within a caseload should be discussed at least bi-monthly."
    ("bcp", None, D(2026, 1, 15), D(2026, 3, 15)),
    ("bcp", "red", D(2026, 1, 15), D(2026, 2, 15)),
    ("bcp", "private_fostering_language_student", D(2026, 1, 15), D(2026, 4, 15)),
    # bury: "The review should take place at 3 monthly intervals in most cases"
    ("bury", None, D(2026, 1, 15), D(2026, 4, 15)),
    ("bury", "disability", D(2026, 1, 15), D(2026, 7, 15)),
]


@pytest.mark.parametrize(("pack", "rag", "last", "expected"), CASE_TABLE)
def test_case_review_due(pack: str, rag: str | None, last: date, expected: date) -> None:
    assert case_review_due(PACKS[pack], rag, last) == expected


def test_green_needs_head_of_service_approval_at_darlington() -> None:
    # "If a case is Green the Head of Service will need to approve this status on Liquid logic."
    assert PACKS["darlington"].case_supervision.ratings["green"].approval_by == "head_of_service"


def test_unknown_case_rating_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match="known ratings: amber, green, green_cwd, red"):
        case_review_due(PACKS["darlington"], "purple", D(2026, 1, 1))


SAR_TABLE = [
    # UK GDPR Art. 12(3), counted as the ICO does: same date next month, last day of a short month,
    # next working day after a weekend or bank holiday.
    (D(2025, 1, 30), False, D(2025, 2, 28)),
    (D(2026, 9, 3), False, D(2026, 10, 5)),  # 3 Oct 2026 is a Saturday
    (D(2026, 1, 31), False, D(2026, 3, 2)),  # 28 Feb 2026 is a Saturday
    (D(2026, 11, 28), False, D(2026, 12, 29)),  # 28 Dec 2026: Boxing Day substitute
    (D(2026, 1, 31), True, D(2026, 4, 30)),  # "extended by two further months", counted from receipt
]


@pytest.mark.parametrize(("received", "extended", "expected"), SAR_TABLE)
def test_sar_deadline(received: date, extended: bool, expected: date) -> None:
    for pack in PACKS.values():
        assert sar_deadline(pack, received, extended=extended) == expected


def test_sar_deadline_ignores_organisation_closures() -> None:
    # A statutory limit rolls over weekends and public holidays only.
    closed = PACKS["hull"].model_copy(update={"closure_days": ClosureDays(dates=(D(2025, 2, 28),), note="test")})
    assert sar_deadline(closed, D(2025, 1, 30)) == D(2025, 2, 28)


# --- properties ------------------------------------------------------------------------

pack_names = st.sampled_from(sorted(PACKS))
categories = st.sampled_from(list(WorkerCategory))
starts = st.dates(min_value=D(2018, 1, 1), max_value=D(2032, 12, 31))
offsets = st.one_of(st.none(), st.integers(min_value=-400, max_value=900))


def _check_due(pack: PolicyPack, category: WorkerCategory, start: date, last: date | None) -> date:
    due = next_due_date(pack, category, start, last)
    anchor = start if last is None else max(last, start)
    assert due > anchor

    def allowed(day: date) -> bool:
        return day <= add_interval(anchor, required_interval(pack, category, start, day))

    # never later than the rule allows: every day up to the due date is within the
    # interval in force on that day, counted from the last session
    day = anchor + ONE_DAY
    while day <= due:
        assert allowed(day), f"{day} is already overdue before the due date {due}"
        day += ONE_DAY
    # never earlier than required: the day after the due date would be overdue
    assert not allowed(due + ONE_DAY)
    return due


@settings(max_examples=300, deadline=None)
@given(name=pack_names, category=categories, start=starts, offset=offsets)
def test_due_date_is_exactly_the_latest_allowed(name: str, category: WorkerCategory, start: date, offset: int | None) -> None:
    last = None if offset is None else start + timedelta(days=offset)
    due = _check_due(PACKS[name], category, start, last)
    # and within the tightest and loosest intervals of the category
    anchor = start if last is None else max(last, start)
    everies = [p.every for p in PACKS[name].frequency.for_category(category).phases]
    assert min(add_interval(anchor, e) for e in everies) <= due <= max(add_interval(anchor, e) for e in everies)


@settings(max_examples=100, deadline=None)
@given(name=pack_names, category=categories, start=starts, gaps=st.lists(st.integers(min_value=0, max_value=40), max_size=25))
def test_histories_kept_on_or_before_the_due_date_never_breach(name: str, category: WorkerCategory, start: date, gaps: list[int]) -> None:
    # A history where each session happens some days before its due date: the next due
    # date is always after the last session and sessions never go overdue.
    pack = PACKS[name]
    last: date | None = None
    for early in gaps:
        due = _check_due(pack, category, start, last)
        anchor = start if last is None else max(last, start)
        last = max(anchor + ONE_DAY, due - timedelta(days=early))


@settings(max_examples=200, deadline=None)
@given(name=pack_names, category=categories, start=starts, a=st.integers(0, 700), b=st.integers(0, 700))
def test_a_later_session_never_brings_the_due_date_forward(name: str, category: WorkerCategory, start: date, a: int, b: int) -> None:
    pack = PACKS[name]
    early, late = sorted((a, b))
    assert next_due_date(pack, category, start, start + timedelta(days=early)) <= next_due_date(
        pack, category, start, start + timedelta(days=late)
    )


# Mixed units on purpose: month lengths can reorder phase ends that look ordered in days.
intervals = st.one_of(
    st.builds(lambda n: Interval(days=n), st.integers(1, 60)),
    st.builds(lambda n: Interval(weeks=n), st.integers(1, 8)),
    st.builds(lambda n: Interval(months=n), st.integers(1, 14)),
    st.builds(lambda m, d: Interval(months=m, days=d), st.integers(1, 6), st.integers(1, 20)),
)


@st.composite
def frequency_rules(draw: st.DrawFn) -> FrequencyRule:
    n = draw(st.integers(1, 4))
    everies = sorted(draw(st.lists(intervals, min_size=n, max_size=n)), key=Interval.nominal_days)
    ends = sorted(draw(st.lists(intervals, min_size=n - 1, max_size=n - 1)), key=Interval.nominal_days)
    phases = [FrequencyPhase(every=e, until=u) for e, u in zip(everies, ends)] + [FrequencyPhase(every=everies[-1])]
    try:
        return FrequencyRule(phases=tuple(phases), note="generated")
    except ValidationError:
        assume(False)
        raise


@settings(max_examples=300, deadline=None)
@given(rule=frequency_rules(), start=starts, offset=offsets)
def test_due_date_is_exact_for_any_valid_rule(rule: FrequencyRule, start: date, offset: int | None) -> None:
    # Mixed units (days, weeks, months) where month lengths reorder phase ends.
    pack = PACKS["hull"].model_copy(update={"frequency": Frequency(default=rule)})
    last = None if offset is None else start + timedelta(days=offset)
    _check_due(pack, WorkerCategory.EXPERIENCED, start, last)


def test_month_phase_shorter_than_the_day_phase_before_it() -> None:
    # "every 30 days for 30 days, then monthly" from 1 Feb: 1 month (to 1 Mar) is shorter
    # than 30 days (to 3 Mar), so the first day of the monthly phase (3 Mar) is already
    # overdue and the session is due on 2 Mar, the last day of the first phase.
    rule = FrequencyRule(
        phases=(FrequencyPhase(every=Interval(days=30), until=Interval(days=30)), FrequencyPhase(every=Interval(months=1))),
        note="test",
    )
    pack = PACKS["hull"].model_copy(update={"frequency": Frequency(default=rule)})
    assert _check_due(pack, WorkerCategory.EXPERIENCED, D(2026, 2, 1), None) == D(2026, 3, 2)


@given(name=st.sampled_from(["bcp", "hull", "bury"]), leaving=st.dates(min_value=D(2000, 1, 1), max_value=D(2080, 12, 31)))
def test_destruction_never_before_leaving_plus_the_period(name: str, leaving: date) -> None:
    pack = PACKS[name]
    years = pack.retention_years_required()
    destroy = destruction_date(pack, leaving)
    assert destroy.year == leaving.year + years
    if (leaving.month, leaving.day) == (2, 29):
        assert (destroy.month, destroy.day) in {(2, 28), (2, 29)}
    else:
        assert (destroy.month, destroy.day) == (leaving.month, leaving.day)
        # the full period has run by the destruction date, and not a day sooner
        assert relativedelta(destroy, leaving).years == years
        assert relativedelta(destroy - ONE_DAY, leaving).years == years - 1


@given(received=st.dates(min_value=D(2020, 1, 1), max_value=D(2035, 12, 31)), extended=st.booleans())
def test_sar_deadline_is_a_working_day_not_before_the_calendar_month(received: date, extended: bool) -> None:
    due = sar_deadline(PACKS["bcp"], received, extended=extended)
    earliest = add_interval(received, Interval(months=3 if extended else 1))
    cal = WorkingCalendar()
    assert due >= earliest and cal.is_working_day(due)
    assert all(not cal.is_working_day(earliest + timedelta(days=i)) for i in range((due - earliest).days))


@given(session=st.dates(min_value=D(2020, 1, 1), max_value=D(2035, 12, 31)))
def test_hull_completion_is_five_working_days(session: date) -> None:
    cal = WorkingCalendar()
    due = completion_deadline(PACKS["hull"], session, cal)
    assert cal.working_days_between(session, due) == 5 and cal.is_working_day(due)


def test_bcp_overseas_frequency_eases_only_on_the_days_of_the_decisions() -> None:
    # "every two weeks, increased to every three weeks and then monthly if the worker is meeting the required
    # standard of practice": each easing is a decision; its day ends the phase before it.
    bcp = PACKS["bcp"]
    first, second = D(2026, 4, 20), D(2026, 8, 3)
    assert required_interval(bcp, "overseas_recruited", START, D(2026, 4, 19), (first,)) == Interval(weeks=2)
    assert required_interval(bcp, "overseas_recruited", START, first, (first,)) == Interval(weeks=3)
    assert required_interval(bcp, "overseas_recruited", START, second, (first, second)) == Interval(months=1)
    assert next_due_date(bcp, "overseas_recruited", START, D(2026, 4, 20), (first,)) == D(2026, 5, 11)
    assert next_due_date(bcp, "overseas_recruited", START, D(2026, 8, 3), (first, second)) == D(2026, 9, 3)
    # a decision under a rule that eases by date changes nothing
    assert next_due_date(bcp, "nqsw_asye", START, D(2026, 9, 7), (first,)) == D(2026, 9, 21)
