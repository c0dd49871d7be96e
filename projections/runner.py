"""Keeps the read models up to date from the notification log. Each read model tracks its own position, in
the same transaction as the rows it produced: restart-safe, idempotent, rebuildable from zero.

One event that fails in one read model stops that read model only, loudly: its position stays before the
event, the event's notification id, class and the error (its kind and the database's message, never the
values) are recorded, and every other read model keeps up. While it is stuck, any read of its tables raises
ReadModelStuck (HTTP answers 503 saying why) instead of serving stale rows. `rebuild([name])` clears it.

The library's ProjectionRunner needs a recorder that supports subscriptions, which its SQLite recorder does
not; this runner pulls from the notification log instead, on both backends.
"""

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from sqlalchemy import (
    CompoundSelect, Connection, Engine, MetaData, Select, Table, bindparam, delete, event, insert, inspect, select, text,
    update,
)
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.schema import CreateIndex, CreateTable
from sqlalchemy.sql import visitors

from projections import (access_log, allocation, case_records, current_records, practice_cycles,
                         retention_schedule, supervision_compliance, worker_files)
from projections.gathered_writes import GatheredWrites
from projections.leadership import Leadership
from projections.schema import read_model_positions, read_models

Handler = Callable[[Connection, Any], None]
# Of consecutive events of one class at once, with the effect of its Handler applied to each in turn.
BatchHandler = Callable[[Connection, Sequence[Any]], None]
# How many stored events the projector thread may hold in memory (see `poke`); beyond it, it reads the log.
_HELD_AT_MOST = 10_000
# A rebuild's batches: each is one transaction whose handlers' writes are gathered (projections/gathered_writes.py);
# the more events a batch holds, the more rows each statement sends at once.
_REBUILD_BATCH = 5_000
# At most this many events a batch handler's call: its statements bind each event's id (SQLite allows 32,766
# parameters a statement, PostgreSQL 65,535).
_BATCHED_AT_MOST = 500
# Each read model is a module with HANDLERS (event class -> handler) and the TABLES it alone writes; and, for an
# event a command stores hundreds of together (a retention run's DestructionStarted), BATCH_HANDLERS: given every
# such event in a row at once, so it costs a statement per table, not one per table per event (each a round trip on
# PostgreSQL). HANDLERS still has its one-event handler, for whatever applies events one by one.
MODULES = (worker_files, current_records, access_log, retention_schedule, supervision_compliance, allocation,
           practice_cycles, case_records)
# Tables of earlier versions, now folded into the shared ones: dropped where an older database still has them.
RETIRED = ("compliance_workers", "compliance_supervision", "compliance_records", "projection_positions",
           "case_record_disposals")
log = logging.getLogger(__name__)
# Built once: every catch-up runs them, and a statement built afresh is parsed and keyed again each time.
_STATES = select(read_model_positions)
# Always in the same order: two catchers-up locking rows in different orders would deadlock.
_STATES_LOCKED = select(read_model_positions).order_by(read_model_positions.c.name).with_for_update()
# Every read model that is not stuck and is at the second, moved to the first (see `_project_next`, on SQLite).
_MOVE_TOGETHER_SQLITE = "UPDATE read_model_positions SET position = ? WHERE position = ? AND stuck_at IS NULL"
_MOVE = (update(read_model_positions).where(read_model_positions.c.name.in_(bindparam("names", expanding=True)))
         .values(position=bindparam("to")))


def name_of(module: ModuleType) -> str:
    return module.__name__.rsplit(".", 1)[-1]


NAMES = tuple(name_of(m) for m in MODULES)


@dataclass(frozen=True)
class ReadModelState:
    name: str
    position: int
    stuck_at: int | None = None  # the notification id it failed on
    stuck_event: str | None = None
    stuck_error: str | None = None

    @property
    def stuck(self) -> bool:
        return self.stuck_at is not None

    def as_dict(self) -> dict:
        return {"name": self.name, "position": self.position, "stuck_at": self.stuck_at,
                "stuck_event": self.stuck_event, "stuck_error": self.stuck_error}


class _NotWhereSeen(Exception):
    """The read models were not all where this process last saw them together: the usual catch-up runs."""


class _FailedInBatch(Exception):
    """Some read model failed on the batch: it is rolled back and projected again, one read model at a time."""


