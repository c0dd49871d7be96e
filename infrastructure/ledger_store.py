"""SQL adapters for the integrity ledger: proofs from the ledger tables, and streaming readers of the
events, leaves and checkpoints as stored (for `svl verify`, which must not trust our own code paths).

Proof reads go through SQLAlchemy (a handful of rows each), except that a proof against the latest
checkpoint on PostgreSQL is one statement on the event store's own pool (`inclusion_in_latest_sql`). The
verification streams use the driver directly, in one read-only snapshot, because they read every row and
must see events, leaves and checkpoints as of the same instant.

On SQLite the events are also offered in bulk (`ledger_verify.BulkEvents`): the first part of the log
is recomputed in this process, from the snapshot, and on a large log the rest by a helper interpreter
(`python -I -S`, standard library only) reading the same file read-only, while this process folds the
tree. The helper reads in its own snapshot, bounded by this snapshot's last notification id; that is
sound because the bulk route only ever concludes "everything matches": if the helper saw anything else
(a purge committed meanwhile, say), the row-by-row pass re-reads this snapshot and gives the verdict.
"""

import copy
import inspect
import logging
import marshal
import os
import subprocess
import sys
import tempfile
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from sqlalchemy import BigInteger, Connection, Engine, any_, bindparam, select, text
from sqlalchemy.dialects.postgresql import ARRAY

from infrastructure import merkle
from infrastructure.database import reader
from infrastructure.ledger_append import _FRONTIER_SQL, LedgerDamaged, frontier_from_rows, node_from_row
from infrastructure.ledger_tables import ledger_checkpoints, ledger_leaves
from infrastructure.ledger_verify import LEAF_PREFIX, BulkEvents, BulkUnsuitable, Tail, Versions
from infrastructure.ledger_verify import canonical_originator_id as _canonical
from infrastructure.ledger_verify import recomputer_source
from infrastructure.events_table import EventsTable

log = logging.getLogger(__name__)

# (notification id, originator id as canonical UUID text, version, stored topic, stored state)
EventRow = tuple[int, str, int, str, bytes | None]
# (leaf index, notification id, leaf hash, completed subtree hashes)
LeafRow = tuple[int, int, bytes, bytes]

_BATCH = 5000
# Bulk verification on SQLite: events per run, the smallest log worth a helper process, and the share
# of the events recomputed here (this process also reads the leaves and folds the whole tree).
BULK_RUN = 256
BULK_HELPER_MIN_EVENTS = 20_000
BULK_LOCAL_SHARE = 0.35


def canonical_originator_id(value: Any) -> str:
    """The originator id as the leaf encodes it: UUID text with hyphens, whatever the backend stores."""
    return _canonical(str(value))


def row_of(key: merkle.NodeKey) -> int:
    """The leaf row that completed (and so stores) the subtree (level, index)."""
    level, index = key
    return ((index + 1) << level) - 1


