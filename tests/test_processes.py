"""Several server processes on PostgreSQL: a real `svl serve --workers 2` on 127.0.0.1, started by the test, with
connections pinned to one worker where it matters (tests/support/serving.py)."""

import json
import os
import re
import signal
import subprocess
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path
from uuid import UUID

import httpx
import pytest

from infrastructure.checkpoints import create_signing_key_file
from infrastructure.settings import Settings
from projections.runner import NAMES
from tests.support.ports import free_port
from tests.support.serving import METRICS_TOKEN, ROOT, SVL, Served, server_env, start_svl_serve, stop
from tests.support.world import SECRET, World, build_world, write_master_key
postgres_only = pytest.mark.parametrize("settings", ["postgresql"], indirect=True)


@pytest.fixture
def two_workers(settings: Settings, master_key: bytes, clock, tmp_path: Path) -> Iterator[tuple[World, Served]]:  # noqa: ANN001
    # The server runs on the real clock: tokens must be current, and what the world wrote (a minute a reading)
    # must not be stamped later than what the server writes next.
    clock.set(datetime.now(timezone.utc) - timedelta(days=1))
    create_signing_key_file(settings.signing_key_file, settings.organisation_origin)
    world = build_world(settings, master_key, clock)
    world.app.close()
    world.app.storage.engine.dispose()
    write_master_key(settings, master_key)
    served = start_svl_serve(server_env(settings, tmp_path, SVL_READ_MODEL_WAIT="2"), workers=2)
    try:
        served.wait_for(lambda: len(served.live_workers()) == 2)
        yield world, served
    finally:
        stop(served)


def auth(world: World, user: str) -> dict[str, str]:
    return world.auth(user)


def join(world: World, client: httpx.Client, name: str) -> str:
    joined = client.post("/api/v1/workers", headers=auth(world, "hana"),
                         json={"name": name, "role": "Social work", "category": "experienced",
                               "start_date": "2024-01-01"})
    assert joined.status_code == 201, joined.text
    return joined.json()["worker_id"]


def staff_ids(world: World, client: httpx.Client) -> set[str]:
    listed = client.get("/api/v1/workers", headers=auth(world, "hana"))
    assert listed.status_code == 200, listed.text
    return {w["worker_id"] for w in listed.json()}


@postgres_only
def test_a_write_on_one_process_is_read_on_the_other_at_once(two_workers) -> None:  # noqa: ANN001
    world, served = two_workers
    leader = served.leader()
    [follower] = [p for p in served.live_workers() if p != leader]
    for writer, reader in ((follower, leader), (leader, follower)):
        with served.pinned(writer) as on_writer, served.pinned(reader) as on_reader:
            worker_id = join(world, on_writer, f"Joined On {'Leader' if writer == leader else 'Follower'}")
            assert worker_id in staff_ids(world, on_reader)  # the very next query, on the other process
            assert served.answered_by(on_writer) == writer and served.answered_by(on_reader) == reader


@postgres_only
def test_a_query_waits_for_a_stopped_leader_boundedly_then_answers_503_naming_the_read_model(two_workers) -> None:  # noqa: ANN001
    world, served = two_workers
    leader = served.leader()
    [follower] = [p for p in served.live_workers() if p != leader]
    with served.pinned(follower) as client:
        os.kill(leader, signal.SIGSTOP)  # alive and holding the lead, but projecting nothing
        try:
            join(world, client, "Waiting Worker")
            waited = client.get("/api/v1/workers", headers=auth(world, "hana"))
            assert waited.status_code == 503 and waited.headers["retry-after"] == "2"
            assert "worker_files" in waited.json()["read_model"].split(", ")
            assert "the read models are behind the newest event" in waited.json()["detail"]
            assert "Waiting" not in waited.text
        finally:
            os.kill(leader, signal.SIGCONT)
        assert "Waiting Worker" in {w["name"] for w in client.get("/api/v1/workers", headers=auth(world, "hana")).json()}


@postgres_only
def test_a_destruction_in_another_process_makes_both_workers_answer_410(two_workers, tmp_path: Path) -> None:  # noqa: ANN001
    world, served = two_workers
    sam, record, kept = world.workers["W"], world.records["W"], world.records["X"]
    first, second = served.live_workers()
    with served.pinned(first) as a, served.pinned(second) as b:
        assert a.post(f"/api/v1/workers/{sam}/leave", headers=auth(world, "hana"),
                      json={"leaving_date": "2020-01-31"}).status_code == 200
        for client in (a, b):  # both processes decrypt and cache the record, its key and the other file's
            read = client.get(f"/api/v1/records/{record}", headers=auth(world, "morgan"))
            assert read.status_code == 200 and read.json()["content"]["discussion"] == SECRET
            assert client.get(f"/api/v1/records/{kept}", headers=auth(world, "morgan")).status_code == 200
        assert a.post(f"/api/v1/workers/{sam}/archive", headers=auth(world, "hana")).status_code == 200
        def svl(*args: str) -> subprocess.CompletedProcess:
            return subprocess.run([SVL, *args], cwd=ROOT, env=served.env, capture_output=True, text=True, timeout=300)

        proposed = svl("retention", "propose", "--as", "dana", "--json")
        assert proposed.returncode == 0, proposed.stdout + proposed.stderr
        approved = svl("retention", "approve", json.loads(proposed.stdout)["proposal_id"], "--rationale", "due", "--as", "hana")
        assert approved.returncode == 0, approved.stdout + approved.stderr
        ran = svl("retention", "run", "--as", "dana")
        assert ran.returncode == 0, ran.stdout + ran.stderr
        assert f"destroyed: worker {sam[:8]}" in ran.stdout
        for client in (a, b):
            gone = client.get(f"/api/v1/records/{record}", headers=auth(world, "morgan"))
            assert gone.status_code == 410 and SECRET not in gone.text, gone.text
            assert client.get(f"/api/v1/records/{kept}", headers=auth(world, "morgan")).status_code == 200
        assert {served.answered_by(a), served.answered_by(b)} == {first, second}


