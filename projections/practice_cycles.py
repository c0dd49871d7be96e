"""Read model PracticeCycles: observations, step-down decisions, employee reviews and the agreements' own terms,
each with the moment it was recorded, so the due view of a past day shows what was known then.

Rows hold ids, dates, kinds and outcomes from fixed lists, never feedback, rationales or names (those stay in the
sealed events). `with_cycle_facts` adds them to the compliance facts (projections/supervision_compliance.py).
"""

from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from datetime import date, datetime, timezone
from typing import Any

from sqlalchemy import (
    Column, Connection, Date, DateTime, Integer, String, Table, delete, func, insert, literal, or_, select,
)

from domain.agreements import SupervisionAgreement
from domain.compliance import WorkerFacts
from domain.employee_reviews import EmployeeReview, ReviewFact
from domain.observations import FrequencySteps, ObservationFact, PracticeObservation
from domain.retention import FileDestruction
from projections.schema import FEW_IDS, InList, read_models, supervision_periods

cycle_observations = Table(
    "cycle_observations", read_models,
    Column("observation_id", String(36), primary_key=True),
    Column("subject_id", String(36), nullable=False, index=True),
    Column("observed", String(16), nullable=False),
    Column("relation", String(16), nullable=False),
    Column("outcome", String(32), nullable=False),
    Column("observed_on", Date, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
)

cycle_step_downs = Table(
    "cycle_step_downs", read_models,
    Column("worker_id", String(36), primary_key=True),
    Column("version", Integer, primary_key=True),  # of the event that recorded it
    Column("category", String(32), nullable=False),
    Column("regime_start", Date, nullable=False),
    Column("decided_on", Date, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
)

cycle_reviews = Table(
    "cycle_reviews", read_models,
    Column("review_id", String(36), primary_key=True),
    Column("worker_id", String(36), nullable=False, index=True),
    Column("kind", String(64), nullable=False),
    Column("reviewed_on", Date, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
)

# The terms an agreement binds with (frequency and session length); its signatures are in compliance_agreements.
cycle_agreement_terms = Table(
    "cycle_agreement_terms", read_models,
    Column("agreement_id", String(36), primary_key=True),
    Column("worker_id", String(36), nullable=False, index=True),
    Column("every_months", Integer),
    Column("every_weeks", Integer),
    Column("every_days", Integer),
    Column("session_minutes", Integer),
)

TABLES = (cycle_observations, cycle_step_downs, cycle_reviews, cycle_agreement_terms)


def _insert(table: Table, **mapping: Callable[[Any], Any]) -> Callable[[Connection, Any], None]:
    statement = insert(table)

    def handle(conn: Connection, e: Any) -> None:
        conn.execute(statement, {c: f(e) for c, f in mapping.items()})
    return handle


def _agreement_terms(conn: Connection, e: Any) -> None:
    every = e.terms.get("every") or {}
    if not every and e.terms.get("session_minutes") is None:
        return
    conn.execute(insert(cycle_agreement_terms), {
        "agreement_id": str(e.originator_id), "worker_id": e.supervisee_id, "every_months": every.get("months"),
        "every_weeks": every.get("weeks"), "every_days": every.get("days"),
        "session_minutes": e.terms.get("session_minutes")})


_DESTROY = tuple(delete(t).where(InList(column, "_workers")) for t, column in (
    (cycle_observations, cycle_observations.c.subject_id), (cycle_step_downs, cycle_step_downs.c.worker_id),
    (cycle_reviews, cycle_reviews.c.worker_id), (cycle_agreement_terms, cycle_agreement_terms.c.worker_id)))


def _destroyed(conn: Connection, events: Sequence[Any]) -> None:
    workers = [e.worker_id for e in events]
    for statement in _DESTROY:
        conn.execute(statement, {"_workers": workers})


_ID = lambda e: str(e.originator_id)  # noqa: E731
_AT = lambda e: e.timestamp  # noqa: E731

BATCH_HANDLERS = {FileDestruction.DestructionStarted: _destroyed}
HANDLERS: dict[type, Callable[[Any, Any], None]] = {
    FileDestruction.DestructionStarted: lambda c, e: _destroyed(c, [e]),
    PracticeObservation.Recorded: _insert(
        cycle_observations, observation_id=_ID, subject_id=lambda e: e.subject_id, observed=lambda e: e.observed,
        relation=lambda e: e.relation, outcome=lambda e: e.outcome, observed_on=lambda e: e.observed_on,
        recorded_at=_AT),
    FrequencySteps.SteppedDown: _insert(
        cycle_step_downs, worker_id=lambda e: e.worker_id, version=lambda e: e.originator_version,
        category=lambda e: e.category, regime_start=lambda e: e.regime_start, decided_on=lambda e: e.decided_on,
        recorded_at=_AT),
    EmployeeReview.Recorded: _insert(cycle_reviews, review_id=_ID, worker_id=lambda e: e.worker_id,
                                     kind=lambda e: e.kind, reviewed_on=lambda e: e.reviewed_on, recorded_at=_AT),
    SupervisionAgreement.Drafted: _agreement_terms,
}


# --- queries ---------------------------------------------------------------------------------------------------


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _of(column: Any, ids: list[str]) -> Any:
    return column.in_(ids) if len(ids) <= FEW_IDS else literal(True)


def step_downs(conn: Connection, cutoff: datetime, workers: Iterable[dict]) -> dict[str, tuple[date, ...]]:
    """Each worker's step-down decisions under the category and start date they have, as known at the cutoff."""
    wanted = {w["worker_id"]: (w["category"], w["start_date"]) for w in workers}
    if not wanted:
        return {}
    s = cycle_step_downs
    found: dict[str, list[date]] = {}
    for worker_id, category, start, decided_on in conn.execute(
            select(s.c.worker_id, s.c.category, s.c.regime_start, s.c.decided_on)
            .where(s.c.recorded_at < cutoff, _of(s.c.worker_id, list(wanted)))):
        if wanted.get(worker_id) == (category, start):
            found.setdefault(worker_id, []).append(decided_on)
    return {w: tuple(sorted(days)) for w, days in found.items()}


def with_cycle_facts(conn: Connection, facts: list[WorkerFacts], cutoff: datetime) -> list[WorkerFacts]:
    """The facts with each worker's observations, reviews, step-downs, whether they supervise anyone now, and
    their agreements' own terms, as known at the cutoff."""
    ids = [f.worker_id for f in facts]
    if not ids:
        return facts
    o, r, p = cycle_observations, cycle_reviews, supervision_periods
    observations: dict[str, list[ObservationFact]] = {}
    for row in conn.execute(select(o).where(o.c.recorded_at < cutoff, _of(o.c.subject_id, ids))):
        observations.setdefault(row.subject_id, []).append(ObservationFact(
            row.observation_id, row.subject_id, row.observed, row.relation, row.observed_on, row.outcome))
    reviews: dict[str, list[ReviewFact]] = {}
    for row in conn.execute(select(r).where(r.c.recorded_at < cutoff, _of(r.c.worker_id, ids))):
        reviews.setdefault(row.worker_id, []).append(ReviewFact(row.review_id, row.kind, row.reviewed_on))
    terms = agreed_terms_of(conn, ids)
    supervising = dict(conn.execute(
        select(p.c.supervisor_id, func.min(p.c.started_at)).where(
            p.c.started_at < cutoff, or_(p.c.ended_at.is_(None), p.c.ended_at >= cutoff),
            _of(p.c.supervisor_id, ids)).group_by(p.c.supervisor_id)).all())
    steps = step_downs(conn, cutoff, [{"worker_id": f.worker_id, "category": f.category, "start_date": f.start_date}
                                      for f in facts])
    found = []
    for f in facts:
        cycle = (tuple(observations.get(f.worker_id, ())), tuple(reviews.get(f.worker_id, ())),
                 steps.get(f.worker_id, ()),
                 _aware(supervising[f.worker_id]).date() if f.worker_id in supervising else None,
                 terms.get(f.worker_id, {}))
        # Most workers have none of these: their facts stand as they are (a copy of each cost more than the queries).
        if cycle != (f.observations, f.reviews, f.step_downs, f.supervises_since, f.agreed_terms):
            f = replace(f, observations=cycle[0], reviews=cycle[1], step_downs=cycle[2], supervises_since=cycle[3],
                        agreed_terms=cycle[4])
        found.append(f)
    return found


def agreed_terms_of(conn: Connection, ids: list[str]) -> dict[str, dict[str, dict]]:
    """Per worker, each agreement's own frequency and session length (terms are fixed when it is drafted)."""
    t = cycle_agreement_terms
    terms: dict[str, dict[str, dict]] = {}
    if not ids:
        return terms
    wanted = set(ids)
    for row in conn.execute(select(t).where(_of(t.c.worker_id, ids))):
        if row.worker_id not in wanted:
            continue
        every = {k: v for k, v in (("months", row.every_months), ("weeks", row.every_weeks),
                                   ("days", row.every_days)) if v}
        agreed = {**({"every": every} if every else {}),
                  **({"session_minutes": row.session_minutes} if row.session_minutes else {})}
        terms.setdefault(row.worker_id, {})[row.agreement_id] = agreed
    return terms


def observations_of(conn: Connection, subject_id: str) -> list[dict]:
    o = cycle_observations
    return [dict(r._mapping) for r in conn.execute(
        select(o).where(o.c.subject_id == subject_id).order_by(o.c.observed_on.desc(), o.c.observation_id))]


def reviews_of(conn: Connection, worker_id: str) -> list[dict]:
    r = cycle_reviews
    return [dict(x._mapping) for x in conn.execute(
        select(r).where(r.c.worker_id == worker_id).order_by(r.c.reviewed_on.desc(), r.c.review_id))]


__all__ = ["HANDLERS", "TABLES", "agreed_terms_of", "observations_of", "reviews_of", "step_downs", "with_cycle_facts"]