def inclusion_in_latest_sql(tables: str = "", placeholder: str = ":id") -> str:
    """One statement for a proof against the latest checkpoint: the leaf of a notification id (part 0, with the
    checkpoint's size and note), and the rows of the nodes its proof may need (part 1). A proof's nodes depend on
    the leaf index m and the tree size n alone: at each level b, the sibling of m's subtree when it lies wholly in
    the tree (its row is where it ends), and for the one level where that sibling is cut short by n, the complete
    subtrees that make it up, found among n's right edge (the row ending each of n's set bits). The whole edge is
    asked for, a few rows more than the proof needs, so that the set is simple; `PrefetchedNodes` reads any node
    the statement did not bring (none, if this is right) like any other. `tables`: a schema prefix, e.g. '"s".'."""
    s = "((leaf.leaf_index >> bits.b) + 1 - 2 * ((leaf.leaf_index >> bits.b) & 1))"  # (m >> b) XOR 1: SQLite has no XOR
    return (
        f"WITH bits(b) AS (VALUES {', '.join(f'({b})' for b in range(63))}),"
        f" leaf AS (SELECT leaf_index, leaf_hash FROM {tables}ledger_leaves WHERE notification_id = {placeholder}),"
        f" latest AS (SELECT tree_size, note FROM {tables}ledger_checkpoints ORDER BY tree_size DESC LIMIT 1),"
        " wanted AS ("
        f"SELECT ((({s} + 1) << bits.b) - 1) AS row_index, latest.tree_size AS n FROM leaf, latest, bits"
        " WHERE leaf.leaf_index < latest.tree_size AND (latest.tree_size >> bits.b) > 0"
        " UNION SELECT (((latest.tree_size >> bits.b) << bits.b) - 1), latest.tree_size FROM leaf, latest, bits"
        " WHERE leaf.leaf_index < latest.tree_size AND ((latest.tree_size >> bits.b) & 1) = 1)"
        " SELECT 0 AS part, leaf.leaf_index, leaf.leaf_hash, NULL AS completed_nodes, latest.tree_size, latest.note"
        " FROM (SELECT 1 AS one) AS one LEFT JOIN leaf ON 1 = 1 LEFT JOIN latest ON 1 = 1"
        " UNION ALL SELECT 1, node.leaf_index, node.leaf_hash, node.completed_nodes, NULL, NULL"
        f" FROM {tables}ledger_leaves AS node"
        " WHERE node.leaf_index IN (SELECT row_index FROM wanted WHERE row_index < n)")


@dataclass(frozen=True)
class InclusionInLatest:
    """What `inclusion_in_latest_sql` read: (leaf index, leaf hash) or None, (tree size, note) of the latest
    checkpoint or None, and the nodes read with them."""

    leaf: tuple[int, bytes] | None
    latest: tuple[int, str] | None
    nodes: "PrefetchedNodes"


class _Subtrees:
    """A subtree store whose one-node read is its many-node read of one."""

    def nodes(self, keys: list[merkle.NodeKey]) -> dict[merkle.NodeKey, bytes]:
        raise NotImplementedError

    def node(self, level: int, index: int) -> bytes:
        found = self.nodes([(level, index)])
        if (level, index) not in found:
            raise merkle.MissingNodeError(f"ledger lacks subtree ({level}, {index})")
        return found[(level, index)]


class PrefetchedNodes(_Subtrees):
    """Subtree hashes from rows already read; a node not among them is read from `store` (a proof then costs one
    round trip more, and stays right)."""

    def __init__(self, rows: dict[int, tuple[bytes, bytes]], store: merkle.BulkSubtreeStore) -> None:
        self.rows, self.store = rows, store
        self.read_again: list[merkle.NodeKey] = []

    def nodes(self, keys: list[merkle.NodeKey]) -> dict[merkle.NodeKey, bytes]:
        found: dict[merkle.NodeKey, bytes] = {}
        for key in keys:
            row = self.rows.get(row_of(key))
            if row is not None:
                try:
                    found[key] = node_from_row(key[0], *row)
                except LedgerDamaged:
                    pass  # read again below; still missing, the proof says so
        missing = [key for key in keys if key not in found]
        if missing:
            self.read_again += missing
            found.update(self.store.nodes(missing))
        return found



def inclusion_in_latest(rows: Iterable[Sequence[Any]], store: merkle.BulkSubtreeStore) -> InclusionInLatest:
    """Reads the rows of `inclusion_in_latest_sql` (part, leaf index, leaf hash, completed nodes, size, note)."""
    leaf = latest = None
    nodes: dict[int, tuple[bytes, bytes]] = {}
    for part, index, hashed, completed, size, note in rows:
        if part == 0:
            leaf = None if index is None else (index, bytes(hashed))
            latest = None if size is None else (size, note)
        else:
            nodes[index] = (bytes(hashed), bytes(completed))
    return InclusionInLatest(leaf, latest, PrefetchedNodes(nodes, store))


