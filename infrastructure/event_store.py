"""The event store: eventsourcing's own SQLite and PostgreSQL recorders, with the ledger leaf written
in the same transaction as the events it covers. The PostgreSQL recorder is in event_store_pg.py, named here by
its topic so that a process on SQLite never imports psycopg.
"""

import contextlib
import math
from collections.abc import Iterator, Sequence
from contextvars import ContextVar
from typing import Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError, StoredEvent
from eventsourcing.persistence import ApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteCursor, SQLiteFactory
from eventsourcing.utils import get_topic
from sqlalchemy.engine import make_url

from infrastructure.database import libpq_connect_timeout, postgres_timeouts
from infrastructure.key_rows import KeyRowWriter
from infrastructure.ledger_append import LedgerAppender
from infrastructure.settings import Settings
from infrastructure.write_turns import WriteTurns, turns_for

# The name of our own setting for the SQLite factory: how long an append waits for its turn (SVL_DB_WRITE_WAIT).
SQLITE_WRITE_WAIT = "SVL_SQLITE_WRITE_WAIT"

# What a recorder's `read_ahead` read for the loads of one command, by (aggregate id, the version it was cached at,
# None if not cached): the events stored after it.
_READ_AHEAD: ContextVar[dict[tuple[UUID, int | None], list[StoredEvent]] | None] = ContextVar("svl_read_ahead",
                                                                                             default=None)


def read_ahead_for(originator_id: Any, gt: int | None, lte: int | None, desc: bool,
                   limit: int | None) -> list[StoredEvent] | None:
    """The events a `select_events` asks for, if `read_ahead` has just read these very ones (the fast-forward of
    a cached aggregate from the version it was read ahead for, or the reading of one not cached), once."""
    ahead = _READ_AHEAD.get()
    if ahead is None or lte is not None or desc or limit is not None:
        return None
    return ahead.pop((UUID(str(originator_id)), gt), None)


@contextlib.contextmanager
def reading_ahead(found: dict[tuple[UUID, int | None], list[StoredEvent]]) -> Iterator[None]:
    token = _READ_AHEAD.set(found)
    try:
        yield
    finally:
        _READ_AHEAD.reset(token)


class LedgeredSQLiteRecorder(SQLiteApplicationRecorder):
    _keys = KeyRowWriter("qmark")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._ledger = LedgerAppender("qmark")
        self._turns: WriteTurns = turns_for(self.datastore.pool.db_name)
        self.write_wait = 30.0  # set by TurnTakingSQLiteFactory from SVL_DB_WRITE_WAIT

    def latest_versions(self, originator_ids: Sequence[UUID]) -> dict[UUID, int]:
        """Each aggregate's newest version, in one query (a page that names many people asks for all at once)."""
        if not originator_ids:
            return {}
        marks = ", ".join("?" for _ in originator_ids)
        with self.datastore.transaction(commit=False) as c:
            c.execute(f"SELECT originator_id, MAX(originator_version) AS v FROM {self.events_table_name} "
                      f"WHERE originator_id IN ({marks}) GROUP BY originator_id", [i.hex for i in originator_ids])
            return {UUID(row["originator_id"]): row["v"] for row in c.fetchall()}

    def select_events(self, originator_id: UUID | str, *, gt: int | None = None, lte: int | None = None,
                      desc: bool = False, limit: int | None = None) -> Sequence[StoredEvent]:
        found = read_ahead_for(originator_id, gt, lte, desc, limit)
        if found is not None:
            return found
        return super().select_events(originator_id, gt=gt, lte=lte, desc=desc, limit=limit)

    @contextlib.contextmanager
    def read_ahead(self, aggregates: Sequence[tuple[UUID, int | None]]) -> Iterator[int]:
        """For the loads of one command: the key epoch and the events stored after each aggregate's cached version
        (None: not cached, all its events), read in one read transaction of the event store's own connection
        instead of an epoch read on a pooled connection and one transaction per load. Yields the epoch; within
        the block the loads of those aggregates are served from what was read here (see the PostgreSQL recorder)."""
        found: dict[tuple[UUID, int | None], list[StoredEvent]] = {}
        with self.datastore.transaction(commit=False) as c:
            c.execute("SELECT epoch FROM key_epochs WHERE id = 1")
            row = c.fetchone()
            epoch = (row[0] if row else 0) or 0
            for originator_id, version in dict.fromkeys(aggregates):
                statement = self.select_events_statement
                params: list[Any] = [originator_id.hex if isinstance(originator_id, UUID) else originator_id]
                if version is not None:
                    statement += "AND originator_version>? "
                    params.append(version)
                c.execute(statement + "ORDER BY originator_version ASC ", params)
                found[(originator_id, version)] = [
                    StoredEvent(originator_id=self.convert_originator_id(r["originator_id"]),
                                originator_version=r["originator_version"], topic=r["topic"], state=r["state"])
                    for r in c.fetchall()]
        with reading_ahead(found):
            yield epoch

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        # In turn with every other writer of this process (infrastructure/write_turns.py), before the library's
        # own writer connection is asked for, so that neither it nor SQLite's lock is ever waited for here.
        with self._turns.turn(self.write_wait):
            notification_ids = super().insert_events(stored_events, **kwargs)
        self._ledger.committed()  # only now may the appender trust the edge it computed
        return notification_ids

    def _insert_events(self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int]:
        self._keys.write(c, kwargs.get("svl_keys"))
        notification_ids = super()._insert_events(c, stored_events, **kwargs)
        assert notification_ids is not None
        # Checked after the inserts, which took the write lock: a read first would make SQLite upgrade the
        # transaction to a writer later, and fail at once ("database is locked") if another wrote meanwhile.
        for originator_id, version in kwargs.get("svl_unchanged") or ():
            c.execute(f"SELECT MAX(originator_version) FROM {self.events_table_name} WHERE originator_id = ?",
                      (originator_id.hex if isinstance(originator_id, UUID) else originator_id,))
            _require_unchanged(originator_id, version, c.fetchone()[0])
        self._keys.refuse_destroyed(c, self._keys.to_check(kwargs.get("svl_keys"),
                                                            (e.originator_id for e in stored_events)))
        self._ledger.append(c, notification_ids, stored_events)
        return notification_ids


