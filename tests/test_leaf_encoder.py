"""One leaf encoding: `svl verify`'s three fast packers (the row-by-row pass's hot loop, the bulk route's
whole-run and row-by-row packing, also as the helper interpreter runs them) produce byte for byte the leaves of
the reference encoder in `svl_verify.py`, the one the outsider reads, over random events."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from infrastructure import ledger_verify
from infrastructure.ledger_verify import LEAF_PREFIX, Recomputer, audit, recomputer_source
from infrastructure.svl_verify import encode_leaf, event_leaf_hash, leaf_hash
from tests.support.ledger_events import make_leaves

U64 = st.integers(0, 2**64 - 1)
TOPICS = st.one_of(st.just("svl:sealed:v1:organisation"), st.text(max_size=40).filter(
    lambda t: t.encode("utf-8", "surrogatepass").decode("utf-8", "ignore") == t))
STATES = st.binary(min_size=1, max_size=600)


def _hex_id(value: int) -> str:
    return uuid.UUID(int=value).hex  # SQLite's spelling: 32 hex digits


def _canonical(oid: str) -> str:
    return str(uuid.UUID(oid))


@settings(max_examples=200, deadline=None)
@given(nid=U64, oid=st.uuids(), version=U64, topic=TOPICS, state=STATES, spelled=st.booleans())
def test_the_hot_loops_packer_is_the_reference_encoding(nid, oid, version, topic, state, spelled) -> None:
    text = oid.hex if spelled else str(oid)
    o, t = str(oid).encode(), topic.encode()
    packed = ledger_verify._leaf_packer(len(o), len(t))(LEAF_PREFIX, nid, len(o), o, version, len(t), t,
                                                         hashlib.sha256(state).digest())
    assert packed == b"\x00" + encode_leaf(nid, _canonical(text), version, topic, state)


@st.composite
def runs(draw, whole: bool) -> list[tuple]:
    """Consecutive events: with whole=True the shape the whole-run packer takes (32-hex ids, one topic)."""
    count = draw(st.integers(1, 40))
    first = draw(st.integers(1, 2**40))
    nids = sorted(set(first + n * draw(st.integers(1, 5)) for n in range(count)))
    topic = draw(TOPICS)
    rows = []
    for nid in nids:
        oid = draw(st.integers(0, 2**128 - 1))
        rows.append((nid, _hex_id(oid) if whole or draw(st.booleans()) else str(uuid.UUID(int=oid)),
                     draw(st.integers(1, 2**63)), topic if whole else draw(TOPICS), draw(STATES)))
    return rows


HELPER: dict = {}
exec(compile(recomputer_source(), "<helper>", "exec"), HELPER)  # what the helper interpreter runs


@settings(max_examples=150, deadline=None)
@given(rows=st.one_of(runs(whole=True), runs(whole=False)))
def test_the_bulk_packers_are_the_reference_encoding(rows) -> None:
    expected = b"".join(event_leaf_hash(nid, _canonical(oid), v, t, s) for nid, oid, v, t, s in rows)
    for recomputer in (Recomputer(LEAF_PREFIX), HELPER["Recomputer"](LEAF_PREFIX)):
        if len({len(r[1]) for r in rows}) == 1:
            assert recomputer.run(rows)[1] == expected  # whole run where it can, else row by row
        if all(len(r[1]) == 32 for r in rows) and len({r[3] for r in rows}) == 1:
            whole = recomputer._whole_run(*zip(*[(n, o, v) for n, o, v, _, _ in rows]), rows[0][3],
                                          tuple(r[4] for r in rows))
            assert whole == expected
        assert recomputer._row_by_row(rows)[0] == expected


@st.composite
def logs(draw) -> list[tuple]:
    """A log whose every record's versions count up, ids in either spelling (one per log, as stored)."""
    records = [uuid.UUID(int=draw(st.integers(0, 2**128 - 1))) for _ in range(draw(st.integers(1, 4)))]
    spelled = draw(st.booleans())
    versions = dict.fromkeys(records, 0)
    rows, nid = [], 0
    for _ in range(draw(st.integers(2, 30))):
        record = draw(st.sampled_from(records))
        versions[record] += 1
        nid += draw(st.integers(1, 3))
        rows.append((nid, record.hex if spelled else str(record), versions[record], draw(TOPICS), draw(STATES)))
    return rows


@pytest.fixture(scope="module")
def recomputed() -> Iterator[list[int]]:
    """The notification ids the general step recomputes with the reference encoder, as they happen."""
    seen: list[int] = []
    reference = ledger_verify._recompute

    def counting(ev, purges, report, stored):  # noqa: ANN001, ANN202
        seen.append(ev[0])
        return reference(ev, purges, report, stored)

    ledger_verify._recompute = counting
    try:
        yield seen
    finally:
        ledger_verify._recompute = reference


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=logs())
def test_the_row_by_row_pass_takes_its_fast_path_exactly_when_the_reference_agrees(rows, recomputed) -> None:
    """The hot loop packs leaves inline; every event it does not recognise falls to the general step, which
    recomputes with the reference encoder. With leaves made by the reference encoder, only the first event
    (a boundary the general step records) may reach the general step: the inline packing agreed on all others."""
    leaves = make_leaves([(nid, _canonical(oid), v, t, s) for nid, oid, v, t, s in rows])
    recomputed.clear()
    report = audit(rows, leaves)
    assert report.intact, [f.describe() for f in report.findings]
    assert recomputed == [rows[0][0]]


def test_leaf_hash_is_sha256_of_zero_and_the_leaf() -> None:
    leaf = encode_leaf(1, str(uuid.UUID(int=1)), 1, "t", b"s")
    assert leaf_hash(leaf) == hashlib.sha256(b"\x00" + leaf).digest()