class SqlLedgerStore(_Subtrees):
    """The ledger tables as an `merkle.BulkSubtreeStore`: any proof in one query of O(log n) rows."""

    def __init__(self, engine: Engine, latest_rows: Callable[[int], list[Any]] | None = None) -> None:
        """`latest_rows`: runs `inclusion_in_latest_sql` for a notification id on a connection of its own (the
        PostgreSQL event store's pool, which pings nothing), rather than through this engine."""
        self.engine = reader(engine)
        self._conn: Connection | None = None
        self._latest_rows = latest_rows
        self._inclusion_sql = text(inclusion_in_latest_sql())
        self._frontier_sql = text(_FRONTIER_SQL.format(leaves="ledger_leaves"))
        # Built once: a proof is a few rows, so building and coercing the statement cost more than running it.
        leaves = ledger_leaves.c
        if engine.dialect.name == "postgresql":
            # One array parameter keeps the statement's text the same for any number of nodes, so the driver
            # prepares it once; an IN list of literals would be planned afresh for every proof.
            wanted = leaves.leaf_index == any_(bindparam("rows", type_=ARRAY(BigInteger)))
        else:
            wanted = leaves.leaf_index.in_(bindparam("rows", expanding=True))
        self._nodes_sql = select(leaves.leaf_index, leaves.leaf_hash, leaves.completed_nodes).where(wanted)
        self._leaves_sql = (select(leaves.notification_id, leaves.leaf_index, leaves.leaf_hash)
                            .where(leaves.notification_id.in_(bindparam("ids", expanding=True))))
        self._leaf_sql = (select(leaves.notification_id, leaves.leaf_index, leaves.leaf_hash)
                          .where(leaves.notification_id == bindparam("id")))

    @contextmanager
    def one_connection(self) -> Iterator["SqlLedgerStore"]:
        """This store reading on one connection until the block ends: a proof's leaf, checkpoint and nodes in one
        checkout instead of one each. (Leaves and their subtree hashes are never rewritten, so reading them in
        separate statements is as sound as in one snapshot.)"""
        if self._conn is not None:
            yield self
            return
        with self.engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                # Reads of rows never rewritten need no transaction: no BEGIN, and no ROLLBACK when it returns.
                conn.execution_options(isolation_level="AUTOCOMMIT")
            bound = copy.copy(self)
            bound._conn = conn
            yield bound

    @property
    def connection(self) -> Connection | None:
        """The connection this store is bound to by `one_connection`, for reads of other tables beside it."""
        return self._conn

    @contextmanager
    def _connection(self) -> Iterator[Connection]:
        if self._conn is not None:
            yield self._conn
            return
        with self.engine.connect() as conn:
            yield conn

    def size(self) -> int:
        with self.engine.connect() as conn:
            top = conn.execute(select(ledger_leaves.c.leaf_index).order_by(ledger_leaves.c.leaf_index.desc())
                               .limit(1)).scalar()
        return 0 if top is None else top + 1

    def frontier(self) -> merkle.Frontier:
        """Size and right edge of the tree as committed now, in one query."""
        with self.engine.connect() as conn:
            rows = [r._mapping for r in conn.execute(self._frontier_sql)]
        return frontier_from_rows(rows)

    def nodes(self, keys: list[merkle.NodeKey]) -> dict[merkle.NodeKey, bytes]:
        wanted = {key: row_of(key) for key in keys}
        if not wanted:
            return {}
        with self._connection() as conn:
            rows = conn.execute(self._nodes_sql, {"rows": sorted(set(wanted.values()))}).all()
        by_index = {r.leaf_index: r for r in rows}
        found: dict[merkle.NodeKey, bytes] = {}
        for key, index in wanted.items():
            row = by_index.get(index)
            if row is not None:
                try:
                    found[key] = node_from_row(key[0], row.leaf_hash, row.completed_nodes)
                except LedgerDamaged:
                    pass  # reported as missing by the caller
        return found


    def leaves_for(self, notification_ids: Sequence[int]) -> dict[int, tuple[int, bytes]]:
        """notification id -> (leaf index, leaf hash), for those that have a leaf."""
        if not notification_ids:
            return {}
        with self._connection() as conn:
            if len(notification_ids) == 1:  # a proof's lookup: no list to expand into the statement
                rows = conn.execute(self._leaf_sql, {"id": notification_ids[0]}).all()
            else:
                rows = conn.execute(self._leaves_sql, {"ids": list(notification_ids)}).all()
        return {r.notification_id: (r.leaf_index, bytes(r.leaf_hash)) for r in rows}

    def inclusion_in_latest(self, notification_id: int) -> InclusionInLatest:
        """The leaf, the latest checkpoint and the proof's nodes in one round trip (see `inclusion_in_latest_sql`):
        on the rows reader given to this store, else on a connection of its engine."""
        if self._latest_rows is not None and self._conn is None:
            return inclusion_in_latest(self._latest_rows(notification_id), self)
        with self._connection() as conn:
            rows = conn.execute(self._inclusion_sql, {"id": notification_id}).all()
        return inclusion_in_latest(rows, self)

    def inclusion_proof(self, leaf_index: int, tree_size: int) -> list[bytes]:
        return merkle.inclusion_proof(self, leaf_index, tree_size)

    def consistency_proof(self, old_size: int, new_size: int) -> list[bytes]:
        return merkle.consistency_proof(self, old_size, new_size)

    def root(self, tree_size: int) -> bytes:
        return merkle.root_hash(self, tree_size)


