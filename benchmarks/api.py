"""Authenticated record reads per second over HTTP, with the access log vs with it switched off.

For each backend: a populated organisation, a real `uvicorn` process on 127.0.0.1, and a bounded load from a
second process (C keep-alive clients, N reads in total, capped in time). The same reads run against a server
built with `create_app(log_reads=False)` — a switch that exists for this benchmark only — and the cost of
logging is 1 - logged/unlogged (goal: at most 10%). Each mode runs twice, alternating; the better run counts.
It prints too the CPU each read made (the server process's, and on PostgreSQL the database server's processes'),
mean of the runs: on two shared cores the rates move by more than the goal between runs of the same code.

    uv run python benchmarks/api.py [--backend sqlite] [--reads 3000] [--clients 4] [--records 40]

`--processes` measures instead what several server processes give on PostgreSQL: a real `svl serve --workers 1`
against `svl serve --workers 4` (alternating, twice each; the better run counts), 8 keep-alive clients doing
logged record reads, then joiners written (POST /workers), and `svl verify` over the whole log afterwards.

    uv run python benchmarks/api.py --processes [--reads 3000] [--writes 600] [--clients 8]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SERVER = """
import os, sys, threading
timer = threading.Timer(float(sys.argv[3]), lambda: os._exit(3))  # bounded: the server stops itself
timer.daemon = True
timer.start()
import uvicorn
from api import demo_cast as cast
from api.http import create_app
# projections in the background, as `svl serve` runs (otherwise each read would first project, inline, the log
# entries of the reads before it)
uvicorn.run(create_app(log_reads=sys.argv[2] == "1", background_projections=True), host="127.0.0.1",
            port=int(sys.argv[1]), log_level="warning")
"""


def populate(settings, records: int, checkpoints: bool = True) -> tuple[str, list[str]]:  # type: ignore[no-untyped-def]
    """Morgan line-manages two supervisors with six supervisees each; returns Morgan's token and record ids."""
    import base64

    from api import demo_cast as cast
    from api.application import Storage, SupervisionApplication
    from benchmarks.common import master_key

    key = master_key()
    settings.master_key_file.write_text(base64.b64encode(key).decode())
    try:  # automatic ledger checkpoints run after saves, access-log entries included: measure them too
        from infrastructure.checkpoints import create_signing_key_file

        if checkpoints:
            create_signing_key_file(settings.signing_key_file, settings.organisation_origin)
    except ImportError:
        pass
    app = SupervisionApplication(Storage.open(settings, key))
    try:
        join = lambda name, cat: str(app.people.join_worker(cast.HR, name=name, role="r", category=cat,  # noqa: E731
                                                            start_date=date(2020, 1, 1)).id)
        manager = join("Morgan Manager", "manager")
        supervisors = [join(f"Supervisor {i}", "manager") for i in range(2)]
        workers = [join(f"Worker {i}", "experienced") for i in range(12)]
        for s in supervisors:
            app.allocation.allocate_supervisor(cast.HR, s, manager)
        for i, w in enumerate(workers):
            app.allocation.allocate_supervisor(cast.HR, w, supervisors[i % 2])
        ids = []
        for n in range(records):
            w = workers[n % len(workers)]
            content = {"session_date": f"2026-0{1 + n % 9}-1{n % 9}", "attendees": ["Supervisor", "Worker"],
                       "agenda": ["Caseload", "Wellbeing"],
                       "discussion": "Reviewed caseload of 14; two cases ready to step down. " * 6,
                       "actions": [{"description": "Update chronology", "owner": "Worker", "due": "2026-02-01"}],
                       "case_discussions": [{"case_reference": "J.S.", "summary": "Plan reviewed",
                                             "decision": "Continue"}]}
            rid = app.records.draft_record(cast.supervisor(supervisors[workers.index(w) % 2]), supervisee_id=w,
                                           content=content).id
            app.records.share_record(cast.supervisor(supervisors[workers.index(w) % 2]), rid)
            ids.append(str(rid))
        app.people.users.add_user("morgan", "manager", worker_id=manager, created_by="bench")
        token = app.people.users.issue_token("morgan", days=1).token
        app.people.users.add_user("hana", "administrator", created_by="bench")
        HR_TOKEN.append(app.people.users.issue_token("hana", days=1).token)
        return token, ids
    finally:
        app.close()
        app.storage.engine.dispose()


HR_TOKEN: list[str] = []  # for the writes of --processes


def serve(settings, log_reads: bool, lifetime: int = 300) -> tuple[subprocess.Popen, str]:  # type: ignore[no-untyped-def]
    from tests.test_http_uvicorn import free_port

    import httpx

    port = free_port()
    env = {**os.environ, "SVL_DATABASE_URL": settings.database_url, "SVL_DATABASE_SCHEMA": settings.database_schema,
           "SVL_MASTER_KEY_FILE": str(settings.master_key_file), "SVL_SIGNING_KEY_FILE": str(settings.signing_key_file),
           # the server publishes its checkpoints beside its scratch keys, never into the work tree's data/
           # (whose checkpoints are signed by another key, so every automatic checkpoint would be refused)
           "SVL_CHECKPOINT_DIR": str(settings.master_key_file.parent / "checkpoints")}
    process = subprocess.Popen([sys.executable, "-c", SERVER, str(port), "1" if log_reads else "0", str(lifetime)],
                               cwd=ROOT, env=env)
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return process, base
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("the server did not start")


