"""A rebuild's gathered writes (projections/gathered_writes.py), on SQLite and PostgreSQL: random sequences of the
handlers' kinds of statement leave the same rows, and read the same values on the way, as the same statements sent
one by one; far fewer statements reach the database; and an event that fails in a rebuild stops its read model at
that event, as in a catch-up."""

import random
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import (Column, DateTime, Integer, MetaData, String, Table, bindparam, delete, event, insert, select,
                        text, update)

from infrastructure.database import make_engine
from projections.gathered_writes import DeferredResult, GatheredWrites
from projections import retention_schedule
from projections.runner import NAMES
from projections.schema import read_model_positions, read_models
from tests.support.acting import acting

scratch = MetaData()
files = Table("gw_files", scratch,
              Column("id", String(8), primary_key=True),
              Column("team", String(8), nullable=False, index=True),
              Column("n", Integer, nullable=False),
              Column("note", String(16)),
              Column("at", DateTime(timezone=True)))
periods = Table("gw_periods", scratch,
                Column("team", String(8), primary_key=True),
                Column("version", Integer, primary_key=True),
                Column("ended", DateTime(timezone=True)))

# Built once, as the handlers' are: a statement's executions are gathered together.
INSERT_FILE = insert(files)
NOTE = update(files).where(files.c.id == bindparam("_id")).values(note=bindparam("note"), at=bindparam("at"))
SET_NAMED = update(files).where(files.c.id == bindparam("_id"))  # sets whatever columns its parameters name
BUMP_TEAM = update(files).where(files.c.team == bindparam("_team")).values(n=files.c.n + 1)
MOVE = update(files).where(files.c.id == bindparam("_id")).values(team=bindparam("team"))  # changes a key
RENAME_TEAM = update(files).where(files.c.team == bindparam("_team")).values(team=bindparam("team"))  # its own key
DROP_TEAM = delete(files).where(files.c.team == bindparam("_team"))
DOUBLE_ALL = update(files).values(n=files.c.n * 2)  # no key: touches every row
INSERT_PERIOD = insert(periods)
END_PERIODS = (update(periods).where(periods.c.team == bindparam("_team"), periods.c.ended.is_(None))
               .values(ended=bindparam("ended")))
END_BY_FILES = (update(periods).where(periods.c.team.in_(select(files.c.team).where(files.c.n > 3)),
                                      periods.c.ended.is_(None)).values(ended=bindparam("ended")))
TEAMS = ("red", "blue", "green")
START = datetime(2026, 1, 1, tzinfo=timezone.utc)


def operations(rng: random.Random, count: int) -> list[tuple]:
    """(kind, statement or None, parameters): what handlers do, on few keys, so that many writes touch one row."""
    ops: list[tuple] = []
    ids: list[str] = []
    versions = {t: 0 for t in TEAMS}
    for step in range(count):
        at = START + timedelta(minutes=step)
        kind = rng.choices(["insert", "note", "named", "bump", "move", "rename", "drop", "double", "period", "end",
                            "end_by", "literal", "select", "text"],
                           weights=[14, 10, 6, 6, 3, 2, 1, 1, 6, 6, 1, 3, 3, 1])[0]
        some = rng.choice(ids) if ids and rng.random() < 0.9 else f"x{step}"  # now and then a row that is not there
        team = rng.choice(TEAMS)
        if kind == "insert":
            ids.append(f"f{step}")
            ops.append(("write", INSERT_FILE, {"id": f"f{step}", "team": team, "n": step % 5, "note": None,
                                               "at": None}))
        elif kind == "note":
            ops.append(("write", NOTE, {"_id": some, "note": f"n{step}", "at": at}))
        elif kind == "named":
            ops.append(("write", SET_NAMED, {"_id": some, **rng.choice([{"n": step}, {"note": f"s{step}"},
                                                                        {"n": step, "at": at}])}))
        elif kind == "bump":
            ops.append(("write", BUMP_TEAM, {"_team": team}))
        elif kind == "move":
            ops.append(("write", MOVE, {"_id": some, "team": team}))
        elif kind == "rename":
            ops.append(("write", RENAME_TEAM, {"_team": team, "team": rng.choice(TEAMS)}))
        elif kind == "drop":
            ops.append(("write", DROP_TEAM, {"_team": team}))
        elif kind == "double":
            ops.append(("write", DOUBLE_ALL, None))
        elif kind == "period":
            versions[team] += 1
            ops.append(("write", INSERT_PERIOD, {"team": team, "version": versions[team], "ended": None}))
        elif kind == "end":
            ops.append(("write", END_PERIODS, {"_team": team, "ended": at}))
        elif kind == "end_by":
            ops.append(("write", END_BY_FILES, {"ended": at}))
        elif kind == "literal":  # built afresh for each event, as some handlers do
            ops.append(("write", update(files).where(files.c.id == some).values(n=files.c.n - 1, note="lit"), None))
        elif kind == "select":
            ops.append(("read", select(files.c.id, files.c.n, files.c.note).where(files.c.team == team)
                        .order_by(files.c.id), None))
        else:
            ops.append(("read", text("SELECT COUNT(*) FROM gw_periods WHERE ended IS NULL"), None))
    return ops


