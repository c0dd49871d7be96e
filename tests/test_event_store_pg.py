"""The PostgreSQL event store's write path (infrastructure/event_store.py): a few round trips per
transaction, with every guarantee of the plain one kept. Events, key rows and ledger leaves commit or
roll back together; leaves follow notification order; the table lock is held until the COMMIT, and
nothing is acknowledged before it; a failed write leaves the connection clean for the next one."""

from __future__ import annotations

import base64
import copy
import threading
from datetime import date, datetime, timezone
from typing import Any

import psycopg
import pytest
from sqlalchemy import func, select, text

from api.application import Storage, SupervisionApplication
from api.errors import Conflict
from domain.access_log import AccessAttempt, AccessLogEntry
from domain.authorisation import Basis, Decision, Reader, Role
from infrastructure.keys import ORGANISATION_KEY_ID, key_assignments
from infrastructure.ledger_tables import ledger_leaves
from infrastructure.svl_verify import event_leaf_hash
from tests.conftest import POSTGRES_URL
from tests.support.storage import event_rows
from tests.support.acting import acting

pytestmark = pytest.mark.parametrize("settings", ["postgresql"], indirect=True)


def entries(count: int) -> list[AccessLogEntry]:
    """`count` access-log entries, not yet saved (each its own aggregate, as a group commit gets them)."""
    reader = Reader("u-1", Role.MANAGER, "w-0")
    attempt = AccessAttempt("read_record", "w-1", None, 1, "active", "http", "127.0.0.1")
    decision = Decision.allow(list(Basis)[0], "test")
    return [AccessLogEntry.record(reader, "morgan", attempt, decision, datetime.now(timezone.utc))
            for _ in range(count)]


def counts(app: SupervisionApplication) -> tuple[int, int, int]:
    """(events, key assignments, ledger leaves)."""
    with app.storage.engine.connect() as conn:
        events = conn.execute(text(f"SELECT count(*) FROM {app.recorder.events_table_name}")).scalar_one()
        return (events, conn.execute(select(func.count()).select_from(key_assignments)).scalar_one(),
                conn.execute(select(func.count()).select_from(ledger_leaves)).scalar_one())


def assert_ledger_intact(app: SupervisionApplication) -> None:
    report = app.integrity.verify()
    assert report.intact, [f.describe() for f in report.findings]
    with app.storage.engine.connect() as conn:
        leaves = conn.execute(select(ledger_leaves).order_by(ledger_leaves.c.leaf_index)).all()
    rows = event_rows(app)
    assert [r.leaf_index for r in leaves] == list(range(len(rows)))
    assert [r.notification_id for r in leaves] == [r[0] for r in rows]
    assert [bytes(r.leaf_hash) for r in leaves] == [event_leaf_hash(*row) for row in rows]


def test_batches_of_every_size_commit_events_key_rows_and_leaves_together(application) -> None:
    application.people.join_worker(acting("hr"), name="New", role="r", category="experienced", start_date=date(2024, 1, 1))
    for size in (1, 2, 5, 1, 64, 3):  # a group commit of access-log entries, as api/access_service.py makes them
        before = counts(application)
        application.access._write_log_entries(entries(size))
        assert counts(application) == (before[0] + size, before[1] + size, before[2] + size)
    assert_ledger_intact(application)


def test_a_conflict_rolls_back_the_key_rows_and_leaves_and_the_next_write_goes_on(application) -> None:
    first, second = entries(2)
    lost_update = copy.deepcopy(first)  # still holds first's version 1 as a pending event
    application.access._write_log_entries([first])
    before = counts(application)
    keys = application.storage.keyring.stage_assignment(second.id, ORGANISATION_KEY_ID)
    with pytest.raises(Conflict):  # (first.id, version 1) is taken: the event insert fails
        application.save_and_project(second, lost_update, keys=keys)
    assert counts(application) == before  # second's event, its key row and any leaf went with it
    application.access._write_log_entries(entries(3))
    assert counts(application) == (before[0] + 3, before[1] + 3, before[2] + 3)
    assert_ledger_intact(application)


def test_a_failure_after_the_event_insert_leaves_nothing_behind(application, monkeypatch) -> None:
    application.people.join_worker(acting("hr"), name="W", role="r", category="experienced", start_date=date(2024, 1, 1))
    before = counts(application)

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the ledger append failed")

    monkeypatch.setattr(application.recorder._ledger, "rows_after", broken)
    monkeypatch.setattr(application.recorder._ledger, "predicted_rows", lambda events: None)  # two round trips
    with pytest.raises(RuntimeError, match="ledger append failed"):
        application.access._write_log_entries(entries(2))
    monkeypatch.undo()
    assert counts(application) == before  # the events and key rows went with the leaves that were never written
    application.access._write_log_entries(entries(2))
    assert counts(application) == (before[0] + 2, before[1] + 2, before[2] + 2)
    assert_ledger_intact(application)


