"""Reads with the database driver alone (the standard library's sqlite3, or psycopg), for a command that only
reads and must start at once (`svl records`): SQLAlchemy's import alone costs several times Python's start-up.

Rows come back as the application's engine hands them over (infrastructure/database.py): on SQLite a DATE as a
`date`, a DATETIME as a UTC-aware `datetime` and a BOOLEAN as a `bool`, by the column types the table declares;
on PostgreSQL psycopg types them itself. Every query of one `PlainReader` reads one snapshot.
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
    def __init__(self, connection: Any, sqlite: bool) -> None:
        self._connection = connection
        self._sqlite = sqlite
        self._types: dict[str, dict[str, Callable[[Any], Any]]] = {}

    def rows(self, sql: str, params: dict[str, Any] | None = None, table: str | None = None) -> list[dict]:
        """`sql` with `:name` parameters. `table`: on SQLite, type the columns as that table declares them."""
        if not self._sqlite:
            sql = _PARAMETER.sub(r"%(\1)s", sql.replace("%", "%%"))
        cursor = self._connection.execute(sql, params or {})
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
            columns = self._connection.execute(f"PRAGMA table_info({table})").fetchall()
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
            yield PlainReader(connection, sqlite=True)
        finally:
            connection.close()
        return
    import psycopg

    url = re.sub(r"^postgres(ql)?(\+\w+)?://", "postgresql://", settings.database_url)
    with psycopg.connect(url, options=f"-csearch_path={settings.database_schema} {postgres_timeouts(settings)}",
                         connect_timeout=libpq_connect_timeout(settings)) as connection:
        connection.read_only = True
        try:
            yield PlainReader(connection, sqlite=False)
        finally:
            connection.rollback()
