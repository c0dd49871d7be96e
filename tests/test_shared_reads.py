"""One connection for a request's reads (infrastructure/database.py `shared_reads`): the reads of one request
check out one pooled connection, each read block is still a transaction of its own (a read sees what was
committed before it began, the request's own writes among them), a read inside another gets a connection of its
own, and after a failed read the next one starts on a fresh connection. Real SQLite file and real PostgreSQL."""

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, event, text

from infrastructure.database import create_schema, make_engine, reader, shared_reads, writer
from infrastructure.settings import Settings


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    engine = make_engine(settings)
    create_schema(engine, settings)
    with writer(engine).begin() as conn:
        conn.execute(text("CREATE TABLE shared_reads_probe (n INTEGER)"))
    try:
        yield engine
    finally:
        engine.dispose()


def checkouts(engine: Engine) -> list[int]:
    seen: list[int] = []
    event.listen(engine.pool, "checkout", lambda *_: seen.append(1))
    return seen


def count(engine: Engine) -> int:
    with reader(engine).connect() as conn:
        return conn.execute(text("SELECT COUNT(*) FROM shared_reads_probe")).scalar_one()


def test_a_requests_reads_share_one_checkout_and_each_sees_the_writes_committed_before_it(engine: Engine) -> None:
    seen = checkouts(engine)
    with shared_reads():
        assert count(engine) == 0
        with reader(engine).connect() as first:
            pass
        with writer(engine).begin() as conn:  # a write of the same request, on a writer's connection
            conn.execute(text("INSERT INTO shared_reads_probe VALUES (1)"))
        with reader(engine).connect() as again:
            assert again is first
            assert again.execute(text("SELECT COUNT(*) FROM shared_reads_probe")).scalar_one() == 1
        assert count(engine) == 1
    assert len(seen) == 2  # the reads' one connection, and the writer's
    seen.clear()
    assert count(engine) == 1 and count(engine) == 1  # outside a request: a checkout per read, as before
    assert len(seen) == 2


def test_a_read_inside_another_gets_a_connection_of_its_own(engine: Engine) -> None:
    with shared_reads():
        with reader(engine).connect() as outer:
            with reader(engine).connect() as inner:
                assert inner is not outer
                assert inner.execute(text("SELECT COUNT(*) FROM shared_reads_probe")).scalar_one() == 0
            assert outer.execute(text("SELECT COUNT(*) FROM shared_reads_probe")).scalar_one() == 0
        with reader(engine).connect() as after:
            assert after is outer  # the shared one is free again


def test_after_a_failed_read_the_next_starts_on_a_fresh_connection(engine: Engine) -> None:
    with shared_reads():
        with reader(engine).connect() as failing:
            pass
        with pytest.raises(Exception, match="no_such_table"):
            with reader(engine).connect() as conn:
                conn.execute(text("SELECT * FROM no_such_table"))
        with reader(engine).connect() as fresh:
            assert fresh is not failing
            assert fresh.execute(text("SELECT COUNT(*) FROM shared_reads_probe")).scalar_one() == 0
