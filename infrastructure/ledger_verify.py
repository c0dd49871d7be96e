"""Verification of the whole log: a pure function over the events and leaves as stored, and the
checkpoints (stored and published). No database, no keys: thin adapters feed it rows.

One pass merges the events (in notification-id order) with the leaves (in leaf order), recomputes
every leaf from the event as stored, rebuilds the tree from the stored leaves (checking the subtree
hashes stored with them), and takes the tree's root at every checkpointed size. Divergences are then
told apart:

* an event whose recomputed leaf differs from the leaf recorded for its notification id: **altered**
  (or, if a signed checkpoint still matches the tree rebuilt from the events, the leaf row was edited:
  **ledger tables rewritten**);
* an event whose content recomputes to the leaf of *another* notification id: **re-ordered**
  (moved or swapped);
* a leaf whose notification id no longer has an event: **deleted**, or **truncated tail** when every
  later leaf lost its event too; missing leaf indexes (event and leaf both removed): **deleted**;
* an event with no leaf: **inserted**;
* a checkpoint whose signature fails: **forged checkpoint**; two validly signed checkpoints that
  disagree, or a published one missing from the database: **mismatched checkpoint**;
* a checkpoint larger than the ledger: **truncated tail**;
* a validly signed checkpoint whose root the stored leaves no longer produce: **ledger tables
  rewritten** (an attacker who edits an event *and* recomputes the ledger is caught here).

Lawfully purged events (retention: key destroyed, ciphertext later removed) are declared by
`Purge` records and reported as such, not as tampering.

Two routes, one verdict. Events given as plain rows take the row-by-row pass above, which alone names
divergences. Events given as `BulkEvents` (SQLite's snapshot does) are first checked in bulk: leaves
recomputed from the stored bytes a run at a time (`Recomputer`, possibly in a helper process), each run
compared whole with the stored leaves, the tree folded from the stored leaves as before. The bulk route
only ever concludes "every event matches its leaf, in order, every record's versions count up": at the
first difference of any kind it is abandoned and the row-by-row pass runs from the start, so a damaged
log is reported exactly as before, and an intact one gets exactly the report the row-by-row pass gives.
"""

from __future__ import annotations

import bisect
import gc
import hashlib
import inspect
import linecache
import logging
import struct
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import Enum
from itertools import chain, compress, islice, repeat
from operator import add, is_, is_not, itemgetter, lt, methodcaller
from typing import NamedTuple

from infrastructure.svl_verify import (
    EMPTY_ROOT,
    LEAF_DOMAIN,
    Checkpoint,
    TrustedKeys,
    VerificationError,
    VerifierKey,
    encode_leaf,
    encode_leaf_from_digest,
    leaf_hash,
    node_hash,
    parse_checkpoint,
    verify_checkpoint,
)

# (notification id, originator id, version, stored topic, stored state). The originator id is UUID text,
# with hyphens or as SQLite stores it (32 hex digits): the leaf always encodes the hyphenated form.
EventRow = tuple[int, str, int, str, "bytes | None"]
LeafRow = tuple[int, int, bytes, bytes]

log = logging.getLogger(__name__)

# Bounds the memory a badly damaged log can take; counting goes on past them.
_KEEP = 10_000
_CROSS_MATCH = 512


class Kind(str, Enum):
    ALTERED = "altered"
    DELETED = "deleted"
    REORDERED = "re-ordered"
    INSERTED = "inserted"
    TRUNCATED = "truncated tail"
    FORGED_CHECKPOINT = "forged checkpoint"
    MISMATCHED_CHECKPOINT = "mismatched checkpoint"
    LEDGER_REWRITTEN = "ledger tables rewritten"


@dataclass(frozen=True)
class Purge:
    """A destruction record: ciphertext lawfully removed (state emptied, or the row gone) under `rule`
    on `on`, for one event (`notification_id`) or for every event of a record (`originator_id`).

    With `state_sha256` (the digest of the ciphertext before it was purged) the leaf is still
    recomputed and checked; without it the leaf is taken as it stands.
    """

    rule: str
    on: str
    notification_id: int | None = None
    originator_id: str | None = None
    state_sha256: bytes | None = None


class Purges:
    """Looks destruction records up by notification id, or by record for an emptied event."""

    def __init__(self, purges: Iterable[Purge] = ()) -> None:
        self.by_event: dict[int, Purge] = {}
        self.by_record: dict[str, Purge] = {}
        for purge in purges:
            if purge.notification_id is not None:
                self.by_event[purge.notification_id] = purge
            if purge.originator_id is not None:
                self.by_record[str(purge.originator_id)] = purge

    def get(self, notification_id: int, originator_id: str | None = None) -> Purge | None:
        found = self.by_event.get(notification_id)
        if found is None and originator_id is not None:
            found = self.by_record.get(originator_id)
        return found


@dataclass(frozen=True)
class CheckpointSource:
    note: str
    where: str  # "database" or the published file's path


@dataclass(frozen=True)
class Finding:
    kind: Kind
    detail: str
    notification_id: int | None = None
    originator_id: str | None = None
    version: int | None = None
    leaf_index: int | None = None
    # Where it sorts when it has no notification id of its own (e.g. a checkpoint's range).
    position: float | None = None
    # Other notification ids it concerns (e.g. where a moved event was first recorded).
    related: tuple[int, ...] = ()

    @property
    def sort_key(self) -> tuple[float, int]:
        where = self.notification_id if self.notification_id is not None else self.position
        return (float("inf") if where is None else float(where), list(Kind).index(self.kind))

    def describe(self) -> str:
        parts = []
        if self.notification_id is not None:
            parts.append(f"notification id {self.notification_id}")
        if self.originator_id is not None:
            parts.append(f"record {self.originator_id}" + (f" version {self.version}" if self.version else ""))
        where = ", ".join(parts)
        return f"{where}: {self.kind.value} — {self.detail}" if where else f"{self.kind.value} — {self.detail}"

    def to_dict(self) -> dict:
        return {"kind": self.kind.value, "notification_id": self.notification_id,
                "record": self.originator_id, "version": self.version, "leaf_index": self.leaf_index,
                "detail": self.detail}


