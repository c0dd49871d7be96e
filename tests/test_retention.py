"""A leaver's file is archived, kept for the policy's years, then destroyed by deleting its key —
and nothing about it can be read again, not even from a restored backup."""

import base64
import dataclasses
import json
import os
import signal
import subprocess
import sys
from datetime import date, datetime, timezone
from pathlib import Path
from uuid import UUID

import pytest
from hypothesis import given, settings as hyp_settings, strategies as st
from sqlalchemy import select, text, update

from api.access_service import AccessDenied
from api.application import Storage, SupervisionApplication
from api.errors import Destroyed
from domain.errors import DomainError, OutOfOrder
from domain.policy import PolicyIncomplete
from domain.retention import retention_status
from domain.schedule_rules import destruction_date
from infrastructure.checkpoints import create_signing_key_file
from infrastructure.keys import data_keys
from infrastructure.svl_verify import main as svl_verify_main
from infrastructure.policy_packs import load_all_packs, load_pack_by_name
from projections.schema import current_records, workers
from tests.support.acting import acting
from tests.support.retention import SECRET, destroy_due, leaver_with_a_signed_record, record_of

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def signing_key(settings):
    """Every destruction is certified: the organisation's signing key exists (as `svl init` makes it)."""
    create_signing_key_file(settings.signing_key_file, settings.organisation_origin)


def status_of(app: SupervisionApplication, worker: str, on: date) -> str:
    return next(f.status for f in app.retention.retention_schedule(on) if f.worker_id == worker)


def test_a_leaver_is_archived_with_the_packs_destruction_date_and_falls_due_on_it(application):
    _, leaver, _ = leaver_with_a_signed_record(application)
    assert application.retention.archive_leaver(acting("hr"), leaver) == date(2025, 6, 30)  # bcp: 6 years after leaving
    assert status_of(application, leaver, date(2025, 6, 29)) == "retained"
    assert status_of(application, leaver, date(2025, 6, 30)) == "due"


def test_dry_run_lists_exactly_what_would_go_and_destroys_nothing(application):
    _, leaver, stayer = leaver_with_a_signed_record(application)
    application.retention.archive_leaver(acting("hr"), leaver)
    [planned] = application.retention.run_retention(acting("dpo"), as_of=date(2026, 3, 1), dry_run=True)
    assert planned.worker_id == leaver and planned.status == "would_destroy"
    assert planned.record_ids == [record_of(application, leaver)]
    assert planned.event_count == 4 + 4  # the record: drafted, shared, two signatures; the worker: joined, allocated, left, archived
    assert application.records.get_record(record_of(application, leaver)).content["discussion"] == SECRET


def test_destruction_makes_every_event_about_the_worker_unreadable_and_spares_everyone_else(application):
    _, leaver, stayer = leaver_with_a_signed_record(application)
    application.retention.archive_leaver(acting("hr"), leaver)
    leaver_record, stayer_record = record_of(application, leaver), record_of(application, stayer)

    [done] = destroy_due(application, date(2026, 3, 1))

    assert done.status == "destroyed" and done.record_ids == [leaver_record]
    with pytest.raises(Destroyed):
        application.records.get_record(leaver_record)
    with pytest.raises(Destroyed):
        application.people.get_worker(leaver)
    assert application.records.get_record(stayer_record).content["discussion"] == SECRET
    assert status_of(application, leaver, date(2026, 3, 1)) == "destroyed"
    with application.storage.engine.connect() as conn:
        assert conn.execute(select(workers.c.worker_id).where(workers.c.worker_id == leaver)).first() is None
        assert conn.execute(select(current_records.c.record_id)
                            .where(current_records.c.supervisee_id == leaver)).first() is None
    with pytest.raises(OutOfOrder, match="nothing to propose"):  # nothing is left due
        application.retention.propose_destruction(acting("dpo"), as_of=date(2026, 3, 1))
    with pytest.raises(OutOfOrder, match="no approved destruction proposal"):
        application.retention.run_retention(acting("dpo"))


