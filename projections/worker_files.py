"""Read model: each worker's file — who supervises them now and every earlier supervision period, with
when each fact was recorded (the compliance view reads a team and a leaving "as of" a day from here)."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, bindparam, delete, insert, update

from domain.retention import FileDestruction
from domain.workers import EmploymentState, Worker
from projections.schema import InList, supervision_periods, worker_regimes, workers

TABLES = (workers, supervision_periods, worker_regimes)

# Built once and reused: constructing statements per event cost more than executing them.
_INSERT_WORKER = insert(workers)
_INSERT_PERIOD = insert(supervision_periods)
_INSERT_REGIME = insert(worker_regimes)
_END_PERIOD = (update(supervision_periods)
               .where(supervision_periods.c.worker_id == bindparam("_worker"), supervision_periods.c.ended_at.is_(None))
               .values(ended_at=bindparam("ended_at"), ended_by=bindparam("ended_by")))


def _joined(conn: Connection, e: Any) -> None:
    conn.execute(_INSERT_WORKER, {
        "worker_id": str(e.originator_id), "role": e.role, "category": e.category, "start_date": e.start_date,
        "organisation": e.organisation, "supervisor_id": None, "state": EmploymentState.ACTIVE.value,
        "leaving_date": None, "left_at": None, "destruction_date": None, "joined_at": e.timestamp,
        "updated_at": e.timestamp})
    _regime(conn, e, e.category, e.start_date)


def _regime(conn: Connection, e: Any, category: str, since: Any) -> None:
    conn.execute(_INSERT_REGIME, {"worker_id": str(e.originator_id), "started_version": e.originator_version,
                                  "category": category, "category_since": since, "recorded_at": e.timestamp})


def _role_changed(conn: Connection, e: Any) -> None:
    """A new role title alone begins no regime (the event keeps the current one's start)."""
    if e.major_change or e.category != e.previous_category:
        _regime(conn, e, e.category, e.category_since)


def _supervised(conn: Connection, e: Any, supervisor_id: str, reason: str) -> None:
    worker_id = str(e.originator_id)
    _end_period(conn, worker_id, e.timestamp, reason)
    conn.execute(_INSERT_PERIOD, {"worker_id": worker_id, "started_version": e.originator_version,
                                  "supervisor_id": supervisor_id, "started_at": e.timestamp, "ended_at": None,
                                  "ended_by": None})
    _set(conn, e, supervisor_id=supervisor_id)


def _supervision_ended(conn: Connection, e: Any) -> None:
    """The supervisor left: the worker has none until HR allocates one."""
    _end_period(conn, str(e.originator_id), e.timestamp, "supervisor left")
    _set(conn, e, supervisor_id=None)


def _left(conn: Connection, e: Any) -> None:
    _end_period(conn, str(e.originator_id), e.timestamp, "leaving")
    _set(conn, e, state=EmploymentState.LEFT.value, leaving_date=e.leaving_date, left_at=e.timestamp)


_DESTROY = tuple(delete(t).where(InList(t.c.worker_id, "_workers"))
                 for t in (supervision_periods, worker_regimes, workers))


def _destroyed(conn: Connection, events: Sequence[Any]) -> None:
    """The files are being destroyed: nothing about their workers stays in this read model."""
    worker_ids = [e.worker_id for e in events]
    for statement in _DESTROY:
        conn.execute(statement, {"_workers": worker_ids})


BATCH_HANDLERS = {FileDestruction.DestructionStarted: _destroyed}
HANDLERS = {
    FileDestruction.DestructionStarted: lambda c, e: _destroyed(c, [e]),
    Worker.Joined: _joined,
    Worker.SupervisorAllocated: lambda c, e: _supervised(c, e, e.supervisor_id, "allocation"),
    Worker.TransferredToNewSupervisor: lambda c, e: _supervised(c, e, e.new_supervisor_id, "transfer"),
    Worker.SupervisionEnded: _supervision_ended,
    Worker.Left: _left,
    Worker.RoleChanged: _role_changed,
    Worker.ReturnedAfterAbsence: lambda c, e: _regime(c, e, e.category, e.returned_on),
    Worker.Archived: lambda c, e: _set(
        c, e, state=EmploymentState.ARCHIVED.value, destruction_date=e.destruction_date),
}


def _end_period(conn: Connection, worker_id: str, at: Any, reason: str) -> None:
    conn.execute(_END_PERIOD, {"_worker": worker_id, "ended_at": at, "ended_by": reason})


def _set(conn: Connection, e: Any, **values: Any) -> None:
    conn.execute(_set_statement(tuple(sorted(values))), {"_worker": str(e.originator_id), "updated_at": e.timestamp,
                                                          **values})


_SET_STATEMENTS: dict[tuple[str, ...], Any] = {}


def _set_statement(columns: tuple[str, ...]) -> Any:
    statement = _SET_STATEMENTS.get(columns)
    if statement is None:
        statement = _SET_STATEMENTS[columns] = (
            update(workers).where(workers.c.worker_id == bindparam("_worker"))
            .values(updated_at=bindparam("updated_at"), **{c: bindparam(c) for c in columns}))
    return statement
