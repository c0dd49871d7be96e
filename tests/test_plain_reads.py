"""infrastructure/plain_reads.py: the reads of `svl records` with the database driver alone."""

import sqlite3
from dataclasses import replace

import psycopg
import psycopg2.errors
import pytest

from infrastructure.plain_reads import DatabaseMissing, plain_reader
from infrastructure.settings import Settings
from tests.conftest import POSTGRES_URL


def _sql(settings: Settings, *statements: str) -> None:
    """Committed by a session of its own, as another process would."""
    if settings.is_sqlite:
        settings.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
        with sqlite3.connect(settings.sqlite_path, isolation_level=None) as conn:
            for statement in statements:
                conn.execute(statement)
        return
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'SET search_path TO "{settings.database_schema}"')
        for statement in statements:
            conn.execute(statement)


def test_every_query_of_one_reader_reads_one_snapshot_and_on_postgresql_writes_nothing(settings: Settings) -> None:
    if settings.is_sqlite:  # as the application's engine sets it: a reader waits for no writer
        _sql(settings, "PRAGMA journal_mode=WAL")
    else:
        _sql(settings, f'CREATE SCHEMA "{settings.database_schema}"')
    _sql(settings, "CREATE TABLE probe (n INTEGER)", "INSERT INTO probe VALUES (1)")
    with plain_reader(settings) as db:
        assert db.value("SELECT count(*) FROM probe") == 1
        _sql(settings, "INSERT INTO probe VALUES (2)")
        assert db.value("SELECT count(*) FROM probe") == 1
        if not settings.is_sqlite:
            assert db.rows("SHOW transaction_isolation") == [{"transaction_isolation": "repeatable read"}]
            with pytest.raises(psycopg2.errors.ReadOnlySqlTransaction):
                db.rows("INSERT INTO probe VALUES (3)")
    with plain_reader(settings) as db:
        assert db.value("SELECT count(*) FROM probe") == 2


def test_a_database_it_cannot_open_is_the_drivers_error(settings: Settings) -> None:
    if settings.is_sqlite:
        with pytest.raises(DatabaseMissing), plain_reader(settings):
            pass
        return
    missing = replace(settings, database_url=POSTGRES_URL.rsplit("/", 1)[0] + "/svl_no_such_database")
    with pytest.raises(psycopg2.OperationalError, match="svl_no_such_database"), plain_reader(missing) as db:
        db.value("SELECT 1")
