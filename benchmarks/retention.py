"""Retention: files destroyed per second, and the cost of a retention-schedule rebuild at 10,000 workers.

For each backend, in one run:

1. Destruction. 2N leavers, each with R signed records (drafted, shared, signed twice), are built through
   SupervisionApplication one command at a time, recorded as leavers and archived. Half left early enough to be due on
   an earlier day than the other half, so two `run_retention` calls on one database each destroy N files:
       run 1 (as of the earlier day): crypto-shredding only;
       run 2 (as of the later day):   with purge_ciphertext=True.
   Baseline, same database, same engine (same PRAGMAs / server), same run: N plain single-row key deletions,
   `UPDATE data_keys SET wrapped_key = NULL, destroyed_at = ... WHERE key_id = ...`, one transaction each, measured before and after the runs (the median of the two is the baseline).
   Each run is proposed (DPO) and approved (HR) before its clock starts. The steps of a run are timed (wrappers on the app instance only) to show what dominates.

2. Schedule at W workers (default 10,000): 35% active, 15% left (awaiting archival), 45% archived, 5% archived and
   on legal hold, leaving dates spread over 2014-2025. Built through SupervisionApplication one command at a time
   (join, allocate a supervisor, record leaving, archive, place a hold: ~32,000 commands, ~1.5 min on SQLite and
   ~3 min on PostgreSQL here). With --batched, after a sample of 100 workers one command at a time (its rate is
   printed), the rest are built from the same domain aggregates, sealed with their own new keys, with the same
   ledger leaves and read models, but 500 aggregates a `save_and_project` transaction (~3x faster to set up; the
   log then holds the same events, only grouped differently). Then timed:
       rebuild        `app.read_models.rebuild()` (every read model, from the first event)
       schedule       `app.retention.retention_schedule(as_of)` (median of 3)
   Baselines, same database, same run:
       read+decrypt   the same notifications read and decrypted, nothing projected
       plain insert   the final rows of every read model inserted with plain SQL (executemany, one
                      transaction) into empty copies of the tables (same columns, keys and indexes)
       plain select   `SELECT * FROM retention_files ORDER BY destruction_date, worker_id` (median of 3)

    uv run python benchmarks/retention.py [--backend sqlite] [--quick] [--leavers 200] [--records-per-leaver 3]
                                          [--workers 10000] [--batched] [--only destruction|schedule]
A full run (both backends, default sizes) takes ~8 minutes on a 2-core machine; --quick well under a minute.
"""

import argparse
import dataclasses
import secrets
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import Column, Index, MetaData, Table, insert, select, text, update  # noqa: E402

from api import demo_cast as cast
from api.application import Storage, SupervisionApplication  # noqa: E402
from benchmarks.common import FastClock, chosen_backends, master_key, scratch_settings  # noqa: E402
from domain.retention import LegalHold  # noqa: E402
from domain.schedule_rules import destruction_date  # noqa: E402
from domain.workers import Worker  # noqa: E402
from infrastructure.checkpoints import create_signing_key_file  # noqa: E402
from infrastructure.keys import StagedKeys, data_keys  # noqa: E402
from infrastructure.settings import Settings  # noqa: E402
from projections.schema import read_model_positions, read_models  # noqa: E402

CONTENT = {
    "session_date": "2018-05-02", "attendees": ["Supervisor", "Worker"], "agenda": ["Caseload", "Wellbeing"],
    "discussion": "Reviewed caseload of 14; two cases ready to step down. " * 4,
    "actions": [{"description": "Update chronology", "owner": "Worker", "due": "2018-05-12"}],
    "case_discussions": [{"case_reference": "J.S.", "summary": "Plan reviewed", "decision": "Continue"}],
}
# bcp keeps a leaver's file 6 years: the early leavers are due on 2025-01-31, the late ones on 2025-11-30.
EARLY_LEAVING, LATE_LEAVING = date(2019, 1, 31), date(2019, 11, 30)
FIRST_RUN_AS_OF, SECOND_RUN_AS_OF = date(2025, 6, 30), date(2026, 1, 5)  # FastClock's "today" is 2026-01-05


def log(message: str) -> None:
    print(f"    {message}", file=sys.stderr, flush=True)


