"""`ledger_verify.audit`, the pure heart of `svl verify`: events and leaves as in-memory rows, every kind
of tampering told apart, no database."""

from __future__ import annotations

import hashlib
import os
import uuid
from datetime import datetime, timezone

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from infrastructure.ledger_verify import (
    LEAF_PREFIX,
    BulkRows,
    CheckpointSource,
    Kind,
    Purge,
    Purges,
    Recomputer,
    _bulk_attempt,
    audit,
    recomputer_source,
)
from infrastructure.merkle import Frontier
from infrastructure.note_signing import format_verifier_key, sign_checkpoint
from infrastructure.svl_verify import event_leaf_hash, root_from_leaf_hashes, verify_checkpoint
from tests.support.ledger_events import WHEN, make_events, make_leaves

ORIGIN = "test.example/log"
KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
VKEY = format_verifier_key(ORIGIN, KEY.public_key())

def checkpoint_of(leaves: list[tuple], size: int | None = None, key: Ed25519PrivateKey = KEY,
                  origin: str = ORIGIN) -> str:
    size = len(leaves) if size is None else size
    root = root_from_leaf_hashes([row[2] for row in leaves[:size]])
    return sign_checkpoint(origin, size, root, key, time=WHEN)


def run(events, leaves, checkpoints=(), **kwargs):
    sources = [c if isinstance(c, CheckpointSource) else CheckpointSource(c, "database") for c in checkpoints]
    return audit(iter(events), iter(leaves), sources, verifier_key=VKEY, origin=ORIGIN, **kwargs)


def with_state(event: tuple, state: bytes) -> tuple:
    return (*event[:4], state)


def flip(data: bytes, at: int = 5) -> bytes:
    return data[:at] + bytes([data[at] ^ 1]) + data[at + 1:]


@pytest.fixture
def log() -> tuple[list[tuple], list[tuple]]:
    events = make_events(20)
    return events, make_leaves(events)


# --- intact logs ----------------------------------------------------------------------------------------

def test_an_intact_log_verifies_and_its_root_is_the_rfc_root(log) -> None:
    events, leaves = log
    report = run(events, leaves, [checkpoint_of(leaves, 7), checkpoint_of(leaves)])
    assert report.intact, [f.describe() for f in report.findings]
    assert (report.events, report.leaves, report.checkpoints_checked) == (20, 20, 2)
    assert report.root == root_from_leaf_hashes([row[2] for row in leaves])


def test_the_empty_log_is_intact() -> None:
    assert run([], []).intact


def test_notification_id_gaps_from_rolled_back_writes_are_accepted() -> None:
    events = make_events(10, gaps=(4, 5, 9))
    report = run(events, make_leaves(events))
    assert report.intact
    assert report.unused_notification_ids == 3


def test_progress_is_reported() -> None:
    events = make_events(5000)
    seen: list[int] = []
    run(events, make_leaves(events), progress=seen.append)
    assert seen[-1] == 5000 and 4096 in seen


# --- tampering with events ------------------------------------------------------------------------------

def test_one_changed_byte_is_altered_at_that_event(log) -> None:
    events, leaves = log
    events[6] = with_state(events[6], flip(events[6][4]))
    first = run(events, leaves).first
    assert (first.kind, first.notification_id, first.originator_id, first.version) == (
        Kind.ALTERED, 7, events[6][1], events[6][2])


def test_a_deleted_event_is_named_with_its_record_from_the_version_gap(log) -> None:
    events, leaves = log
    gone = events.pop(7)
    report = run(events, leaves)
    assert (report.first.kind, report.first.notification_id) == (Kind.DELETED, gone[0])
    assert f"record {gone[1]} lacks version {gone[2]}" in report.first.detail
    assert len(report.findings) == 1


