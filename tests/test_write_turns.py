"""Writers to one SQLite file take turns in arrival order (infrastructure/write_turns.py): SQLAlchemy write
transactions and event store appends alike, on real threads and a real file. Concurrent writers all succeed, and
one that waits longer than SVL_DB_WRITE_WAIT gets the database-unavailable error (a 503), at once after the wait.
Threads are ordered by waiting for each to be queued, never by sleeping. PostgreSQL takes no turns."""

import dataclasses
import sqlite3
import threading
import time
from datetime import date
from typing import Any

import pytest
from sqlalchemy import exc, text

from infrastructure.database import database_unavailable, make_engine
from infrastructure.settings import Settings
from infrastructure.write_turns import WriteTurns, WriteTurnTimedOut, turns_for
from tests.support.acting import acting
from tests.support.world import build_world, content
from tests.support.write_turns import Holder, queued

pytestmark = pytest.mark.timeout(120)


def probe_engine(settings: Settings):  # type: ignore[no-untyped-def]
    engine = make_engine(settings)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE IF NOT EXISTS turn_probe (n INTEGER)"))
    return engine


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_sqlalchemy_writers_take_turns_in_the_order_they_arrived(settings: Settings) -> None:
    engine = probe_engine(settings)
    turns = turns_for(settings.sqlite_path)
    holder = Holder(engine)
    order: list[int] = []

    def write(n: int) -> None:
        with engine.begin() as conn:
            order.append(n)
            conn.execute(text("INSERT INTO turn_probe VALUES (:n)"), {"n": n})

    writers = []
    for n in range(6):
        writers.append(threading.Thread(target=write, args=(n,)))
        writers[-1].start()
        queued(turns, n + 1)  # the next arrives only once this one is queued
    holder.release()
    for w in writers:
        w.join(30)
    assert order == list(range(6))
    with engine.connect() as conn:
        assert [r[0] for r in conn.execute(text("SELECT n FROM turn_probe ORDER BY rowid"))] == list(range(6))
    assert turns.waiting == 0
    engine.dispose()


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_event_store_appends_queue_in_the_same_turns(settings: Settings, master_key: bytes, clock: Any) -> None:
    world = build_world(settings, master_key, clock)
    app, engine = world.app, world.app.storage.engine
    turns = turns_for(settings.sqlite_path)
    try:
        holder = Holder(engine)
        joined: list[str] = []
        joining = threading.Thread(target=lambda: joined.append(str(app.people.join_worker(
            acting("hr"), name="Quentin Queued", role="Social work", category="experienced",
            start_date=date(2024, 1, 1)).id)))
        joining.start()
        queued(turns, 1)  # the append waits behind the open SQLAlchemy transaction...
        assert not joined
        seen: list[int] = []

        def after() -> None:  # ...and a writer arriving later finds it stored
            with engine.begin() as conn:
                seen.append(conn.execute(text("SELECT COUNT(*) FROM stored_events")).scalar_one())
        later = threading.Thread(target=after)
        before = app.recorder.max_notification_id() or 0
        later.start()
        queued(turns, 2)
        holder.release()
        joining.join(30)
        later.join(30)
        assert joined and seen
        assert seen[0] >= before + 1
        assert (app.recorder.max_notification_id() or 0) > before
    finally:
        app.close()
        engine.dispose()


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_eight_concurrent_writers_all_succeed(settings: Settings, master_key: bytes, clock: Any) -> None:
    world = build_world(settings, master_key, clock)
    app = world.app
    try:
        supervisor, supervisee = world.workers["S1"], world.workers["W"]
        start = threading.Barrier(8)
        failures: list[BaseException] = []
        drafted: list[str] = []

        def team(n: int) -> None:
            start.wait(30)
            try:
                for i in range(4):
                    if n % 2:  # half of them through the event store (a record drafted and shared) ...
                        rid = app.records.draft_record(acting(supervisor), supervisee_id=supervisee,
                                                       content=content(f"Team {n} session {i}")).id
                        app.records.share_record(acting(supervisor), rid)
                        drafted.append(str(rid))
                    else:  # ... half through our own tables (an account and its tokens)
                        app.people.users.add_user(f"user-{n}-{i}", "supervisee", created_by="test")
                        app.people.users.issue_token(f"user-{n}-{i}", days=1)
            except BaseException as error:  # noqa: BLE001 - reported below
                failures.append(error)
        threads = [threading.Thread(target=team, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(90)
        assert failures == []
        assert len(drafted) == 16
        assert len([u for u in app.people.users.list_users() if u["username"].startswith("user-")]) == 16
    finally:
        app.close()
        app.storage.engine.dispose()


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_a_writer_waiting_longer_than_the_wait_is_refused_as_unavailable(settings: Settings) -> None:
    engine = probe_engine(dataclasses.replace(settings, database_write_wait=0.3))
    holder = Holder(engine)
    try:
        started = time.monotonic()
        with pytest.raises(WriteTurnTimedOut) as refused:
            with engine.begin() as conn:
                conn.execute(text("INSERT INTO turn_probe VALUES (1)"))
        waited = time.monotonic() - started
        assert 0.3 <= waited < 5, waited
        assert database_unavailable(refused.value)
        assert turns_for(settings.sqlite_path).waiting == 0  # it left the queue
    finally:
        holder.release()
    with engine.begin() as conn:  # the next writer gets its turn as usual
        conn.execute(text("INSERT INTO turn_probe VALUES (2)"))
    engine.dispose()


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_a_writer_another_process_keeps_out_past_the_busy_timeout_gets_sqlalchemys_error(settings: Settings) -> None:
    """BEGIN IMMEDIATE is sent on the driver's connection: SQLite's "database is locked" still arrives as
    SQLAlchemy's OperationalError (a 503), and the turn passes on."""
    quick = dataclasses.replace(settings, database_write_wait=0.3, database_lock_timeout=0.3)
    engine = probe_engine(quick)
    other_process = sqlite3.connect(quick.sqlite_path, isolation_level=None)
    other_process.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(exc.OperationalError, match="database is locked") as refused:
            with engine.begin() as conn:
                conn.execute(text("INSERT INTO turn_probe VALUES (1)"))
        assert database_unavailable(refused.value)
        assert turns_for(settings.sqlite_path).waiting == 0
    finally:
        other_process.rollback()
        other_process.close()
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO turn_probe VALUES (2)"))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT n FROM turn_probe")).scalars().all() == [2]
    engine.dispose()


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_an_http_write_that_waits_too_long_answers_503(settings: Settings, master_key: bytes, clock: Any) -> None:
    world = build_world(dataclasses.replace(settings, database_write_wait=0.3), master_key, clock)
    try:
        holder = Holder(world.app.storage.engine)
        try:
            started = time.monotonic()
            response = world.post("hana", "/workers", {"name": "Wanda Waiting", "role": "Social work",
                                                       "category": "experienced", "start_date": "2024-01-01"})
            waited = time.monotonic() - started
        finally:
            holder.release()
        assert response.status_code == 503, response.text
        assert response.headers.get("retry-after", "").isdigit()
        assert waited < 5, waited
        assert world.get("sam", f"/records/{world.records['W']}").status_code == 200
    finally:
        world.app.close()
        world.app.storage.engine.dispose()


