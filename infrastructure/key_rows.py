"""Writes staged key rows on the event store's own cursor, so that a new aggregate's key assignment
(and a joining worker's new data key) commit or roll back together with its first events.

On PostgreSQL the rows are not statements of their own: `ctes` gives them as data-modifying WITH
clauses for the event store to put in front of its event insert, so they cost no round trip.
"""

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

    def ctes(self, staged: StagedKeys | None) -> tuple[list[str], list[Any]]:
        """PostgreSQL ("format" paramstyle): WITH clauses that insert the staged rows, and their parameters
        in order. The text depends only on the numbers of rows, so the statement it joins can be prepared."""
        clauses: list[str] = []
        params: list[Any] = []
        if staged is None:
            return clauses, params
        if staged.new_keys:
            clauses.append(f"svl_new_keys AS ({_values(self._insert_key, len(staged.new_keys), 3)})")
            for row in staged.new_keys:
                params += [row["key_id"], row["wrapped_key"], self._timestamp(row["created_at"])]
        if staged.assignments:
            clauses.append(f"svl_assignments AS ({_values(self._insert_assignment, len(staged.assignments), 2)})")
            for originator_id, key_id in staged.assignments:
                params += [originator_id, key_id]
        return clauses, params

    def _timestamp(self, moment: Any) -> Any:
        # SQLAlchemy keeps SQLite datetimes as naive UTC text; PostgreSQL takes the aware datetime as is.
        if self._sqlite:
            return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")
        return moment


def _values(insert_one: str, rows: int, columns: int) -> str:
    """`INSERT ... VALUES (%s, ...)` for one row, turned into the same INSERT of `rows` rows."""
    one = "(" + ", ".join(["%s"] * columns) + ")"
    head, _, _ = insert_one.partition("VALUES ")
    return head + "VALUES " + ", ".join([one] * rows)
