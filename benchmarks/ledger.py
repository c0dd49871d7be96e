"""The integrity ledger's costs, in one run, on SQLite and PostgreSQL.

  (1) append: sealed events saved per second (one new aggregate, one event, one transaction per save)
      through our recorder (events + ledger leaf in one transaction) vs the library's own recorder with
      the same application and the same sealing mapper. Goal: the ledger costs at most 20%.
  (2) verify: `svl verify` (every leaf recomputed, the tree rebuilt, checkpoints checked) in events/s vs a
      plain SELECT streaming the same rows, at 100,000 events or more. Goal: at least 1/3 of the SELECT rate.
  (3) proofs: inclusion-proof time and size at 10^3 ... 10^6 leaves (built straight into the ledger table),
      from the SQL store and through `IntegrityLedger.inclusion` (what the HTTP endpoint calls).
      Goal: grows with log n; under 5 ms at 10^6.
  (4) memory (--memory): peak RSS of `svl verify` in its own process and inclusion-proof time as the log grows
      (e.g. 10^5, 10^6, 10^7 events). Goal: memory flat, proofs < 1 ms at 10^7.

    uv run python benchmarks/ledger.py [--quick] [--backend sqlite] [--appends 2000] [--events 100000]
                                       [--verify-only] [--rounds 3] [--memory 100000 1000000 10000000]
"""

import argparse
import os
import random
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from eventsourcing.persistence import StoredEvent  # noqa: E402
from eventsourcing.postgres import PostgresApplicationRecorder  # noqa: E402
from eventsourcing.sqlite import SQLiteApplicationRecorder  # noqa: E402
from eventsourcing.utils import get_topic  # noqa: E402
from sqlalchemy import text  # noqa: E402

from api.application import Storage, SupervisionApplication  # noqa: E402
from benchmarks.append import CONTENT  # noqa: E402
from benchmarks.common import FastClock, master_key, postgres_available, scratch_settings  # noqa: E402
from domain.supervision_record import SupervisionRecord  # noqa: E402
from infrastructure import ledger_verify  # noqa: E402
from infrastructure.checkpoints import create_signing_key_file  # noqa: E402
from infrastructure.keys import ORGANISATION_KEY_ID  # noqa: E402
from infrastructure.settings import Settings  # noqa: E402
from infrastructure.merkle import Frontier  # noqa: E402
from infrastructure.svl_verify import event_leaf_hash, leaf_hash, node_hash, verify_inclusion  # noqa: E402


class PlainRecorderLedger(SupervisionApplication):
    """The same application and mapper, stored by the library's own recorder: no ledger leaves."""

    def construct_env(self, name, env=None):  # type: ignore[no-untyped-def]
        plain = SQLiteApplicationRecorder if self.storage.settings.is_sqlite else PostgresApplicationRecorder
        return super().construct_env(name, {**(env or {}), "APPLICATION_RECORDER_TOPIC": get_topic(plain)})


@contextmanager
def opened(settings: Settings,
           cls: type[SupervisionApplication] = SupervisionApplication) -> Iterator[SupervisionApplication]:
    app = cls(Storage.open(settings, master_key=master_key()), FastClock())
    app.after_save.clear()  # no automatic checkpoints inside the timings
    try:
        yield app
    finally:
        app.close()
        app.storage.engine.dispose()


def drafted(app: SupervisionApplication, count: int) -> list[SupervisionRecord]:
    """New records sealed with the organisation key (assigned in memory: no key rows to write)."""
    records = []
    for _ in range(count):
        record = SupervisionRecord.draft(supervisee_id="w", supervisor_id="s", content=CONTENT, actor="s",
                                         timestamp=app.clock())
        app.storage.keyring.stage_assignment(record.id, ORGANISATION_KEY_ID)
        records.append(record)
    return records


# --- (1) append ------------------------------------------------------------------------------------------

