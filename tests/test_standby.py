"""Past one machine: a PostgreSQL hot standby, made here as a real deployment makes one (its own primary cluster,
`pg_basebackup`, streaming replication). `svl verify` run against the standby reads what the primary wrote and
agrees with the primary; it writes nothing, so it runs where every write is refused, while the application
itself cannot be opened for writing there.

The clusters are the test's own (initdb on free ports on 127.0.0.1, trust for replication there only): the
machine's PostgreSQL server is not reconfigured."""

from __future__ import annotations

import base64
import json
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from api.application import Storage, SupervisionApplication
from api.cli import app as svl
from domain.authorisation import Role
from infrastructure import svl_verify
from infrastructure.ledger_store import EventsTable
from infrastructure.settings import Settings
from tests.support.acting import acting
from tests.support.staff import content, staff
from tests.support.ports import free_port

SAFETY_LIMIT_S = 600  # only so that a wedged cluster ends the test; every wait below is on a condition


def _bin_dir() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_basebackup"))
    return found[-1].parent if found else None


@dataclass
class Cluster:
    data: Path
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"


class Clusters:
    """Runs PostgreSQL's own tools as the `postgres` account (they refuse to run as root)."""

    def __init__(self, bin_dir: Path, root: Path) -> None:
        self.bin = bin_dir
        self.root = root
        self.account = pwd.getpwnam("postgres")
        self.started: list[Cluster] = []

    def command(self, tool: str, *args: str) -> list[str]:
        command = [str(self.bin / tool), *args]
        return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command

    def run(self, tool: str, *args: str) -> None:
        done = subprocess.run(self.command(tool, *args), capture_output=True, text=True)
        assert done.returncode == 0, f"{tool} failed: {done.stdout}{done.stderr}"

    def directory(self, name: str) -> Path:
        path = self.root / name
        path.mkdir(mode=0o700)
        os.chown(path, self.account.pw_uid, self.account.pw_gid)
        return path

    def start(self, cluster: Cluster) -> None:
        self.run("pg_ctl", "-D", str(cluster.data), "-l", str(cluster.log), "-W", "start")  # -W: we wait below
        self.started.append(cluster)
        deadline = time.monotonic() + SAFETY_LIMIT_S
        while True:
            try:
                with psycopg.connect(cluster.url, connect_timeout=2) as conn:
                    conn.execute("SELECT 1")
                return
            except psycopg.OperationalError:
                log = cluster.log.read_text() if cluster.log.exists() else ""
                # Our own early connection attempts are logged as FATAL "starting up": not a failure.
                failed = [line for line in log.splitlines() if ("FATAL" in line or "PANIC" in line)
                          and "starting up" not in line and "not yet accepting connections" not in line]
                if failed or time.monotonic() > deadline:
                    pytest.fail(f"PostgreSQL on port {cluster.port} did not start:\n{log}")
                time.sleep(0.2)

    def stop_all(self) -> None:
        for cluster in reversed(self.started):
            subprocess.run(self.command("pg_ctl", "-D", str(cluster.data), "-m", "immediate", "stop"),
                           capture_output=True)


@pytest.fixture(scope="module")
def replicated() -> Iterator[tuple[Cluster, Cluster]]:
    bin_dir = _bin_dir()
    if bin_dir is None:
        pytest.skip("PostgreSQL's server tools (initdb, pg_basebackup) are not installed")
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        pytest.skip("no postgres account to run the test's own clusters as")
    root = Path(tempfile.mkdtemp(prefix="svl-standby-"))
    root.chmod(0o755)  # the postgres account must reach its directories inside
    clusters = Clusters(bin_dir, root)
    try:
        sockets = clusters.directory("sockets")
        sockets.chmod(0o755)
        primary = Cluster(clusters.directory("primary"), free_port(), root / "primary.log")
        clusters.run("initdb", "-D", str(primary.data), "-A", "trust", "-U", "postgres", "--no-sync")
        with (primary.data / "postgresql.conf").open("a") as conf:
            conf.write(f"\nport = {primary.port}\nlisten_addresses = '127.0.0.1'\n"
                       f"unix_socket_directories = '{sockets}'\nwal_level = replica\nmax_wal_senders = 4\n"
                       "fsync = off\n")
        primary.log.touch()
        os.chown(primary.log, clusters.account.pw_uid, clusters.account.pw_gid)
        clusters.start(primary)

        standby = Cluster(clusters.directory("standby"), free_port(), root / "standby.log")
        standby.log.touch()
        os.chown(standby.log, clusters.account.pw_uid, clusters.account.pw_gid)
        # -R writes standby.signal and primary_conninfo: the copy starts as a streaming hot standby.
        clusters.run("pg_basebackup", "-h", "127.0.0.1", "-p", str(primary.port), "-U", "postgres",
                     "-D", str(standby.data), "-R", "-X", "stream", "-c", "fast", "--no-sync")
        with (standby.data / "postgresql.auto.conf").open("a") as conf:
            conf.write(f"\nport = {standby.port}\n")
        clusters.start(standby)
        yield primary, standby
    finally:
        clusters.stop_all()
        shutil.rmtree(root, ignore_errors=True)