def test_two_swapped_events_are_reordered_not_altered(log) -> None:
    events, leaves = log
    a, b = events[3], events[11]
    events[3], events[11] = (a[0], *b[1:]), (b[0], *a[1:])
    report = run(events, leaves)
    assert [(f.kind, f.notification_id) for f in report.findings] == [(Kind.REORDERED, a[0]), (Kind.REORDERED, b[0])]
    assert f"recorded at notification id {b[0]}" in report.first.detail


def test_an_event_moved_to_a_new_notification_id_is_reordered(log) -> None:
    events, leaves = log
    moved = events.pop(4)
    events.append((99, *moved[1:]))
    report = run(events, leaves)
    assert {(f.kind, f.notification_id) for f in report.findings} == {(Kind.REORDERED, 99)}


def test_a_forged_event_is_inserted(log) -> None:
    events, leaves = log
    events.append((21, events[0][1], 99, events[0][3], b"forged"))
    report = run(events, leaves)
    assert (report.first.kind, report.first.notification_id) == (Kind.INSERTED, 21)


def test_a_forged_event_in_a_notification_id_gap_is_inserted() -> None:
    events = make_events(10, gaps=(5,))
    leaves = make_leaves(events)
    events.insert(4, (5, events[0][1], 2, events[0][3], b"slipped in"))
    report = run(events, leaves)
    assert [(f.kind, f.notification_id) for f in report.findings] == [(Kind.INSERTED, 5)]


def test_a_cut_off_tail_is_truncated(log) -> None:
    events, leaves = log
    report = run(events[:17], leaves)
    assert (report.first.kind, report.first.notification_id) == (Kind.TRUNCATED, 18)
    assert {f.kind for f in report.findings} == {Kind.TRUNCATED}


def test_a_tail_cut_from_events_and_ledger_is_caught_by_the_checkpoint(log) -> None:
    events, leaves = log
    report = run(events[:15], leaves[:15], [checkpoint_of(leaves)])
    assert report.first.kind is Kind.TRUNCATED
    assert "the last 5 were removed" in report.first.detail


def test_an_event_removed_with_its_leaf_is_deleted(log) -> None:
    events, leaves = log
    del events[9], leaves[9]
    report = run(events, leaves)
    assert report.first.kind is Kind.DELETED and report.first.leaf_index == 9


def test_emptied_state_without_a_destruction_record_is_altered(log) -> None:
    events, leaves = log
    events[2] = with_state(events[2], b"")
    first = run(events, leaves).first
    assert first.kind is Kind.ALTERED and "without a destruction record" in first.detail


# --- tampering with the ledger --------------------------------------------------------------------------

def test_events_edited_and_ledger_rebuilt_are_caught_only_by_a_checkpoint(log) -> None:
    events, leaves = log
    published = checkpoint_of(leaves)
    events[5] = with_state(events[5], b"rewritten history")
    rebuilt = make_leaves(events)
    assert run(events, rebuilt).intact  # self-consistent: nothing inside the database contradicts it
    report = run(events, rebuilt, [CheckpointSource(published, "published/20.checkpoint")])
    assert report.first.kind is Kind.LEDGER_REWRITTEN
    assert "published/20.checkpoint" in report.first.detail


def test_earlier_checkpoints_narrow_down_where_the_ledger_was_rewritten(log) -> None:
    events, leaves = log
    signed = [checkpoint_of(leaves, size) for size in (4, 8, 12, 20)]
    events[9] = with_state(events[9], b"rewritten")
    report = run(events, make_leaves(events), signed)
    assert [f.kind for f in report.findings] == [Kind.LEDGER_REWRITTEN, Kind.LEDGER_REWRITTEN]
    assert "leaves 8–11" in report.first.detail


def test_a_leaf_edited_while_the_event_is_intact_blames_the_ledger(log) -> None:
    events, leaves = log
    published = checkpoint_of(leaves)
    index, nid, leaf, completed = leaves[3]
    leaves[3] = (index, nid, flip(leaf), completed)
    report = run(events, leaves, [published])
    assert (report.first.kind, report.first.notification_id) == (Kind.LEDGER_REWRITTEN, 4)
    assert "the event itself still matches" in report.first.detail


