"""One SQLAlchemy engine for every table we own (keys, ledger, read models), beside the event store."""

import sqlite3
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from datetime import datetime, timezone
from typing import Any

from eventsourcing.persistence import InterfaceError, OperationalError
from sqlalchemy import Connection, Engine, MetaData, create_engine, event, exc, text
from sqlalchemy.dialects.sqlite import DATETIME as SQLiteDateTime
from sqlalchemy.engine import make_url
from sqlalchemy.types import DateTime

from infrastructure import migrations
from infrastructure.key_holders import application_name
from infrastructure.settings import Settings, libpq_connect_timeout, postgres_timeouts
from infrastructure.write_turns import WriteTurnTimedOut, turns_for

# Every table we own is declared on this one MetaData, so `create_all` makes the whole schema.
metadata = MetaData()

def make_engine(settings: Settings, durable_commits: bool = True, pinged: bool = True) -> Engine:
    """`durable_commits=False` (PostgreSQL): a commit returns before its WAL is flushed (`synchronous_commit = off`),
    for the read models alone: what a crash could lose of them is their last few catch-ups, rows and positions
    together (never one without the other), and they are projected again from the log, which commits durably.
    A commit is visible to every session at once either way. SQLite's connections here already commit so
    (synchronous=NORMAL in WAL mode), beside the event store's own connection, which syncs every commit.
    `pinged=False` (PostgreSQL): no ping at checkout (a round trip each), for an engine whose every user does
    a transaction that finds its connection dead once more on a fresh one (the read models' catch-ups)."""
    if settings.is_sqlite:
        settings.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            f"sqlite:///{settings.sqlite_path}", connect_args={"timeout": settings.sqlite_busy_timeout},
            pool_pre_ping=False, pool_timeout=settings.database_connect_timeout,
        )
        # SQLite keeps no offset: every datetime we store is UTC, so it is handed back as UTC, as on PostgreSQL.
        engine.dialect.colspecs = {**engine.dialect.colspecs, DateTime: UtcSQLiteDateTime}
        _configure_sqlite(engine, settings)
        return engine
    url = make_url(settings.database_url)
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    return create_engine(
        url,
        connect_args={"options": f"-csearch_path={settings.database_schema} {postgres_timeouts(settings)}"
                                 + ("" if durable_commits else " -csynchronous_commit=off"),
                      "connect_timeout": libpq_connect_timeout(settings),
                      # Names this process's connections, so a master-key rotation can see who else holds the key.
                      "application_name": application_name(settings.database_schema)},
        pool_size=5,
        max_overflow=10,
        pool_timeout=settings.database_connect_timeout,
        # A connection the server dropped (a restart, pg_terminate_backend) is replaced before use, so service
        # resumes with the first request after the database returns rather than failing it.
        pool_pre_ping=pinged,
    )


def database_unavailable(error: BaseException) -> bool:
    """Whether an error means the database could not be reached or did not answer in time (a 503, not a bug):
    refused or lost connections, a full pool, and lock or statement timeouts, as raised by either driver, by
    SQLAlchemy or by the event store."""
    kinds: tuple[type[BaseException], ...] = (exc.OperationalError, exc.TimeoutError, exc.DisconnectionError,
                                             OperationalError, InterfaceError, sqlite3.OperationalError,
                                             WriteTurnTimedOut)
    # Only a process on PostgreSQL has imported psycopg, and only it can have raised one of its errors.
    psycopg = sys.modules.get("psycopg")
    if psycopg is not None:
        kinds += (psycopg.OperationalError, psycopg.InterfaceError)
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, kinds):
            return True
        if isinstance(seen, exc.DBAPIError) and seen.connection_invalidated:
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def database_errors() -> tuple[type[BaseException], ...]:
    """What either driver raises, directly (a raw connection) or wrapped by SQLAlchemy."""
    kinds: tuple[type[BaseException], ...] = (exc.DBAPIError, sqlite3.Error)
    psycopg = sys.modules.get("psycopg")  # see database_unavailable
    return kinds + ((psycopg.Error,) if psycopg is not None else ())


class UtcSQLiteDateTime(SQLiteDateTime):
    """SQLite's DATETIME, storing UTC and reading timezone-aware columns back as UTC."""

    cache_ok = True

    def bind_processor(self, dialect: Any) -> Any:
        store = super().bind_processor(dialect)

        def process(value: Any) -> Any:
            if isinstance(value, datetime) and value.tzinfo is not None:
                value = value.astimezone(timezone.utc)
            return store(value) if store else value
        return process

    def result_processor(self, dialect: Any, coltype: Any) -> Any:
        parse = super().result_processor(dialect, coltype)
        if not self.timezone:
            return parse

        def process(value: Any) -> Any:
            value = parse(value) if parse else value
            if isinstance(value, datetime) and value.tzinfo is None:
                return value.replace(tzinfo=timezone.utc)
            return value
        return process


