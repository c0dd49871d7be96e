"""Records drafted and signed per second: our full write path vs plain `eventsourcing`.

For each backend, in one run:
  plain-native     the library's own recorder (eventsourcing.sqlite / eventsourcing.postgres): the same
                   aggregate and commands, no encryption, no ledger, no projection — the baseline;
  plain-sqlalchemy eventsourcing-sqlalchemy's recorder, same as above (the store we decided against);
  svl              SupervisionApplication: sealed per-worker keys, ledger leaves in the same transaction,
                   read models updated after every command.
  svl, floor       (--floor) the same with no projection at all: the projector is stopped, so what is left is
                   what a records system must do on each write (sealing, the ledger leaf, key rows, the
                   unchanged-file and destroyed-key checks, the synchronous commit); the limit of the rows above.
Each row also gives the process's CPU time per record (all its threads: the projector's too), which a machine
loaded by others disturbs far less than the rates, whose commits wait on fsync. The load average is printed.
A record is drafted, shared, signed by the supervisee and signed by the supervisor: 4 events, 4 commands.
Then: the time to rebuild every read model from zero for 10,000 records.

    uv run python benchmarks/append.py [--records 300] [--rebuild-records 10000] [--backend sqlite] [--floor]
"""

import argparse
import os
import resource
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from eventsourcing.application import Application  # noqa: E402

from api import demo_cast as cast
from api.application import DateAsISO, Storage, SupervisionApplication  # noqa: E402
from benchmarks.common import FastClock, chosen_backends, master_key, rate, scratch_settings  # noqa: E402
from domain.supervision_record import SupervisionRecord  # noqa: E402
from infrastructure.checkpoints import create_signing_key_file  # noqa: E402
from infrastructure.database import create_schema, make_engine  # noqa: E402
from infrastructure.event_store import eventsourcing_env  # noqa: E402

CONTENT = {
    "session_date": "2026-01-05", "attendees": ["Supervisor", "Worker"], "agenda": ["Caseload", "Wellbeing"],
    "discussion": "Reviewed caseload of 14; two cases ready to step down. " * 4,
    "actions": [{"description": "Update chronology", "owner": "Worker", "due": "2026-01-12"}],
    "case_discussions": [{"case_reference": "J.S.", "summary": "Plan reviewed", "decision": "Continue"}],
}


class PlainLedger(Application):
    """The baseline: the same aggregate and the same four commands, nothing else."""

    name = "SupervisionLedger"

    def register_transcodings(self, transcoder):  # type: ignore[no-untyped-def]
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())

    def one_record(self, clock: FastClock) -> None:
        record = SupervisionRecord.draft(supervisee_id="w", supervisor_id="s", content=CONTENT, actor="s",
                                         timestamp=clock())
        self.save(record)
        for step in (lambda r: r.share(actor="s", timestamp=clock()),
                     lambda r: r.sign(r.content_sha256, actor="w", timestamp=clock()),
                     lambda r: r.sign(r.content_sha256, actor="s", timestamp=clock())):
            record = self.repository.get(record.id)
            step(record)
            self.save(record)