def test_damaged_subtree_hashes_are_reported(log) -> None:
    events, leaves = log
    index, nid, leaf, completed = leaves[7]
    leaves[7] = (index, nid, leaf, flip(completed, 0))
    report = run(events, leaves)
    assert report.first.kind is Kind.LEDGER_REWRITTEN and "subtree hashes" in report.first.detail


def test_leaves_swapped_in_the_ledger_are_reordered(log) -> None:
    events, leaves = log
    a, b = leaves[4], leaves[5]
    leaves[4], leaves[5] = (a[0], b[1], b[2], a[3]), (b[0], a[1], a[2], b[3])
    report = run(events, leaves)
    assert report.first.kind is Kind.REORDERED


# --- checkpoints ----------------------------------------------------------------------------------------

def test_a_checkpoint_with_a_bad_signature_is_forged(log) -> None:
    events, leaves = log
    note = checkpoint_of(leaves)
    body, _, sig = note.rpartition(" ")
    forged = body + " " + ("A" if sig[0] != "A" else "B") + sig[1:]
    report = run(events, leaves, [forged])
    assert report.first.kind is Kind.FORGED_CHECKPOINT


def test_a_checkpoint_signed_by_another_key_or_for_another_log_is_forged(log) -> None:
    events, leaves = log
    other = Ed25519PrivateKey.generate()
    report = run(events, leaves, [checkpoint_of(leaves, key=other, origin=ORIGIN),
                                  checkpoint_of(leaves, origin="other.example/log")])
    assert [f.kind for f in report.findings] == [Kind.FORGED_CHECKPOINT, Kind.FORGED_CHECKPOINT]


def test_two_signed_checkpoints_of_one_size_that_disagree_are_mismatched(log) -> None:
    events, leaves = log
    other = make_leaves(make_events(20))
    report = run(events, leaves, [checkpoint_of(leaves), CheckpointSource(checkpoint_of(other), "published/x")])
    kinds = {f.kind for f in report.findings}
    assert Kind.MISMATCHED_CHECKPOINT in kinds and Kind.LEDGER_REWRITTEN in kinds


def test_a_published_checkpoint_missing_from_the_database_is_mismatched(log) -> None:
    events, leaves = log
    report = run(events, leaves, [CheckpointSource(checkpoint_of(leaves, 10), "published/10.checkpoint")])
    assert [f.kind for f in report.findings] == [Kind.MISMATCHED_CHECKPOINT]


def test_checkpoints_need_a_verifier_key(log) -> None:
    events, leaves = log
    with pytest.raises(ValueError, match="verifier key"):
        audit(events, leaves, [CheckpointSource(checkpoint_of(leaves), "database")])


# --- lawful destruction -----------------------------------------------------------------------------------

def test_a_purged_record_declared_by_a_destruction_record_is_lawful(log) -> None:
    events, leaves = log
    oid = events[1][1]
    events = [with_state(e, b"") if e[1] == oid else e for e in events]
    report = run(events, leaves, purges=[Purge(rule="bcp retention 6y", on="2032-01-01", originator_id=oid)])
    assert report.intact
    assert len(report.purged) == 7 and not any(rechecked for _, _, rechecked in report.purged)


def test_a_purge_that_kept_the_digest_still_rechecks_the_leaf(log) -> None:
    events, leaves = log
    digest = hashlib.sha256(events[4][4]).digest()
    events[4] = with_state(events[4], b"")
    ok = run(events, leaves, purges=[Purge("r", "2032-01-01", notification_id=5, state_sha256=digest)])
    assert ok.intact and ok.purged[0][2]
    wrong = run(events, leaves, purges=[Purge("r", "2032-01-01", notification_id=5, state_sha256=bytes(32))])
    assert wrong.first.kind is Kind.ALTERED