@dataclass
class Snapshot:
    """Streams of everything verification reads, all as of one instant."""

    events: Iterable[EventRow]
    leaves: Iterable[LeafRow]
    checkpoint_notes: list[str]
    leaf_count: int
    versions_checked: bool = False  # see `versions_count_up`


@contextmanager
def snapshot(engine: Engine, events: EventsTable) -> Iterator[Snapshot]:
    """Opens one read-only transaction and streams events and leaves from it, in batches."""
    raw = engine.raw_connection()
    snap: Snapshot | None = None
    try:
        if events.settings.is_sqlite:
            snap = _sqlite_snapshot(raw.driver_connection, events)
        else:
            snap = _postgres_snapshot(raw.driver_connection, events)
        yield snap
    finally:
        try:
            if snap is not None and isinstance(snap.events, BulkEvents):
                snap.events.close()  # ends a helper process still at work
        finally:
            try:
                raw.rollback()
            finally:
                raw.close()


def _sqlite_snapshot(conn: Any, events: EventsTable) -> Snapshot:
    conn.execute("BEGIN")  # deferred: a reader; WAL gives it a snapshot from its first read
    notes = [r[0] for r in conn.execute("SELECT note FROM ledger_checkpoints ORDER BY tree_size")]
    top = conn.execute("SELECT MAX(leaf_index) FROM ledger_leaves").fetchone()[0]
    leaf_rows = _Query(conn, "SELECT leaf_index, notification_id, leaf_hash, completed_nodes "
                             "FROM ledger_leaves ORDER BY leaf_index")
    checked = versions_count_up(conn, events.qualified, events.nid, _SQLITE_ODD_ID)
    return Snapshot(SqliteEvents(conn, events.qualified), leaf_rows, notes, 0 if top is None else top + 1, checked)


# An id as SQLite stores it is 32 lower-case hex digits (the leaf encodes it hyphenated); anything else, and
# PostgreSQL's uuid column allows nothing else, is left to the verifier's own pass to name.
_SQLITE_ODD_ID = ("typeof(originator_id) != 'text' OR length(originator_id) != 32 "
                  "OR originator_id GLOB '*[^0-9a-f]*' OR typeof(v) != 'integer'")