def test_the_table_lock_is_held_until_the_commit_and_nothing_is_acknowledged_before_it(application, monkeypatch) -> None:
    application.people.join_worker(acting("hr"), name="W", role="r", category="experienced", start_date=date(2024, 1, 1))
    before = counts(application)
    appender = application.recorder._ledger
    rows_after = appender.rows_after
    inside, release = threading.Event(), threading.Event()

    def paused(*args: Any, **kwargs: Any) -> Any:
        inside.set()
        assert release.wait(30)
        return rows_after(*args, **kwargs)

    monkeypatch.setattr(appender, "rows_after", paused)
    monkeypatch.setattr(appender, "predicted_rows", lambda events: None)  # two round trips, with a pause between
    done: list[Any] = []
    writer = threading.Thread(target=lambda: done.append(application.access._write_log_entries(entries(1))))
    writer.start()
    try:
        assert inside.wait(30)
        table = f'"{application.storage.settings.database_schema}"."{application.recorder.events_table_name}"'
        with psycopg.connect(POSTGRES_URL) as other:
            held = other.execute("SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                                 "WHERE c.oid = %s::regclass AND l.mode = 'ExclusiveLock' AND l.granted",
                                 (table,)).fetchone()
            assert held == (1,)
            with pytest.raises(psycopg.errors.LockNotAvailable):  # a second writer would wait for the COMMIT
                other.execute(f"LOCK TABLE {table} IN EXCLUSIVE MODE NOWAIT")
        assert counts(application) == before  # not visible, and not acknowledged
        assert not done
    finally:
        release.set()
        writer.join(30)
    assert done == [None]
    assert counts(application) == (before[0] + 1, before[1] + 1, before[2] + 1)
    assert_ledger_intact(application)


def test_another_writer_in_between_makes_the_next_write_reload_the_frontier(application, settings, master_key, clock,
                                                                            monkeypatch) -> None:
    import infrastructure.ledger_append as ledger_append

    reloads: list[int] = []
    load = ledger_append.frontier_from_rows
    monkeypatch.setattr(ledger_append, "frontier_from_rows", lambda rows: reloads.append(1) or load(rows))
    other = SupervisionApplication(Storage.open(settings, master_key=master_key), clock)
    try:
        application.access._write_log_entries(entries(1))
        application.access._write_log_entries(entries(1))
        reloads.clear()
        application.access._write_log_entries(entries(2))
        assert reloads == []  # the cached edge still ends at the last leaf: no frontier query
        for n in range(4):
            for app in (other, application):
                app.access._write_log_entries(entries(n + 1))
        assert len(reloads) == 8  # each write found the other's leaves after its own edge
        application.people.join_worker(acting("hr"), name="W", role="r", category="experienced", start_date=date(2024, 1, 1))
    finally:
        other.close()
        other.storage.engine.dispose()
    assert_ledger_intact(application)


def spied(monkeypatch) -> list[str]:  # noqa: ANN001
    """What is sent through psycopg's cursors from now on."""
    sent: list[str] = []
    execute = psycopg.Cursor.execute

    def spy(self: psycopg.Cursor, query: Any, *args: Any, **kwargs: Any) -> Any:
        sent.append(query.decode() if isinstance(query, bytes) else str(query))
        return execute(self, query, *args, **kwargs)

    monkeypatch.setattr(psycopg.Cursor, "execute", spy)
    return sent


def test_access_log_entries_take_one_round_trip_and_synchronous_commit_is_left_alone(application, monkeypatch) -> None:
    application.access._write_log_entries(entries(1))  # the appender now holds the committed edge
    before = counts(application)
    sent = spied(monkeypatch)
    application.access._write_log_entries(entries(2))
    monkeypatch.undo()
    ours = sent[next(i for i, s in enumerate(sent) if s.startswith("BEGIN")):]
    assert len(ours) == 1, ours  # BEGIN, the lock, key rows, events, leaves and COMMIT in one simple query
    begin, _, rest = ours[0].partition("; WITH ")
    assert "SET LOCAL lock_timeout" in begin and "IN EXCLUSIVE MODE" in begin
    assert rest.startswith("svl_assignments AS (INSERT INTO") and "RETURNING notification_id" in rest
    assert f'INSERT INTO "{application.storage.settings.database_schema}".ledger_leaves' in rest
    assert rest.endswith("; COMMIT")
    assert not any("synchronous_commit" in s.lower() for s in sent)
    with psycopg.connect(POSTGRES_URL) as conn:
        assert conn.execute("SHOW synchronous_commit").fetchone() != ("off",)
    assert counts(application) == (before[0] + 2, before[1] + 2, before[2] + 2)
    assert_ledger_intact(application)


