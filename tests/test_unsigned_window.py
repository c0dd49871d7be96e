"""The unsigned window: checkpoints scheduled from the database (start-up, shutdown, every few seconds in a
server), removal of the newest events detected against what was published, and a database restored from
before a published checkpoint refused writes. Real processes, real files, both backends."""

from __future__ import annotations

import base64
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from typer.testing import CliRunner

from api.application import Storage, SupervisionApplication
from api.cli import app as svl
from api.http import create_app
from infrastructure.checkpoints import LATEST_FILE, create_signing_key_file
from infrastructure.ledger import LedgerBehind
from infrastructure.svl_verify import parse_checkpoint
from tests.support.acting import acting
from tests.support.environment import env_of
from tests.support.retention import destroy_due, leaver_with_a_signed_record
from tests.support.staff import staff

ROOT = Path(__file__).resolve().parent.parent

WRITE_AND_DIE = """
import os, signal, sys
from datetime import date
from api.application import open_application
from api.demo_cast import HR
app = open_application()
for n in range(int(sys.argv[1])):
    app.people.join_worker(HR, name=f"Worker {n}", role="Social worker", category="experienced", start_date=date(2022, 1, 1))
sys.stdout.write("written\\n")
sys.stdout.flush()
os.kill(os.getpid(), signal.SIGKILL)  # no clean shutdown: nothing signs what was just written
"""


@pytest.fixture
def published(settings, master_key, tmp_path):
    """Settings with a published checkpoint directory, a signing key and the master key on disk."""
    settings.master_key_file.write_text(base64.b64encode(master_key).decode() + "\n")
    create_signing_key_file(settings.signing_key_file, settings.organisation_origin)
    return replace(settings, checkpoint_dir=tmp_path / "published", destroyed_keys_file=tmp_path / "gone.json")


def open_app(settings) -> SupervisionApplication:
    return SupervisionApplication(Storage.open(settings))


def closing(app: SupervisionApplication) -> None:
    app.close()
    app.storage.engine.dispose()


def leaves_and_signed(settings) -> tuple[int, int]:
    app = SupervisionApplication(Storage.open(settings), automatic_checkpoints=False)
    try:
        return app.integrity.store.size(), app.integrity.checkpoints.latest_size() or 0
    finally:
        closing(app)


def cli(settings, *args: str, code: int = 0) -> str:
    result = CliRunner().invoke(svl, list(args), env=env_of(settings))
    assert result.exit_code == code, result.output + repr(result.exception)
    assert "Traceback" not in result.output
    return result.output


def svl_process(settings, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "api.cli", *args], cwd=ROOT, env=env_of(settings, **env),
                          capture_output=True, text=True)


# --- restart drill ---------------------------------------------------------------------------------------

def test_a_killed_writer_leaves_a_tail_that_the_next_process_signs_at_start_up(published) -> None:
    written = subprocess.run([sys.executable, "-c", WRITE_AND_DIE, "7"], cwd=ROOT, capture_output=True, text=True,
                             env=env_of(published, SVL_CHECKPOINT_EVERY_EVENTS="100000"))
    assert written.returncode == -signal.SIGKILL and "written" in written.stdout, written.stderr
    leaves, signed = leaves_and_signed(published)
    assert leaves == 7 and signed == 0  # killed: its events are stored, unsigned

    started = svl_process(published, "rebuild", "--check")  # any process that opens the ledger
    assert started.returncode == 0, started.stderr
    assert leaves_and_signed(published) == (7, 7)
    latest = parse_checkpoint((published.checkpoint_dir / LATEST_FILE).read_text())
    assert latest.tree_size == 7 and (published.checkpoint_dir / "7.checkpoint").is_file()


def test_a_clean_shutdown_signs_what_is_pending(published) -> None:
    app = open_app(replace(published, checkpoint_every_events=100_000))
    staff(app)
    assert leaves_and_signed(published) == (5, 0)
    closing(app)
    assert leaves_and_signed(published) == (5, 5)
    assert parse_checkpoint((published.checkpoint_dir / LATEST_FILE).read_text()).tree_size == 5


def test_a_server_signs_within_seconds_what_any_process_wrote(published) -> None:
    """The server's background thread reads what is pending from the database: events written by another
    process are signed too, and nothing waits for a thousand events."""
    from tests.support.ports import free_port

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "serve", "--port", str(port)], cwd=ROOT, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, env=env_of(published, SVL_CHECKPOINT_EVERY_SECONDS="0.2"))
    try:
        writer = SupervisionApplication(Storage.open(published), automatic_checkpoints=False)
        try:
            staff(writer)
            while leaves_and_signed(published)[1] < 5:  # bounded by the suite's timeout, not a fixed deadline
                assert server.poll() is None, server.stderr.read().decode() if server.stderr else ""
        finally:
            closing(writer)
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert leaves_and_signed(published) == (5, 5)


