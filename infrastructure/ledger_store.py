"""SQL adapters for the integrity ledger: proofs from the ledger tables, and streaming readers of the
events, leaves and checkpoints as stored (for `svl verify`, which must not trust our own code paths).

Proof reads go through SQLAlchemy (a handful of rows each). The verification streams use the driver
directly, in one read-only snapshot, because they read every row and must see events, leaves and
checkpoints as of the same instant.
"""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, select, text

from infrastructure import merkle
from infrastructure.database import reader
from infrastructure.ledger_append import _FRONTIER_SQL, LedgerDamaged, frontier_from_rows, node_from_row
from infrastructure.ledger_tables import ledger_checkpoints, ledger_leaves
from infrastructure.ledger_verify import canonical_originator_id as _canonical
from infrastructure.settings import Settings

# (notification id, originator id as canonical UUID text, version, stored topic, stored state)
EventRow = tuple[int, str, int, str, bytes | None]
# (leaf index, notification id, leaf hash, completed subtree hashes)
LeafRow = tuple[int, int, bytes, bytes]

_BATCH = 5000


def canonical_originator_id(value: Any) -> str:
    """The originator id as the leaf encodes it: UUID text with hyphens, whatever the backend stores."""
    return _canonical(str(value))


def row_of(key: merkle.NodeKey) -> int:
    """The leaf row that completed (and so stores) the subtree (level, index)."""
    level, index = key
    return ((index + 1) << level) - 1


@dataclass(frozen=True)
class EventsTable:
    """Where the event store keeps its rows, and how this backend names the notification id."""

    name: str
    settings: Settings

    @property
    def qualified(self) -> str:
        if self.settings.is_sqlite:
            return self.name
        return f'"{self.settings.database_schema}"."{self.name}"'

    @property
    def nid(self) -> str:
        return "rowid" if self.settings.is_sqlite else "notification_id"


class SqlLedgerStore:
    """The ledger tables as an `merkle.BulkSubtreeStore`: any proof in one query of O(log n) rows."""

    def __init__(self, engine: Engine) -> None:
        self.engine = reader(engine)
        self._frontier_sql = text(_FRONTIER_SQL.format(leaves="ledger_leaves"))

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
        with self.engine.connect() as conn:
            rows = conn.execute(select(ledger_leaves.c.leaf_index, ledger_leaves.c.leaf_hash,
                                       ledger_leaves.c.completed_nodes)
                                .where(ledger_leaves.c.leaf_index.in_(sorted(set(wanted.values()))))).all()
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

    def node(self, level: int, index: int) -> bytes:
        found = self.nodes([(level, index)])
        if (level, index) not in found:
            raise merkle.MissingNodeError(f"ledger lacks subtree ({level}, {index})")
        return found[(level, index)]

    def leaves_for(self, notification_ids: Sequence[int]) -> dict[int, tuple[int, bytes]]:
        """notification id -> (leaf index, leaf hash), for those that have a leaf."""
        if not notification_ids:
            return {}
        with self.engine.connect() as conn:
            rows = conn.execute(select(ledger_leaves.c.notification_id, ledger_leaves.c.leaf_index,
                                       ledger_leaves.c.leaf_hash)
                                .where(ledger_leaves.c.notification_id.in_(list(notification_ids)))).all()
        return {r.notification_id: (r.leaf_index, bytes(r.leaf_hash)) for r in rows}

    def inclusion_proof(self, leaf_index: int, tree_size: int) -> list[bytes]:
        return merkle.inclusion_proof(self, leaf_index, tree_size)

    def consistency_proof(self, old_size: int, new_size: int) -> list[bytes]:
        return merkle.consistency_proof(self, old_size, new_size)

    def root(self, tree_size: int) -> bytes:
        return merkle.root_hash(self, tree_size)


@dataclass
class Snapshot:
    """Streams of everything verification reads, all as of one instant."""

    events: Iterator[EventRow]
    leaves: Iterator[LeafRow]
    checkpoint_notes: list[str]
    leaf_count: int


@contextmanager
def snapshot(engine: Engine, events: EventsTable) -> Iterator[Snapshot]:
    """Opens one read-only transaction and streams events and leaves from it, in batches."""
    raw = engine.raw_connection()
    try:
        if events.settings.is_sqlite:
            yield _sqlite_snapshot(raw.driver_connection, events)
        else:
            yield _postgres_snapshot(raw.driver_connection, events)
    finally:
        try:
            raw.rollback()
        finally:
            raw.close()


def _sqlite_snapshot(conn: Any, events: EventsTable) -> Snapshot:
    conn.execute("BEGIN")  # deferred: a reader; WAL gives it a snapshot from its first read
    notes = [r[0] for r in conn.execute("SELECT note FROM ledger_checkpoints ORDER BY tree_size")]
    top = conn.execute("SELECT MAX(leaf_index) FROM ledger_leaves").fetchone()[0]
    # Ids as stored (32 hex digits): the verifier hyphenates them, cheaper than SQL would.
    event_rows = conn.execute(f"SELECT rowid, originator_id, originator_version, topic, state "
                              f"FROM {events.qualified} ORDER BY rowid")
    leaf_rows = conn.execute("SELECT leaf_index, notification_id, leaf_hash, completed_nodes "
                             "FROM ledger_leaves ORDER BY leaf_index")
    return Snapshot(iter(event_rows), iter(leaf_rows), notes, 0 if top is None else top + 1)




def _postgres_snapshot(conn: Any, events: EventsTable) -> Snapshot:
    schema = f'"{events.settings.database_schema}"'
    with conn.cursor() as cur:
        # The first statement of the transaction: events, leaves and checkpoints as of one instant.
        cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        cur.execute(f"SELECT note FROM {schema}.ledger_checkpoints ORDER BY tree_size")
        notes = [r[0] for r in cur.fetchall()]
        cur.execute(f"SELECT MAX(leaf_index) FROM {schema}.ledger_leaves")
        top = cur.fetchone()[0]
    event_rows = _server_side(conn, "svl_verify_events", binary=True, sql=(
        f"SELECT notification_id, originator_id::text, originator_version, topic, state "
        f"FROM {events.qualified} ORDER BY notification_id"))
    leaf_rows = _server_side(conn, "svl_verify_leaves", binary=True, sql=(
        f"SELECT leaf_index, notification_id, leaf_hash, completed_nodes FROM {schema}.ledger_leaves "
        "ORDER BY leaf_index"))
    return Snapshot(event_rows, leaf_rows, notes, 0 if top is None else top + 1)


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
