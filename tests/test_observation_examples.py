"""Worked examples, on the domain alone, for the register's observation, review, step-down and agreement rows:
judgements recorded as decisions by named people, and the cycles that fall due from them (issue 13 items 2, 9,
10). Each quotes the policy; the expected dates are read from the quoted words, not computed from the pack."""

from __future__ import annotations

from datetime import date, datetime, time, timezone

import pytest

from domain.agreements import agreed_due, agreed_minimum_minutes, check_terms
from domain.compliance import (AgreementFact, WorkerFacts, agreed_rule, binding_terms, evaluate, frequency_status,
                              month_frequency, short_sessions)
from domain.employee_reviews import EmployeeReview, ReviewFact, review_due, reviews_due
from domain.errors import DomainError, NotPermitted, OutOfOrder
from domain.observations import (FrequencySteps, ObservationFact, PracticeObservation, Relation, observation_due,
                                 observations_due, relation_of)
from domain.schedule_rules import next_due_date
from infrastructure.policy_packs import load_all_packs
from infrastructure.rule_register import build

PACKS = load_all_packs()
D = date
NOW = datetime(2026, 12, 1, 9, tzinfo=timezone.utc)


def seen(day: date, observed: str = "practice", relation: str = "supervisor", outcome: str = "meets_standard",
         subject: str = "w") -> ObservationFact:
    return ObservationFact(f"o-{day}", subject, observed, relation, day, outcome)


# -- observation cycles ------------------------------------------------------------------------------------------

# (pack, key, the observations recorded, from when the person came under it, due, the words)
CYCLES = [
    ("bcp", "direct_practice", [seen(D(2026, 3, 10))], D(2025, 1, 6), D(2027, 3, 10),
     "at least annually the supervisor will observe each worker undertaking direct practice"),
    # a senior manager's observation is a real observation, but not the one the supervisor owes annually
    ("bcp", "direct_practice", [seen(D(2026, 3, 10), relation="senior")], D(2025, 1, 6), D(2026, 1, 6),
     "the supervisor will observe each worker"),
    ("bcp", "of_supervisors", [seen(D(2026, 5, 4), "supervision", "peer")], D(2024, 9, 1), D(2027, 5, 4),
     "either on a peer-review or management basis"),
    ("bcp", "supervision_by_manager", [seen(D(2026, 5, 4), "supervision", "peer")], D(2026, 2, 1), D(2027, 2, 1),
     "the manager of the supervisor will observe a supervision"),
    ("bcp", "supervision_by_manager", [seen(D(2026, 6, 8), "supervision", "supervisor")], D(2024, 9, 1),
     D(2027, 6, 8), "at least annually the manager of the supervisor"),
    # hull: "at least bi-annually", read as twice a year (the organisation's setting, shown as such)
    ("hull", "peer_observation", [seen(D(2026, 4, 1), "supervision", "peer")], D(2025, 1, 6), D(2026, 10, 1),
     "Peer observations of supervision sessions"),
]


@pytest.mark.parametrize(("pack", "key", "observations", "from_day", "due", "words"), CYCLES)
def test_observation_cycle_worked_example(pack: str, key: str, observations: list, from_day: date, due: date,
                                          words: str) -> None:
    cycle = PACKS[pack].observation[key]
    assert words in cycle.source
    assert observation_due(cycle, observations, from_day)[0] == due


def test_the_due_view_shows_observations_owed_and_whose_setting_they_are() -> None:
    bcp, hull = PACKS["bcp"], PACKS["hull"]
    overdue = observations_due(bcp, category="experienced", monitored_from=D(2025, 1, 6), supervises_since=None,
                               observations=[seen(D(2025, 10, 1))], as_of=D(2026, 10, 11))
    assert [(d.kind, d.due, d.days_overdue, d.severity) for d in overdue] == [
        ("observation.direct_practice", D(2026, 10, 1), 10, "overdue")]
    assert "(bcp)" in overdue[0].text
    # managers without a caseload do no direct practice; a supervisor's own supervision is observed
    manager = observations_due(bcp, category="manager", monitored_from=D(2025, 1, 6), supervises_since=D(2025, 1, 6),
                               observations=[], as_of=D(2026, 1, 10))
    assert {d.kind for d in manager} == {"observation.of_supervisors", "observation.supervision_by_manager"}
    peer = observations_due(hull, category="manager", monitored_from=D(2025, 1, 6), supervises_since=D(2025, 1, 6),
                            observations=[], as_of=D(2025, 7, 10))
    assert "hull's own setting" in peer[0].text


