"""Alembic migrations for every table we own that holds primary data: data keys and their assignments, the
integrity ledger's leaves and checkpoints, users and tokens, purged-event digests.

The event store's tables belong to the eventsourcing library, which creates them itself. The read models are not
migrated: they are derived from the event log, so when their definitions change they are dropped, recreated and
replayed (projections/runner.py: `create_tables`, one fingerprint per read model). To change one of our tables, add a revision under versions/ (README:
"Changing the schema").

Functions here work on a connection the caller opened, inside the caller's transaction: the upgrade commits with
it or not at all (PostgreSQL and SQLite both run DDL transactionally).
"""

from pathlib import Path
from typing import Any

from sqlalchemy import Connection, inspect, text

LOCATION = Path(__file__).resolve().parent
BASELINE = "0001_baseline"
# Revision ids fit alembic_version's VARCHAR(32). The newest revision under versions/ (a test checks it): a database already there is opened without loading
# Alembic at all, which every command and server start would otherwise pay for.
HEAD = "0005_web_sessions"
VERSION_TABLE = "alembic_version"
# A table that every database made before migrations existed already has (it is then stamped at the baseline).
BASELINE_MARKER = "data_keys"


def _config(connection: Connection | None = None) -> Any:
    from alembic.config import Config  # only when there is migrating to do (see HEAD)

    config = Config()
    config.set_main_option("script_location", str(LOCATION))
    config.attributes["connection"] = connection
    return config


def head() -> str:
    return HEAD


def scripted_head() -> str | None:
    """The newest revision as Alembic reads it from versions/ (HEAD must name it)."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_config()).get_current_head()


def revision_of(connection: Connection) -> str | None:
    """The revision the database is at (None: never migrated)."""
    if not inspect(connection).has_table(VERSION_TABLE):
        return None
    return connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar_one_or_none()


def upgrade(connection: Connection, target: str = "head") -> tuple[str | None, str | None]:
    """Brings the schema to `target`; returns (revision before, revision after). Concurrent upgraders queue:
    on PostgreSQL behind an advisory lock, on SQLite behind the write lock the caller's transaction holds."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(hashtext('svl-migrations:' || current_schema()))"))
    before = revision_of(connection)
    if before == HEAD and target in ("head", HEAD):
        return before, before
    from alembic import command

    config = _config(connection)
    if before is None and inspect(connection).has_table(BASELINE_MARKER):
        command.stamp(config, BASELINE)  # made by create_all before migrations: it is the baseline
        before = BASELINE
    command.upgrade(config, target)
    return before, revision_of(connection)


def downgrade(connection: Connection, target: str) -> None:
    """Takes the schema back to `target` (only revisions that define a downgrade; for drills and tests)."""
    from alembic import command

    command.downgrade(_config(connection), target)
