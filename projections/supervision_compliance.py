"""Read model SupervisionCompliance: the facts behind "who is overdue", each with the moment it was recorded.

Its own tables hold sessions, the session date of each record version, agreements and cases; who is in post,
under whom, and each record's signatures it reads from the worker-files and current-records read models, which
record when each of those facts was recorded too (one read model per fact).

Rows hold ids, dates, minutes, reasons from fixed lists and timestamps, never names or free text. Nothing is
"overdue" in a row: due dates depend on the pack and the day asked about, so they are computed at query time
(domain/compliance.py) from the facts recorded by the end of that day. That is what lets a past month's report
be recomputed exactly as it stood, even after later corrections and late entries.
"""

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from sqlalchemy import (
    Boolean, Column, Connection, Date, DateTime, Index, Integer, String, Table, Text, and_, bindparam, delete, func,
    insert, literal, or_, select, union_all, update,
)

from domain.agreements import SupervisionAgreement
from domain.case_supervision import CaseSupervision
from domain.compliance import AgreementFact, Cancellation, CaseFact, OpenRecord, WorkerFacts
from domain.retention import FileDestruction
from domain.sessions import SupervisionSession
from domain.supervision_record import SupervisionRecord
from projections.schema import InList, current_records, read_models, supervision_periods, worker_regimes, workers

compliance_sessions = Table(
    "compliance_sessions", read_models,
    Column("session_id", String(36), primary_key=True),
    Column("worker_id", String(36), nullable=False),
    Column("supervisor_id", String(36), nullable=False),
    Column("scheduled_for", Date, nullable=False),
    Column("scheduled_at", DateTime(timezone=True), nullable=False),
    Column("planned_minutes", Integer, nullable=False),
    Column("rebooks", String(36)),
    Column("held_on", Date),
    Column("held_at", DateTime(timezone=True)),
    Column("actual_minutes", Integer),
    Column("shortfall_minutes", Integer),
    Column("cancelled_at", DateTime(timezone=True)),
    Column("cancel_reason", String(16)),
    Column("cancelled_by", String(16)),
    Column("returned_on", Date),
    Column("returned_at", DateTime(timezone=True)),
    Column("rebooked_as", String(36)),
    Column("rebooked_at", DateTime(timezone=True)),
)

