"""Appends ledger leaves in the same database transaction that stores the events.

Runs on the event store's own DB-API cursor (sqlite3 or psycopg), after the events are inserted and
while that transaction holds the write lock, so leaf order is commit order and no event is ever
acknowledged without its leaf. Each insert costs one read (the tree's right edge, in one query)
and one write (the new leaf rows, each carrying the subtree hashes it completes).

On PostgreSQL the event store reads the last leaf in the same statement as its event insert
(`last_leaf_sql`, `rows_after`) and inserts all the leaf rows in one statement (`insert_rows_sql`);
see `infrastructure.event_store_pg.LedgeredPostgresRecorder`.
"""

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eventsourcing.persistence import StoredEvent

from infrastructure.merkle import Frontier, MissingNodeError, NodeKey
from infrastructure.svl_verify import HASH_SIZE, event_leaf_hash

# The frontier of a tree of size n is one complete subtree per 1-bit of n: at level L the node
# (L, (n >> L) - 1), whose hash sits in leaf row ((n >> L) << L) - 1. Size and frontier come back
# in one round-trip: one row per 1-bit (or a single row of NULLs for the empty tree).
_FRONTIER_SQL = """
WITH RECURSIVE
  tree(n) AS (SELECT COALESCE(MAX(leaf_index) + 1, 0) FROM {leaves}),
  lv(lvl) AS (SELECT 0 UNION ALL SELECT lvl + 1 FROM lv WHERE lvl < 62)
SELECT tree.n AS n, lv.lvl AS lvl, l.leaf_hash AS leaf_hash, l.completed_nodes AS completed_nodes
FROM tree
LEFT JOIN lv ON ((tree.n >> lv.lvl) & 1) = 1
LEFT JOIN {leaves} l ON l.leaf_index = ((tree.n >> lv.lvl) << lv.lvl) - 1
"""


class LedgerDamaged(RuntimeError):
    """The ledger tables lack a row the next append needs: someone removed or rewrote them."""


def node_from_row(level: int, leaf_hash: bytes, completed_nodes: bytes) -> bytes:
    """Hash of the node at `level` stored in the leaf row that completed it."""
    if level == 0:
        return bytes(leaf_hash)
    digest = bytes(completed_nodes[(level - 1) * HASH_SIZE: level * HASH_SIZE])
    if len(digest) != HASH_SIZE:
        raise LedgerDamaged(f"a ledger row lacks its level-{level} subtree hash")
    return digest


def frontier_from_rows(rows: Sequence[Any]) -> Frontier:
    """Builds the in-memory right edge from the rows of `_FRONTIER_SQL`."""
    size = int(rows[0]["n"]) if rows else 0
    nodes: dict[NodeKey, bytes] = {}
    for row in rows:
        level = row["lvl"]
        if level is None:
            continue
        if row["leaf_hash"] is None:
            raise LedgerDamaged(f"the ledger row holding subtree ({level}, {(size >> level) - 1}) is missing")
        nodes[(level, (size >> level) - 1)] = node_from_row(level, row["leaf_hash"], row["completed_nodes"])
    try:
        return Frontier(size, nodes)
    except MissingNodeError as exc:
        raise LedgerDamaged(str(exc)) from None


@dataclass(frozen=True)
class _Edge:
    """The committed right edge: valid while the last leaf row is still (last_index, last_hash)."""

    last_index: int
    last_hash: bytes
    nodes: dict[NodeKey, bytes]
    last_notification_id: int

    @property
    def frontier(self) -> Frontier:
        return Frontier(self.last_index + 1, self.nodes)


