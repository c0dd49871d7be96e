"""Teams drafting and signing at once over HTTP on SQLite: 1 client, then 8 concurrent clients.

A real `uvicorn` process on 127.0.0.1 (a free port) serves a throw-away SQLite file set up like the demo: a
manager, eight supervisors each with one supervisee, and a token for each of them. Each client is one team:
its supervisor drafts a record (POST /api/v1/records) and shares it, and its supervisee signs it, over and
over, for the duration. Printed per run: requests, how many answered 503 (and other failures), p50/p99
latency, requests per second; and the throughput of 8 clients as a multiple of 1 client's (goal for issue
15: no 503, p99 < 500 ms, at least 1x).

    uv run python benchmarks/team_load.py [--seconds 60] [--clients 8] [--backend sqlite]
"""

import argparse
import base64
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
timer = threading.Timer(float(sys.argv[2]), lambda: os._exit(3))  # bounded: the server stops itself
timer.daemon = True
timer.start()
import uvicorn
from api.http import create_app
uvicorn.run(create_app(background_projections=True), host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
"""

CONTENT = {"session_date": "2026-01-12", "attendees": ["Supervisor", "Worker"], "agenda": ["Caseload", "Wellbeing"],
           "discussion": "Reviewed caseload of 14; two cases ready to step down. " * 6,
           "actions": [{"description": "Update chronology", "owner": "Worker", "due": "2026-02-01"}],
           "case_discussions": [{"case_reference": "J.S.", "summary": "Plan reviewed", "decision": "Continue"}]}


def populate(settings, teams: int) -> list[tuple[str, str, str]]:  # type: ignore[no-untyped-def]
    """A manager over `teams` supervisors, each supervising one supervisee; returns per team the supervisor's
    token, the supervisee's token and the supervisee's worker id."""
    from api import demo_cast as cast
    from api.application import Storage, SupervisionApplication
    from benchmarks.common import master_key
    from infrastructure.checkpoints import create_signing_key_file

    key = master_key()
    settings.master_key_file.write_text(base64.b64encode(key).decode())
    create_signing_key_file(settings.signing_key_file, settings.organisation_origin)
    app = SupervisionApplication(Storage.open(settings, key))
    try:
        def join(name: str, category: str) -> str:
            return str(app.people.join_worker(cast.HR, name=name, role="Social work", category=category,
                                              start_date=date(2020, 1, 1)).id)
        manager = join("Morgan Manager", "manager")
        out = []
        for n in range(teams):
            supervisor, supervisee = join(f"Supervisor {n}", "manager"), join(f"Worker {n}", "experienced")
            app.allocation.allocate_supervisor(cast.HR, supervisor, manager)
            app.allocation.allocate_supervisor(cast.HR, supervisee, supervisor)
            tokens = []
            for username, role, worker in ((f"supervisor{n}", "supervisor", supervisor),
                                           (f"worker{n}", "supervisee", supervisee)):
                app.people.users.add_user(username, role, worker_id=worker, created_by="bench")
                tokens.append(app.people.users.issue_token(username, days=1).token)
            out.append((tokens[0], tokens[1], supervisee))
        return out
    finally:
        app.close()
        app.storage.engine.dispose()


def serve(settings, lifetime: float):  # type: ignore[no-untyped-def]
    import httpx

    from tests.test_http_uvicorn import free_port

    port = free_port()
    env = {**os.environ, "SVL_DATABASE_URL": settings.database_url, "SVL_DATABASE_SCHEMA": settings.database_schema,
           "SVL_MASTER_KEY_FILE": str(settings.master_key_file), "SVL_SIGNING_KEY_FILE": str(settings.signing_key_file),
           "SVL_CHECKPOINT_DIR": str(settings.master_key_file.parent / "checkpoints")}
    process = subprocess.Popen([sys.executable, "-c", SERVER, str(port), str(lifetime)], cwd=ROOT, env=env)
    base = f"http://127.0.0.1:{port}"
    while process.poll() is None:  # up when it answers; the server's own timer bounds the wait
        try:
            if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                return process, base
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"the server exited with {process.returncode} before answering")


class Tally:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latencies: list[float] = []
        self.unavailable = 0
        self.failed: dict[int, int] = {}
        self.cycles = 0

    def note(self, status: int, elapsed: float) -> None:
        with self.lock:
            self.latencies.append(elapsed)
            if status == 503:
                self.unavailable += 1
            elif status >= 300:
                self.failed[status] = self.failed.get(status, 0) + 1


def team(base: str, supervisor: str, supervisee: str, worker_id: str, deadline: float, tally: Tally) -> None:
    """One team's loop: draft, share, sign, until the deadline."""
    import httpx

    with httpx.Client(base_url=base, timeout=60) as http:
        def call(token: str, path: str, body: dict) -> httpx.Response:
            started = time.perf_counter()
            response = http.post(path, json=body, headers={"Authorization": f"Bearer {token}"})
            tally.note(response.status_code, time.perf_counter() - started)
            return response

        while time.monotonic() < deadline:
            drafted = call(supervisor, "/api/v1/records", {"supervisee_id": worker_id, "content": CONTENT})
            if drafted.status_code != 201:
                continue
            record = drafted.json()
            shared = call(supervisor, f"/api/v1/records/{record['record_id']}/share",
                          {"expected_version": record["version"]})
            if shared.status_code != 200:
                continue
            step = shared.json()
            signed = call(supervisee, f"/api/v1/records/{record['record_id']}/sign",
                          {"content_sha256": step["content_sha256"], "expected_version": step["version"]})
            if signed.status_code == 200:
                with tally.lock:
                    tally.cycles += 1


def run(base: str, teams: list[tuple[str, str, str]], seconds: float) -> dict:
    tally = Tally()
    deadline = time.monotonic() + seconds
    started = time.perf_counter()
    threads = [threading.Thread(target=team, args=(base, *t, deadline, tally)) for t in teams]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    latencies = sorted(tally.latencies) or [0.0]
    return {"requests": len(tally.latencies), "unavailable": tally.unavailable, "failed": tally.failed,
            "signed": tally.cycles, "per_second": len(tally.latencies) / wall,
            "p50_ms": 1000 * statistics.median(latencies),
            "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]}


def bench(backend: str, args) -> None:  # type: ignore[no-untyped-def]
    from benchmarks.common import scratch_settings

    with scratch_settings(backend) as settings:
        teams = populate(settings, args.clients)
        process, base = serve(settings, lifetime=3 * args.seconds + 120)
        try:
            run(base, teams[:1], min(3.0, args.seconds))  # warm the server
            results = {}
            for clients in (1, args.clients):
                r = results[clients] = run(base, teams[:clients], args.seconds)
                failed = ", ".join(f"{n} x {s}" for s, n in sorted(r["failed"].items())) or "none"
                print(f"{backend:10} {clients} client{'s' if clients > 1 else ' '}: {r['requests']:6} requests "
                      f"({r['signed']} records signed), {r['unavailable']} x 503, other failures: {failed}; "
                      f"p50 {r['p50_ms']:7.1f} ms  p99 {r['p99_ms']:7.1f} ms  {r['per_second']:6.1f} requests/s",
                      flush=True)
            ratio = results[args.clients]["per_second"] / results[1]["per_second"]
            print(f"{backend:10} {args.clients} clients = {ratio:.2f}x the throughput of 1 client")
        finally:
            process.terminate()
            process.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], action="append")
    parser.add_argument("--seconds", type=float, default=60.0, help="how long each run lasts (default 60)")
    parser.add_argument("--clients", type=int, default=8, help="the concurrent run's clients (default 8)")
    args = parser.parse_args()
    from benchmarks.common import chosen_backends

    print(f"Teams drafting, sharing and signing over HTTP, 1 vs {args.clients} clients, {args.seconds:.0f} s each, "
          f"one uvicorn worker on 127.0.0.1 (as svl serve: background projections); {os.cpu_count()} CPUs")
    for backend in chosen_backends(args.backend or ["sqlite"]):
        bench(backend, args)


if __name__ == "__main__":
    main()
