"""The compliance evaluation on its own (domain/compliance.py): facts in, due dates and reasons out, no database.

Properties: the dashboard's due date never lets a day pass that the pack's rule forbids and never asks for a
session before the rule requires one; the month's "required" count is what any compliant history needs at least,
and is enough. Working days: bank holidays (Easter, late May, Christmas) and an organisation's closure day.
"""

from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.compliance import (
    AgreementFact, Cancellation, CaseFact, OpenRecord, WorkerFacts, evaluate, frequency_status, month_frequency,
    rule_in_force,
)
from domain.policy import ClosureDays, PolicyPack, WorkerCategory, add_interval
from domain.schedule_rules import next_due_date, required_interval
from infrastructure.policy_packs import load_all_packs

PACKS: dict[str, PolicyPack] = load_all_packs()
D = date
ONE_DAY = timedelta(days=1)


def facts(category: str = "experienced", start: date = D(2020, 1, 6), joined: date = D(2020, 1, 6),
          **kwargs) -> WorkerFacts:
    return WorkerFacts(worker_id="w", category=category, start_date=start, joined_on=joined, supervisor_id="s",
                       supervisor_since=joined, **kwargs)


def allowed(pack: PolicyPack, category: str, start: date, anchor: date, day: date) -> bool:
    """The rule itself: `day` is within the interval in force on that day, counted from the last session."""
    return day <= add_interval(anchor, required_interval(pack, category, start, day))


# --- properties ------------------------------------------------------------------------------------------------

pack_names = st.sampled_from(sorted(PACKS))
categories = st.sampled_from([c.value for c in WorkerCategory])
starts = st.dates(min_value=D(2019, 1, 1), max_value=D(2030, 12, 31))


@settings(max_examples=250, deadline=None)
@given(name=pack_names, category=categories, start=starts, joined_after=st.integers(0, 400),
       gaps=st.lists(st.integers(1, 60), max_size=12), asked_after=st.integers(0, 120))
def test_dashboard_due_date_is_exactly_what_the_rule_requires(name, category, start, joined_after, gaps, asked_after):
    pack = PACKS[name]
    joined = start + timedelta(days=joined_after)
    history, day = [], start
    for gap in gaps:
        day += timedelta(days=gap)
        history.append(day)
    last = history[-1] if history else None
    as_of = (last or joined) + timedelta(days=asked_after)
    status = frequency_status(pack, facts(category, start, joined, last_session=last), as_of)
    anchor = last if last is not None else max(start, joined)
    # the oracle
    assert status.due == next_due_date(pack, category, start, anchor)
    # never violates the rule: every day up to the due date is allowed ...
    d = max(anchor, start) + ONE_DAY
    while d <= status.due:
        assert allowed(pack, category, start, max(anchor, start), d), f"{d} already breaches the rule"
        d += ONE_DAY
    # ... and never asks for more than it requires: the day after is the first breach
    assert not allowed(pack, category, start, max(anchor, start), status.due + ONE_DAY)
    assert status.days_overdue == max(0, (as_of - status.due).days)
    assert (status.status == "overdue") == (as_of > status.due)


@st.composite
def month_histories(draw):
    name = draw(pack_names)
    category = draw(categories)
    start = draw(st.dates(min_value=D(2024, 1, 1), max_value=D(2026, 6, 30)))
    first = D(2026, draw(st.integers(7, 12)), 1)
    last = add_interval(first, PACKS[name].frequency.default.phases[0].every) - ONE_DAY  # the month's last day
    last_before = draw(st.one_of(st.none(), st.dates(min_value=start, max_value=first - ONE_DAY)))
    held = draw(st.lists(st.dates(min_value=first, max_value=last), max_size=8))
    return PACKS[name], category, start, last_before, sorted(set(held)), first, last


@settings(max_examples=250, deadline=None)
@given(case=month_histories())
def test_the_month_never_asks_for_more_sessions_than_a_compliant_history_needs(case):
    pack, category, start, last_before, held, first, last = case
    result = month_frequency(pack, category, start, start, last_before, held, first, last)
    if result.overdue_days == 0:
        assert result.held >= result.required  # any history that kept to the rule had at least `required`


@settings(max_examples=250, deadline=None)
@given(case=month_histories())
def test_the_required_sessions_on_their_latest_days_are_enough(case):
    pack, category, start, last_before, _, first, last = case
    anchor = last_before or start
    greedy, due = [], next_due_date(pack, category, start, anchor)
    while due <= last:
        greedy.append(max(due, first))
        last_due, due = due, next_due_date(pack, category, start, greedy[-1])
    result = month_frequency(pack, category, start, start, last_before, greedy, first, last)
    assert result.required == len(greedy) == result.held
    assert result.overdue_days == 0 and result.met
    if greedy:  # and one fewer is not enough: without the last of them, the month ends overdue
        short = month_frequency(pack, category, start, start, last_before, greedy[:-1], first, last)
        assert not short.met
        # overdue from the day after it was due (or from the 1st) to the month's end
        assert short.overdue_days == (last - max(last_due, first - ONE_DAY)).days