def uuid_slices(count: int) -> list[str]:
    """`count` (at most 256) conditions on originator_id that split the UUIDs between them, by their first byte."""
    bounds = [f"'{i * 256 // count:02x}000000-0000-0000-0000-000000000000'" for i in range(1, count)]
    lows, highs = [None, *bounds], [*bounds, None]
    return [" AND ".join([*([f"originator_id >= {lo}"] if lo else []), *([f"originator_id < {hi}"] if hi else [])])
            or "TRUE" for lo, hi in zip(lows, highs)]


def versions_count_up(conn: Any, table: str, nid: str, odd_id: str = "FALSE", slices: list[str] | None = None
                      ) -> bool:
    """Whether every record's versions count 1, 2, 3... in notification order, each id spelled one way: asked
    of the database in the verifier's snapshot, through the (originator id, version) key, so that the verifier
    need not keep each record's last version in memory (`ledger_verify.audit`'s versions_checked). False when
    they do not, or the question could not be answered: the verifier then follows them itself and names what
    it finds."""
    statements = [f"SELECT EXISTS (SELECT 1 FROM (SELECT originator_id, originator_version AS v, {nid} AS nid, "
                  f"ROW_NUMBER() OVER w AS n, LAG({nid}) OVER w AS before FROM {table} WHERE {where} "
                  f"WINDOW w AS (PARTITION BY originator_id ORDER BY originator_version)) AS runs "
                  f"WHERE v != n OR nid <= before OR {odd_id})" for where in (slices or ["TRUE"])]
    cursor = conn.cursor()
    try:
        cursor.execute("SAVEPOINT svl_versions")  # a failure here must leave the snapshot usable
        try:
            odd = False
            for sql in statements:
                cursor.execute(sql)
                odd = bool(cursor.fetchone()[0])
                if odd:
                    break
        except Exception as exc:  # noqa: BLE001 - e.g. a statement timeout on a huge log: the verifier follows them
            cursor.execute("ROLLBACK TO SAVEPOINT svl_versions")
            # A warning, so that an administrator sees why verify's memory grows with the log, and what to do.
            log.warning("svl verify: the database could not vouch for the records' versions (%s: %s), so they are "
                        "followed in memory, which grows with the log; for a large log raise SVL_DB_STATEMENT_TIMEOUT "
                        "(0: none)", type(exc).__name__, str(exc).strip())
            return False
        finally:
            cursor.execute("RELEASE SAVEPOINT svl_versions")
    finally:
        cursor.close()
    return not odd


class _Query:
    """Rows of one query in the snapshot, read afresh each time they are iterated."""

    def __init__(self, conn: Any, sql: str) -> None:
        self.conn, self.sql = conn, sql

    def __iter__(self) -> Iterator[Any]:
        return iter(self.conn.execute(self.sql))