def wait_until_replayed(primary: Cluster, standby: Cluster) -> None:
    """Until the standby has replayed everything the primary had written when asked."""
    with psycopg.connect(primary.url, autocommit=True) as conn:
        target = conn.execute("SELECT pg_current_wal_lsn()").fetchone()[0]
    deadline = time.monotonic() + SAFETY_LIMIT_S
    with psycopg.connect(standby.url, autocommit=True) as conn:
        while not conn.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (target,)).fetchone()[0]:
            assert time.monotonic() < deadline, "the standby stopped replaying"
            time.sleep(0.05)


def test_verify_on_the_standby_agrees_with_the_primary(replicated, tmp_path: Path) -> None:
    primary, standby = replicated
    keys = tmp_path / "keys"
    keys.mkdir()
    master_key = os.urandom(32)
    (keys / "master.key").write_text(base64.b64encode(master_key).decode() + "\n")
    on_primary = Settings(database_url=primary.url, database_schema="svl", master_key_file=keys / "master.key",
                          signing_key_file=keys / "signing.key", certificate_dir=tmp_path / "certificates")
    env = {"SVL_DATABASE_SCHEMA": "svl", "SVL_MASTER_KEY_FILE": str(keys / "master.key"),
           "SVL_SIGNING_KEY_FILE": str(keys / "signing.key"), "SVL_CHECKPOINT_DIR": str(tmp_path / "published"),
           "SVL_USER": "", "COLUMNS": "200"}
    runner = CliRunner()

    def cli(database: Cluster, *args: str, code: int = 0) -> str:
        result = runner.invoke(svl, list(args), env={**env, "SVL_DATABASE_URL": database.url})
        assert result.exit_code == code, result.output + repr(result.exception)
        assert "Traceback" not in result.output
        return result.output

    cli(primary, "init")
    app = SupervisionApplication(Storage.open(on_primary, master_key=master_key))
    try:
        assert EventsTable.of(on_primary).name == app.recorder.events_table_name
        _, supervisor, worker = staff(app)
        for n in range(3):
            rid = app.records.draft_record(acting(supervisor), supervisee_id=worker, content=content(f"Session {n}")).id
            app.records.share_record(acting(supervisor), rid)
            app.records.sign_record(acting(worker, Role.SUPERVISEE), rid, app.records.get_record(rid).content_sha256)
        app.integrity.checkpoint()
    finally:
        app.close()
        app.storage.engine.dispose()

    wait_until_replayed(primary, standby)
    on_primary_report = json.loads(cli(primary, "verify", "--json"))
    on_standby_report = json.loads(cli(standby, "verify", "--json"))
    assert on_primary_report["intact"] and on_standby_report["intact"], on_standby_report
    assert on_standby_report["events"] == on_primary_report["events"] > 0
    assert on_standby_report["root"] == on_primary_report["root"]
    assert on_standby_report["checkpoints_checked"] == on_primary_report["checkpoints_checked"] >= 1

    # The standby is read-only all through: the application cannot be opened there to write.
    on_standby = Settings(database_url=standby.url, database_schema="svl", master_key_file=keys / "master.key",
                          signing_key_file=keys / "signing.key", certificate_dir=tmp_path / "certificates")
    with pytest.raises(Exception, match="read-only transaction|recovery"):
        SupervisionApplication(Storage.open(on_standby, master_key=master_key))

    # Proofs are served from the standby when it has what they need, and from the primary when it has not.
    app = SupervisionApplication(Storage.open(replace(on_primary, standby_database_url=standby.url),
                                         master_key=master_key))
    try:
        ledger = app.integrity
        nid = app.recorder.max_notification_id()
        from_standby = ledger.inclusion(nid)
        assert ledger.served_from_standby == 1
        ledger.standby, standby_stores = None, ledger.standby
        assert ledger.inclusion(nid) == from_standby  # the primary's answer, byte for byte
        ledger.standby = standby_stores
        cp = svl_verify.verify_checkpoint(from_standby["checkpoint"], ledger.verifier_key())
        assert svl_verify.verify_inclusion(base64.b64decode(from_standby["leaf_hash"]), from_standby["leaf_index"],
                                           cp.tree_size, [base64.b64decode(p) for p in from_standby["proof"]],
                                           cp.root_hash)

        with psycopg.connect(standby.url, autocommit=True) as conn:
            conn.execute("SELECT pg_wal_replay_pause()")
        try:
            rid = app.records.draft_record(acting(supervisor), supervisee_id=worker, content=content("While paused")).id
            app.integrity.checkpoint()
            newest = app.recorder.max_notification_id()
            answer = ledger.inclusion(newest)  # the standby has not replayed it: the primary answers
            size = ledger.store.size()  # the primary's tree, which the standby has not replayed
            assert answer["tree_size"] == size > from_standby["tree_size"] and ledger.served_from_standby == 1
            assert ledger.consistency(from_standby["tree_size"])["to_size"] == size
            assert ledger.served_from_standby == 1
            assert rid
        finally:
            with psycopg.connect(standby.url, autocommit=True) as conn:
                conn.execute("SELECT pg_wal_replay_resume()")
    finally:
        app.close()
        app.storage.engine.dispose()


