"""The ledger tables on SQLite and PostgreSQL: the recorder's leaves, the one-query frontier, RFC 9162 proofs
served from SQL (checked by the standalone verifier), concurrent writers, and rolled-back writes."""

from __future__ import annotations

import hashlib
import threading
from datetime import date

import pytest
from sqlalchemy import insert, select, text

from api.application import Storage, SupervisionApplication
from infrastructure.checkpoints import create_signing_key_file
from infrastructure.ledger import AutomaticCheckpoints
from infrastructure.ledger_append import LedgerDamaged
from infrastructure.ledger_tables import ledger_leaves
from infrastructure.merkle import Frontier
from infrastructure.svl_verify import (
    event_leaf_hash,
    leaf_hash,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)
from tests.support.storage import event_rows
from tests.support.staff import content, staff
from tests.support.acting import acting

SIZES = (1, 2, 3, 5, 8, 13, 64, 65, 300)


def synthetic_leaves(count: int) -> list[bytes]:
    return [leaf_hash(hashlib.sha256(i.to_bytes(8, "big")).digest()) for i in range(count)]


def insert_tree(app: SupervisionApplication, hashes: list[bytes], start: int, frontier: Frontier) -> None:
    rows = []
    for index in range(start, len(hashes)):
        completed = frontier.append(hashes[index])
        rows.append({"leaf_index": index, "notification_id": 10 * index + 7, "leaf_hash": hashes[index],
                     "completed_nodes": b"".join(h for _, _, h in completed[1:])})
    with app.storage.engine.begin() as conn:
        conn.execute(insert(ledger_leaves), rows)


