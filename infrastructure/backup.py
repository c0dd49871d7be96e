"""Consistent snapshots of the database, and their restore. A snapshot never holds a key file.

What a snapshot holds is the database alone: events (sealed), wrapped data keys, ledger leaves,
checkpoints, users and read models. The master key, the signing key and the destroyed-key list live
outside it (see `key_placement_problems` in infrastructure/settings.py), so a stolen backup is ciphertext and wrapped keys only.

A restore brings back data keys that retention destroyed after the snapshot was taken. They are
destroyed again when the restored database is next opened (`reconcile_destroyed_keys`, from the
destroyed-key list kept beside the master key), and their bytes are scrubbed from the database's
files before anything is served (`scrub_key_bytes`).
"""

import logging
import os
import re
import shutil
import sqlite3
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from infrastructure.database import make_engine
from infrastructure.key_tombstones import KeyTombstones
from infrastructure.keys import KeyRing, reconcile_destroyed_keys
from infrastructure.settings import Settings

log = logging.getLogger(__name__)


class BackupError(Exception):
    """A snapshot or restore could not be made; nothing was changed."""


@dataclass(frozen=True)
class Snapshot:
    path: Path
    backend: str
    size_bytes: int


def back_up(settings: Settings, destination: Path) -> Snapshot:
    """SQLite: the online backup API (a consistent copy while the service runs). PostgreSQL: pg_dump of
    the schema, custom format. Refuses to overwrite a file or to write beside the keys."""
    destination = Path(destination)
    if destination.exists():
        raise BackupError(f"{destination} already exists: choose a new file name for the backup")
    keys_folder = settings.master_key_file.resolve().parent
    if destination.resolve().parent == keys_folder:
        raise BackupError(f"{destination} is in {keys_folder}, beside the master key: keep backups apart from keys")
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(destination.name + ".partial")
    try:
        if settings.is_sqlite:
            _sqlite_backup(settings.sqlite_path, partial)
        else:
            _pg_dump(settings, partial)
        os.replace(partial, destination)
    finally:
        partial.unlink(missing_ok=True)
    return Snapshot(destination, "sqlite" if settings.is_sqlite else "postgresql", destination.stat().st_size)


def restore(settings: Settings, source: Path, master_key: bytes, backup_master_key: bytes | None = None) -> list[str]:
    """Replaces the database with a snapshot; stop every process serving it first. Keys destroyed since
    the snapshot are destroyed again and scrubbed before this returns. A snapshot from before a master-key
    rotation is opened with the master key of its time (`backup_master_key`, from escrow) and rewrapped
    under the current one. Returns the ids of the keys destroyed again."""
    source = Path(source)
    if not source.is_file():
        raise BackupError(f"no backup file {source}")
    tombstones = KeyTombstones(settings.tombstones_file, master_key)
    # Destroyed keys are removed from the snapshot on its way in, so their bytes never reach a live file.
    destroyed = {stone.key_id: stone.destroyed_at for stone in tombstones.read()}
    opening = backup_master_key or master_key
    if settings.is_sqlite:
        destroyed_again = _sqlite_restore(source, settings.sqlite_path, destroyed, opening)
    else:
        destroyed_again = _pg_restore(settings, source, destroyed, opening)
    engine = make_engine(settings)
    try:
        keyring = KeyRing(engine, backup_master_key or master_key)
        destroyed_again += reconcile_destroyed_keys(keyring, tombstones)
        if backup_master_key is not None and backup_master_key != master_key:
            keyring.rewrap(master_key)
        scrub_key_bytes(engine, settings)
        _end_web_sessions(engine)
    finally:
        engine.dispose()
    return sorted(set(destroyed_again))


def _end_web_sessions(engine: Engine) -> None:
    """The snapshot's web sessions are not the live ones: one signed out since, or of an account disabled since,
    must not come back with it. Everyone signs in again after a restore."""
    from sqlalchemy import inspect

    from infrastructure.users import web_sessions

    with engine.begin() as conn:
        if inspect(conn).has_table(web_sessions.name):  # a snapshot from before 0005_web_sessions has none
            conn.execute(web_sessions.delete())