@dataclass
class AuditReport:
    events: int = 0
    leaves: int = 0
    root: bytes = EMPTY_ROOT
    checkpoints_checked: int = 0
    published_checked: int = 0
    latest_checkpoint: int | None = None
    unused_notification_ids: int = 0
    purged: list[tuple[int, Purge, bool]] = field(default_factory=list)  # (nid, record, leaf re-checked)
    findings: list[Finding] = field(default_factory=list)
    findings_total: int = 0

    @property
    def intact(self) -> bool:
        return not self.findings

    @property
    def first(self) -> Finding | None:
        return self.findings[0] if self.findings else None

    def to_dict(self) -> dict:
        return {
            "intact": self.intact, "events": self.events, "leaves": self.leaves, "root": self.root.hex(),
            "checkpoints_checked": self.checkpoints_checked, "published_checked": self.published_checked,
            "latest_checkpoint": self.latest_checkpoint, "unused_notification_ids": self.unused_notification_ids,
            "purged": [{"notification_id": n, "rule": p.rule, "on": p.on, "leaf_rechecked": ok}
                       for n, p, ok in self.purged],
            "first_divergence": self.first.to_dict() if self.first else None,
            "findings": [f.to_dict() for f in self.findings], "findings_total": self.findings_total,
        }


def _fold(stack: list[bytes]) -> bytes:
    if not stack:
        return EMPTY_ROOT
    root = stack[-1]
    for left in reversed(stack[:-1]):
        root = node_hash(left, root)
    return root


@dataclass
class _Pass:
    """What the single streaming pass leaves behind for classification."""

    mismatched: list[tuple[EventRow, LeafRow]] = field(default_factory=list)
    lone_events: list[EventRow] = field(default_factory=list)
    lone_leaves: list[tuple[LeafRow, bool]] = field(default_factory=list)  # (leaf, out of notification order)
    index_gaps: list[tuple[int, int, int, int | None]] = field(default_factory=list)  # (from, to, nid before, after)
    damaged_nodes: list[tuple[int, int]] = field(default_factory=list)  # (leaf index, notification id)
    damaged_total: int = 0
    version_jumps: list[tuple[str, int, int, int, int]] = field(default_factory=list)  # oid, v_prev, nid_prev, v, nid
    stored_roots: dict[int, bytes] = field(default_factory=dict)
    rebuilt_roots: dict[int, bytes] = field(default_factory=dict)
    nid_at: dict[int, int] = field(default_factory=dict)  # leaf index -> notification id, at boundaries
    last_event_nid: int = 0
    overflow: int = 0


def audit(
    events: Iterable[EventRow],
    leaves: Iterable[LeafRow],
    checkpoints: Sequence[CheckpointSource] = (),
    *,
    verifier_key: str | VerifierKey | TrustedKeys | None = None,
    origin: str | None = None,
    purges: Iterable[Purge] = (),
    progress: Callable[[int], None] | None = None,
    versions_checked: bool = False,
) -> AuditReport:
    """Checks the log end to end; the report names every divergence found, first one first.

    versions_checked: the store has found (in the same snapshot) that every record's versions count 1, 2, 3...
    in notification order, one spelling of its id throughout; the passes then keep nothing per record, so
    memory stays flat however many records the log holds. Without it they follow each record's last version."""
    if checkpoints and verifier_key is None:
        raise ValueError("checking checkpoints needs the organisation's verifier key")
    declared = Purges(purges)
    parsed, findings = _parse_checkpoints(checkpoints, verifier_key, origin)
    wanted = {cp.tree_size for cp, _ in parsed}
    bulk = None
    with _older_objects_set_aside():
        if isinstance(events, BulkEvents) and not isinstance(leaves, Iterator):  # the leaves can be read again
            bulk = _bulk_attempt(events, leaves, wanted, declared, progress, versions_checked)
        if bulk is not None:
            state, report = bulk
        else:
            report = AuditReport()
            state = _stream(events, leaves, wanted, declared, report, progress, versions_checked)
    findings += _classify(state, declared, report, parsed)
    findings += _check_checkpoints(parsed, state, report)
    findings += _unexplained_version_jumps(state, findings, report)
    findings.sort(key=lambda f: f.sort_key)
    report.findings_total = len(findings) + state.overflow + max(0, state.damaged_total - len(state.damaged_nodes))
    report.findings = findings
    return report


@contextmanager
def _older_objects_set_aside() -> Iterator[None]:
    """The pass allocates a tuple or more per row, so the cyclic collector runs often, and its full
    collections walk every object of the process (in the application, a fifth of verify's time). Objects
    older than the pass are set aside for its duration (`gc.freeze`); new ones are collected as usual.
    Left alone if something else has frozen objects."""
    if not gc.isenabled() or gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


# --- the streaming pass ---

