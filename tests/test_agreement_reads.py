"""The queries the web interface's supervision pages use, through the application, on SQLite and PostgreSQL:
who sees which agreements, reading an agreement's terms (decided and written to the access log first; refused
and logged for anyone else), when its review is due under the pack, and a supervisee's next session."""

from datetime import date

import pytest

from api.access_service import AccessDenied, AccessLogFilter, Via
from domain.authorisation import Role
from domain.errors import NotPermitted
from tests.support.acting import acting
from tests.support.scheduling import at, new_worker, supervisors

WEB = Via("web", "127.0.0.1")


def test_agreements_are_seen_by_their_parties_and_read_with_a_log_entry(application, clock):
    app = application
    manager, supervisor = supervisors(app, clock)
    worker = new_worker(app, clock, supervisor, "experienced", date(2020, 1, 6), joined=date(2026, 1, 5))
    other = new_worker(app, clock, manager, "experienced", date(2020, 1, 6), joined=date(2026, 1, 5), name="Ola Other")
    clock.set(at(date(2026, 1, 12)))
    agreement = str(app.scheduling.draft_agreement(acting(supervisor), supervisee_id=worker,
                                                   terms={"frequency": "monthly", "session_minutes": 90}).id)
    worker_as_supervisee = acting(worker, Role.SUPERVISEE)

    assert [r["agreement_id"] for r in app.scheduling.agreements_visible_to(worker_as_supervisee)] == [agreement]
    assert [r["agreement_id"] for r in app.scheduling.agreements_visible_to(acting(supervisor))] == [agreement]
    assert app.scheduling.agreements_visible_to(acting(other, Role.SUPERVISEE)) == []
    assert len(app.scheduling.agreements_visible_to(acting("qa"))) == 1
    with pytest.raises(NotPermitted):
        app.scheduling.agreements_visible_to(acting("ofsted"))

    read, decision = app.scheduling.read_agreement(worker_as_supervisee, agreement, via=WEB)
    assert read.terms == {"frequency": "monthly", "session_minutes": 90} and decision.basis == "own record"
    assert app.scheduling.agreement_review_due(read) is None  # not in force yet
    with pytest.raises(AccessDenied):
        app.scheduling.read_agreement(acting(other, Role.SUPERVISEE), agreement, via=WEB)
    entries = app.access.access_log_entries(acting("dpo"), AccessLogFilter(worker_id=worker))
    reads = [(e["reader_username"], e["action"], e["outcome"]) for e in entries if e["action"] == "read_agreement"]
    assert sorted(reads) == sorted([(worker, "read_agreement", "allowed"), (other, "read_agreement", "denied")])

    app.scheduling.sign_agreement(worker_as_supervisee, agreement)
    app.scheduling.sign_agreement(acting(supervisor), agreement)
    in_force, _ = app.scheduling.read_agreement(acting(supervisor), agreement, via=WEB)
    assert app.scheduling.agreement_review_due(in_force) == date(2027, 1, 12)  # bcp: reviewed at least annually


def test_a_supervisees_next_session_is_the_earliest_booked_from_today(application, clock):
    app = application
    _, supervisor = supervisors(app, clock)
    worker = new_worker(app, clock, supervisor, "experienced", date(2020, 1, 6), joined=date(2026, 1, 5))
    me = acting(worker, Role.SUPERVISEE)
    clock.set(at(date(2026, 2, 1), 8))
    assert app.scheduling.next_session_of(me) is None
    past = str(app.scheduling.schedule_session(acting(supervisor), supervisee_id=worker,
                                               starts_at=at(date(2026, 1, 20), 10),
                                               planned_minutes=90).id)
    later = str(app.scheduling.schedule_session(acting(supervisor), supervisee_id=worker,
                                                starts_at=at(date(2026, 3, 2), 10),
                                                planned_minutes=90).id)
    sooner = str(app.scheduling.schedule_session(acting(supervisor), supervisee_id=worker,
                                                 starts_at=at(date(2026, 2, 9), 10),
                                                 planned_minutes=60).id)
    assert app.scheduling.next_session_of(me)["session_id"] == sooner
    app.scheduling.cancel_session(me, sooner, "leave")
    assert app.scheduling.next_session_of(me)["session_id"] == later
