"""RFC 9162 proof generation over stored subtree hashes.

Storage model (the SQL tables follow it): a node key ``(level, index)`` names
the COMPLETE, power-of-two-aligned subtree covering leaves
``[index * 2**level, (index + 1) * 2**level)``; level 0 holds the leaf hashes.
A node is stored once all its leaves exist and never changes afterwards, so
one table serves proofs for every past tree size. (The SQL store keeps node
(L >= 1, i) in the row of the leaf that completed it, ((i + 1) << L) - 1: see
``infrastructure.ledger_tables`` and ``infrastructure.ledger_store``.)

Every hash a proof needs is an RFC-shaped range ``[start, end)``; such a range
is at most ~log2(n) complete nodes (only ranges on the tree's right edge are
incomplete, and a proof touches at most one of those), so each proof costs
O(log n) node reads. The ``needed_nodes_for_*`` functions name those nodes up
front, so a SQL store can fetch them in one round-trip.

Appending leaf ``i`` completes one node per trailing 1-bit of ``i`` plus the leaf
itself (amortised two rows per leaf); ``nodes_completed_by_append`` and
``Frontier`` return exactly those rows, to be inserted in the same transaction
as the event that produced the leaf.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Protocol

from infrastructure.svl_verify import EMPTY_ROOT, HASH_SIZE, node_hash

NodeKey = tuple[int, int]  # (level, index)
NodeRow = tuple[int, int, bytes]  # (level, index, hash), as stored


class SubtreeStore(Protocol):
    def node(self, level: int, index: int) -> bytes:
        """Hash of the complete subtree (level, index); KeyError if not stored."""
        ...


class BulkSubtreeStore(SubtreeStore, Protocol):
    def nodes(self, keys: list[NodeKey]) -> dict[NodeKey, bytes]:
        """The stored hashes among keys, in one round-trip; absent keys omitted."""
        ...


class MissingNodeError(KeyError):
    """The store lacks a node a proof needs: the tree is smaller than asked, or
    the node table is incomplete (which would be a bug worth shouting about)."""


# --- ranges and their complete subtrees ---


def _split_point(size: int) -> int:
    """RFC 9162's k: the largest power of two smaller than size (size >= 2)."""
    return 1 << ((size - 1).bit_length() - 1)


def _lowest_set_level(value: int) -> int:
    return (value & -value).bit_length() - 1


def _complete_subtrees(start: int, end: int) -> list[NodeKey]:
    """Cover [start, end) with the fewest aligned complete subtrees, left to right."""
    keys: list[NodeKey] = []
    while start < end:
        level = (end - start).bit_length() - 1
        if start:
            level = min(level, _lowest_set_level(start))
        keys.append((level, start >> level))
        start += 1 << level
    return keys


def _is_rfc_range(start: int, end: int) -> bool:
    """Ranges RFC 9162's recursion can produce: they begin on a boundary of the
    smallest power of two that holds them, so their MTH is a right fold of
    their complete subtrees."""
    length = end - start
    return start >= 0 and length > 0 and start % (1 << (length - 1).bit_length()) == 0


def _fold_right(hashes: list[bytes]) -> bytes:
    root = hashes[-1]
    for left in reversed(hashes[:-1]):
        root = node_hash(left, root)
    return root


def _fetch(store: SubtreeStore, keys: Iterable[NodeKey]) -> dict[NodeKey, bytes]:
    wanted = sorted(set(keys))
    bulk = getattr(store, "nodes", None)
    if bulk is not None:
        found = bulk(wanted)
    else:
        found = {}
        for key in wanted:
            try:
                found[key] = store.node(*key)
            except KeyError:
                pass
    missing = [key for key in wanted if key not in found]
    if missing:
        raise MissingNodeError(f"subtree store lacks nodes {missing[:8]}")
    return found


def _range_hashes(store: SubtreeStore, ranges: list[tuple[int, int]]) -> list[bytes]:
    per_range = [_complete_subtrees(start, end) for start, end in ranges]
    found = _fetch(store, (key for keys in per_range for key in keys))
    return [_fold_right([found[key] for key in keys]) for keys in per_range]


