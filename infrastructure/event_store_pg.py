"""The event store on PostgreSQL: eventsourcing's own recorder, with the ledger leaf and key rows written in the
same transaction as the events they cover. Its own module so that a process on SQLite never imports psycopg."""

import contextlib
import functools
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar
from uuid import UUID

import psycopg
from eventsourcing.persistence import InterfaceError, OperationalError, ProgrammingError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresFactory
from eventsourcing.utils import Environment, EnvType
from psycopg.pq import TransactionStatus
from psycopg.rows import tuple_row
from psycopg_pool import PoolTimeout
from psycopg.adapt import Transformer
from psycopg.sql import SQL, Identifier
from psycopg.types.numeric import Int8

from infrastructure.event_store import (POSTGRES_LIBPQ_CONNECT_TIMEOUT, POSTGRES_STATEMENT_OPTIONS, _require_unchanged,
                                       read_ahead_for, reading_ahead)
from infrastructure.key_rows import KeyRowWriter, destroyed_meanwhile
from infrastructure.keys import StagedKeys
from infrastructure.ledger_append import LedgerAppender
from infrastructure.ledger_store import inclusion_in_latest_sql

Method = TypeVar("Method", bound=Callable[..., Any])


# The server's word that it ended the session (pg_terminate_backend, a shutdown or crash of the server): the
# connection is dead, and whatever transaction it was in went with it, uncommitted.
_SESSION_ENDED = ("57P01", "57P02")