class SqliteEvents(BulkEvents):
    """The events in the snapshot: row by row (ids as stored, 32 hex digits: the verifier hyphenates
    them, cheaper than SQL would), or in bulk, the tail of a large log recomputed by a helper process."""

    def __init__(self, conn: Any, table: str) -> None:
        self.conn, self.table = conn, table
        self.sql = f"SELECT rowid, originator_id, originator_version, topic, state FROM {table}"
        self.split: int | None = None  # the last notification id recomputed here, when a helper has the rest
        self.helper: _Helper | None = None
        self.text_factory = conn.text_factory

    def __iter__(self) -> Iterator[EventRow]:
        # The row-by-row pass names divergences, so it must read whatever SQL left in a row: TEXT that is not
        # UTF-8 (`substr(state, 1, 10) || x'00' || ...` stores TEXT) would stop sqlite3 with an error. Until
        # `close`, for the leaves read alongside too.
        self.conn.text_factory = _lenient_text
        return iter(self.conn.execute(f"{self.sql} ORDER BY rowid"))

    def tail(self, follow: bool = True) -> Callable[[], Tail] | None:
        path = _database_file(self.conn)
        if path is None or _cpus() < 2:
            return None
        # Two subqueries: SQLite answers a lone MIN or MAX from the b-tree's edge, both at once by a scan.
        low, high = self.conn.execute(f"SELECT (SELECT MIN(rowid) FROM {self.table}), "
                                      f"(SELECT MAX(rowid) FROM {self.table})").fetchone()
        if low is None or high - low + 1 < BULK_HELPER_MIN_EVENTS:
            return None
        split = low + int((high - low + 1) * BULK_LOCAL_SHARE)
        self.helper = _Helper.start(path, self.table, split, high, follow)
        if self.helper is None:
            return None
        self.split = split
        return self.helper.result

    def batches(self) -> Iterable[list[EventRow]]:
        if self.split is None:
            cursor = self.conn.execute(f"{self.sql} ORDER BY rowid")
        else:
            cursor = self.conn.execute(f"{self.sql} WHERE rowid <= ? ORDER BY rowid", (self.split,))
        return iter(lambda: cursor.fetchmany(BULK_RUN), [])

    def close(self) -> None:
        if self.helper is not None:
            self.helper.kill()
            self.helper = None
        self.split = None
        self.conn.text_factory = self.text_factory


def _lenient_text(raw: bytes) -> str:
    """TEXT as str, invalid UTF-8 kept as surrogates: such a value (or TEXT where bytes belong) matches no
    leaf, so the verifier reports the row as altered."""
    return raw.decode("utf-8", "surrogateescape")


def _database_file(conn: Any) -> str | None:
    for _, name, file in conn.execute("PRAGMA database_list"):
        if name == "main":
            return file or None  # "" for an in-memory or temporary database
    return None


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class _Helper:
    """A helper interpreter recomputing the events after a notification id, up to another."""

    def __init__(self, process: subprocess.Popen, output: IO[bytes]) -> None:
        self.process, self.file = process, output
        self.output: bytes | None = None
        self.errors = b""

    @classmethod
    def start(cls, path: str, table: str, after: int, upto: int, follow: bool = True) -> "_Helper | None":
        try:
            program = "\n\n".join((recomputer_source(), inspect.getsource(_helper_main),
                                    f"_helper_main({LEAF_PREFIX!r})\n"))
        except (OSError, TypeError, ValueError) as exc:  # no source to send
            log.debug("svl verify: no helper process (%s)", exc)
            return None
        uri = Path(path).resolve().as_uri() + "?mode=ro"  # read-only
        # Its output goes to an unnamed temporary file: written at once when it is done, never waiting on
        # this process to read a pipe.
        output = tempfile.TemporaryFile()
        try:
            process = subprocess.Popen(
                [sys.executable, "-I", "-S", "-c", program, uri, table, str(after), str(upto), str(BULK_RUN),
                 "follow" if follow else "checked"],
                stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.PIPE)
        except (OSError, ValueError) as exc:  # no interpreter to run it
            output.close()
            log.debug("svl verify: no helper process (%s)", exc)
            return None
        return cls(process, output)

    def result(self) -> Tail:
        """Waits for the helper; its `Tail`."""
        self.stop()
        try:
            message = marshal.loads(self.output or b"")
        except (EOFError, ValueError, TypeError) as exc:
            why = self.errors.decode(errors="replace")[-500:]
            log.warning("svl verify: the helper process stopped (%s); verifying in this process alone", why)
            raise BulkUnsuitable(f"the helper process stopped: {why}") from exc
        if message[0] != "tail":
            raise BulkUnsuitable(f"the helper process could not read the events: {message[1]}")
        ok, oid_length, first_oids, first_versions, lasts = message[5]
        versions = array("q")
        versions.frombytes(first_versions)
        return Tail(message[1], message[2], message[3], [(stored, tuple(row)) for stored, row in message[4]],
                    Versions(ok, oid_length, first_oids, versions, lasts))

    def stop(self) -> None:
        """Waits for the helper to end (killed first by `kill`); takes its output."""
        if self.output is None:
            self.errors = self.process.communicate()[1] or b""
            with self.file:
                self.file.seek(0)
                self.output = self.file.read()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.stop()


