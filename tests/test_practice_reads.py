"""The query behind the web interface's practice page, through the application on SQLite and PostgreSQL: who may
see a worker's observations, step-down decisions and reviews (the worker, their supervisor, anyone above them in
line management, a grant covering their file), each read decided and written to the access log first, and a
refusal for anyone else logged too; what the page is given (the frequency in force, each cycle's next due date,
the forms to offer); and a refusal tied to the input it is about."""

from datetime import date, timedelta

import pytest

from api.access_service import AccessDenied, AccessLogFilter, Via
from domain.authorisation import Role
from domain.errors import NotPermitted
from tests.support.acting import acting
from tests.support.scheduling import at, held, new_worker, supervisors

D = date
WEB = Via("web", "127.0.0.1")


def _organisation(app, clock):  # noqa: ANN001, ANN202
    """Head of service > Morgan (manager) > Alex (supervisor) > Sam (overseas-recruited); Jo supervises Ola."""
    manager, supervisor = supervisors(app, clock)
    head = str(app.people.join_worker(acting("hr"), name="Hari Head", role="Head of service", category="manager",
                                      start_date=D(2010, 1, 4)).id)
    app.allocation.allocate_supervisor(acting("hr"), manager, head)
    other_supervisor = str(app.people.join_worker(acting("hr"), name="Jo Other", role="Team manager",
                                                  category="manager",
                                                  start_date=D(2018, 1, 1)).id)
    app.allocation.allocate_supervisor(acting("hr"), other_supervisor, manager)
    worker = new_worker(app, clock, supervisor, "overseas_recruited", D(2026, 6, 1))
    other = new_worker(app, clock, other_supervisor, "experienced", D(2020, 1, 6), joined=D(2026, 1, 5),
                       name="Ola Other")
    return head, manager, supervisor, other_supervisor, worker, other


def test_who_may_see_a_workers_practice_and_every_read_is_logged(application, clock):
    app = application
    head, manager, supervisor, other_supervisor, worker, other = _organisation(app, clock)
    held(app, clock, worker, supervisor, D(2026, 8, 24))
    clock.set(at(D(2026, 9, 1), 10))

    allowed = {"the worker": (acting(worker, Role.SUPERVISEE), "own record"),
               "their supervisor": (acting(supervisor), "current supervisor"),
               "the supervisor's manager": (acting(manager, Role.MANAGER), "line manager"),
               "the head of service, above": (acting(head, Role.MANAGER), "line manager")}
    for who, (principal, basis) in allowed.items():
        assert app.practice.practice_of(principal, worker, via=WEB).basis == basis, who

    refused = {"another supervisor": acting(other_supervisor),
               "another supervisee": acting(other, Role.SUPERVISEE),
               "QA without a grant": acting("qa"), "an inspector without a grant": acting("ofsted"),
               "HR": acting("hr")}
    for who, principal in refused.items():
        with pytest.raises(AccessDenied) as refusal:
            app.practice.practice_of(principal, worker, via=WEB)
        assert refusal.value.logged, who  # a refused read of a file is in the access log

    entries = [e for e in app.access.access_log_entries(acting("dpo"), AccessLogFilter(worker_id=worker))
               if e["action"] == "read_practice"]
    assert sorted(e["outcome"] for e in entries) == ["allowed"] * len(allowed) + ["denied"] * len(refused)

    # a live grant covering the worker's file lets its holder read it; their own forms: none
    app.people.users.add_user("ines", "inspector", created_by="test")
    app.access.grant_access(grantor=acting("hr"), grantee="ines", purpose="Inspection of the team",
                            category="inspection",
                            scope_kind="worker_file", scope_id=worker, expires_at=clock.now + timedelta(days=30))
    inspector = app.people.users.principal("ines", via="test")
    assert app.practice.practice_of(inspector, worker, via=WEB).offered == frozenset()