def _connection_lost(error: BaseException) -> bool:
    """A pooled connection the server (or the network) dropped: the client learns only when it next uses it.
    Not a timeout, a refused connection or anything else the server answered (those carry another SQLSTATE)."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, PoolTimeout):
            return False
        if isinstance(seen, psycopg.InterfaceError) or (
                isinstance(seen, psycopg.OperationalError) and seen.sqlstate in (None, *_SESSION_ENDED)):
            return True
        seen = seen.__cause__
    return False


class _LostBeforeAnything(Exception):
    """The connection was found dead at the first statement of a write, so nothing of it was sent."""


def _once_more_on_a_fresh_connection(method: Method) -> Method:
    """Instead of the library's retry loop (10 attempts, each waiting up to the pool timeout): one more attempt,
    only when the connection turned out to be dead, after the pool has discarded every dead idle connection.
    A database that is down or locked fails the call within one timeout, not ten."""

    @functools.wraps(method)
    def call(self: "LedgeredPostgresRecorder", *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except (InterfaceError, OperationalError) as error:
            if not _connection_lost(error):
                raise
        self.datastore.pool.check()
        return method(self, *args, **kwargs)

    return call  # type: ignore[return-value]


class BoundedPostgresFactory(PostgresFactory):
    """The library's PostgreSQL factory with every wait bounded: libpq's connect timeout, lock and statement
    timeouts for every session, and a pool that stops re-connecting in the background after the connect
    timeout (so a request after the database returns connects at once, not at the end of a long back-off)."""

    POSTGRES_STATEMENT_OPTIONS = POSTGRES_STATEMENT_OPTIONS
    POSTGRES_LIBPQ_CONNECT_TIMEOUT = POSTGRES_LIBPQ_CONNECT_TIMEOUT

    def __init__(self, env: Environment | EnvType | None):
        super().__init__(env)
        pool = self.datastore.pool
        pool.kwargs = {**(pool.kwargs or {}), "options": self.env.get(self.POSTGRES_STATEMENT_OPTIONS, ""),
                       "connect_timeout": int(self.env.get(self.POSTGRES_LIBPQ_CONNECT_TIMEOUT, "2"))}
        pool.reconnect_timeout = pool.timeout


class LedgeredPostgresRecorder(PostgresApplicationRecorder):
    """One transaction: take the table lock, insert the events, append their leaves, commit.

    The lock serialises writers, so notification ids and leaves are committed in the same order;
    a rolled-back writer may leave a gap in notification ids but never in the ledger's leaf indexes.
    (No NOTIFY: nothing here subscribes, and it would add a global lock at every commit.)

    Two round trips (one per statement, as before, took eight), each one simple query whose values are written
    out as literals by psycopg (the statements of a simple query run in order, and the first that fails ends
    it: none after it runs):
      1. `BEGIN; SET LOCAL lock_timeout = ...; LOCK TABLE ... IN EXCLUSIVE MODE`; then, read under the lock,
         the current versions of the aggregates the command decided on unchanged (`svl_unchanged`) and
         whether any event is sealed with a key destroyed since it was loaded; then one statement: the staged
         key rows and the events (RETURNING their notification ids) inserted by data-modifying WITH clauses,
         and the ledger's last leaf read with them. Should what was read under the lock refuse the write, the
         inserts, not committed, are rolled back with the rest;
      2. the INSERT of all the leaf rows, computed from those notification ids, and COMMIT, whose result is
         awaited before anything is returned (synchronous_commit is untouched).
    The lock is held from 1 to 2, the leaves commit with their events, and a failure rolls all of it
    back. A stale cached ledger edge (another process wrote) costs one more round trip: the frontier.
    A write with nothing to read under the lock (access-log entries) is one round trip instead: 1 and 2 in one
    simple query, with the leaves computed beforehand for the notification ids predicted (`_in_one_round_trip`).
    Rows go in as multi-row VALUES (arrays through unnest() cost more on both ends), and psycopg's pipeline
    mode, tried for the same purpose, cost more client CPU than it saved.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._ledger = LedgerAppender("format", self.datastore.schema)
        self._keys = KeyRowWriter("format", self.datastore.schema)
        self._begin_and_lock = (SQL("BEGIN; ") + SQL("; ").join(self.lock_table_statements)).as_bytes(None)
        self._events_table = Identifier(self.datastore.schema, self.events_table_name).as_string(None)
        self._statements: dict[tuple[Any, ...], str] = {}  # by shape: the numbers of rows
        self._split: dict[str, tuple[bytes, ...]] = {}  # each statement's text around its places for values
        self._inclusion_in_latest = inclusion_in_latest_sql(f"{Identifier(self.datastore.schema).as_string(None)}.",
                                                            "%s")

    _select_events = _once_more_on_a_fresh_connection(PostgresApplicationRecorder.select_events.__wrapped__)
    select_notifications = _once_more_on_a_fresh_connection(
        PostgresApplicationRecorder.select_notifications.__wrapped__)
    max_notification_id = _once_more_on_a_fresh_connection(PostgresApplicationRecorder.max_notification_id.__wrapped__)

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        if not stored_events:
            return []
        try:
            return self._insert_in_one_transaction(stored_events, **kwargs)
        except _LostBeforeAnything:
            # Nothing was sent on the dead connection, so one more attempt cannot write twice.
            self.datastore.pool.check()
            return self._insert_in_one_transaction(stored_events, **kwargs)

    def _insert_in_one_transaction(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int]:
        key_ctes, params = self._keys.ctes(kwargs.get("svl_keys"))
        for e in stored_events:
            params += [e.originator_id, Int8(e.originator_version), e.topic, e.state]
        unchanged = list(kwargs.get("svl_unchanged") or ())
        under_the_lock = self._under_the_lock(unchanged, stored_events, kwargs.get("svl_keys"))
        with self.datastore.get_connection() as conn:
            assert conn.autocommit  # so the transaction is this method's own: BEGIN ... COMMIT, or ROLLBACK
            if under_the_lock is None:
                predicted = self._in_one_round_trip(conn, key_ctes, params, stored_events)
                if predicted is not None:
                    self._ledger.committed()
                    return predicted
            try:
                with conn.cursor() as curs:
                    try:
                        curs.execute(self._begin_and_lock + (under_the_lock or b"; SELECT NULL AS destroyed") + b"; "
                                     + self._filled(self._insert_statement(key_ctes, len(stored_events)), params,
                                                    conn))
                    except (psycopg.InterfaceError, psycopg.OperationalError) as error:
                        if _connection_lost(error):
                            raise _LostBeforeAnything from error
                        raise
                    for _ in range(1 + len(self.lock_table_statements)):  # past BEGIN and the lock's statements
                        curs.nextset()
                    found = curs.fetchone()  # what was read under the lock, before the inserts
                    for n, (originator_id, version) in enumerate(unchanged):
                        _require_unchanged(originator_id, version, found[f"v{n}"])
                    if found["destroyed"] is not None:
                        raise destroyed_meanwhile(found["destroyed"])
                    curs.nextset()
                    rows = curs.fetchall()
                    # The sequence numbers the rows in insert order, which is the order of stored_events.
                    notification_ids = sorted(r["notification_id"] for r in rows if r["notification_id"] is not None)
                    if len(notification_ids) != len(stored_events):
                        raise ProgrammingError(f"expected {len(stored_events)} notification ids, "
                                               f"got {len(notification_ids)}")
                    last = next((r for r in rows if r["notification_id"] is None), None)
                    leaves = self._ledger.rows_after(curs, last, notification_ids, stored_events)
                    curs.execute(self._leaves_and_commit(leaves, conn))
            except BaseException:
                self._roll_back(conn)
                raise
        self._ledger.committed()
        return notification_ids

    def _in_one_round_trip(self, conn: Any, key_ctes: list[str], params: list[Any],
                           stored_events: Sequence[StoredEvent]) -> list[int] | None:
        """A write with nothing to read under the lock (access-log entries: no unchanged aggregate, sealed with
        the organisation key) in one simple query: BEGIN, the lock, the key rows, the events, their leaves and
        COMMIT. The leaves are computed beforehand from the committed ledger edge and the notification ids that
        follow it (`LedgerAppender.predicted_rows`); should either differ under the lock (another writer, or a
        rolled-back one that used up ids of the sequence), the leaf rows carry no hash, their NOT NULL column
        fails the statement, and nothing of the transaction is committed: None, and the caller writes in two
        round trips, reading what it needs under the lock. None too without a committed edge."""
        predicted = self._ledger.predicted_rows(stored_events)
        if predicted is None:
            return None
        (last_index, last_hash), leaves = predicted
        notification_ids = [row[1] for row in leaves]
        values = [*params, *(Int8(n) for n in notification_ids), Int8(last_index), last_hash,
                  *(v for row in leaves for v in (Int8(row[0]), Int8(row[1]), row[2], row[3]))]
        try:
            with conn.cursor() as curs:
                try:
                    curs.execute(self._begin_and_lock + b"; " + self._filled(
                        self._predicted_statement(key_ctes, len(stored_events)), values, conn) + b"; COMMIT")
                except (psycopg.InterfaceError, psycopg.OperationalError) as error:
                    if _connection_lost(error):
                        raise _LostBeforeAnything from error
                    raise
        except psycopg.errors.NotNullViolation as error:
            self._roll_back(conn)
            if error.diag.column_name != "leaf_hash":
                raise
            return None
        except BaseException:
            self._roll_back(conn)
            raise
        return notification_ids

    def _predicted_statement(self, key_ctes: list[str], events: int) -> str:
        """Key rows, events and leaves in one statement: the leaves get their hashes only if the events took the
        predicted notification ids and the ledger still ends where the prediction began."""
        shape = ("predicted", events, *key_ctes)
        statement = self._statements.get(shape)
        if statement is None:
            rows = ", ".join([f"(%s::{self.datastore.originator_id_type}, %s, %s, %s)"] * events)
            ids = ", ".join(["%s"] * events)
            leaves = ", ".join(["(%s, %s, %s::bytea, %s::bytea)"] * events)
            inserts = [*key_ctes, f"svl_events AS (INSERT INTO {self._events_table} (originator_id, "
                                  f"originator_version, topic, state) VALUES {rows} RETURNING notification_id)",
                       "svl_as_predicted AS (SELECT (SELECT array_agg(notification_id ORDER BY notification_id) "
                       f"FROM svl_events) = ARRAY[{ids}]::bigint[] AND (SELECT ROW(leaf_index, leaf_hash) FROM "
                       f"({self._ledger.last_leaf_sql}) AS last_leaf) = ROW(%s::bigint, %s::bytea) AS held)"]
            statement = self._remember(shape, f"WITH {', '.join(inserts)} "
                                              f"{self._ledger.insert_into_sql} "
                                              "SELECT v.leaf_index, v.notification_id, "
                                              "CASE WHEN svl_as_predicted.held THEN v.leaf_hash END, v.completed_nodes "
                                              f"FROM (VALUES {leaves}) AS v(leaf_index, notification_id, leaf_hash, "
                                              "completed_nodes), svl_as_predicted")
        return statement

    def select_events(self, originator_id: UUID | str, *, gt: int | None = None, lte: int | None = None,
                      desc: bool = False, limit: int | None = None) -> Sequence[StoredEvent]:
        """The library's query, unless `read_ahead` has just read these very events (a fast-forward of a cached
        aggregate from the version it was read ahead for)."""
        found = read_ahead_for(originator_id, gt, lte, desc, limit)
        if found is not None:
            return found
        return self._select_events(originator_id, gt=gt, lte=lte, desc=desc, limit=limit)

    @contextlib.contextmanager
    def read_ahead(self, aggregates: Sequence[tuple[UUID, int | None]]) -> Iterator[int]:
        """For the loads of one command: the key epoch and the events stored after each aggregate's cached version
        (None: not cached, all its events), in one query on the event store's own pool (which pings nothing: a
        statement that finds its connection dead is tried once more on a fresh one). Yields the epoch; within the
        block, the fast-forward (or the reconstruction) of each of those aggregates from that version is served
        from what was read here, so the epoch is compared before any of them is decrypted and handed out. A sign
        makes one round trip where it made four (a checkout's ping, the epoch, two fast-forwards)."""
        epoch, found = self._epoch_and_events_after(list(dict.fromkeys(aggregates)))
        with reading_ahead(found):
            yield epoch

    @_once_more_on_a_fresh_connection
    def _epoch_and_events_after(self, aggregates: list[tuple[UUID, int | None]]) -> tuple[
            int, dict[tuple[UUID, int | None], list[StoredEvent]]]:
        shape = ("ahead", *(version is None for _, version in aggregates))
        statement = self._statements.get(shape)
        if statement is None:
            arms = [f"SELECT NULL::{self.datastore.originator_id_type} AS originator_id, epoch::bigint AS "
                    f"originator_version, NULL::text AS topic, NULL::bytea AS state FROM "
                    f"{Identifier(self.datastore.schema).as_string(None)}.key_epochs WHERE id = 1"]
            arms += [f"SELECT originator_id, originator_version, topic, state FROM {self._events_table} "
                     f"WHERE originator_id = %s" + ("" if version is None else " AND originator_version > %s")
                     for _, version in aggregates]
            statement = self._remember(shape, " UNION ALL ".join(arms))
        params: list[Any] = []
        for originator_id, version in aggregates:
            params += [originator_id] if version is None else [originator_id, Int8(version)]
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(statement, params, prepare=True)
            rows = curs.fetchall()
        epoch = 0
        by_id: dict[UUID, list[StoredEvent]] = {originator_id: [] for originator_id, _ in aggregates}
        for row in rows:
            if row["originator_id"] is None:
                epoch = row["originator_version"] or 0
                continue
            by_id[UUID(str(row["originator_id"]))].append(StoredEvent(
                originator_id=row["originator_id"], originator_version=row["originator_version"],
                topic=row["topic"], state=bytes(row["state"])))
        return epoch, {(originator_id, version): sorted(by_id[originator_id], key=lambda e: e.originator_version)
                       for originator_id, version in aggregates}

    @_once_more_on_a_fresh_connection
    def inclusion_in_latest_rows(self, notification_id: int) -> list[tuple[Any, ...]]:
        """The rows of `ledger_store.inclusion_in_latest_sql` for a notification id: an inclusion proof against the
        latest checkpoint in one round trip, on this pool (no ping at checkout, no transaction: the rows it reads
        are never rewritten), prepared once per connection. A read, so tried once more on a dead connection."""
        with self.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as curs:
            curs.execute(self._inclusion_in_latest, [Int8(notification_id)], prepare=True)
            return curs.fetchall()

    @_once_more_on_a_fresh_connection
    def latest_versions(self, originator_ids: Sequence[UUID]) -> dict[UUID, int]:
        """Each aggregate's newest version, in one query (a page that names many people asks for all at once)."""
        if not originator_ids:
            return {}
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(SQL("SELECT originator_id, MAX(originator_version) AS v FROM {} WHERE originator_id = "
                             "ANY(%s) GROUP BY originator_id").format(SQL(self._events_table)), [list(originator_ids)])
            return {UUID(str(row["originator_id"])): row["v"] for row in curs.fetchall()}

    def _under_the_lock(self, unchanged: list[tuple[Any, int | None]], stored_events: Sequence[StoredEvent],
                        staged: StagedKeys | None = None) -> bytes | None:
        """Read in the same simple query as BEGIN and the lock (a round trip saved on every command): the current
        version of each aggregate the command decided on without changing it, and whether any of the events is
        sealed with a key destroyed since it was loaded. The ids are aggregate UUIDs, written out as UUIDs (so
        nothing but a UUID can reach the SQL text)."""
        checked = self._keys.to_check(staged, (e.originator_id for e in stored_events))
        destroyed = self._keys.destroyed_sql(checked, staged)
        if destroyed == "NULL" and not unchanged:
            return None  # nothing to read under the lock
        columns = [f"{destroyed} AS destroyed"]
        columns += [f"(SELECT MAX(originator_version) FROM {self._events_table} "
                    f"WHERE originator_id = '{UUID(str(originator_id))}') AS v{n}"
                    for n, (originator_id, _) in enumerate(unchanged)]
        return f"; SELECT {', '.join(columns)}".encode()

    def _insert_statement(self, key_ctes: list[str], events: int) -> str:
        """Key rows and events inserted, notification ids returned, last leaf read: one statement, whose text
        depends only on the numbers of rows, with a place (`{}`) for each value, written out by psycopg."""
        shape = ("events", events, *key_ctes)
        statement = self._statements.get(shape)
        if statement is None:
            rows = ", ".join([f"(%s::{self.datastore.originator_id_type}, %s, %s, %s)"] * events)
            inserts = [*key_ctes, f"svl_events AS (INSERT INTO {self._events_table} (originator_id, "
                                  f"originator_version, topic, state) VALUES {rows} RETURNING notification_id)"]
            statement = self._remember(shape, f"WITH {', '.join(inserts)} "
                                              "SELECT notification_id, NULL::bigint AS leaf_index, "
                                              "NULL::bytea AS leaf_hash FROM svl_events "
                                              "UNION ALL (SELECT NULL, leaf_index, leaf_hash "
                                              f"FROM ({self._ledger.last_leaf_sql}) AS last_leaf)")
        return statement

    def _leaves_and_commit(self, leaves: list[tuple[int, int, bytes, bytes]], conn: Any) -> bytes:
        """The leaf rows' INSERT and COMMIT as one simple query (a round trip less than one statement each):
        integers and hashes, quoted by psycopg."""
        shape = ("leaves", len(leaves))
        statement = self._statements.get(shape)
        if statement is None:
            statement = self._remember(shape, self._ledger.insert_rows_sql(len(leaves)) + "; COMMIT")
        return self._filled(statement, [v for row in leaves for v in row], conn)

    def _filled(self, statement: str, values: Sequence[Any], conn: Any) -> bytes:
        """The statement with each place (`%s`) filled with its value written out as a literal by psycopg, all
        through one Transformer (a `Literal` each would make one per value, which cost a logged read more than
        its quoting did)."""
        parts = self._split.get(statement)
        if parts is None:
            parts = tuple(part.encode() for part in statement.split("%s"))
            self._split = {**(self._split if len(self._split) < 512 else {}), statement: parts}
        if len(values) != len(parts) - 1:
            raise ProgrammingError(f"{len(parts) - 1} places for {len(values)} values")
        literal = Transformer(conn).as_literal
        filled = [parts[0]]
        for value, text_after in zip(values, parts[1:]):
            filled += [literal(value), text_after]
        return b"".join(filled)

    def _remember(self, shape: tuple[Any, ...], statement: str) -> str:
        # Replaced, never mutated, so concurrent writers need no lock; bounded, though a batch has few shapes.
        known = self._statements if len(self._statements) < 512 else {}
        self._statements = {**known, shape: statement}
        return statement

    @staticmethod
    def _roll_back(conn: Any) -> None:
        """Ends a failed transaction (a broken connection is left for the pool to discard)."""
        if conn.info.transaction_status in (TransactionStatus.INTRANS, TransactionStatus.INERROR):
            with contextlib.suppress(psycopg.Error):
                conn.execute("ROLLBACK")