def _configure_sqlite(engine: Engine, settings: Settings) -> None:
    busy_ms = int(settings.sqlite_busy_timeout * 1000)
    turns, wait = turns_for(settings.sqlite_path), settings.database_write_wait

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):  # type: ignore[no-untyped-def]
        # WAL lets readers run beside the event store's writer; busy_timeout waits, boundedly, for a writer.
        dbapi_connection.execute("PRAGMA journal_mode=WAL")
        dbapi_connection.execute(f"PRAGMA busy_timeout={busy_ms}")
        dbapi_connection.execute("PRAGMA synchronous=NORMAL")
        # Deleted or overwritten content (a destroyed key, purged ciphertext) is zeroed, not left in free pages.
        dbapi_connection.execute("PRAGMA secure_delete=ON")
        # Let SQLAlchemy issue BEGIN itself, so a transaction that writes takes the lock up front.
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _on_begin(conn):  # type: ignore[no-untyped-def]
        # In WAL mode a deferred transaction that reads and then writes fails at once ("database is
        # locked") if another writer committed meanwhile; taking the write lock at BEGIN makes every
        # writer wait its turn instead. Pure readers opt out with `reader(engine)` and never block.
        if conn.get_execution_options().get("svl_reader", False):
            _begin(conn, "BEGIN")
            return
        turns.take(wait)  # behind this process's earlier writers, in order (infrastructure/write_turns.py)
        conn.info[_TURN] = turns
        try:
            _begin(conn, "BEGIN IMMEDIATE")
        except BaseException:
            _give_back(conn.info)
            raise

    # SQLAlchemy announces a commit or rollback before it makes it; the turn may pass on only once it is made,
    # so a writer's transaction ends here, then the turn goes to the next writer.
    @event.listens_for(engine, "commit")
    def _on_commit(conn):  # type: ignore[no-untyped-def]
        if _TURN in conn.info:
            try:
                conn.connection.dbapi_connection.commit()
            finally:
                _give_back(conn.info)

    @event.listens_for(engine, "rollback")
    def _on_rollback(conn):  # type: ignore[no-untyped-def]
        if _TURN in conn.info:
            try:
                conn.connection.dbapi_connection.rollback()
            finally:
                _give_back(conn.info)

    # However a connection leaves use (closed, invalidated, returned mid-transaction), a turn it held goes back.
    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection, record):  # type: ignore[no-untyped-def]
        _give_back(record.info)

    @event.listens_for(engine, "invalidate")
    def _on_invalidate(_dbapi_connection, record, _error):  # type: ignore[no-untyped-def]
        _give_back(record.info)


_TURN = "svl_write_turn"


def _begin(conn: Connection, statement: str) -> None:
    """On the driver's own connection: through SQLAlchemy's execution path a BEGIN cost ten times what SQLite
    takes to run it, and every transaction here begins so (a command's catch-up, an access-log entry). A failure
    (the lock not had within the busy timeout) is raised as SQLAlchemy raises it, and the connection is
    discarded if SQLite says it is unusable, as SQLAlchemy would."""
    try:
        conn.connection.dbapi_connection.execute(statement)  # type: ignore[union-attr]
    except sqlite3.Error as error:
        unusable = conn.dialect.is_disconnect(error, conn.connection.dbapi_connection, None)
        if unusable:
            conn.invalidate(error)
        raise exc.DBAPIError.instance(statement, (), error, sqlite3.Error, connection_invalidated=unusable,
                                      dialect=conn.dialect) from error


def _give_back(info: dict) -> None:
    turns = info.pop(_TURN, None)
    if turns is not None:
        turns.give_back()


