"""The SupervisionCompliance read model: rebuild time for 10,000 workers with two years of sessions, the cost of
one more event, and the dashboard and monthly report queries at that size.

Two paths, measured in the same run, both against a plain baseline:

  through the app   --app-workers workers (default 40) with --months of monthly sessions, each session booked and
                    held by the application's commands (sealed, ledgered, projected). Then every read model is
                    rebuilt from the notification log (decryption included): the honest end-to-end rate.
  synthetic         --workers workers (default 10,000) with --months of sessions, each with its record drafted,
                    shared and signed by both: the same domain events, made by the real aggregates in memory
                    (Worker, SupervisionSession, SupervisionRecord), fed to the handlers of the read models the
                    dashboard reads (worker files, current records, supervision compliance) in batches of 500 per
                    transaction, as the projection runner does. This skips the event store and decryption
                    (both measured in the app path), so it is the read model's own cost; the ~1.6 million events
                    would take hours to write through the app.
  plain baseline    the same number of rows, one per event, inserted with plain SQL (executemany, same batches).

The dashboard is timed as SchedulingService.compliance_dashboard composes it (facts: load_facts, the cycle facts,
allocation; then the domain's evaluate), best of three, against a plain SELECT of every row of the tables it reads
(the columns it reads, fetched by the driver) in the same run: ratios from one run hold on a shared machine.

    uv run python benchmarks/compliance.py [--workers 10000] [--months 24] [--app-workers 40] [--backend sqlite]
    uv run python benchmarks/compliance.py --workers 2000 --app-workers 0   # a quick iteration (~1 min a backend)
    uv run python benchmarks/compliance.py --keep /tmp/svl-dash/bench.db    # the dashboard alone, database kept
"""

import argparse
import random
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import date, datetime, time as clock_time, timedelta, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import Column, Date, DateTime, Integer, MetaData, String, Table, delete, insert, select  # noqa: E402

from api import demo_cast as cast
from api.application import Storage, SupervisionApplication  # noqa: E402
from benchmarks.common import chosen_backends, master_key, scratch_settings  # noqa: E402
from domain.compliance import evaluate, month_frequency  # noqa: E402
from domain.schedule_rules import calendar_for  # noqa: E402
from domain.sessions import SupervisionSession  # noqa: E402
from domain.supervision_record import SupervisionRecord  # noqa: E402
from domain.workers import Worker  # noqa: E402
from infrastructure.database import create_schema, make_engine  # noqa: E402
from infrastructure.policy_packs import load_pack_by_name  # noqa: E402
from api.allocation_service import allocation_view  # noqa: E402
from domain.compliance import sorted_for_attention  # noqa: E402
from domain.session_length import counts_from_minutes, last_full_week  # noqa: E402
from infrastructure.policy_packs import load_history_by_name  # noqa: E402
from projections import allocation, current_records, practice_cycles, worker_files  # noqa: E402
from projections.practice_cycles import with_cycle_facts  # noqa: E402
from projections import supervision_compliance as compliance  # noqa: E402
from projections.allocation import second_supervisees_on  # noqa: E402
from projections.schema import read_models, supervision_periods  # noqa: E402
from infrastructure.settings import Settings  # noqa: E402

START = date(2024, 12, 2)
CATEGORIES = ["experienced"] * 6 + ["nqsw_asye", "returner", "overseas_recruited", "family_support", "agency"]
BATCH = 500
# The dashboard's facts: its own tables plus who is in post (worker files) and each record's signatures.
FACT_MODULES = (worker_files, current_records, compliance)
FACT_TABLES = [t for m in FACT_MODULES for t in m.TABLES]


def apply(conn: Any, e: Any) -> None:
    for module in FACT_MODULES:
        handler = module.HANDLERS.get(type(e))
        if handler:
            handler(conn, e)
PACK = load_pack_by_name("bcp")
HISTORY = load_history_by_name("bcp")