def _helper_main(leaf_prefix: bytes) -> None:
    """The helper interpreter's program (standard library only; `Recomputer` is defined before it):
    summarises events (after, upto] of a table as a `Tail` and writes it to stdout with `marshal`."""
    import marshal
    import sqlite3
    import sys
    from array import array

    uri, table, after, upto, run = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    follow = sys.argv[6] == "follow"
    try:
        conn = sqlite3.connect(uri, uri=True)
        conn.execute("BEGIN")  # one snapshot for the events and the leaves looked up
        cursor = conn.execute(f"SELECT rowid, originator_id, originator_version, topic, state FROM {table} "
                              "WHERE rowid > ? AND rowid <= ? ORDER BY rowid", (after, upto))

        def stored_leaf(nid: int) -> object:
            row = conn.execute("SELECT leaf_hash FROM ledger_leaves WHERE notification_id = ?", (nid,)).fetchone()
            return None if row is None else row[0]

        recomputer = Recomputer(leaf_prefix, follow)  # noqa: F821 - defined before this function in the program
        count, nids, leaves, empty, (ok, length, oids, versions, _) = recomputer.summarise(
            iter(lambda: cursor.fetchmany(run), []), stored_leaf)
        message = ("tail", count, nids, leaves, empty, (ok, length, oids, array("q", versions).tobytes(), None))
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which then reads the log row by row
        message = ("error", f"{type(exc).__name__}: {exc}")
    sys.stdout.buffer.write(marshal.dumps(message))
    sys.stdout.buffer.flush()


def _postgres_snapshot(conn: Any, events: EventsTable) -> Snapshot:
    schema = f'"{events.settings.database_schema}"'
    with conn.cursor() as cur:
        # The first statement of the transaction: events, leaves and checkpoints as of one instant.
        cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        cur.execute(f"SELECT note FROM {schema}.ledger_checkpoints ORDER BY tree_size")
        notes = [r[0] for r in cur.fetchall()]
        cur.execute(f"SELECT MAX(leaf_index) FROM {schema}.ledger_leaves")
        top = cur.fetchone()[0]
    # A large log is asked about in slices of the id space (each record's rows all fall in one): one question
    # over 10^7 events outlasted the statement timeout, and verify then followed every record in memory.
    slices = 256 if (top or 0) >= 1_000_000 else 1
    checked = versions_count_up(conn, events.qualified, events.nid, slices=uuid_slices(slices))
    event_rows = _server_side(conn, "svl_verify_events", binary=True, sql=(
        f"SELECT notification_id, originator_id::text, originator_version, topic, state "
        f"FROM {events.qualified} ORDER BY notification_id"))
    leaf_rows = _server_side(conn, "svl_verify_leaves", binary=True, sql=(
        f"SELECT leaf_index, notification_id, leaf_hash, completed_nodes FROM {schema}.ledger_leaves "
        "ORDER BY leaf_index"))
    return Snapshot(event_rows, leaf_rows, notes, 0 if top is None else top + 1, checked)


def _server_side(conn: Any, name: str, sql: str, binary: bool) -> Iterator[Any]:
    cur = conn.cursor(name=name, binary=binary)
    cur.itersize = _BATCH
    cur.execute(sql)
    try:
        while rows := cur.fetchmany(_BATCH):
            yield from rows
    finally:
        cur.close()


def stored_checkpoint_notes(engine: Engine) -> list[tuple[int, str]]:
    with reader(engine).connect() as conn:
        return [(r.tree_size, r.note) for r in conn.execute(
            select(ledger_checkpoints.c.tree_size, ledger_checkpoints.c.note).order_by(ledger_checkpoints.c.tree_size))]