def test_proofs_served_from_sql_verify_at_every_size(application) -> None:
    hashes = synthetic_leaves(SIZES[-1])
    frontier, built = Frontier(), 0
    store = application.integrity.store
    for size in SIZES:
        insert_tree(application, hashes[:size], built, frontier)
        built = size
        root = root_from_leaf_hashes(hashes[:size])
        loaded = store.frontier()  # the recorder's one-query read of the right edge
        assert (loaded.size, loaded.root()) == (size, root)
        for index in sorted({0, size // 3, size // 2, size - 1}):
            proof = store.inclusion_proof(index, size)
            assert verify_inclusion(hashes[index], index, size, proof, root)
            assert not verify_inclusion(hashes[index - 1] if index else hashes[-1], index, size, proof, root)
        for old in sorted({1, size // 2, size - 1, size}):
            if old:
                old_root = root_from_leaf_hashes(hashes[:old])
                assert verify_consistency(old, size, store.consistency_proof(old, size), old_root, root)


def test_one_statement_reads_the_leaf_the_latest_checkpoint_and_every_node_of_its_proof(application) -> None:
    """`inclusion_in_latest` picks the proof's nodes in SQL, from the leaf index and the latest checkpoint's size:
    for every leaf of trees of 1 to 40 leaves, and some of larger ones, nothing needs reading again."""
    from datetime import datetime, timezone

    from infrastructure import merkle
    from infrastructure.ledger_tables import ledger_checkpoints

    hashes = synthetic_leaves(300)
    frontier, built = Frontier(), 0
    store = application.integrity.store
    for size in [*range(1, 41), 63, 64, 65, 127, 300]:
        insert_tree(application, hashes[:size], built, frontier)
        built = size
        root = root_from_leaf_hashes(hashes[:size])
        with application.storage.engine.begin() as conn:
            conn.execute(insert(ledger_checkpoints).values(tree_size=size, root_hash=root, note=f"note {size}",
                                                           signed_at=datetime(2026, 3, 2, tzinfo=timezone.utc)))
        for index in range(size) if size <= 40 else sorted({0, 1, size // 3, size // 2, size - 2, size - 1}):
            read = store.inclusion_in_latest(10 * index + 7)
            assert read.leaf == (index, hashes[index]) and read.latest == (size, f"note {size}")
            proof = merkle.inclusion_proof(read.nodes, index, size)
            assert read.nodes.read_again == [], (index, size)
            assert proof == store.inclusion_proof(index, size)
            assert verify_inclusion(hashes[index], index, size, proof, root)
    unknown = store.inclusion_in_latest(8)
    assert (unknown.leaf, unknown.latest) == (None, (300, "note 300"))


def test_the_recorder_writes_one_leaf_per_event_in_notification_order(application) -> None:
    staff(application)
    rows = event_rows(application)
    with application.storage.engine.connect() as conn:
        leaves = conn.execute(select(ledger_leaves).order_by(ledger_leaves.c.leaf_index)).all()
    assert [r.notification_id for r in leaves] == [r[0] for r in rows]
    assert [bytes(r.leaf_hash) for r in leaves] == [event_leaf_hash(*row) for row in rows]
    assert application.integrity.store.frontier().root() == root_from_leaf_hashes([bytes(r.leaf_hash) for r in leaves])


def test_a_missing_frontier_row_stops_a_fresh_writer_instead_of_forking_the_tree(application, settings, master_key,
                                                                                   clock) -> None:
    staff(application)
    with application.storage.engine.begin() as conn:
        conn.execute(ledger_leaves.delete().where(ledger_leaves.c.leaf_index == 3))
    # A writer that already holds the committed edge keeps appending to the true tree...
    application.people.join_worker(acting("hr"), name="Next", role="r", category="experienced", start_date=date(2024, 1, 1))
    assert application.integrity.verify().first.kind.value == "deleted"
    # ...one that must read the edge from the damaged table refuses to write.
    fresh = SupervisionApplication(Storage.open(settings, master_key=master_key), clock)
    try:
        with application.storage.engine.begin() as conn:
            conn.execute(ledger_leaves.delete().where(ledger_leaves.c.leaf_index == 5))
        with pytest.raises(LedgerDamaged):
            fresh.people.join_worker(acting("hr"), name="Late", role="r", category="experienced",
                                     start_date=date(2024, 1, 1))
    finally:
        fresh.close()
        fresh.storage.engine.dispose()


def test_concurrent_writers_keep_leaf_order_equal_to_notification_order(application, settings, master_key, clock) -> None:
    apps = [application] + [SupervisionApplication(Storage.open(settings, master_key=master_key), clock) for _ in range(3)]
    errors: list[BaseException] = []

    def write(app: SupervisionApplication, n: int) -> None:
        try:
            for i in range(8):
                app.people.join_worker(acting("hr"), name=f"W{n}-{i}", role="r", category="experienced",
                                       start_date=date(2024, 1, 1))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(app, n)) for n, app in enumerate(apps)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        for app in apps[1:]:
            app.close()
            app.storage.engine.dispose()
    assert not errors, errors
    report = application.integrity.verify()
    assert report.intact, [f.describe() for f in report.findings]
    assert report.events == report.leaves == 32
    with application.storage.engine.connect() as conn:
        nids = conn.execute(select(ledger_leaves.c.notification_id).order_by(ledger_leaves.c.leaf_index)).scalars()
        assert list(nids) == sorted(r[0] for r in event_rows(application))


def test_a_rolled_back_write_leaves_a_notification_id_gap_that_verify_accepts(application, settings) -> None:
    staff(application)
    table = application.recorder.events_table_name
    with application.storage.engine.connect() as conn:
        trans = conn.begin()
        conn.execute(text(f"INSERT INTO {table} (originator_id, originator_version, topic, state) "
                          f"SELECT originator_id, 77, topic, state FROM {table} LIMIT 1"))
        trans.rollback()
    application.people.join_worker(acting("hr"), name="After", role="r", category="experienced", start_date=date(2024, 1, 1))
    report = application.integrity.verify()
    assert report.intact, [f.describe() for f in report.findings]
    # PostgreSQL's sequence never hands a number back; SQLite reuses the rowid.
    assert report.unused_notification_ids == (0 if settings.is_sqlite else 1)


def test_automatic_checkpoints_every_n_events_and_after_t_seconds(application, tmp_path) -> None:
    settings = application.storage.settings
    create_signing_key_file(settings.signing_key_file, settings.organisation_origin)
    now = [0.0]
    hook = AutomaticCheckpoints(application.integrity, every_events=4, every_seconds=60, monotonic=lambda: now[0])
    application.after_save.append(hook)
    _, supervisor, worker = staff(application)  # 5 events, one save each: due at the 4th
    assert application.integrity.checkpoints.sizes() == [4]
    now[0] = 61.0
    application.records.draft_record(acting(supervisor), supervisee_id=worker, content=content())  # 61 s since: due
    assert application.integrity.checkpoints.sizes() == [4, 6]
    assert application.integrity.verify().checkpoints_checked == 2


def test_automatic_checkpoints_switch_off_quietly_without_a_signing_key(application, caplog) -> None:
    hook = AutomaticCheckpoints(application.integrity, every_events=1, every_seconds=0)
    application.after_save.append(hook)
    staff(application)
    assert not hook.enabled and application.integrity.checkpoints.sizes() == []
    assert sum("automatic ledger checkpoints are off" in r.message for r in caplog.records) == 1



# --- svl verify's bulk route on SQLite: a helper process recomputes the tail --------------------------------

@pytest.fixture
def helper_on_every_log(monkeypatch: pytest.MonkeyPatch) -> dict[str, list]:
    """The helper process even on a small log, in small runs; records what each route concluded."""
    from infrastructure import ledger_store, ledger_verify

    monkeypatch.setattr(ledger_store, "BULK_HELPER_MIN_EVENTS", 1)
    monkeypatch.setattr(ledger_store, "BULK_RUN", 3)
    monkeypatch.setattr(ledger_store, "_cpus", lambda: 2)
    seen: dict[str, list] = {"helpers": [], "bulk": []}
    start, attempt = ledger_store._Helper.start, ledger_verify._bulk_attempt

    def started(*args):  # noqa: ANN002, ANN202
        helper = start(*args)
        seen["helpers"].append(helper)
        return helper

    def attempted(*args):  # noqa: ANN002, ANN202
        found = attempt(*args)
        seen["bulk"].append(found is not None)
        return found

    monkeypatch.setattr(ledger_store._Helper, "start", started)
    monkeypatch.setattr(ledger_verify, "_bulk_attempt", attempted)
    return seen


def row_by_row_report(application: SupervisionApplication, monkeypatch: pytest.MonkeyPatch) -> dict:
    from infrastructure import ledger_verify

    with monkeypatch.context() as patch:
        patch.setattr(ledger_verify, "_bulk_attempt", lambda *args: None)
        return application.integrity.verify().to_dict()


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)  # the bulk route reads SQLite
def test_verify_with_a_helper_process_gives_the_row_by_row_report(application, settings, helper_on_every_log,
                                                                  monkeypatch) -> None:
    create_signing_key_file(settings.signing_key_file, settings.organisation_origin)
    _, supervisor, worker = staff(application)
    for day in range(1, 6):
        rid = application.records.draft_record(acting(supervisor), supervisee_id=worker,
                                          content=content(session_date=f"2026-03-0{day}")).id
        application.records.share_record(acting(supervisor), rid)
    application.integrity.checkpoint(publish_to=None)
    report = application.integrity.verify()
    assert report.intact and report.events == len(event_rows(application)) == 15
    assert helper_on_every_log["bulk"] == [True] and helper_on_every_log["helpers"][0].process.returncode == 0
    assert report.to_dict() == row_by_row_report(application, monkeypatch)

    # One byte changed in the part the helper recomputes: it hands over, and the finding is the same.
    nid, *_, state = event_rows(application)[-2]
    with application.storage.engine.begin() as conn:
        conn.execute(text(f"UPDATE {application.recorder.events_table_name} SET state = :s WHERE rowid = :n"),
                     {"s": state[:-1] + bytes([state[-1] ^ 1]), "n": nid})
    report = application.integrity.verify()
    assert helper_on_every_log["bulk"] == [True, False] and len(helper_on_every_log["helpers"]) == 2
    assert (report.first.kind.value, report.first.notification_id) == ("altered", nid)
    assert report.to_dict() == row_by_row_report(application, monkeypatch)


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_a_lawful_purge_in_the_helpers_part_is_accepted_in_bulk(application, settings, helper_on_every_log,
                                                               monkeypatch) -> None:
    from infrastructure.ledger_verify import Purge

    _, supervisor, worker = staff(application)
    for day in range(1, 4):
        application.records.draft_record(acting(supervisor), supervisee_id=worker,
                                    content=content(session_date=f"2026-03-0{day}"))
    nid, oid, _, _, state = event_rows(application)[-1]
    with application.storage.engine.begin() as conn:
        conn.execute(text(f"UPDATE {application.recorder.events_table_name} SET state = X'' WHERE rowid = :n"), {"n": nid})
    application.integrity.purge_sources.append(
        lambda: [Purge("r", "2032-01-01", originator_id=oid, state_sha256=hashlib.sha256(state).digest())])
    report = application.integrity.verify()
    assert report.intact and [(n, checked) for n, _, checked in report.purged] == [(nid, True)]
    assert helper_on_every_log["bulk"] == [True] and helper_on_every_log["helpers"][0] is not None
    assert report.to_dict() == row_by_row_report(application, monkeypatch)