@postgres_only
def test_killing_the_leader_hands_projection_to_another_process(two_workers) -> None:  # noqa: ANN001
    world, served = two_workers
    leader = served.leader()
    os.kill(leader, signal.SIGKILL)
    # uvicorn starts a replacement; whichever process asks first after the lock's connection closes leads.
    served.wait_for(lambda: len(served.live_workers()) == 2 and served.ready >= 3)
    new_leader = None
    while new_leader is None:
        for pid in served.live_workers():
            with served.pinned(pid) as client:
                if client.get("/ready").json()["projects"]:
                    new_leader = pid
    assert new_leader != leader
    for pid in served.live_workers():
        with served.pinned(pid) as client:
            worker_id = join(world, client, "After The Leader")
            assert worker_id in staff_ids(world, client)
    metrics = httpx.get(f"{served.base}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}).text
    assert re.search(r"^svl_projection_leader 1\.0$", metrics, re.M), metrics


@postgres_only
def test_kill_9_of_a_worker_under_load_loses_no_acknowledged_write(two_workers, settings: Settings,
                                                                   master_key: bytes) -> None:
    world, served = two_workers
    acknowledged: list[str] = []
    progress = threading.Condition()
    stopping = threading.Event()

    def writer(n: int) -> None:
        count = 0
        while not stopping.is_set():
            count += 1
            try:
                with httpx.Client(base_url=served.base, timeout=60) as client:
                    answer = client.post("/api/v1/workers", headers=auth(world, "hana"),
                                         json={"name": f"Load Worker {n} {count}", "role": "Social work",
                                               "category": "experienced", "start_date": "2024-01-01"})
            except httpx.TransportError:
                continue  # cut off by the kill: not acknowledged, so nothing is owed
            if 200 <= answer.status_code < 300:
                with progress:
                    acknowledged.append(answer.json()["worker_id"])
                    progress.notify_all()

    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(writer, n) for n in range(4)]
        with progress:  # some writes acknowledged, then a worker killed with writes in flight
            progress.wait_for(lambda: len(acknowledged) >= 10)
            before_kill = len(acknowledged)
        os.kill(served.live_workers()[0], signal.SIGKILL)
        with progress:  # and the service goes on acknowledging writes afterwards
            progress.wait_for(lambda: len(acknowledged) >= before_kill + 20)
        stopping.set()
        for f in futures:
            f.result()
    from api.application import Storage, SupervisionApplication

    app = SupervisionApplication(Storage.open(settings, master_key), automatic_checkpoints=False)
    try:
        stored = {str(w.id) for w in (app.people.get_worker(wid) for wid in acknowledged)}
    finally:
        app.close()
        app.storage.engine.dispose()
    assert stored == set(acknowledged) and len(stored) >= 30
    verified = subprocess.run([SVL, "verify"], cwd=ROOT, env=served.env, capture_output=True, text=True, timeout=600)
    assert verified.returncode == 0, verified.stdout + verified.stderr