def test_who_may_record_an_observation() -> None:
    chain = ("sup", "head")
    assert relation_of("sup", chain, True) is Relation.SUPERVISOR
    assert relation_of("head", chain, True) is Relation.SENIOR
    assert relation_of("other-supervisor", chain, True) is Relation.PEER
    assert relation_of("colleague", chain, False) is None
    with pytest.raises(NotPermitted, match="only the worker's supervisor"):
        PracticeObservation.record(subject_id="w", observed="practice", observer_id="colleague", relation=None,
                                   observed_on=D(2026, 11, 2), outcome="meets_standard", actor="colleague",
                                   timestamp=NOW)
    with pytest.raises(NotPermitted, match="as themselves"):
        PracticeObservation.record(subject_id="w", observed="practice", observer_id="sup",
                                   relation=Relation.SUPERVISOR, observed_on=D(2026, 11, 2),
                                   outcome="meets_standard", actor="someone-else", timestamp=NOW)
    with pytest.raises(DomainError, match="in the future"):
        PracticeObservation.record(subject_id="w", observed="practice", observer_id="sup",
                                   relation=Relation.SUPERVISOR, observed_on=D(2026, 12, 2),
                                   outcome="meets_standard", actor="sup", timestamp=NOW)


# -- the step down: a decision after an observation ---------------------------------------------------------------


def test_step_down_worked_example() -> None:
    # bcp: "every two weeks, increased to every three weeks and then monthly if the worker is meeting the required
    # standard of practice. Direct observation of practice must take place before a decision is taken to reduce
    # the frequency of supervisions."
    bcp = PACKS["bcp"]
    rule = bcp.frequency.overseas_recruited
    assert "Direct observation of practice must take place before a decision" in rule.step_down.source
    start = D(2026, 6, 1)
    steps = FrequencySteps.start(worker_id="w", actor="sup", timestamp=datetime(2026, 6, 1, tzinfo=timezone.utc))

    def decide(day: date, observation: ObservationFact | None, actor: str = "sup") -> None:
        steps.step_down(rule=rule, whose="bcp", category="overseas_recruited", regime_start=start, decided_on=day,
                        observation=observation, rationale="Practice observed meets the standard",
                        supervisor_now="sup", actor=actor, timestamp=datetime.combine(day, time(17), timezone.utc))

    with pytest.raises(NotPermitted, match="no direct observation of practice is recorded"):
        decide(D(2026, 9, 1), None)
    with pytest.raises(NotPermitted, match="after the decision"):
        decide(D(2026, 9, 1), seen(D(2026, 9, 2)))
    with pytest.raises(NotPermitted, match="below the required standard"):
        decide(D(2026, 9, 1), seen(D(2026, 8, 20), outcome="below_standard"))
    with pytest.raises(NotPermitted, match="not of this worker's practice"):
        decide(D(2026, 9, 1), seen(D(2026, 8, 20), subject="someone-else"))
    with pytest.raises(NotPermitted, match="current supervisor"):
        decide(D(2026, 9, 1), seen(D(2026, 8, 20)), actor="head")
    assert steps.steps == []
    decide(D(2026, 9, 1), seen(D(2026, 8, 20)))
    taken = steps.steps_under("overseas_recruited", start)
    assert taken == [D(2026, 9, 1)]
    # the first decision's observation does not carry the second: observe the practice again first
    with pytest.raises(NotPermitted, match="older than the frequency now in force"):
        decide(D(2026, 12, 1), seen(D(2026, 8, 20)))
    # every three weeks from the decision on; nothing eases by date
    assert next_due_date(bcp, "overseas_recruited", start, D(2026, 9, 7), taken) == D(2026, 9, 28)
    assert next_due_date(bcp, "overseas_recruited", start, D(2026, 9, 7)) == D(2026, 9, 21)
    facts = WorkerFacts("w", "overseas_recruited", start, start, "sup", start, last_session=D(2026, 9, 7),
                        step_downs=tuple(taken))
    status = frequency_status(bcp, facts, D(2026, 9, 10))
    assert status.due == D(2026, 9, 28) and "since the decision of 1 Sep 2026" in status.rule
    decide(D(2026, 11, 30), seen(D(2026, 11, 16)))
    with pytest.raises(OutOfOrder, match="last step"):
        decide(D(2026, 12, 1), seen(D(2026, 12, 1)))
    # a frequency that eases by date takes no decision
    with pytest.raises(DomainError, match="by date"):
        steps.step_down(rule=bcp.frequency.nqsw_asye, whose="bcp", category="nqsw_asye", regime_start=start,
                        decided_on=D(2026, 12, 1), observation=seen(D(2026, 12, 1)), rationale="r",
                        supervisor_now="sup", actor="sup", timestamp=NOW)


# -- reviews -----------------------------------------------------------------------------------------------------


