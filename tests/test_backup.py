"""Backups hold the database and never its keys; restoring an old one cannot bring back a destroyed file;
rotating the master key makes an old backup useless to whoever holds only the current key."""

import base64
import dataclasses
from datetime import date
from pathlib import Path

import psycopg
import pytest
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap
from typer.testing import CliRunner

from api.application import KeysBesideData, Storage, SupervisionApplication
from api.errors import Destroyed
from api.cli import app as svl
from infrastructure.backup import BackupError, back_up, restore
from infrastructure.checkpoints import create_signing_key_file, load_signing_key
from infrastructure.key_rotation import rotate_master_key
from infrastructure.keys import KeyError_, KeyRing, load_master_key
from infrastructure.web_sessions import SessionStore
from tests.conftest import POSTGRES_URL
from tests.support.retention import leaver_with_a_signed_record, record_of
from tests.support.acting import acting
from tests.support.retention import destroy_due


@pytest.fixture(autouse=True)
def signing_key(settings):
    create_signing_key_file(settings.signing_key_file, settings.organisation_origin)


def _open(settings, master_key, clock=None) -> SupervisionApplication:
    return SupervisionApplication(Storage.open(settings, master_key=master_key), *([clock] if clock else []))


def _close(app: SupervisionApplication) -> None:
    app.close()
    app.storage.engine.dispose()


def _files_of_the_live_database(settings) -> list[Path]:
    """Every file the database is kept in: SQLite's file, WAL and shared memory; PostgreSQL's relation files
    of the key table (read underneath the server, as root on this machine)."""
    if settings.is_sqlite:
        return [p for p in settings.sqlite_path.parent.iterdir() if p.name.startswith(settings.sqlite_path.name)]
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute("CHECKPOINT")  # the server writes its buffers to the relation files first
        data_dir = conn.execute("SHOW data_directory").fetchone()[0]
        relation = conn.execute("SELECT pg_relation_filepath(%s)", (f'"{settings.database_schema}".data_keys',)
                                ).fetchone()[0]
    base = Path(data_dir) / relation
    if not base.exists():
        pytest.fail(f"cannot read PostgreSQL's files at {base}: the drill must read them underneath the server")
    return sorted(base.parent.glob(base.name + "*"))


def test_a_backup_holds_the_database_but_no_key(application, settings, master_key, tmp_path):
    _, leaver, _ = leaver_with_a_signed_record(application)
    snapshot = back_up(settings, tmp_path / "backups" / "svl.backup")
    raw = snapshot.path.read_bytes()
    assert snapshot.size_bytes == len(raw) > 0
    assert master_key not in raw and base64.b64encode(master_key) not in raw
    signing = settings.signing_key_file.read_text().strip().encode()
    # PRIVATE+KEY+<name>+<id>+<base64 key>: the base64 itself may hold "+", so split off the four fields only.
    seed = load_signing_key(settings.signing_key_file).private_key.private_bytes_raw()
    assert signing not in raw and signing.split(b"+", 4)[-1] not in raw and seed not in raw
    with pytest.raises(BackupError, match="already exists"):
        back_up(settings, snapshot.path)
    with pytest.raises(BackupError, match="beside the master key"):
        back_up(settings, settings.master_key_file.parent / "next.backup")


def test_restoring_an_old_backup_does_not_bring_back_a_destroyed_file(application, settings, master_key, clock, tmp_path):
    _, leaver, stayer = leaver_with_a_signed_record(application)
    application.retention.archive_leaver(acting("hr"), leaver)
    destroyed_record, kept_record = record_of(application, leaver), record_of(application, stayer)
    key_id = application.storage.keyring.key_id_for(leaver)
    wrapped_before = application.storage.keyring.wrapped(key_id)
    assert wrapped_before is not None
    snapshot = back_up(settings, tmp_path / "backups" / "before-retention.backup")
    assert wrapped_before in snapshot.path.read_bytes() or not settings.is_sqlite  # pg_dump compresses
    destroy_due(application, date(2026, 3, 1))
    _close(application)

    destroyed_again = restore(settings, snapshot.path, master_key)

    assert destroyed_again == [key_id]
    for path in _files_of_the_live_database(settings):
        assert wrapped_before not in path.read_bytes(), f"the destroyed key's bytes are still in {path}"
    restarted = _open(settings, master_key, clock)
    try:
        with pytest.raises(Destroyed):
            restarted.records.get_record(destroyed_record)
        assert restarted.records.get_record(kept_record).state == "locked"
        assert restarted.integrity.verify().intact
    finally:
        _close(restarted)


def test_a_restore_brings_back_no_web_session(application, settings, master_key, clock, tmp_path):
    user_id = application.people.users.add_user("sam.session", "administrator", created_by="test")
    session = SessionStore(application.storage.engine, application.storage.reads).open(user_id)
    snapshot = back_up(settings, tmp_path / "backups" / "signed-in.backup")
    SessionStore(application.storage.engine).close(session.cookie)  # signed out after the snapshot was taken
    _close(application)

    restore(settings, snapshot.path, master_key)
    restarted = _open(settings, master_key, clock)
    try:
        assert SessionStore(restarted.storage.engine).find(session.cookie) is None
    finally:
        _close(restarted)