def _stream(events: Iterable[EventRow], leaves: Iterable[LeafRow], wanted: set[int], purges: Purges,
            report: AuditReport, progress: Callable[[int], None] | None, versions_checked: bool = False) -> _Pass:
    st = _Pass()
    stack: list[bytes] = []  # right edge of the tree rebuilt from the stored leaves
    rebuilt: list[bytes] | None = None  # same, from recomputed leaves; only once they differ
    size = 0
    expected_index = 0
    last_leaf_nid = 0
    last_version: dict[str, tuple[int, int]] = {}  # per record, unless the store checked the versions
    follow = not versions_checked
    n_events = 0
    last_event_nid = 0
    tree_broken = False
    event_iter, leaf_iter = iter(events), iter(leaves)
    ev = next(event_iter, None)
    lf = next(leaf_iter, None)
    sha256 = hashlib.sha256
    leaf_prefix = b"\x00" + LEAF_DOMAIN
    packers: dict[tuple[int, int], Callable[..., bytes]] = {}
    # Sizes at which the general step records a boundary (a checkpoint's root, the leaves either side).
    marks = sorted(wanted | {s + 1 for s in wanted} | {1})
    next_mark = marks[0]
    while ev is not None or lf is not None:
        # The fast path: an event and its leaf, in order, matching, nothing to record. Every check comes
        # before any state changes, so anything unusual simply falls through to the general step below.
        while ev is not None and lf is not None:
            index, lnid, lhash, completed = lf
            nid, oid, version, topic, state = ev
            if lnid != nid or index != expected_index or nid <= last_leaf_nid or not state or rebuilt is not None:
                break
            try:  # costs nothing unless a stored value has a type or range no event has: then the general step
                if len(oid) == 32:  # SQLite's spelling of a UUID: the leaf encodes the canonical one
                    oid = f"{oid[:8]}-{oid[8:12]}-{oid[12:16]}-{oid[16:20]}-{oid[20:]}"
                o, t = oid.encode(), topic.encode()
                lengths = (len(o), len(t))
                packer = packers.get(lengths)
                if packer is None:
                    packer = packers[lengths] = _leaf_packer(*lengths)
                if sha256(packer(leaf_prefix, nid, lengths[0], o, version, lengths[1], t,
                                 sha256(state).digest())).digest() != lhash:
                    break
            except (TypeError, AttributeError, ValueError, struct.error):
                break
            if follow:
                previous = last_version.get(oid)
                if version != (1 if previous is None else previous[0] + 1):
                    break
            if size + 1 == next_mark:
                break
            if follow:
                last_version[oid] = (version, nid)
            if nid - last_leaf_nid > 1 and last_leaf_nid:
                report.unused_notification_ids += nid - last_leaf_nid - 1
            last_leaf_nid = last_event_nid = nid
            if size & 1:
                h, k, closed = lhash, size, b""
                while k & 1:
                    h = sha256(b"\x01" + stack.pop() + h).digest()
                    closed += h
                    k >>= 1
                stack.append(h)
            else:
                stack.append(lhash)
                closed = b""
            if closed != completed and not tree_broken:
                st.damaged_total += 1
                if len(st.damaged_nodes) < _KEEP:
                    st.damaged_nodes.append((index, lnid))
            size += 1
            expected_index += 1
            n_events += 1
            if progress is not None and not size & 4095:
                progress(size)
            ev = next(event_iter, None)
            lf = next(leaf_iter, None)
        if ev is None and lf is None:
            break
        if ev is not None:
            ev = _sound_event(ev)
        if lf is not None:
            lf = _sound_leaf(lf)
        if lf is not None and (ev is None or lf[1] <= ev[0]):
            index, lnid, lhash, completed = lf
            if index != expected_index:
                st.index_gaps.append((expected_index, index, last_leaf_nid, lnid))
                expected_index = index
                tree_broken = True  # the stored subtree hashes can no longer line up: the gap says it all
            in_order = lnid > last_leaf_nid
            recomputed = lhash
            if in_order and ev is not None and ev[0] == lnid:
                recomputed = _recompute(ev, purges, report, lhash)
                if recomputed != lhash:
                    _keep(st, st.mismatched, (ev, lf))
                if follow:
                    _track_version(ev, last_version, st)
                n_events += 1
                last_event_nid = ev[0]
                ev = next(event_iter, None)
            else:
                _keep(st, st.lone_leaves, (lf, not in_order))
            if in_order:
                if lnid - last_leaf_nid > 1 and last_leaf_nid:
                    report.unused_notification_ids += lnid - last_leaf_nid - 1
                last_leaf_nid = lnid
            if recomputed != lhash and rebuilt is None:
                rebuilt = stack.copy()
            # Append to the stored tree, checking the subtree hashes this leaf's row claims to close.
            h, k, closed = lhash, size, b""
            while k & 1:
                h = node_hash(stack.pop(), h)
                closed += h
                k >>= 1
            stack.append(h)
            if closed != bytes(completed) and not tree_broken:
                st.damaged_total += 1
                if len(st.damaged_nodes) < _KEEP:
                    st.damaged_nodes.append((index, lnid))
            if rebuilt is not None:
                h, k = recomputed, size
                while k & 1:
                    h = node_hash(rebuilt.pop(), h)
                    k >>= 1
                rebuilt.append(h)
            size += 1
            expected_index += 1
            if size in wanted:
                st.stored_roots[size] = _fold(stack)
                st.rebuilt_roots[size] = _fold(rebuilt) if rebuilt is not None else st.stored_roots[size]
            if size in wanted or size == 1 or size - 1 in wanted:  # the leaves either side of a boundary
                st.nid_at[size - 1] = lnid
            if progress is not None and not size & 4095:
                progress(size)
            if next_mark <= size:
                next_mark = marks[bisect.bisect_right(marks, size)] if marks[-1] > size else 1 << 64
            lf = next(leaf_iter, None)
        else:
            _keep(st, st.lone_events, ev)
            if follow:
                _track_version(ev, last_version, st)
            n_events += 1
            last_event_nid = ev[0]
            ev = next(event_iter, None)
    if progress is not None:
        progress(size)
    report.events, report.leaves, report.root = n_events, size, _fold(stack)
    st.last_event_nid = last_event_nid
    return st


def canonical_originator_id(oid: str) -> str:
    """UUID text with hyphens: SQLite stores the 32 hex digits alone."""
    if len(oid) == 32:
        return f"{oid[:8]}-{oid[8:12]}-{oid[12:16]}-{oid[16:20]}-{oid[20:]}"
    return oid


_U64 = 1 << 64


def _sound_event(ev: EventRow) -> EventRow:
    """The row with the canonical originator id; a row whose stored values have SQL types or ranges no
    event has (text where bytes belong, invalid UTF-8, a negative version...) becomes a row that keeps its
    place and can match no leaf, so it is reported as altered instead of stopping the pass."""
    nid, oid, version, topic, state = ev
    try:
        if (type(nid) is int and type(oid) is str and type(version) is int and type(topic) is str
                and (state is None or type(state) is bytes) and 0 <= nid < _U64 and 0 <= version < _U64):
            oid.encode()
            topic.encode()
            return (nid, canonical_originator_id(oid), version, topic, state)
    except UnicodeError:
        pass
    shown = ", ".join(f"{name} {type(value).__name__}" for name, value in
                      (("originator_id", oid), ("version", version), ("topic", topic), ("state", state)))
    sound_version = version if type(version) is int and 0 <= version < _U64 else 0
    return (nid if type(nid) is int else -1, canonical_originator_id(_text(oid)), sound_version, _text(topic),
            f"svl verify: a stored row with types {shown}".encode())


def _text(value: object) -> str:
    """Any stored value as text that can be encoded and shown."""
    if isinstance(value, str):
        return value.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("utf-8", "backslashreplace")
    return repr(value)


def _sound_leaf(lf: LeafRow) -> LeafRow:
    """The leaf row with bytes where bytes belong; stored values of other types become values that match
    nothing (a leaf hash, subtree hashes) or sort out of notification order (a notification id)."""
    index, nid, lhash, completed = lf
    lhash = bytes(lhash) if isinstance(lhash, (bytes, bytearray, memoryview)) else b""
    completed = bytes(completed) if isinstance(completed, (bytes, bytearray, memoryview)) else b"\x00"
    return (index if type(index) is int else -1, nid if type(nid) is int else -1, lhash, completed)