def test_a_writer_that_gave_up_leaves_the_queue_and_the_turn_passes_on() -> None:
    turns = WriteTurns()
    turns.take(1)
    outcome: list[BaseException] = []

    def impatient() -> None:
        try:
            turns.take(0.01)
        except WriteTurnTimedOut as error:
            outcome.append(error)
    waiter = threading.Thread(target=impatient)
    waiter.start()
    waiter.join(30)
    assert len(outcome) == 1 and turns.waiting == 0
    turns.give_back()
    taken = threading.Event()
    threading.Thread(target=lambda: (turns.take(1), taken.set(), turns.give_back())).start()
    assert taken.wait(30)  # nobody holds it: the next one gets it at once


@pytest.mark.parametrize("settings", ["postgresql"], indirect=True)
def test_postgresql_takes_no_turns(settings: Settings, master_key: bytes, clock: Any) -> None:
    world = build_world(settings, master_key, clock)
    try:
        holder_done = threading.Event()
        with world.app.storage.engine.begin():
            # another thread writes while this transaction is open: PostgreSQL's own locks decide, no queue
            threading.Thread(target=lambda: (world.app.people.users.add_user("pat", "supervisee", created_by="test"),
                                             holder_done.set())).start()
            assert holder_done.wait(30)
    finally:
        world.app.close()
        world.app.storage.engine.dispose()
