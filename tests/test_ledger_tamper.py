"""Tampering underneath the application, with plain SQL on a separate connection, on SQLite and PostgreSQL:
`verify` must name the first divergence precisely, and checkpoints and bundles must refuse to bless it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from uuid import UUID

import pytest
from sqlalchemy import delete, insert, text

from api.application import SupervisionApplication
from infrastructure.checkpoints import create_signing_key_file
from infrastructure.ledger import LedgerTampered
from infrastructure.ledger_store import canonical_originator_id, snapshot, uuid_slices, versions_count_up
from infrastructure.ledger_tables import ledger_checkpoints, ledger_leaves
from infrastructure.ledger_verify import Kind, Purge
from infrastructure.merkle import Frontier
from infrastructure.svl_verify import event_leaf_hash
from tests.support.staff import content, staff
from tests.support.acting import acting
from tests.support.storage import nid_column, table, sql, event_rows


@pytest.fixture
def signed(application: SupervisionApplication, tmp_path: Path) -> Iterator[SupervisionApplication]:
    """The application with a signing key and a few records: 10 events."""
    create_signing_key_file(application.storage.settings.signing_key_file, application.storage.settings.organisation_origin)
    _, supervisor, worker = staff(application)
    for day in (2, 3):
        rid = application.records.draft_record(acting(supervisor), supervisee_id=worker,
                                          content=content(session_date=f"2026-03-0{day}")).id
        application.records.share_record(acting(supervisor), rid)
    application.people.record_leaving(acting("hr"), worker, date(2026, 6, 1))
    yield application


# --- SQL underneath the application ---------------------------------------------------------------------


def set_nid(app: SupervisionApplication, old: int, new: int) -> None:
    sql(app, f"UPDATE {table(app)} SET {nid_column(app)} = :new WHERE {nid_column(app)} = :old", new=new, old=old)


def rebuild_ledger(app: SupervisionApplication) -> None:
    """What a careful attacker does after editing events: recompute every leaf and subtree hash."""
    frontier, rows = Frontier(), []
    for nid, oid, version, topic, state in event_rows(app):
        leaf = event_leaf_hash(nid, oid, version, topic, state)
        completed = frontier.append(leaf)
        rows.append({"leaf_index": len(rows), "notification_id": nid, "leaf_hash": leaf,
                     "completed_nodes": b"".join(h for _, _, h in completed[1:])})
    with app.storage.engine.begin() as conn:
        conn.execute(delete(ledger_leaves))
        conn.execute(insert(ledger_leaves), rows)


def verify(app: SupervisionApplication, published: Path | None = None):
    return app.integrity.verify(published_dir=published)


def first(app: SupervisionApplication, published: Path | None = None):
    report = verify(app, published)
    assert not report.intact, "tampering went unnoticed"
    return report.first


# --- intact -----------------------------------------------------------------------------------------------

def test_an_untouched_ledger_is_intact_and_matches_its_checkpoints(signed, tmp_path) -> None:
    signed.integrity.checkpoint(publish_to=tmp_path / "published")
    report = verify(signed, tmp_path / "published")
    assert report.intact, [f.describe() for f in report.findings]
    assert report.events == report.leaves == 10
    assert (report.checkpoints_checked, report.published_checked) == (1, 1)


# --- tampering with events --------------------------------------------------------------------------------

def versions_vouched_for(app: SupervisionApplication) -> bool:
    with snapshot(app.storage.engine, app.integrity.events) as snap:
        return snap.versions_checked


def test_the_database_vouches_for_the_versions_only_while_each_record_counts_up_by_one(signed) -> None:
    """Then verify keeps nothing per record (flat memory at any size); otherwise it follows each record's versions
    itself and names the one that jumps (the findings below are the same either way)."""
    assert versions_vouched_for(signed) and verify(signed).intact
    rows = event_rows(signed)
    nid, oid, version, _, _ = next(r for r in rows if r[2] == 2)
    sql(signed, f"UPDATE {table(signed)} SET originator_version = 7 WHERE {nid_column(signed)} = :n", n=nid)
    assert not versions_vouched_for(signed)
    assert first(signed).kind is Kind.ALTERED  # the leaf holds version 2
    sql(signed, f"UPDATE {table(signed)} SET originator_version = :v WHERE {nid_column(signed)} = :n", v=version, n=nid)
    assert versions_vouched_for(signed) and verify(signed).intact
    if signed.storage.settings.is_sqlite:  # only SQLite stores an id as text, so only there can it be respelled
        sql(signed, f"UPDATE {table(signed)} SET originator_id = upper(originator_id) WHERE {nid_column(signed)} = :n",
            n=nid)
        assert not versions_vouched_for(signed)


def test_a_large_log_is_vouched_for_slice_by_slice_with_the_same_answer(signed) -> None:
    """PostgreSQL: past 10^6 events the question is asked in 256 slices of the id space (one question over 10^7
    outlasted the statement timeout). Every UUID falls in exactly one slice, and a jump in any record is seen."""
    if signed.storage.settings.is_sqlite:
        pytest.skip("PostgreSQL's uuid column; SQLite asks in one question")
    slices = uuid_slices(256)
    ids = ("SELECT md5(i::text)::uuid AS originator_id FROM generate_series(1, 20000) AS i UNION ALL "
           "SELECT v::uuid FROM (VALUES ('00000000-0000-0000-0000-000000000000'), "
           "('ffffffff-ffff-ffff-ffff-ffffffffffff'), ('7f000000-0000-0000-0000-000000000000'), "
           "('7effffff-ffff-ffff-ffff-ffffffffffff')) AS edge(v)")
    matched = " + ".join(f"({where})::int" for where in slices)
    with signed.storage.engine.connect() as conn:
        assert conn.execute(text(f"SELECT count(*) FROM ({ids}) AS t WHERE {matched} != 1")).scalar() == 0

    def vouched() -> bool:
        raw = signed.storage.engine.raw_connection()
        try:
            return versions_count_up(raw.driver_connection, signed.integrity.events.qualified,
                                     signed.integrity.events.nid, slices=slices)
        finally:
            raw.rollback()
            raw.close()

    assert vouched()
    nid, _, version, _, _ = next(r for r in event_rows(signed) if r[2] == 2)
    sql(signed, f"UPDATE {table(signed)} SET originator_version = 7 WHERE {nid_column(signed)} = :n", n=nid)
    assert not vouched()


def test_one_changed_byte_of_an_event_is_altered(signed) -> None:
    nid, oid, version, _, state = event_rows(signed)[6]
    changed = state[:20] + bytes([state[20] ^ 0x01]) + state[21:]
    sql(signed, f"UPDATE {table(signed)} SET state = :s WHERE {nid_column(signed)} = :n", s=changed, n=nid)
    found = first(signed)
    assert (found.kind, found.notification_id, found.originator_id, found.version) == (Kind.ALTERED, nid, oid, version)


def test_a_deleted_event_is_deleted_and_its_record_named(signed) -> None:
    rows = event_rows(signed)
    nid, oid, version, _, _ = next(r for r in rows if r[2] == 1 and any(o[1] == r[1] and o[2] == 2 for o in rows)
                                   and r[0] > 3)
    sql(signed, f"DELETE FROM {table(signed)} WHERE {nid_column(signed)} = :n", n=nid)
    found = first(signed)
    assert (found.kind, found.notification_id) == (Kind.DELETED, nid)
    assert f"record {oid} lacks version {version}" in found.detail


def test_two_swapped_events_are_reordered(signed) -> None:
    a, b = 4, 8
    set_nid(signed, a, -1)
    set_nid(signed, b, a)
    set_nid(signed, -1, b)
    report = verify(signed)
    assert [(f.kind, f.notification_id) for f in report.findings] == [(Kind.REORDERED, a), (Kind.REORDERED, b)]


def test_a_forged_event_is_inserted(signed) -> None:
    nid = nid_column(signed)
    sql(signed, f"INSERT INTO {table(signed)} (originator_id, originator_version, topic, state) "
                f"SELECT originator_id, 99, topic, state FROM {table(signed)} WHERE {nid} = 4")
    found = first(signed)
    assert (found.kind, found.notification_id, found.version) == (Kind.INSERTED, 11, 99)


def test_a_truncated_tail_is_truncated(signed) -> None:
    sql(signed, f"DELETE FROM {table(signed)} WHERE {nid_column(signed)} > 8")
    found = first(signed)
    assert (found.kind, found.notification_id) == (Kind.TRUNCATED, 9)


def test_emptied_ciphertext_is_lawful_only_under_a_destruction_record(signed) -> None:
    nid, oid, *_ = event_rows(signed)[9]
    sql(signed, f"UPDATE {table(signed)} SET state = :e WHERE {nid_column(signed)} = :n", e=b"", n=nid)
    assert first(signed).kind is Kind.ALTERED
    signed.integrity.purge_sources.append(lambda: [Purge(rule="bcp: 6 years", on="2032-06-01", originator_id=oid)])
    report = verify(signed)
    assert report.intact and [(n, p.rule) for n, p, _ in report.purged] == [(nid, "bcp: 6 years")]


# --- tampering with the ledger and its checkpoints ------------------------------------------------------

def test_an_edit_with_the_ledger_rebuilt_is_caught_by_a_published_checkpoint(signed, tmp_path) -> None:
    published = tmp_path / "published"
    signed.integrity.checkpoint(publish_to=published)
    nid, _, _, _, state = event_rows(signed)[5]
    sql(signed, f"UPDATE {table(signed)} SET state = :s WHERE {nid_column(signed)} = :n", s=state[::-1], n=nid)
    rebuild_ledger(signed)
    # With the stored checkpoints still there, they catch it...
    assert first(signed).kind is Kind.LEDGER_REWRITTEN
    # ...so the attacker removes them too: now nothing inside the database contradicts the edit,
    sql(signed, "DELETE FROM ledger_checkpoints")
    assert verify(signed).intact
    # but the checkpoint published earlier does,
    found = first(signed, published)
    assert found.kind is Kind.LEDGER_REWRITTEN and "10.checkpoint" in found.detail
    # and no new checkpoint will bless the rewritten ledger.
    with pytest.raises(LedgerTampered, match="not an extension"):
        signed.integrity.checkpoint(publish_to=published)


def test_a_checkpoint_with_a_bad_signature_is_forged_and_blocks_signing(signed) -> None:
    signed.integrity.checkpoint(publish_to=None)
    note = sql(signed, "SELECT note FROM ledger_checkpoints")[0][0]
    body, _, signature = note.rstrip("\n").rpartition(" ")
    forged = f"{body} {'A' if signature[0] != 'A' else 'B'}{signature[1:]}\n"
    with signed.storage.engine.begin() as conn:
        conn.execute(ledger_checkpoints.update().values(note=forged))
    assert first(signed).kind is Kind.FORGED_CHECKPOINT
    with pytest.raises(LedgerTampered, match="does not verify"):
        signed.integrity.checkpoint(publish_to=None)


def test_a_checkpoint_is_not_signed_over_a_rewritten_prefix(signed) -> None:
    signed.integrity.checkpoint(publish_to=None)
    rows = event_rows(signed)
    sql(signed, f"UPDATE {table(signed)} SET state = :s WHERE {nid_column(signed)} = 2", s=rows[1][4] + b"!")
    rebuild_ledger(signed)
    sql(signed, f"INSERT INTO {table(signed)} (originator_id, originator_version, topic, state) "
                f"SELECT originator_id, 50, topic, state FROM {table(signed)} WHERE {nid_column(signed)} = 3")
    rebuild_ledger(signed)
    with pytest.raises(LedgerTampered, match="not an extension of checkpoint 10"):
        signed.integrity.checkpoint(publish_to=None)


def test_a_bundle_is_not_exported_for_a_record_that_no_longer_matches(signed) -> None:
    nid, oid, *_ = event_rows(signed)[6]
    sql(signed, f"UPDATE {table(signed)} SET topic = :t WHERE {nid_column(signed)} = :n", t="svl:sealed:v1:x", n=nid)
    with pytest.raises(LedgerTampered, match="does not match the ledger"):
        signed.integrity.export_bundle(UUID(oid))


# --- whatever the bytes and SQL types underneath, verify names the first divergence -----------------------

SQLITE_EVENT_EDITS = {
    "state spliced with SQL string operations (stores TEXT, not UTF-8)":
        "state = substr(state, 1, 10) || x'00' || substr(state, 12)",
    "state cast to TEXT": "state = CAST(state AS TEXT)",
    "state as plain text": "state = 'plain text'",
    "state as an integer": "state = 42",
    "state as a real": "state = 1.5",
    "topic as a BLOB": "topic = x'ff00'",
    "topic as TEXT that is not UTF-8": "topic = CAST(x'ffc0' AS TEXT)",
    "topic as an integer": "topic = 7",
    "originator id as a BLOB": "originator_id = x'00ff'",
    "originator id as TEXT that is not UTF-8": "originator_id = CAST(x'c0c0' AS TEXT)",
    "originator id as an integer": "originator_id = 5",
    "version as text": "originator_version = 'abc'",
    "version as a real": "originator_version = 2.5",
    "version negative": "originator_version = -1",
    "version beyond 64 bits": "originator_version = 9.3e30",
    "version as a BLOB": "originator_version = x'01'",
}


def _edit_sqlite_file(app: SupervisionApplication, statement: str, **params: object) -> None:
    """Plain sqlite3 on the database file, beside the application: nothing of ours in between."""
    import sqlite3

    path = app.storage.settings.database_url.removeprefix("sqlite:///")
    conn = sqlite3.connect(path)
    try:
        conn.execute(statement, params)
        conn.commit()
    finally:
        conn.close()


@pytest.mark.parametrize("edit", sorted(SQLITE_EVENT_EDITS))
def test_an_event_rewritten_with_any_sql_type_is_named_not_a_crash(signed, edit) -> None:
    if not signed.storage.settings.is_sqlite:
        pytest.skip("SQLite stores any type in any column; PostgreSQL's typed columns are covered below")
    nid = event_rows(signed)[2][0]
    _edit_sqlite_file(signed, f"UPDATE {table(signed)} SET {SQLITE_EVENT_EDITS[edit]} WHERE rowid = :n", n=nid)
    report = verify(signed)
    assert not report.intact
    assert (report.first.kind, report.first.notification_id) == (Kind.ALTERED, nid), report.first.describe()
    json.dumps(report.to_dict())  # `svl verify --json` can print it
    report.first.describe()


SQLITE_LEAF_EDITS = {
    "leaf hash cast to TEXT": "leaf_hash = CAST(leaf_hash AS TEXT)",
    "leaf hash as text": "leaf_hash = 'abc'",
    "subtree hashes as text": "completed_nodes = CAST(x'ff' AS TEXT)",
    "notification id as text": "notification_id = 'abc'",
    "notification id as a real": "notification_id = 3.5",
}


@pytest.mark.parametrize("edit", sorted(SQLITE_LEAF_EDITS))
def test_a_leaf_rewritten_with_any_sql_type_is_named_not_a_crash(signed, edit) -> None:
    if not signed.storage.settings.is_sqlite:
        pytest.skip("SQLite stores any type in any column")
    _edit_sqlite_file(signed, f"UPDATE ledger_leaves SET {SQLITE_LEAF_EDITS[edit]} WHERE leaf_index = 3")
    report = verify(signed)
    assert not report.intact and report.first is not None
    assert report.first.leaf_index == 3 or report.first.notification_id == 4, report.first.describe()
    json.dumps(report.to_dict())


def test_state_spliced_with_sql_string_operations_is_altered_on_both_backends(signed) -> None:
    """The same splice on PostgreSQL (bytea stays bytea there) and a version no event can have."""
    rows = event_rows(signed)
    nid, oid, version = rows[2][:3]
    zero = "x'00'" if signed.storage.settings.is_sqlite else "'\\x00'::bytea"
    sub = "substr" if signed.storage.settings.is_sqlite else "substring"
    sql(signed, f"UPDATE {table(signed)} SET state = {sub}(state, 1, 10) || {zero} || {sub}(state, 12) "
                f"WHERE {nid_column(signed)} = :n", n=nid)
    found = first(signed)
    assert (found.kind, found.notification_id, found.originator_id, found.version) == (Kind.ALTERED, nid, oid, version)
    later = rows[5][0]
    sql(signed, f"UPDATE {table(signed)} SET originator_version = -1 WHERE {nid_column(signed)} = :n", n=later)
    report = verify(signed)
    assert [f.notification_id for f in report.findings if f.kind is Kind.ALTERED][:2] == [nid, later]
