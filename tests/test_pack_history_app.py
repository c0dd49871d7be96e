"""A pack change through the application, on SQLite and PostgreSQL: a past day is judged by the version in
force on it, today by today's (retention too: a run applies today's rule). The change is made up (tests/support/pack_history.py), written to tmp_path."""

import json
from datetime import date as D

import pytest

from domain.errors import OutOfOrder
from infrastructure.checkpoints import create_signing_key_file
from infrastructure.policy_packs import ENV_POLICY_DIR
from tests.support.acting import acting
from tests.support.pack_history import (BCP_CASE_RECORDS_EIGHT_YEARS, BCP_EIGHT_YEARS_FROM_MARCH, BCP_FORTNIGHTLY_FROM_MARCH,
                                        BCP_REBOOKING_FROM_MARCH, packs_with_history)
from tests.support.retention import destroy_case_records_due, destroy_due, leaver_with_a_signed_record
from tests.support.scheduling import at, held, new_worker, supervisors


@pytest.fixture
def versioned(monkeypatch, tmp_path):
    """Requested before `ledger`, so the application finds bcp's history where it looks for packs."""
    folder = packs_with_history(tmp_path / "packs", versions=BCP_FORTNIGHTLY_FROM_MARCH + BCP_REBOOKING_FROM_MARCH)
    monkeypatch.setenv(ENV_POLICY_DIR, str(folder))
    return folder


def row(board, worker: str):
    return next(r for r in board.rows if r.worker_id == worker)


def test_compliant_on_a_past_day_under_the_old_frequency_and_due_under_the_new(versioned, application, clock):
    app = application
    _, supervisor = supervisors(app, clock)
    worker = new_worker(app, clock, supervisor, "experienced", D(2025, 6, 2))
    held(app, clock, worker, supervisor, D(2026, 1, 26))
    held(app, clock, worker, supervisor, D(2026, 2, 2))
    clock.set(at(D(2026, 3, 10)))  # today: fortnightly since 1 March

    # 20 Feb, under monthly: due 2 March by the old rule, but fortnightly comes first (1 March); from the
    # session of 2 Feb that rule wants 16 Feb, before it existed: due on its first day, not overdue.
    past = row(app.scheduling.compliance_dashboard(as_of=D(2026, 2, 20)), worker).frequency
    assert (past.status, past.due, past.days_overdue) == ("on_time", D(2026, 3, 1), 0)
    assert app.policy.compliance_pack(on=D(2026, 2, 20)).frequency.experienced.phases[0].every.months == 1

    now = row(app.scheduling.compliance_dashboard(), worker).frequency
    assert (now.status, now.due, now.days_overdue) == ("overdue", D(2026, 3, 1), 9)
    assert "fortnight" in now.rule.lower()

    # February is judged by monthly (one session met it); March so far by fortnightly.
    february = next(r for r in app.scheduling.frequency_report("2026-02").rows if r.worker_id == worker)
    assert february.met and "month" in february.rule.lower()
    march = next(r for r in app.scheduling.frequency_report("2026-03").rows if r.worker_id == worker)
    assert not march.met and "fortnight" in march.rule.lower()


def test_a_single_version_pack_judges_every_day_alike(application, clock):
    app = application
    _, supervisor = supervisors(app, clock)
    worker = new_worker(app, clock, supervisor, "experienced", D(2025, 6, 2))
    held(app, clock, worker, supervisor, D(2026, 2, 2))
    clock.set(at(D(2026, 3, 10)))
    assert app.policy.compliance_pack(on=D(2000, 1, 1)) is app.policy.compliance_pack()
    assert row(app.scheduling.compliance_dashboard(as_of=D(2026, 2, 20)), worker).frequency.due == D(2026, 3, 2)


def test_a_cancelled_session_is_rebooked_by_the_version_in_force_when_it_was_missed(versioned, application, clock):
    app = application
    _, supervisor = supervisors(app, clock)
    worker = new_worker(app, clock, supervisor, "experienced", D(2025, 6, 2))
    clock.set(at(D(2026, 2, 16)))
    february = str(app.scheduling.schedule_session(acting(supervisor), supervisee_id=worker,
                                                   starts_at=at(D(2026, 2, 23), 10),
                                                   planned_minutes=60).id)
    march = str(app.scheduling.schedule_session(acting(supervisor), supervisee_id=worker,
                                                starts_at=at(D(2026, 3, 9), 10),
                                                planned_minutes=60).id)
    clock.set(at(D(2026, 3, 2)))
    # Missed in February, when bcp set no rebooking deadline: none now either.
    assert app.scheduling.rebook_by(app.scheduling.cancel_session(acting(supervisor), february, "operational")) is None
    # Missed on 9 March, under the new version: 5 working days.
    assert app.scheduling.rebook_by(app.scheduling.cancel_session(acting(supervisor), march, "operational")) == D(2026,
                                                                                                                  3, 16)