def test_notification_ids_used_up_meanwhile_fail_the_one_round_trip_and_the_entries_go_in_two(application,
                                                                                              monkeypatch) -> None:
    """The leaves sent with the events were computed for the ids after the last leaf's: ids used up by a
    rolled-back writer (here taken from the sequence by another connection) leave them without their hash, the
    database refuses the statement, nothing of it is committed, and the entries are written in two round trips."""
    application.access._write_log_entries(entries(1))
    before = counts(application)
    table = f'"{application.storage.settings.database_schema}"."{application.recorder.events_table_name}"'
    with psycopg.connect(POSTGRES_URL, autocommit=True) as other:
        other.execute("SELECT nextval(pg_get_serial_sequence(%s, 'notification_id'))", (table,))
    sent = spied(monkeypatch)
    application.access._write_log_entries(entries(3))
    monkeypatch.undo()
    ours = sent[next(i for i, s in enumerate(sent) if s.startswith("BEGIN")):]
    assert len(ours) == 4 and ours[0].endswith("; COMMIT") and ours[1] == "ROLLBACK", ours
    assert ours[2].startswith("BEGIN") and ours[3].endswith("; COMMIT")
    assert counts(application) == (before[0] + 3, before[1] + 3, before[2] + 3)
    assert_ledger_intact(application)
    sent = spied(monkeypatch)  # the edge now ends at the ids the sequence gave: one round trip again
    application.access._write_log_entries(entries(1))
    monkeypatch.undo()
    assert len([s for s in sent if s.startswith("BEGIN")]) == 1
    assert_ledger_intact(application)


CONTENT = {"session_date": "2026-01-05", "attendees": ["S", "W"], "agenda": ["Caseload"],
           "discussion": "Caseload reviewed.", "actions": [], "case_discussions": []}


def allocated_pair(application) -> tuple[str, str]:  # noqa: ANN001
    """(supervisor, supervisee): two workers joined, the second allocated to the first."""
    hr = acting("hr")
    supervisor = str(application.people.join_worker(hr, name="Sam Lead", role="Team manager", category="manager",
                                                    start_date=date(2020, 1, 1)).id)
    worker = str(application.people.join_worker(hr, name="Kim Case", role="Social worker", category="experienced",
                                                start_date=date(2021, 1, 1)).id)
    application.allocation.allocate_supervisor(hr, worker, supervisor)
    return supervisor, worker


def test_a_command_on_an_unchanged_file_reads_its_version_under_the_lock_in_the_same_two_round_trips(
        application, monkeypatch) -> None:
    hr = acting("hr")
    supervisor, worker = allocated_pair(application)
    content = CONTENT
    sent: list[str] = []
    execute = psycopg.Cursor.execute

    def spy(self: psycopg.Cursor, query: Any, *args: Any, **kwargs: Any) -> Any:
        sent.append(query.decode() if isinstance(query, bytes) else str(query))
        return execute(self, query, *args, **kwargs)

    monkeypatch.setattr(psycopg.Cursor, "execute", spy)
    rid = application.records.draft_record(acting(supervisor), supervisee_id=worker,
                                      content=content).id  # decides on the file
    monkeypatch.undo()
    begin_at = next(i for i, s in enumerate(sent) if s.startswith("BEGIN"))
    begin_and_insert, leaves = sent[begin_at:begin_at + 2]
    begin, _, insert = begin_and_insert.partition("; WITH ")
    assert "IN EXCLUSIVE MODE" in begin and f"WHERE originator_id = '{worker}'" in begin
    assert begin.index("IN EXCLUSIVE MODE") < begin.index("(SELECT MAX(originator_version)")
    assert begin.index("IN EXCLUSIVE MODE") < begin.index("wrapped_key IS NULL")  # no destroyed key seals them
    assert "RETURNING notification_id" in insert and "ledger_leaves" in leaves and leaves.endswith("; COMMIT")
    assert application.records.get_record(rid).state == "draft"
    application.allocation.transfer_worker(hr, worker, str(application.people.join_worker(hr, name="Jo New", role="Team manager",
                                                             category="manager", start_date=date(2019, 1, 1)).id),
                                      "restructure")
    stale = application.people.get_worker(worker)
    stale.version -= 1  # as a command that read the file before the transfer would hold it
    record = application.records.get_record(rid)
    record.share(actor=supervisor, timestamp=application.clock())
    with pytest.raises(Conflict):
        application.save_and_project(record, unchanged=(stale,))
    assert application.records.get_record(rid).state == "draft"  # nothing was stored
    assert_ledger_intact(application)