def _leaf_packer(oid_length: int, topic_length: int) -> Callable[..., bytes]:
    """`svl_verify.encode_leaf` as one struct, for ids and topics of these lengths (the hot loop's shortcut;
    tests/test_leaf_encoder.py holds it, and the bulk packers, to the reference encoding byte for byte)."""
    return struct.Struct(f">{1 + len(LEAF_DOMAIN)}sQI{oid_length}sQI{topic_length}s32s").pack


def _recompute(ev: EventRow, purges: Purges, report: AuditReport, stored: bytes) -> bytes:
    try:
        return _recomputed(ev, purges, report, stored)
    except (ValueError, struct.error):  # a place no leaf can encode (a negative notification id): matches none
        return b""


def _recomputed(ev: EventRow, purges: Purges, report: AuditReport, stored: bytes) -> bytes:
    nid, oid, version, topic, state = ev
    if not state:
        purge = purges.get(nid, oid)
        if purge is not None:
            if purge.state_sha256 is None:
                report.purged.append((nid, purge, False))
                return stored  # nothing left to recompute from; the destruction record vouches for it
            report.purged.append((nid, purge, True))
            return leaf_hash(encode_leaf_from_digest(nid, oid, version, topic, purge.state_sha256))
    return leaf_hash(encode_leaf(nid, oid, version, topic, state or b""))


def _track_version(ev: EventRow, last_version: dict[str, tuple[int, int]], st: _Pass) -> None:
    nid, oid, version = ev[0], ev[1], ev[2]
    previous = last_version.get(oid)
    expected = 1 if previous is None else previous[0] + 1
    if version != expected:
        prev_version, prev_nid = previous if previous is not None else (0, 0)
        _keep(st, st.version_jumps, (oid, prev_version, prev_nid, version, nid))
    last_version[oid] = (version, nid)


def _keep(st: _Pass, into: list, item: object) -> None:
    if len(into) < _KEEP:
        into.append(item)
    else:
        st.overflow += 1


# --- the bulk route: a log that checks out, in runs ---

class Versions(NamedTuple):
    """How the records' versions run within one part of the log."""

    ok: bool  # each record's versions count up by one within the part
    oid_length: int | None  # every originator id as stored has this length (None: no events)
    first_oids: list[str]  # each record (originator id as stored) in the part, once...
    first_versions: Sequence[int]  # ... with the version it first appears with
    lasts: dict[str, int] | None  # record -> its last version in the part (None: not kept)


class Tail(NamedTuple):
    """The end of the log, recomputed elsewhere (`Recomputer.summarise`): what `audit` compares with the
    stored leaves it folds itself."""

    count: int
    nids_digest: bytes  # SHA-256 of the notification ids, as array "q" bytes
    leaves_digest: bytes  # SHA-256 of the recomputed leaf hashes; an empty state's leaf is the stored one...
    empty: list[tuple[bytes, EventRow]]  # ... (the stored leaf, the event with its canonical id), for `audit`
    versions: Versions


class BulkEvents:
    """Events that can also be read in bulk. Iterating gives the rows, for the row-by-row pass; `batches`
    the first part of the log (or all of it), in notification order, to recompute here; `tail`, if the
    rest is recomputed elsewhere meanwhile, a call that waits for its `Tail`."""

    def __iter__(self) -> Iterator[EventRow]:
        raise NotImplementedError

    def tail(self, follow: bool = True) -> Callable[[], Tail] | None:
        """Called first, so that the tail is under way while `batches` are read; follow: as `Recomputer`'s."""
        return None

    def batches(self) -> Iterable[list[EventRow]]:
        raise NotImplementedError

    def close(self) -> None:
        """Stops whatever `tail` started (a helper process)."""


class BulkUnsuitable(Exception):
    """Rows the bulk route does not take (mixed id spellings...): the row-by-row pass reads them instead."""


# Mirrored in `_BULK_IMPORTS` for the helper interpreter.
_DIGEST = methodcaller("digest")
_ZERO_LEAF = bytes(32)
_HYPHEN = b"-"