def test_a_row_removed_under_a_destruction_record_is_lawful(log) -> None:
    events, leaves = log
    del events[4]
    assert run(events, leaves, purges=[Purge("r", "2032-01-01", notification_id=5)]).intact


# --- any single tampering is found, at the right place ----------------------------------------------------

@settings(max_examples=60, deadline=None)
@given(size=st.integers(2, 80), data=st.data())
def test_any_single_tampering_is_found_at_its_first_notification_id(size, data) -> None:
    events = make_events(size, records=data.draw(st.integers(1, 5)))
    leaves = make_leaves(events)
    i = data.draw(st.integers(0, size - 1))
    j = data.draw(st.integers(0, size - 1).filter(lambda x: x != i))
    action = data.draw(st.sampled_from(["alter", "delete", "swap", "insert"]))
    if action == "alter":
        events[i] = with_state(events[i], flip(events[i][4], data.draw(st.integers(0, 39))))
        expected = {(Kind.ALTERED, events[i][0])}
    elif action == "delete":
        gone = events.pop(i)
        expected = {(Kind.TRUNCATED if i == size - 1 else Kind.DELETED, gone[0])}
    elif action == "swap":
        a, b = events[i], events[j]
        events[i], events[j] = (a[0], *b[1:]), (b[0], *a[1:])
        expected = {(Kind.REORDERED, a[0]), (Kind.REORDERED, b[0])}
    else:
        events.append((size + 1, events[i][1], 1000, events[i][3], b"x"))
        expected = {(Kind.INSERTED, size + 1)}
    report = run(events, leaves)
    assert {(f.kind, f.notification_id) for f in report.findings} == expected
    assert report.first.notification_id == min(nid for _, nid in expected)


def test_the_fast_path_encodes_leaves_exactly_like_the_reference_encoding() -> None:
    events = [(1, "x", 1, "t", b"a"), (2, "y" * 100, 1, "svl:sealed:v1:" + "k" * 300, os.urandom(900)),
              (3, str(uuid.UUID(int=5)), 1, "tópico ünïcode", b"\x00" * 33), (4, "x", 2, "", b"z")]
    leaves = make_leaves(events)
    assert run(events, leaves).intact
    events[1] = with_state(events[1], events[1][4][:-1])
    assert run(events, leaves).first.notification_id == 2


def test_sqlite_spelled_ids_verify_against_leaves_of_the_canonical_id(log) -> None:
    events, leaves = log
    as_stored = [(nid, oid.replace("-", ""), *rest) for nid, oid, *rest in events]
    assert run(as_stored, leaves).intact
    as_stored[3] = with_state(as_stored[3], b"changed")
    assert run(as_stored, leaves).first.originator_id == events[3][1]  # named in the canonical spelling


# --- the bulk route: the same verdict, taken only by a log that checks out ---------------------------------

def sqlite_spelled(events: list[tuple], topic: str | None = None) -> list[tuple]:
    """Ids as SQLite stores them (32 hex digits); one topic for all, as on a one-key log (whole-run packing)."""
    return [(nid, oid.replace("-", ""), version, topic or t, state) for nid, oid, version, t, state in events]


def canonical(events: list[tuple]) -> list[tuple]:
    return [(nid, str(uuid.UUID(oid)), *rest) for nid, oid, *rest in events]


def bulk(events, leaves, checkpoints=(), *, tail_from=None, run_size=7, **kwargs):
    sources = [c if isinstance(c, CheckpointSource) else CheckpointSource(c, "database") for c in checkpoints]
    stored = {lf[1]: lf[2] for lf in leaves}
    rows = BulkRows(events, run=run_size, tail_from=tail_from, stored=stored.get)
    return audit(rows, list(leaves), sources, verifier_key=VKEY, origin=ORIGIN, **kwargs)