def signable(application) -> tuple[str, str, str]:  # noqa: ANN001
    """(supervisor, supervisee, record): a shared record, both files and the record cached."""
    supervisor, worker = allocated_pair(application)
    rid = str(application.records.draft_record(acting(supervisor), supervisee_id=worker, content=CONTENT).id)
    application.records.share_record(acting(supervisor), rid)
    return supervisor, worker, rid


def test_a_sign_reads_the_key_epoch_and_both_its_aggregates_in_one_query_before_the_write(application,
                                                                                         monkeypatch) -> None:
    supervisor, worker, rid = signable(application)
    digest = application.records.get_record(rid).content_sha256
    sent: list[str] = []
    execute = psycopg.Cursor.execute

    def spy(self: psycopg.Cursor, query: Any, *args: Any, **kwargs: Any) -> Any:
        sent.append(query.decode() if isinstance(query, bytes) else str(query))
        return execute(self, query, *args, **kwargs)

    monkeypatch.setattr(psycopg.Cursor, "execute", spy)
    application.records.sign_record(acting(worker), rid, digest)
    monkeypatch.undo()
    before_the_write = sent[:next(i for i, s in enumerate(sent) if s.startswith("BEGIN"))]
    assert len(before_the_write) == 1, before_the_write  # no ping, no epoch of its own, no second fast-forward
    [ahead] = before_the_write
    assert "key_epochs" in ahead and ahead.count("originator_version > %s") == 2
    signed = application.records.get_record(rid)
    assert signed.version == 3 and [s["role"] for s in signed.signatures] == ["supervisee"]
    # What a load does not find read ahead (here: a version asked for) is queried as before.
    assert application.records.get_record(rid, version=2).version == 2


def test_a_catch_up_that_finds_its_connections_dead_projects_on_a_fresh_one(application) -> None:
    """The read models' engine pings no connection at checkout: after the server dropped every connection of
    this process's engines (as at a restart), the next command still answers, and is projected."""
    from infrastructure.key_holders import application_name
    from projections.schema import current_records

    supervisor, worker, rid = signable(application)
    digest = application.records.get_record(rid).content_sha256
    projecting = application.read_models.projecting
    with projecting.connect(), projecting.connect():
        pass  # two pooled: the one the command's catch-up tries first, and the one it falls back on
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        dropped = conn.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                               "WHERE application_name = %s",
                               (application_name(application.storage.settings.database_schema),)).fetchone()[0]
    assert dropped >= 2  # the read models' own connection among them
    application.records.sign_record(acting(worker), rid, digest)
    with application.storage.engine.connect() as conn:
        row = conn.execute(select(current_records).where(current_records.c.record_id == rid)).one()
    assert row.supervisee_signed_at is not None and row.aggregate_version == 3
    assert application.read_models.position() == application.recorder.max_notification_id()


def test_an_inclusion_proof_is_one_statement_and_a_dead_pooled_connection_is_replaced(application, monkeypatch) -> None:
    """A proof against the latest checkpoint: the leaf, the checkpoint and the nodes in one statement on the event
    store's pool, no ping before it. After the server dropped the pool's connections (as at a restart), the next
    proof is read once more on a fresh connection, and answers."""
    from infrastructure.checkpoints import create_signing_key_file
    from infrastructure.svl_verify import verify_checkpoint, verify_inclusion

    settings = application.storage.settings
    create_signing_key_file(settings.signing_key_file, settings.organisation_origin)
    application.people.join_worker(acting("hr"), name="New", role="r", category="experienced",
                                   start_date=date(2024, 1, 1))
    application.integrity.checkpoint(publish_to=None)
    nid = event_rows(application)[-1][0]
    sent: list[str] = []
    execute = psycopg.Cursor.execute

    def spy(self: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
        sent.append(query if isinstance(query, str) else repr(query))
        return execute(self, query, *args, **kwargs)

    monkeypatch.setattr(psycopg.Cursor, "execute", spy)
    proof = application.integrity.inclusion(nid)
    monkeypatch.undo()
    assert len(sent) == 1 and "ledger_checkpoints" in sent[0], sent

    pool = application.recorder.datastore.pool
    held = [pool.getconn() for _ in range(max(1, pool.get_stats().get("pool_available", 0)))]
    pids = [conn.info.backend_pid for conn in held]
    for conn in held:
        pool.putconn(conn)
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute("SELECT pg_terminate_backend(pid) FROM unnest(%s::int[]) AS pid", (pids,))
    assert application.integrity.inclusion(nid) == proof
    cp = verify_checkpoint(proof["checkpoint"], application.integrity.verifier_key())
    assert verify_inclusion(base64.b64decode(proof["leaf_hash"]), proof["leaf_index"], cp.tree_size,
                            [base64.b64decode(p) for p in proof["proof"]], cp.root_hash)
