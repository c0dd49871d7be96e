"""Storage fixtures: every storage test runs on a real SQLite file and on the real PostgreSQL server.

With CI=true an unreachable PostgreSQL fails the run; elsewhere its tests are skipped with the reason.
"""

import os
import secrets
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import psycopg
import pytest

from infrastructure.settings import Settings

# pytest-xdist workers start with COLUMNS=80, which rich would fix as the CLI's width when it is imported;
# the CLI tests set their own width per invocation.
os.environ.pop("COLUMNS", None)

POSTGRES_URL = os.environ.get("SVL_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _postgres_unreachable() -> str | None:
    try:
        with psycopg.connect(POSTGRES_URL, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
        return None
    except psycopg.Error as exc:
        return f"PostgreSQL at {POSTGRES_URL} is unreachable: {exc}"


def _drop_schema(schema: str) -> None:
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", "postgresql"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    """Settings for a fresh, empty database on the backend named by the test id."""
    # Every file the product writes stays in the test's own directory.
    # Keys apart from the database's folder, as the product requires (a backup of that folder must not hold them).
    (tmp_path / "keys").mkdir()
    keys = {"master_key_file": tmp_path / "keys" / "master.key", "signing_key_file": tmp_path / "keys" / "signing.key",
            "certificate_dir": tmp_path / "certificates"}
    if request.param == "sqlite":
        yield Settings(database_url=f"sqlite:///{tmp_path}/data/svl.db", **keys)
        return
    problem = _postgres_unreachable()
    if problem:
        if IN_CI:
            pytest.fail(f"{problem} (CI=true: PostgreSQL tests must run, not skip)")
        pytest.skip(problem)
    schema = f"svl_test_{uuid.uuid4().hex[:12]}"
    try:
        yield Settings(database_url=POSTGRES_URL, database_schema=schema, **keys)
    finally:
        _drop_schema(schema)


@pytest.fixture
def master_key() -> bytes:
    return secrets.token_bytes(32)


class SteppingClock:
    """A clock the test controls: each reading moves one minute on, unless set."""

    def __init__(self, start: datetime = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)) -> None:
        self.now = start

    def __call__(self) -> datetime:
        self.now += timedelta(minutes=1)
        return self.now

    def set(self, when: datetime) -> None:
        self.now = when


@pytest.fixture
def clock() -> SteppingClock:
    return SteppingClock()


@pytest.fixture
def application(settings: Settings, master_key: bytes, clock: SteppingClock) -> Iterator["object"]:
    from api.application import Storage, SupervisionApplication

    storage = Storage.open(settings, master_key=master_key)
    app = SupervisionApplication(storage, clock)
    try:
        yield app
    finally:
        app.close()
        storage.engine.dispose()