def bulk_verdict(events, leaves, checkpoints=(), *, tail_from=None, run_size=7, purges=()):
    """What the bulk route alone concludes: a report, or None (it hands over to the row-by-row pass)."""
    parsed = {verify_checkpoint(c, VKEY, origin=ORIGIN).tree_size for c in checkpoints}
    stored = {lf[1]: lf[2] for lf in leaves}
    rows = BulkRows(events, run=run_size, tail_from=tail_from, stored=stored.get)
    found = _bulk_attempt(rows, list(leaves), parsed, Purges(purges), None)
    return None if found is None else found[1]


def streamed(report) -> tuple:
    """What the pass over events and leaves reports (checkpoints are checked after it, on either route)."""
    return report.events, report.leaves, report.root, report.unused_notification_ids, report.purged


@settings(max_examples=80, deadline=None)
@given(size=st.integers(1, 90), data=st.data())
def test_the_bulk_route_gives_the_row_by_row_report_and_hands_over_at_any_difference(size, data) -> None:
    one_topic = data.draw(st.booleans())
    events = sqlite_spelled(make_events(size, records=data.draw(st.integers(1, 6))),
                            "svl:sealed:v1:organisation" if one_topic else None)
    leaves = make_leaves(canonical(events))
    checkpoints = [checkpoint_of(leaves, s) for s in sorted(set(data.draw(st.lists(st.integers(1, size), max_size=3))))]
    tail_from = data.draw(st.none() | st.integers(0, size))
    run_size = data.draw(st.sampled_from([1, 3, 7, 256]))
    action = data.draw(st.sampled_from(["none", "alter", "delete", "swap", "insert", "empty", "leaf", "subtree",
                                        "drop both", "leaf nid", "version"]))
    i = data.draw(st.integers(0, size - 1))
    if action == "alter":
        events[i] = with_state(events[i], flip(events[i][4], data.draw(st.integers(0, 39))))
    elif action == "delete":
        del events[i]
    elif action == "swap" and size > 1:
        j = (i + 1) % size
        a, b = events[i], events[j]
        events[i], events[j] = (a[0], *b[1:]), (b[0], *a[1:])
    elif action == "insert":
        events.append((size + 5, events[i][1], 1000, events[i][3], b"x"))
    elif action == "empty":
        events[i] = with_state(events[i], b"")
    elif action == "leaf":
        index, nid, leaf, completed = leaves[i]
        leaves[i] = (index, nid, flip(leaf), completed)
    elif action == "subtree" and leaves[i][3]:
        index, nid, leaf, completed = leaves[i]
        leaves[i] = (index, nid, leaf, flip(completed, data.draw(st.integers(0, len(completed) - 1))))
    elif action == "drop both" and size > 1:  # an event and its leaf removed, the ledger rebuilt around the hole
        del events[i]
        leaves = make_leaves(canonical(events))
    elif action == "leaf nid":
        index, nid, leaf, completed = leaves[i]
        leaves[i] = (index, nid + 1000, leaf, completed)
    elif action == "version":  # a record's version renumbered, its leaf recomputed to match
        nid, oid, version, topic, state = events[i]
        events[i] = (nid, oid, version + 1, topic, state)
        leaves = make_leaves(canonical(events))
    row_by_row = run(events, leaves, checkpoints)
    assert bulk(events, leaves, checkpoints, tail_from=tail_from, run_size=run_size).to_dict() == row_by_row.to_dict()
    # The bulk route concludes exactly when events and leaves check out (checkpoints are checked after either
    # route); at any difference it hands over to the row-by-row pass, which alone names it.
    verdict = bulk_verdict(events, leaves, checkpoints, tail_from=tail_from, run_size=run_size)
    assert (verdict is not None) == run(events, leaves).intact
    if verdict is not None:
        assert streamed(verdict) == streamed(row_by_row)


