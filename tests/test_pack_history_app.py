"""A pack change through the application, on SQLite and PostgreSQL: a past day is judged by the version in
force on it, today by today's. The change is made up (tests/support/pack_history.py), written to tmp_path."""

from datetime import date as D

import pytest

from infrastructure.policy_packs import ENV_POLICY_DIR
from tests.support.acting import acting
from tests.support.pack_history import BCP_FORTNIGHTLY_FROM_MARCH, BCP_REBOOKING_FROM_MARCH, packs_with_history
from tests.support.scheduling import at, held, new_worker, supervisors


@pytest.fixture
def versioned(monkeypatch, tmp_path):
    """Requested before `ledger`, so the application finds bcp's history where it looks for packs."""
    folder = packs_with_history(tmp_path / "packs", versions=BCP_FORTNIGHTLY_FROM_MARCH + BCP_REBOOKING_FROM_MARCH)
    monkeypatch.setenv(ENV_POLICY_DIR, str(folder))
    return folder


def row(board, worker: str):
    return next(r for r in board.rows if r.worker_id == worker)


def test_compliant_on_a_past_day_under_the_old_frequency_and_due_under_the_new(versioned, ledger, clock):
    app = ledger
    _, supervisor = supervisors(app, clock)
    worker = new_worker(app, clock, supervisor, "experienced", D(2025, 6, 2))
    held(app, clock, worker, supervisor, D(2026, 1, 26))
    held(app, clock, worker, supervisor, D(2026, 2, 2))
    clock.set(at(D(2026, 3, 10)))  # today: fortnightly since 1 March

    # 20 Feb, under monthly: due 2 March by the old rule, but fortnightly comes first (1 March); from the
    # session of 2 Feb that rule wants 16 Feb, before it existed: due on its first day, not overdue.
    past = row(app.compliance_dashboard(as_of=D(2026, 2, 20)), worker).frequency
    assert (past.status, past.due, past.days_overdue) == ("on_time", D(2026, 3, 1), 0)
    assert app.compliance_pack(on=D(2026, 2, 20)).frequency.experienced.phases[0].every.months == 1

    now = row(app.compliance_dashboard(), worker).frequency
    assert (now.status, now.due, now.days_overdue) == ("overdue", D(2026, 3, 1), 9)
    assert "fortnight" in now.rule.lower()

    # February is judged by monthly (one session met it); March so far by fortnightly.
    february = next(r for r in app.frequency_report("2026-02").rows if r.worker_id == worker)
    assert february.met and "month" in february.rule.lower()
    march = next(r for r in app.frequency_report("2026-03").rows if r.worker_id == worker)
    assert not march.met and "fortnight" in march.rule.lower()


def test_a_single_version_pack_judges_every_day_alike(ledger, clock):
    app = ledger
    _, supervisor = supervisors(app, clock)
    worker = new_worker(app, clock, supervisor, "experienced", D(2025, 6, 2))
    held(app, clock, worker, supervisor, D(2026, 2, 2))
    clock.set(at(D(2026, 3, 10)))
    assert app.compliance_pack(on=D(2000, 1, 1)) is app.compliance_pack()
    assert row(app.compliance_dashboard(as_of=D(2026, 2, 20)), worker).frequency.due == D(2026, 3, 2)


def test_a_cancelled_session_is_rebooked_by_the_version_in_force_when_it_was_missed(versioned, ledger, clock):
    app = ledger
    _, supervisor = supervisors(app, clock)
    worker = new_worker(app, clock, supervisor, "experienced", D(2025, 6, 2))
    clock.set(at(D(2026, 2, 16)))
    february = str(app.schedule_session(acting(supervisor), supervisee_id=worker, starts_at=at(D(2026, 2, 23), 10),
                                        planned_minutes=60).id)
    march = str(app.schedule_session(acting(supervisor), supervisee_id=worker, starts_at=at(D(2026, 3, 9), 10),
                                     planned_minutes=60).id)
    clock.set(at(D(2026, 3, 2)))
    # Missed in February, when bcp set no rebooking deadline: none now either.
    assert app.rebook_by(app.cancel_session(acting(supervisor), february, "operational")) is None
    # Missed on 9 March, under the new version: 5 working days.
    assert app.rebook_by(app.cancel_session(acting(supervisor), march, "operational")) == D(2026, 3, 16)