# --- worked examples, pack by pack (the policy's words in each row) ------------------------------------------------

EXAMPLES = [
    # pack, category, start, last session, as of, expected due, rule phase shown, quote from the pack
    ("hull", "nqsw_asye", D(2026, 1, 5), D(2026, 1, 26), D(2026, 2, 5), D(2026, 2, 2), "weekly phase",
     "weekly individual supervision for the first six weeks of employment"),
    ("hull", "nqsw_asye", D(2026, 1, 5), D(2026, 3, 2), D(2026, 3, 10), D(2026, 3, 16), "fortnightly phase",
     "then fortnightly up to six months"),
    ("hull", "returner", D(2026, 1, 5), D(2026, 2, 5), D(2026, 2, 20), D(2026, 2, 19), "fortnightly phase",
     "fortnightly for the first 3 months and then a minimum of monthly"),
    ("bcp", "nqsw_asye", D(2026, 3, 2), D(2026, 10, 5), D(2026, 11, 24), D(2026, 10, 19), "fortnightly phase",
     "two weekly for up to twelve months"),
    ("bcp", "overseas_recruited", D(2026, 6, 1), D(2026, 7, 20), D(2026, 8, 1), D(2026, 8, 3),
     "every 2 weeks (bcp: until a decision to reduce it to every 3 weeks", "every two weeks"),
    # no timer: three months on, still every two weeks until a step-down decision is recorded
    ("bcp", "overseas_recruited", D(2026, 6, 1), D(2026, 9, 7), D(2026, 10, 1), D(2026, 9, 21),
     "every 2 weeks (bcp: until a decision", "increased to every three weeks"),
    ("darlington", "nqsw_asye", D(2026, 1, 5), D(2026, 5, 4), D(2026, 5, 20), D(2026, 5, 18), "fortnightly phase",
     "then fortnightly until 6 months"),
    ("darlington", "nqsw_asye", D(2026, 1, 5), D(2026, 7, 6), D(2026, 8, 1), D(2026, 8, 6), "monthly phase",
     "monthly thereafter"),
    ("bury", "experienced", D(2020, 1, 6), D(2026, 3, 10), D(2026, 4, 13), D(2026, 4, 10), "monthly",
     "should take place every month"),
    ("school-trust", "volunteer", D(2020, 1, 6), D(2026, 3, 10), D(2026, 4, 1), D(2026, 4, 10), "monthly",
     "policy silent on a number: baseline monthly"),
]


def test_worked_examples_from_the_policies():
    for name, category, start, last, as_of, expected, phase, quote in EXAMPLES:
        pack = PACKS[name]
        rule = pack.frequency.for_category(WorkerCategory(category))
        assert quote in f"{rule.source} {rule.note}", f"{name} {category}: the quote must be the pack's own words"
        status = frequency_status(pack, facts(category, start, start, last_session=last), as_of)
        assert status.due == expected, (name, category)
        assert phase in status.rule and name in status.rule
        assert status.source == (rule.source or rule.note)


# --- working days: bank holidays and closure days in the compliance path ---------------------------------------------


def record_issue(pack: PolicyPack, session: date, as_of: date) -> list:
    result = evaluate(pack, facts(open_records=(OpenRecord("r1", session, "awaiting both signatures"),),
                                  last_session=session), as_of)
    return [i for i in result.issues if i.kind == "record_unsigned"]


def test_hull_record_deadline_across_easter():
    # hull: "It is advised that the Supervision Record is completed within 5 working days of the supervision
    # taking place."  Thu 2 Apr 2026; Good Friday 3 Apr and Easter Monday 6 Apr are bank holidays: due Mon 13 Apr.
    assert record_issue(PACKS["hull"], D(2026, 4, 2), D(2026, 4, 13)) == []
    [late] = record_issue(PACKS["hull"], D(2026, 4, 2), D(2026, 4, 14))
    assert (late.due, late.days_overdue) == (D(2026, 4, 13), 1)
    assert "5 working days" in late.text


def test_hull_record_deadline_across_christmas():
    # Wed 23 Dec 2026: 24 Dec, then Christmas Day, Boxing Day's substitute (Mon 28 Dec), New Year's Day: due 4 Jan.
    assert record_issue(PACKS["hull"], D(2026, 12, 23), D(2027, 1, 4)) == []
    [late] = record_issue(PACKS["hull"], D(2026, 12, 23), D(2027, 1, 5))
    assert late.due == D(2027, 1, 4)