class SetClock:
    def __init__(self) -> None:
        self.now = datetime.combine(START, clock_time(8), tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        self.now += timedelta(milliseconds=1)
        return self.now

    def at(self, day: date, hour: int) -> None:
        self.now = max(self.now, datetime.combine(day, clock_time(hour), tzinfo=timezone.utc))


def session_days(rng: random.Random, months: int) -> Iterator[tuple[date, bool]]:
    """One session a month on a random working-ish day; about one in twenty cancelled (and held a week later)."""
    for month in range(months):
        first = date(START.year + (START.month + month - 1) // 12, (START.month + month - 1) % 12 + 1, 1)
        yield first + timedelta(days=rng.randrange(0, 25)), rng.random() < 0.05


# -- synthetic path: real aggregates in memory, this module's handlers, no event store --------------------------------


def synthetic_workers(workers: int, months: int, seed: int = 7) -> Iterator[list[Any]]:
    """Each worker's events in order: joined, allocated, then every session (booked, held or cancelled) with its
    record (drafted, shared, signed by both). Workers follow one another rather than interleaving by time; the
    handlers' result does not depend on that, and it keeps a million events out of memory."""
    rng = random.Random(seed)
    moment = datetime.combine(START, clock_time(8), tzinfo=timezone.utc)
    supervisors = [Worker.join(name=f"S{n}", role="Team manager", category="manager", start_date=date(2015, 1, 5),
                               organisation="bcp", actor="hr", timestamp=moment) for n in range(max(1, workers // 8))]
    yield [e for s in supervisors for e in s.collect_events()]
    for n in range(workers):
        worker = Worker.join(name=f"W{n}", role="Social worker", category=rng.choice(CATEGORIES),
                             start_date=START - timedelta(days=rng.randrange(0, 2000)), organisation="bcp",
                             actor="hr", timestamp=moment)
        supervisor = str(supervisors[n % len(supervisors)].id)
        worker.allocate_supervisor(supervisor, actor="hr", timestamp=moment)
        events = worker.collect_events()
        for day, cancelled in session_days(rng, months):
            events += _session_events(str(worker.id), supervisor, day, cancelled)
        yield events


def _session_events(worker: str, supervisor: str, day: date, cancelled: bool, with_record: bool = True
                    ) -> list[Any]:
    booked_at = datetime.combine(day - timedelta(days=7), clock_time(9), tzinfo=timezone.utc)
    session = SupervisionSession.schedule(supervisee_id=worker, supervisor_id=supervisor,
                                          starts_at=datetime.combine(day, clock_time(10), tzinfo=timezone.utc),
                                          planned_minutes=90, actor=supervisor, timestamp=booked_at)
    if cancelled:
        session.cancel("operational", actor=supervisor, timestamp=booked_at + timedelta(days=6))
        return session.collect_events() + _session_events(worker, supervisor, day + timedelta(days=7), False,
                                                          with_record)
    held_at = datetime.combine(day, clock_time(12), tzinfo=timezone.utc)
    session.hold(actual_minutes=90, pack=PACK, actor=supervisor, timestamp=held_at)
    events = session.collect_events()
    if with_record:
        record = SupervisionRecord.draft(supervisee_id=worker, supervisor_id=supervisor, actor=supervisor,
                                         timestamp=held_at + timedelta(hours=3), content={
                                             "session_date": day.isoformat(), "attendees": ["S", "W"],
                                             "discussion": "Caseload and wellbeing reviewed."})
        record.share(actor=supervisor, timestamp=held_at + timedelta(days=1))
        record.sign(record.content_sha256, actor=worker, timestamp=held_at + timedelta(days=2))
        record.sign(record.content_sha256, actor=supervisor, timestamp=held_at + timedelta(days=2, hours=4))
        events += record.collect_events()
    return events


def project(engine: Any, events: list[Any]) -> float:
    """As the projection runner does: batches of 500 events a transaction, each event to its handlers."""
    started = time.perf_counter()
    for i in range(0, len(events), BATCH):
        with engine.begin() as conn:
            for e in events[i:i + BATCH]:
                apply(conn, e)
    return time.perf_counter() - started


def build(engine: Any, workers: int, months: int) -> tuple[int, float, float, list[str]]:
    """Events made in memory a few hundred workers at a time (not timed), then projected (timed)."""
    made = projecting = 0.0
    count, chunk, ids = 0, [], []
    workers_events = synthetic_workers(workers, months)
    while True:
        started = time.perf_counter()
        events = next(workers_events, None)
        made += time.perf_counter() - started
        if events is None:
            break
        chunk += events
        if len(ids) < 1000 and events and type(events[0]) is Worker.Joined:
            ids.append(str(events[0].originator_id))
        if len(chunk) >= 50 * BATCH:
            projecting += project(engine, chunk)
            count, chunk = count + len(chunk), []
    projecting += project(engine, chunk)
    return count + len(chunk), projecting, made, ids


plain_metadata = MetaData()
plain_rows = Table("bench_plain_rows", plain_metadata, Column("id", Integer, primary_key=True),
                   Column("worker_id", String(36), nullable=False), Column("day", Date, nullable=False),
                   Column("at", DateTime(timezone=True), nullable=False))


def plain_baseline(engine: Any, count: int, one_statement_a_row: bool) -> float:
    """`count` rows in transactions of 500: one executemany a batch, or one INSERT statement a row (as the
    handlers issue one statement an event)."""
    plain_metadata.create_all(engine)
    moment = datetime(2026, 1, 1, tzinfo=timezone.utc)
    rows = [{"worker_id": f"{n:036d}", "day": START, "at": moment} for n in range(BATCH)]
    statement = insert(plain_rows)
    started = time.perf_counter()
    for _ in range(0, count, BATCH):
        with engine.begin() as conn:
            if one_statement_a_row:
                for row in rows:
                    conn.execute(statement, row)
            else:
                conn.execute(statement, rows)
    seconds = time.perf_counter() - started
    with engine.begin() as conn:
        conn.execute(delete(plain_rows))
    return seconds


def plain_single(engine: Any, count: int) -> float:
    started = time.perf_counter()
    for n in range(count):
        with engine.begin() as conn:
            conn.execute(insert(plain_rows), {"worker_id": f"{n:036d}", "day": START, "at": datetime.now(timezone.utc)})
    return (time.perf_counter() - started) / count


def incremental(engine: Any, workers: list[str], count: int) -> float:
    """One new session booked and held, each event in its own transaction (as after one command)."""
    supervisor, total = "bench-supervisor", 0.0
    day = START + timedelta(days=800)
    for n in range(count // 2):
        for e in _session_events(workers[n % len(workers)], supervisor, day, False, with_record=False):
            started = time.perf_counter()
            with engine.begin() as conn:
                apply(conn, e)
            total += time.perf_counter() - started
    return total / (count // 2 * 2)


# Read by the due view but fed no synthetic events (no observations, reviews, standing or second supervisors):
# present and empty, as in an organisation that records none.
QUIET_TABLES = [*practice_cycles.TABLES, *allocation.TABLES]
# The columns of each table the due view reads (projections/supervision_compliance.py, practice_cycles.py,
# allocation.py): what the plain SELECT fetches, every row of them.
FACT_COLUMNS = {
    "workers": "worker_id, category, start_date, joined_at, leaving_date, left_at",
    "supervision_periods": "worker_id, supervisor_id, started_at, ended_at",
    "worker_regimes": "worker_id, category, category_since, started_version, recorded_at",
    "compliance_sessions": "session_id, worker_id, supervisor_id, scheduled_for, scheduled_at, held_on, held_at, "
                           "actual_minutes, cancelled_at, cancel_reason, cancelled_by, returned_on, returned_at, "
                           "rebooked_as, rebooked_at",
    "compliance_record_dates": "record_id, worker_id, session_date, recorded_at, superseded_at",
    "current_records": "record_id, supervisee_id, supervisor_id, drafted_at, supervisee_signed_at, "
                       "supervisor_signed_at",
    "compliance_record_shares": "record_id, shared_at",
    **{t.name: ", ".join(c.name for c in t.columns) for t in (
        compliance.compliance_agreements, compliance.compliance_agreement_reviews, compliance.compliance_cases,
        compliance.compliance_case_ratings, compliance.compliance_case_discussions, *QUIET_TABLES)},
}


def dashboard(engine: Any, as_of: date, team: str | None = None) -> tuple[float, float, list[Any]]:
    """As SchedulingService.compliance_dashboard does (bar the names, and case references: there are no cases):
    the facts (load_facts, cycle facts, allocation) and their evaluation, timed apart. `team`: one supervisor's
    team (what a manager opens), with their second supervisees."""
    policy = HISTORY.in_force_on(as_of)
    started = time.perf_counter()
    with engine.connect() as conn:
        facts = compliance.load_facts(conn, as_of, compliance.Scope(team=team), counts_from_minutes(policy),
                                      last_full_week(as_of))
        seconds = tuple(second_supervisees_on(conn, team, compliance.cutoff_for(as_of))) if team else ()
        if seconds:
            facts += compliance.load_facts(conn, as_of, compliance.Scope(worker_ids=seconds),
                                           counts_from_minutes(policy), last_full_week(as_of))
        facts = with_cycle_facts(conn, facts, compliance.cutoff_for(as_of))
        view = allocation_view(conn, policy, as_of, facts, lambda ids: {})
    loaded = time.perf_counter()
    calendar = calendar_for(policy)
    rows = [evaluate(policy, f, as_of, calendar, HISTORY) for f in view.facts]
    rows = sorted_for_attention([replace(r, issues=r.issues + tuple(view.issues.get(r.worker_id, ())))
                                 for r in rows])
    return loaded - started, time.perf_counter() - loaded, rows


def plain_select(engine: Any) -> tuple[float, int]:
    """Every row of the facts the due view reads, fetched by the driver: no filter, no Python beyond fetching."""
    started = time.perf_counter()
    with engine.connect() as conn:
        count = sum(len(conn.exec_driver_sql(f"SELECT {columns} FROM {table}").fetchall())
                    for table, columns in FACT_COLUMNS.items())
    return time.perf_counter() - started, count


def queries(engine: Any, as_of: date, runs: int = 3) -> dict[str, Any]:
    """Best of `runs` (other work shares the machine): the dashboard, split, and the plain SELECT, interleaved."""
    loads, evaluations, selects = [], [], []
    for _ in range(runs):
        load, evaluation, rows = dashboard(engine, as_of)
        loads.append(load)
        evaluations.append(evaluation)
        seconds, fetched = plain_select(engine)
        selects.append(seconds)
    first = as_of.replace(day=1)
    started = time.perf_counter()
    with engine.connect() as conn:
        months = compliance.load_month(conn, first, as_of, as_of)
    for m in months:
        w = m.worker
        month_frequency(PACK, w["category"], w["start_date"], w["start_date"], m.last_before, m.held, first, as_of)
    report = time.perf_counter() - started
    best = min(range(runs), key=lambda n: loads[n] + evaluations[n])
    with engine.connect() as conn:  # a typical team: the first supervisor's (every team is the same size here)
        team = conn.execute(select(supervision_periods.c.supervisor_id).order_by(supervision_periods.c.supervisor_id)
                            .limit(1)).scalar_one()
    teams = [dashboard(engine, as_of, team) for _ in range(runs)]
    team_best = min(teams, key=lambda t: t[0] + t[1])
    return {"load": loads[best], "evaluate": evaluations[best], "select": min(selects), "fetched": fetched,
            "shown": len(rows), "report": report, "team": team_best[0] + team_best[1], "team_shown": len(team_best[2])}


def bench_kept(path: Path, workers: int, months: int) -> None:
    """The dashboard alone on a SQLite database kept at `path`: built there the first time (about four minutes
    at 10,000 workers), reused as it is after that, so a change to the queries can be timed again at once."""
    path = path.resolve()
    (path.parent / "keys").mkdir(parents=True, exist_ok=True)
    settings = Settings(database_url=f"sqlite:///{path}", master_key_file=path.parent / "keys" / "master.key",
                        signing_key_file=path.parent / "keys" / "signing.key")
    built = path.exists()
    engine = make_engine(settings)
    if not built:
        create_schema(engine, settings)
        read_models.create_all(engine, tables=FACT_TABLES + QUIET_TABLES)
        count, seconds, _, _ = build(engine, workers, months)
        print(f"  sqlite     kept at {path}: {count:,} events projected in {seconds:.1f} s")
    else:
        # An index the code declares that the kept file lacks (or the reverse) would time another schema.
        for table in FACT_TABLES + QUIET_TABLES:
            for index in table.indexes:
                index.create(engine, checkfirst=True)
        print(f"  sqlite     reusing {path} (built for --workers/--months as it was first run)")
    q = queries(engine, START + timedelta(days=30 * months))
    engine.dispose()
    _print_dashboard(q, START + timedelta(days=30 * months))


def _print_dashboard(q: dict[str, Any], as_of: date) -> None:
    board = q["load"] + q["evaluate"]
    print(f"  {'':10}   dashboard of {q['shown']:,} workers as of {as_of} (best of 3): {board:.3f} s = facts "
          f"{q['load']:.3f} s + evaluate {q['evaluate']:.3f} s | plain SELECT of its tables' {q['fetched']:,} rows: "
          f"{q['select']:.3f} s -> dashboard is {board / q['select']:.1f}x (facts {q['load'] / q['select']:.1f}x) "
          f"| one team's ({q['team_shown']} workers): {q['team'] * 1000:.0f} ms | monthly report: {q['report']:.2f} s")


def bench_synthetic(backend: str, workers: int, months: int) -> None:
    with scratch_settings(backend) as settings:
        engine = make_engine(settings)
        create_schema(engine, settings)
        read_models.create_all(engine, tables=FACT_TABLES + QUIET_TABLES)
        count, seconds, made, worker_ids = build(engine, workers, months)
        bulk = plain_baseline(engine, count, one_statement_a_row=False)
        baseline = plain_baseline(engine, count, one_statement_a_row=True)
        as_of = START + timedelta(days=30 * months)
        q = queries(engine, as_of)
        one = incremental(engine, worker_ids, 1000)
        single = plain_single(engine, 1000)
        engine.dispose()
    print(f"  {backend:10} synthetic: {workers:,} workers, {months} months, {count:,} events "
          f"(made in memory in {made:.1f} s, not counted)")
    print(f"  {'':10}   rebuild {seconds:6.1f} s = {count / seconds:9,.0f} events/s")
    print(f"  {'':10}   plain SQL, as many rows, one INSERT a row: {baseline:5.1f} s = {count / baseline:9,.0f} rows/s "
          f"-> rebuild is {seconds / baseline:.1f}x")
    print(f"  {'':10}   plain SQL, as many rows, executemany:      {bulk:5.1f} s = {count / bulk:9,.0f} rows/s "
          f"-> rebuild is {seconds / bulk:.1f}x")
    _print_dashboard(q, as_of)
    print(f"  {'':10}   one more event, own transaction: {one * 1000:.2f} ms | plain single-row insert: "
          f"{single * 1000:.2f} ms | ratio {one / single:.1f}x")


# -- through the app ------------------------------------------------------------------------------------------------------


def bench_app(backend: str, workers: int, months: int) -> None:
    rng = random.Random(11)
    clock = SetClock()
    with scratch_settings(backend) as settings:
        app = SupervisionApplication(Storage.open(settings, master_key=master_key()), clock)
        try:
            supervisor = str(app.people.join_worker(cast.HR, name="S", role="Team manager", category="manager",
                                                    start_date=date(2015, 1, 5)).id)
            staff = []
            for n in range(workers):
                wid = str(app.people.join_worker(cast.HR, name=f"W{n}", role="Social worker",
                                                 category=rng.choice(CATEGORIES),
                                                 start_date=START - timedelta(days=rng.randrange(0, 2000))).id)
                app.allocation.allocate_supervisor(cast.HR, wid, supervisor)
                staff.append(wid)
            plan = sorted((day, wid) for wid in staff for day, _ in session_days(rng, months))
            commands = 0
            started = time.perf_counter()
            for day, wid in plan:
                clock.at(day, 9)
                session = app.scheduling.schedule_session(cast.supervisor(supervisor), supervisee_id=wid, starts_at=datetime.combine(
                    day, clock_time(10), tzinfo=timezone.utc), planned_minutes=90).id
                clock.at(day, 12)
                app.scheduling.hold_session(cast.supervisor(supervisor), session, actual_minutes=90)
                commands += 2
            written = time.perf_counter() - started
            started = time.perf_counter()
            events = app.read_models.rebuild()
            rebuilt = time.perf_counter() - started
            started = time.perf_counter()
            board = app.scheduling.compliance_dashboard(as_of=plan[-1][0], with_names=False)
            dashboard = time.perf_counter() - started
        finally:
            app.close()
    print(f"  {backend:10} through the app: {workers} workers, {commands:,} commands in {written:.1f} s = "
          f"{commands / written:,.0f} commands/s (sealed, ledgered, every read model projected)")
    print(f"  {'':10}   rebuild of every read model from the log: {events:,} events in {rebuilt:.1f} s = "
          f"{events / rebuilt:,.0f} events/s | dashboard ({len(board.rows)} rows): {dashboard * 1000:.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=10_000)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--app-workers", type=int, default=40)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], action="append")
    parser.add_argument("--keep", type=Path, metavar="FILE",
                        help="SQLite only: the dashboard alone, on the synthetic database kept in FILE (built the first "
                             "time, reused after)")
    args = parser.parse_args()
    print(f"SupervisionCompliance: {args.months} months of monthly sessions (5% cancelled and held a week later)")
    if args.keep:
        bench_kept(args.keep, args.workers, args.months)
        return
    backends = chosen_backends(args.backend)
    for backend in backends:
        if args.app_workers:
            bench_app(backend, args.app_workers, args.months)
        bench_synthetic(backend, args.workers, args.months)


if __name__ == "__main__":
    main()