def _nodes_of(ranges: list[tuple[int, int]]) -> set[NodeKey]:
    return {key for start, end in ranges for key in _complete_subtrees(start, end)}


def subtree_hash(store: SubtreeStore, start: int, end: int) -> bytes:
    """MTH of leaves [start, end); the range must be one RFC 9162 produces."""
    if start == end == 0:
        return EMPTY_ROOT
    if not _is_rfc_range(start, end):
        raise ValueError(f"[{start}, {end}) is not an RFC 9162 subtree range")
    return _range_hashes(store, [(start, end)])[0]


# --- which ranges each proof is made of (RFC 9162 sections 2.1.3.1, 2.1.4.1) ---


def _inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """PATH(index, D[0:size]) as ranges, leaf-side first like the RFC's output."""
    ranges: list[tuple[int, int]] = []
    start, end = 0, size
    while end - start > 1:
        mid = start + _split_point(end - start)
        if index < mid:
            ranges.append((mid, end))
            end = mid
        else:
            ranges.append((start, mid))
            start = mid
    ranges.reverse()
    return ranges


def _consistency_ranges(old_size: int, new_size: int) -> list[tuple[int, int]]:
    """SUBPROOF(m, D[0:n], true) as ranges; needs 0 < m < n."""
    ranges: list[tuple[int, int]] = []
    start, end = 0, new_size
    # The RFC's flag b: while we are still on the old tree's left spine the
    # verifier already knows this subtree's hash (it is the old root).
    on_old_root = True
    while end != old_size:
        mid = start + _split_point(end - start)
        if old_size <= mid:
            ranges.append((mid, end))
            end = mid
        else:
            ranges.append((start, mid))
            start = mid
            on_old_root = False
    if not on_old_root:
        ranges.append((start, end))
    ranges.reverse()
    return ranges


def _check_inclusion_args(index: int, size: int) -> None:
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} is not in a tree of size {size}")


def _check_consistency_args(old_size: int, new_size: int) -> None:
    if not 0 <= old_size <= new_size:
        raise ValueError(f"no consistency proof from size {old_size} to {new_size}")


def needed_nodes_for_inclusion(index: int, size: int) -> set[NodeKey]:
    _check_inclusion_args(index, size)
    return _nodes_of(_inclusion_ranges(index, size))


def needed_nodes_for_consistency(old_size: int, new_size: int) -> set[NodeKey]:
    _check_consistency_args(old_size, new_size)
    if old_size in (0, new_size):
        return set()
    return _nodes_of(_consistency_ranges(old_size, new_size))


def needed_nodes_for_root(size: int) -> set[NodeKey]:
    return set(frontier_keys(size))


def inclusion_proof(store: SubtreeStore, index: int, size: int) -> list[bytes]:
    _check_inclusion_args(index, size)
    return _range_hashes(store, _inclusion_ranges(index, size))


def inclusion_proofs(store: SubtreeStore, indexes: Iterable[int], size: int) -> dict[int, list[bytes]]:
    """Many leaves' proofs in one tree, from one fetch of the nodes they need (a retention run proves each
    file's destruction event in the same checkpoint)."""
    per_index = {}
    for index in indexes:
        _check_inclusion_args(index, size)
        per_index[index] = [_complete_subtrees(start, end) for start, end in _inclusion_ranges(index, size)]
    found = _fetch(store, (key for ranges in per_index.values() for keys in ranges for key in keys))
    return {index: [_fold_right([found[key] for key in keys]) for keys in ranges]
            for index, ranges in per_index.items()}


def consistency_proof(store: SubtreeStore, old_size: int, new_size: int) -> list[bytes]:
    """Empty when old_size is 0 or equal to new_size: nothing needs proving."""
    _check_consistency_args(old_size, new_size)
    if old_size in (0, new_size):
        return []
    return _range_hashes(store, _consistency_ranges(old_size, new_size))


def root_hash(store: SubtreeStore, size: int) -> bytes:
    if size < 0:
        raise ValueError(f"negative tree size {size}")
    return subtree_hash(store, 0, size)


# --- appending ---


