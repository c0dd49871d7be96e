"""Judgements as recorded decisions, through the application on SQLite and PostgreSQL: an observation, then a
step-down decision accepted; a step-down without an observation refused; observation and review cycles and an
agreement's own frequency on the manager's due view, as known on each day."""

from datetime import date

import pytest

from domain.errors import DomainError, NotPermitted
from domain.authorisation import Role
from tests.support.acting import acting
from tests.support.scheduling import at, held, new_worker, supervisors

D = date


def row(board, worker: str):
    return next(r for r in board.rows if r.worker_id == worker)


def kinds(board, worker: str) -> dict[str, object]:
    return {i.kind: i for i in row(board, worker).issues}


def test_observation_then_step_down_accepted_and_without_one_refused(application, clock):
    app = application  # the organisation's pack: bcp
    manager, supervisor = supervisors(app, clock)
    worker = new_worker(app, clock, supervisor, "overseas_recruited", D(2026, 6, 1))
    held(app, clock, worker, supervisor, D(2026, 8, 24))

    # "Direct observation of practice must take place before a decision is taken to reduce the frequency"
    clock.set(at(D(2026, 9, 1), 10))
    with pytest.raises(NotPermitted, match="no direct observation of practice"):
        app.practice.step_down_frequency(acting(supervisor), worker, decided_on=D(2026, 9, 1),
                                         rationale="Meeting the required standard of practice")
    assert app.scheduling.compliance_dashboard(as_of=D(2026, 9, 1)).rows and \
        row(app.scheduling.compliance_dashboard(as_of=D(2026, 9, 1)), worker).frequency.due == D(2026, 9, 7)

    # only someone who supervises, or is above the worker, records an observation; the worker's own is refused
    with pytest.raises(NotPermitted):
        app.practice.record_observation(acting(worker, Role.SUPERVISEE), subject_id=worker, observed="practice",
                                        observed_on=D(2026, 8, 20), outcome="meets_standard")
    observation = app.practice.record_observation(acting(supervisor), subject_id=worker, observed="practice",
                                                  observed_on=D(2026, 8, 20), outcome="meets_standard",
                                                  feedback="Clear, purposeful home visit; good use of scaling questions")
    assert (observation.relation, observation.observer_id) == ("supervisor", supervisor)
    assert app.storage.keyring.key_id_for(observation.id) == app.storage.keyring.key_id_for(worker)

    # the manager is not the one who decides under bcp's pack: the worker's supervisor is
    with pytest.raises(NotPermitted, match="current supervisor"):
        app.practice.step_down_frequency(acting(manager), worker, decided_on=D(2026, 9, 1),
                                         observation_id=observation.id,
                                         rationale="Meets the standard")
    steps = app.practice.step_down_frequency(acting(supervisor), worker, decided_on=D(2026, 9, 1),
                                             observation_id=observation.id, rationale="Meets the standard")
    assert steps.steps[0]["observation_id"] == str(observation.id) and steps.steps[0]["decided_by"] == supervisor

    held(app, clock, worker, supervisor, D(2026, 9, 7))
    board = app.scheduling.compliance_dashboard(as_of=D(2026, 9, 10))
    status = row(board, worker).frequency
    assert status.due == D(2026, 9, 28)  # every three weeks from the decision on
    assert "since the decision of 1 Sep 2026" in status.rule
    # as it stood before the decision was recorded: every two weeks
    assert row(app.scheduling.compliance_dashboard(as_of=D(2026, 8, 31)), worker).frequency.due == D(2026, 9, 7)
    # the monthly report counts the same decision
    september = {r.worker_id: r for r in app.scheduling.frequency_report("2026-09", as_of=D(2026, 9, 30)).rows}
    assert "every 3 weeks" in september[worker].rule

    # a second step down needs an observation made since the first
    clock.set(at(D(2026, 10, 1), 10))
    with pytest.raises(NotPermitted, match="older than the frequency now in force"):
        app.practice.step_down_frequency(acting(supervisor), worker, decided_on=D(2026, 10, 1),
                                         observation_id=observation.id, rationale="Still meets it")


def test_observation_and_review_cycles_on_the_due_view(application, clock):
    app = application
    manager, supervisor = supervisors(app, clock)
    worker = new_worker(app, clock, supervisor, "experienced", D(2025, 1, 6))
    held(app, clock, worker, supervisor, D(2026, 1, 5))

    # bcp: each worker's direct practice observed annually by the supervisor; supervisors observed annually
    board = app.scheduling.compliance_dashboard(as_of=D(2026, 1, 10))
    assert kinds(board, worker)["observation.direct_practice"].days_overdue == 4  # due 6 Jan 2026
    owed = kinds(board, supervisor)
    assert {"observation.of_supervisors", "observation.supervision_by_manager"} <= set(owed)
    assert "observation.direct_practice" not in kinds(board, manager)  # managers: no caseload, no direct practice

    clock.set(at(D(2026, 1, 12), 10))
    app.practice.record_observation(acting(supervisor), subject_id=worker, observed="practice",
                                    observed_on=D(2026, 1, 12),
                                    outcome="meets_standard")
    app.practice.record_observation(acting(manager), subject_id=supervisor, observed="supervision",
                                    observed_on=D(2026, 1, 12), outcome="meets_standard",
                                    feedback="Strengths: reflective questions. To develop: agreeing actions with timescales.")
    with pytest.raises(DomainError, match="supervises nobody"):
        app.practice.record_observation(acting(supervisor), subject_id=worker, observed="supervision",
                                        observed_on=D(2026, 1, 12), outcome="meets_standard")
    board = app.scheduling.compliance_dashboard(as_of=D(2026, 1, 13))
    assert "observation.direct_practice" not in kinds(board, worker)
    assert not {"observation.of_supervisors", "observation.supervision_by_manager"} & set(kinds(board, supervisor))
    # the same view as it stood on the 11th still shows them owed
    assert "observation.direct_practice" in kinds(app.scheduling.compliance_dashboard(as_of=D(2026, 1, 11)), worker)
    # a year on, due again
    assert kinds(app.scheduling.compliance_dashboard(as_of=D(2027, 1, 20)),
                 worker)["observation.direct_practice"].due == \
        D(2027, 1, 12)

    # bury: the annual employee review by the immediate line manager, and the review six months after it
    with pytest.raises(DomainError, match="names no review"):
        app.practice.record_employee_review(acting(supervisor), worker, kind="employee_review",
                                            reviewed_on=D(2026, 1, 12))
    with pytest.raises(NotPermitted, match="exceptional circumstances"):
        app.practice.record_employee_review(acting(manager), worker, kind="employee_review", reviewed_on=D(2026, 1, 12),
                                            pack="bury")
    app.practice.record_employee_review(acting(supervisor), worker, kind="employee_review", reviewed_on=D(2026, 1, 12),
                                        pack="bury")
    bury = app.scheduling.compliance_dashboard(as_of=D(2026, 7, 20), pack="bury")
    assert kinds(bury, worker)["review.six_monthly"].days_overdue == 8  # due 12 Jul 2026
    assert "review.employee_review" not in kinds(bury, worker)