class LedgerAppender:
    """Writes one leaf row per stored event, on the cursor of the transaction that stored them.

    The right edge of the tree is kept in memory between inserts, but only once the transaction that
    produced it has committed (`committed()`), and only trusted while the ledger's last row is still
    the one it ended with: one cheap indexed read per insert, the full frontier query only when
    another process wrote in between (or a write rolled back).
    """

    def __init__(self, paramstyle: str, schema: str | None = None) -> None:
        p = "?" if paramstyle == "qmark" else "%s"
        leaves = f'"{schema}".ledger_leaves' if schema else "ledger_leaves"
        self._frontier_sql = _FRONTIER_SQL.format(leaves=leaves)
        self._last_sql = f"SELECT leaf_index, leaf_hash FROM {leaves} ORDER BY leaf_index DESC LIMIT 1"
        self.insert_into_sql = f"INSERT INTO {leaves} (leaf_index, notification_id, leaf_hash, completed_nodes)"
        self._insert_sql = f"{self.insert_into_sql} VALUES ({p}, {p}, {p}, {p})"
        self._edge: _Edge | None = None
        self._lock = threading.Lock()
        self._pending = threading.local()  # per writer thread: the edge its open transaction would commit

    def append(self, cursor: Any, notification_ids: Sequence[int], stored_events: Sequence[StoredEvent]) -> None:
        rows = self._leaf_rows(self._current_frontier(cursor), notification_ids, stored_events)
        if len(rows) == 1:
            cursor.execute(self._insert_sql, rows[0])
        else:
            cursor.executemany(self._insert_sql, rows)

    # -- PostgreSQL: the event store reads the last leaf with its event insert, and inserts the rows itself --

    @property
    def last_leaf_sql(self) -> str:
        """The committed last leaf (leaf_index, leaf_hash): for the event store to read in the same statement
        as its event insert, after the table lock is taken."""
        return self._last_sql

    def insert_rows_sql(self, count: int) -> str:
        """One INSERT of `count` leaf rows (parameters: the rows of `rows_after`, flattened)."""
        values = ", ".join(["(%s, %s, %s, %s)"] * count)
        return self._insert_sql.replace("VALUES (%s, %s, %s, %s)", f"VALUES {values}")

    def rows_after(self, cursor: Any, last: Any, notification_ids: Sequence[int],
                   stored_events: Sequence[StoredEvent]) -> list[tuple[int, int, bytes, bytes]]:
        """The leaf rows for these events, given the last leaf row this transaction read under the lock
        (`last`: a row with leaf_index and leaf_hash, or None for an empty ledger). The cached edge is used
        if it still ends at that row; otherwise the frontier is read on `cursor` (one more round trip)."""
        self._pending.edge = None  # whatever an earlier, failed transaction left
        with self._lock:
            edge = self._edge
        if edge is not None and last is not None and last["leaf_index"] == edge.last_index \
                and bytes(last["leaf_hash"]) == edge.last_hash:
            frontier = edge.frontier
        else:
            cursor.execute(self._frontier_sql)
            frontier = frontier_from_rows(cursor.fetchall())
        return self._leaf_rows(frontier, notification_ids, stored_events)

    def predicted_rows(self, stored_events: Sequence[StoredEvent]) -> tuple[tuple[int, bytes], list[tuple[int, int, bytes, bytes]]] | None:
        """PostgreSQL, for a write with nothing to check under the lock: the leaf rows these events would get if
        the ledger still ends at the committed edge and the events take the notification ids that follow its
        last one (the sequence has no gap while this process writes alone), with the (leaf_index, leaf_hash)
        that edge ends at. The event store sends them with the events in one round trip, on condition that both
        hold under the lock. None without a committed edge (the first write of a process)."""
        self._pending.edge = None
        with self._lock:
            edge = self._edge
        if edge is None:
            return None
        first = edge.last_notification_id + 1
        rows = self._leaf_rows(edge.frontier, range(first, first + len(stored_events)), stored_events)
        return (edge.last_index, edge.last_hash), rows

    def _leaf_rows(self, frontier: Frontier, notification_ids: Sequence[int],
                   stored_events: Sequence[StoredEvent]) -> list[tuple[int, int, bytes, bytes]]:
        """One row per event (leaf index, notification id, leaf hash, completed subtree hashes), appended to
        `frontier`; the edge it ends with is this thread's pending edge until `committed()`."""
        if len(notification_ids) != len(stored_events):
            raise RuntimeError("the ledger needs one notification id per stored event")
        rows = []
        for nid, stored in zip(notification_ids, stored_events):
            leaf = event_leaf_hash(nid, stored.originator_id, stored.originator_version, stored.topic, stored.state)
            index = frontier.size
            completed = frontier.append(leaf)
            rows.append((index, nid, leaf, b"".join(digest for _, _, digest in completed[1:])))
        if rows:
            self._pending.edge = _Edge(rows[-1][0], rows[-1][2], frontier.nodes(), rows[-1][1])
        return rows

    def committed(self) -> None:
        """The transaction that called `append` (or `rows_after`) on this thread has committed: its edge is now
        the truth."""
        edge = getattr(self._pending, "edge", None)
        self._pending.edge = None
        if edge is not None:
            with self._lock:
                if self._edge is None or edge.last_index > self._edge.last_index:
                    self._edge = edge

    def _current_frontier(self, cursor: Any) -> Frontier:
        self._pending.edge = None  # whatever an earlier, failed transaction left
        with self._lock:
            edge = self._edge
        if edge is not None:
            cursor.execute(self._last_sql)
            last = cursor.fetchone()
            if last is not None and last["leaf_index"] == edge.last_index and bytes(last["leaf_hash"]) == edge.last_hash:
                return edge.frontier
        cursor.execute(self._frontier_sql)
        return frontier_from_rows(cursor.fetchall())