def test_the_practice_page_is_given_the_regime_the_cycles_and_the_forms_to_offer(application, clock):
    app = application
    head, manager, supervisor, _, worker, _ = _organisation(app, clock)
    held(app, clock, worker, supervisor, D(2026, 8, 24))
    clock.set(at(D(2026, 9, 1), 10))

    before = app.practice.practice_of(acting(supervisor), worker, via=WEB)
    assert before.observations == [] and before.step_downs == [] and before.step_down_by_decision
    assert "every 2 weeks" in before.regime and before.frequency.due == D(2026, 9, 7)
    practice_cycle = next(c for c in before.cycles if c.kind == "observation.direct_practice")
    assert practice_cycle.due == D(2027, 6, 1)  # bcp: annually, from when she came under it
    assert before.offered == {"observation", "step_down", "review"}
    assert app.practice.practice_of(acting(manager, Role.MANAGER), worker, via=WEB).offered == {"observation", "review"}
    assert app.practice.practice_of(acting(worker, Role.SUPERVISEE), worker, via=WEB).offered == frozenset()
    assert before.review_kinds == ()  # bcp names no employee reviews

    # the refusal names the input it is about: the observation the decision must rest on
    with pytest.raises(NotPermitted, match="no direct observation of practice") as refusal:
        app.practice.step_down_frequency(acting(supervisor), worker, decided_on=D(2026, 9, 1), rationale="Meets it")
    assert refusal.value.field == "observation_id"
    with pytest.raises(NotPermitted) as not_theirs:
        app.practice.step_down_frequency(acting(manager, Role.MANAGER), worker, decided_on=D(2026, 9, 1),
                                         rationale="Meets it")
    assert not_theirs.value.field is None  # not this person's decision: no input would change that

    observation = app.practice.record_observation(acting(supervisor), subject_id=worker, observed="practice",
                                                  observed_on=D(2026, 8, 20), outcome="meets_standard",
                                                  feedback="Clear, purposeful home visit")
    app.practice.step_down_frequency(acting(supervisor), worker, decided_on=D(2026, 9, 1),
                                     observation_id=observation.id,
                                     rationale="Meets the standard")
    after = app.practice.practice_of(acting(supervisor), worker, via=WEB)
    assert [(o["observed_on"], o["observer_id"], o["outcome"], o["feedback"]) for o in after.observations] == [
        (D(2026, 8, 20), supervisor, "meets_standard", "Clear, purposeful home visit")]
    assert [(s["decided_on"], s["observation_id"], s["decided_by"]) for s in after.step_downs] == [
        (D(2026, 9, 1), str(observation.id), supervisor)]
    assert "every 3 weeks" in after.regime and "since the decision of 1 Sep 2026" in after.regime
    assert next(c for c in after.cycles if c.kind == "observation.direct_practice").due == D(2027, 8, 20)


def test_reviews_and_their_next_due_dates_under_a_pack_that_names_them(application, clock):
    app = application
    head, manager, supervisor, _, worker, _ = _organisation(app, clock)
    clock.set(at(D(2026, 9, 1), 10))
    with pytest.raises(NotPermitted, match="exceptional circumstances") as refusal:
        app.practice.record_employee_review(acting(head, Role.MANAGER), worker, kind="employee_review",
                                            reviewed_on=D(2026, 8, 28), pack="bury")
    assert refusal.value.field == "reason"
    app.practice.record_employee_review(acting(supervisor), worker, kind="employee_review", reviewed_on=D(2026, 8, 28),
                                        pack="bury")
    seen = app.practice.practice_of(acting(manager, Role.MANAGER), worker, via=WEB, pack="bury")
    assert seen.review_kinds == ("employee_review", "six_monthly")
    assert [(r["kind"], r["reviewed_on"], r["reviewer_id"], r["relation"]) for r in seen.reviews] == [
        ("employee_review", D(2026, 8, 28), supervisor, "supervisor")]
    due = {c.kind: c.due for c in seen.cycles if c.kind.startswith("review.")}
    assert due == {"review.employee_review": D(2027, 8, 28), "review.six_monthly": D(2027, 2, 28)}


def test_the_rule_denies_by_default_and_reads_an_archived_file_as_any_archived_file():
    from datetime import datetime, timezone

    from domain.authorisation import (ArchiveRule, Reader, Refusal, Relationships, decide_practice_read,
                                      practice_steps_offered)

    now = datetime(2026, 9, 1, tzinfo=timezone.utc)
    rel = Relationships("w", "s", "m", previous_supervisor_ids=("old",))
    chain = ("s", "m", "head")
    decide = lambda reader, r=rel: decide_practice_read(reader, r, chain, (), now)  # noqa: E731
    assert decide(Reader("u", Role.MANAGER, "head")).basis == "line manager"
    assert decide(Reader("u", Role.SUPERVISEE, "head")).refusal is Refusal.NO_RELATIONSHIP  # a role to supervise
    assert decide(Reader("u", Role.SUPERVISOR, "old")).refusal is Refusal.FORMER_SUPERVISOR
    assert decide(Reader("u", Role.QA)).refusal is Refusal.NO_RELATIONSHIP
    archived = Relationships("w", "s", "m", file_state="archived")
    refused = decide_practice_read(Reader("u", Role.SUPERVISOR, "s"), archived, chain, (), now,
                                   archive=ArchiveRule(frozenset({"hr"})))
    assert refused.refusal is Refusal.ARCHIVED_FILE  # read only under a grant, as decide_read says
    assert practice_steps_offered(Reader("u", Role.SUPERVISOR, "s"), archived, chain) == frozenset()