def _require_unchanged(originator_id: Any, version: int | None, stored: int | None) -> None:
    """A command decided on aggregates it does not change (e.g. the supervisee's file when a record is
    signed), or on one not existing (version None: no destruction of a file being held has started): if one of
    them changed since it was read, the decision may no longer hold, so nothing is stored."""
    if stored != version:
        raise IntegrityError(f"aggregate {originator_id} changed (version {stored}, decided on {version})")


class TurnTakingSQLiteFactory(SQLiteFactory):
    """The library's SQLite factory, telling our recorder how long an append may wait for its turn."""

    def application_recorder(self) -> ApplicationRecorder:
        recorder = super().application_recorder()
        if isinstance(recorder, LedgeredSQLiteRecorder):
            recorder.write_wait = float(self.env.get(SQLITE_WRITE_WAIT) or recorder.write_wait)
        return recorder


# By topic, not by import: see the module's docstring. The names of our own settings for the factory.
PG_FACTORY = "infrastructure.event_store_pg:BoundedPostgresFactory"
PG_RECORDER = "infrastructure.event_store_pg:LedgeredPostgresRecorder"
POSTGRES_STATEMENT_OPTIONS = "SVL_POSTGRES_SESSION_OPTIONS"
POSTGRES_LIBPQ_CONNECT_TIMEOUT = "SVL_POSTGRES_LIBPQ_CONNECT_TIMEOUT"


def eventsourcing_env(settings: Settings) -> dict[str, str]:
    """The library's own configuration, derived from SVL_DATABASE_URL."""
    if settings.is_sqlite:
        return {
            "PERSISTENCE_MODULE": get_topic(TurnTakingSQLiteFactory),
            "SQLITE_DBNAME": str(settings.sqlite_path),
            # SQLite's busy timeout, for writers of other processes (whole seconds, as the library takes it).
            "SQLITE_LOCK_TIMEOUT": str(max(1, math.ceil(settings.sqlite_busy_timeout))),
            SQLITE_WRITE_WAIT: str(settings.database_write_wait),
            "APPLICATION_RECORDER_TOPIC": get_topic(LedgeredSQLiteRecorder),
        }
    url = make_url(settings.database_url)
    return {
        "PERSISTENCE_MODULE": PG_FACTORY,
        "POSTGRES_DBNAME": url.database or "",
        "POSTGRES_HOST": url.host or "127.0.0.1",
        "POSTGRES_PORT": str(url.port or 5432),
        "POSTGRES_USER": url.username or "postgres",
        "POSTGRES_PASSWORD": url.password or "",
        "POSTGRES_SCHEMA": settings.database_schema,
        # The library's waits, in whole seconds: for a pooled connection, and for the table lock of a write.
        "POSTGRES_CONNECT_TIMEOUT": str(max(1, math.ceil(settings.database_connect_timeout))),
        "POSTGRES_LOCK_TIMEOUT": str(max(1, math.ceil(settings.database_lock_timeout))),
        "POSTGRES_IDLE_IN_TRANSACTION_SESSION_TIMEOUT": "5",
        POSTGRES_STATEMENT_OPTIONS: postgres_timeouts(settings),
        POSTGRES_LIBPQ_CONNECT_TIMEOUT: str(libpq_connect_timeout(settings)),
        "POSTGRES_POOL_SIZE": "2",
        "POSTGRES_MAX_OVERFLOW": "8",
        "APPLICATION_RECORDER_TOPIC": PG_RECORDER,
    }
