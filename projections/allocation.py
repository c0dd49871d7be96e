"""Read model Allocation: what allocation is judged on, each fact with the moment it was recorded — a worker's
standing (level, registration, supervising since), their second supervisor over time, and the departures a
manager agreed (which rules, for which supervisor; the reason stays sealed in the worker's events).

Breaches are not stored: they depend on the pack and the day asked about, so domain/allocation.py computes
them at query time from the facts known by the end of that day, as the compliance read model does.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import (
    Boolean, Column, Connection, Date, DateTime, Integer, String, Table, and_, bindparam, delete, func, insert,
    or_, select, union_all, update,
)

from domain.retention import FileDestruction
from domain.workers import Worker
from projections.schema import FEW_IDS, InList, current_records, read_models, supervision_periods
from projections.supervision_compliance import (
    _date_known, _known, compliance_record_dates, compliance_sessions, cutoff_for,
)

staff_standing = Table(
    "staff_standing", read_models,
    Column("worker_id", String(36), primary_key=True),
    Column("version", Integer, primary_key=True),  # of the event that recorded it
    Column("level", Integer),
    Column("registered", Boolean),
    Column("supervising_since", Date),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
)

second_supervision_periods = Table(
    "second_supervision_periods", read_models,
    Column("worker_id", String(36), primary_key=True),
    Column("started_version", Integer, primary_key=True),
    Column("supervisor_id", String(36), nullable=False, index=True),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("ended_at", DateTime(timezone=True)),
)

allocation_exceptions = Table(
    "allocation_exceptions", read_models,
    Column("worker_id", String(36), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("supervisor_id", String(36), nullable=False),
    Column("rules", String(200), nullable=False),  # comma-separated keys of domain.allocation.RULES
    Column("agreed_by", String(36), nullable=False),
    Column("agreed_at", DateTime(timezone=True), nullable=False),
)

TABLES = (staff_standing, second_supervision_periods, allocation_exceptions)

_END_SECOND = (update(second_supervision_periods)
               .where(second_supervision_periods.c.worker_id == bindparam("_worker"),
                      second_supervision_periods.c.ended_at.is_(None))
               .values(ended_at=bindparam("ended_at")))


def _standing(conn: Connection, e: Any) -> None:
    conn.execute(insert(staff_standing), {
        "worker_id": str(e.originator_id), "version": e.originator_version, "level": e.level,
        "registered": e.registered, "supervising_since": e.supervising_since, "recorded_at": e.timestamp})


def _second_allocated(conn: Connection, e: Any) -> None:
    conn.execute(_END_SECOND, {"_worker": str(e.originator_id), "ended_at": e.timestamp})
    conn.execute(insert(second_supervision_periods), {
        "worker_id": str(e.originator_id), "started_version": e.originator_version, "supervisor_id": e.supervisor_id,
        "started_at": e.timestamp, "ended_at": None})


def _second_ended(conn: Connection, e: Any) -> None:
    conn.execute(_END_SECOND, {"_worker": str(e.originator_id), "ended_at": e.timestamp})


def _exception(conn: Connection, e: Any) -> None:
    conn.execute(insert(allocation_exceptions), {
        "worker_id": str(e.originator_id), "version": e.originator_version, "supervisor_id": e.supervisor_id,
        "rules": ",".join(e.rules), "agreed_by": e.actor, "agreed_at": e.timestamp})


_DESTROY = tuple(delete(t).where(InList(t.c.worker_id, "_workers")) for t in TABLES)


def _destroyed(conn: Connection, events: Sequence[Any]) -> None:
    workers = [e.worker_id for e in events]
    for statement in _DESTROY:
        conn.execute(statement, {"_workers": workers})


BATCH_HANDLERS = {FileDestruction.DestructionStarted: _destroyed}
HANDLERS = {
    FileDestruction.DestructionStarted: lambda c, e: _destroyed(c, [e]),
    Worker.StandingRecorded: _standing,
    Worker.SecondSupervisorAllocated: _second_allocated,
    Worker.SecondSupervisionEnded: _second_ended,
    Worker.AllocationExceptionAgreed: _exception,
    # A leaver is supervised by no one: their second supervision ends with their employment.
    Worker.Left: _second_ended,
}


# --- queries: the facts known by the end of a day -----------------------------------------------------------


@dataclass(frozen=True)
class AllocationFacts:
    standing: dict[str, tuple[int | None, bool | None, date | None]] = field(default_factory=dict)
    second: dict[str, str] = field(default_factory=dict)  # worker -> second supervisor on the day
    exceptions: dict[tuple[str, str], frozenset[str]] = field(default_factory=dict)
    last_held_by: dict[str, str] = field(default_factory=dict)  # for workers with a second supervisor


def load_allocation(conn: Connection, as_of: date) -> AllocationFacts:
    cutoff = cutoff_for(as_of)
    st = staff_standing
    latest = (select(st.c.worker_id, func.max(st.c.version).label("version"))
              .where(st.c.recorded_at < cutoff).group_by(st.c.worker_id).subquery())
    standing = {r.worker_id: (r.level, r.registered, r.supervising_since) for r in conn.execute(
        select(st).join(latest, and_(latest.c.worker_id == st.c.worker_id, latest.c.version == st.c.version)))}
    p = second_supervision_periods
    second = dict(conn.execute(select(p.c.worker_id, p.c.supervisor_id).where(
        p.c.started_at < cutoff, or_(p.c.ended_at.is_(None), p.c.ended_at >= cutoff))).all())
    x = allocation_exceptions
    exceptions: dict[tuple[str, str], set[str]] = {}
    for worker_id, supervisor_id, rules in conn.execute(
            select(x.c.worker_id, x.c.supervisor_id, x.c.rules).where(x.c.agreed_at < cutoff)):
        exceptions.setdefault((worker_id, supervisor_id), set()).update(rules.split(","))
    return AllocationFacts(standing, second, {k: frozenset(v) for k, v in exceptions.items()},
                           _last_held_by(conn, cutoff, as_of, second))


def _last_held_by(conn: Connection, cutoff: Any, as_of: date, workers: Iterable[str]) -> dict[str, str]:
    """Who held each worker's latest session (a held session, or the drafter of a record of it), as known then."""
    ids = list(workers)
    if not ids:
        return {}
    s, d, r = compliance_sessions, compliance_record_dates, current_records
    held = select(s.c.worker_id, s.c.held_on.label("day"), s.c.supervisor_id).where(
        _known(s.c.held_at, cutoff), s.c.held_on <= as_of, s.c.worker_id.in_(ids))
    recorded = (select(d.c.worker_id, d.c.session_date.label("day"), r.c.supervisor_id)
                .join(r, r.c.record_id == d.c.record_id)
                .where(_date_known(d, cutoff), d.c.session_date <= as_of, d.c.worker_id.in_(ids)))
    both = union_all(held, recorded).subquery()
    found: dict[str, tuple[date, str]] = {}
    for worker_id, day, supervisor_id in conn.execute(select(both.c.worker_id, both.c.day, both.c.supervisor_id)):
        if worker_id not in found or (day, supervisor_id) > found[worker_id]:
            found[worker_id] = (day, supervisor_id)
    return {w: supervisor for w, (_, supervisor) in found.items()}