def test_bury_record_deadline_is_a_calendar_week_whatever_the_holidays():
    # bury: "returned to the supervisee within one week of the supervision session."
    [late] = record_issue(PACKS["bury"], D(2026, 4, 2), D(2026, 4, 10))
    assert late.due == D(2026, 4, 9)


def test_an_organisation_closure_day_moves_the_deadline():
    closed = PACKS["hull"].model_copy(update={"closure_days": ClosureDays(dates=(D(2026, 4, 7),), note="test")})
    assert record_issue(closed, D(2026, 4, 2), D(2026, 4, 14)) == []
    assert record_issue(closed, D(2026, 4, 2), D(2026, 4, 15))[0].due == D(2026, 4, 14)


def cancellation_issues(pack: PolicyPack, c: Cancellation, as_of: date) -> list:
    result = evaluate(pack, facts(cancellations=(c,), last_session=D(2026, 5, 1)), as_of)
    return [i for i in result.issues if i.kind.startswith("cancellation") or i.kind == "awaiting_return"]


def test_hull_rebooking_across_the_late_may_bank_holiday():
    # hull: "If for whatever reason supervision has to be cancelled, it should be re-scheduled to take place
    # within 5 working days."  Fri 22 May 2026, Mon 25 May a bank holiday: by Mon 1 Jun.
    c = Cancellation("s1", D(2026, 5, 22), "operational", "supervisor")
    [pending] = cancellation_issues(PACKS["hull"], c, D(2026, 6, 1))
    assert (pending.severity, pending.due) == ("info", D(2026, 6, 1))
    [late] = cancellation_issues(PACKS["hull"], c, D(2026, 6, 2))
    assert (late.severity, late.days_overdue) == ("overdue", 1)
    rebooked_late = Cancellation("s1", D(2026, 5, 22), "operational", "supervisor", rebooked_for=D(2026, 6, 3))
    assert cancellation_issues(PACKS["hull"], rebooked_late, D(2026, 6, 2))[0].kind == "cancellation_rebooked_late"
    held_in_time = Cancellation("s1", D(2026, 5, 22), "operational", "supervisor", next_held_on=D(2026, 5, 29))
    assert cancellation_issues(PACKS["hull"], held_in_time, D(2026, 6, 20)) == []


def test_hull_rebooking_after_sickness_counts_calendar_days_from_the_return():
    # hull: "...within 5 days of the individual's return to work." ('5 days', read as calendar days)
    waiting = Cancellation("s1", D(2026, 5, 22), "sickness", "supervisee")
    assert cancellation_issues(PACKS["hull"], waiting, D(2026, 7, 1))[0].kind == "awaiting_return"
    back = Cancellation("s1", D(2026, 5, 22), "sickness", "supervisee", returned_on=D(2026, 6, 8))
    assert cancellation_issues(PACKS["hull"], back, D(2026, 6, 13))[0].severity == "info"
    assert cancellation_issues(PACKS["hull"], back, D(2026, 6, 14))[0].due == D(2026, 6, 13)


def test_silent_packs_report_an_unrebooked_cancellation_without_a_deadline():
    c = Cancellation("s1", D(2026, 5, 22), "operational", "supervisor")
    [info] = cancellation_issues(PACKS["bcp"], c, D(2026, 9, 1))
    assert info.severity == "info" and "bcp sets no rebooking deadline" in info.text


# --- agreements and cases ------------------------------------------------------------------------------------------


def agreement_issues(pack: PolicyPack, *agreements: AgreementFact, as_of: date = D(2026, 11, 24)) -> list:
    return [i for i in evaluate(pack, facts(agreements=agreements, last_session=as_of), as_of).issues
            if i.kind.startswith("agreement")]


def test_agreement_review_due_a_year_after_it_was_agreed_or_last_reviewed():
    # bcp: "As a minimum, the Individual Supervision Agreement should be reviewed annually."
    agreed = AgreementFact("a", "s", D(2025, 11, 3), in_force_on=D(2025, 11, 3))
    [overdue] = agreement_issues(PACKS["bcp"], agreed)
    assert (overdue.severity, overdue.due, overdue.days_overdue) == ("overdue", D(2026, 11, 3), 21)
    reviewed = AgreementFact("a", "s", D(2025, 11, 3), in_force_on=D(2025, 11, 3), last_reviewed_on=D(2026, 10, 1))
    assert agreement_issues(PACKS["bcp"], reviewed) == []