@contextmanager
def bench_ledger(backend: str) -> Iterator[SupervisionApplication]:
    """A scratch database with the organisation signing key; every file the product writes stays in the temp dir."""
    with scratch_settings(backend) as base:
        settings: Settings = dataclasses.replace(base, certificate_dir=base.master_key_file.parent / "certificates",
                                                 checkpoint_dir=None)
        create_signing_key_file(settings.signing_key_file, settings.organisation_origin)
        storage = Storage.open(settings, master_key=master_key())
        app = SupervisionApplication(storage, FastClock())
        try:
            yield app
        finally:
            app.close()
            storage.engine.dispose()


def median_seconds(work: Callable[[], Any], repeat: int = 3) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


# -- 1. destruction ----------------------------------------------------------------------------------------------

def signed_record(app: SupervisionApplication, supervisor: str, worker: str) -> None:
    rid = app.records.draft_record(cast.supervisor(supervisor), supervisee_id=worker, content=CONTENT).id
    app.records.share_record(cast.supervisor(supervisor), rid)
    digest = app.records.get_record(rid).content_sha256
    app.records.sign_record(cast.supervisee(worker), rid, digest)
    app.records.sign_record(cast.supervisor(supervisor), rid, digest)


def build_leavers(app: SupervisionApplication, leavers: int, records: int, backend: str) -> tuple[float, int]:
    """2 x leavers, through the application one command at a time. Returns (seconds, commands)."""
    started = time.perf_counter()
    supervisor = str(app.people.join_worker(cast.HR, name="Sue Visor", role="Team manager", category="manager",
                                            start_date=date(2010, 1, 4)).id)
    commands = 1
    for n in range(2 * leavers):
        worker = str(app.people.join_worker(cast.HR, name=f"Leaver {n}", role="Social worker", category="experienced",
                                            start_date=date(2012, 5, 1)).id)
        app.allocation.allocate_supervisor(cast.HR, worker, supervisor)
        for _ in range(records):
            signed_record(app, supervisor, worker)
        app.people.record_leaving(cast.HR, worker, EARLY_LEAVING if n % 2 == 0 else LATE_LEAVING)
        app.retention.archive_leaver(cast.HR, worker)
        commands += 4 + 4 * records
        if n % 100 == 99:
            log(f"{backend}: {n + 1}/{2 * leavers} leavers built")
    return time.perf_counter() - started, commands