class Recomputer:
    """Recomputes the leaves of runs of consecutive events in bulk (`svl_verify.encode_leaf`: a whole run
    packed by one struct where the run allows, else row by row as the row-by-row pass does), and follows
    every record's versions from run to run.

    Standard library only, and only the names in `_BULK_IMPORTS`: `ledger_store` runs this very source
    in a helper interpreter (`python -I -S`, which starts in a few milliseconds)."""

    def __init__(self, leaf_prefix: bytes, follow: bool = True) -> None:
        self.leaf_prefix = leaf_prefix
        self.follow = follow  # False: the store has checked every record's versions; keep nothing per record
        self.packers: dict = {}  # (oid length, topic length) -> packer of one leaf
        self.whole: dict = {}  # (events, topic length) -> (id splitter, packer of the run, slices of each leaf)
        self.last: dict = {}  # originator id as stored -> latest version
        self.first_oids: list = []  # records in order of first appearance...
        self.first_versions: list = []  # ... and the version each first appears with
        self.oid_length = None
        self.ok = True

    def run(self, rows: list) -> tuple:
        """(notification ids as array "q", leaf hashes, [(position, event)] whose state is empty: nothing
        to recompute from here, their leaf is left as zeros)"""
        nids, oids, versions, topics, states = zip(*rows)
        if self.follow:
            self._follow(oids, versions)
        else:
            self._one_length(oids)
        if self.oid_length == 32 and all(states) and len(set(topics)) == 1:
            leaves = self._whole_run(nids, oids, versions, topics[0], states)
            if leaves is not None:
                return array("q", nids), leaves, []
        return (array("q", nids), *self._row_by_row(rows))

    def versions(self, with_lasts: bool = True) -> tuple:
        return self.ok, self.oid_length, self.first_oids, self.first_versions, self.last if with_lasts else None

    def summarise(self, batches, stored_leaf) -> tuple:  # noqa: ANN001 - also runs without `typing`
        """The fields of a `Tail` for these batches of rows; stored_leaf(nid) gives an event's stored leaf."""
        nid_digest, leaf_digest = hashlib.sha256(), hashlib.sha256()
        count, empty = 0, []
        for rows in batches:
            nids, leaves, blanks = self.run(rows)
            if blanks:
                patched = bytearray(leaves)
                for position, row in blanks:
                    stored = stored_leaf(row[0])
                    stored = stored if isinstance(stored, bytes) and len(stored) == 32 else _ZERO_LEAF
                    patched[32 * position:32 * position + 32] = stored
                    empty.append((stored, row))
                leaves = bytes(patched)
            nid_digest.update(nids)
            leaf_digest.update(leaves)
            count += len(nids)
        return count, nid_digest.digest(), leaf_digest.digest(), empty, self.versions(with_lasts=False)

    def _one_length(self, oids: tuple) -> None:
        lengths = set(map(len, oids))
        if len(lengths) != 1 or (self.oid_length is not None and self.oid_length not in lengths):
            raise BulkUnsuitable("originator ids spelled with different lengths")
        self.oid_length = lengths.pop()

    def _follow(self, oids: tuple, versions: tuple) -> None:
        self._one_length(oids)
        last, n = self.last, len(oids)
        before = list(map(last.get, oids))
        new = before.count(None)
        if new == n:  # records not seen before (the usual run of a large log)
            known = len(last)
            last.update(zip(oids, versions))
            if len(last) - known == n:  # and none twice in the run
                self.first_oids.extend(oids)
                self.first_versions.extend(versions)
                return
            for oid in oids:  # undone: one record appears twice, followed row by row below
                last.pop(oid, None)
        elif len(set(oids)) == n:  # no record twice in the run: whole-run steps
            seen = list(map(is_not, before, repeat(None))) if new else None
            if list(map(add, compress(before, seen) if new else before, repeat(1))) != list(
                    compress(versions, seen) if new else versions):
                self.ok = False
            if new:
                unseen = list(map(is_, before, repeat(None)))
                self.first_oids.extend(compress(oids, unseen))
                self.first_versions.extend(compress(versions, unseen))
            last.update(zip(oids, versions))
            return
        for oid, version in zip(oids, versions):
            previous = last.get(oid)
            if previous is None:
                self.first_oids.append(oid)
                self.first_versions.append(version)
            elif version != previous + 1:
                self.ok = False
            last[oid] = version

    def _whole_run(self, nids: tuple, oids: tuple, versions: tuple, topic: str, states: tuple) -> bytes | None:
        """The leaves of a run whose ids are 32 ASCII hex digits and whose topic is one, packed by one struct."""
        ids = "".join(oids).encode()
        if len(ids) != 32 * len(oids):
            return None  # not ASCII
        t = topic.encode()
        key = (len(oids), len(t))
        shape = self.whole.get(key)
        if shape is None:
            size = len(self.leaf_prefix) + 8 + 4 + 36 + 8 + 4 + len(t) + 32
            one = f"{len(self.leaf_prefix)}sQI8sc4sc4sc4sc12sQI{len(t)}s32s"
            shape = self.whole[key] = (struct.Struct("8s4s4s4s12s" * len(oids)).unpack,
                                       struct.Struct(">" + one * len(oids)).pack,
                                       [slice(i * size, (i + 1) * size) for i in range(len(oids))])
        split, pack, slices = shape
        parts = split(ids)
        packed = pack(*chain.from_iterable(zip(
            repeat(self.leaf_prefix), nids, repeat(36), parts[0::5], repeat(_HYPHEN), parts[1::5], repeat(_HYPHEN),
            parts[2::5], repeat(_HYPHEN), parts[3::5], repeat(_HYPHEN), parts[4::5], versions, repeat(len(t)),
            repeat(t), map(_DIGEST, map(hashlib.sha256, states)))))
        return b"".join(map(_DIGEST, map(hashlib.sha256, map(packed.__getitem__, slices))))

    def _row_by_row(self, rows: list) -> tuple:
        sha256, prefix, packers = hashlib.sha256, self.leaf_prefix, self.packers
        leaves, empty = [], []
        for position, (nid, oid, version, topic, state) in enumerate(rows):
            if len(oid) == 32:
                oid = f"{oid[:8]}-{oid[8:12]}-{oid[12:16]}-{oid[16:20]}-{oid[20:]}"
            if not state:
                empty.append((position, (nid, oid, version, topic, state)))
                leaves.append(_ZERO_LEAF)
                continue
            o, t = oid.encode(), topic.encode()
            lengths = (len(o), len(t))
            packer = packers.get(lengths)
            if packer is None:
                packer = packers[lengths] = struct.Struct(
                    f">{len(prefix)}sQI{lengths[0]}sQI{lengths[1]}s32s").pack
            leaves.append(sha256(packer(prefix, nid, lengths[0], o, version, lengths[1], t,
                                        sha256(state).digest())).digest())
        return b"".join(leaves), empty


# What `Recomputer` needs, for the helper interpreter that runs its source.
_BULK_IMPORTS = """\
from __future__ import annotations

import hashlib
import struct
from array import array
from itertools import chain, compress, repeat
from operator import add, is_, is_not, methodcaller

class BulkUnsuitable(Exception):
    pass

_DIGEST = methodcaller("digest")
_ZERO_LEAF = bytes(32)
_HYPHEN = b"-"
"""

LEAF_PREFIX = b"\x00" + LEAF_DOMAIN


def recomputer_source() -> str:
    """`Recomputer` as a stand-alone program text (its imports included), for a helper interpreter.
    (Read as the block after its `class` line: `inspect.getsource` parses the whole module for a class.)"""
    lines = linecache.getlines(__file__)
    block = inspect.getblock(lines[lines.index("class Recomputer:\n"):])
    return _BULK_IMPORTS + "\n\n" + "".join(block)


class BulkRows(BulkEvents):
    """Rows in memory, readable in bulk too; with `tail_from`, the rows from that position on make the
    tail (recomputed here, as a helper would: `stored` gives the stored leaf of an empty state)."""

    def __init__(self, rows: Sequence[EventRow], *, run: int = 256, tail_from: int | None = None,
                 stored: Callable[[int], bytes | None] = lambda nid: None) -> None:
        self.rows, self.run, self.stored = list(rows), run, stored
        self.tail_from = len(self.rows) if tail_from is None else tail_from

    def __iter__(self) -> Iterator[EventRow]:
        return iter(self.rows)

    def tail(self, follow: bool = True) -> Callable[[], Tail] | None:
        if self.tail_from >= len(self.rows):
            return None
        rest = self.rows[self.tail_from:]
        return lambda: _tail(Recomputer(LEAF_PREFIX, follow).summarise(
            (rest[i:i + self.run] for i in range(0, len(rest), self.run)), self.stored))

    def batches(self) -> Iterable[list[EventRow]]:
        head = self.rows[:self.tail_from]
        return (head[i:i + self.run] for i in range(0, len(head), self.run))