def load(base: str, token: str, ids: list[str], reads: int, clients: int, cap_seconds: float,
         write: bool = False) -> dict:
    """Runs in a second process: `clients` keep-alive clients share `reads` reads (or joiners written, with
    `write`), within `cap_seconds`."""
    import httpx

    headers = {"Authorization": f"Bearer {token}"}

    def one(http: httpx.Client, n: int) -> int:
        if write:
            return http.post("/api/v1/workers", json={"name": f"Joiner {n}", "role": "r", "category": "experienced",
                                                      "start_date": "2024-01-01"}).status_code
        return http.get(f"/api/v1/records/{ids[n % len(ids)]}").status_code
    latencies: list[float] = []
    failures = 0
    lock = threading.Lock()
    counter = iter(range(reads))
    deadline = time.monotonic() + cap_seconds

    def client() -> None:
        nonlocal failures
        with httpx.Client(base_url=base, headers=headers, timeout=30) as http:
            for n in counter:
                if time.monotonic() > deadline:
                    return
                started = time.perf_counter()
                status = one(http, n)
                elapsed = time.perf_counter() - started
                with lock:
                    latencies.append(elapsed)
                    failures += status not in (200, 201)

    for n in range(0 if write else min(50, len(ids))):  # warm the server's caches
        httpx.get(f"{base}/api/v1/records/{ids[n]}", headers=headers)
    started = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    latencies.sort()
    return {"reads": len(latencies), "failures": failures, "per_second": len(latencies) / wall,
            "p50_ms": 1000 * statistics.median(latencies),
            "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]}


def cpu_seconds(pids: list[int]) -> float:
    """User and system CPU of these processes (every thread of each), from /proc."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue  # ended meanwhile
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def database_pids(settings) -> list[int]:  # type: ignore[no-untyped-def]
    """PostgreSQL's own processes (its backends, WAL writer, checkpointer): a logged read's commit is their work too."""
    if settings.is_sqlite:
        return []
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "postgres":
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def measure(settings, token: str, ids: list[str], log_reads: bool, args) -> dict:  # type: ignore[no-untyped-def]
    process, base = serve(settings, log_reads)
    try:
        # CPU per read, beside the rate: on two shared cores the rates move by more than the goal between runs
        # of the same code, while the work each read makes (the server's, and the database server's) does not.
        database = database_pids(settings)
        before = cpu_seconds([process.pid]), cpu_seconds(database)
        out = subprocess.run([sys.executable, __file__, "--load", base, token, ",".join(ids), str(args.reads),
                              str(args.clients)], capture_output=True, text=True, timeout=180, check=True)
        database = sorted(set(database) | set(database_pids(settings)))
        result = json.loads(out.stdout)
        served = result["reads"] + min(50, len(ids))  # with the warm-up's
        result["server_cpu_ms"] = 1000 * (cpu_seconds([process.pid]) - before[0]) / served
        result["database_cpu_ms"] = 1000 * (cpu_seconds(database) - before[1]) / served
        return result
    finally:
        process.terminate()
        process.wait(timeout=10)


def bench(backend: str, args) -> None:  # type: ignore[no-untyped-def]
    from benchmarks.common import scratch_settings

    with scratch_settings(backend) as settings:
        token, ids = populate(settings, args.records, not args.no_checkpoints)
        runs: dict[bool, list[dict]] = {True: [], False: []}
        for log_reads in (True, False, True, False):
            runs[log_reads].append(measure(settings, token, ids, log_reads, args))
        best = {mode: max(r, key=lambda x: x["per_second"]) for mode, r in runs.items()}
        cost = 1 - best[True]["per_second"] / best[False]["per_second"]
        for mode, label in ((True, "with access log"), (False, "logging off   ")):
            r = best[mode]
            print(f"{backend:10} {label}: {r['per_second']:7.1f} reads/s  p50 {r['p50_ms']:6.2f} ms  "
                  f"p99 {r['p99_ms']:6.2f} ms  ({r['reads']} reads, {r['failures']} failed)")
        print(f"{backend:10} logging costs {100 * cost:.1f}% of the read rate (goal: at most 10%)")
        cpu = {mode: statistics.mean(r["server_cpu_ms"] + r["database_cpu_ms"] for r in rs) for mode, rs in runs.items()}
        for mode, label in ((True, "with access log"), (False, "logging off   ")):
            print(f"{backend:10} {label}: CPU a read {cpu[mode]:.2f} ms (server "
                  f"{statistics.mean(r['server_cpu_ms'] for r in runs[mode]):.2f}, database "
                  f"{statistics.mean(r['database_cpu_ms'] for r in runs[mode]):.2f}; mean of {len(runs[mode])} runs)")
        print(f"{backend:10} logging costs {100 * (cpu[True] / cpu[False] - 1):.1f}% more CPU a read")


def serve_workers(settings, workers: int) -> tuple[subprocess.Popen, str]:  # type: ignore[no-untyped-def]
    """A real `svl serve --workers N`, in its own process group (stopped as a whole afterwards)."""
    from tests.test_http_uvicorn import free_port

    import httpx

    port = free_port()
    env = {**os.environ, "SVL_DATABASE_URL": settings.database_url, "SVL_DATABASE_SCHEMA": settings.database_schema,
           "SVL_MASTER_KEY_FILE": str(settings.master_key_file), "SVL_SIGNING_KEY_FILE": str(settings.signing_key_file),
           "SVL_CHECKPOINT_DIR": str(settings.master_key_file.parent / "checkpoints")}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    svl = str(Path(sys.executable).parent / "svl")
    process = subprocess.Popen([svl, "serve", "--workers", str(workers), "--port", str(port)], cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    answered: set[int] = set()
    deadline = time.monotonic() + 300
    while len(answered) < workers and time.monotonic() < deadline:  # every worker up (each has its own pid)
        try:
            answered.add(httpx.get(f"{base}/ready", timeout=5).json()["process"])
        except (httpx.TransportError, ValueError):
            time.sleep(0.2)
        if process.poll() is not None:
            raise RuntimeError(f"svl serve exited with {process.returncode}")
    return process, base


def stop_workers(process: subprocess.Popen) -> None:
    import signal

    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def processes(args) -> None:  # type: ignore[no-untyped-def]
    from benchmarks.common import scratch_settings

    with scratch_settings("postgresql") as settings:
        token, ids = populate(settings, args.records)
        hr = HR_TOKEN[-1]
        runs: dict[int, list[dict]] = {1: [], 4: []}
        for workers in (1, 4, 1, 4):
            process, base = serve_workers(settings, workers)
            try:
                figures = {}
                for kind, who, count in (("reads", token, args.reads), ("writes", hr, args.writes)):
                    out = subprocess.run([sys.executable, __file__, "--load", base, who, ",".join(ids), str(count),
                                          str(args.clients), kind], capture_output=True, text=True, timeout=300,
                                         check=True)
                    figures[kind] = json.loads(out.stdout)
                runs[workers].append(figures)
            finally:
                stop_workers(process)
        svl = str(Path(sys.executable).parent / "svl")
        env = {**os.environ, "SVL_DATABASE_URL": settings.database_url, "SVL_DATABASE_SCHEMA": settings.database_schema,
               "SVL_MASTER_KEY_FILE": str(settings.master_key_file),
               "SVL_SIGNING_KEY_FILE": str(settings.signing_key_file),
               "SVL_CHECKPOINT_DIR": str(settings.master_key_file.parent / "checkpoints")}
        verified = subprocess.run([svl, "verify"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    best = {w: {k: max((r[k] for r in rs), key=lambda x: x["per_second"]) for k in ("reads", "writes")}
            for w, rs in runs.items()}
    for kind in ("reads", "writes"):
        for workers in (1, 4):
            r = best[workers][kind]
            print(f"postgresql {workers} process{'es' if workers > 1 else '  '} {kind:6}: {r['per_second']:7.1f} /s  "
                  f"p50 {r['p50_ms']:6.2f} ms  p99 {r['p99_ms']:7.2f} ms  ({r['reads']} done, {r['failures']} failed)")
        print(f"postgresql {kind}: 4 processes = {best[4][kind]['per_second'] / best[1][kind]['per_second']:.2f}x "
              f"one process")
    last = (verified.stdout.strip().splitlines() or [""])[-1]
    print(f"svl verify afterwards: exit {verified.returncode} ({last})")


def main() -> None:
    if sys.argv[1:2] == ["--load"]:
        base, token, ids, reads, clients = sys.argv[2:7]
        write = sys.argv[7:8] == ["writes"]
        print(json.dumps(load(base, token, ids.split(","), int(reads), int(clients), cap_seconds=120, write=write)))
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], action="append")
    parser.add_argument("--reads", type=int, default=3000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--records", type=int, default=40)
    parser.add_argument("--no-checkpoints", action="store_true", help="without automatic ledger checkpoints")
    parser.add_argument("--processes", action="store_true", help="1 vs 4 server processes on PostgreSQL")
    parser.add_argument("--writes", type=int, default=600)
    args = parser.parse_args()
    if args.processes:
        if args.clients == 4:
            args.clients = 8
        print(f"{args.reads} logged reads and {args.writes} writes over HTTP, {args.clients} clients, "
              f"svl serve --workers 1 vs 4 on 127.0.0.1; {os.cpu_count()} CPUs")
        processes(args)
        return
    from benchmarks.common import postgres_available

    backends = args.backend or ["sqlite"] + (["postgresql"] if postgres_available() else [])
    print(f"{args.reads} authenticated GET /api/v1/records/{{id}} by a line manager, {args.clients} clients, "
          f"one uvicorn worker on 127.0.0.1; {os.cpu_count()} CPUs")
    for backend in backends:
        bench(backend, args)


if __name__ == "__main__":
    main()