def test_read_models_rebuilt_after_a_destruction_match_the_purged_ones(application):
    _, leaver, _ = leaver_with_a_signed_record(application)
    application.retention.archive_leaver(acting("hr"), leaver)
    destroy_due(application, date(2026, 3, 1))
    before = [f.to_dict() for f in application.retention.retention_schedule(date(2026, 3, 1))]
    with application.storage.engine.connect() as conn:
        records_before = sorted(map(tuple, conn.execute(select(current_records)).all()))
    application.read_models.rebuild()
    after = [f.to_dict() for f in application.retention.retention_schedule(date(2026, 3, 1))]
    with application.storage.engine.connect() as conn:
        records_after = sorted(map(tuple, conn.execute(select(current_records)).all()))
    assert (after, records_after) == (before, records_before)


def test_after_destruction_the_database_holds_no_plaintext_and_no_usable_key(application, settings):
    _, leaver, _ = leaver_with_a_signed_record(application)
    application.retention.archive_leaver(acting("hr"), leaver)
    key_id = application.storage.keyring.key_id_for(leaver)
    wrapped = application.storage.keyring.wrapped(key_id)
    assert wrapped is not None
    destroy_due(application, date(2026, 3, 1), purge_ciphertext=True)

    assert application.storage.keyring.wrapped(key_id) is None
    table = application.recorder.events_table_name
    with application.storage.engine.connect() as conn:
        originators = [str(o) for o in conn.execute(
            text("SELECT originator_id FROM key_assignments WHERE key_id = :k"), {"k": key_id}).scalars()]
        states = conn.execute(text(f"SELECT state FROM {table}")).scalars().all()
    assert sum(1 for s in states if bytes(s) == b"") == len(_events_of(application, originators))
    if settings.is_sqlite:
        application.close()
        path = settings.sqlite_path
        raw = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
        assert wrapped not in raw
        assert b"Quillfeather" not in raw and b"Lee Vaughan" not in raw


def _events_of(app: SupervisionApplication, originators: list[str]) -> list:
    return [e for o in originators for e in app.recorder.select_events(UUID(o))]


def test_a_held_file_is_never_destroyed_until_the_hold_is_released(application):
    _, leaver, _ = leaver_with_a_signed_record(application)
    application.retention.archive_leaver(acting("hr"), leaver)
    hold = application.retention.place_hold(acting("io:jones"), leaver, kind="investigation",
                                       reason="Allegation under LADO review",
                                       reference="LADO-2026-014").id
    assert status_of(application, leaver, date(2026, 3, 1)) == "held"
    with pytest.raises(OutOfOrder, match="nothing to propose"):  # held, so not due
        application.retention.propose_destruction(acting("dpo"), as_of=date(2026, 3, 1))
    assert application.records.get_record(record_of(application, leaver)).content["discussion"] == SECRET
    assert application.retention.holds(leaver)[0]["reference"] == "LADO-2026-014"
    # bcp lets only the DPO and HR release a hold (legal_holds.release), whoever placed it.
    with pytest.raises(AccessDenied):
        application.retention.release_hold(acting("io:jones"), hold, reason="Investigation closed, no further action")
    with pytest.raises(AccessDenied):
        application.retention.release_hold(acting("qa"), hold, reason="Investigation closed, no further action")
    assert status_of(application, leaver, date(2026, 3, 1)) == "held"
    released = application.retention.release_hold(acting("dpo"), hold, reason="Investigation closed, no further action")
    assert released.released_at is not None and application.retention.holds(leaver)[0]["released_at"] is not None
    assert [o.worker_id for o in destroy_due(application, date(2026, 3, 1))] == [leaver]


def test_a_pack_without_a_retention_period_refuses_archival_and_destruction(settings, master_key, clock):
    darlington = dataclasses.replace(settings, policy_pack="darlington")
    app = SupervisionApplication(Storage.open(darlington, master_key=master_key), clock)
    try:
        _, leaver, _ = leaver_with_a_signed_record(app)
        with pytest.raises(PolicyIncomplete, match="no retention period"):
            app.retention.archive_leaver(acting("hr"), leaver)
        with pytest.raises(PolicyIncomplete):
            app.retention.run_retention(acting("dpo"), as_of=date(2026, 3, 1), dry_run=True)
        with pytest.raises(PolicyIncomplete):
            app.retention.propose_destruction(acting("dpo"), as_of=date(2026, 3, 1))
    finally:
        app.close()
        app.storage.engine.dispose()


