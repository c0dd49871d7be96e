"""Shared set-up for the benchmarks: throw-away databases on both backends and a timing helper."""

import os
import secrets
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

import psycopg

from infrastructure.settings import Settings

POSTGRES_URL = os.environ.get("SVL_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def postgres_available() -> bool:
    try:
        with psycopg.connect(POSTGRES_URL, connect_timeout=3):
            return True
    except psycopg.Error:
        return False


@contextmanager
def scratch_settings(backend: str) -> Iterator[Settings]:
    """An empty database (a temp SQLite file, or a fresh PostgreSQL schema), removed afterwards."""
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "keys").mkdir()  # apart from the database's folder, as the product requires
        keys = {"master_key_file": Path(tmp) / "keys" / "master.key", "signing_key_file": Path(tmp) / "keys" / "signing.key"}
        if backend == "sqlite":
            yield Settings(database_url=f"sqlite:///{tmp}/data/bench.db", **keys)
            return
        schema = f"svl_bench_{uuid.uuid4().hex[:10]}"
        try:
            yield Settings(database_url=POSTGRES_URL, database_schema=schema, **keys)
        finally:
            with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def chosen_backends(selected: list[str] | None) -> list[str]:
    """The backends asked for (default both), less PostgreSQL when no server answers."""
    backends = list(selected or ["sqlite", "postgresql"])
    if "postgresql" in backends and not postgres_available():
        print("PostgreSQL unreachable: skipping it", file=sys.stderr)
        backends.remove("postgresql")
    return backends


def master_key() -> bytes:
    return secrets.token_bytes(32)


class FastClock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 5, 9, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        self.now += timedelta(milliseconds=1)
        return self.now


def rate(count: int, work: Callable[[], None]) -> float:
    """Runs work() and returns count per second."""
    started = time.perf_counter()
    work()
    return count / (time.perf_counter() - started)
