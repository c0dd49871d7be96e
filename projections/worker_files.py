"""Each worker's file: who supervises them now, every earlier supervision period, and which of their
records sit under "Previous Supervision" after a transfer (hull)."""

from typing import Any

from sqlalchemy import Connection, delete, insert, update

from domain.retention import FileDestruction
from domain.workers import EmploymentState, Worker
from projections.schema import current_records, supervision_periods, workers


def _joined(conn: Connection, e: Any) -> None:
    conn.execute(insert(workers).values(
        worker_id=str(e.originator_id), role=e.role, category=e.category, start_date=e.start_date,
        organisation=e.organisation, supervisor_id=None, state=EmploymentState.ACTIVE.value,
        joined_at=e.timestamp, updated_at=e.timestamp,
    ))


def _allocated(conn: Connection, e: Any) -> None:
    _set(conn, e, supervisor_id=e.supervisor_id)
    conn.execute(insert(supervision_periods).values(
        worker_id=str(e.originator_id), supervisor_id=e.supervisor_id, started_at=e.timestamp))


def _transferred(conn: Connection, e: Any) -> None:
    worker_id = str(e.originator_id)
    _end_period(conn, worker_id, e.timestamp, "transfer")
    conn.execute(insert(supervision_periods).values(
        worker_id=worker_id, supervisor_id=e.new_supervisor_id, started_at=e.timestamp))
    _set(conn, e, supervisor_id=e.new_supervisor_id)
    conn.execute(
        update(current_records)
        .where(current_records.c.supervisee_id == worker_id, current_records.c.file_section == "current")
        .values(file_section="previous")
    )


def _supervision_ended(conn: Connection, e: Any) -> None:
    """The supervisor left: the worker has none until HR allocates one; their records so far are previous."""
    worker_id = str(e.originator_id)
    _end_period(conn, worker_id, e.timestamp, "supervisor left")
    _set(conn, e, supervisor_id=None)
    conn.execute(
        update(current_records)
        .where(current_records.c.supervisee_id == worker_id, current_records.c.file_section == "current")
        .values(file_section="previous")
    )


def _left(conn: Connection, e: Any) -> None:
    _end_period(conn, str(e.originator_id), e.timestamp, "leaving")
    _set(conn, e, state=EmploymentState.LEFT.value, leaving_date=e.leaving_date)


def _destroyed(conn: Connection, e: Any) -> None:
    """The file is being destroyed: nothing about the worker stays in this read model."""
    conn.execute(delete(supervision_periods).where(supervision_periods.c.worker_id == e.worker_id))
    conn.execute(delete(workers).where(workers.c.worker_id == e.worker_id))


HANDLERS = {
    FileDestruction.DestructionStarted: _destroyed,
    Worker.Joined: _joined,
    Worker.SupervisorAllocated: _allocated,
    Worker.TransferredToNewSupervisor: _transferred,
    Worker.SupervisionEnded: _supervision_ended,
    Worker.Left: _left,
    Worker.Archived: lambda c, e: _set(
        c, e, state=EmploymentState.ARCHIVED.value, destruction_date=e.destruction_date),
}


def _end_period(conn: Connection, worker_id: str, at: Any, reason: str) -> None:
    conn.execute(
        update(supervision_periods)
        .where(supervision_periods.c.worker_id == worker_id, supervision_periods.c.ended_at.is_(None))
        .values(ended_at=at, ended_by=reason)
    )


def _set(conn: Connection, e: Any, **values: Any) -> None:
    conn.execute(update(workers).where(workers.c.worker_id == str(e.originator_id))
                 .values(updated_at=e.timestamp, **values))
