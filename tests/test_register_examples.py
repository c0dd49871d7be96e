"""One worked example per enforced register row, on the domain alone, each with the policy's words.

The expected dates are read from the quoted sentence (or, where the policy is silent, from the pack's own
note), not computed from the pack: a pack edit that changes what is due fails here.
"""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from domain.anonymisation import NotAnonymous, Screening
from domain.compliance import OpenRecord, WorkerFacts, evaluate
from domain.session_length import judge_length, judge_week, last_full_week
from domain.policy import WorkerCategory, add_interval, rules
from domain.schedule_rules import (agreement_review_due, archival_deadline, case_review_due, completion_deadline,
                                   destruction_date, next_due_date)
from domain.sessions import SupervisionSession
from domain.supervision_record import SupervisionRecord
from infrastructure.name_lexicon import default_lexicon
from infrastructure.policy_packs import load_all_packs
from infrastructure.rule_register import SEEDS_DIR, build

PACKS = load_all_packs()
D = date
START = D(2026, 1, 5)  # a Monday: each category's regime starts here
MONTHLY = [(D(2026, 3, 10), D(2026, 4, 10))]

# (pack, category): [(last session, latest next session)], from the sentence quoted in the comment.
FREQUENCY = {
    # bcp: "weekly for the first six weeks of practice ... two weekly for up to twelve months ... monthly"
    ("bcp", "nqsw_asye"): [(D(2026, 1, 12), D(2026, 1, 19)), (D(2026, 6, 1), D(2026, 6, 15)),
                           (D(2027, 2, 1), D(2027, 3, 1))],
    # bcp: "every two weeks, increased to every three weeks and then monthly if the worker is meeting the
    # required standard of practice": no decision recorded, so every two weeks (decisions: test_step_down_*)
    ("bcp", "overseas_recruited"): [(D(2026, 2, 2), D(2026, 2, 16)), (D(2026, 5, 4), D(2026, 5, 18)),
                                    (D(2026, 9, 1), D(2026, 9, 15))],
    # hull: "weekly individual supervision for the first six weeks of employment, then fortnightly up to six
    # months and monthly thereafter."
    ("hull", "nqsw_asye"): [(D(2026, 1, 12), D(2026, 1, 19)), (D(2026, 3, 2), D(2026, 3, 16)),
                            (D(2026, 9, 1), D(2026, 10, 1))],
    # hull: "fortnightly for the first 3 months and then a minimum of monthly as for other staff."
    ("hull", "returner"): [(D(2026, 2, 2), D(2026, 2, 16)), (D(2026, 6, 1), D(2026, 7, 1))],
    ("hull", "role_changer"): [(D(2026, 2, 2), D(2026, 2, 16)), (D(2026, 6, 1), D(2026, 7, 1))],
    # hull: "Social Workers in Training are required to have 1.5 hours of individual supervision per week."
    ("hull", "trainee"): [(D(2026, 2, 2), D(2026, 2, 9)), (D(2026, 9, 1), D(2026, 9, 8))],
    # darlington: "As a minimum weekly for the first 6 weeks then fortnightly until 6 months, monthly thereafter."
    ("darlington", "nqsw_asye"): [(D(2026, 1, 12), D(2026, 1, 19)), (D(2026, 3, 2), D(2026, 3, 16)),
                                  (D(2026, 9, 1), D(2026, 10, 1))],
    # bury: "The frequency increases for newly qualified social workers" (pattern: the pack's note)
    ("bury", "nqsw_asye"): [(D(2026, 1, 12), D(2026, 1, 19)), (D(2026, 3, 2), D(2026, 3, 16)),
                            (D(2026, 9, 1), D(2026, 10, 1))],
}

# pack: latest completion of a record of a session on Tuesday 10 March 2026
COMPLETION = {
    "bcp": D(2026, 3, 17),  # organisation's setting: one week
    "hull": D(2026, 3, 17),  # "within 5 working days of the supervision taking place"
    "darlington": D(2026, 3, 17),  # organisation's setting: one week
    "bury": D(2026, 3, 17),  # "returned to the supervisee within one week of the supervision session"
    "school-trust": D(2026, 3, 17),  # organisation's setting: one week
}