def _require_keys_open(wrapped: list[tuple[str, bytes]], master_key: bytes) -> None:
    """Checked before the live database is replaced: a snapshot whose data keys the given master key cannot
    unwrap (taken before a master-key rotation) would leave a database no process can open."""
    for key_id, wrapped_key in wrapped:
        try:
            aes_key_unwrap(master_key, wrapped_key)
        except InvalidUnwrap:
            raise BackupError(f"the backup's data key {key_id} does not open with this master key: the backup was "
                              "taken before a master-key rotation; give the master key of its time "
                              "(--backup-master-key-file): nothing was restored") from None


def scrub_key_bytes(engine: Engine, settings: Settings) -> None:
    """Overwritten key bytes must not linger in SQLite's WAL or in PostgreSQL's old row versions."""
    if settings.is_sqlite:
        with engine.connect() as conn:
            conn.exec_driver_sql("COMMIT")  # PRAGMA wal_checkpoint cannot run inside a transaction
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        # The old row version (still holding the key) is copied by VACUUM FULL while any transaction that
        # began before the destruction could still see it: wait, bounded, for those to end first.
        destroyed_by = conn.exec_driver_sql("SELECT mod(pg_current_xact_id()::text::bigint, 4294967296)::text::xid"
                                            ).scalar()
        deadline = time.monotonic() + OLD_SNAPSHOT_WAIT_SECONDS
        while _older_snapshots(conn, destroyed_by) and time.monotonic() < deadline:
            time.sleep(0.05)
        # FULL rewrites the small key table into a new file; plain VACUUM would only mark old rows free.
        conn.exec_driver_sql("VACUUM FULL data_keys")
        if _older_snapshots(conn, destroyed_by):
            log.warning("a transaction older than the key destruction is still open: the destroyed key's old "
                        "bytes may stay in PostgreSQL's files until it ends and the table is vacuumed again")


OLD_SNAPSHOT_WAIT_SECONDS = 30.0


def _older_snapshots(conn: Any, xid: Any) -> bool:
    return bool(conn.exec_driver_sql(
        "SELECT count(*) FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND datname = current_database() "
        "AND backend_xmin IS NOT NULL AND age(backend_xmin) >= age(%(xid)s::xid)", {"xid": str(xid)}).scalar())


# -- SQLite ------------------------------------------------------------------------------------------------

def _sqlite_backup(live: Path, destination: Path) -> None:
    if not live.exists():
        raise BackupError(f"no database at {live}")
    source = sqlite3.connect(f"file:{live}?mode=ro", uri=True)
    target = sqlite3.connect(destination)
    try:
        source.backup(target)
        # A snapshot is one self-contained file: no WAL beside it.
        target.execute("PRAGMA journal_mode=DELETE")
        if target.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
            raise BackupError("the snapshot failed SQLite's integrity check")
    finally:
        target.close()
        source.close()


def _sqlite_restore(source: Path, live: Path, destroyed: dict[str, str], master_key: bytes) -> list[str]:
    live.parent.mkdir(parents=True, exist_ok=True)
    incoming = live.with_name(live.name + ".restoring")
    shutil.copyfile(source, incoming)
    try:
        conn = sqlite3.connect(incoming, isolation_level=None)
        try:
            if conn.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
                raise BackupError(f"{source} failed SQLite's integrity check: not restored")
            _require_keys_open([(key_id, wrapped) for key_id, wrapped in conn.execute(
                "SELECT key_id, wrapped_key FROM data_keys WHERE wrapped_key IS NOT NULL") if key_id not in destroyed],
                master_key)
            conn.execute("PRAGMA secure_delete=ON")
            conn.execute("BEGIN")
            again = [key_id for (key_id,) in conn.execute("SELECT key_id FROM data_keys WHERE wrapped_key IS NOT NULL")
                     if key_id in destroyed]
            conn.executemany("UPDATE data_keys SET wrapped_key = NULL, destroyed_at = ? WHERE key_id = ?",
                             [(destroyed[key_id], key_id) for key_id in again])
            conn.execute("COMMIT")
            conn.execute("VACUUM")  # a fresh file: no free page still holding an old key
        except sqlite3.DatabaseError as exc:
            raise BackupError(f"{source} is not an SQLite backup of this product: {exc}") from None
        finally:
            conn.close()
        for leftover in (Path(f"{live}-wal"), Path(f"{live}-shm")):
            leftover.unlink(missing_ok=True)
        os.replace(incoming, live)
    finally:
        incoming.unlink(missing_ok=True)
        Path(f"{incoming}-journal").unlink(missing_ok=True)
    return again


