"""The stored events of a worker's file, found through the key assignments (indexed by key) and the event store's
primary key (originator id, version), never by scanning the events table for a topic. A retention run reads
and purges hundreds of files at once, so each lookup here takes many ids in a few statements."""

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, bindparam, select, text

from infrastructure.keys import key_assignments
from infrastructure.ledger_store import EventsTable, canonical_originator_id

CHUNK = 500  # ids a statement: well inside every backend's limit on bound parameters


@dataclass(frozen=True)
class StoredEvent:
    notification_id: int
    originator_id: str
    version: int
    topic: str
    state: bytes

    @property
    def state_sha256(self) -> bytes:
        return hashlib.sha256(self.state).digest()


def originators_by_key(conn: Connection, key_ids: Sequence[str]) -> dict[str, list[str]]:
    """key id -> the aggregates sealed with it (the worker's file, records, sessions, agreements, cases)."""
    found: dict[str, list[str]] = {k: [] for k in key_ids}
    for chunk in _chunks(list(key_ids)):
        for key_id, originator_id in conn.execute(
                select(key_assignments.c.key_id, key_assignments.c.originator_id)
                .where(key_assignments.c.key_id.in_(chunk))):
            found[key_id].append(originator_id)
    return found


def count_events(conn: Connection, events: EventsTable, originator_ids: Iterable[str]) -> dict[str, int]:
    """originator id -> how many events it has stored."""
    counts: dict[str, int] = {}
    sql = text(f"SELECT originator_id, COUNT(*) AS n FROM {events.qualified} WHERE originator_id IN :ids "
               "GROUP BY originator_id").bindparams(bindparam("ids", expanding=True))
    for chunk in _chunks(list(originator_ids)):
        for row in conn.execute(sql, {"ids": [_stored_id(events, oid) for oid in chunk]}):
            counts[canonical_originator_id(row.originator_id)] = row.n
    return counts


def stored_events(conn: Connection, events: EventsTable, originator_ids: Iterable[str],
                  version: int | None = None) -> list[StoredEvent]:
    """The events as stored (sealed bytes), of the given aggregates, optionally only one version of each."""
    oid = "originator_id" if events.settings.is_sqlite else "originator_id::text AS originator_id"
    where = "originator_id IN :ids" + ("" if version is None else " AND originator_version = :version")
    sql = text(f"SELECT {events.nid} AS nid, {oid}, originator_version, topic, state FROM {events.qualified} "
               f"WHERE {where}").bindparams(bindparam("ids", expanding=True))
    rows: list[StoredEvent] = []
    for chunk in _chunks(list(originator_ids)):
        params: dict[str, Any] = {"ids": [_stored_id(events, o) for o in chunk]}
        if version is not None:
            params["version"] = version
        rows += [StoredEvent(r.nid, canonical_originator_id(r.originator_id), r.originator_version, r.topic,
                             bytes(r.state or b"")) for r in conn.execute(sql, params)]
    return rows


def empty_states(conn: Connection, events: EventsTable, originator_ids: Iterable[str]) -> None:
    """Empties the stored bytes of every event of these aggregates (each row and its ledger leaf stay)."""
    sql = text(f"UPDATE {events.qualified} SET state = :empty WHERE originator_id IN :ids"
               ).bindparams(bindparam("ids", expanding=True))
    for chunk in _chunks(list(originator_ids)):
        conn.execute(sql, {"empty": b"", "ids": [_stored_id(events, o) for o in chunk]})


def _stored_id(events: EventsTable, originator_id: str) -> Any:
    """As the event store keeps it: 32 hex digits in SQLite's text column, a uuid in PostgreSQL's."""
    value = UUID(str(originator_id))
    return value.hex if events.settings.is_sqlite else value


def _chunks(items: list) -> Iterable[list]:
    for start in range(0, len(items), CHUNK):
        yield items[start:start + CHUNK]