# (pack, rating or None): next discussion after one on 15 January 2026
CASES = {
    ("bcp", None): D(2026, 3, 15),  # "all cases within a caseload should be discussed at least bi-monthly."
    ("bcp", "red"): D(2026, 2, 15),  # "discussed at each monthly supervision if there are: Safeguarding concerns"
    ("bcp", "private_fostering_mainstream"): D(2026, 2, 15),  # "supervision should be monthly."
    ("bcp", "private_fostering_language_student"): D(2026, 4, 15),  # "supervision can be every three months."
    ("hull", None): D(2026, 2, 15),  # organisation's setting: monthly ("regular oversight")
    ("darlington", None): D(2026, 2, 15),  # "During the assessment process all cases should be supervised monthly"
    ("darlington", "red"): D(2026, 2, 15),  # "Red Monthly"
    ("darlington", "amber"): D(2026, 3, 15),  # "Amber Bi monthly (every other month)"
    ("darlington", "green"): D(2026, 4, 15),  # "Green Every 3 months"
    ("darlington", "green_cwd"): D(2026, 7, 15),  # "Green CWD Every 6 months"
    ("bury", None): D(2026, 4, 15),  # "The review should take place at 3 monthly intervals in most cases"
    ("bury", "child_protection"): D(2026, 2, 15),  # "should usually be discussed at each monthly supervision"
    ("bury", "settled"): D(2026, 4, 15),  # "can be discussed on a three monthly basis."
    ("bury", "disability"): D(2026, 7, 15),  # "The review timescale for any case should not exceed 6 months."
    ("school-trust", None): D(2026, 2, 15),  # organisation's setting: monthly
}


def _frequency_cases() -> list[tuple[str, str, date, date]]:
    cases = []
    for name in sorted(PACKS):
        for category in WorkerCategory:
            for last, due in FREQUENCY.get((name, category.value), MONTHLY):
                cases.append((name, category.value, last, due))
    return cases


@pytest.mark.parametrize(("pack", "category", "last", "due"), _frequency_cases())
def test_frequency_worked_example(pack: str, category: str, last: date, due: date) -> None:
    assert next_due_date(PACKS[pack], category, START, last) == due


@pytest.mark.parametrize("pack", sorted(PACKS))
def test_default_frequency_worked_example(pack: str) -> None:
    # every pack's fallback for a category it leaves out is monthly: bcp "each monthly supervision", hull "as a
    # minimum once a month", darlington "practitioners Monthly", bury "every month", school-trust: its setting
    left_out = PACKS[pack].frequency.model_copy(update={"returner": None})
    assert left_out.for_category(WorkerCategory.RETURNER) is PACKS[pack].frequency.default
    assert add_interval(D(2026, 3, 10), PACKS[pack].frequency.default.phases[0].every) == D(2026, 4, 10)


@pytest.mark.parametrize("pack", sorted(COMPLETION))
def test_record_completion_worked_example(pack: str) -> None:
    from domain.schedule_rules import calendar_for

    assert completion_deadline(PACKS[pack], D(2026, 3, 10), calendar_for(PACKS[pack])) == COMPLETION[pack]


def test_retention_worked_example() -> None:
    leaving = D(2026, 3, 31)
    # bcp: "no less than 6 years after an employee has left"; hull: "retained for seven years after employment
    # has ceased"; bury: "retained by the organisation for two years after an employee leaves or retires."
    assert destruction_date(PACKS["bcp"], leaving) == D(2032, 3, 31)
    assert destruction_date(PACKS["hull"], leaving) == D(2033, 3, 31)
    assert destruction_date(PACKS["bury"], leaving) == D(2028, 3, 31)


def test_archival_worked_example() -> None:
    # hull: "The file should be stored with Human Resources within one month of the supervisee's termination"
    assert archival_deadline(PACKS["hull"], D(2026, 3, 31)) == D(2026, 4, 30)


@pytest.mark.parametrize("pack", sorted(PACKS))
def test_agreement_review_worked_example(pack: str) -> None:
    # bcp "reviewed annually", bury "reviewed annually", school-trust "agreed and reviewed annually";
    # hull and darlington name no period: the organisation's setting is also a year
    assert agreement_review_due(PACKS[pack], D(2026, 3, 10)) == D(2027, 3, 10)


@pytest.mark.parametrize(("pack", "rating"), sorted(CASES, key=str))
def test_case_rating_worked_example(pack: str, rating: str | None) -> None:
    assert case_review_due(PACKS[pack], rating, D(2026, 1, 15)) == CASES[(pack, rating)]


def test_session_length_worked_example() -> None:
    # hull: "All supervision sessions are likely to last between one and 2 hours." (read as 60 minutes);
    # bury: "last for at least one and a half hours"
    at = datetime(2026, 5, 22, 16, tzinfo=timezone.utc)
    for pack, minutes, shortfall in (("hull", 45, 15), ("bury", 60, 30)):
        session = SupervisionSession.schedule(supervisee_id="w", supervisor_id="s", starts_at=at,
                                              planned_minutes=90, actor="s", timestamp=at)
        session.hold(actual_minutes=minutes, pack=PACKS[pack], actor="s", timestamp=at)
        assert session.shortfall_minutes == shortfall