class Reads:
    """An engine for read-only work: on SQLite its transactions do not take the write lock. Inside
    `shared_reads()` (one HTTP request) the reads of one engine share one pooled connection, so a page's several
    queries check out (and on PostgreSQL ping) one connection, not one each. Each `with reads.connect()` block is
    still a transaction of its own, ended when the block ends, so a read sees what was committed before it began
    (the request's own writes among them); on PostgreSQL the shared connection runs each statement on its own
    (autocommit), which under READ COMMITTED sees the same rows and saves the BEGIN and ROLLBACK round trips.
    Everything else is the engine's (`reads.dialect`, `reads.raw_connection()`)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine.execution_options(svl_reader=True)
        self._key = id(engine)

    def connect(self) -> Any:
        held = _SHARED_READS.get()
        if held is None:
            return self.engine.connect()
        shared = held.setdefault(self._key, _SharedConnection())
        if not shared.lock.acquire(blocking=False):
            # Inside another read of this request (or beside it, on another thread): a connection of its own.
            return self.engine.connect()
        return _Borrowed(self.engine, shared)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.engine, name)


class _SharedConnection:
    def __init__(self) -> None:
        self.lock = threading.Lock()  # held while a block reads on it
        self.connection: Connection | None = None


class _Borrowed:
    """One `with reads.connect() as conn` block on the request's shared connection."""

    def __init__(self, engine: Engine, shared: _SharedConnection) -> None:
        self._engine, self._shared = engine, shared

    def __enter__(self) -> Connection:
        shared = self._shared
        try:
            if shared.connection is None:
                connection = self._engine.connect()
                if connection.dialect.name == "postgresql":
                    connection.execution_options(isolation_level="AUTOCOMMIT")
                shared.connection = connection
            return shared.connection
        except BaseException:
            shared.lock.release()
            raise

    def __exit__(self, kind: Any, error: BaseException | None, _traceback: Any) -> None:
        shared, connection = self._shared, self._shared.connection
        try:
            if connection is None:
                return
            if error is not None:
                # Whatever went wrong, the request's next read starts on a fresh checkout (pinged on PostgreSQL),
                # as it would have without sharing; the block's own error is the one the caller sees.
                shared.connection = None
                with suppress(Exception):
                    connection.close()
            elif connection.in_transaction():
                connection.rollback()  # the block's transaction ends with it; the next block sees newer commits
        finally:
            shared.lock.release()


_SHARED_READS: ContextVar[dict[int, _SharedConnection] | None] = ContextVar("svl_shared_reads", default=None)


def sharing_reads() -> bool:
    """Whether this code runs inside `shared_reads()` (an HTTP request)."""
    return _SHARED_READS.get() is not None


@contextmanager
def shared_reads() -> Iterator[None]:
    """Within this block (one HTTP request) `Reads.connect()` hands out one connection per engine, returned to
    the pool when the block ends. The thread pool that runs a request's handlers copies the context, and with it
    this one dictionary; a thread started from it does not, and reads on connections of its own."""
    held: dict[int, _SharedConnection] = {}
    token = _SHARED_READS.set(held)
    try:
        yield
    finally:
        _SHARED_READS.reset(token)
        for shared in held.values():
            if shared.connection is not None:
                with suppress(Exception):  # an outage already answered the request; the pool replaces it
                    shared.connection.close()
                shared.connection = None


def reader(engine: Engine | Reads) -> Reads:
    """The engine's reads (see `Reads`), made once per engine and kept on it (dropped with it)."""
    if isinstance(engine, Reads):
        return engine
    found = engine.__dict__.get("_svl_reads")
    if found is None:
        found = engine.__dict__["_svl_reads"] = Reads(engine)
    return found


def writer(engine: Engine) -> Engine:
    """Kept for clarity at call sites that write: every transaction takes the write lock by default."""
    return engine


# How long a process starting beside another waits for that one's schema work (DDL on a new database is seconds).
START_UP_WAIT_MS = 120_000


@contextmanager
def start_up_turn(engine: Engine, settings: Settings) -> Iterator[None]:
    """One process at a time creates or migrates the schema on PostgreSQL. Its DDL is not safe side by side:
    two `CREATE TYPE`s or `CREATE OR REPLACE FUNCTION`s at once fail ("tuple concurrently updated"), and two
    first starts both insert the organisation's key. A session advisory lock, on a connection of its own so
    that the work inside commits as usual, makes the second process wait and then find everything there.
    SQLite needs none: every writer there takes the file's lock at BEGIN."""
    if settings.is_sqlite:
        yield
        return
    key = f"svl-start-up:{settings.database_schema}"
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f"SET lock_timeout = {START_UP_WAIT_MS}; SET statement_timeout = {START_UP_WAIT_MS}"))
        conn.execute(text("SELECT pg_advisory_lock(hashtext(:key))"), {"key": key})
        try:
            yield
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(hashtext(:key))"), {"key": key})
            conn.execute(text("RESET lock_timeout; RESET statement_timeout"))  # back to the pool as it came


def create_schema(engine: Engine, settings: Settings) -> tuple[str | None, str | None]:
    """Brings every table we own to the latest revision (infrastructure/migrations); returns the revisions before
    and after. A new database gets the whole schema; one made before migrations is stamped at the baseline first."""
    if not settings.is_sqlite:
        with engine.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{settings.database_schema}"'))
    with writer(engine).begin() as conn:
        return migrations.upgrade(conn)


def schema_version(engine: Engine) -> str | None:
    with reader(engine).connect() as conn:
        return migrations.revision_of(conn)