def test_the_time_of_the_last_checkpoint_comes_from_the_database_not_the_process(published) -> None:
    app = open_app(replace(published, checkpoint_every_events=3))
    try:
        staff(app)  # 5 events: signed at 3
        assert app.integrity.checkpoints.sizes() == [3]
        assert app.auto_checkpoints.pending() == 2  # from the database
    finally:
        closing(app)
    again = open_app(replace(published, checkpoint_every_events=3))
    try:
        assert again.auto_checkpoints.pending() == 0 and again.integrity.checkpoints.sizes() == [3, 5]
    finally:
        closing(again)


# --- the newest events removed ------------------------------------------------------------------------------

def delete_newest(settings, count: int) -> None:
    """Deletes the newest events together with their leaves and the checkpoints that cover them: what is left
    is consistent with itself, and only a published checkpoint can tell."""
    app = SupervisionApplication(Storage.open(settings), automatic_checkpoints=False)
    table = app.recorder.events_table_name
    nid = "rowid" if settings.is_sqlite else "notification_id"
    qualified = table if settings.is_sqlite else f'"{settings.database_schema}"."{table}"'
    leaves = "ledger_leaves" if settings.is_sqlite else f'"{settings.database_schema}".ledger_leaves'
    checkpoints = "ledger_checkpoints" if settings.is_sqlite else f'"{settings.database_schema}".ledger_checkpoints'
    try:
        with app.storage.engine.begin() as conn:
            size = conn.execute(text(f"SELECT COUNT(*) FROM {leaves}")).scalar()
            keep = size - count
            conn.execute(text(f"DELETE FROM {qualified} WHERE {nid} IN (SELECT notification_id FROM {leaves} "
                              "WHERE leaf_index >= :keep)"), {"keep": keep})
            conn.execute(text(f"DELETE FROM {leaves} WHERE leaf_index >= :keep"), {"keep": keep})
            conn.execute(text(f"DELETE FROM {checkpoints} WHERE tree_size > :keep"), {"keep": keep})
    finally:
        closing(app)


def copy_of(settings, tmp_path: Path):
    """On SQLite a copy of the file; on PostgreSQL the test's own schema (dropped after the test)."""
    if not settings.is_sqlite:
        return settings
    (tmp_path / "copy").mkdir()  # a folder of its own: the keys must not be inside the database's folder
    shutil.copy(settings.sqlite_path, tmp_path / "copy" / "copy.db")
    return replace(settings, database_url=f"sqlite:///{tmp_path}/copy/copy.db")


def test_newest_events_deleted_with_their_leaves_are_reported_missing(published, tmp_path) -> None:
    app = open_app(published)
    staff(app)
    closing(app)  # a clean shutdown: the 5 events are signed and published
    assert "intact" in cli(published, "verify", "--checkpoints", str(published.checkpoint_dir))
    assert "0 event(s) lie after the newest checkpoint published" in cli(
        published, "verify", "--checkpoints", str(published.checkpoint_dir))

    copy = copy_of(published, tmp_path)
    delete_newest(copy, 2)
    out = cli(copy, "verify", "--checkpoints", str(published.checkpoint_dir), code=1)
    assert "intact" not in out and "TAMPERED" in out and "truncated tail" in out


def test_verify_states_how_many_events_lie_after_the_newest_published_checkpoint(published) -> None:
    app = open_app(replace(published, checkpoint_every_events=3))
    staff(app)  # signed at 3; 2 pending while the process runs
    try:
        out = cli(published, "verify", "--checkpoints", str(published.checkpoint_dir))
        assert "2 event(s) lie after the newest checkpoint published" in out and "(size 3)" in out
        assert "2 event(s) lie after the newest stored checkpoint" in cli(published, "verify")
    finally:
        closing(app)


# --- a database restored from before a published checkpoint -----------------------------------------------

def backup(settings, tmp_path: Path) -> Path:
    """A real backup: a copy of the SQLite file, or pg_dump of the test's PostgreSQL schema."""
    if settings.is_sqlite:
        target = tmp_path / "backup.db"
        shutil.copy(settings.sqlite_path, target)
        return target
    target = tmp_path / "backup.dump"
    subprocess.run(["pg_dump", "--dbname", settings.database_url, "--schema", settings.database_schema,
                    "--format", "custom", "--file", str(target)], check=True, capture_output=True)
    return target