def run(conn, ops: list[tuple]) -> list:
    reads = []
    for kind, statement, parameters in ops:
        result = conn.execute(statement, parameters)
        if kind == "read":
            reads.append([tuple(r) for r in result.all()])
    return reads


def rows(conn) -> dict[str, list[tuple]]:
    return {t.name: sorted(map(tuple, conn.execute(select(t)).all())) for t in (files, periods)}


@pytest.fixture
def engine(settings):
    engine = make_engine(settings)
    if not settings.is_sqlite:
        with engine.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{settings.database_schema}"'))
    scratch.create_all(engine)
    try:
        yield engine
    finally:
        engine.dispose()


def test_gathered_writes_leave_the_rows_and_read_the_values_of_the_same_writes_sent_one_by_one(engine):
    sent: list[int] = []
    event.listen(engine, "before_cursor_execute", lambda *args: sent.append(1))
    for seed in range(12):
        ops = operations(random.Random(seed), 400)
        with engine.connect() as conn:
            with conn.begin() as one_by_one:
                sent.clear()
                expected_reads = run(conn, ops)
                expected = rows(conn)
                singly = len(sent)
                one_by_one.rollback()
            with conn.begin() as gathering:
                sent.clear()
                writes = GatheredWrites(conn)
                reads = run(writes, ops)
                writes.flush()
                gathered = len(sent)
                assert rows(conn) == expected, f"seed {seed}"
                gathering.rollback()
        assert reads == expected_reads, f"seed {seed}"
        assert expected["gw_files"] and expected["gw_periods"]  # the sequences do leave rows to compare
        assert gathered < singly, (seed, gathered, singly)  # these mix in many reads, each sending what it reads


def test_a_handlers_writes_one_entity_after_another_reach_the_database_as_a_few_statements(engine):
    """What a rebuild replays: each worker joins, is allocated, noted, moved on: the writes alternate between
    statements, row after row, yet each statement is sent once for all its rows."""
    ops = []
    for n in range(300):
        team, at = TEAMS[n % 3], START + timedelta(minutes=n)
        ops += [("write", INSERT_FILE, {"id": f"f{n}", "team": team, "n": 0, "note": None, "at": None}),
                ("write", NOTE, {"_id": f"f{n}", "note": "joined", "at": at}),
                ("write", SET_NAMED, {"_id": f"f{n}", "n": n}),
                ("write", NOTE, {"_id": f"f{n}", "note": "allocated", "at": at})]
    sent: list[int] = []
    event.listen(engine, "before_cursor_execute", lambda *args: sent.append(1))
    with engine.connect() as conn, conn.begin() as transaction:
        run(conn, ops)
        expected = rows(conn)
        transaction.rollback()
    with engine.begin() as conn:
        sent.clear()
        writes = GatheredWrites(conn)
        run(writes, ops)
        writes.flush()
        assert len(sent) <= 4 and rows(conn) == expected