def test_hull_shows_archival_overdue_a_month_after_leaving(settings, master_key, clock):
    hull = dataclasses.replace(settings, policy_pack="hull")
    app = SupervisionApplication(Storage.open(hull, master_key=master_key), clock)
    try:
        _, leaver, _ = leaver_with_a_signed_record(app, leaving=date(2026, 1, 30))
        assert status_of(app, leaver, date(2026, 2, 28)) == "awaiting_archival"  # within one month (28 Feb)
        assert status_of(app, leaver, date(2026, 3, 1)) == "archival_overdue"
        assert app.retention.archive_leaver(acting("hr"), leaver) == date(2033, 1, 30)  # hull: seven years
    finally:
        app.close()
        app.storage.engine.dispose()


def test_only_a_dry_run_may_look_into_the_future(application):
    with pytest.raises(DomainError, match="in the future"):
        application.retention.propose_destruction(acting("dpo"), as_of=date(2099, 1, 1))
    with pytest.raises(DomainError, match="as_of is for a dry run only"):
        application.retention.run_retention(acting("dpo"), as_of=date(2099, 1, 1))
    assert application.retention.run_retention(acting("dpo"), as_of=date(2099, 1, 1), dry_run=True) == []


def test_a_restored_backup_does_not_resurrect_a_destroyed_file(application, settings, master_key, clock):
    _, leaver, _ = leaver_with_a_signed_record(application)
    application.retention.archive_leaver(acting("hr"), leaver)
    record = record_of(application, leaver)
    key_id = application.storage.keyring.key_id_for(leaver)
    backed_up_key = application.storage.keyring.wrapped(key_id)
    destroy_due(application, date(2026, 3, 1))
    application.close()
    # The restore, underneath the application: the old wrapped key is back in the database.
    with application.storage.engine.begin() as conn:
        conn.execute(update(data_keys).where(data_keys.c.key_id == key_id)
                     .values(wrapped_key=backed_up_key, destroyed_at=None))
    restarted = SupervisionApplication(Storage.open(settings, master_key=master_key), clock)
    try:
        assert restarted.storage.keyring.wrapped(key_id) is None
        with pytest.raises(Destroyed):
            restarted.records.get_record(record)
    finally:
        restarted.close()
        restarted.storage.engine.dispose()