class StepTimer:
    """Wraps methods on one object instance (never the class). Each label gets its *own* time: a wrapped call
    inside another is charged to the inner label only, so the labels add up to the whole run."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self._stack: list[list[float]] = []  # per open call: [time spent in wrapped calls inside it]

    def wrap(self, owner: Any, attribute: str, label: str) -> None:
        original = getattr(owner, attribute)

        def timed(*args: Any, **kwargs: Any) -> Any:
            self._stack.append([0.0])
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - started
                inner = self._stack.pop()[0]
                self.seconds[label] += elapsed - inner
                self.calls[label] += 1
                if self._stack:
                    self._stack[-1][0] += elapsed

        setattr(owner, attribute, timed)

    def reset(self) -> None:
        self.seconds.clear()
        self.calls.clear()


STEPS = [  # label: what its own time covers (wrapped calls inside are charged to their own label)
    ("checkpoints", "the run's two signed ledger checkpoints (before, after): tree frontier, consistency with the "
                    "previous checkpoint, Ed25519, INSERT + commit; plus any automatic ones"),
    ("save+project", "every DestructionStarted in one transaction, every DestructionCompleted in another, and the "
                     "proposal's run record: sealed, stored with their ledger leaves, read models caught up"),
    ("count", "the events sealed with each key: key_assignments by key, then COUNT by originator id (indexed)"),
    ("tombstone", "the destroyed-key list outside the database: read once, one append + fsync for the run"),
    ("key", "UPDATE data_keys SET wrapped_key = NULL for every key + one key epoch, one transaction"),
    ("purge", "the events by originator id, INSERT purged_events, UPDATE events SET state = '' by originator id"),
    ("scrub", "once a run: SQLite PRAGMA wal_checkpoint(TRUNCATE) / PostgreSQL VACUUM data_keys + VACUUM events"),
    ("certificate", "per file: its destruction event's inclusion proof, the signed statement, the JSON file "
                    "(the consistency proof is computed once per run)"),
    ("schedule", "the schedule read that selects what is due"),
    ("other", "the rest: record ids, key ids, domain objects, the proposal"),
]


def instrument(app: SupervisionApplication) -> StepTimer:
    timer = StepTimer()
    timer.wrap(app.retention, "run_retention", "other")
    timer.wrap(app.retention, "retention_schedule", "schedule")
    timer.wrap(app.retention, "_destroy_all", "other")
    timer.wrap(app.retention, "_start_all", "other")
    timer.wrap(app.retention, "event_counts", "count")
    timer.wrap(app.core, "save_and_project", "save+project")
    timer.wrap(app.storage.tombstones, "add", "tombstone")
    timer.wrap(app.storage.keyring, "destroy_many", "key")
    timer.wrap(app.retention, "_purge_ciphertext", "purge")
    timer.wrap(app.retention, "_scrub_storage", "scrub")
    timer.wrap(app.retention, "_certify", "certificate")
    timer.wrap(app.integrity, "checkpoint", "checkpoints")
    return timer


def plain_key_deletions(app: SupervisionApplication, count: int) -> float:
    """The baseline: `count` single-row key deletions, one transaction each, on the app's own engine."""
    engine = app.storage.engine
    ids = [f"bench-{secrets.token_hex(8)}" for _ in range(count)]
    at = app.clock()
    with engine.begin() as conn:
        conn.execute(insert(data_keys), [{"key_id": k, "wrapped_key": secrets.token_bytes(40), "created_at": at}
                                         for k in ids])
    started = time.perf_counter()
    for key_id in ids:
        with engine.begin() as conn:
            conn.execute(update(data_keys).where(data_keys.c.key_id == key_id)
                         .values(wrapped_key=None, destroyed_at=at))
    seconds = time.perf_counter() - started
    with engine.begin() as conn:  # leave no keys behind that the tombstone list does not know about
        conn.execute(data_keys.delete().where(data_keys.c.key_id.in_(ids)))
    return count / seconds


def bench_destruction(backend: str, leavers: int, records: int) -> dict:
    with bench_ledger(backend) as app:
        build_seconds, commands = build_leavers(app, leavers, records, backend)
        log(f"{backend}: built {2 * leavers} leavers ({commands} commands) in {build_seconds:.0f} s")
        baseline = plain_key_deletions(app, leavers)  # measured again after the runs: the machine is shared
        timer = instrument(app)
        runs = {}
        for name, as_of, purge in (("shred", FIRST_RUN_AS_OF, False), ("shred+purge", SECOND_RUN_AS_OF, True)):
            # The review is people's work, not the machine's: proposed and approved before the clock starts.
            proposal = app.retention.propose_destruction(cast.DPO, as_of=as_of)
            app.retention.approve_destruction(cast.HR, proposal.id, rationale="benchmark: checked against the schedule")
            timer.reset()
            started = time.perf_counter()
            outcomes = app.retention.run_retention(cast.DPO, proposal.id, purge_ciphertext=purge)
            seconds = time.perf_counter() - started
            assert len(outcomes) == leavers and all(o.status == "destroyed" for o in outcomes), outcomes[:3]
            runs[name] = {"seconds": seconds, "files": len(outcomes), "events": sum(o.event_count for o in outcomes),
                          "steps": dict(timer.seconds), "calls": dict(timer.calls)}
            log(f"{backend}: {name}: {len(outcomes)} files in {seconds:.1f} s")
        baseline = statistics.median([baseline, plain_key_deletions(app, leavers)])
        with app.storage.engine.connect() as conn:
            total_events = conn.execute(text(f"SELECT COUNT(*) FROM {app.integrity.events.qualified}")).scalar_one()
        return {"baseline": baseline, "runs": runs, "build_seconds": build_seconds, "commands": commands,
                "events_in_store": total_events}