def second_supervisees_on(conn: Connection, supervisor_id: str, end_of_day: Any) -> list[str]:
    """Whom `supervisor_id` supervised as second supervisor at the end of a day (as the periods record it)."""
    p = second_supervision_periods
    return list(conn.execute(select(p.c.worker_id).where(
        p.c.supervisor_id == supervisor_id, p.c.started_at < end_of_day,
        or_(p.c.ended_at.is_(None), p.c.ended_at >= end_of_day)).distinct()).scalars())


_SUPERVISEES = select(supervision_periods.c.worker_id).where(
    InList(supervision_periods.c.supervisor_id, "_supervisors"), supervision_periods.c.started_at < bindparam("_end"),
    or_(supervision_periods.c.ended_at.is_(None), supervision_periods.c.ended_at >= bindparam("_end")))


_EVERY_SUPERVISEE = select(supervision_periods.c.worker_id, supervision_periods.c.supervisor_id).where(
    supervision_periods.c.started_at < bindparam("_end"),
    or_(supervision_periods.c.ended_at.is_(None), supervision_periods.c.ended_at >= bindparam("_end")))


def supervisees_on(conn: Connection, supervisors: Iterable[str], end_of_day: Any) -> set[str]:
    """Whom any of `supervisors` supervised as line manager at the end of a day (as the periods record it)."""
    wanted = set(supervisors)
    if not wanted:
        return set()
    if len(wanted) <= FEW_IDS:
        return set(conn.execute(_SUPERVISEES, {"_supervisors": list(wanted), "_end": end_of_day}).scalars())
    return {w for w, s in conn.execute(_EVERY_SUPERVISEE, {"_end": end_of_day}) if s in wanted}


def second_supervisees_of(conn: Connection, supervisor_id: str) -> list[str]:
    p = second_supervision_periods
    return list(conn.execute(select(p.c.worker_id).where(p.c.supervisor_id == supervisor_id,
                                                         p.c.ended_at.is_(None))).scalars())


__all__ = ["HANDLERS", "TABLES", "AllocationFacts", "load_allocation", "second_supervisees_of",
           "second_supervisees_on", "supervisees_on"]