def test_after_a_transfer_the_agreement_must_be_renegotiated():
    # bury: "should be re-negotiated if the supervisor changes."
    old = AgreementFact("a", "previous", D(2025, 1, 6), in_force_on=D(2025, 1, 6), lapsed_on=D(2026, 9, 1),
                        lapse_reason="supervisor_changed")
    [lapsed] = agreement_issues(PACKS["bury"], old)
    assert lapsed.kind == "agreement_lapsed" and "re-negotiate" in lapsed.text
    assert agreement_issues(PACKS["bury"])[0].kind == "agreement_missing"
    unsigned = AgreementFact("b", "s", D(2026, 11, 2), awaiting=("supervisee",))
    assert "awaits the signature of the supervisee" in agreement_issues(PACKS["bury"], old, unsigned)[0].text


def test_darlington_case_frequency_by_rag_rating():
    # darlington: "Red Monthly", "Amber Bi monthly (every other month)", "Green Every 3 months",
    # "Green CWD Every 6 months or 26 weeks if a child with disability"
    darlington = PACKS["darlington"]
    cases = (CaseFact("r", D(2026, 1, 1), "red", False, D(2026, 9, 30), "A.B."),
             CaseFact("a", D(2026, 1, 1), "amber", False, D(2026, 9, 30), "C.D."),
             CaseFact("g", D(2026, 1, 1), "green", True, D(2026, 8, 31), "E.F."),
             CaseFact("c", D(2026, 1, 1), "green_cwd", True, D(2026, 5, 31), "G.H."),
             CaseFact("u", D(2026, 1, 1), "green", False, D(2026, 11, 1), "J.K."))
    issues = evaluate(darlington, facts(cases=cases, last_session=D(2026, 11, 20)), D(2026, 12, 1)).issues
    overdue = {i.ref: i.due for i in issues if i.kind == "case_overdue"}
    assert overdue == {"r": D(2026, 10, 30), "a": D(2026, 11, 30), "g": D(2026, 11, 30), "c": D(2026, 11, 30)}
    [unapproved] = [i for i in issues if i.kind == "case_rating_unapproved"]
    assert unapproved.ref == "u" and "head of service" in unapproved.text


def test_a_rating_another_pack_does_not_know_falls_back_to_its_unrated_interval():
    red = CaseFact("r", D(2026, 1, 1), "red", False, D(2026, 9, 30), "A.B.")
    [issue] = [i for i in evaluate(PACKS["bury"], facts(cases=(red,), last_session=D(2026, 12, 1)),
                                   D(2027, 1, 5)).issues if i.kind == "case_overdue"]
    assert "not a bury rating" in issue.text and issue.due == D(2026, 12, 30)  # "3 monthly intervals"


# --- whose rule the view quotes -----------------------------------------------------------------------------------


def test_a_value_no_policy_sentence_gives_is_shown_as_the_organisations_setting_not_the_councils():
    # darlington: "The recording of supervision sessions is the responsibility of the supervisor." (no timescale)
    # school-trust: "Records of supervision will be signed off and dated by supervisor and supervisee." (none)
    for name in ("darlington", "school-trust"):
        [late] = record_issue(PACKS[name], D(2026, 4, 2), D(2026, 4, 10))
        assert f"({name}'s own setting: one week)" in late.text and f"({name}: one week)" not in late.text
    # bury: "returned to the supervisee within one week of the supervision session." is bury's own rule
    [late] = record_issue(PACKS["bury"], D(2026, 4, 2), D(2026, 4, 10))
    assert "(bury: one week)" in late.text
    # hull names no review period for the contract ("Establish the relationship through a written contract.")
    agreed = AgreementFact("a", "s", D(2025, 11, 3), in_force_on=D(2025, 11, 3))
    [overdue] = agreement_issues(PACKS["hull"], agreed)
    assert "hull's own setting: reviewed annually" in overdue.text and "(hull: reviewed annually" not in overdue.text
    [overdue] = agreement_issues(PACKS["bcp"], agreed)  # bcp: "should be reviewed annually"
    assert "bcp: reviewed annually" in overdue.text


def test_a_frequency_the_policy_does_not_give_is_the_organisations_setting():
    # bury: "The frequency increases for newly qualified social workers ..." gives no pattern (the pack's note)
    rule, source = rule_in_force(PACKS["bury"], "nqsw_asye", D(2026, 1, 5), D(2026, 1, 20))
    assert "(bury: weekly" not in rule
    assert "(bury's own setting: weekly for the first 6 weeks)" in rule
    assert source == PACKS["bury"].frequency.nqsw_asye.source
    rule, _ = rule_in_force(PACKS["hull"], "nqsw_asye", D(2026, 1, 5), D(2026, 1, 20))
    assert "(hull: weekly for the first 6 weeks)" in rule