# -- PostgreSQL ----------------------------------------------------------------------------------------------

def _libpq_url(settings: Settings) -> str:
    url = make_url(settings.database_url)
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def _run(command: list[str], what: str, stdin: str | None = None) -> str:
    if shutil.which(command[0]) is None:
        raise BackupError(f"{command[0]} is not installed: it is needed to {what} on PostgreSQL")
    done = subprocess.run(command, capture_output=True, text=True, input=stdin)
    if done.returncode != 0:
        # The tool's own last line names the problem; the URL (which may hold a password) is never echoed.
        last = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit {done.returncode}"
        raise BackupError(f"{command[0]} failed to {what}: {last}")
    return done.stdout


def _pg_dump(settings: Settings, destination: Path) -> None:
    _run(["pg_dump", "--format=custom", "--no-owner", f"--schema={settings.database_schema}",
          f"--file={destination}", f"--dbname={_libpq_url(settings)}"], "back up")


def _pg_restore(settings: Settings, source: Path, destroyed: dict[str, str], master_key: bytes) -> list[str]:
    script = _run(["pg_restore", "--no-owner", "--file=-", str(source)], "read the backup")
    script, again, live = _without_destroyed_keys(script, destroyed)
    _require_keys_open(live, master_key)
    # One transaction: the old schema is dropped only if the whole snapshot loads.
    _run(["psql", "--quiet", "--no-psqlrc", "--single-transaction", "-v", "ON_ERROR_STOP=1",
          f"--dbname={_libpq_url(settings)}"], "restore",
         stdin=f'DROP SCHEMA IF EXISTS "{settings.database_schema}" CASCADE;\n' + script)
    return again


def _without_destroyed_keys(script: str, destroyed: dict[str, str]
                            ) -> tuple[str, list[str], list[tuple[str, bytes]]]:
    """Rewrites the `COPY ... data_keys (...) FROM stdin;` block of a pg_restore script: a destroyed key's
    row arrives already destroyed (wrapped_key NULL, its destruction time). Also returns the keys left live,
    wrapped (COPY writes a bytea as `\\x` and its hex)."""
    lines = script.split("\n")
    again: list[str] = []
    live: list[tuple[str, bytes]] = []
    columns: list[str] | None = None
    for i, line in enumerate(lines):
        if columns is None:
            header = re.match(r"^COPY \S*\bdata_keys \((.*)\) FROM stdin;$", line)
            if header:
                columns = [c.strip().strip('"') for c in header.group(1).split(",")]
            continue
        if line == "\\.":
            columns = None
            continue
        row = dict(zip(columns, line.split("\t")))
        if row.get("key_id") in destroyed and row.get("wrapped_key") != "\\N":
            row["wrapped_key"] = "\\N"
            row["destroyed_at"] = destroyed[row["key_id"]]
            lines[i] = "\t".join(row[c] for c in columns)
            again.append(row["key_id"])
        elif row.get("wrapped_key", "\\N") != "\\N":
            live.append((row["key_id"], bytes.fromhex(row["wrapped_key"].removeprefix("\\\\x"))))
    return "\n".join(lines), again, live