def append_rate(backend: str, cls: type[SupervisionApplication], saves: int) -> float:
    with scratch_settings(backend) as settings, opened(settings, cls) as app:
        for record in drafted(app, 50):  # warm-up: connections, prepared statements
            app.save(record)
        records = drafted(app, saves)
        started = time.perf_counter()
        for record in records:
            app.save(record)
        return saves / (time.perf_counter() - started)


def bench_append(backend: str, saves: int, rounds: int) -> None:
    """Rounds of (library, ledger) back to back: each pair shares the machine's mood, so the median of the
    pairs' ratios is steadier than either rate."""
    pairs = [(append_rate(backend, PlainRecorderLedger, saves), append_rate(backend, SupervisionApplication, saves))
             for _ in range(rounds)]
    cost = statistics.median(1 - ledger / plain for plain, ledger in pairs)
    plain, ledger = statistics.median(p for p, _ in pairs), statistics.median(q for _, q in pairs)
    print(f"  (1) append, {backend}: library recorder {plain:,.0f} saves/s | with ledger {ledger:,.0f} saves/s "
          f"(medians of {rounds} rounds) -> ledger costs {cost:.0%} (median of the rounds' ratios; goal <= 20%: "
          f"{'met' if cost <= 0.20 else 'NOT met'})")


# --- (2) verify -------------------------------------------------------------------------------------------

def fill(app: SupervisionApplication, events: int, batch: int = 1000) -> None:
    """Real sealed events through our recorder, many per transaction (the leaves are appended as usual)."""
    written = 0
    while written < events:
        records = drafted(app, min(batch, events - written))
        app.recorder.insert_events([app.mapper.to_stored_event(r.collect_events()[0]) for r in records])
        written += len(records)


def fill_copies(app: SupervisionApplication, events: int, batch: int | None = None) -> None:
    """Copies of one real sealed event, each under a new record id, through our recorder (leaves appended as
    usual): verify hashes the stored bytes and never decrypts, so a log of copies costs it what a real one does,
    and 10^7 of them can be written in minutes rather than hours. Smaller batches on PostgreSQL: the leaves of a
    batch are computed while its transaction waits, and on a busy machine 20,000 of them outlast the server's
    idle-in-transaction timeout (5 s), which ends the session."""
    batch = batch or (20_000 if app.storage.settings.is_sqlite else 5_000)
    sealed = app.mapper.to_stored_event(drafted(app, 1)[0].collect_events()[0])
    written = 0
    while written < events:
        count = min(batch, events - written)
        app.recorder.insert_events([StoredEvent(originator_id=uuid.uuid4(), originator_version=1, topic=sealed.topic,
                                                state=sealed.state) for _ in range(count)])
        written += count


def copy_copies(app: SupervisionApplication, events: int, frontier: Frontier, chunk: int = 100_000) -> None:
    """PostgreSQL: the log of `fill_copies`, written with COPY: the events with their notification ids, and their
    leaf rows computed here as the recorder computes them (`frontier`: the tree so far, kept between calls), so that
    10^7 events take minutes on a busy machine rather than hours. `svl verify` then finds it intact or the run
    stops: the leaves are checked, not trusted."""
    sealed = app.mapper.to_stored_event(drafted(app, 1)[0].collect_events()[0])
    table = app.integrity.events.qualified
    raw = app.storage.engine.raw_connection()
    try:
        conn = raw.driver_connection
        with conn.cursor() as cur:
            cur.execute(f"SELECT coalesce(max(notification_id), 0) FROM {table}")
            first = cur.fetchone()[0] + 1
            for start in range(first, first + events, chunk):
                leaves = []
                with cur.copy(f"COPY {table} (notification_id, originator_id, originator_version, topic, state) "
                              "FROM STDIN") as copy:
                    for nid in range(start, min(start + chunk, first + events)):
                        originator_id = uuid.uuid4()
                        copy.write_row((nid, originator_id, 1, sealed.topic, sealed.state))
                        leaf = event_leaf_hash(nid, originator_id, 1, sealed.topic, sealed.state)
                        index = frontier.size
                        completed = frontier.append(leaf)
                        leaves.append((index, nid, leaf, b"".join(digest for _, _, digest in completed[1:])))
                with cur.copy("COPY ledger_leaves (leaf_index, notification_id, leaf_hash, completed_nodes) "
                              "FROM STDIN") as copy:
                    for row in leaves:
                        copy.write_row(row)
                conn.commit()
            cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'notification_id'), "
                        f"(SELECT max(notification_id) FROM {table}))")
            conn.commit()
    finally:
        raw.close()


