"""The web interface against the JSON API answering the same query, in the same run: a supervisor's list of
records and one record page (a logged read, like the API's), at demo scale and after adding records up to a
total of 10,000. Server time per request, measured in-process through the ASGI app (no network, the same
client for both), as p50 and p99; the ratio is web / API (goal: within 1.5x).

    uv run python benchmarks/web.py [--backend sqlite] [--records 10000] [--samples 200]
"""

import argparse
import re
import statistics
import sys
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fastapi.testclient import TestClient  # noqa: E402

from api.demo import load_demo  # noqa: E402
from api.http import create_app  # noqa: E402
from benchmarks.common import chosen_backends, master_key, scratch_settings  # noqa: E402


def timed(client: TestClient, path: str, headers: dict[str, str] | None = None) -> float:
    started = time.perf_counter()
    answer = client.get(path, headers=headers or {})
    elapsed = time.perf_counter() - started
    assert answer.status_code == 200, (path, answer.status_code, answer.text[:200])
    return elapsed


def percentiles(times: list[float]) -> tuple[float, float]:
    ordered = sorted(times)
    return statistics.median(ordered) * 1000, ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000


def compare(label: str, web: TestClient, api: TestClient, token: str, web_path: str, api_path: str,
            samples: int) -> None:
    web_times, api_times = [], []
    for _ in range(3):  # warm: templates compiled, caches filled
        timed(web, web_path), timed(api, api_path, {"Authorization": f"Bearer {token}"})
    for _ in range(samples):  # interleaved, so both see the same machine
        web_times.append(timed(web, web_path))
        api_times.append(timed(api, api_path, {"Authorization": f"Bearer {token}"}))
    (w50, w99), (a50, a99) = percentiles(web_times), percentiles(api_times)
    print(f"  {label:<34} web p50 {w50:7.1f} ms  p99 {w99:7.1f} ms | API p50 {a50:7.1f} ms  p99 {a99:7.1f} ms"
          f" | web/API p50 {w50 / a50:4.2f}x  p99 {w99 / a99:4.2f}x")


def signed_in(api_app, username: str) -> TestClient:  # noqa: ANN001
    client = TestClient(api_app)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/sign-in").text).group(1)  # type: ignore
    assert client.post("/sign-in/demo", data={"csrf_token": csrf, "username": username},
                       follow_redirects=False).status_code == 303
    return client


def bench(backend: str, total: int, samples: int) -> None:
    with scratch_settings(backend) as settings:
        api_app = create_app(settings, master_key())
        ledger = api_app.state.application
        tokens = {u: t for u, _, t in load_demo(ledger)["tokens"]}
        web, api = signed_in(api_app, "daniel"), TestClient(api_app)
        daniel = ledger.people.users.require("daniel")["worker_id"]
        record = next(r["record_id"] for r in ledger.access.readable_records(ledger.people.users.principal("daniel",
                                                                                                           "bench"))
                      if r["supervisor_id"] == daniel)
        print(f"{backend}: the demo ({len(ledger.access.readable_records(ledger.people.users.principal('daniel', 'b')))} "
              f"records daniel may read)")
        compare("list of records", web, api, tokens["daniel"], "/records", "/api/v1/records", samples)
        compare("one record (a logged read)", web, api, tokens["daniel"], f"/records/{record}",
                f"/api/v1/records/{record}", samples)

        supervisees = [r["worker_id"] for r in ledger.scheduling.compliance_dashboard(team=daniel).as_dicts()]
        existing = len(ledger.access.readable_records(ledger.people.users.principal("daniel", "b")))
        started = time.perf_counter()
        day = date(2026, 11, 30)
        as_daniel = ledger.people.users.principal("daniel", "bench")
        for n in range(max(0, total - existing)):
            ledger.records.draft_record(as_daniel, supervisee_id=supervisees[n % len(supervisees)], content={
                "session_date": (day - timedelta(days=n % 700)).isoformat(), "attendees": ["Daniel Okafor"],
                "agenda": ["Caseload"], "discussion": f"Synthetic record {n} for the benchmark."})
        readable = len(ledger.access.readable_records(ledger.people.users.principal("daniel", "b")))
        print(f"{backend}: {readable} records daniel may read (added in {time.perf_counter() - started:.0f} s)")
        few = max(10, samples // 10)
        compare("list of records", web, api, tokens["daniel"], "/records", "/api/v1/records", few)
        compare("one record (a logged read)", web, api, tokens["daniel"], f"/records/{record}",
                f"/api/v1/records/{record}", samples)
        ledger.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", action="append", choices=["sqlite", "postgresql"])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--samples", type=int, default=200)
    args = parser.parse_args()
    for backend in chosen_backends(args.backend):
        bench(backend, args.records, args.samples)


if __name__ == "__main__":
    main()
