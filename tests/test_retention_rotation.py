"""A retention run that rotates the master key: a backup taken before the run, with the current master key, cannot
unwrap any key the run destroyed, and the old key is gone from disk; the live database stays readable and
verifiable; a run or a rotation stopped part-way leaves nothing unreadable that was not destroyed."""

import base64
import os
import signal
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap

from api.application import Storage, SupervisionApplication
from api.errors import Destroyed
from domain.errors import DomainError
from infrastructure.backup import BackupError, back_up, restore
from infrastructure.checkpoints import create_signing_key_file
from infrastructure.key_rotation import pending_file
from infrastructure.keys import create_master_key_file, load_master_key
from tests.support.acting import acting
from tests.support.retention import destroy_due, leaver_with_a_signed_record, record_of

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def signing_key(settings):
    create_signing_key_file(settings.signing_key_file, settings.organisation_origin)


@pytest.fixture
def key_in_its_file(settings, master_key):
    """The product keeps the master key in its file, as `svl init` leaves it (a run rotates only such a key)."""
    settings.master_key_file.write_text(base64.b64encode(master_key).decode() + "\n")


def _from_file(settings, clock=None) -> SupervisionApplication:
    return SupervisionApplication(Storage.open(settings), *([clock] if clock else []))


def _close(app: SupervisionApplication) -> None:
    app.close()
    app.storage.engine.dispose()


def _prepared(application):
    _, leaver, stayer = leaver_with_a_signed_record(application)
    application.retention.archive_leaver(acting("hr"), leaver)
    key_id = application.storage.keyring.key_id_for(leaver)
    return leaver, record_of(application, leaver), record_of(application, stayer), key_id


def _key_files_hold(settings, key: bytes) -> list[Path]:
    """Every file in the keys folder that holds this key (raw or as its file's base64)."""
    encoded = base64.b64encode(key)
    return [p for p in settings.master_key_file.parent.iterdir()
            if p.is_file() and (key in p.read_bytes() or encoded in p.read_bytes())]


def _assert_kept_and_destroyed(settings, clock, kept_record, destroyed_record) -> None:
    """Opened from its key file: the kept record reads, the destroyed one is gone, and the ledger verifies."""
    app = _from_file(settings, clock)
    try:
        assert app.records.get_record(kept_record).state == "locked"
        with pytest.raises(Destroyed):
            app.records.get_record(destroyed_record)
        assert app.integrity.verify().intact
    finally:
        _close(app)


def test_after_a_run_that_rotates_an_old_backup_cannot_unwrap_what_it_destroyed(application, settings, master_key,
                                                                              clock, key_in_its_file, tmp_path):
    _, destroyed_record, kept_record, key_id = _prepared(application)
    wrapped_in_backup = application.storage.keyring.wrapped(key_id)
    snapshot = back_up(settings, tmp_path / "backups" / "before-the-run.backup")

    proposal = application.retention.propose_destruction(acting("dpo"), as_of=date(2026, 3, 1))
    application.retention.approve_destruction(acting("hr"), proposal.id, rationale="checked against the retention schedule")
    outcomes = application.retention.run_retention(acting("dpo"), proposal.id, rotate_master_key=True)
    assert [o.status for o in outcomes] == ["destroyed"]
    current = load_master_key(settings.master_key_file, env_value=None)
    assert current != master_key and application.storage.keyring.master_key == current
    # The same process serves on with the new key: the kept record reads, the destroyed one is gone.
    assert application.records.get_record(kept_record).state == "locked"
    with pytest.raises(Destroyed):
        application.records.get_record(destroyed_record)
    _close(application)

    # The old key is nowhere in the keys folder; no rotation is left half-done.
    assert not pending_file(settings.master_key_file).exists()
    assert _key_files_hold(settings, master_key) == []
    # The backup's copy of the destroyed key, with the current key (the only one on disk): nothing.
    with pytest.raises(InvalidUnwrap):
        aes_key_unwrap(current, wrapped_in_backup)
    # `svl restore` of that backup with the current key is refused before anything is replaced.
    with pytest.raises(BackupError, match="taken before a master-key rotation.*nothing was restored"):
        restore(settings, snapshot.path, current)

    _assert_kept_and_destroyed(settings, clock, kept_record, destroyed_record)  # the live database
    # With the old key from escrow the backup restores, and the destroyed file stays destroyed.
    assert restore(settings, snapshot.path, current, backup_master_key=master_key) == [key_id]
    _assert_kept_and_destroyed(settings, clock, kept_record, destroyed_record)