def plain_select_rate(app: SupervisionApplication, with_leaves: bool = False) -> float:
    """The same columns of the same rows, streamed by the driver, and nothing done with them; with_leaves
    also streams the ledger rows verify reads beside them."""
    settings = app.storage.settings
    queries = [f"SELECT {app.integrity.events.nid}, originator_id, originator_version, topic, state "
               f"FROM {app.integrity.events.qualified} ORDER BY {app.integrity.events.nid}"]
    if with_leaves:
        queries.append("SELECT leaf_index, notification_id, leaf_hash, completed_nodes FROM ledger_leaves "
                       "ORDER BY leaf_index")
    raw = app.storage.engine.raw_connection()
    try:
        conn = raw.driver_connection
        started, count = time.perf_counter(), 0
        for n, query in enumerate(queries):
            if settings.is_sqlite:
                rows = sum(1 for _ in conn.execute(query))
            else:
                with conn.cursor(name=f"plain{n}", binary=True) as cur:
                    cur.itersize = 5000
                    cur.execute(query)
                    rows = 0
                    while batch := cur.fetchmany(5000):
                        rows += len(batch)
            count = count or rows
        elapsed = time.perf_counter() - started
        raw.rollback()
    finally:
        raw.close()
    return count / elapsed


def library_select_rate(app: SupervisionApplication, batch: int = 5000) -> float:
    started, count, start = time.perf_counter(), 0, 1
    while True:
        rows = app.recorder.select_notifications(start, batch)
        if not rows:
            break
        count += len(rows)
        start = rows[-1].id + 1
    return count / (time.perf_counter() - started)


def verify_seconds(app: SupervisionApplication, events: int, row_by_row: bool = False) -> float:
    """One `svl verify` (what the CLI calls); row_by_row: with the bulk route switched off, as before it."""
    attempt = ledger_verify._bulk_attempt
    if row_by_row:
        ledger_verify._bulk_attempt = lambda *args: None  # type: ignore[assignment]
    try:
        started = time.perf_counter()
        report = app.integrity.verify()
        elapsed = time.perf_counter() - started
    finally:
        ledger_verify._bulk_attempt = attempt  # type: ignore[assignment]
    assert report.intact and report.events == events, report.to_dict()
    return elapsed


def bench_verify(backend: str, events: int, rounds: int = 5) -> None:
    """Rounds of (plain SELECT, SELECT with the ledger rows, svl verify) back to back, best of each: the
    baseline and verify see the same machine. The row-by-row rate (bulk route off) is shown for reference."""
    with scratch_settings(backend) as settings, opened(settings) as app:
        create_signing_key_file(settings.signing_key_file, settings.organisation_origin)
        started = time.perf_counter()
        fill(app, events)
        filled = time.perf_counter() - started
        app.integrity.checkpoint(publish_to=None)
        selects, boths, times, rows = [], [], [], []
        for _ in range(rounds):
            selects.append(plain_select_rate(app))
            boths.append(plain_select_rate(app, with_leaves=True))
            times.append(verify_seconds(app, events))
        rows = [verify_seconds(app, events, row_by_row=True) for _ in range(2)]
        library = library_select_rate(app)
        best_select, best_both, rate = max(selects), max(boths), events / min(times)
        share, share_both = rate / best_select, rate / best_both
        print(f"  (2) verify, {backend}, {events:,} events (written in {filled:.0f} s, 1,000 per transaction): "
              f"svl verify {rate:,.0f} events/s (row by row: {events / min(rows):,.0f}) | plain SELECT of the "
              f"events {best_select:,.0f} rows/s -> {share:.2f} (goal >= 0.33: "
              f"{'met' if share >= 1 / 3 else 'NOT met'}) | SELECT of the events and their ledger rows "
              f"{best_both:,.0f}/s -> {share_both:.2f} | library select_notifications {library:,.0f}/s -> "
              f"{rate / library:.2f}  (best of {rounds} rounds each)")