def restore(settings, saved: Path) -> None:
    if settings.is_sqlite:
        for suffix in ("-wal", "-shm"):
            Path(f"{settings.sqlite_path}{suffix}").unlink(missing_ok=True)
        shutil.copy(saved, settings.sqlite_path)
        return
    subprocess.run(["psql", settings.database_url, "-c", f'DROP SCHEMA "{settings.database_schema}" CASCADE'],
                   check=True, capture_output=True)
    subprocess.run(["pg_restore", "--dbname", settings.database_url, str(saved)], check=True, capture_output=True)


@dataclass
class RolledBack:
    settings: object
    worker: str  # in the backup and after it
    leaver: str  # due for destruction in the backup; destroyed after it
    backup_size: int
    published_size: int


@pytest.fixture
def rolled_back(published, tmp_path) -> RolledBack:
    app = open_app(published)
    _, _, worker = staff(app)
    _, leaver, _ = leaver_with_a_signed_record(app)
    app.retention.archive_leaver(acting("hr"), leaver)
    closing(app)  # signed and published
    saved = backup(published, tmp_path)
    backup_size = leaves_and_signed(published)[0]
    app = open_app(published)
    assert [o.worker_id for o in destroy_due(app, date.today())] == [leaver]
    closing(app)  # the destruction, signed and published
    published_size = parse_checkpoint((published.checkpoint_dir / LATEST_FILE).read_text()).tree_size
    assert published_size > backup_size
    restore(published, saved)
    return RolledBack(published, worker, leaver, backup_size, published_size)


def test_a_rolled_back_database_refuses_writes_and_says_why(rolled_back) -> None:
    settings = rolled_back.settings
    app = open_app(settings)
    try:
        why = app.integrity.writes_refused
        assert why is not None and f"holds {rolled_back.backup_size} ledger leaves" in why
        assert f"checkpoint of {rolled_back.published_size}" in why
        with pytest.raises(LedgerBehind, match="writes refused"):
            app.people.join_worker(acting("hr"), name="Fork", role="r", category="experienced",
                                   start_date=date(2024, 1, 1))
        assert app.people.get_worker(rolled_back.worker).name == "Sam Worker"  # reads go on
        assert app.integrity.store.size() == rolled_back.backup_size  # nothing was written
    finally:
        closing(app)
    assert leaves_and_signed(settings) == (rolled_back.backup_size, rolled_back.backup_size)  # nothing signed


def test_a_rolled_back_database_is_marked_in_health_and_refused_over_http(rolled_back) -> None:
    with TestClient(create_app(rolled_back.settings)) as client:
        health = client.get("/health").json()
        assert health["status"] == "read-only"
        assert f"checkpoint of {rolled_back.published_size}" in health["writes_refused"]
        app = client.app.state.application  # type: ignore[attr-defined]
        app.people.users.add_user("hr1", "administrator", created_by="test")
        token = app.people.users.issue_token("hr1").token
        answer = client.post("/api/v1/workers", headers={"Authorization": f"Bearer {token}"},
                             json={"name": "Fork", "role": "r", "category": "experienced", "start_date": "2024-01-01"})
        assert answer.status_code == 503 and "writes refused" in answer.json()["detail"]


def test_retention_run_on_a_rolled_back_database_ends_with_a_clear_message(rolled_back) -> None:
    settings = rolled_back.settings
    schedule = cli(settings, "retention", "schedule")
    assert "READ-ONLY" in schedule  # reads go on, marked: the destroyed file shows as due here
    app = open_app(settings)
    try:  # an account is no event: the restored database takes it
        app.people.users.add_user("dana", "dpo", created_by="test")
    finally:
        closing(app)
    out = cli(settings, "retention", "run", "--as", "dana", code=2)
    assert "writes refused" in out and f"checkpoint of {rolled_back.published_size}" in out
    assert leaves_and_signed(settings)[0] == rolled_back.backup_size


def test_a_forked_database_with_as_many_events_is_refused_too(rolled_back) -> None:
    settings = rolled_back.settings
    blind = open_app(replace(settings, checkpoint_dir=None))  # does not see what was published: writes
    for n in range(rolled_back.published_size - rolled_back.backup_size + 1):
        blind.people.join_worker(acting("hr"), name=f"Fork {n}", role="r", category="experienced",
                                 start_date=date(2024, 1, 1))
    closing(blind)
    assert leaves_and_signed(settings)[0] > rolled_back.published_size
    app = open_app(settings)
    try:
        why = app.integrity.writes_refused
        assert why is not None and "do not have the root of the checkpoint" in why
    finally:
        closing(app)