def _tail(fields: Sequence) -> Tail:
    count, nids_digest, leaves_digest, empty, versions = fields
    return Tail(count, nids_digest, leaves_digest, [(stored, tuple(row)) for stored, row in empty],
                Versions(*versions))


def _bulk_attempt(events: BulkEvents, leaves: Iterable[LeafRow], wanted: set[int], purges: Purges,
                  progress: Callable[[int], None] | None,
                  versions_checked: bool = False) -> tuple[_Pass, AuditReport] | None:
    """The bulk route's verdict, or None: take the row-by-row pass (something differs, or the bulk
    route could not read the rows)."""
    try:
        return _bulk_stream(events, leaves, wanted, purges, progress, versions_checked)
    except Exception as exc:  # noqa: BLE001 - whatever it was, the row-by-row pass reads the log afresh
        log.debug("svl verify: bulk route not taken (%s: %s)", type(exc).__name__, exc)
        return None
    finally:
        events.close()


class _Tree:
    """The tree rebuilt from the stored leaves, a batch at a time, and what the pass records on the way."""

    def __init__(self, wanted: set[int], st: _Pass, report: AuditReport,
                 progress: Callable[[int], None] | None) -> None:
        self.stack: list[bytes] = []  # right edge, highest subtree first
        self.size = 0
        self.last_nid = 0
        self.wanted, self.st, self.report, self.progress = wanted, st, report, progress
        self.marks = sorted(m for m in wanted | {s + 1 for s in wanted} | {1} if m > 0)  # where boundaries are
        self.next_mark = self.marks[0]

    def add(self, batch: list[LeafRow]) -> tuple[array, tuple] | None:
        """Folds in the next stored leaves: (their notification ids, their hashes), or None if they are not
        the next leaves in order, in notification order, each closing exactly the subtrees it stores."""
        k, start = len(batch), self.size
        indexes, lnids, lhashes, completed = zip(*batch)
        nids = array("q", lnids)
        if indexes != tuple(range(start, start + k)) or set(map(len, lhashes)) != {32}:
            return None
        if lnids[0] <= self.last_nid or not all(map(lt, lnids, islice(lnids, 1, None))):
            return None
        if self.last_nid:
            self.report.unused_notification_ids += nids[0] - self.last_nid - 1
        self.report.unused_notification_ids += nids[-1] - nids[0] - (k - 1)
        while self.size < start + k:  # cut where a boundary must be recorded
            upto = start + k if not self.size < self.next_mark <= start + k else self.next_mark
            if not _extend(self.stack, self.size, lhashes[self.size - start:upto - start],
                           completed[self.size - start:upto - start]):
                return None
            self.size = upto
            if upto == self.next_mark:
                if upto in self.wanted:
                    self.st.stored_roots[upto] = self.st.rebuilt_roots[upto] = _fold(self.stack)
                self.st.nid_at[upto - 1] = nids[upto - 1 - start]
                self.marks.pop(0)
                self.next_mark = self.marks[0] if self.marks else -1
        self.last_nid = nids[-1]
        if self.progress is not None and start >> 12 != self.size >> 12:
            self.progress(self.size)
        return nids, lhashes


def _bulk_stream(events: BulkEvents, leaves: Iterable[LeafRow], wanted: set[int], purges: Purges,
                 progress: Callable[[int], None] | None,
                 versions_checked: bool = False) -> tuple[_Pass, AuditReport] | None:
    """`_stream` for a log in which every event matches its leaf, in order: the same report and pass
    state, or None at the first difference of any kind (nothing is classified here)."""
    st, report = _Pass(), AuditReport()
    tree = _Tree(wanted, st, report, progress)
    leaf_iter = iter(leaves)
    tail = events.tail(follow=not versions_checked)  # first: recomputed elsewhere while this process works
    recomputer = Recomputer(LEAF_PREFIX, follow=not versions_checked)
    for rows in events.batches():
        if not rows:
            continue
        nids, hashes, empty = recomputer.run(rows)
        added = tree.add(list(islice(leaf_iter, len(nids))))
        if added is None or added[0] != nids:
            return None
        lhashes = added[1]
        if empty:
            expected = bytearray(hashes)
            for position, ev in empty:
                stored = bytes(lhashes[position])
                if _recompute(ev, purges, report, stored) != stored:
                    return None
                expected[32 * position:32 * position + 32] = stored
            hashes = bytes(expected)
        if b"".join(lhashes) != hashes:
            return None
    versions = [Versions(*recomputer.versions())]
    if tail is not None:
        # The rest of the stored leaves, folded here while the tail is recomputed: compared by digest.
        nid_digest, leaf_digest, count = hashlib.sha256(), hashlib.sha256(), 0
        while batch := list(islice(leaf_iter, 4096)):
            added = tree.add(batch)
            if added is None:
                return None
            nid_digest.update(added[0])
            leaf_digest.update(b"".join(added[1]))
            count += len(batch)
        done = tail()
        if (done.count, done.nids_digest, done.leaves_digest) != (count, nid_digest.digest(), leaf_digest.digest()):
            return None
        for stored, ev in done.empty:  # their stored leaf is in the digest just compared
            if _recompute(ev, purges, report, stored) != stored:
                return None
        versions.append(done.versions)
    elif next(leaf_iter, None) is not None:
        return None
    if not versions_checked and not _versions_count_up(versions):
        return None
    if progress is not None:
        progress(tree.size)
    report.events, report.leaves, report.root = tree.size, tree.size, _fold(tree.stack)
    st.last_event_nid = tree.last_nid
    return st, report


def _versions_count_up(parts: list[Versions]) -> bool:
    """Every record's versions count 1, 2, 3... in notification order, over consecutive parts of the log
    (what `_track_version` finds nothing wrong with). Ids as stored, all of one length, stand for the
    canonical ids one for one."""
    known: dict[str, int] = {}
    lengths = {part.oid_length for part in parts} - {None}
    if len(lengths) > 1:
        return False
    for n, part in enumerate(parts):
        if not part.ok:
            return False
        if part.first_versions.count(1) == len(part.first_versions):  # each record starts here...
            if known and not known.keys().isdisjoint(part.first_oids):  # ... so none may appear before
                return False
        elif list(map(add, map(known.get, part.first_oids, repeat(0)), repeat(1))) != list(part.first_versions):
            return False
        if n < len(parts) - 1:
            if part.lasts is None:
                return False
            known = part.lasts if not known else {**known, **part.lasts}
    return True


