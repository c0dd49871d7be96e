"""Appends ledger leaves in the same database transaction that stores the events.

Runs on the event store's own DB-API cursor (sqlite3 or psycopg), after the events are inserted and
while that transaction holds the write lock, so leaf order is commit order and no event is ever
acknowledged without its leaf.
"""

import hashlib
import struct
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent

LEAF_DOMAIN = b"svl-event-v1\x00"


def encode_leaf(notification_id: int, originator_id: UUID | str, version: int, topic: str, state: bytes) -> bytes:
    """The leaf covers the event's identity and the hash of its stored (sealed) bytes."""
    oid = str(originator_id).encode()
    top = topic.encode()
    return b"".join((
        LEAF_DOMAIN,
        struct.pack(">Q", notification_id),
        struct.pack(">I", len(oid)), oid,
        struct.pack(">Q", version),
        struct.pack(">I", len(top)), top,
        hashlib.sha256(state).digest(),
    ))


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


class LedgerAppender:
    """Writes the leaf and the subtree nodes each new leaf completes (about two rows a leaf)."""

    def __init__(self, paramstyle: str, schema: str | None = None) -> None:
        p = "?" if paramstyle == "qmark" else "%s"
        prefix = f'"{schema}".' if schema else ""
        self._size_sql = f"SELECT MAX(leaf_index) AS m FROM {prefix}ledger_leaves"
        self._leaf_sql = f"SELECT leaf_hash AS h FROM {prefix}ledger_leaves WHERE leaf_index = {p}"
        self._node_sql = f"SELECT hash AS h FROM {prefix}ledger_nodes WHERE level = {p} AND node_index = {p}"
        self._insert_leaf = (
            f"INSERT INTO {prefix}ledger_leaves (leaf_index, notification_id, leaf_hash) VALUES ({p}, {p}, {p})"
        )
        self._insert_node = f"INSERT INTO {prefix}ledger_nodes (level, node_index, hash) VALUES ({p}, {p}, {p})"

    def append(self, cursor: Any, notification_ids: Sequence[int], stored_events: Sequence[StoredEvent]) -> None:
        if len(notification_ids) != len(stored_events):
            raise RuntimeError("the ledger needs one notification id per stored event")
        cursor.execute(self._size_sql)
        row = cursor.fetchone()
        current_max = row["m"] if row is not None else None
        size = 0 if current_max is None else current_max + 1
        written: dict[tuple[int, int], bytes] = {}
        leaves, nodes = [], []
        for nid, stored in zip(notification_ids, stored_events):
            h = leaf_hash(encode_leaf(nid, stored.originator_id, stored.originator_version, stored.topic, stored.state))
            leaves.append((size, nid, h))
            written[(0, size)] = h
            level, index = 0, size
            while index & 1:  # this leaf completes a subtree: hash it with its left sibling
                h = node_hash(self._node(cursor, written, level, index - 1), h)
                level, index = level + 1, index >> 1
                written[(level, index)] = h
                nodes.append((level, index, h))
            size += 1
        cursor.executemany(self._insert_leaf, leaves)
        if nodes:
            cursor.executemany(self._insert_node, nodes)

    def _node(self, cursor: Any, written: dict, level: int, index: int) -> bytes:
        if (level, index) in written:
            return written[(level, index)]
        if level == 0:
            cursor.execute(self._leaf_sql, (index,))
        else:
            cursor.execute(self._node_sql, (level, index))
        row = cursor.fetchone()
        if row is None:
            raise RuntimeError(f"ledger node ({level}, {index}) is missing: the ledger tables are damaged")
        return bytes(row["h"])