@pytest.mark.parametrize("step", ["started", "key_destroyed"])
def test_a_run_killed_midway_is_finished_by_the_next_run(application, settings, master_key, step):
    _, leaver, _ = leaver_with_a_signed_record(application)
    application.retention.archive_leaver(acting("hr"), leaver)
    record = record_of(application, leaver)
    application.people.users.add_user("dpo", "dpo", created_by="test")
    proposal = application.retention.propose_destruction(acting("dpo"), as_of=date(2026, 3, 1))
    application.retention.approve_destruction(acting("hr"), proposal.id, rationale="Checked against the schedule")
    application.close()
    settings.master_key_file.write_text(base64.b64encode(master_key).decode())
    env = {**os.environ, "SVL_DATABASE_URL": settings.database_url, "SVL_DATABASE_SCHEMA": settings.database_schema,
           "SVL_MASTER_KEY_FILE": str(settings.master_key_file), "SVL_SIGNING_KEY_FILE": str(settings.signing_key_file),
           "SVL_CERTIFICATE_DIR": str(settings.certificate_dir), "SVL_CHECKPOINT_DIR": "",
           "SVL_DRILL_PAUSE_AT": step}
    env.pop("SVL_MASTER_KEY", None)
    run = [sys.executable, "-m", "api.cli", "retention", "run", "--as", "dpo"]
    proc = subprocess.Popen(run, cwd=REPO, env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    try:
        _wait_for(proc, f"drill: paused after {step}")
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    env.pop("SVL_DRILL_PAUSE_AT")
    finished = subprocess.run(run + ["--json"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert finished.returncode == 0, finished.stderr
    assert '"status": "resumed_and_destroyed"' in finished.stdout
    certificate = json.loads((settings.certificate_dir / f"destruction-{leaver}.json").read_text())
    assert "user:dpo" in json.dumps(certificate)  # the user the CLI acted as, not free text

    restarted = SupervisionApplication(Storage.open(settings, master_key=master_key))
    try:
        with pytest.raises(Destroyed):
            restarted.records.get_record(record)
        assert status_of(restarted, leaver, date(2026, 3, 1)) == "destroyed"
    finally:
        restarted.close()
        restarted.storage.engine.dispose()


def _wait_for(proc: subprocess.Popen, marker: str) -> None:
    """Waits for the process to say it reached the step; only the test's timeout bounds the wait."""
    assert proc.stderr is not None
    for line in proc.stderr:
        if marker in line:
            return
    proc.wait()
    raise AssertionError(f"the run ended before {marker!r} (exit {proc.returncode})")


PACKS_WITH_PERIODS = {name: pack for name, pack in load_all_packs().items()
                      if pack.retention.years_after_employment_ends is not None}


@hyp_settings(max_examples=300, deadline=None)
@given(name=st.sampled_from(sorted(PACKS_WITH_PERIODS)), leaving=st.dates(date(2000, 1, 1), date(2030, 12, 31)),
       days_after=st.integers(-4000, 4000), holds=st.integers(0, 2))
def test_nothing_is_destroyed_before_its_date_and_everything_due_is(name, leaving, days_after, holds):
    pack = PACKS_WITH_PERIODS[name]
    due_on = destruction_date(pack, leaving)
    on = date.fromordinal(max(1, leaving.toordinal() + days_after))
    status = retention_status(state="archived", leaving_date=leaving, destruction_date=due_on,
                              archival_deadline=None, active_holds=holds, destroyed=False, as_of=on)
    if on < due_on:
        assert status == "retained"
    else:
        assert status == ("held" if holds else "due")
    assert due_on.year - leaving.year == pack.retention.years_after_employment_ends
    assert load_pack_by_name(name) == pack


def test_a_destruction_is_certified_and_the_ledger_still_verifies_every_surviving_record(application, settings, capsys):
    _, leaver, stayer = leaver_with_a_signed_record(application)
    application.retention.archive_leaver(acting("hr"), leaver)
    stayer_record = record_of(application, stayer)
    destroy_due(application, date(2026, 3, 1), purge_ciphertext=True)

    report = application.integrity.verify()
    assert report.intact, [f.describe() for f in report.findings]
    assert len(report.purged) == 8 and all(rechecked for _, _, rechecked in report.purged)
    assert all("retention.years_after_employment_ends = 6" in p.rule for _, p, _ in report.purged)

    certificate = application.retention.certificate_path(leaver)
    assert svl_verify_main([str(certificate), "--key", application.integrity.verifier_key()]) == 0
    said = capsys.readouterr().out
    assert f"destroyed the supervision file of worker {leaver}" in said and "RESULT: VERIFIED" in said
    assert "it was not destroyed before that date" in said

    application.integrity.checkpoint()
    bundle = application.integrity.export_bundle(UUID(stayer_record))
    from infrastructure.svl_verify import verify_bundle
    assert verify_bundle(bundle, trusted_key=application.integrity.verifier_key()).verified


def test_a_certificate_altered_after_signing_does_not_verify(application, capsys):
    _, leaver, _ = leaver_with_a_signed_record(application)
    application.retention.archive_leaver(acting("hr"), leaver)
    destroy_due(application, date(2026, 3, 1))
    certificate = application.retention.certificate_path(leaver)
    certificate.write_text(certificate.read_text().replace("events 8", "events 3"))
    assert svl_verify_main([str(certificate)]) == 1
    assert "RESULT: NOT VERIFIED" in capsys.readouterr().out


def test_an_event_emptied_without_a_destruction_is_reported_as_tampering(application):
    _, leaver, _ = leaver_with_a_signed_record(application)
    events = application.integrity.events
    with application.storage.engine.begin() as conn:
        conn.execute(text(f"UPDATE {events.qualified} SET state = :e WHERE {events.nid} = "
                          f"(SELECT MAX({events.nid}) FROM {events.qualified})"), {"e": b""})
    report = application.integrity.verify()
    assert not report.intact and report.first.kind.value == "altered"
