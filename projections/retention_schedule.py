"""Read model: the retention schedule. Every worker's file with its state, leaving and destruction
dates, the rule that set them, and its holds. What is *due* is decided at query time for a given day
(domain.retention.retention_status), so the schedule can be read as of any date."""

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import (
    Column, Connection, Date, DateTime, Integer, String, Table, Text, bindparam, case, insert, select, update,
)

from domain.destruction_proposal import LISTED_CLASSES, DestructionProposal
from domain.labels import ACTOR_LENGTH
from domain.retention import FileDestruction, LegalHold
from domain.workers import EmploymentState, Worker
from projections.schema import InList, read_models

retention_files = Table(
    "retention_files",
    read_models,
    Column("worker_id", String(36), primary_key=True),
    Column("state", String(16), nullable=False, index=True),  # active | left | archived | destroying | destroyed
    Column("leaving_date", Date),
    Column("destruction_date", Date, index=True),
    Column("rule", Text),  # the pack's rule with its policy quote: as long as the organisation wrote it
    Column("archived_at", DateTime(timezone=True)),
    Column("active_holds", Integer, nullable=False, default=0),
    Column("destruction_started_at", DateTime(timezone=True)),
    Column("destroyed_at", DateTime(timezone=True)),
    Column("destroyed_records", Integer),
    Column("destroyed_events", Integer),
)

legal_holds = Table(
    "legal_holds",
    read_models,
    Column("hold_id", String(36), primary_key=True),
    Column("worker_id", String(36), nullable=False, index=True),
    Column("kind", String(32), nullable=False),
    Column("placed_at", DateTime(timezone=True), nullable=False),
    Column("placed_by", String(ACTOR_LENGTH), nullable=False),
    Column("released_at", DateTime(timezone=True)),
)

# Disposition reviews of every record class: the lists proposed for destruction and who decided on them (the
# lists themselves are in the organisation-sealed proposal aggregate).
destruction_proposals = Table(
    "destruction_proposals",
    read_models,
    Column("proposal_id", String(36), primary_key=True),
    Column("record_class", String(32), nullable=False, index=True),  # personal_supervision | case_supervision
    Column("as_of", Date, nullable=False),
    Column("items", Integer, nullable=False),
    # proposed | approved | rejected, then the class's word once run: executed (files), destroyed (case records)
    Column("status", String(16), nullable=False, index=True),
    Column("proposed_at", DateTime(timezone=True), nullable=False, index=True),
    Column("proposed_by", String(ACTOR_LENGTH), nullable=False),
    Column("decided_at", DateTime(timezone=True)),
    Column("decided_by", String(ACTOR_LENGTH)),
    Column("executed_at", DateTime(timezone=True)),
    Column("destroyed", Integer),
)

# Kept after a destruction: the file's state, dates and holds are the record that it was destroyed lawfully (they
# come from organisation-sealed events, so a rebuild recreates them exactly).
TABLES = (retention_files, legal_holds, destruction_proposals)


# Built once and reused: constructing statements per event cost more than executing them.
_INSERT_FILE = insert(retention_files)
_INSERT_HOLD = insert(legal_holds)
_ONE_MORE_HOLD = (update(retention_files).where(retention_files.c.worker_id == bindparam("_worker"))
                  .values(active_holds=retention_files.c.active_holds + 1))
_SET_STATEMENTS: dict[tuple[str, ...], Any] = {}


def _joined(conn: Connection, e: Any) -> None:
    conn.execute(_INSERT_FILE, {"worker_id": str(e.originator_id), "state": EmploymentState.ACTIVE.value,
                                "active_holds": 0})


def _hold_placed(conn: Connection, e: Any) -> None:
    conn.execute(_INSERT_HOLD, {"hold_id": str(e.originator_id), "worker_id": e.worker_id, "kind": e.kind,
                                "placed_at": e.timestamp, "placed_by": e.actor})
    _ensure_row(conn, e.worker_id)
    conn.execute(_ONE_MORE_HOLD, {"_worker": e.worker_id})


def _hold_released(conn: Connection, e: Any) -> None:
    worker_id = conn.execute(select(legal_holds.c.worker_id)
                             .where(legal_holds.c.hold_id == str(e.originator_id))).scalar_one()
    conn.execute(update(legal_holds).where(legal_holds.c.hold_id == str(e.originator_id))
                 .values(released_at=e.timestamp))
    conn.execute(update(retention_files).where(retention_files.c.worker_id == worker_id)
                 .values(active_holds=retention_files.c.active_holds - 1))


