"""A few end-to-end checks against a real `uvicorn` process on 127.0.0.1 (a random free port), on both
backends. The server stops itself after a bounded lifetime even if the test run dies."""

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.support.world import SECRET, World, build_world, write_master_key
from tests.support.ports import free_port

ROOT = Path(__file__).resolve().parent.parent
LIFETIME_SECONDS = 1800  # only so that a server orphaned by a killed test run ends; tests stop it themselves
SERVER = """
import os, sys, threading
timer = threading.Timer(float(sys.argv[2]), lambda: os._exit(3))  # bounded: stops itself
timer.daemon = True
timer.start()
import uvicorn
from api.http import create_app
uvicorn.run(create_app(), host="127.0.0.1", port=int(sys.argv[1]), log_level="info", access_log=False)
"""
LISTENING = "Uvicorn running on"


def start_server(settings, lifetime: int = LIFETIME_SECONDS) -> tuple[subprocess.Popen, str]:  # noqa: ANN001
    port = free_port()
    env = {**os.environ, "SVL_DATABASE_URL": settings.database_url, "SVL_DATABASE_SCHEMA": settings.database_schema,
           "SVL_MASTER_KEY_FILE": str(settings.master_key_file), "SVL_SIGNING_KEY_FILE": str(settings.signing_key_file)}
    env.pop("SVL_MASTER_KEY", None)
    process = subprocess.Popen([sys.executable, "-c", SERVER, str(port), str(lifetime)], cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    # Waits for uvicorn to say it is listening, however long a loaded machine takes (pytest-timeout bounds it).
    assert process.stderr is not None
    said = []
    for line in process.stderr:
        said.append(line)
        if LISTENING in line:
            break
    else:
        process.wait()
        raise RuntimeError(f"uvicorn exited ({process.returncode}) before listening: {''.join(said)}")
    # Keep reading what it says, so a full pipe never blocks it.
    threading.Thread(target=process.stderr.read, daemon=True).start()
    return process, f"http://127.0.0.1:{port}"


def stop_server(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


@pytest.fixture
def served(settings, master_key, clock) -> Iterator[tuple[World, str]]:  # noqa: ANN001
    from datetime import datetime, timezone

    clock.set(datetime.now(timezone.utc))  # the server runs on the real clock: tokens and grants must be current
    world = build_world(settings, master_key, clock)
    world.app.close()
    world.app.storage.engine.dispose()
    write_master_key(settings, master_key)
    process, base = start_server(settings)
    try:
        yield world, base
    finally:
        stop_server(process)


def test_a_real_server_authenticates_authorises_logs_and_serves(served) -> None:  # noqa: ANN001
    world, base = served
    rid = world.records["W"]

    def auth(user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {world.tokens[user]}"}

    with httpx.Client(base_url=base, timeout=30) as http:
        assert http.get(f"/api/v1/records/{rid}").status_code == 401
        read = http.get(f"/api/v1/records/{rid}", headers=auth("sam"))
        assert read.status_code == 200 and read.json()["content"]["discussion"] == SECRET
        refused = http.get(f"/api/v1/records/{rid}", headers=auth("jo"))
        assert refused.status_code == 403 and SECRET not in refused.text
        stale = http.post(f"/api/v1/records/{rid}/share", headers=auth("alex"), json={"expected_version": 1})
        assert stale.status_code == 409 and stale.json()["current_version"] == 2
        assert http.get("/docs").status_code == 200
        assert "x-allowed-roles" in http.get("/openapi.json").text

        def one_read(_: int) -> int:
            return http.get(f"/api/v1/records/{rid}/history", headers=auth("morgan")).status_code

        with ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(one_read, range(24)))
        assert statuses == [200] * 24

        log = http.get("/api/v1/access-log", headers=auth("dana"), params={"record_id": rid}).json()
        outcomes = [(e["reader_username"], e["outcome"]) for e in log["entries"]]
        assert outcomes.count(("morgan", "allowed")) == 24
        assert ("sam", "allowed") in outcomes and ("jo", "denied") in outcomes
        assert all(e["client"] == "127.0.0.1" for e in log["entries"])