@pytest.mark.parametrize("pack", ["hull", "school-trust"])
def test_anonymisation_confirm_worked_example(pack: str) -> None:
    # hull and school-trust are silent: the organisation's setting is to keep a name only on confirmation
    screening = Screening(default_lexicon(), PACKS[pack].anonymisation.names)
    content = {"session_date": "2026-05-18", "attendees": ["A", "B"], "discussion": "Noah's school called."}
    at = datetime(2026, 5, 18, 9, tzinfo=timezone.utc)
    with pytest.raises(NotAnonymous):
        SupervisionRecord.draft(supervisee_id="w", supervisor_id="s", content=content, actor="s", timestamp=at,
                                screening=screening)
    record = SupervisionRecord.draft(supervisee_id="w", supervisor_id="s", content=content, actor="s",
                                     timestamp=at, screening=screening, confirmed_anonymous=True)
    assert record.anonymity_confirmed


@pytest.mark.skipif(not SEEDS_DIR.is_dir(), reason="seed policies not present on this machine")
def test_every_enforced_pack_row_of_these_kinds_has_a_worked_example_here() -> None:
    covered = {(p, f"frequency.{c}") for p, c, _, _ in _frequency_cases()} | {(p, "frequency.default") for p in PACKS}
    covered |= {(p, "completion.record") for p in COMPLETION}
    covered |= {("bcp", "retention"), ("hull", "retention"), ("bury", "retention"), ("hull", "archival")}
    covered |= {(p, "agreement") for p in PACKS}
    covered |= {(p, "case_supervision.unrated" if r is None else f"case_supervision.ratings.{r}") for p, r in CASES}
    covered |= {("hull", "minimum_session_minutes"), ("bury", "minimum_session_minutes")}
    covered |= {(p, "completion.record_ends") for p in RECORD_ENDS}
    covered |= {(p, f"minimum_session_minutes.{k}") for p in ("hull", "bury") for k in ("short_session", "maximum")}
    covered |= {("bcp", "frequency.overseas_recruited.step_down")}  # tests/test_observation_examples.py
    # tests/test_record_classes.py
    covered |= {(p, f"record_classes.case_supervision{k}") for p in ("bcp", "bury") for k in ("", ".retention")}
    covered |= {("bcp", "completion.case_decisions")}
    kinds = ("frequency.", "completion.record", "completion.case_decisions", "retention", "archival", "agreement",
             "case_supervision.", "minimum_session_minutes", "record_classes.")
    enforced = {(r.pack, r.key) for r in build() if r.status == "enforced" and r.key.startswith(kinds)}
    assert enforced <= covered, sorted(enforced - covered)
    keys = {(name, key) for name, pack in PACKS.items() for key, _ in rules(pack)}
    assert covered <= keys, sorted(covered - keys)  # every example is of a real pack key


# pack: (allowed to read an archived file under a grant, refused), from who the policy says may see records
ARCHIVE = {
    # "records may need to be accessed by senior managers ..., investigating officers ... or inspectors"
    "bcp": ({"inspector", "investigating_officer"}, {"qa"}),
    # "Inspectors (i.e. Ofsted); Workforce Development Staff (i.e. for audit and quality assurance);
    # Investigating Officers (i.e. for disciplinary investigation)."
    "hull": ({"inspector", "investigating_officer", "qa"}, set()),
    # "Senior managers ... Investigating officers ... Inspectors ... Quality staff"
    "darlington": ({"inspector", "investigating_officer", "qa"}, set()),
    # "checked by senior managers ...; they can be viewed by inspectors or others for the purpose of audit"
    "bury": ({"inspector", "qa"}, {"investigating_officer"}),
    # "They will be subject to inspection and audit."
    "school-trust": ({"inspector", "qa"}, {"investigating_officer"}),
}


@pytest.mark.parametrize("pack", sorted(ARCHIVE))
def test_archive_access_worked_example(pack: str) -> None:
    from datetime import timedelta

    from domain.authorisation import GrantTerms, Reader, Relationships, Role, ScopeKind, decide_read

    at = datetime(2026, 11, 24, tzinfo=timezone.utc)
    archived = Relationships("w1", None, None, ("s1",), "archived")
    roles = frozenset(r.value for r in PACKS[pack].archive_access_roles)
    category = {"inspector": "inspection", "investigating_officer": "investigation", "qa": "qa_audit"}
    allowed, refused = ARCHIVE[pack]
    for role in allowed | refused:
        terms = GrantTerms(grant_id="g", grantee_user_id="u", category=category[role], purpose="p",
                           scope_kind=ScopeKind.WORKER_FILE, scope_id="w1", expires_at=at + timedelta(days=1),
                           revoked_at=None)
        decision = decide_read(Reader("u", Role(role)), archived, [terms], at, archive_roles=roles)
        assert decision.allowed == (role in allowed), (pack, role, decision.reason)


