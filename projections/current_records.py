"""Read model: current records — each record's state, versions, signatures (with when each was recorded, for
the compliance view's "as of" a day), counts, and its section of the worker's file after a transfer (hull)."""

from collections.abc import Sequence
from functools import cache
from typing import Any

from sqlalchemy import Connection, bindparam, delete, insert, update

from domain.record_content import content_sha256
from domain.retention import FileDestruction
from domain.supervision_record import RecordState, SupervisionRecord
from domain.workers import Worker
from projections.schema import InList, current_records

TABLES = (current_records,)
_INSERT = insert(current_records)
_TO_PREVIOUS = (update(current_records)
                .where(current_records.c.supervisee_id == bindparam("_worker"),
                       current_records.c.file_section == "current")
                .values(file_section="previous"))


def _drafted(conn: Connection, e: Any) -> None:
    conn.execute(_INSERT, {
        "record_id": str(e.originator_id), "supervisee_id": e.supervisee_id, "supervisor_id": e.supervisor_id,
        "state": RecordState.DRAFT.value, "session_date": _date(e.content["session_date"]), "content_version": 1,
        "content_sha256": content_sha256(str(e.originator_id), 1, e.content),
        "aggregate_version": e.originator_version, "open_amendment": False, "disagreements": 0, "addenda": 0,
        "supervisee_signed_at": None, "supervisor_signed_at": None, "drafted_at": e.timestamp,
        "updated_at": e.timestamp, "file_section": "current"})


def _amended(conn: Connection, e: Any) -> None:
    row = conn.execute(current_records.select().where(current_records.c.record_id == str(e.originator_id))).one()
    version = row.content_version + 1
    _set(conn, e, content_version=version, session_date=_date(e.content["session_date"]),
         content_sha256=content_sha256(str(e.originator_id), version, e.content),
         open_amendment=False,
         state=RecordState.SHARED.value if row.open_amendment else row.state)


def _declined(conn: Connection, e: Any) -> None:
    _set(conn, e, increment=("disagreements",), state=RecordState.SHARED.value, open_amendment=False)


_DESTROY = delete(current_records).where(InList(current_records.c.supervisee_id, "_workers"))


def _destroyed(conn: Connection, events: Sequence[Any]) -> None:
    conn.execute(_DESTROY, {"_workers": [e.worker_id for e in events]})


BATCH_HANDLERS = {FileDestruction.DestructionStarted: _destroyed}
HANDLERS = {
    FileDestruction.DestructionStarted: lambda c, e: _destroyed(c, [e]),
    # The worker's records move under "Previous Supervision" (hull).
    Worker.TransferredToNewSupervisor: lambda c, e: c.execute(_TO_PREVIOUS, {"_worker": str(e.originator_id)}),
    # The supervisor left: the records so far are previous supervision, whoever HR allocates next.
    Worker.SupervisionEnded: lambda c, e: c.execute(_TO_PREVIOUS, {"_worker": str(e.originator_id)}),
    SupervisionRecord.Drafted: _drafted,
    SupervisionRecord.SharedWithSupervisee: lambda c, e: _set(c, e, state=RecordState.SHARED.value),
    SupervisionRecord.AmendmentRequested: lambda c, e: _set(
        c, e, state=RecordState.AMENDMENT_REQUESTED.value, open_amendment=True),
    SupervisionRecord.Amended: _amended,
    SupervisionRecord.AmendmentDeclined: _declined,
    SupervisionRecord.SignedBySupervisee: lambda c, e: _set(
        c, e, state=RecordState.SIGNED_BY_SUPERVISEE.value, supervisee_signed_at=e.timestamp),
    SupervisionRecord.SignedBySupervisor: lambda c, e: _set(
        c, e, state=RecordState.LOCKED.value, supervisor_signed_at=e.timestamp),
    SupervisionRecord.AddendumAdded: lambda c, e: _set(c, e, increment=("addenda",)),
    SupervisionRecord.AddendumCountersigned: lambda c, e: _set(c, e),
}


def _set(conn: Connection, e: Any, increment: tuple[str, ...] = (), **values: Any) -> None:
    """Updates the event's row: the given columns, plus one to each counter named in `increment`."""
    conn.execute(_update_statement(tuple(sorted(values)), increment),
                 {"_record_id": str(e.originator_id), "_version": e.originator_version, "_at": e.timestamp, **values})


@cache
def _update_statement(columns: tuple[str, ...], counters: tuple[str, ...]):  # type: ignore[no-untyped-def]
    # Built once per shape and reused: constructing statements per event cost more than executing them.
    values: dict[str, Any] = {c: bindparam(c) for c in columns}
    values.update({c: current_records.c[c] + 1 for c in counters})
    return (update(current_records)
            .where(current_records.c.record_id == bindparam("_record_id"))
            .values(aggregate_version=bindparam("_version"), updated_at=bindparam("_at"), **values))


def _date(value: Any):  # type: ignore[no-untyped-def]
    from datetime import date

    return value if isinstance(value, date) else date.fromisoformat(value)