def leaf_rows(start: int, end: int, stack: list[bytes]) -> Iterator[tuple[int, int, bytes, bytes]]:
    """Ledger rows for synthetic leaves, continuing the right edge kept in `stack`."""
    for index in range(start, end):
        h = leaf_hash(index.to_bytes(8, "big"))
        closed, k = [], index
        while k & 1:
            h = node_hash(stack.pop(), h)
            closed.append(h)
            k >>= 1
        stack.append(h)
        yield index, index + 1, leaf_hash(index.to_bytes(8, "big")), b"".join(closed)


def bulk_insert(app: SupervisionApplication, settings: Settings, start: int, end: int, stack: list[bytes]) -> None:
    raw = app.storage.engine.raw_connection()
    try:
        conn = raw.driver_connection
        rows = leaf_rows(start, end, stack)
        if settings.is_sqlite:
            conn.execute("BEGIN")
            conn.executemany("INSERT INTO ledger_leaves VALUES (?, ?, ?, ?)", rows)
            conn.execute("COMMIT")
        else:
            with conn.cursor() as cur, cur.copy(
                    "COPY ledger_leaves (leaf_index, notification_id, leaf_hash, completed_nodes) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            conn.commit()
    finally:
        raw.close()


def bench_proofs(backend: str, sizes: list[int], samples: int = 300) -> None:
    with scratch_settings(backend) as settings, opened(settings) as app:
        create_signing_key_file(settings.signing_key_file, settings.organisation_origin)
        stack: list[bytes] = []
        built = 0
        rng = random.Random(7)
        for size in sizes:
            bulk_insert(app, settings, built, size, stack)
            built = size
            if not settings.is_sqlite:
                with app.storage.engine.begin() as conn:
                    conn.execute(text("ANALYZE ledger_leaves"))
            cp = app.integrity.checkpoint(publish_to=None).checkpoint
            store = app.integrity.store
            indexes = [rng.randrange(size) for _ in range(samples)]
            store_ms, full_ms, hashes = [], [], []
            for index in indexes:
                started = time.perf_counter()
                proof = store.inclusion_proof(index, size)
                store_ms.append((time.perf_counter() - started) * 1000)
                hashes.append(len(proof))
                assert verify_inclusion(leaf_hash(index.to_bytes(8, "big")), index, size, proof, cp.root_hash)
            for index in indexes[:100]:
                started = time.perf_counter()
                app.integrity.inclusion(index + 1)
                full_ms.append((time.perf_counter() - started) * 1000)
            p95 = sorted(store_ms)[int(0.95 * len(store_ms))]
            median = statistics.median(store_ms)
            print(f"  (3) proof, {backend}, {size:>9,} leaves: {max(hashes)} hashes = {32 * max(hashes)} bytes | "
                  f"from SQL median {median:.2f} ms, p95 {p95:.2f} ms | "
                  f"inclusion(notification id) with its checkpoint median {statistics.median(full_ms):.2f} ms"
                  + ("  (goal < 5 ms: " + ("met" if median < 5 else "NOT met") + ")" if size >= 1_000_000 else ""))


# --- (4) memory ------------------------------------------------------------------------------------------

def verify_rss(settings: Settings, statement_timeout: float | None = None) -> tuple[float, int, bool]:
    """`svl verify` in its own process, as an administrator runs it: (seconds, peak RSS in bytes, whether the
    database vouched for the records' versions, rather than verify following them in memory)."""
    env = {**os.environ, "SVL_DATABASE_URL": settings.database_url, "SVL_DATABASE_SCHEMA": settings.database_schema,
           "SVL_MASTER_KEY_FILE": str(settings.master_key_file), "SVL_SIGNING_KEY_FILE": str(settings.signing_key_file),
           "SVL_LOG_ORIGIN": settings.organisation_origin, "SVL_CHECKPOINT_DIR": ""}
    if statement_timeout is not None:
        env["SVL_DB_STATEMENT_TIMEOUT"] = str(statement_timeout)
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "api.cli", "verify"], env=env, cwd=Path(__file__).parents[1],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    errors = process.stderr.read().decode() if process.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"svl verify failed: {errors[-2000:]}")
    return elapsed, usage.ru_maxrss * 1024, "could not vouch for the records' versions" not in errors