def test_a_row_moved_to_another_key_before_it_is_inserted_is_told_apart_by_its_new_key(engine):
    """The move is made part of the gathered INSERT's row: the row is then in team blue, and blue's bump is not
    moved back before it."""
    ops = [("write", BUMP_TEAM, {"_team": "blue"}),
           ("write", INSERT_FILE, {"id": "f1", "team": "red", "n": 5, "note": None, "at": None}),
           ("write", MOVE, {"_id": "f1", "team": "blue"}),
           ("write", BUMP_TEAM, {"_team": "blue"}),
           ("write", NOTE, {"_id": "f1", "note": "moved", "at": START})]
    with engine.begin() as conn:
        writes = GatheredWrites(conn)
        run(writes, ops)
        writes.flush()
        assert conn.execute(select(files.c.team, files.c.n, files.c.note)).all() == [("blue", 6, "moved")]


def test_a_gathered_writes_result_is_not_made_up(engine):
    with engine.begin() as conn:
        writes = GatheredWrites(conn)
        result = writes.execute(INSERT_FILE, {"id": "a", "team": "red", "n": 1, "note": None, "at": None})
        with pytest.raises(DeferredResult):
            result.rowcount  # noqa: B018 - reading it is what raises
        # A read of the table sends what was gathered for it first.
        assert conn.execute(select(files.c.id)).scalars().all() == []
        assert writes.execute(select(files.c.id)).scalars().all() == ["a"]


def snapshot(app, leaving_out: tuple[Table, ...] = ()) -> dict[str, list[tuple]]:
    with app.storage.engine.connect() as conn:
        return {t.name: sorted(map(tuple, conn.execute(select(t)).all()), key=repr)
                for t in read_models.sorted_tables if t is not read_model_positions and t not in leaving_out}


def test_an_event_failing_in_a_rebuild_stops_that_read_model_at_it_and_the_others_rebuild_to_the_end(application):
    app = application
    manager = app.people.join_worker(acting("hr"), name="Morgan Manager", role="Service manager", category="manager",
                                     start_date=date(2015, 1, 5)).id
    workers = []
    for n in range(3):
        worker = app.people.join_worker(acting("hr"), name=f"Sam {n}", role="Social worker", category="experienced",
                                        start_date=date(2020, 1, 6)).id
        app.allocation.allocate_supervisor(acting("hr"), worker, manager)
        workers.append(worker)
    before_hold = app.recorder.max_notification_id()
    app.retention.place_hold(acting("io"), workers[1], kind="investigation", reason="Grievance", reference="G-1")
    hold_at = before_hold + 1
    app.people.record_leaving(acting("hr"), workers[2], date(2026, 2, 27))
    last = app.recorder.max_notification_id()
    before = snapshot(app)
    with app.storage.engine.begin() as conn:
        conn.execute(text("ALTER TABLE legal_holds RENAME COLUMN placed_by TO placed_by_gone"))

    assert app.read_models.rebuild() == last
    [stuck] = app.read_models.stuck()
    assert (stuck.name, stuck.stuck_at, stuck.position) == ("retention_schedule", hold_at, hold_at - 1)
    assert stuck.stuck_event == "LegalHold.LegalHoldPlaced" and "placed_by" in stuck.stuck_error
    assert {s.name: s.position for s in app.read_models.states()} == {
        **{n: last for n in NAMES}, "retention_schedule": hold_at - 1}
    stuck_tables = retention_schedule.TABLES
    assert snapshot(app, stuck_tables) == {k: v for k, v in before.items() if k not in {t.name for t in stuck_tables}}
    # Up to the failing event, and no further: every worker has a file, none a hold, none has left yet (read past
    # the refusal of a stuck read model's tables).
    with app.storage.engine.connect() as conn:
        states = conn.exec_driver_sql("SELECT state FROM retention_files").scalars().all()
        assert states == ["active"] * 4
        assert conn.exec_driver_sql("SELECT COUNT(*) FROM legal_holds").scalar_one() == 0

    with app.storage.engine.begin() as conn:
        conn.execute(text("ALTER TABLE legal_holds RENAME COLUMN placed_by_gone TO placed_by"))
    assert app.read_models.rebuild(["retention_schedule"]) == last
    assert app.read_models.stuck() == [] and snapshot(app) == before
