"""Real outages, bounded waits: a PostgreSQL that stops accepting connections (a TCP gate in front of the real
server is closed, cutting every live connection, then reopened), PostgreSQL tables locked by another session, and
an SQLite write lock held by another connection. Each answers 503 with Retry-After within the configured bounds
and service resumes as soon as the database is back. The waits are bounded by pytest-timeout; the measured times
are printed (`pytest -s`)."""

import dataclasses
import sqlite3
import time
from collections.abc import Iterator
from datetime import date
from typing import Any

import psycopg
import pytest

from infrastructure.settings import Settings
from tests.conftest import POSTGRES_URL
from tests.support.gate import Gate
from tests.support.world import World, build_world

# Bounds for the drills (the defaults are 3 s to connect and 5 s for a lock): small, to keep the suite quick.
BOUNDS = {"database_connect_timeout": 2.0, "database_lock_timeout": 2.0, "database_statement_timeout": 10.0,
          "database_write_wait": 2.0}


def timed(call: Any) -> tuple[Any, float]:
    started = time.monotonic()
    result = call()
    return result, time.monotonic() - started


def first_success(call: Any) -> tuple[Any, float]:
    """Repeats `call` until it answers 2xx (bounded by the test's timeout); returns it and the time it took."""
    started = time.monotonic()
    while True:
        response = call()
        if response.status_code < 300:
            return response, time.monotonic() - started
        time.sleep(0.05)


def assert_outage(response: Any) -> None:
    assert response.status_code == 503, response.text
    assert response.headers.get("retry-after", "").isdigit(), response.headers
    assert "Traceback" not in response.text


def join_body(name: str) -> dict:
    return {"name": name, "role": "Social work", "category": "experienced", "start_date": str(date(2024, 1, 1))}


@pytest.fixture
def bounded(settings: Settings) -> Settings:
    return dataclasses.replace(settings, **BOUNDS)


@pytest.fixture
def gated(bounded: Settings, master_key: bytes, clock: Any) -> Iterator[tuple[World, Gate]]:
    url = psycopg.conninfo.conninfo_to_dict(POSTGRES_URL)
    gate = Gate((str(url.get("host", "127.0.0.1")), int(url.get("port", 5432))))
    through_gate = dataclasses.replace(
        bounded, database_url=f"postgresql://{url.get('user', 'postgres')}@127.0.0.1:{gate.port}/{url['dbname']}")
    world = build_world(through_gate, master_key, clock)
    try:
        yield world, gate
    finally:
        if not gate.is_open:
            gate.open()
        world.app.close()
        world.app.storage.engine.dispose()
        gate.close()


@pytest.mark.timeout(90)
@pytest.mark.parametrize("settings", ["postgresql"], indirect=True)
def test_postgresql_refusing_connections_answers_503_fast_and_resumes(gated: tuple[World, Gate]) -> None:
    world, gate = gated
    record = world.records["W"]
    assert world.get("sam", f"/records/{record}").status_code == 200
    gate.close()
    health, t_health = timed(lambda: world.client.get("/health"))
    me, t_me = timed(lambda: world.get("sam", "/me"))
    read, t_read = timed(lambda: world.get("sam", f"/records/{record}"))
    write, t_write = timed(lambda: world.post("hana", "/workers", join_body("Ola Outage")))
    for response in (health, me, read, write):
        assert_outage(response)
    gate.open()
    back, t_back = first_success(lambda: world.get("sam", f"/records/{record}"))
    assert back.json()["record_id"] == record
    joined, t_join = timed(lambda: world.post("hana", "/workers", join_body("Ola Returned")))
    assert joined.status_code == 201, joined.text
    assert world.client.get("/health").status_code == 200
    print(f"\nPostgreSQL refusing connections: /health 503 in {t_health:.2f} s, /me {t_me:.2f} s, "
          f"record read {t_read:.2f} s, write {t_write:.2f} s; first 2xx {t_back:.2f} s after the database "
          f"returned; next write {t_join:.2f} s")


@pytest.mark.timeout(90)
@pytest.mark.parametrize("settings", ["postgresql"], indirect=True)
def test_postgresql_tables_locked_by_another_session_answer_503_fast_and_resume(
        bounded: Settings, master_key: bytes, clock: Any) -> None:
    world = build_world(bounded, master_key, clock)
    try:
        record = world.records["W"]
        with psycopg.connect(POSTGRES_URL) as locker:
            tables = [r[0] for r in locker.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = %s", (bounded.database_schema,))]
            assert "api_tokens" in tables
            locker.execute("; ".join(f'LOCK TABLE "{bounded.database_schema}"."{t}" IN ACCESS EXCLUSIVE MODE'
                                     for t in tables))
            health, t_health = timed(lambda: world.client.get("/health"))
            read, t_read = timed(lambda: world.get("sam", f"/records/{record}"))
            write, t_write = timed(lambda: world.post("hana", "/workers", join_body("Lou Locked")))
            for response in (health, read, write):
                assert_outage(response)
            locker.rollback()  # the locks go
            back, t_back = first_success(lambda: world.get("sam", f"/records/{record}"))
        joined = world.post("hana", "/workers", join_body("Lou Unlocked"))
        assert joined.status_code == 201, joined.text
        assert back.json()["record_id"] == record
        print(f"\nPostgreSQL tables locked: /health 503 in {t_health:.2f} s, record read {t_read:.2f} s, "
              f"write {t_write:.2f} s; first 2xx {t_back:.2f} s after the locks were released")
    finally:
        world.app.close()
        world.app.storage.engine.dispose()


@pytest.mark.timeout(60)
@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_a_held_sqlite_write_lock_stalls_no_token_check_and_writes_answer_503_within_the_bound(
        bounded: Settings, master_key: bytes, clock: Any) -> None:
    world = build_world(bounded, master_key, clock)
    try:
        holder = sqlite3.connect(bounded.sqlite_path, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")  # another process's writer, holding the lock
        try:
            health, t_health = timed(lambda: world.client.get("/health"))
            assert health.status_code == 200, health.text
            refused, t_refused = timed(lambda: world.client.get(
                "/api/v1/ledger/checkpoint", headers={"Authorization": "Bearer svl_not-a-token"}))
            assert refused.status_code == 401
            known, t_known = timed(lambda: world.client.get("/api/v1/ledger/checkpoint", headers=world.auth("sam")))
            assert known.status_code in (200, 404), known.text  # authenticated: the token check read, unblocked
            write, t_write = timed(lambda: world.post("hana", "/workers", join_body("Wyn Waiting")))
            assert_outage(write)
        finally:
            holder.rollback()
            holder.close()
        joined = world.post("hana", "/workers", join_body("Wyn Written"))
        assert joined.status_code == 201, joined.text
        print(f"\nSQLite write lock held: /health 200 in {t_health:.2f} s, bad token 401 in {t_refused:.2f} s, "
              f"good token served in {t_known:.2f} s, write 503 in {t_write:.2f} s")
    finally:
        world.app.close()
        world.app.storage.engine.dispose()
