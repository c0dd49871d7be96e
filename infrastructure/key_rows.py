"""Writes staged key rows on the event store's own cursor, so that a new aggregate's key assignment
(and a joining worker's new data key) commit or roll back together with its first events.

On PostgreSQL the rows are not statements of their own: `ctes` gives them as data-modifying WITH
clauses for the event store to put in front of its event insert, so they cost no round trip.

It also refuses, in that same transaction, events sealed with a key that is already destroyed: a command that
loaded a file just before another process destroyed it still holds the key in memory, and would otherwise store
(and project into the read models) content that retention has removed. On SQLite the write lock serialises the
check with the destruction. Two windows it does not close: on PostgreSQL a key destroyed between the check (the
transaction's first round trip) and its COMMIT; and on both, a write stored after a file's DestructionStarted but
before the run destroys its key (a run destroys its keys just after starting them, or when a killed run is resumed).
"""

import re
from collections.abc import Iterable
from datetime import timezone
from typing import Any
from uuid import UUID

from infrastructure.keys import ORGANISATION_KEY_ID, KeyDestroyed, StagedKeys


class KeyRowWriter:
    def __init__(self, paramstyle: str, schema: str | None = None) -> None:
        p = "?" if paramstyle == "qmark" else "%s"
        prefix = f'"{schema}".' if schema else ""
        self._sqlite = paramstyle == "qmark"
        self._insert_key = f"INSERT INTO {prefix}data_keys (key_id, wrapped_key, created_at) VALUES ({p}, {p}, {p})"
        self._insert_assignment = f"INSERT INTO {prefix}key_assignments (originator_id, key_id) VALUES ({p}, {p})"
        self._data_keys = f"{prefix}data_keys"
        self._sealed_with_destroyed = (f"SELECT a.originator_id FROM {prefix}key_assignments a JOIN {prefix}data_keys k "
                                       "ON k.key_id = a.key_id WHERE k.wrapped_key IS NULL AND a.originator_id IN ")

    @staticmethod
    def to_check(staged: StagedKeys | None, originator_ids: Iterable[Any]) -> list[str]:
        """The aggregates whose keys the check must cover: not those this very transaction seals with the
        organisation key, which is never destroyed (KeyRing.destroy_many refuses it). A write of access-log
        entries then needs no check at all."""
        sealed_by_organisation = {oid for oid, key_id in (staged.assignments if staged else ())
                                  if key_id == ORGANISATION_KEY_ID}
        return sorted({str(i) for i in originator_ids} - sealed_by_organisation)

    def refuse_destroyed(self, cursor: Any, originator_ids: Iterable[Any]) -> None:
        """SQLite: run after the inserts, which took the write lock, so no destruction can commit meanwhile."""
        ids = sorted({str(i) for i in originator_ids})
        if not ids:
            return
        cursor.execute(self._sealed_with_destroyed + "(" + ", ".join("?" for _ in ids) + ") LIMIT 1", ids)
        row = cursor.fetchone()
        if row is not None:
            raise destroyed_meanwhile(row[0])

    def destroyed_sql(self, originator_ids: Iterable[Any], staged: StagedKeys | None = None) -> str:
        """PostgreSQL: the same check as a scalar subquery, for the simple query that begins the transaction and
        takes the table lock, before the inserts: so a new aggregate's key, whose assignment row this very
        transaction inserts, is looked up among the staged assignments. The ids are written out as UUIDs and the
        key ids checked to be plain names, so nothing else can reach the SQL text."""
        ids = ", ".join(f"'{UUID(str(i))}'" for i in sorted({str(i) for i in originator_ids}))
        checks = [f"({self._sealed_with_destroyed}({ids}) LIMIT 1)"] if ids else []
        keys = sorted({key_id for _, key_id in (staged.assignments if staged else ()) if key_id != ORGANISATION_KEY_ID})
        if keys:
            if not all(_KEY_ID.fullmatch(k) for k in keys):
                raise ValueError("a data key id is not a plain name")
            listed = ", ".join(f"'{k}'" for k in keys)
            checks.append(f"(SELECT k.key_id FROM {self._data_keys} k WHERE k.wrapped_key IS NULL "
                          f"AND k.key_id IN ({listed}) LIMIT 1)")
        if not checks:
            return "NULL"
        return checks[0] if len(checks) == 1 else f"COALESCE({', '.join(checks)})"

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


_KEY_ID = re.compile(r"[A-Za-z0-9_.:-]{1,64}")


def destroyed_meanwhile(originator_id: Any) -> KeyDestroyed:
    return KeyDestroyed(f"the file holding {originator_id} was destroyed under a retention rule while this change "
                        "was being made: nothing was stored")


def _values(insert_one: str, rows: int, columns: int) -> str:
    """`INSERT ... VALUES (%s, ...)` for one row, turned into the same INSERT of `rows` rows."""
    one = "(" + ", ".join(["%s"] * columns) + ")"
    head, _, _ = insert_one.partition("VALUES ")
    return head + "VALUES " + ", ".join([one] * rows)