def test_the_bulk_route_is_taken_by_an_intact_log_split_anywhere() -> None:
    events = sqlite_spelled(make_events(700, records=9), "svl:sealed:v1:organisation")
    leaves = make_leaves(canonical(events))
    checkpoints = [checkpoint_of(leaves, s) for s in (1, 256, 257, 511, 700)]
    expected = run(events, leaves, checkpoints).to_dict()
    for tail_from in (None, 0, 1, 255, 256, 699):
        for run_size in (1, 100, 256, 1024):
            assert bulk_verdict(events, leaves, checkpoints, tail_from=tail_from, run_size=run_size) is not None
            assert bulk(events, leaves, checkpoints, tail_from=tail_from, run_size=run_size).to_dict() == expected


def test_the_bulk_route_checks_versions_across_the_split() -> None:
    events = sqlite_spelled(make_events(60, records=3))
    # The record's version 8 removed with its leaf, the ledger rebuilt: only the version numbers tell.
    gone = next(i for i, ev in enumerate(events) if ev[2] == 8)
    del events[gone]
    leaves = make_leaves(canonical(events))
    expected = run(events, leaves)
    assert expected.first.kind is Kind.DELETED
    for tail_from in (None, gone - 1, gone, gone + 1):
        assert bulk_verdict(events, leaves, tail_from=tail_from) is None
        assert bulk(events, leaves, tail_from=tail_from).to_dict() == expected.to_dict()


def test_the_bulk_route_accepts_lawful_purges_and_lists_them_in_order(log) -> None:
    events, leaves = log
    events = sqlite_spelled(events)
    digest = hashlib.sha256(events[15][4]).digest()
    events[3], events[15] = with_state(events[3], b""), with_state(events[15], None)
    purges = [Purge("r", "2032-01-01", notification_id=4),
              Purge("r", "2032-01-01", notification_id=16, state_sha256=digest)]
    expected = run(events, leaves, purges=purges).to_dict()
    assert expected["intact"] and [p["leaf_rechecked"] for p in expected["purged"]] == [False, True]
    for tail_from in (None, 0, 10, 16):
        assert bulk_verdict(events, leaves, tail_from=tail_from, purges=purges) is not None
        assert bulk(events, leaves, tail_from=tail_from, purges=purges).to_dict() == expected
    # A digest that does not match what was signed: not lawful, and named as before.
    wrong = [purges[0], Purge("r", "2032-01-01", notification_id=16, state_sha256=bytes(32))]
    assert bulk(events, leaves, tail_from=10, purges=wrong).to_dict() == run(events, leaves, purges=wrong).to_dict()


def test_mixed_spellings_of_one_record_id_take_the_row_by_row_pass(log) -> None:
    events, leaves = log
    mixed = sqlite_spelled(events)
    mixed[4] = events[4]  # the same record, spelled with hyphens
    assert bulk_verdict(mixed, leaves) is None
    assert bulk(mixed, leaves).to_dict() == run(mixed, leaves).to_dict()


def test_whole_run_packing_encodes_leaves_exactly_like_the_reference_encoding() -> None:
    events = [(n, uuid.uuid4().hex, 1 + n % 3, "svl:sealed:v1:k-ü", os.urandom(1 + n * 37 % 900)) for n in range(1, 60)]
    nids, leaves, empty = Recomputer(LEAF_PREFIX).run(events)
    assert list(nids) == [ev[0] for ev in events] and not empty
    assert leaves == b"".join(event_leaf_hash(*ev) for ev in canonical(events))


def test_the_recomputer_source_runs_on_its_own() -> None:
    namespace: dict = {}
    exec(compile(recomputer_source(), "<helper>", "exec"), namespace)  # what the helper interpreter runs
    events = sqlite_spelled(make_events(40, records=4), "svl:sealed:v1:organisation")
    batches = [events[:13], events[13:]]
    here, there = Recomputer(LEAF_PREFIX), namespace["Recomputer"](LEAF_PREFIX)
    assert here.summarise(batches, lambda nid: None) == there.summarise(batches, lambda nid: None)