def test_review_cycle_worked_example() -> None:
    # bury: "Every worker will have an employee review annually." ... "A review date (six months from the date of
    # employee review)" and "The date of the next employee review (twelve months from the date of employee review)."
    bury = PACKS["bury"]
    assert "annually" in bury.review["employee_review"].source
    assert "six months" in bury.review["six_monthly"].source
    held = [ReviewFact("r1", "employee_review", D(2026, 3, 16))]
    assert review_due(bury, "employee_review", held, D(2020, 1, 6)) == D(2027, 3, 16)
    assert review_due(bury, "six_monthly", held, D(2020, 1, 6)) == D(2026, 9, 16)
    assert review_due(bury, "six_monthly", [*held, ReviewFact("r2", "six_monthly", D(2026, 9, 10))],
                      D(2020, 1, 6)) is None
    assert review_due(bury, "employee_review", [], D(2026, 1, 5)) == D(2027, 1, 5)
    overdue = reviews_due(bury, held, D(2020, 1, 6), D(2026, 9, 20))
    assert [(d.kind, d.days_overdue) for d in overdue] == [("review.six_monthly", 4)]


def test_review_by_someone_above_the_line_manager_needs_the_reason() -> None:
    # bury: "Employee review should be carried out by the immediate line manager. In exceptional circumstances, a
    # more senior manager or supervisor in the line management chain of the employee may also carry out a review."
    bury = PACKS["bury"]

    def review(actor: str, reason: str = "") -> EmployeeReview:
        return EmployeeReview.record(pack=bury, worker_id="w", kind="employee_review", reviewed_on=D(2026, 11, 30),
                                     worker_chain=("sup", "head"), actor=actor, timestamp=NOW, reason=reason)

    assert review("sup").relation == "supervisor"
    with pytest.raises(NotPermitted, match="exceptional circumstances"):
        review("head")
    assert review("head", "the supervisor is on long-term sick leave").relation == "senior"
    with pytest.raises(NotPermitted, match="immediate line manager"):
        review("hr-officer")
    with pytest.raises(DomainError, match="names no review"):
        EmployeeReview.record(pack=PACKS["bcp"], worker_id="w", kind="employee_review", reviewed_on=D(2026, 11, 30),
                              worker_chain=("sup",), actor="sup", timestamp=NOW)


# -- agreements that bind ------------------------------------------------------------------------------------------


def test_agreed_frequency_and_length_worked_example() -> None:
    # school-trust: "The supervisor and supervisee will agree on the duration and frequency of supervision";
    # hull: "Individual supervision may be required at a greater frequency. This will be agreed at an individual
    # level and reflected in the Supervision Contract."
    trust = PACKS["school-trust"]
    terms = check_terms({"every": {"weeks": 2}, "session_minutes": 90})
    assert terms == {"session_minutes": 90, "every": {"weeks": 2}}
    assert agreed_due(terms, D(2026, 3, 2), D(2026, 4, 2)) == D(2026, 3, 16)
    assert agreed_due(check_terms({"every": {"months": 2}}), D(2026, 3, 2), D(2026, 4, 2)) is None  # looser: the pack
    assert agreed_minimum_minutes(terms, None) == 90
    assert agreed_minimum_minutes(terms, 90) is None and agreed_minimum_minutes(terms, 120) is None
    with pytest.raises(DomainError, match="not an interval"):
        check_terms({"every": {"fortnights": 1}})
    agreement = AgreementFact("a1", "sup", D(2026, 1, 5), in_force_on=D(2026, 1, 12))
    facts = WorkerFacts("w", "experienced", D(2020, 1, 6), D(2020, 1, 6), "sup", D(2026, 1, 5),
                        last_session=D(2026, 3, 2), last_session_minutes=60, agreements=(agreement,),
                        agreed_terms={"a1": terms})
    result = evaluate(trust, facts, D(2026, 3, 20))
    assert (result.frequency.due, result.frequency.days_overdue) == (D(2026, 3, 16), 4)
    assert result.frequency.rule.startswith("Agreed every 2 weeks")
    assert [i.kind for i in result.issues if i.kind.startswith("session_short")] == ["session_short_of_agreement"]
    # a draft the supervisee has not signed binds nobody
    unsigned = WorkerFacts("w", "experienced", D(2020, 1, 6), D(2020, 1, 6), "sup", D(2026, 1, 5),
                           last_session=D(2026, 3, 2), agreements=(AgreementFact("a1", "sup", D(2026, 1, 5)),),
                           agreed_terms={"a1": terms})
    assert frequency_status(trust, unsigned, D(2026, 3, 20)).due == D(2026, 4, 2)