def print_destruction(backend: str, result: dict) -> None:
    base = result["baseline"]
    print(f"  {backend:10} plain baseline: {base:8.1f} key deletions/s (UPDATE data_keys SET wrapped_key=NULL, "
          f"one transaction each)")
    for name, run in result["runs"].items():
        files_per_s = run["files"] / run["seconds"]
        print(f"  {'':10} run_retention {name:12} {files_per_s:6.1f} files/s ({1000 / files_per_s:5.1f} ms a file, "
              f"{run['events'] // run['files']} events a file) = 1/{base / files_per_s:,.1f} of the baseline "
              f"(ratio {files_per_s / base:.3f})")
        steps = run["steps"]
        ranked = sorted(((steps.get(label, 0.0), label) for label, _ in STEPS), reverse=True)
        print(f"  {'':10}   ms a file: " + "  ".join(f"{label} {1000 * sec / run['files']:.1f}"
                                                    for sec, label in ranked if sec > 0))
        print(f"  {'':10}   share: " + "  ".join(f"{label} {sec / run['seconds']:.0%}"
                                                for sec, label in ranked[:4])
              + f"  ({run['calls'].get('checkpoints', 0)} checkpoints signed for {run['files']} files)")


# -- 2. schedule rebuild at W workers ----------------------------------------------------------------------------

def merged(staged: list[StagedKeys]) -> StagedKeys:
    return StagedKeys(new_keys=[r for s in staged for r in s.new_keys],
                      assignments=[a for s in staged for a in s.assignments])


def worker_kind(n: int) -> str:
    """35% active, 15% left (awaiting archival), 50% archived; a tenth of the archived (5%) on legal hold."""
    slot = n % 20
    if slot < 7:
        return "active"
    if slot < 10:
        return "left"
    return "held" if slot == 19 else "archived"


def leaving_date_of(n: int) -> date:
    return date(2014, 1, 1) + timedelta(days=(n * 7919) % (12 * 365))  # spread over 2014-2025


def one_command_at_a_time(app: SupervisionApplication, supervisor: str, first: int, count: int) -> tuple[float, int]:
    """Workers first..first+count of the mix, one command at a time through the app. Returns (seconds, commands)."""
    commands = 0
    started = time.perf_counter()
    for n in range(first, first + count):
        kind = worker_kind(n)
        worker = app.people.join_worker(cast.HR, name=f"Worker {n}", role="Social worker", category="experienced",
                                        start_date=date(2010, 1, 1)).id
        app.allocation.allocate_supervisor(cast.HR, worker, supervisor)
        commands += 2
        if kind != "active":
            app.people.record_leaving(cast.HR, worker, leaving_date_of(n))
            commands += 1
        if kind in ("archived", "held"):
            app.retention.archive_leaver(cast.HR, worker)
            commands += 1
        if kind == "held":
            app.retention.place_hold(cast.IO, worker, kind="investigation", reason="Allegation under review",
                                     reference=f"LADO-{n}")
            commands += 1
    return time.perf_counter() - started, commands