def test_a_run_refuses_to_rotate_while_another_process_holds_the_key(application, settings, clock, key_in_its_file):
    leaver, destroyed_record, _, _ = _prepared(application)
    proposal = application.retention.propose_destruction(acting("dpo"), as_of=date(2026, 3, 1))
    application.retention.approve_destruction(acting("hr"), proposal.id, rationale="checked against the retention schedule")
    other = subprocess.Popen([sys.executable, "-c", (
        "import sys; from api.application import Storage; from infrastructure.settings import Settings; "
        "s = Storage.open(Settings.from_env()); print('open', flush=True); sys.stdin.read()")],
        cwd=REPO, env=_env(settings), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert other.stdout.readline().strip() == "open"
        with pytest.raises(DomainError, match="1 other process.*hold the master key"):
            application.retention.run_retention(acting("dpo"), proposal.id, rotate_master_key=True)
        assert application.records.get_record(destroyed_record)  # refused before anything was destroyed
    finally:
        other.stdin.close()
        other.wait(timeout=60)
    # Once it has gone, the run rotates.
    outcomes = application.retention.run_retention(acting("dpo"), proposal.id, rotate_master_key=True)
    assert [o.worker_id for o in outcomes if o.status == "destroyed"] == [leaver]


def test_a_rotation_stopped_part_way_is_finished_or_undone_at_the_next_opening(application, settings, master_key, clock,
                                                                              key_in_its_file):
    _, _, kept_record, _ = _prepared(application)
    destroy_due(application, date(2026, 3, 1))
    keyring, tombstones = application.storage.keyring, application.storage.tombstones
    listed = tombstones.read()
    _close(application)
    pending = pending_file(settings.master_key_file)

    # Stopped after the new key was written, before the transaction: the new key wrapped nothing; forgotten.
    create_master_key_file(pending, os.urandom(32))
    opened = _from_file(settings, clock)
    try:
        assert not pending.exists() and opened.storage.keyring.master_key == master_key
        assert opened.records.get_record(kept_record).state == "locked"
    finally:
        _close(opened)

    # Stopped after the transaction committed, before the destroyed-key list was rebound and the file replaced.
    new_key = os.urandom(32)
    create_master_key_file(pending, new_key)
    keyring.rewrap(new_key)
    opened = _from_file(settings, clock)
    try:
        assert not pending.exists() and load_master_key(settings.master_key_file, env_value=None) == new_key
        assert opened.records.get_record(kept_record).state == "locked"
        assert opened.storage.tombstones.read() == listed  # rebound to the new key, nothing lost
        assert opened.integrity.verify().intact
    finally:
        _close(opened)
    assert _key_files_hold(settings, master_key) == []


def test_a_run_killed_after_rotating_is_finished_by_the_next(application, settings, master_key, key_in_its_file):
    leaver, destroyed_record, kept_record, key_id = _prepared(application)
    application.people.users.add_user("dpo", "dpo", created_by="test")
    proposal = application.retention.propose_destruction(acting("dpo"), as_of=date(2026, 3, 1))
    application.retention.approve_destruction(acting("hr"), proposal.id, rationale="checked against the retention schedule")
    _close(application)
    env = _env(settings)
    run = [sys.executable, "-m", "api.cli", "retention", "run", "--as", "dpo", "--rotate-master-key"]
    proc = subprocess.Popen(run, cwd=REPO, env={**env, "SVL_DRILL_PAUSE_AT": "rotated"}, stderr=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, text=True)
    try:
        for line in proc.stderr:
            if "drill: paused after rotated" in line:
                break
        else:
            pytest.fail(f"the run ended before rotating (exit {proc.wait()})")
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    # Killed between the rotation and the destructions' completion: the destroyed key is gone, everything else
    # opens with the key now in the file, and the old key is gone.
    rotated = load_master_key(settings.master_key_file, env_value=None)
    assert rotated != master_key and _key_files_hold(settings, master_key) == []
    between = _from_file(settings)
    try:
        assert between.storage.keyring.wrapped(key_id) is None
        assert between.records.get_record(kept_record).state == "locked"
    finally:
        _close(between)

    finished = subprocess.run(run + ["--json"], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr
    assert '"status": "resumed_and_destroyed"' in finished.stdout
    assert load_master_key(settings.master_key_file, env_value=None) not in (master_key, rotated)
    after = _from_file(settings)
    try:
        with pytest.raises(Destroyed):
            after.records.get_record(destroyed_record)
        assert after.records.get_record(kept_record).state == "locked"
        assert after.integrity.verify().intact
    finally:
        _close(after)


def _env(settings) -> dict:
    env = {**os.environ, "SVL_DATABASE_URL": settings.database_url, "SVL_DATABASE_SCHEMA": settings.database_schema,
           "SVL_MASTER_KEY_FILE": str(settings.master_key_file), "SVL_SIGNING_KEY_FILE": str(settings.signing_key_file),
           "SVL_CERTIFICATE_DIR": str(settings.certificate_dir), "SVL_CHECKPOINT_DIR": ""}
    env.pop("SVL_MASTER_KEY", None)
    env.pop("SVL_DRILL_PAUSE_AT", None)
    return env


def test_svl_keys_rotate_master_refuses_while_another_process_holds_the_key(application, settings, master_key,
                                                                           key_in_its_file):
    from typer.testing import CliRunner

    from api.cli import app as svl

    _, _, kept_record, _ = _prepared(application)
    _close(application)
    env = {k: v for k, v in _env(settings).items() if k.startswith("SVL_")} | {"SVL_MASTER_KEY": None,
                                                                                "COLUMNS": "200"}
    other = subprocess.Popen([sys.executable, "-c", (
        "import sys; from api.application import Storage; from infrastructure.settings import Settings; "
        "s = Storage.open(Settings.from_env()); print('open', flush=True); sys.stdin.read()")],
        cwd=REPO, env=_env(settings), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert other.stdout.readline().strip() == "open"
        refused = CliRunner().invoke(svl, ["keys", "rotate-master"], env=env)
        assert refused.exit_code == 2 and "1 other process(es)" in " ".join(refused.output.split()), refused.output
        assert load_master_key(settings.master_key_file, env_value=None) == master_key
    finally:
        other.stdin.close()
        other.wait(timeout=60)
    done = CliRunner().invoke(svl, ["keys", "rotate-master"], env=env)
    assert done.exit_code == 0 and "rotated" in done.output, done.output
    assert _key_files_hold(settings, master_key) == []
    reopened = _from_file(settings)
    try:
        assert reopened.records.get_record(kept_record).state == "locked"
    finally:
        _close(reopened)


def test_a_run_refuses_to_rotate_a_key_that_comes_from_the_environment(application, settings, master_key,
                                                                      key_in_its_file, monkeypatch):
    """A key given by SVL_MASTER_KEY belongs to the organisation's key store: the run says so and destroys nothing."""
    leaver, destroyed_record, _, _ = _prepared(application)
    proposal = application.retention.propose_destruction(acting("dpo"), as_of=date(2026, 3, 1))
    application.retention.approve_destruction(acting("hr"), proposal.id, rationale="checked against the retention schedule")
    monkeypatch.setenv("SVL_MASTER_KEY", base64.b64encode(master_key).decode())
    with pytest.raises(DomainError, match="comes from SVL_MASTER_KEY"):
        application.retention.run_retention(acting("dpo"), proposal.id, rotate_master_key=True)
    assert application.records.get_record(destroyed_record)  # refused before anything was destroyed
    monkeypatch.delenv("SVL_MASTER_KEY")
    outcomes = application.retention.run_retention(acting("dpo"), proposal.id, rotate_master_key=True)
    assert [o.worker_id for o in outcomes if o.status == "destroyed"] == [leaver]