def test_an_agreements_own_frequency_and_length_bind_where_stricter(application, clock):
    # school-trust: "The supervisor and supervisee will agree on the duration and frequency of supervision"
    app = application
    _, supervisor = supervisors(app, clock)
    worker = new_worker(app, clock, supervisor, "experienced", D(2025, 1, 6))
    clock.set(at(D(2026, 3, 2), 9))
    agreement = app.scheduling.draft_agreement(acting(supervisor), supervisee_id=worker,
                                               terms={"every": {"weeks": 2}, "session_minutes": 90})
    held(app, clock, worker, supervisor, D(2026, 3, 2), minutes=60)
    board = app.scheduling.compliance_dashboard(as_of=D(2026, 3, 20), pack="school-trust")
    assert row(board, worker).frequency.due == D(2026, 4, 2)  # a draft binds nobody: the pack's monthly floor
    clock.set(at(D(2026, 3, 3), 9))
    app.scheduling.sign_agreement(acting(worker, Role.SUPERVISEE), agreement.id)
    app.scheduling.sign_agreement(acting(supervisor), agreement.id)
    board = app.scheduling.compliance_dashboard(as_of=D(2026, 3, 20), pack="school-trust")
    status = row(board, worker)
    assert (status.frequency.due, status.frequency.days_overdue) == (D(2026, 3, 16), 4)
    assert status.frequency.rule.startswith("Agreed every 2 weeks")
    assert "session_short_of_agreement" in {i.kind for i in status.issues}


def test_the_monthly_report_judges_a_month_by_the_agreement_in_force_where_stricter(application, clock):
    # school-trust: "The supervisor and supervisee will agree on the duration and frequency of supervision";
    # the contract says fortnightly for 90 minutes, the pack's monthly baseline is the floor.
    app = application
    _, supervisor = supervisors(app, clock)
    bound = new_worker(app, clock, supervisor, "experienced", D(2025, 1, 6), name="Bo Bound")
    free = new_worker(app, clock, supervisor, "experienced", D(2025, 1, 6), name="Fran Free")
    for worker in (bound, free):
        held(app, clock, worker, supervisor, D(2026, 2, 27))
    clock.set(at(D(2026, 3, 1), 9))
    agreement = app.scheduling.draft_agreement(acting(supervisor), supervisee_id=bound,
                                               terms={"every": {"weeks": 2}, "session_minutes": 90})
    app.scheduling.sign_agreement(acting(bound, Role.SUPERVISEE), agreement.id)
    app.scheduling.sign_agreement(acting(supervisor), agreement.id)
    for worker in (bound, free):
        held(app, clock, worker, supervisor, D(2026, 3, 2), minutes=60)
        held(app, clock, worker, supervisor, D(2026, 3, 30), minutes=95)

    report = {r.worker_id: r for r in app.scheduling.frequency_report("2026-03", as_of=D(2026, 3, 31),
                                                                      pack="school-trust").rows}
    # fortnightly: due 13 and 27 March, and 17 to 29 March overdue after the 2 March session; 60 minutes is
    # short of the agreed 90
    assert (report[bound].held, report[bound].required, report[bound].overdue_days, report[bound].met,
            report[bound].short_sessions) == (2, 2, 13, False, 1)
    assert report[bound].rule.startswith("Agreed every 2 weeks (the supervision agreement in force since 1 Mar")
    # the same sessions without an agreement meet the trust's monthly baseline, and no session is short
    assert (report[free].required, report[free].overdue_days, report[free].met, report[free].short_sessions) == (
        1, 0, True, 0)
    # February, before the agreement was in force, is judged by the pack alone for both
    february = {r.worker_id: r for r in app.scheduling.frequency_report("2026-02", pack="school-trust").rows}
    assert [(february[w].required, february[w].overdue_days, february[w].rule) for w in (bound, free)] == [
        (february[free].required, february[free].overdue_days, february[free].rule)] * 2
    assert not february[bound].rule.startswith("Agreed")
    # the manager's due view says the same on the last day of the month
    board = app.scheduling.compliance_dashboard(as_of=D(2026, 3, 31), pack="school-trust")
    assert row(board, bound).frequency.due == D(2026, 4, 13)