def build_workers(app: SupervisionApplication, supervisor: str, first: int, count: int, batch: int,
                  backend: str) -> tuple[float, int]:
    """The same commands' events (joined, allocated, left, archived, hold placed) on real aggregates with real keys,
    saved `batch` aggregates a transaction through save_and_project. Returns (seconds, commands' worth)."""
    pack = app.policy.policy_pack
    rule = app.retention._rule_text(pack)
    keyring = app.storage.keyring
    commands = 0
    started = time.perf_counter()
    for start in range(first, first + count, batch):
        aggregates: list[Any] = []
        staged: list[StagedKeys] = []
        holds: list[Any] = []
        for n in range(start, min(start + batch, first + count)):
            kind = worker_kind(n)
            worker = Worker.join(name=f"Worker {n}", role="Social worker", category="experienced",
                                 start_date=date(2010, 1, 1), organisation=app.storage.settings.policy_pack, actor="hr",
                                 timestamp=app.clock())
            staged.append(keyring.stage_new_key(worker.id))
            worker.allocate_supervisor(supervisor, actor="hr", timestamp=app.clock())
            commands += 2
            if kind != "active":
                worker.leave(leaving_date_of(n), actor="hr", timestamp=app.clock())
                commands += 1
            if kind in ("archived", "held"):
                worker.archive(destruction_date(pack, leaving_date_of(n)), rule, actor="hr", timestamp=app.clock())
                commands += 1
            aggregates.append(worker)
            if kind == "held":
                hold = LegalHold.place(worker_id=str(worker.id), kind="investigation", reason="Allegation under review",
                                       reference=f"LADO-{n}", actor="io", timestamp=app.clock())
                holds.append(hold)
                commands += 1
        app.save_and_project(*aggregates, keys=merged(staged))
        if holds:  # a hold's events are sealed with the organisation key, after the worker exists
            app.save_and_project(*holds, keys=merged([keyring.stage_assignment(h.id, "organisation") for h in holds]))
        if ((start - first) // batch) % 4 == 3:
            log(f"{backend}: {min(start + batch, first + count) - first}/{count} workers built (batched)")
    return time.perf_counter() - started, commands


def read_and_decrypt(app: SupervisionApplication) -> int:
    """Baseline for the rebuild: the same notifications read and decrypted, nothing projected."""
    position, decoded, batch = 0, 0, app.read_models.batch_size
    while True:
        notifications = app.recorder.select_notifications(position + 1, batch)
        for n in notifications:
            if app._decode_or_none(n) is not None:
                decoded += 1
        if len(notifications) < batch:
            return decoded
        position = notifications[-1].id


def plain_insert_of_read_models(app: SupervisionApplication) -> tuple[float, int]:
    """Baseline for the rebuild: the final rows of every read model, inserted with plain SQL into empty copies."""
    engine = app.storage.engine
    copies = MetaData()
    pairs = []
    for table in read_models.sorted_tables:
        if table is read_model_positions:
            continue
        copy = Table(f"bench_{table.name}", copies,
                     *[Column(c.name, c.type, primary_key=c.primary_key, autoincrement=False) for c in table.columns])
        for index in table.indexes:
            Index(f"bench_{index.name}", *[copy.c[c.name] for c in index.columns])
        pairs.append((table, copy))
    with engine.connect() as conn:
        rows = {t.name: [dict(r._mapping) for r in conn.execute(select(t))] for t, _ in pairs}
    copies.create_all(engine)
    try:
        started = time.perf_counter()
        with engine.begin() as conn:
            for table, copy in pairs:
                if rows[table.name]:
                    conn.execute(insert(copy), rows[table.name])
        seconds = time.perf_counter() - started
    finally:
        copies.drop_all(engine)
    return seconds, sum(len(r) for r in rows.values())


def plain_select(app: SupervisionApplication) -> int:
    with app.storage.engine.connect() as conn:
        return len(conn.execute(text("SELECT * FROM retention_files ORDER BY destruction_date, worker_id")).all())


def bench_schedule(backend: str, workers: int, sample: int, batch: int, through_app: bool) -> dict:
    with bench_ledger(backend) as app:
        supervisor = str(app.people.join_worker(cast.HR, name="Sue Visor", role="Team manager", category="manager",
                                                start_date=date(2005, 1, 3)).id)
        rest = workers - 1 - sample
        sample_seconds, sample_commands = one_command_at_a_time(app, supervisor, 0, sample)
        one_by_one = sample_commands / sample_seconds
        log(f"{backend}: {one_by_one:.0f} commands/s one at a time through the app ({sample} sample workers)")
        if through_app:
            build_seconds, commands = one_command_at_a_time(app, supervisor, sample, rest)
        else:
            build_seconds, commands = build_workers(app, supervisor, sample, rest, batch, backend)
        build_seconds += sample_seconds
        commands += sample_commands + 1
        log(f"{backend}: built {workers} workers in {build_seconds:.0f} s")
        as_of = app.clock().date()
        app.read_models.catch_up()
        started = time.perf_counter()
        events = app.read_models.rebuild()
        rebuild = time.perf_counter() - started
        decrypt_seconds, decoded = median_seconds(lambda: read_and_decrypt(app), repeat=1)
        insert_seconds, inserted = plain_insert_of_read_models(app)
        schedule_seconds, files = median_seconds(lambda: app.retention.retention_schedule(as_of))
        select_seconds, selected = median_seconds(lambda: plain_select(app))
        assert len(files) == selected == workers, (len(files), selected, workers)
        statuses: dict[str, int] = defaultdict(int)
        for f in files:
            statuses[f.status] += 1
        with app.storage.engine.connect() as conn:
            total_events = conn.execute(text(f"SELECT COUNT(*) FROM {app.integrity.events.qualified}")).scalar_one()
        return {"one_by_one": one_by_one, "build_seconds": build_seconds, "commands": commands, "events": events,
                "total_events": total_events, "rebuild": rebuild, "decrypt": decrypt_seconds, "decoded": decoded,
                "insert": insert_seconds, "inserted": inserted, "schedule": schedule_seconds, "files": len(files),
                "select": select_seconds, "statuses": dict(statuses), "as_of": as_of, "through_app": through_app,
                "sample": sample, "batch": batch}


def print_schedule(backend: str, r: dict, workers: int) -> None:
    if r["through_app"]:
        print(f"  {backend:10} built: {r['commands']:,} commands through the app, one at a time, in "
              f"{r['build_seconds']:.0f} s")
    else:
        minutes = (r["commands"] / r["one_by_one"]) / 60
        print(f"  {backend:10} built: {r['commands']:,} commands' worth of events in {r['build_seconds']:.0f} s: "
              f"{r['sample']} workers one command at a time ({r['one_by_one']:.0f} commands/s; all {workers:,} so "
              f"would take ~{minutes:.1f} min), the rest {r['batch']} aggregates a save_and_project")
    print(f"  {'':10} schedule on {r['as_of']}: " + ", ".join(f"{k} {v}" for k, v in sorted(r["statuses"].items())))
    print(f"  {'':10} rebuild  app.read_models.rebuild(): {r['events']:,} events in {r['rebuild']:.2f} s "
          f"= {r['events'] / r['rebuild']:,.0f} events/s")
    print(f"  {'':10}   vs read+decrypt only {r['decrypt']:.2f} s ({r['rebuild'] / r['decrypt']:.1f}x) | "
          f"vs plain INSERT of the same {r['inserted']:,} read-model rows {r['insert']:.2f} s "
          f"({r['rebuild'] / r['insert']:.0f}x)")
    print(f"  {'':10} schedule app.retention_schedule(): {r['files']:,} files in {1000 * r['schedule']:.0f} ms "
          f"| plain SELECT of the same rows {1000 * r['select']:.0f} ms ({r['schedule'] / r['select']:.1f}x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], action="append")
    parser.add_argument("--quick", action="store_true", help="smaller sizes: 20 leavers, 1,000 workers")
    parser.add_argument("--leavers", type=int, help="files destroyed per run (default 200; --quick 20)")
    parser.add_argument("--records-per-leaver", type=int, default=3)
    parser.add_argument("--workers", type=int, help="workers for the schedule rebuild (default 10,000; --quick 1,000)")
    parser.add_argument("--sample", type=int, default=100, help="workers built one command at a time (rate sample)")
    parser.add_argument("--batched", action="store_true",
                        help="build the workers (after a sample) 500 aggregates a transaction, not one command at a "
                             "time (same events, keys, ledger leaves and read models; ~3x faster to set up)")
    parser.add_argument("--only", choices=["destruction", "schedule"], help="run one of the two parts")
    parser.add_argument("--batch", type=int, default=500, help="with --batched: aggregates a transaction")
    args = parser.parse_args()
    leavers = args.leavers or (20 if args.quick else 200)
    workers = args.workers or (1_000 if args.quick else 10_000)
    sample = min(args.sample, workers // 10)
    backends = chosen_backends(args.backend)

    started = time.perf_counter()
    for backend in backends if args.only != "schedule" else []:
        if backend == backends[0]:
            print(f"files destroyed per second by run_retention ({leavers} files a run, each a leaver with "
                  f"{args.records_per_leaver} signed records; bcp pack)")
        result = bench_destruction(backend, leavers, args.records_per_leaver)
        print_destruction(backend, result)
        print(f"  {'':10}   (setup: {2 * leavers} leavers, {result['commands']:,} commands through the app in "
              f"{result['build_seconds']:.0f} s; {result['events_in_store']:,} events in the store at the end)")
    for backend in backends if args.only != "destruction" else []:
        if backend == backends[0]:
            print(f"retention schedule at {workers:,} workers (35% active, 15% left, 45% archived, "
                  "5% archived + held)")
        print_schedule(backend, bench_schedule(backend, workers, sample, args.batch, not args.batched), workers)
    print(f"total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