class ReadModelStuck(Exception):
    """A read of a read model that stopped on an event: what it serves would be out of date."""

    def __init__(self, state: ReadModelState) -> None:
        self.state = state
        super().__init__(f"the {state.name} read model is stuck at notification {state.stuck_at} "
                         f"({state.stuck_event}): {state.stuck_error}; its answers would be out of date, so "
                         f"nothing was served. An administrator fixes the cause, then runs `svl rebuild {state.name}`")


def describe(exc: BaseException) -> str:
    """The error's kind and the database's own message: never the statement's parameters (they may hold
    what the event said)."""
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        diag = getattr(exc.orig, "diag", None)  # psycopg: the primary message, without DETAIL (which has values)
        message = getattr(diag, "message_primary", None) or str(exc.orig).splitlines()[0]
        return f"{type(exc.orig).__name__}: {message}"[:400]
    return type(exc).__name__


def transient(exc: BaseException) -> bool:
    """The database itself failed (connection, lock, disk): retry the whole batch later, mark nothing stuck.
    SQLite reports a missing column as an OperationalError too, so its message decides there."""
    if not isinstance(exc, OperationalError):
        return False
    if exc.connection_invalidated or exc.orig is None or type(exc.orig).__module__ != "sqlite3":
        return True
    message = str(exc.orig).lower()
    return any(word in message for word in ("locked", "busy", "disk", "i/o", "full", "interrupt"))


def _lost_connection(exc: DBAPIError) -> bool:
    """A pooled connection the server dropped (a restart, a network cut). The projecting engine pings none at
    checkout (infrastructure/database.py `make_engine`): a transaction that finds its connection dead is done
    once more, from the positions, on a fresh one; SQLAlchemy has by then discarded every pooled connection as
    old as the dead one. Done again, it projects exactly what is still to project: rows and positions commit
    together, so a transaction lost at its COMMIT is found either whole or not at all."""
    return bool(exc.connection_invalidated)


def fingerprint(module: ModuleType, engine: Engine) -> str:
    """Of the read model's tables as this code declares them: a change means rebuild it from zero."""
    ddl = []
    for table in module.TABLES:
        ddl.append(str(CreateTable(table).compile(dialect=engine.dialect)))
        ddl.extend(sorted(str(CreateIndex(i).compile(dialect=engine.dialect)) for i in table.indexes))
    return hashlib.sha256("\n".join(ddl).encode()).hexdigest()


class ReadModelLagging(Exception):
    """A query waited its bound for the leading process to project the read models up to the newest event."""

    def __init__(self, lagging: list[ReadModelState], target: int, waited: float) -> None:
        self.lagging = lagging
        names = ", ".join(f"{s.name} (at {s.position})" for s in lagging)
        super().__init__(f"the read models are behind the newest event ({target}) after {waited:.1f} s: {names}; "
                         "the process that projects them may be restarting, so nothing was served; try again")