def _extend(stack: list[bytes], size: int, leaves: Sequence[bytes], completed: Sequence[bytes]) -> bool:
    """Appends leaves `size`... to the tree's right edge `stack` (highest subtree first), a level at a
    time; False if the subtree hashes stored with the leaves are not exactly the ones they close."""
    end = size + len(leaves)
    pending = dict(zip([j for j in range(size.bit_length()) if size >> j & 1], reversed(stack)))
    new_edge: list[bytes] = []  # lowest level first
    nodes, level, closed = leaves, 0, 0
    while size >> level < end >> level:
        low, high = size >> level, end >> level  # this level's new nodes: indexes low..high-1, in `nodes`
        if level:
            # Node i of this level was closed by leaf ((i + 1) << level) - 1: its row stores it (level - 1)-th.
            rows = completed[((low + 1) << level) - 1 - size::1 << level]
            if list(map(itemgetter(slice(32 * level - 32, 32 * level)), rows)) != nodes:
                return False
            closed += high - low
        if low & 1:
            nodes = [pending[level], *nodes]
        if high & 1:
            new_edge.append(nodes[-1])
        nodes = list(map(_DIGEST, map(hashlib.sha256, map(b"".join, zip(repeat(b"\x01"), nodes[0::2], nodes[1::2])))))
        level += 1
    if sum(map(len, completed)) != 32 * closed:  # each row holds exactly the subtrees it closes
        return False
    kept = [pending[j] for j in range(end.bit_length() - 1, level - 1, -1) if end >> j & 1]
    stack[:] = kept + new_edge[::-1]
    return True

# --- telling divergences apart ---

def _classify(st: _Pass, purges: Purges, report: AuditReport,
              parsed: list[tuple[Checkpoint, CheckpointSource]]) -> list[Finding]:
    findings: list[Finding] = []
    events = [ev for ev, _ in st.mismatched] + st.lone_events
    leaves = [lf for _, lf in st.mismatched] + [lf for lf, _ in st.lone_leaves]
    moved = _cross_match(events, leaves)
    explained_events = {id(ev) for ev, _ in moved}
    explained_leaves = {id(lf) for _, lf in moved}
    for ev, lf in moved:
        if ev[0] == lf[1]:
            findings.append(Finding(Kind.REORDERED, f"the event is intact but its ledger leaf sits at leaf {lf[0]}, "
                                    "out of notification order: the ledger tables were re-ordered",
                                    ev[0], ev[1], ev[2], lf[0]))
        else:
            findings.append(Finding(Kind.REORDERED, f"this event was recorded at notification id {lf[1]} "
                                    f"(leaf {lf[0]}) and has been moved here", ev[0], ev[1], ev[2], lf[0],
                                    related=(lf[1],)))
    for ev, lf in st.mismatched:
        if id(ev) in explained_events:
            continue
        findings.append(_altered(ev, lf, st, parsed))
    for lf, out_of_order in st.lone_leaves:
        if id(lf) in explained_leaves:
            continue
        finding = _leaf_without_event(lf, out_of_order, st, purges, report)
        if finding is not None:
            findings.append(finding)
    for ev in st.lone_events:
        if id(ev) in explained_events:
            continue
        findings.append(Finding(Kind.INSERTED, "no ledger leaf covers this event: it was slipped into the "
                                "event table after the fact", ev[0], ev[1], ev[2]))
    for first, after, nid_before, nid_after in st.index_gaps:
        count = after - first
        findings.append(Finding(
            Kind.DELETED, f"ledger leaves {first}–{after - 1} are missing: {count} event(s) after notification id "
            f"{nid_before} were removed together with their leaves{_named_by_versions(nid_before, nid_after, st)}",
            position=nid_before + 0.5, leaf_index=first))
    if st.damaged_nodes:
        first, nid = st.damaged_nodes[0]
        findings.append(Finding(
            Kind.LEDGER_REWRITTEN, f"the subtree hashes stored with leaf {first} (notification id {nid}) do not "
            f"match the leaves below them ({st.damaged_total} leaf row(s) affected): proofs served from them "
            "would not verify", position=nid, leaf_index=first))
    return findings


def _cross_match(events: list[EventRow], leaves: list[LeafRow]) -> list[tuple[EventRow, LeafRow]]:
    """Pairs an event with the leaf its content recomputes to, at that leaf's notification id."""
    events, leaves = events[:_CROSS_MATCH], leaves[:_CROSS_MATCH]
    by_hash = {bytes(lf[2]): lf for lf in leaves}
    pairs: list[tuple[EventRow, LeafRow]] = []
    used: set[int] = set()
    for ev in events:
        nid, oid, version, topic, state = ev
        for lf in leaves:
            if id(lf) in used:
                continue
            try:
                candidate = leaf_hash(encode_leaf(lf[1], oid, version, topic, state or b""))
            except (ValueError, struct.error):
                continue
            if by_hash.get(candidate) is lf:
                pairs.append((ev, lf))
                used.add(id(lf))
                break
    return pairs


def _altered(ev: EventRow, lf: LeafRow, st: _Pass, parsed: list[tuple[Checkpoint, CheckpointSource]]) -> Finding:
    nid, oid, version = ev[0], ev[1], ev[2]
    # A signed checkpoint that the events still produce, though the stored leaves do not: the leaf was edited.
    for cp, source in parsed:
        size = cp.tree_size
        if size > lf[0] and st.rebuilt_roots.get(size) == cp.root_hash != st.stored_roots.get(size):
            return Finding(Kind.LEDGER_REWRITTEN, f"ledger leaf {lf[0]} was edited: the event itself still matches "
                           f"the checkpoint of size {size} ({source.where})", nid, oid, version, lf[0])
    if not ev[4]:
        detail = f"its stored bytes were emptied without a destruction record (leaf {lf[0]})"
    else:
        detail = f"the stored event no longer matches its ledger leaf {lf[0]}"
    return Finding(Kind.ALTERED, detail, nid, oid, version, lf[0])