def test_agreed_frequency_in_the_monthly_report_worked_example() -> None:
    # school-trust: "The supervisor and supervisee will agree on the duration and frequency of supervision"; the
    # pack's monthly baseline is the floor, the contract (fortnightly, 90 minutes) binds where stricter.
    trust = PACKS["school-trust"]
    terms = {"a1": check_terms({"every": {"weeks": 2}, "session_minutes": 90})}
    signed = AgreementFact("a1", "sup", D(2026, 1, 5), in_force_on=D(2026, 1, 12))
    agreed = binding_terms([signed, AgreementFact("a2", "sup", D(2026, 3, 1))], terms | {"a2": terms["a1"]})
    assert [(t.agreement_id, t.from_day, t.until) for t in agreed] == [("a1", D(2026, 1, 12), None)]  # a2 unsigned

    def march(held: list[date], bound=agreed):
        return month_frequency(trust, "experienced", D(2020, 1, 6), D(2020, 1, 6), D(2026, 2, 27), held,
                               D(2026, 3, 1), D(2026, 3, 31), agreed=bound)

    # Monthly, sessions on 2 and 30 March meet the pack; fortnightly they do not: due 13 and 27 March, so two
    # were needed, and from the 2 March session the next was due by 16 March: 17 to 29 March overdue.
    monthly = march([D(2026, 3, 2), D(2026, 3, 30)], ())
    assert (monthly.required, monthly.met) == (1, True)
    fortnightly = march([D(2026, 3, 2), D(2026, 3, 30)])
    assert (fortnightly.held, fortnightly.required, fortnightly.overdue_days, fortnightly.met) == (2, 2, 13, False)
    assert march([D(2026, 3, 2), D(2026, 3, 16), D(2026, 3, 30)]).met
    rule, _ = agreed_rule(trust, "experienced", D(2020, 1, 6), D(2026, 3, 31), agreed)  # type: ignore[misc]
    assert rule.startswith("Agreed every 2 weeks (the supervision agreement in force since 12 Jan")

    # The agreement binds only while in force: lapsed on 10 March (the supervisor changed), the pack's monthly
    # rule judges the rest of the month, and the 2 March session was enough.
    lapsed = binding_terms([AgreementFact("a1", "old", D(2026, 1, 5), D(2026, 1, 12))], terms, "new", D(2026, 3, 10))
    assert [(t.from_day, t.until) for t in lapsed] == [(D(2026, 1, 12), D(2026, 3, 10))]
    assert (march([D(2026, 3, 2)], lapsed).required, march([D(2026, 3, 2)], lapsed).overdue_days) == (1, 0)
    assert agreed_rule(trust, "experienced", D(2020, 1, 6), D(2026, 3, 31), lapsed) is None
    # and from the day it comes into force: signed on 20 March, the 2 March session was due again by 16 March
    late = binding_terms([AgreementFact("a1", "sup", D(2026, 3, 18), D(2026, 3, 20))], terms)
    assert march([D(2026, 3, 2)], late).overdue_days == 12  # 20 to 31 March

    # a session shorter than the agreed 90 minutes is short while the agreement binds; the trust's policy sets
    # no minimum of its own
    lengths = [(D(2026, 3, 2), 60), (D(2026, 3, 30), 95)]
    assert short_sessions(trust, lengths, agreed) == 1
    assert short_sessions(trust, lengths) == 0
    assert short_sessions(trust, [(D(2026, 3, 9), 60), (D(2026, 3, 16), 60)], lapsed) == 1  # bound on 9, not 16 March


def test_every_new_row_has_its_worked_example_here() -> None:
    rows = [r for r in build() if r.status == "enforced"
            and (r.key.startswith(("observation.", "review.")) or r.key.endswith(".step_down"))]
    assert {(r.pack, r.key) for r in rows} == {
        ("bcp", "observation.direct_practice"), ("bcp", "observation.of_supervisors"),
        ("bcp", "observation.supervision_by_manager"), ("hull", "observation.peer_observation"),
        ("bury", "review.employee_review"), ("bury", "review.six_monthly"),
        ("bcp", "frequency.overseas_recruited.step_down")}
    assert {(p, f"observation.{k}") for p, k, *_ in CYCLES} == {(r.pack, r.key) for r in rows
                                                                if r.key.startswith("observation.")}


def test_settled_case_is_agreed_by_both_with_the_rationale() -> None:
    # bury: "A settled case can be defined by having a manageable lower level of risk and must be agreed between
    # supervisor and supervisee and the rationale recorded in supervision notes."
    from domain.case_supervision import CaseSupervision
    bury = PACKS["bury"]
    case = CaseSupervision.open(worker_id="w", supervisor_id="sup", case_reference="CN-1042", actor="sup",
                                timestamp=NOW)
    with pytest.raises(NotPermitted, match="give the rationale"):
        case.rate("settled", pack=bury, actor="sup", supervisor_now="sup", timestamp=NOW, approved_by="w",
                  approved_on=D(2026, 11, 30))
    case.rate("settled", pack=bury, actor="sup", supervisor_now="sup", timestamp=NOW, approved_by="w",
              approved_on=D(2026, 11, 30), rationale="Long-term matched placement; risk low and stable")
    assert case.approval["by"] == "w" and case.approval["rationale"].startswith("Long-term")