def plain_env(settings, module: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    env = eventsourcing_env(settings)
    env.pop("APPLICATION_RECORDER_TOPIC")
    if module == "sqlalchemy":
        url = f"sqlite:///{settings.sqlite_path}" if settings.is_sqlite else \
            settings.database_url.replace("postgresql://", "postgresql+psycopg://")
        env = {"PERSISTENCE_MODULE": "eventsourcing_sqlalchemy", "SQLALCHEMY_URL": url}
        if not settings.is_sqlite:
            env["SQLALCHEMY_URL"] += f"?options=-csearch_path%3D{settings.database_schema}"
    return env


def process_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def timed(records: int, work: Callable[[], None]) -> tuple[float, float]:
    """Records per second, and the process's CPU milliseconds per record."""
    before = process_cpu()
    per_second = rate(records, work)
    return per_second, (process_cpu() - before) * 1000 / records


def bench_plain(backend: str, module: str, records: int) -> tuple[float, float]:
    with scratch_settings(backend) as settings:
        create_schema(make_engine(settings), settings)  # the schema must exist on PostgreSQL
        app = PlainLedger(env=plain_env(settings, module))
        clock = FastClock()
        app.one_record(clock)  # warm-up
        try:
            return timed(records, lambda: [app.one_record(clock) for _ in range(records)])
        finally:
            app.close()


def staffed_ledger(settings, background: bool = False) -> tuple[SupervisionApplication, str,
                                                                str]:  # type: ignore[no-untyped-def]
    # With the signing key, automatic checkpoints (every 1000 events) are part of the measured write path.
    create_signing_key_file(settings.signing_key_file, settings.organisation_origin)
    app = SupervisionApplication(Storage.open(settings, master_key=master_key()), FastClock(),
                            background_projections=background)
    supervisor = str(app.people.join_worker(cast.HR, name="S", role="Team manager", category="manager",
                                            start_date=date(2020, 1, 1)).id)
    worker = str(app.people.join_worker(cast.HR, name="W", role="Social worker", category="experienced",
                                        start_date=date(2021, 1, 1)).id)
    app.allocation.allocate_supervisor(cast.HR, worker, supervisor)
    return app, supervisor, worker


def svl_record(app: SupervisionApplication, supervisor: str, worker: str) -> None:
    rid = app.records.draft_record(cast.supervisor(supervisor), supervisee_id=worker, content=CONTENT).id
    # The digest the supervisee signs comes from the share's answer, as a client gets it (the baseline, too,
    # signs the digest of the record it holds): no extra load that the baseline does not make.
    digest = app.records.share_record(cast.supervisor(supervisor), rid).content_sha256
    app.records.sign_record(cast.supervisee(worker), rid, digest)
    app.records.sign_record(cast.supervisor(supervisor), rid, digest)


def bench_svl(backend: str, records: int, background: bool, floor: bool = False) -> tuple[float, float]:
    """Timed until every read model has caught up too, so projection work is always counted. `floor`: nothing
    is projected (the projector thread is stopped before the first record, and commands only wake it)."""
    with scratch_settings(backend) as settings:
        app, supervisor, worker = staffed_ledger(settings, background or floor)
        if floor:
            app.read_models.stop()
        svl_record(app, supervisor, worker)

        def work() -> None:
            for _ in range(records):
                svl_record(app, supervisor, worker)
            if not floor:
                app.read_models.catch_up()

        try:
            return timed(records, work)
        finally:
            app.close()


def bench_rebuild(backend: str, records: int) -> tuple[int, float]:
    with scratch_settings(backend) as settings:
        app, supervisor, worker = staffed_ledger(settings)
        try:
            for n in range(records):
                svl_record(app, supervisor, worker)
                if n % 1000 == 999:
                    print(f"    {backend}: {n + 1} records written", file=sys.stderr)
            started = time.perf_counter()
            events = app.read_models.rebuild()
            return events, time.perf_counter() - started
        finally:
            app.close()


def load_average() -> str:
    return " ".join(f"{n:.2f}" for n in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=300)
    parser.add_argument("--rebuild-records", type=int, default=10_000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], action="append")
    parser.add_argument("--floor", action="store_true",
                        help="also our write path with no projection at all: the limit of the svl rows")
    args = parser.parse_args()
    backends = chosen_backends(args.backend)
    print(f"records drafted+shared+signed+signed per second ({args.records} records each, 4 events a record); "
          f"load average {load_average()}")
    for backend in backends:
        native, native_cpu = bench_plain(backend, "native", args.records)
        alchemy, alchemy_cpu = bench_plain(backend, "sqlalchemy", args.records)
        inline, inline_cpu = bench_svl(backend, args.records, background=False)
        batched, batched_cpu = bench_svl(backend, args.records, background=True)
        print(f"  {backend:10} plain-native {native:7.1f}/s, {native_cpu:.2f} ms CPU a record | plain-sqlalchemy "
              f"{alchemy:7.1f}/s, {alchemy_cpu:.2f} ms (native is {native / alchemy:.2f}x)")
        print(f"  {'':10} svl, background projections {batched:7.1f}/s = {batched / native:.0%} of plain-native "
              f"(goal >= 80%), {batched_cpu:.2f} ms CPU | svl, projections inline after each command {inline:7.1f}/s "
              f"= {inline / native:.0%} (goal >= 60%), {inline_cpu:.2f} ms CPU")
        if args.floor:
            floor, floor_cpu = bench_svl(backend, args.records, background=True, floor=True)
            print(f"  {'':10} svl, no projection (the floor) {floor:7.1f}/s = {floor / native:.0%} of plain-native, "
                  f"{floor_cpu:.2f} ms CPU")
        print(f"  {'':10} load average {load_average()}")
    if args.rebuild_records:
        print(f"rebuilding every read model from zero after {args.rebuild_records} records")
        for backend in backends:
            events, seconds = bench_rebuild(backend, args.rebuild_records)
            print(f"  {backend:10} {events} events in {seconds:.1f} s = {events / seconds:,.0f} events/s")


if __name__ == "__main__":
    main()