def _destruction_started(conn: Connection, events: Sequence[Any]) -> None:
    # After a rebuild the workers' own events are unreadable, so these events alone must recreate the rows.
    _ensure_rows(conn, [e.worker_id for e in events])
    # When it was archived came from the worker's own events, which go with the file.
    _set_each(conn, [(e.worker_id, {
        "state": "destroying", "leaving_date": e.leaving_date, "destruction_date": e.destruction_date,
        "rule": e.rule, "archived_at": None, "destruction_started_at": e.timestamp,
        "destroyed_records": len(e.record_ids), "destroyed_events": e.event_count}) for e in events])


def _destruction_completed(conn: Connection, events: Sequence[Any]) -> None:
    _set_each(conn, [(e.worker_id, {"state": "destroyed", "destroyed_at": e.timestamp}) for e in events])


_EXISTING = select(retention_files.c.worker_id).where(
    InList(retention_files.c.worker_id, "_workers"))


def _ensure_row(conn: Connection, worker_id: str) -> None:
    _ensure_rows(conn, [worker_id])


def _ensure_rows(conn: Connection, worker_ids: Sequence[str]) -> None:
    existing = set(conn.execute(_EXISTING, {"_workers": list(worker_ids)}).scalars())
    missing = [w for w in dict.fromkeys(worker_ids) if w not in existing]
    if missing:
        conn.execute(_INSERT_FILE, [{"worker_id": w, "state": "unknown", "active_holds": 0} for w in missing])


def _set(conn: Connection, worker_id: str, **values: Any) -> None:
    _set_each(conn, [(worker_id, values)])


def _set_each(conn: Connection, changes: Sequence[tuple[str, dict[str, Any]]]) -> None:
    """Each worker's row gets its own values, every change naming the same columns: one executemany."""
    columns = tuple(sorted(changes[0][1]))
    statement = _SET_STATEMENTS.get(columns)
    if statement is None:
        statement = _SET_STATEMENTS[columns] = (
            update(retention_files).where(retention_files.c.worker_id == bindparam("_worker"))
            .values({c: bindparam(c) for c in columns}))
    rows = [{"_worker": worker_id, **values} for worker_id, values in changes]
    conn.execute(statement, rows if len(rows) > 1 else rows[0])


def _proposed(conn: Connection, e: Any) -> None:
    conn.execute(insert(destruction_proposals).values(
        proposal_id=str(e.originator_id), record_class=e.record_class, as_of=e.as_of, items=len(e.items),
        status="proposed", proposed_at=e.timestamp, proposed_by=e.actor))


def _proposal(conn: Connection, e: Any, **values: Any) -> None:
    conn.execute(update(destruction_proposals).where(destruction_proposals.c.proposal_id == str(e.originator_id))
                 .values(**values))


def _run_recorded(conn: Connection, e: Any) -> None:
    done = case(*((destruction_proposals.c.record_class == c.name, c.done) for c in LISTED_CLASSES.values()))
    _proposal(conn, e, status=done, executed_at=e.timestamp, destroyed=len(e.destroyed))


HANDLERS: dict[type, Callable[[Any, Any], None]] = {
    DestructionProposal.DestructionProposed: _proposed,
    DestructionProposal.DestructionApproved: lambda c, e: _proposal(c, e, status="approved", decided_at=e.timestamp,
                                                                    decided_by=e.actor),
    DestructionProposal.DestructionRejected: lambda c, e: _proposal(c, e, status="rejected", decided_at=e.timestamp,
                                                                    decided_by=e.actor),
    DestructionProposal.CaseRecordDestructionDecided: lambda c, e: _proposal(c, e, status=e.decision,
                                                                             decided_at=e.timestamp,
                                                                             decided_by=e.actor),
    DestructionProposal.DestructionRunRecorded: _run_recorded,
    Worker.Joined: _joined,
    Worker.Left: lambda c, e: _set(c, str(e.originator_id), state=EmploymentState.LEFT.value,
                                   leaving_date=e.leaving_date),
    Worker.Archived: lambda c, e: _set(c, str(e.originator_id), state=EmploymentState.ARCHIVED.value,
                                       destruction_date=e.destruction_date, rule=e.rule, archived_at=e.timestamp),
    LegalHold.LegalHoldPlaced: _hold_placed,
    LegalHold.LegalHoldReleased: _hold_released,
    FileDestruction.DestructionStarted: lambda c, e: _destruction_started(c, [e]),
    FileDestruction.DestructionCompleted: lambda c, e: _destruction_completed(c, [e]),
}
BATCH_HANDLERS: dict[type, Callable[[Any, Sequence[Any]], None]] = {
    FileDestruction.DestructionStarted: _destruction_started,
    FileDestruction.DestructionCompleted: _destruction_completed,
}