def bench_memory(backend: str, sizes: list[int], statement_timeout: float | None = None) -> None:
    """Peak RSS of `svl verify` as the log grows (each event its own record: the worst case for the one thing
    verify keeps per record, its last version), and inclusion proofs at the same sizes. The log is written through
    our recorder on SQLite, with COPY on PostgreSQL (`copy_copies`)."""
    with scratch_settings(backend) as settings, opened(settings) as app:
        create_signing_key_file(settings.signing_key_file, settings.organisation_origin)
        written, first_rss, frontier = 0, None, Frontier()
        for size in sizes:
            started = time.perf_counter()
            if settings.is_sqlite:
                fill_copies(app, size - written)
            else:
                copy_copies(app, size - written, frontier)
            filled, written = time.perf_counter() - started, size
            app.integrity.checkpoint(publish_to=None)
            seconds, rss, vouched = verify_rss(settings, statement_timeout)
            followed = "" if vouched else "; versions followed in memory: the database could not vouch for them in time"
            first_rss = first_rss or rss
            proofs = []
            for index in random.Random(size).sample(range(1, size + 1), 200):
                began = time.perf_counter()
                app.integrity.inclusion(index)
                proofs.append((time.perf_counter() - began) * 1000)
            print(f"  (4) memory, {backend}, {size:>10,} events (filled in {filled:,.0f} s): svl verify "
                  f"{seconds:,.1f} s ({size / seconds:,.0f} events/s), peak RSS {rss / 2**20:,.0f} MiB "
                  f"({rss / first_rss:.2f}x the smallest{followed}) | inclusion(notification id) median "
                  f"{statistics.median(proofs):.2f} ms (goal < 1 ms) | load averages "
                  f"{' '.join(f'{load:.2f}' for load in os.getloadavg())}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller sizes: 20,000 events, proofs up to 10^5")
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], action="append")
    parser.add_argument("--appends", type=int, default=None, help="saves per append round")
    parser.add_argument("--events", type=int, default=None, help="events for the verify benchmark")
    parser.add_argument("--verify-only", action="store_true", help="only (2), the verify benchmark")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of SELECT and verify, best of each")
    parser.add_argument("--memory", type=int, nargs="+", metavar="EVENTS",
                        help="only (4): svl verify's peak RSS and proof time at these log sizes (e.g. 100000 1000000 "
                             "10000000)")
    parser.add_argument("--statement-timeout", type=float, default=None, metavar="SECONDS",
                        help="with --memory: SVL_DB_STATEMENT_TIMEOUT for svl verify (default: the product's, 30 s)")
    args = parser.parse_args()
    backends = args.backend or ["sqlite", "postgresql"]
    if "postgresql" in backends and not postgres_available():
        print("PostgreSQL unreachable: skipping it", file=sys.stderr)
        backends.remove("postgresql")
    events = args.events or (20_000 if args.quick else 100_000)
    sizes = [10**3, 10**4, 10**5] + ([] if args.quick else [10**6])
    for backend in backends:
        if args.memory:
            bench_memory(backend, sorted(args.memory), args.statement_timeout)
            continue
        if args.verify_only:
            bench_verify(backend, events, args.rounds)
            continue
        saves = args.appends or (1000 if backend == "sqlite" else 500)
        bench_append(backend, saves, rounds=3 if args.quick else 7)
        bench_verify(backend, events, args.rounds)
        bench_proofs(backend, sizes)


if __name__ == "__main__":
    main()
