"""Read model CaseRecords: case supervision records (a record class of their own, bcp and bury) with the dates the
due view and their retention schedule need: when the case was discussed, the last day for the decision to reach
the child's record, when it did, and whether the record was destroyed under its own retention.

Rows hold ids and dates only; the case reference, the discussion and the decisions stay in the sealed events.
A worker's file destruction leaves these rows (and the records) alone: the records are sealed with their own
keys and follow their own schedule. A destroyed record keeps a row saying so, from the organisation-sealed
destruction and list (domain.destruction_proposal), so a rebuild after the key is gone recreates it exactly.
"""

from collections.abc import Callable
from typing import Any

from sqlalchemy import Column, Connection, Date, DateTime, String, Table, insert, select, update

from domain.case_record_disposal import CaseRecordDestruction
from domain.case_supervision_record import CaseSupervisionRecord
from domain.destruction_proposal import DestructionProposal
from projections.schema import read_models

case_records = Table(
    "case_records", read_models,
    Column("record_id", String(36), primary_key=True),
    Column("worker_id", String(36), index=True),  # None once destroyed
    Column("supervisor_id", String(36)),
    Column("discussed_on", Date),
    Column("decision_due", Date),
    Column("on_childs_record_on", Date),
    Column("recorded_at", DateTime(timezone=True)),
    Column("state", String(16), nullable=False, index=True),  # kept | destroying | destroyed
    Column("disposal_id", String(36)),
    Column("destroyed_at", DateTime(timezone=True)),
)

TABLES = (case_records,)


def _recorded(conn: Connection, e: Any) -> None:
    conn.execute(insert(case_records).values(
        record_id=str(e.originator_id), worker_id=e.worker_id, supervisor_id=e.supervisor_id,
        discussed_on=e.discussed_on, decision_due=e.decision_due, recorded_at=e.timestamp, state="kept"))


def _on_childs_record(conn: Connection, e: Any) -> None:
    conn.execute(update(case_records).where(case_records.c.record_id == str(e.originator_id))
                 .values(on_childs_record_on=e.recorded_on))


def _destroyed(conn: Connection, e: Any) -> None:
    # A list's run: its destroyed records keep only their ids, dates of destruction and the list (a personal
    # files' run names worker ids, which are no record's). The lists themselves: projections/retention_schedule.
    if e.destroyed:
        conn.execute(update(case_records).where(case_records.c.record_id.in_(e.destroyed)).values(
            worker_id=None, supervisor_id=None, discussed_on=None, decision_due=None, on_childs_record_on=None,
            recorded_at=None, state="destroyed", disposal_id=str(e.originator_id), destroyed_at=e.timestamp))


def _destruction_started(conn: Connection, e: Any) -> None:
    # After a rebuild the record's own events are unreadable: this organisation-sealed event alone makes the row.
    # Asked first rather than read off the UPDATE's rowcount: a rebuild sends its writes later (gathered_writes).
    values = {"worker_id": e.worker_id, "discussed_on": e.discussed_on, "state": "destroying",
              "disposal_id": e.disposal_id}
    there = conn.execute(select(case_records.c.record_id).where(case_records.c.record_id == e.record_id)).first()
    if there is not None:
        conn.execute(update(case_records).where(case_records.c.record_id == e.record_id).values(**values))
    else:
        conn.execute(insert(case_records).values(record_id=e.record_id, **values))


def _destruction_completed(conn: Connection, e: Any) -> None:
    conn.execute(update(case_records).where(case_records.c.record_id == e.record_id)
                 .values(state="destroyed", destroyed_at=e.timestamp))


HANDLERS: dict[type, Callable[[Any, Any], None]] = {
    CaseSupervisionRecord.CaseSupervisionRecorded: _recorded,
    CaseSupervisionRecord.DecisionOnChildsRecord: _on_childs_record,
    DestructionProposal.DestructionRunRecorded: _destroyed,
    CaseRecordDestruction.CaseRecordDestructionStarted: _destruction_started,
    CaseRecordDestruction.CaseRecordDestructionCompleted: _destruction_completed,
}


def kept_case_records_of(conn: Connection, worker_id: str) -> list[str]:
    """Ids of the worker's case supervision records not destroyed, oldest discussion first."""
    return list(conn.execute(select(case_records.c.record_id)
                             .where(case_records.c.worker_id == worker_id, case_records.c.state == "kept")
                             .order_by(case_records.c.discussed_on, case_records.c.record_id)).scalars())