@postgres_only
def test_ready_and_metrics_say_how_far_each_read_model_is_and_name_nothing(two_workers) -> None:  # noqa: ANN001
    world, served = two_workers
    record = world.records["W"]
    with httpx.Client(base_url=served.base, timeout=60) as client:
        assert client.get(f"/api/v1/records/{record}", headers=auth(world, "morgan")).status_code == 200
        assert client.get("/api/v1/records/not-a-uuid", headers=auth(world, "morgan")).status_code == 422
        assert client.get(f"/api/v1/records/{record}").status_code == 401
        ready = client.get("/ready")
        assert ready.status_code == 200, ready.text
        report = ready.json()
        assert report["status"] == "ready" and report["database"] == "postgresql" and report["problems"] == []
        assert [m["name"] for m in report["read_models"]] == list(NAMES)
        assert all(m["lag"] >= 0 and m["stuck_at"] is None for m in report["read_models"])
        assert report["checkpoint"]["tree_size"] > 0 and report["checkpoint"]["age_seconds"] >= 0
        assert report["witnesses"] is None and report["process"] in served.live_workers()
        assert client.get("/metrics").status_code == 401
        assert client.get("/metrics", headers={"Authorization": "Bearer " + "x" * 40}).status_code == 401
        scraped = client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert scraped.status_code == 200
    text = scraped.text
    assert re.search(r'svl_http_requests_total\{method="GET",route="/api/v1/records/\{record_id\}",status="200"\} '
                     r'[1-9]', text), text
    assert 'route="/api/v1/records/{record_id}",status="401"' in text
    assert 'route="/api/v1/records/{record_id}",status="422"' in text
    for name in NAMES:
        assert f'svl_read_model_lag_events{{read_model="{name}"}}' in text
    assert "svl_checkpoint_age_seconds" in text and "svl_ready 1.0" in text
    for secret in (record, world.workers["W"], "Sam Worker", "morgan", SECRET, "not-a-uuid"):
        assert secret not in text


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_sqlite_refuses_several_workers_and_says_why(settings: Settings, tmp_path: Path) -> None:
    refused = subprocess.run([SVL, "serve", "--workers", "2", "--port", str(free_port())], cwd=ROOT,
                             env=server_env(settings, tmp_path), capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2
    said = " ".join((refused.stdout + refused.stderr).split())
    assert "--workers 2 needs PostgreSQL: SQLite lets one process write at a time" in said
    assert "Traceback" not in said


def test_a_destruction_by_one_application_drops_only_that_key_from_another(settings: Settings, master_key: bytes,
                                                                           clock) -> None:  # noqa: ANN001
    """Two applications on one database, as two processes would be: the reader caches both files, the other
    destroys one; the reader refuses the destroyed one at once (no wait for a timer) and keeps the other cached."""
    from datetime import date

    from api.application import Storage, SupervisionApplication
    from api.errors import Destroyed
    from tests.support.acting import acting
    from tests.support.retention import destroy_due

    create_signing_key_file(settings.signing_key_file, settings.organisation_origin)
    world = build_world(settings, master_key, clock)
    other = SupervisionApplication(Storage.open(settings, master_key), clock)
    try:
        reader, keyring = world.app, world.app.storage.keyring
        sam, xavier = world.workers["W"], world.workers["X"]
        doomed, kept = world.records["W"], world.records["X"]
        for record in (doomed, kept):
            reader.records.get_record(record)
        sams_key, xaviers_key = keyring.key_id_for(sam), keyring.key_id_for(xavier)
        keyring.EPOCH_CHECK_SECONDS = 3600  # the per-read check alone must do it, not the timer
        other.people.record_leaving(acting("hr"), sam, date(2020, 1, 31))
        other.retention.archive_leaver(acting("hr"), sam)
        [outcome] = destroy_due(other, clock.now.date())
        assert outcome.worker_id == sam
        with pytest.raises(Destroyed):
            reader.records.get_record(doomed)
        assert sams_key not in keyring._aeads and xaviers_key in keyring._aeads
        assert reader.repository.cache.get(UUID(kept)) is not None  # still cached: only the destroyed key went
        assert reader.records.get_record(kept).content["discussion"] == SECRET
    finally:
        other.close()
        other.storage.engine.dispose()
        world.app.close()
        world.app.storage.engine.dispose()


def test_a_command_on_cached_aggregates_notices_a_destruction_by_another_application_before_loading(
        settings: Settings, master_key: bytes, clock) -> None:  # noqa: ANN001
    """A sign loads the record and the supervisee's file, both cached (on PostgreSQL read ahead with the key
    epoch in one query): a destruction the other application made just before is noticed first, so neither is
    decrypted from a cached key, the sign is refused as destroyed, and nothing is stored."""
    from datetime import date

    from api.application import Storage, SupervisionApplication
    from api.errors import Destroyed
    from tests.support.acting import acting
    from tests.support.retention import destroy_due
    from tests.support.storage import event_rows

    create_signing_key_file(settings.signing_key_file, settings.organisation_origin)
    world = build_world(settings, master_key, clock)
    other = SupervisionApplication(Storage.open(settings, master_key), clock)
    try:
        signer, keyring = world.app, world.app.storage.keyring
        sam, doomed = world.workers["W"], world.records["W"]
        digest = signer.records.get_record(doomed).content_sha256  # the record is cached, as the file is
        assert signer.repository.cache.get(UUID(doomed)) is not None and signer.repository.cache.get(UUID(sam))
        keyring.EPOCH_CHECK_SECONDS = 3600  # the command's own look must do it, not the timer
        other.people.record_leaving(acting("hr"), sam, date(2020, 1, 31))
        other.retention.archive_leaver(acting("hr"), sam)
        [outcome] = destroy_due(other, clock.now.date())
        assert outcome.worker_id == sam
        stored = len(event_rows(signer))
        with pytest.raises(Destroyed):
            signer.records.sign_record(acting(sam), doomed, digest)
        assert len(event_rows(signer)) == stored
        assert keyring.key_id_for(sam) not in keyring._aeads
    finally:
        other.close()
        other.storage.engine.dispose()
        world.app.close()
        world.app.storage.engine.dispose()