def _leaf_without_event(lf: LeafRow, out_of_order: bool, st: _Pass, purges: Purges,
                        report: AuditReport) -> Finding | None:
    index, nid = lf[0], lf[1]
    if out_of_order:
        return Finding(Kind.REORDERED, f"ledger leaf {index} is out of notification order and matches no event: "
                       "the ledger tables were re-ordered", nid, leaf_index=index)
    purge = purges.get(nid)
    if purge is not None:
        report.purged.append((nid, purge, False))
        return None  # removed under a destruction record: lawful
    named = _named_by_versions(nid, nid, st)
    if nid > st.last_event_nid:
        return Finding(Kind.TRUNCATED, f"the events from here on (leaf {index} onwards) are gone: the log's tail "
                       f"was cut off{named}", nid, leaf_index=index)
    return Finding(Kind.DELETED, f"the event recorded at this notification id (leaf {index}) is gone{named}",
                   nid, leaf_index=index)


def _named_by_versions(low: int, high: int, st: _Pass) -> str:
    """Which record lost versions around these notification ids, if its version numbers say so."""
    for oid, prev_version, prev_nid, version, nid in st.version_jumps:
        if prev_nid <= low and high <= nid and version > prev_version + 1:
            missing = (f"version {prev_version + 1}" if version == prev_version + 2
                       else f"versions {prev_version + 1}–{version - 1}")
            return f"; record {oid} lacks {missing} here"
    return "; which record it belonged to is unknown (a leaf keeps only a hash)"


def _nid_near(st: _Pass, index: int) -> float:
    known = [nid for i, nid in st.nid_at.items() if i <= index]
    return float(max(known)) if known else 0.0


# --- checkpoints ---

def _parse_checkpoints(sources: Sequence[CheckpointSource], key: str | VerifierKey | TrustedKeys | None,
                       origin: str | None) -> tuple[list[tuple[Checkpoint, CheckpointSource]], list[Finding]]:
    parsed, findings = [], []
    for source in sources:
        try:
            cp = verify_checkpoint(source.note, key, origin=origin)
        except VerificationError as exc:
            size = _claimed_size(source.note)
            findings.append(Finding(Kind.FORGED_CHECKPOINT, f"checkpoint{'' if size is None else f' of size {size}'} "
                                    f"({source.where}) does not verify: {exc}", position=-1.0))
            continue
        parsed.append((cp, source))
    return parsed, findings


def _claimed_size(note: str) -> int | None:
    try:
        return parse_checkpoint(note).tree_size
    except VerificationError:
        return None


def _check_checkpoints(parsed: list[tuple[Checkpoint, CheckpointSource]], st: _Pass,
                       report: AuditReport) -> list[Finding]:
    findings: list[Finding] = []
    by_size: dict[int, list[tuple[Checkpoint, CheckpointSource]]] = {}
    for cp, source in parsed:
        by_size.setdefault(cp.tree_size, []).append((cp, source))
    good_sizes = [0]
    for size in sorted(by_size):
        group = by_size[size]
        roots = {cp.root_hash for cp, _ in group}
        wheres = ", ".join(source.where for _, source in group)
        if len(roots) > 1:
            findings.append(Finding(Kind.MISMATCHED_CHECKPOINT, f"validly signed checkpoints of size {size} "
                                    f"disagree about the root ({wheres}): two different logs were signed",
                                    position=_nid_or_end(st, size)))
        if not any(source.where == "database" for _, source in group):
            findings.append(Finding(Kind.MISMATCHED_CHECKPOINT, f"the published checkpoint of size {size} "
                                    f"({wheres}) is missing from the database: stored checkpoints were removed",
                                    position=_nid_or_end(st, size)))
        for cp, source in group:
            if source.where == "database":
                report.checkpoints_checked += 1
            else:
                report.published_checked += 1
        report.latest_checkpoint = size
        if size > report.leaves:
            findings.append(Finding(Kind.TRUNCATED, f"the checkpoint of size {size} ({wheres}) was signed over "
                                    f"{size} events but the ledger now holds {report.leaves}: the last "
                                    f"{size - report.leaves} were removed", position=_nid_or_end(st, report.leaves)))
            continue
        stored = st.stored_roots.get(size, EMPTY_ROOT if size == 0 else None)
        for cp, source in group:
            if cp.root_hash == stored:
                good_sizes.append(size)
                continue
            if st.rebuilt_roots.get(size) == cp.root_hash:
                continue  # the events still match it: the edited leaves are reported one by one
            low = max(s for s in good_sizes if s < size)
            findings.append(Finding(
                Kind.LEDGER_REWRITTEN, f"the ledger's first {size} leaves no longer produce the root of the checkpoint "
                f"signed {_when(cp)} ({source.where}): events and ledger were rewritten together somewhere in "
                f"leaves {low}–{size - 1} (notification ids {_nid_or_end(st, low):.0f}–"
                f"{_nid_or_end(st, size - 1):.0f})", position=_nid_or_end(st, low), leaf_index=low))
    return findings


def _when(cp: Checkpoint) -> str:
    moment = getattr(cp, "time", None)
    return f"at {moment:%Y-%m-%dT%H:%M:%SZ}" if moment else "without a time"


def _nid_or_end(st: _Pass, index: int) -> float:
    if index in st.nid_at:
        return float(st.nid_at[index])
    return _nid_near(st, index) + 0.5


def _unexplained_version_jumps(st: _Pass, findings: list[Finding], report: AuditReport) -> list[Finding]:
    """A record missing versions where nothing else was found: event and leaf both removed and the
    ledger rebuilt around the hole (a published checkpoint would also catch it)."""
    # Only precisely placed findings explain a jump; a checkpoint's range is too coarse to.
    located = [f.notification_id for f in findings if f.notification_id is not None]
    located += [nid for f in findings for nid in f.related]
    located += [nid for nid, _, _ in report.purged]  # lawfully removed rows explain their record's gap
    located += [f.position for f in findings if f.position is not None and f.kind is Kind.DELETED]
    extra = []
    for oid, prev_version, prev_nid, version, nid in st.version_jumps:
        if any(prev_nid <= where <= nid for where in located):
            continue
        if version > prev_version + 1:
            missing = prev_version + 1
            extra.append(Finding(Kind.DELETED, f"the record jumps from version {prev_version} to {version}: "
                                 f"version {missing} was removed together with its ledger leaf", nid, oid, missing))
        else:
            extra.append(Finding(Kind.REORDERED, f"version {version} comes after version {prev_version} of the same "
                                 "record: the events were re-ordered", nid, oid, version))
    return extra