def test_a_past_version_is_read_from_the_standby_and_logged_on_the_primary_first(replicated, tmp_path: Path) -> None:
    """An earlier version of a record is replayed from the standby's events; the decision, the keys and the
    access-log entry are the primary's, the entry committed there before the record is returned. When the
    primary cannot take the entry, nothing is returned, though the standby could have served it."""
    from uuid import UUID

    from eventsourcing.persistence import StoredEvent

    from api.access_service import AccessLogUnavailable, Via
    from domain.access_log import AccessLogEntry
    from infrastructure.checkpoints import create_signing_key_file

    primary, standby = replicated
    master_key = os.urandom(32)
    (tmp_path / "keys").mkdir()
    settings = Settings(database_url=primary.url, database_schema="svl_reads",
                        master_key_file=tmp_path / "keys" / "master.key",
                        signing_key_file=tmp_path / "keys" / "signing.key", certificate_dir=tmp_path / "certificates",
                        checkpoint_dir=None, database_lock_timeout=1.0, standby_database_url=standby.url)
    create_signing_key_file(settings.signing_key_file, settings.organisation_origin)
    app = SupervisionApplication(Storage.open(settings, master_key=master_key))
    via = Via("http", "203.0.113.9")

    def entries_on_the_primary() -> int:
        """Access-log entries committed on the primary, read on a connection of the test's own (topics are sealed:
        each stored event is opened to see what it is)."""
        with psycopg.connect(primary.url, autocommit=True) as conn:
            rows = conn.execute(f'SELECT originator_id, originator_version, topic, state '
                                f'FROM "svl_reads".{app.recorder.events_table_name}').fetchall()
        return sum(isinstance(app.mapper.to_domain_event(StoredEvent(UUID(str(r[0])), r[1], r[2], bytes(r[3]))),
                              AccessLogEntry.Event) for r in rows)

    try:
        _, supervisor, worker = staff(app)
        rid = app.records.draft_record(acting(supervisor), supervisee_id=worker, content=content("First draft")).id
        app.records.share_record(acting(supervisor), rid)
        app.records.sign_record(acting(worker, Role.SUPERVISEE), rid, app.records.get_record(rid).content_sha256)
        current = app.records.get_record(rid)
        assert current.version >= 3
        wait_until_replayed(primary, standby)

        before = entries_on_the_primary()
        record, decision = app.access.read_record_content(acting(supervisor), rid, action="read_as_of", via=via,
                                                          version=1)
        assert decision.allowed and app.access.records_read_from_standby == 1
        assert record.version == 1 and record.content == app.records.get_record(rid, version=1).content
        assert record.content["discussion"] == "First draft"
        assert entries_on_the_primary() == before + 1  # committed on the primary by the time it was returned

        # The primary cannot take the entry (its event table is locked): the read is refused, nothing logged.
        with psycopg.connect(primary.url) as blocker:
            blocker.execute(f'LOCK TABLE "svl_reads".{app.recorder.events_table_name} IN EXCLUSIVE MODE')
            with pytest.raises(AccessLogUnavailable):
                app.access.read_record_content(acting(supervisor), rid, action="read_as_of", via=via, version=2)
            blocker.rollback()
        assert app.access.records_read_from_standby == 2  # the standby had it; it was still not returned
        assert entries_on_the_primary() == before + 1

        # A version the standby has not replayed yet is read from the primary, and logged the same way.
        with psycopg.connect(standby.url, autocommit=True) as conn:
            conn.execute("SELECT pg_wal_replay_pause()")
        try:
            newer = app.records.draft_record(acting(supervisor), supervisee_id=worker,
                                             content=content("While paused")).id
            app.records.share_record(acting(supervisor), newer)
            record, _ = app.access.read_record_content(acting(supervisor), newer, action="read_as_of", via=via,
                                                       version=1)
            assert record.version == 1 and app.access.records_read_from_standby == 2
            assert entries_on_the_primary() == before + 2
        finally:
            with psycopg.connect(standby.url, autocommit=True) as conn:
                conn.execute("SELECT pg_wal_replay_resume()")
    finally:
        app.close()
        app.storage.engine.dispose()