def test_keys_inside_the_database_folder_are_refused(settings, master_key):
    if not settings.is_sqlite:
        pytest.skip("only an SQLite database lives in a folder that is backed up whole")
    beside = dataclasses.replace(settings, master_key_file=settings.sqlite_path.parent / "master.key")
    with pytest.raises(KeysBesideData, match="inside .* the folder that holds the database"):
        Storage.open(beside, master_key=master_key)


def test_rotating_the_master_key_leaves_an_old_backup_useless_without_the_old_key(application, settings, master_key,
                                                                                 clock, tmp_path):
    _, leaver, stayer = leaver_with_a_signed_record(application)
    application.retention.archive_leaver(acting("hr"), leaver)
    destroyed_record, kept_record = record_of(application, leaver), record_of(application, stayer)
    destroyed_key = application.storage.keyring.key_id_for(leaver)
    wrapped_in_backup = application.storage.keyring.wrapped(destroyed_key)
    snapshot = back_up(settings, tmp_path / "backups" / "old.backup")
    destroy_due(application, date(2026, 3, 1))
    _close(application)
    settings.master_key_file.write_text(base64.b64encode(master_key).decode() + "\n")

    storage = Storage.open(settings, master_key=master_key)
    rotation = rotate_master_key(storage.keyring, storage.tombstones, settings.master_key_file)
    storage.engine.dispose()
    current = load_master_key(settings.master_key_file, env_value=None)

    assert current != master_key and rotation.rewrapped >= 2  # the organisation key and the stayer's key
    assert not settings.master_key_file.with_name("master.key.next").exists()
    with pytest.raises(InvalidUnwrap):  # the old backup's copy of the destroyed key, with today's master key
        aes_key_unwrap(current, wrapped_in_backup)
    rotated = _open(settings, current, clock)
    try:
        assert rotated.records.get_record(kept_record).state == "locked"
        with pytest.raises(Destroyed):
            rotated.records.get_record(destroyed_record)
    finally:
        _close(rotated)
    with pytest.raises(KeyError_, match="wrong master key"):  # the old key no longer opens the live database
        _open(settings, master_key, clock)

    # Without the old key, that backup is refused before anything is replaced: the live database still opens.
    with pytest.raises(BackupError, match="taken before a master-key rotation.*nothing was restored"):
        restore(settings, snapshot.path, current)
    still = _open(settings, current, clock)
    try:
        assert still.records.get_record(kept_record).state == "locked"
    finally:
        _close(still)

    # A lawful restore of that old backup needs the old key from escrow; it is rewrapped under the current one.
    restore(settings, snapshot.path, current, backup_master_key=master_key)
    restored = _open(settings, current, clock)
    try:
        assert restored.records.get_record(kept_record).state == "locked"
        with pytest.raises(Destroyed):
            restored.records.get_record(destroyed_record)
    finally:
        _close(restored)


def test_backup_and_restore_from_the_command_line(application, settings, master_key, tmp_path):
    _, leaver, _ = leaver_with_a_signed_record(application)
    record = record_of(application, leaver)
    _close(application)
    settings.master_key_file.write_text(base64.b64encode(master_key).decode() + "\n")
    env = {"SVL_DATABASE_URL": settings.database_url, "SVL_DATABASE_SCHEMA": settings.database_schema,
           "SVL_MASTER_KEY_FILE": str(settings.master_key_file), "SVL_SIGNING_KEY_FILE": str(settings.signing_key_file),
           "SVL_MASTER_KEY": None, "COLUMNS": "200"}
    runner = CliRunner()
    target = tmp_path / "backups" / "cli.backup"
    done = runner.invoke(svl, ["backup", str(target)], env=env)
    assert done.exit_code == 0 and "no key file is in it" in done.output, done.output
    again = runner.invoke(svl, ["backup", str(target)], env=env)
    assert again.exit_code == 2 and "already exists" in again.output
    missing = runner.invoke(svl, ["restore", str(tmp_path / "nothing.backup"), "--yes"], env=env)
    assert missing.exit_code == 2 and "no backup file" in missing.output
    restored = runner.invoke(svl, ["restore", str(target), "--yes"], env=env)
    assert restored.exit_code == 0 and "0 data key(s) destroyed since" in " ".join(restored.output.split()), \
        restored.output
    reopened = _open(settings, master_key)
    try:
        assert reopened.records.get_record(record).state == "locked"
    finally:
        _close(reopened)
    if settings.is_sqlite:
        junk = tmp_path / "junk.backup"
        junk.write_bytes(b"not a database at all" * 100)
        refused = runner.invoke(svl, ["restore", str(junk), "--yes"], env=env)
        assert refused.exit_code == 2 and "not an SQLite backup" in refused.output, refused.output