def frontier_keys(size: int) -> list[NodeKey]:
    """Complete subtrees on the right edge of a tree of size, left to right:
    what must be read to compute its root or to keep appending."""
    if size < 0:
        raise ValueError(f"negative tree size {size}")
    return _complete_subtrees(0, size)


def append_keys(index: int) -> list[NodeKey]:
    """The left siblings that appending leaf index merges with (a subset of
    frontier_keys(index)), lowest level first."""
    keys: list[NodeKey] = []
    level = 0
    while index >> level & 1:
        keys.append((level, (index >> level) - 1))
        level += 1
    return keys


def nodes_completed_by_append(
    index: int, leaf_hash: bytes, left_siblings: Mapping[NodeKey, bytes]
) -> list[NodeRow]:
    """Rows that appending leaf index creates: the leaf, then each node it
    completes. left_siblings must hold append_keys(index)."""
    if len(leaf_hash) != HASH_SIZE:
        raise ValueError("leaf hash must be 32 bytes")
    rows: list[NodeRow] = [(0, index, bytes(leaf_hash))]
    level, position, acc = 0, index, bytes(leaf_hash)
    while position & 1:
        acc = node_hash(left_siblings[(level, position - 1)], acc)
        level, position = level + 1, position >> 1
        rows.append((level, position, acc))
    return rows


class Frontier:
    """The right edge of the tree, kept in memory while appending a batch.

    Load it once per transaction (``Frontier.load`` reads frontier_keys(size)
    in one round-trip), append leaves, insert the returned rows, and read the
    new root without touching storage again.
    """

    def __init__(self, size: int = 0, nodes: Mapping[NodeKey, bytes] | None = None) -> None:
        keys = frontier_keys(size)
        nodes = nodes or {}
        missing = [key for key in keys if key not in nodes]
        if missing:
            raise MissingNodeError(f"frontier of size {size} lacks nodes {missing}")
        self._size = size
        self._edge: list[NodeRow] = [(level, index, nodes[(level, index)]) for level, index in keys]

    @classmethod
    def load(cls, store: SubtreeStore, size: int) -> Frontier:
        return cls(size, _fetch(store, frontier_keys(size)))

    @property
    def size(self) -> int:
        return self._size

    def nodes(self) -> dict[NodeKey, bytes]:
        return {(level, index): digest for level, index, digest in self._edge}

    def append(self, leaf_hash: bytes) -> list[NodeRow]:
        rows = nodes_completed_by_append(self._size, leaf_hash, self.nodes())
        merged = len(rows) - 1  # each completed node swallowed one edge node
        if merged:
            del self._edge[-merged:]
        self._edge.append(rows[-1])
        self._size += 1
        return rows

    def root(self) -> bytes:
        if not self._edge:
            return EMPTY_ROOT
        return _fold_right([digest for _, _, digest in self._edge])


class MemorySubtreeStore:
    """Dict-backed store for tests and for serving proofs from a prefetched
    mapping (e.g. the result of one SQL query for needed_nodes_for_*)."""

    def __init__(self, nodes: Mapping[NodeKey, bytes] | None = None, size: int = 0) -> None:
        self._nodes: dict[NodeKey, bytes] = dict(nodes or {})
        self.size = size

    @classmethod
    def from_leaf_hashes(cls, hashes: Iterable[bytes]) -> MemorySubtreeStore:
        store = cls()
        for digest in hashes:
            store.append(digest)
        return store

    def node(self, level: int, index: int) -> bytes:
        return self._nodes[(level, index)]

    def nodes(self, keys: list[NodeKey]) -> dict[NodeKey, bytes]:
        return {key: self._nodes[key] for key in keys if key in self._nodes}

    def put(self, rows: Iterable[NodeRow]) -> None:
        for level, index, digest in rows:
            self._nodes[(level, index)] = digest

    def append(self, leaf_hash: bytes) -> list[NodeRow]:
        """Append the next leaf the way a SQL store would: read its left
        siblings, insert the completed rows."""
        siblings = _fetch(self, append_keys(self.size))
        rows = nodes_completed_by_append(self.size, leaf_hash, siblings)
        self.put(rows)
        self.size += 1
        return rows

    def __len__(self) -> int:
        return len(self._nodes)
