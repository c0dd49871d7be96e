"""Reads with the database driver alone (the standard library's sqlite3, or psycopg2), for a command that only
reads and must start at once (`svl records`): SQLAlchemy's import alone costs several times Python's start-up.

On PostgreSQL this reads through psycopg2 (libpq, as psycopg 3 is), not the application's psycopg 3: importing
psycopg 3 loads some 260 modules (asyncio, ssl, email, importlib.metadata, every type adapter), about three times
`import typer`'s CPU, where psycopg2 loads about 50, less than `import typer` (benchmarks/cli.py).

Rows come back as the application's engine hands them over (infrastructure/database.py): on SQLite a DATE as a
`date`, a DATETIME as a UTC-aware `datetime` and a BOOLEAN as a `bool`, by the column types the table declares;
on PostgreSQL the driver types them itself (a bytea as a `memoryview`: callers take `bytes()` of it). Every query
of one `PlainReader` reads one snapshot (SQLite: one transaction; PostgreSQL: a read-only REPEATABLE READ one).
"""

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime, timezone
from typing import Any

from infrastructure.settings import Settings, libpq_connect_timeout, postgres_timeouts

_PARAMETER = re.compile(r"(?<!:):([A-Za-z_][A-Za-z0-9_]*)")


def _utc(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


# SQLite's declared column types (as SQLAlchemy wrote them) and how the engine reads each back.
_SQLITE_TYPES: dict[str, Callable[[Any], Any]] = {"DATE": date.fromisoformat, "DATETIME": _utc, "BOOLEAN": bool}


class DatabaseMissing(Exception):
    """There is no database file yet: whatever creates one (`svl init`) has not run."""


class PlainReader:
    def __init__(self, execute: Callable[[str, dict], Any], sqlite: bool) -> None:
        self._execute = execute  # runs one statement, returning a DB-API cursor
        self._sqlite = sqlite
        self._types: dict[str, dict[str, Callable[[Any], Any]]] = {}

    def rows(self, sql: str, params: dict[str, Any] | None = None, table: str | None = None) -> list[dict]:
        """`sql` with `:name` parameters. `table`: on SQLite, type the columns as that table declares them."""
        if not self._sqlite:
            sql = _PARAMETER.sub(r"%(\1)s", sql.replace("%", "%%"))
        cursor = self._execute(sql, params or {})
        names = [d[0] for d in cursor.description]
        found = [dict(zip(names, row)) for row in cursor.fetchall()]
        if self._sqlite and table is not None and found:
            types = self._declared(table)
            for row in found:
                for name, parse in types.items():
                    if row.get(name) is not None:
                        row[name] = parse(row[name])
        return found

    def value(self, sql: str, params: dict[str, Any] | None = None) -> Any:
        found = self.rows(sql, params)
        return next(iter(found[0].values())) if found else None

    def _declared(self, table: str) -> dict[str, Callable[[Any], Any]]:
        if table not in self._types:
            columns = self._execute(f"PRAGMA table_info({table})", {}).fetchall()
            self._types[table] = {c[1]: _SQLITE_TYPES[c[2].upper()] for c in columns if c[2].upper() in _SQLITE_TYPES}
        return self._types[table]


@contextmanager
def plain_reader(settings: Settings) -> Iterator[PlainReader]:
    if settings.is_sqlite:
        import sqlite3

        path = settings.sqlite_path
        if not path.is_file():
            raise DatabaseMissing(f"no database at {path}")
        connection = sqlite3.connect(path, timeout=settings.sqlite_busy_timeout, isolation_level=None)
        try:
            connection.execute("BEGIN")  # one snapshot for every query; a reader waits for no writer (WAL)
            yield PlainReader(connection.execute, sqlite=True)
        finally:
            connection.close()
        return
    import psycopg2

    url = re.sub(r"^postgres(ql)?(\+\w+)?://", "postgresql://", settings.database_url)
    connection = psycopg2.connect(url, options=f"-csearch_path={settings.database_schema} {postgres_timeouts(settings)}",
                                  connect_timeout=libpq_connect_timeout(settings))
    try:
        # The snapshot is begun in the first query's own round trip (psycopg2 would send BEGIN on its own first),
        # and ended by closing the session (the server discards a transaction its session leaves open), not by a
        # ROLLBACK of its own: a command that starts at once makes as few round trips as it can.
        connection.autocommit = True
        begin = ["BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; "]

        def execute(sql: str, params: dict) -> Any:
            cursor = connection.cursor()
            cursor.execute((begin.pop() if begin else "") + sql, params)
            return cursor

        yield PlainReader(execute, sqlite=False)
    finally:
        connection.close()