# pack: which step ends the completion deadline of a record of a session on Tuesday 10 March 2026, shown by a
# record shared with the supervisee on 12 March and not yet signed, as of 30 March (long after every deadline)
RECORD_ENDS = {
    "bury": "shared",  # "completed by the supervisor and returned to the supervisee within one week"
    "hull": "shared",  # "completed, agreed and signed by the supervisee": completed comes first
    "bcp": "signed_by_both",  # organisation's setting: "Both parties should receive a signed copy of the record"
    "darlington": "signed_by_both",  # organisation's setting
    "school-trust": "signed_by_both",  # organisation's setting
}


@pytest.mark.parametrize("pack", sorted(RECORD_ENDS))
def test_record_deadline_end_worked_example(pack: str) -> None:
    shared = OpenRecord("r1", D(2026, 3, 10), "awaiting both signatures", "s", shared_on=D(2026, 3, 12))
    facts = WorkerFacts("w", "experienced", START, START, "s", START, last_session=D(2026, 3, 10),
                        open_records=(shared,))
    issues = {i.kind: i for i in evaluate(PACKS[pack], facts, D(2026, 3, 30)).issues}
    if RECORD_ENDS[pack] == "shared":
        assert "record_unsigned" not in issues and issues["record_awaiting_signatures"].severity == "info"
        not_shared = WorkerFacts("w", "experienced", START, START, "s", START, last_session=D(2026, 3, 10),
                                 open_records=(OpenRecord("r1", D(2026, 3, 10), "awaiting both signatures", "s"),))
        late = {i.kind: i for i in evaluate(PACKS[pack], not_shared, D(2026, 3, 30)).issues}["record_unsigned"]
        assert late.due == COMPLETION[pack] and "not yet shared with the supervisee" in late.text
    else:
        assert issues["record_unsigned"].due == COMPLETION[pack] and "not signed by both" in issues["record_unsigned"].text


def test_short_session_worked_example() -> None:
    # bury: "last for at least one and a half hours" - its own setting: a shorter session counts, and needs
    # attention ("the supervision session may be shorter" for a part-timer, which the ledger does not know);
    # hull: "likely to last between one and 2 hours" - descriptive: the shortfall is information
    ten_minutes = judge_length(PACKS["bury"], 10)
    assert (ten_minutes.counts, ten_minutes.severity) == (True, "warning") and "80 min short" in ten_minutes.text
    assert "bury's own setting" in ten_minutes.text
    assert judge_length(PACKS["bury"], 90).severity is None
    assert (judge_length(PACKS["hull"], 45).counts, judge_length(PACKS["hull"], 45).severity) == (True, "info")
    # a pack that says a short session does not count: the 10 minutes are no session at all
    rule = PACKS["bury"].minimum_session_minutes
    strict = PACKS["bury"].model_copy(update={"minimum_session_minutes": rule.model_copy(update={
        "short_session": rule.short_session.model_copy(update={"counts": "does_not_count"})})})
    assert judge_length(strict, 10).counts is False and judge_length(strict, 90).counts is True
    facts = WorkerFacts("w", "experienced", START, START, "s", START, last_session=D(2026, 2, 2),
                        last_held=(D(2026, 3, 2), 10))
    [short] = [i for i in evaluate(strict, facts, D(2026, 3, 3)).issues if i.kind == "session_short"]
    assert short.severity == "warning" and "not counted as a supervision session" in short.text


def test_session_maximum_worked_example() -> None:
    # bury: "but probably no more than three unless in exceptional circumstances"; hull: "between one and 2
    # hours". Both hedge it, so a longer session counts and is shown, never judged.
    for pack, minutes in (("bury", 181), ("hull", 121)):
        verdict = judge_length(PACKS[pack], minutes)
        assert (verdict.counts, verdict.severity) == (True, "info") and "over the" in verdict.text
    assert judge_length(PACKS["bury"], 180).severity is None and judge_length(PACKS["hull"], 120).severity is None


def test_trainee_weekly_minutes_worked_example() -> None:
    # hull: "Social Workers in Training are required to have 1.5 hours of individual supervision per week. This
    # may be a combination of both formal and informal supervision, although the ratio must be in favour of
    # formal supervision."
    rule = PACKS["hull"].frequency.trainee.weekly_minutes
    week = last_full_week(D(2026, 3, 11))  # a Wednesday: the week of Monday 2 to Sunday 8 March
    assert week == (D(2026, 3, 2), D(2026, 3, 8))
    assert judge_week(rule, 90, week, "hull").severity is None
    assert judge_week(rule, 60, week, "hull").severity == "info"  # informal may make up 30 of the 90
    assert judge_week(rule, 45, week, "hull").severity == "overdue"  # formal would not be the larger part
    assert next_due_date(PACKS["hull"], "trainee", START, D(2026, 3, 2)) == D(2026, 3, 9)  # every week