@pytest.fixture
def eight_years(monkeypatch, tmp_path, settings):
    """bcp's retention lengthened from six to eight years from 1 March 2026, for personal files and case supervision
    records (made up); a signing key for the run."""
    create_signing_key_file(settings.signing_key_file, settings.organisation_origin)
    folder = packs_with_history(tmp_path / "packs", versions=BCP_EIGHT_YEARS_FROM_MARCH + BCP_CASE_RECORDS_EIGHT_YEARS)
    monkeypatch.setenv(ENV_POLICY_DIR, str(folder))
    return folder


def test_retention_is_judged_by_the_version_in_force_on_the_day_and_a_run_by_todays(eight_years, application, clock):
    app = application
    clock.set(at(D(2026, 2, 10)))
    _, leaver, _ = leaver_with_a_signed_record(app)  # left 30 June 2019
    assert app.retention.archive_leaver(acting("hr"), leaver) == D(2025, 6, 30)  # six years, the version in force today
    proposal = app.retention.propose_destruction(acting("dpo"))  # due on 10 February under six years
    assert proposal.item_ids == [leaver]
    app.retention.approve_destruction(acting("hr"), proposal.id, rationale="checked against the retention schedule")

    clock.set(at(D(2026, 3, 10)))  # eight years since 1 March
    # the schedule as of a past day shows what was due under the version in force that day ...
    then = next(f for f in app.retention.retention_schedule(D(2026, 2, 10)) if f.worker_id == leaver)
    assert (then.status, then.destruction_date) == ("due", D(2025, 6, 30)) and "= 6" in (then.rule or "")
    # ... and today's, under today's
    now = next(f for f in app.retention.retention_schedule(D(2026, 3, 10)) if f.worker_id == leaver)
    assert (now.status, now.destruction_date) == ("retained", D(2027, 6, 30)) and "= 8" in (now.rule or "")
    # a run today applies the rule in force today: the file approved under six years is left, whole
    outcomes = app.retention.run_retention(acting("dpo"), proposal.id)
    assert [(o.worker_id, o.status) for o in outcomes] == [(leaver, "skipped_retained")]
    assert app.people.get_worker(leaver).name == "Lee Vaughan" and not app.retention.certificate_path(leaver).exists()
    # and nothing is proposed today, even for a day when six years applied: destruction acts under today's rule
    with pytest.raises(OutOfOrder, match="nothing to propose"):
        app.retention.propose_destruction(acting("dpo"), as_of=D(2026, 2, 10))

    clock.set(at(D(2027, 7, 1)))  # eight years after leaving: due, and destroyed under the eight-year rule
    [done] = destroy_due(app, D(2027, 7, 1))
    assert (done.worker_id, done.status, done.destruction_date) == (leaver, "destroyed", D(2027, 6, 30))
    assert "= 8" in done.rule and "8 years" in done.rule


def test_case_records_retention_is_judged_by_the_version_in_force_on_the_day(eight_years, application, clock):
    app = application
    clock.set(at(D(2026, 2, 10)))
    supervisor, _, stayer = leaver_with_a_signed_record(app)
    record = str(app.case_records.record_case_supervision(acting(supervisor), worker_id=stayer,
                                                          case_reference="LCS 55821",
                                                          discussed_on=D(2019, 5,
                                                                         2), discussion="Worries about neglect",
                                                          decisions="Strategy discussion requested").id)
    disposal = app.case_records.propose_case_record_destruction(acting("dpo"))  # due under six years on 10 February
    app.case_records.review_case_record_destruction(acting("hr"), disposal.id, approve=True, rationale="checked")

    clock.set(at(D(2026, 3, 10)))
    def status(on):  # noqa: E306, ANN001, ANN202
        found = next(r for r in app.case_records.case_record_schedule(acting("dpo"), as_of=on) if r.record_id == record)
        return found.status, found.destruction_date
    assert status(D(2026, 2, 10)) == ("due", D(2025, 5, 2))  # as the version of that day had it
    assert status(D(2026, 3, 10)) == ("retained", D(2027, 5, 2))
    # the run today, under eight years, leaves the record approved under six
    assert app.case_records.destroy_case_records(acting("dpo"), disposal.id).destroyed == []
    assert app.case_records.get_case_record(record).discussion == "Worries about neglect"
    with pytest.raises(OutOfOrder, match="nothing to propose"):
        app.case_records.propose_case_record_destruction(acting("dpo"), as_of=D(2026, 2, 10))

    clock.set(at(D(2027, 5, 3)))
    assert destroy_case_records_due(app, D(2027, 5, 3)).destroyed == [record]
    assert "years_after_discussion = 8" in json.loads(app.case_records.case_record_certificate_path(record).read_text())[
        "statement"]
