"""Writes staged key rows on the event store's own cursor, so that a new aggregate's key assignment
(and a joining worker's new data key) commit or roll back together with its first events."""

from datetime import timezone
from typing import Any

from infrastructure.keys import StagedKeys


class KeyRowWriter:
    def __init__(self, paramstyle: str, schema: str | None = None) -> None:
        p = "?" if paramstyle == "qmark" else "%s"
        prefix = f'"{schema}".' if schema else ""
        self._sqlite = paramstyle == "qmark"
        self._insert_key = f"INSERT INTO {prefix}data_keys (key_id, wrapped_key, created_at) VALUES ({p}, {p}, {p})"
        self._insert_assignment = f"INSERT INTO {prefix}key_assignments (originator_id, key_id) VALUES ({p}, {p})"

    def write(self, cursor: Any, staged: StagedKeys | None) -> None:
        if staged is None:
            return
        if staged.new_keys:
            cursor.executemany(self._insert_key, [
                (row["key_id"], row["wrapped_key"], self._timestamp(row["created_at"])) for row in staged.new_keys])
        if staged.assignments:
            cursor.executemany(self._insert_assignment, staged.assignments)

    def _timestamp(self, moment: Any) -> Any:
        # SQLAlchemy keeps SQLite datetimes as naive UTC text; PostgreSQL takes the aware datetime as is.
        if self._sqlite:
            return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")
        return moment