# A record's session date per content version, with when it was recorded and superseded; the rest of the record
# (who drafted it, its signatures) is in current_records.
compliance_record_dates = Table(
    "compliance_record_dates", read_models,
    Column("record_id", String(36), primary_key=True),
    Column("aggregate_version", Integer, primary_key=True),
    Column("worker_id", String(36), nullable=False),
    Column("session_date", Date, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("superseded_at", DateTime(timezone=True)),
)

compliance_agreements = Table(
    "compliance_agreements", read_models,
    Column("agreement_id", String(36), primary_key=True),
    Column("worker_id", String(36), nullable=False, index=True),
    Column("supervisor_id", String(36), nullable=False),
    Column("drafted_at", DateTime(timezone=True), nullable=False),
    Column("replaces", String(36)),
    Column("supervisee_signed_on", Date),
    Column("supervisee_signed_at", DateTime(timezone=True)),
    Column("supervisor_signed_on", Date),
    Column("supervisor_signed_at", DateTime(timezone=True)),
    Column("lapsed_on", Date),
    Column("lapsed_at", DateTime(timezone=True)),
    Column("lapse_reason", String(32)),
)

compliance_agreement_reviews = Table(
    "compliance_agreement_reviews", read_models,
    Column("agreement_id", String(36), primary_key=True),
    Column("version", Integer, primary_key=True),  # of the event that recorded it
    Column("reviewed_on", Date, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
)

compliance_cases = Table(
    "compliance_cases", read_models,
    Column("case_id", String(36), primary_key=True),
    Column("worker_id", String(36), nullable=False, index=True),
    Column("opened_at", DateTime(timezone=True), nullable=False),
    Column("closed_at", DateTime(timezone=True)),
)

compliance_case_ratings = Table(
    "compliance_case_ratings", read_models,
    Column("case_id", String(36), primary_key=True),
    Column("version", Integer, primary_key=True),  # of the event that recorded it
    Column("rating", Text),  # a rating the pack names (NULL: unrated)
    Column("approved", Boolean, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
)

compliance_case_discussions = Table(
    "compliance_case_discussions", read_models,
    Column("case_id", String(36), primary_key=True),
    Column("version", Integer, primary_key=True),  # of the event that recorded it
    Column("discussed_on", Date, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
)

# Each time a record was shared with the supervisee: a pack may end the completion deadline there (bury: "returned
# to the supervisee within one week").
compliance_record_shares = Table(
    "compliance_record_shares", read_models,
    Column("record_id", String(36), primary_key=True),
    Column("version", Integer, primary_key=True),  # of the event that recorded it
    Column("shared_at", DateTime(timezone=True), nullable=False),
)

# The dashboard's hot paths: the latest session per worker, and sessions by worker and day. Each index carries
# the columns those queries test (when it was known, how long it lasted), so they read the index alone rather
# than every row of the table: at 10,000 workers the dashboard walks every session and record more than once.
Index("ix_compliance_sessions_worker_held", compliance_sessions.c.worker_id, compliance_sessions.c.held_on,
      compliance_sessions.c.held_at, compliance_sessions.c.actual_minutes)
Index("ix_compliance_record_dates_worker_date", compliance_record_dates.c.worker_id,
      compliance_record_dates.c.session_date, compliance_record_dates.c.recorded_at,
      compliance_record_dates.c.superseded_at)
# The few sessions booked ahead of a day, without walking every session. (An index on held_on, for the week's
# minutes, led SQLite to look every held session up through it for the records missing, at five times the cost.)
Index("ix_compliance_sessions_scheduled_for", compliance_sessions.c.scheduled_for)

TABLES = (compliance_sessions, compliance_record_dates, compliance_agreements, compliance_agreement_reviews,
          compliance_cases, compliance_case_ratings, compliance_case_discussions, compliance_record_shares)


# --- handlers: facts from events -----------------------------------------------------------------------------


def _statement(table: Table, key: str, *columns: str):  # type: ignore[no-untyped-def]
    # Built once and reused: per-event statement construction costs more than the execution.
    return update(table).where(table.c[key] == bindparam("_key")).values({c: bindparam(c) for c in columns})


def _updater(table: Table, key: str, **mapping: Callable[[Any], Any]) -> Callable[[Connection, Any], None]:
    statement = _statement(table, key, *mapping)

    def handle(conn: Connection, e: Any) -> None:
        conn.execute(statement, {"_key": str(e.originator_id), **{c: f(e) for c, f in mapping.items()}})
    return handle


_INSERT_SESSION = insert(compliance_sessions)
_INSERT_AGREEMENT = insert(compliance_agreements)


def _scheduled(conn: Connection, e: Any) -> None:
    conn.execute(_INSERT_SESSION, {
        "session_id": str(e.originator_id), "worker_id": e.supervisee_id, "supervisor_id": e.supervisor_id,
        "scheduled_for": e.starts_at.date(), "scheduled_at": e.timestamp, "planned_minutes": e.planned_minutes,
        "rebooks": e.rebooks})


_INSERT_RECORD_DATE = insert(compliance_record_dates)


def _drafted(conn: Connection, e: Any) -> None:
    _insert_record_date(conn, e, e.supervisee_id)


def _insert_record_date(conn: Connection, e: Any, worker_id: str) -> None:
    conn.execute(_INSERT_RECORD_DATE, {
        "record_id": str(e.originator_id), "aggregate_version": e.originator_version, "worker_id": worker_id,
        "session_date": _date(e.content["session_date"]), "recorded_at": e.timestamp, "superseded_at": None})


def _amended(conn: Connection, e: Any) -> None:
    """A new session date is a new fact from now on; the old one stays true for earlier days."""
    record_id = str(e.originator_id)
    current = conn.execute(select(compliance_record_dates.c.session_date, compliance_record_dates.c.worker_id).where(
        compliance_record_dates.c.record_id == record_id,
        compliance_record_dates.c.superseded_at.is_(None))).one()
    if current.session_date == _date(e.content["session_date"]):
        return
    conn.execute(update(compliance_record_dates).where(compliance_record_dates.c.record_id == record_id,
                                                       compliance_record_dates.c.superseded_at.is_(None))
                 .values(superseded_at=e.timestamp))
    _insert_record_date(conn, e, current.worker_id)


def _agreement_drafted(conn: Connection, e: Any) -> None:
    conn.execute(_INSERT_AGREEMENT, {
        "agreement_id": str(e.originator_id), "worker_id": e.supervisee_id, "supervisor_id": e.supervisor_id,
        "drafted_at": e.timestamp, "replaces": e.replaces})


_SIGNED_BY = {party: _updater(compliance_agreements, "agreement_id", **{
    f"{party}_signed_on": lambda e: e.signed_on, f"{party}_signed_at": lambda e: e.timestamp})
    for party in ("supervisee", "supervisor")}


def _agreement_signed(conn: Connection, e: Any) -> None:
    _SIGNED_BY["supervisee" if e.party == "supervisee" else "supervisor"](conn, e)


def _insert(table: Table, **mapping: Callable[[Any], Any]) -> Callable[[Connection, Any], None]:
    statement = insert(table)

    def handle(conn: Connection, e: Any) -> None:
        conn.execute(statement, {c: f(e) for c, f in mapping.items()})
    return handle


def _date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)


_ID = lambda e: str(e.originator_id)  # noqa: E731
_VERSION = lambda e: e.originator_version  # noqa: E731
_AT = lambda e: e.timestamp  # noqa: E731


def _destroy_statements() -> list[Any]:
    agreements = select(compliance_agreements.c.agreement_id).where(
        InList(compliance_agreements.c.worker_id, "_workers"))
    cases = select(compliance_cases.c.case_id).where(InList(compliance_cases.c.worker_id, "_workers"))
    records = select(compliance_record_dates.c.record_id).where(
        InList(compliance_record_dates.c.worker_id, "_workers"))
    return [delete(compliance_agreement_reviews).where(compliance_agreement_reviews.c.agreement_id.in_(agreements)),
            delete(compliance_case_ratings).where(compliance_case_ratings.c.case_id.in_(cases)),
            delete(compliance_case_discussions).where(compliance_case_discussions.c.case_id.in_(cases)),
            delete(compliance_record_shares).where(compliance_record_shares.c.record_id.in_(records)),
            *(delete(table).where(InList(table.c.worker_id, "_workers")) for table in (
                compliance_agreements, compliance_cases, compliance_sessions, compliance_record_dates))]


# Built once: a retention run destroys hundreds of files, and building these per event cost more than running them.
_DESTROY = _destroy_statements()


def _destroyed(conn: Connection, events: Sequence[Any]) -> None:
    """The files are being destroyed: every fact about their workers goes (the workers and their records go from
    worker_files and current_records)."""
    workers = [e.worker_id for e in events]
    for statement in _DESTROY:
        conn.execute(statement, {"_workers": workers})


BATCH_HANDLERS = {FileDestruction.DestructionStarted: _destroyed}
HANDLERS: dict[type, Callable[[Any, Any], None]] = {
    FileDestruction.DestructionStarted: lambda c, e: _destroyed(c, [e]),
    SupervisionSession.Scheduled: _scheduled,
    SupervisionSession.Held: _updater(compliance_sessions, "session_id", held_on=lambda e: e.held_on, held_at=_AT,
                                      actual_minutes=lambda e: e.actual_minutes,
                                      shortfall_minutes=lambda e: e.shortfall_minutes),
    SupervisionSession.Cancelled: _updater(compliance_sessions, "session_id", cancelled_at=_AT,
                                           cancel_reason=lambda e: e.reason, cancelled_by=lambda e: e.cancelled_by),
    SupervisionSession.ReturnToWorkRecorded: _updater(compliance_sessions, "session_id",
                                                      returned_on=lambda e: e.returned_on, returned_at=_AT),
    SupervisionSession.Rebooked: _updater(compliance_sessions, "session_id",
                                          rebooked_as=lambda e: e.new_session_id, rebooked_at=_AT),
    SupervisionRecord.Drafted: _drafted,
    SupervisionRecord.Amended: _amended,
    SupervisionRecord.SharedWithSupervisee: _insert(compliance_record_shares, record_id=_ID, version=_VERSION,
                                                    shared_at=_AT),
    SupervisionAgreement.Drafted: _agreement_drafted,
    SupervisionAgreement.Signed: _agreement_signed,
    SupervisionAgreement.Reviewed: _insert(compliance_agreement_reviews, agreement_id=_ID, version=_VERSION,
                                           reviewed_on=lambda e: e.reviewed_on, recorded_at=_AT),
    SupervisionAgreement.Lapsed: _updater(compliance_agreements, "agreement_id", lapsed_on=lambda e: e.lapsed_on,
                                          lapsed_at=_AT, lapse_reason=lambda e: e.reason),
    CaseSupervision.Opened: _insert(compliance_cases, case_id=_ID, worker_id=lambda e: e.worker_id, opened_at=_AT),
    CaseSupervision.Rated: _insert(compliance_case_ratings, case_id=_ID, version=_VERSION, rating=lambda e: e.rating,
                                   approved=lambda e: e.approved_by is not None, recorded_at=_AT),
    CaseSupervision.Discussed: _insert(compliance_case_discussions, case_id=_ID, version=_VERSION,
                                       discussed_on=lambda e: e.discussed_on, recorded_at=_AT),
    CaseSupervision.Closed: _updater(compliance_cases, "case_id", closed_at=_AT),
}


# --- queries: the facts known by the end of a day ----------------------------------------------------------------


def cutoff_for(as_of: date) -> datetime:
    """Facts recorded before midnight (UTC) at the end of `as_of` were known on that day."""
    return datetime.combine(as_of + timedelta(days=1), time(0), tzinfo=timezone.utc)


def _known(column: Any, cutoff: datetime) -> Any:
    return and_(column.is_not(None), column < cutoff)


@dataclass(frozen=True)
class Scope:
    """Which workers: everyone, one supervisor's team (as of the day), or given workers."""

    team: str | None = None
    worker_ids: tuple[str, ...] | None = None


def active_workers(conn: Connection, on: date, known_by: datetime, scope: Scope = Scope(),
                   first: date | None = None) -> list[dict]:
    """Workers in post on `on` (or at any time from `first` to `on`) as known at `known_by`, each with
    their supervisor on `on`."""
    w, p = workers, supervision_periods
    end_of_day = cutoff_for(on)
    period = select(p.c.worker_id, p.c.supervisor_id, p.c.started_at).where(
        p.c.started_at < end_of_day, or_(p.c.ended_at.is_(None), p.c.ended_at >= end_of_day)).subquery()
    g = worker_regimes
    query = (select(w.c.worker_id, func.coalesce(g.c.category, w.c.category).label("category"),
                    func.coalesce(g.c.category_since, w.c.start_date).label("start_date"), w.c.joined_at,
                    w.c.leaving_date.label("left_on"), w.c.left_at, period.c.supervisor_id,
                    period.c.started_at.label("supervisor_from"))
             .select_from(w.outerjoin(period, period.c.worker_id == w.c.worker_id)
                          .outerjoin(g, and_(g.c.worker_id == w.c.worker_id,
                                             g.c.started_version == _regime_in_force(w.c.worker_id, on, known_by))))
             .where(w.c.joined_at < known_by, w.c.start_date <= on,
                    or_(w.c.left_at.is_(None), w.c.left_at >= known_by, w.c.leaving_date >= (first or on))))
    if scope.team is not None:
        query = query.where(period.c.supervisor_id == scope.team)
    if scope.worker_ids is not None:
        query = query.where(w.c.worker_id.in_(scope.worker_ids))
    result = conn.execute(query)
    keys = tuple(result.keys())  # once: a row's own mapping builds its keys again for every worker
    rows = [dict(zip(keys, r)) for r in result]
    for row in rows:  # a leaving recorded later was not known then
        if row["left_at"] is None or _aware(row["left_at"]) >= known_by:
            row["left_on"] = None
    return rows


def _regime_in_force(worker_id: Any, on: date, known_by: datetime) -> Any:
    """The worker's latest regime recorded by `known_by` that had begun by `on` (a change recorded ahead of its
    day leaves the earlier regime in force until then). Looked up by key for each worker: grouping every worker's
    regimes first made one team's dashboard read them all."""
    r = worker_regimes.alias("recorded")
    return (select(func.max(r.c.started_version))
            .where(r.c.worker_id == worker_id, r.c.recorded_at < known_by, r.c.category_since <= on)
            .correlate(workers).scalar_subquery())


def _worker_filter(column: Any, ids: list[str] | None) -> Any:
    return literal(True) if ids is None else column.in_(ids)


def _held_dates(cutoff: datetime, as_of: date, ids: list[str] | None,  # type: ignore[no-untyped-def]
                counts_from: int | None = None):
    """Every (worker, day) with a session: held sessions and the session dates of records, as known then.
    `counts_from`: a held session shorter than this many minutes is no session (nor is its record's day), where
    the pack says a short session does not count (domain/session_length.py)."""
    s, d = compliance_sessions, compliance_record_dates
    held = select(s.c.worker_id, s.c.held_on.label("day")).where(
        _known(s.c.held_at, cutoff), s.c.held_on <= as_of, _worker_filter(s.c.worker_id, ids))
    recorded = select(d.c.worker_id, d.c.session_date.label("day")).where(
        _date_known(d, cutoff), d.c.session_date <= as_of, _worker_filter(d.c.worker_id, ids))
    if counts_from is not None:
        held = held.where(s.c.actual_minutes >= counts_from)
        short = select(s.c.session_id).where(s.c.worker_id == d.c.worker_id, s.c.held_on == d.c.session_date,
                                              _known(s.c.held_at, cutoff), s.c.actual_minutes < counts_from)
        recorded = recorded.where(~short.exists())
    return held, recorded


def load_facts(conn: Connection, as_of: date, scope: Scope = Scope(), counts_from: int | None = None,
               week: tuple[date, date] | None = None) -> list[WorkerFacts]:
    """Everything the dashboard needs, per worker in scope, as known at the end of `as_of`. `counts_from`: see
    _held_dates; `week`: the days whose held minutes each worker's facts carry (minutes a week)."""
    cutoff = cutoff_for(as_of)
    workers = active_workers(conn, as_of, cutoff, scope)
    if not workers:
        return []
    ids = None if scope == Scope() else [w["worker_id"] for w in workers]
    last_held: dict[str, tuple[date, int]] = {}
    last = _last_sessions(conn, cutoff, as_of, ids, counts_from, last_held)
    weekly = _minutes_held(conn, cutoff, week, ids) if week else {}
    booked = _next_booked(conn, cutoff, as_of, ids)
    records = _open_records(conn, cutoff, as_of, ids)
    unrecorded = _unrecorded_sessions(conn, cutoff, as_of, ids)
    cancellations = _cancellations(conn, cutoff, as_of, ids)
    agreements = _agreements(conn, cutoff, ids)
    cases = _cases(conn, cutoff, ids)
    facts = []
    for w in workers:
        wid = w["worker_id"]
        supervisor_since = w["supervisor_from"].date() if w["supervisor_from"] else None
        last_day, minutes = last.get(wid, (None, None))
        open_records = tuple(r if r.drafted_by in (None, w["supervisor_id"]) else replace(r, frozen=True)
                             for r in records.get(wid, ()))
        facts.append(WorkerFacts(
            worker_id=wid, category=w["category"], start_date=w["start_date"], joined_on=_aware(w["joined_at"]).date(),
            supervisor_id=w["supervisor_id"], supervisor_since=supervisor_since, last_session=last_day,
            last_session_minutes=minutes, next_booked=booked.get(wid),
            open_records=open_records, unrecorded_sessions=tuple(unrecorded.get(wid, ())),
            agreements=tuple(_with_derived_lapse(agreements.get(wid, ()), w["supervisor_id"], supervisor_since)),
            cancellations=tuple(cancellations.get(wid, ())), cases=tuple(cases.get(wid, ())),
            minutes_in_week=weekly.get(wid, 0) if week else None, last_held=last_held.get(wid)))
    return facts


def _aware(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes for timezone-aware columns; they were stored as UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _minutes_held(conn: Connection, cutoff: datetime, days: tuple[date, date], ids: list[str] | None
                  ) -> dict[str, int]:
    s = compliance_sessions
    return dict(conn.execute(select(s.c.worker_id, func.sum(s.c.actual_minutes)).where(
        _known(s.c.held_at, cutoff), s.c.held_on.between(*days), _worker_filter(s.c.worker_id, ids))
        .group_by(s.c.worker_id)).all())


def _last_sessions(conn: Connection, cutoff: datetime, as_of: date, ids: list[str] | None,
                   counts_from: int | None = None, held_last: dict[str, tuple[date, int]] | None = None
                   ) -> dict[str, tuple[date, int | None]]:
    """Each worker's last session day, and how long it lasted if it was recorded as a held session; `held_last`
    is filled with each worker's last held session (day, minutes), whether or not it counts."""
    held_last = {} if held_last is None else held_last
    latest: dict[str, tuple[date, int | None]] = {}
    held, recorded = _held_dates(cutoff, as_of, ids, counts_from)
    # Each part grouped on its own (by the worker's index) and the two merged here: grouping their union
    # sorted every session and record first, at twice the cost. Where every held session counts, the last held
    # session below is the held part's latest day: one pass over the sessions fewer.
    for part in (recorded,) if counts_from is None else (held, recorded):
        days = part.subquery()
        for worker_id, day in conn.execute(select(days.c.worker_id, func.max(days.c.day)).group_by(days.c.worker_id)):
            if worker_id not in latest or latest[worker_id][0] < day:
                latest[worker_id] = (day, None)
    s = compliance_sessions
    last_held = (select(s.c.worker_id, func.max(s.c.held_on).label("day"))
                 .where(_known(s.c.held_at, cutoff), s.c.held_on <= as_of, _worker_filter(s.c.worker_id, ids))
                 .group_by(s.c.worker_id).subquery())
    lengths = conn.execute(select(s.c.worker_id, s.c.held_on, func.min(s.c.actual_minutes))
                           .join(last_held, and_(last_held.c.worker_id == s.c.worker_id, last_held.c.day == s.c.held_on))
                           .where(_known(s.c.held_at, cutoff)).group_by(s.c.worker_id, s.c.held_on))
    for worker_id, held_on, minutes in lengths:
        held_last[worker_id] = (held_on, minutes)
        if counts_from is None and (worker_id not in latest or latest[worker_id][0] < held_on):
            latest[worker_id] = (held_on, None)
        if latest.get(worker_id, (None,))[0] == held_on:
            latest[worker_id] = (held_on, minutes)
    return latest


def _not_yet(column: Any, cutoff: datetime) -> Any:
    return or_(column.is_(None), column >= cutoff)


def _next_booked(conn: Connection, cutoff: datetime, as_of: date, ids: list[str] | None) -> dict[str, date]:
    s = compliance_sessions
    # The earliest taken here, not grouped in SQL: grouping by worker made SQLite walk every session in the
    # worker's index rather than the few ahead of the day in the day's.
    booked: dict[str, date] = {}
    for worker_id, day in conn.execute(select(s.c.worker_id, s.c.scheduled_for).where(
            s.c.scheduled_at < cutoff, s.c.scheduled_for >= as_of, _not_yet(s.c.held_at, cutoff),
            _not_yet(s.c.cancelled_at, cutoff), _worker_filter(s.c.worker_id, ids))):
        if worker_id not in booked or day < booked[worker_id]:
            booked[worker_id] = day
    return booked


def _date_known(d: Any, cutoff: datetime) -> Any:
    """A record's session date as it stood at the cutoff (an amendment may have changed it since)."""
    return and_(d.c.recorded_at < cutoff, _not_yet(d.c.superseded_at, cutoff))


def _open_records(conn: Connection, cutoff: datetime, as_of: date, ids: list[str] | None
                  ) -> dict[str, list[OpenRecord]]:
    """Records not signed by both; `drafted_by` tells a record frozen at a transfer from one still in hand."""
    r, d = current_records, compliance_record_dates
    # Filter the few unsigned records first, then look their dates up by key: most records are long signed.
    columns = (r.c.record_id, r.c.supervisee_id.label("worker_id"), r.c.supervisee_signed_at, r.c.supervisor_id)
    unsigned = union_all(*(select(*columns).where(r.c.drafted_at < cutoff, not_locked,
                                                  _worker_filter(r.c.supervisee_id, ids))
                           for not_locked in (r.c.supervisor_signed_at.is_(None),
                                              r.c.supervisor_signed_at >= cutoff))).subquery()
    sh = compliance_record_shares
    # Looked up by key for those few records: grouping every share first cost more than the rest of the query.
    first_shared = (select(func.min(sh.c.shared_at)).where(sh.c.record_id == unsigned.c.record_id,
                                                           sh.c.shared_at < cutoff).scalar_subquery())
    rows = conn.execute(select(unsigned.c.record_id, unsigned.c.worker_id, d.c.session_date,
                               unsigned.c.supervisee_signed_at, unsigned.c.supervisor_id, first_shared)
                        .join(d, d.c.record_id == unsigned.c.record_id)
                        .where(_date_known(d, cutoff), d.c.session_date < as_of))
    found: dict[str, list[OpenRecord]] = {}
    for record_id, worker_id, session_date, supervisee_signed_at, drafted_by, shared_at in rows:
        signed = supervisee_signed_at is not None and _aware(supervisee_signed_at) < cutoff
        state = "awaiting the supervisor's signature" if signed else "awaiting both signatures"
        shared_on = _aware(shared_at).date() if shared_at is not None else None
        found.setdefault(worker_id, []).append(OpenRecord(record_id, session_date, state, drafted_by,
                                                          shared_on=shared_on))
    return found


def _unrecorded_sessions(conn: Connection, cutoff: datetime, as_of: date, ids: list[str] | None
                         ) -> dict[str, list[date]]:
    s, d = compliance_sessions, compliance_record_dates
    has_record = select(d.c.record_id).where(d.c.worker_id == s.c.worker_id, d.c.session_date == s.c.held_on,
                                             _date_known(d, cutoff)).exists()
    rows = conn.execute(select(s.c.worker_id, s.c.held_on).where(
        _known(s.c.held_at, cutoff), s.c.held_on < as_of, ~has_record, _worker_filter(s.c.worker_id, ids)))
    found: dict[str, list[date]] = {}
    for worker_id, held_on in rows:
        found.setdefault(worker_id, []).append(held_on)
    return found


def _cancellations(conn: Connection, cutoff: datetime, as_of: date, ids: list[str] | None
                   ) -> dict[str, list[Cancellation]]:
    s, d = compliance_sessions, compliance_record_dates
    replacement, later = compliance_sessions.alias("replacement"), compliance_sessions.alias("later")
    # The first session on or after the missed day, held or recorded: it may have made up for the cancellation.
    next_held = select(func.min(later.c.held_on)).where(
        later.c.worker_id == s.c.worker_id, later.c.held_on >= s.c.scheduled_for, later.c.held_on <= as_of,
        _known(later.c.held_at, cutoff)).scalar_subquery()
    next_recorded = select(func.min(d.c.session_date)).where(
        d.c.worker_id == s.c.worker_id, d.c.session_date >= s.c.scheduled_for, d.c.session_date <= as_of,
        _date_known(d, cutoff)).scalar_subquery()
    rows = conn.execute(
        select(s.c.session_id, s.c.worker_id, s.c.scheduled_for, s.c.cancel_reason, s.c.cancelled_by,
               s.c.returned_on, s.c.returned_at, s.c.rebooked_at, replacement.c.scheduled_for.label("rebooked_for"),
               next_held.label("next_held"), next_recorded.label("next_recorded"))
        .select_from(s.outerjoin(replacement, replacement.c.session_id == s.c.rebooked_as))
        .where(_known(s.c.cancelled_at, cutoff), _worker_filter(s.c.worker_id, ids)))
    found: dict[str, list[Cancellation]] = {}
    for row in rows:
        returned = row.returned_on if row.returned_at is not None and _aware(row.returned_at) < cutoff else None
        rebooked = row.rebooked_for if row.rebooked_at is not None and _aware(row.rebooked_at) < cutoff else None
        made_up = min((day for day in (row.next_held, row.next_recorded) if day is not None), default=None)
        found.setdefault(row.worker_id, []).append(Cancellation(
            row.session_id, row.scheduled_for, row.cancel_reason, row.cancelled_by, returned, rebooked, made_up))
    return found


def _agreements(conn: Connection, cutoff: datetime, ids: list[str] | None) -> dict[str, list[AgreementFact]]:
    a, r = compliance_agreements, compliance_agreement_reviews
    reviewed = (select(r.c.agreement_id, func.max(r.c.reviewed_on).label("last_reviewed"))
                .where(r.c.recorded_at < cutoff).group_by(r.c.agreement_id).subquery())
    rows = conn.execute(select(a, reviewed.c.last_reviewed)
                        .select_from(a.outerjoin(reviewed, reviewed.c.agreement_id == a.c.agreement_id))
                        .where(a.c.drafted_at < cutoff, _worker_filter(a.c.worker_id, ids)))
    found: dict[str, list[AgreementFact]] = {}
    for row in rows:
        signed = {p: getattr(row, f"{p}_signed_on") for p in ("supervisee", "supervisor")
                  if getattr(row, f"{p}_signed_at") is not None and _aware(getattr(row, f"{p}_signed_at")) < cutoff}
        lapsed = row.lapsed_at is not None and _aware(row.lapsed_at) < cutoff
        found.setdefault(row.worker_id, []).append(AgreementFact(
            agreement_id=row.agreement_id, supervisor_id=row.supervisor_id, drafted_on=_aware(row.drafted_at).date(),
            in_force_on=max(signed.values()) if len(signed) == 2 else None, last_reviewed_on=row.last_reviewed,
            lapsed_on=row.lapsed_on if lapsed else None, lapse_reason=row.lapse_reason if lapsed else None,
            awaiting=tuple(p for p in ("supervisee", "supervisor") if p not in signed)))
    return found


def _with_derived_lapse(agreements: Iterable[AgreementFact], supervisor_id: str | None,
                        supervisor_since: date | None) -> list[AgreementFact]:
    """An agreement with someone who no longer supervises the worker lapsed when the current supervisor took
    over, whether or not its own Lapsed event has been written yet (it follows the transfer)."""
    result = []
    for a in agreements:
        if a.lapsed_on is None and supervisor_id is not None and a.supervisor_id != supervisor_id:
            a = AgreementFact(a.agreement_id, a.supervisor_id, a.drafted_on, a.in_force_on, a.last_reviewed_on,
                              supervisor_since, "supervisor_changed", a.awaiting)
        result.append(a)
    return result


def _cases(conn: Connection, cutoff: datetime, ids: list[str] | None) -> dict[str, list[CaseFact]]:
    c, rt, dc = compliance_cases, compliance_case_ratings, compliance_case_discussions
    latest_rating = (select(rt.c.case_id, func.max(rt.c.version).label("rating_version"))
                     .where(rt.c.recorded_at < cutoff).group_by(rt.c.case_id).subquery())
    discussed = (select(dc.c.case_id, func.max(dc.c.discussed_on).label("last_discussed"))
                 .where(dc.c.recorded_at < cutoff).group_by(dc.c.case_id).subquery())
    rows = conn.execute(
        select(c.c.case_id, c.c.worker_id, c.c.opened_at, rt.c.rating, rt.c.approved, discussed.c.last_discussed)
        .select_from(c.outerjoin(latest_rating, latest_rating.c.case_id == c.c.case_id)
                     .outerjoin(rt, and_(rt.c.case_id == latest_rating.c.case_id,
                                         rt.c.version == latest_rating.c.rating_version))
                     .outerjoin(discussed, discussed.c.case_id == c.c.case_id))
        .where(c.c.opened_at < cutoff, _not_yet(c.c.closed_at, cutoff), _worker_filter(c.c.worker_id, ids)))
    found: dict[str, list[CaseFact]] = {}
    for row in rows:
        found.setdefault(row.worker_id, []).append(CaseFact(
            row.case_id, _aware(row.opened_at).date(), row.rating, bool(row.approved), row.last_discussed))
    return found


# --- the month ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MonthFacts:
    worker: dict
    last_before: date | None
    held: tuple[date, ...]
    # The day and minutes of each session recorded as held in the window: the pack (and an agreement binding
    # that day) decides what is short.
    held_lengths: tuple[tuple[date, int], ...]
    cancelled: int
    agreements: tuple[AgreementFact, ...] = ()  # every agreement drafted by then, as on the due view


def load_month(conn: Connection, first: date, last: date, as_of: date, scope: Scope = Scope(),
               counts_from: int | None = None) -> list[MonthFacts]:
    """Per worker in post at any time in [first, last]: sessions before and in the month, as known on `as_of`
    (`counts_from`: see _held_dates)."""
    cutoff = cutoff_for(as_of)
    end = min(last, as_of)
    workers = active_workers(conn, end, cutoff, scope, first=first)
    if not workers:
        return []
    ids = None if scope == Scope() else [w["worker_id"] for w in workers]
    held, recorded = _held_dates(cutoff, end, ids, counts_from)
    both = union_all(held, recorded).subquery()
    before = dict(conn.execute(select(both.c.worker_id, func.max(both.c.day)).where(both.c.day < first)
                               .group_by(both.c.worker_id)).all())
    in_month: dict[str, set[date]] = {}
    for worker_id, day in conn.execute(select(both.c.worker_id, both.c.day).where(both.c.day >= first)):
        in_month.setdefault(worker_id, set()).add(day)
    s = compliance_sessions
    minutes: dict[str, list[tuple[date, int]]] = {}
    for worker_id, held_on, lasted in conn.execute(select(s.c.worker_id, s.c.held_on, s.c.actual_minutes).where(
            _known(s.c.held_at, cutoff), s.c.held_on.between(first, end), _worker_filter(s.c.worker_id, ids))):
        minutes.setdefault(worker_id, []).append((held_on, lasted))
    agreements = _agreements(conn, cutoff, ids)
    cancelled = dict(conn.execute(select(s.c.worker_id, func.count()).where(
        _known(s.c.cancelled_at, cutoff), s.c.scheduled_for.between(first, end),
        _worker_filter(s.c.worker_id, ids)).group_by(s.c.worker_id)).all())
    return [MonthFacts(w, before.get(w["worker_id"]), tuple(sorted(in_month.get(w["worker_id"], ()))),
                       tuple(sorted(minutes.get(w["worker_id"], ()))), cancelled.get(w["worker_id"], 0),
                       tuple(agreements.get(w["worker_id"], ()))) for w in workers]


def sessions_of(conn: Connection, worker_id: str | None = None, supervisor_id: str | None = None) -> list[dict]:
    """Sessions (dates, minutes, states), newest first."""
    s = compliance_sessions
    query = select(s).order_by(s.c.scheduled_for.desc(), s.c.session_id)
    if worker_id is not None:
        query = query.where(s.c.worker_id == worker_id)
    if supervisor_id is not None:
        query = query.where(s.c.supervisor_id == supervisor_id)
    rows = [dict(r._mapping) for r in conn.execute(query)]
    for row in rows:
        row["state"] = "held" if row["held_at"] else "cancelled" if row["cancelled_at"] else "scheduled"
    return rows


def next_session_of(conn: Connection, worker_id: str, on: date) -> dict | None:
    """The worker's earliest session still scheduled (neither held nor cancelled) on `on` or later."""
    s = compliance_sessions
    row = conn.execute(select(s).where(s.c.worker_id == worker_id, s.c.held_at.is_(None), s.c.cancelled_at.is_(None),
                                       s.c.scheduled_for >= on)
                       .order_by(s.c.scheduled_for, s.c.session_id).limit(1)).first()
    return None if row is None else {**row._mapping, "state": "scheduled"}


def agreements_of(conn: Connection, worker_id: str | None = None, party: str | None = None) -> list[dict]:
    """Agreements, newest first; `party`: only those this worker is the supervisee or the supervisor of."""
    a = compliance_agreements
    query = select(a).order_by(a.c.drafted_at.desc())
    if worker_id is not None:
        query = query.where(a.c.worker_id == worker_id)
    if party is not None:
        query = query.where(or_(a.c.worker_id == party, a.c.supervisor_id == party))
    return [dict(r._mapping) for r in conn.execute(query)]


def agreement_in_force(conn: Connection, worker_id: str, supervisor_id: str) -> str | None:
    """The latest agreement between the two that both signed and that has not lapsed."""
    a = compliance_agreements
    return conn.execute(select(a.c.agreement_id).where(
        a.c.worker_id == worker_id, a.c.supervisor_id == supervisor_id, a.c.lapsed_at.is_(None),
        a.c.supervisee_signed_at.is_not(None), a.c.supervisor_signed_at.is_not(None))
        .order_by(a.c.drafted_at.desc()).limit(1)).scalar()


def unlapsed_agreements(conn: Connection, worker_id: str, supervisor_id: str) -> list[str]:
    a = compliance_agreements
    return list(conn.execute(select(a.c.agreement_id).where(
        a.c.worker_id == worker_id, a.c.lapsed_at.is_(None), a.c.supervisor_id == supervisor_id)).scalars())


def joined_on(row: dict) -> date:
    return _aware(row["joined_at"]).date()


def sessions_count(conn: Connection) -> int:
    return conn.execute(select(func.count()).select_from(compliance_sessions)).scalar_one()


__all__ = ["HANDLERS", "Scope", "TABLES", "agreement_in_force", "agreements_of", "cutoff_for", "joined_on",
           "load_facts", "load_month", "sessions_of", "unlapsed_agreements"]