class ProjectionRunner:
    """`read(start, limit)` returns notifications (with `.id`); `decode(n)` returns the domain event,
    or None when the event's key was destroyed (its content is gone; only the positions move).
    `newest()` is the newest notification id; with a `leadership`, this process projects only while it leads,
    and otherwise waits (at most `wait_seconds`) for the leader."""

    def __init__(
        self,
        engine: Engine,
        read: Callable[[int, int], Sequence[Any]],
        decode: Callable[[Any], Any | None],
        batch_size: int = 500,
        newest: Callable[[], int] | None = None,
        leadership: Leadership | None = None,
        wait_seconds: float = 5.0,
        reads: Engine | None = None,
        projecting: Engine | None = None,
    ) -> None:
        self.engine = engine
        # The catch-ups' and rebuilds' transactions: on PostgreSQL an engine whose commits do not wait for the
        # WAL to be flushed (infrastructure/database.py `make_engine`); rows and positions commit together.
        self.projecting = projecting or engine
        self.reads = reads or engine  # for looking at positions: on SQLite, waiting for no writer
        self.read = read
        self.decode = decode
        self.batch_size = batch_size
        self.newest = newest
        self.leadership = leadership
        self.shared = engine.dialect.name == "postgresql"
        self.wait_seconds = wait_seconds
        self.handlers: dict[str, dict[type, Handler]] = {name_of(m): dict(m.HANDLERS) for m in MODULES}
        self.batch_handlers: dict[str, dict[type, BatchHandler]] = {
            name_of(m): dict(getattr(m, "BATCH_HANDLERS", {})) for m in MODULES}
        self.tables: dict[str, tuple[Table, ...]] = {name_of(m): tuple(m.TABLES) for m in MODULES}
        self._owner = {table.name: name for name, tables in self.tables.items() for table in tables}
        self._stuck: dict[str, ReadModelState] = {}  # as last seen in the positions table
        # How far every read model was last seen to have projected, in this (projecting) process: positions
        # only move forward, save in rebuild(), so a query whose target is behind it needs no look at them. A
        # page makes several queries, each asking; only the first reads the positions table.
        self._reached = 0
        # Where every read model was seen together after this process's last catch-up (None: not known).
        self._together_at: int | None = None
        # Background mode: what this process's commands stored, as they stored them (notification id -> domain
        # event), projected from here by the projector thread when it is exactly what comes next in the log.
        self._held: dict[int, Any] = {}
        self._held_lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        event.listen(engine, "before_execute", self._refuse_stuck_reads)

    # -- tables and positions ----------------------------------------------------------------------

    def create_tables(self) -> list[str]:
        """Creates what is missing; a read model whose tables changed (or that has no position yet) is emptied
        and recreated, and projects from zero on its next catch-up. Read models are rebuilt, not migrated: a
        changed projection changes what its rows mean, which no ALTER TABLE can recompute. Returns the names of
        the read models that had tables before and are now rebuilt."""
        rebuilt: list[str] = []
        read_model_positions.create(self.engine, checkfirst=True)
        with self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":  # two processes starting at once: one sets the tables up
                conn.execute(text("LOCK TABLE read_model_positions IN EXCLUSIVE MODE"))
            # One listing of the tables there are, instead of asking for each (some 35 queries at every start,
            # each a round trip on PostgreSQL); every table dropped or created below is kept in step with it.
            present = set(inspect(conn).get_table_names())
            for retired in RETIRED:
                if retired in present:
                    Table(retired, MetaData()).drop(conn)
            known = {r.name: r.fingerprint for r in conn.execute(select(read_model_positions))}
            for module in MODULES:
                name, wanted = name_of(module), fingerprint(module, self.engine)
                if known.get(name) == wanted:
                    continue
                if name in known or any(t.name in present for t in module.TABLES):
                    log.warning("the %s read model's tables changed: rebuilding it from zero", name)
                    rebuilt.append(name)
                for table in reversed(module.TABLES):
                    if table.name in present:
                        table.drop(conn)
                        present.discard(table.name)
                conn.execute(delete(read_model_positions).where(read_model_positions.c.name == name))
                conn.execute(insert(read_model_positions).values(name=name, position=0, fingerprint=wanted))
            missing = [t for t in read_models.sorted_tables if t.name not in present]
            if missing:
                read_models.create_all(conn, tables=missing, checkfirst=False)
        self.states()
        return rebuilt

    def states(self, conn: Connection | None = None) -> list[ReadModelState]:
        """Each read model's position, and where it is stuck if it is (on `conn`, e.g. one that takes no lock)."""
        if conn is not None:
            states = self._read_states(conn)
        else:
            with self.reads.connect() as own:
                states = self._read_states(own)
        return [states[name] for name in NAMES]

    def projects_here(self) -> bool:
        return self.leadership is None or self.leadership.held()

    def refresh(self, target: int | None = None) -> None:
        """Queries call this first: the read models reach `target` (default: the newest event) before the
        query reads them. The projecting process catches up itself; another waits for it, boundedly."""
        if target is None:
            target = self.newest() if self.newest is not None else 0
        if target <= 0:
            return
        if self.projects_here():
            if target <= self._reached:
                return
            position = self.position()
            if position < target:
                self.catch_up()
                position = self.position()
            self._reached = max(self._reached, position)
            return
        self._wait_for_leader(target)

    def _wait_for_leader(self, target: int) -> None:
        started = time.monotonic()
        pause, asked = 0.002, False
        while True:
            behind = [s for s in self.states() if s.position < target and not s.stuck]
            if not behind:
                return  # a stuck one is refused by its reads, naming itself
            waited = time.monotonic() - started
            if waited >= self.wait_seconds:
                raise ReadModelLagging(behind, target, waited)
            if not asked:
                self._ask_leader()
                asked = True
            if self.projects_here():
                self.catch_up()  # the leader died meanwhile and this process's projector took over
                continue
            self._stopping.wait(min(pause, self.wait_seconds - waited))
            pause = min(pause * 2, 0.05)

    def _ask_leader(self) -> None:
        if self.leadership is None or not self.leadership.shared:
            return
        try:
            with self.engine.begin() as conn:
                self.leadership.notify(conn)
        except Exception:  # noqa: BLE001 - it projects at its next poll anyway
            log.warning("could not wake the projecting process; waiting for its next poll")

    def position(self) -> int:
        """How far every read model has projected (the least of their positions)."""
        return min(s.position for s in self.states())

    def stuck(self) -> list[ReadModelState]:
        return [s for s in self.states() if s.stuck]

    def _read_states(self, conn: Connection, lock: bool = False) -> dict[str, ReadModelState]:
        # lock: PostgreSQL, one catcher-up at a time; SQLite: BEGIN IMMEDIATE already serialises
        query = _STATES_LOCKED if lock else _STATES
        states = {r.name: ReadModelState(r.name, r.position, r.stuck_at, r.stuck_event, r.stuck_error)
                  for r in conn.execute(query)}
        self._stuck = {name: s for name, s in states.items() if s.stuck}
        return states

    # -- projecting --------------------------------------------------------------------------------

    def catch_up(self, progress: Callable[[int], None] | None = None,
                 fresh: Sequence[tuple[int, Any]] = (), held: bool = False, rebuilding: bool = False) -> int:
        """Projects every notification after each read model's position into it. Returns how many
        notifications were read. A read model that fails on an event is marked stuck; the others go on.

        `fresh`: (notification id, domain event) of what this process has just stored, as it stored them. When
        they are exactly what comes next in the log, they are projected as they are, instead of being read back
        and decrypted; then this catch-up ends with them (anything another process stored after them is
        projected by the next one, as a query's refresh does). `held`: the same for what `poke` was given
        (the projector thread's catch-up): the events held from the next one on, as far as they run unbroken.
        `rebuilding`: larger batches, the handlers' writes gathered (see `rebuild`)."""
        if fresh and self._project_next(fresh):
            return len(fresh)
        batch_size = max(self.batch_size, _REBUILD_BATCH) if rebuilding else self.batch_size
        processed = 0
        careful = False  # after a batch failed somewhere: again, each read model under a savepoint of its own
        lost = False  # a connection found dead once already
        while True:
            try:
                with self.projecting.begin() as conn:
                    live = {n: s.position for n, s in self._read_states(conn, lock=True).items() if not s.stuck}
                    if not live:
                        return processed
                    start = min(live.values()) + 1
                    if held and not careful:
                        fresh = self._held_from(start)
                    if fresh and not careful and [nid for nid, _ in fresh] == list(range(start, start + len(fresh))):
                        events, batch = list(fresh), None
                    else:
                        batch = self.read(start, batch_size)
                        if not batch:
                            return processed
                        events = [(n.id, self.decode(n)) for n in batch]
                    together = len(live) == len(NAMES) and all(p == start - 1 for p in live.values())
                    # Usually every read model is before the batch and takes it whole, without a copy.
                    pending = {name: events if position < start else [(nid, e) for nid, e in events if nid > position]
                               for name, position in live.items()}
                    pending = {name: events for name, events in pending.items() if events}
                    if careful:
                        for name, events in pending.items():
                            self._project(conn, name, events)
                    else:
                        self._project_all(conn, pending, gathered=rebuilding)
            except _FailedInBatch:
                careful = True  # its transaction was rolled back whole: nothing of the batch was kept
                self._together_at = None
                continue
            except DBAPIError as exc:
                if lost or not _lost_connection(exc):
                    raise
                lost = True  # once more on a fresh connection: see `_lost_connection`
                self._together_at = None
                continue
            self._together_at = events[-1][0] if together and not self._stuck else None
            careful = False
            if held:
                self._release_held(events[-1][0])
            processed += len(events)
            if progress:
                progress(len(events))
            if batch is None and held and len(events) == self.batch_size:
                continue  # a full batch of held ones: more may be held after it
            if batch is None or len(batch) < batch_size:  # fresh ones, or a short batch: the end of the log
                return processed

    def _project_next(self, fresh: Sequence[tuple[int, Any]]) -> bool:
        """The events just stored, when every read model was last seen here together just before them, projected
        with the positions moved first by one conditional UPDATE instead of being read (a statement less per
        command). On SQLite the write lock is taken at BEGIN, so nothing moves them meanwhile; on PostgreSQL
        see `_project_next_postgresql`. If any is not where it was seen (another process projected, one is
        stuck) or anything fails, the transaction is rolled back and False returned: the usual catch-up does it."""
        first, last = fresh[0][0], fresh[-1][0]
        if (self._together_at is None or first != self._together_at + 1 or self._stuck
                or [nid for nid, _ in fresh] != list(range(first, last + 1))):
            return False
        self._together_at = None
        if self.projecting.dialect.name == "postgresql":
            if not self._project_next_postgresql(first, last, fresh):
                return False
            self._together_at = last
            return True
        try:
            with self.projecting.begin() as conn:
                # On the driver's own connection: SQLAlchemy's execution path cost four times what SQLite takes
                # to run this, once per command. A failure here is the usual catch-up's to meet and raise.
                try:
                    moved = conn.connection.driver_connection.execute(  # type: ignore[union-attr]
                        _MOVE_TOGETHER_SQLITE, (last, first - 1)).rowcount
                except conn.dialect.loaded_dbapi.Error:
                    raise _NotWhereSeen from None
                if moved != len(NAMES):
                    raise _NotWhereSeen
                self._project_all(conn, {name: list(fresh) for name in NAMES}, moved=True)
        except (_NotWhereSeen, _FailedInBatch):
            return False
        self._together_at = last
        return True

    def _project_next_postgresql(self, first: int, last: int, fresh: Sequence[tuple[int, Any]]) -> bool:
        """Three round trips where the usual catch-up makes five, besides the handlers' statements: BEGIN and the
        positions' move in one simple query (its numbers written out: they are ints), the handlers, COMMIT. The
        move locks the positions' rows in the order every catch-up locks them (by name), before any handler
        runs, and moves them only if all are where this process saw them (a row another catch-up moved
        meanwhile is re-read after its commit and no longer matches). Whatever fails, the transaction is rolled
        back (a connection that cannot even roll back is discarded) and the usual catch-up does it, which
        raises what it must and records a read model that fails."""
        begin_and_move = (f"BEGIN; UPDATE read_model_positions SET position = {int(last)} WHERE name IN (SELECT name "
                          f"FROM read_model_positions WHERE position = {int(first) - 1} AND stuck_at IS NULL "
                          "ORDER BY name FOR UPDATE)").encode()
        try:
            with self.projecting.connect() as conn:
                # The server's transaction is the one BEGIN opens here: the driver sends no BEGIN of its own.
                conn.execution_options(isolation_level="AUTOCOMMIT")
                driver = conn.connection.driver_connection
                committed = False
                try:
                    with driver.cursor() as cursor:
                        cursor.execute(begin_and_move)
                        cursor.nextset()
                        if cursor.rowcount != len(NAMES):
                            raise _NotWhereSeen
                    self._project_all(conn, {name: list(fresh) for name in NAMES}, moved=True)
                    driver.execute(b"COMMIT")
                    committed = True
                finally:
                    if not committed:
                        try:
                            driver.execute(b"ROLLBACK")
                        except Exception:  # noqa: BLE001 - a broken connection: the pool gets a fresh one
                            conn.invalidate()
        except Exception:  # noqa: BLE001 - the usual catch-up does it, and raises what it must
            return False
        return True

    def _project_all(self, conn: Connection, pending: dict[str, list[tuple[int, Any]]], moved: bool = False,
                     gathered: bool = False) -> None:
        """The usual case, where nothing fails: every read model's events applied in the catch-up's transaction
        with no savepoint, and their positions moved in one statement (savepoints and one UPDATE per read model
        were most of what projecting a command cost, each a round trip on PostgreSQL). If anything fails, the
        whole transaction is rolled back and the batch is done again carefully (`_project`, a savepoint per
        read model), which finds the read model that fails and stops only that one. `gathered`: the handlers'
        writes are gathered and sent in the read model's own try (projections/gathered_writes.py)."""
        for name, events in pending.items():
            handlers, batch_handlers = self.handlers[name], self.batch_handlers[name]
            if not any(e is not None and (type(e) in handlers or type(e) in batch_handlers) for _, e in events):
                continue  # nothing here for this read model: only its position moves
            try:
                if gathered:
                    writes = GatheredWrites(conn)
                    self._apply(writes, name, events)  # type: ignore[arg-type]
                    writes.flush()
                else:
                    self._apply(conn, name, events)
            except Exception as exc:  # noqa: BLE001 - done again carefully, which records it
                if transient(exc):
                    raise
                raise _FailedInBatch from exc
        if moved:
            return
        by_position: dict[int, list[str]] = {}
        for name, events in pending.items():
            by_position.setdefault(events[-1][0], []).append(name)
        for position, names in by_position.items():
            conn.execute(_MOVE, {"names": names, "to": position})

    def _project(self, conn: Connection, name: str, pending: list[tuple[int, Any]]) -> None:
        try:
            with conn.begin_nested():
                self._apply(conn, name, pending)
            self._moved(conn, name, pending[-1][0])
            return
        except Exception as exc:  # noqa: BLE001 - find the event, below
            if transient(exc):
                raise
        # Something in this batch fails in this read model: apply up to it, and stop there.
        for nid, domain_event in pending:
            try:
                with conn.begin_nested():
                    self._apply(conn, name, [(nid, domain_event)])
            except Exception as exc:  # noqa: BLE001 - recorded and reported, never swallowed
                if transient(exc):
                    raise
                error = describe(exc)
                kind = type(domain_event).__qualname__
                conn.execute(update(read_model_positions).where(read_model_positions.c.name == name)
                             .values(stuck_at=nid, stuck_event=kind, stuck_error=error))
                self._stuck[name] = ReadModelState(name, nid - 1, nid, kind, error)
                log.error("read model %s is stuck at notification %d (%s): %s", name, nid, kind, error)
                return
            self._moved(conn, name, nid)

    def _apply(self, conn: Connection, name: str, pending: Iterable[tuple[int, Any]]) -> None:
        handlers, batch_handlers = self.handlers[name], self.batch_handlers[name]
        run: list[Any] = []  # consecutive events of one class that has a batch handler, not applied yet
        for _, domain_event in pending:
            if domain_event is None:
                continue
            kind = type(domain_event)
            if run and (kind is not type(run[0]) or len(run) == _BATCHED_AT_MOST):
                batch_handlers[type(run[0])](conn, run)
                run = []
            if kind in batch_handlers:
                run.append(domain_event)
                continue
            handler = handlers.get(kind)
            if handler is not None:
                handler(conn, domain_event)
        if run:
            batch_handlers[type(run[0])](conn, run)

    @staticmethod
    def _moved(conn: Connection, name: str, position: int) -> None:
        conn.execute(_MOVE, {"names": [name], "to": position})

    def rebuild(self, names: Iterable[str] | None = None, progress: Callable[[int], None] | None = None) -> int:
        """Empties the named read models (default: all), clears any stuck mark, and replays the whole log
        into them. The others are untouched. Batches are larger than a catch-up's and the handlers' writes are
        gathered into one executemany per statement (projections/gathered_writes.py): sent one by one they were
        most of a rebuild's time. A batch that fails anywhere is projected again as a catch-up's is: carefully,
        a savepoint per read model, nothing gathered."""
        chosen = list(NAMES if names is None else names)
        unknown = sorted(set(chosen) - set(NAMES))
        if unknown:
            raise ValueError(f"no read model {', '.join(unknown)}: they are {', '.join(NAMES)}")
        self._reached = 0
        self._together_at = None
        for attempt in (1, 2):
            try:
                with self.projecting.begin() as conn:
                    self._read_states(conn, lock=True)
                    for name in chosen:
                        self._empty(conn, self.tables[name])
                        conn.execute(update(read_model_positions).where(read_model_positions.c.name == name)
                                     .values(position=0, stuck_at=None, stuck_event=None, stuck_error=None))
                        self._stuck.pop(name, None)
                break
            except DBAPIError as exc:
                if attempt == 2 or not _lost_connection(exc):
                    raise
        return self.catch_up(progress, rebuilding=True)

    @staticmethod
    def _empty(conn: Connection, tables: Sequence[Table]) -> None:
        if conn.dialect.name == "postgresql":
            # Serial ids start again, so a rebuild numbers the rows exactly as the first projection did.
            names = ", ".join(conn.dialect.identifier_preparer.quote(t.name) for t in tables)
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY"))
        else:  # SQLite gives an emptied table's INTEGER PRIMARY KEY 1 again
            for table in reversed(tables):
                conn.execute(delete(table))

    # -- refusing stale answers --------------------------------------------------------------------

    def _refuse_stuck_reads(self, conn: Any, clause: Any, *_: Any) -> None:
        if not self._stuck or not isinstance(clause, (Select, CompoundSelect)):
            return
        for element in visitors.iterate(clause):
            if isinstance(element, Table):
                owner = self._owner.get(element.name)
                if owner in self._stuck and self._still_stuck(conn, owner):
                    raise ReadModelStuck(self._stuck[owner])

    def _still_stuck(self, conn: Connection, name: str) -> bool:
        """Another process may have rebuilt it since this one saw it stuck: asked on the reader's connection."""
        row = conn.execute(select(read_model_positions).where(read_model_positions.c.name == name)).first()
        if row is None or row.stuck_at is None:
            self._stuck.pop(name, None)
            return False
        self._stuck[name] = ReadModelState(row.name, row.position, row.stuck_at, row.stuck_event, row.stuck_error)
        return True

    # -- background mode: commands only poke; a thread projects in batches --------------------------

    def start_background(self, idle_seconds: float = 0.5, gather_seconds: float = 0.05) -> None:
        """Projects in a daemon thread: woken by `poke()` after a save, and every `idle_seconds` to pick up
        other processes' writes. Readers that need their own writes call `catch_up()` first."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, args=(idle_seconds, gather_seconds), name="svl-projector",
                                        daemon=True)
        self._thread.start()

    def poke(self, fresh: Sequence[tuple[int, Any]] = ()) -> None:
        """After a save: wakes the projector here, or the leading process when another one leads. `fresh`: the
        (notification id, domain event) pairs just stored, held for the projector here, which projects them as
        they are instead of reading them back and decrypting them (see `catch_up`)."""
        if self.projects_here():
            if fresh and self._thread is not None:
                with self._held_lock:
                    if len(self._held) >= _HELD_AT_MOST:
                        self._held.clear()  # the projector is far behind: it reads the log instead
                    self._held.update(fresh)
            self._wake.set()
        else:
            self._ask_leader()

    def forget_held(self) -> None:
        """Keys were destroyed: nothing decrypted stays held (the projector reads those events from the log)."""
        with self._held_lock:
            self._held.clear()

    def _held_from(self, start: int) -> list[tuple[int, Any]]:
        """The held events from `start` on, as far as their ids run unbroken (at most a batch); empty when
        `start` is not held, and the catch-up reads the log. What is before `start` is projected: let go."""
        with self._held_lock:
            for nid in [n for n in self._held if n < start]:
                del self._held[nid]
            run = []
            while start in self._held and len(run) < self.batch_size:
                run.append((start, self._held[start]))
                start += 1
            return run

    def _release_held(self, projected_to: int) -> None:
        with self._held_lock:
            for nid in [n for n in self._held if n <= projected_to]:
                del self._held[nid]

    def stop(self) -> None:
        if self._thread is None:
            return
        self._stopping.set()
        self._wake.set()
        self._thread.join(timeout=10)
        self._thread = None
        if self.leadership is not None:
            self.leadership.release()

    def _run(self, idle_seconds: float, gather_seconds: float) -> None:
        leading = False
        while not self._stopping.is_set():
            if self.leadership is not None and not self.leadership.contend():
                leading = False  # a follower: ask again for the lead after a while
                self._stopping.wait(idle_seconds)
                continue
            if leading and self._woken(idle_seconds, gather_seconds):
                # Let a burst of commands finish first: one transaction then projects them all.
                self._stopping.wait(gather_seconds)
            leading = True  # just taken: project at once what the previous leader left
            self._wake.clear()
            if self._stopping.is_set():
                return
            try:
                self.catch_up(held=True)
            except Exception:  # the database itself failed: keep projecting; the positions make it safe
                log.exception("projection catch-up failed; will retry")

    def _woken(self, idle_seconds: float, slice_seconds: float) -> bool:
        """Waits for a poke from this process or, on PostgreSQL, a NOTIFY from another; False after idling."""
        if self.leadership is None or not self.leadership.shared:
            return self._wake.wait(idle_seconds)
        deadline = time.monotonic() + idle_seconds
        while not self._stopping.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            if self._wake.is_set() or self.leadership.wait_for_notice(min(slice_seconds, remaining)):
                return True
            if not self.leadership.held():
                return False
        return False


__all__ = ["MODULES", "NAMES", "ProjectionRunner", "ReadModelLagging", "ReadModelState", "ReadModelStuck", "describe",
           "name_of"]
