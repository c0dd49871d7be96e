"""/api/v1 for judgements recorded as decisions: direct observations of practice and of supervision, decisions
to reduce a worker's supervision frequency, and employee reviews. Translation only: the application's commands
decide who may (the observer as themselves; the worker's supervisor; the worker's line manager, or above with
the reason) and the domain what the policy allows.
"""

from datetime import date
from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter
from pydantic import BaseModel, StringConstraints

from api.http_support import ANYONE, SUPERVISING, Caller, From, App, allow
from api.practice_service import WorkerPractice

router = APIRouter(prefix="/api/v1", tags=["observations and reviews"])

Text = Annotated[str, StringConstraints(max_length=4000, pattern=r"^[^\x00]*$")]


class ObservationIn(BaseModel):
    subject_id: UUID
    observed: Literal["practice", "supervision"] = "practice"
    observed_on: date
    outcome: Literal["meets_standard", "below_standard"]
    feedback: Text = ""
    confirmed_anonymous: bool = False


class ObservationOut(BaseModel):
    observation_id: str
    subject_id: str
    observed: str
    observer_id: str
    relation: str
    observed_on: date
    outcome: str


class StepDownIn(BaseModel):
    decided_on: date
    observation_id: UUID | None = None
    rationale: Annotated[str, StringConstraints(min_length=1, max_length=4000, pattern=r"^[^\x00]*$")]
    confirmed_anonymous: bool = False


class StepOut(BaseModel):
    category: str
    regime_start: date
    decided_on: date
    from_every: dict[str, int]
    to_every: dict[str, int]
    observation_id: str | None
    decided_by: str


class StepsOut(BaseModel):
    worker_id: str
    steps: list[StepOut]


class ReviewIn(BaseModel):
    kind: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
    reviewed_on: date
    reason: Text = ""


class ReviewOut(BaseModel):
    review_id: str
    worker_id: str
    kind: str
    reviewed_on: date
    reviewer_id: str
    relation: str


class PracticeObservationOut(BaseModel):
    observation_id: str
    observed: str
    observed_on: date
    observer_id: str
    relation: str
    outcome: str
    feedback: str


class PracticeReviewOut(BaseModel):
    review_id: str
    kind: str
    reviewed_on: date
    reviewer_id: str
    relation: str
    reason: str


class FrequencyOut(BaseModel):
    rule: str
    source: str
    last_session: date | None
    due: date
    days_overdue: int
    status: str
    reason: str


class CycleOut(BaseModel):
    kind: str
    due: date
    days_overdue: int
    text: str


class PracticeOut(BaseModel):
    """A worker's practice as the caller may see it now: what the web interface's practice page shows."""

    worker_id: str
    category: str
    state: str
    supervisor_id: str | None
    basis: str
    pack: str
    regime: str | None
    frequency: FrequencyOut | None
    observations: list[PracticeObservationOut]
    step_downs: list[StepOut]
    reviews: list[PracticeReviewOut]
    review_kinds: list[str]
    cycles: list[CycleOut]
    offered: list[str]


def practice_out(found: WorkerPractice) -> PracticeOut:
    f = found.frequency
    return PracticeOut(
        worker_id=found.worker_id, category=found.category, state=found.state, supervisor_id=found.supervisor_id,
        basis=found.basis, pack=found.pack, regime=found.regime,
        frequency=FrequencyOut(rule=f.rule, source=f.source, last_session=f.last_session, due=f.due,
                               days_overdue=f.days_overdue, status=f.status, reason=f.reason) if f else None,
        observations=[PracticeObservationOut(**o) for o in found.observations],
        step_downs=[StepOut(**{k: s[k] for k in StepOut.model_fields}) for s in found.step_downs],
        reviews=[PracticeReviewOut(**r) for r in found.reviews], review_kinds=list(found.review_kinds),
        cycles=[CycleOut(kind=c.kind, due=c.due, days_overdue=c.days_overdue, text=c.text) for c in found.cycles],
        offered=sorted(found.offered))


@router.get("/workers/{worker_id}/practice", response_model=PracticeOut, **allow(
    ANYONE, "The rules then decide (`decide_practice_read`): the worker, their supervisor, anyone above that "
            "supervisor in line management, or a live grant covering the worker's file. Every attempt, allowed "
            "or refused, is written to the access log (`read_practice`) before anything is returned."))
def practice(worker_id: UUID, app: App, who: Caller, via: From) -> PracticeOut:
    """Observations of the worker's practice (with their feedback), decisions to reduce their supervision
    frequency, employee reviews, the frequency in force and when each observation and review next falls due."""
    return practice_out(app.practice.practice_of(who, worker_id, via=via))


@router.post("/observations", status_code=201, response_model=ObservationOut, **allow(
    SUPERVISING, "The observer records it as themselves: the worker's supervisor, someone above them in line "
                 "management, or another supervisor (a peer)."))
def record_observation(body: ObservationIn, app: App, who: Caller) -> ObservationOut:
    o = app.practice.record_observation(who, subject_id=body.subject_id, observed=body.observed,
                                        observed_on=body.observed_on,
                                        outcome=body.outcome, feedback=body.feedback,
                                        confirmed_anonymous=body.confirmed_anonymous)
    return ObservationOut(observation_id=str(o.id), subject_id=o.subject_id, observed=o.observed,
                          observer_id=o.observer_id, relation=o.relation, observed_on=o.observed_on,
                          outcome=o.outcome)


@router.post("/workers/{worker_id}/frequency-step-downs", status_code=201, response_model=StepsOut, **allow(
    SUPERVISING, "The worker's current supervisor; refused without a direct observation of the worker's practice, "
                 "meeting the required standard, before the decision (bcp)."))
def step_down(worker_id: UUID, body: StepDownIn, app: App, who: Caller) -> StepsOut:
    steps = app.practice.step_down_frequency(who, worker_id, decided_on=body.decided_on,
                                             observation_id=body.observation_id,
                                             rationale=body.rationale, confirmed_anonymous=body.confirmed_anonymous)
    return StepsOut(worker_id=steps.worker_id, steps=[StepOut(**{k: s[k] for k in StepOut.model_fields})
                                                      for s in steps.steps])


@router.post("/workers/{worker_id}/reviews", status_code=201, response_model=ReviewOut, **allow(
    SUPERVISING, "The worker's immediate line manager (their supervisor), or in exceptional circumstances someone "
                 "above them, with the reason."))
def record_review(worker_id: UUID, body: ReviewIn, app: App, who: Caller) -> ReviewOut:
    r = app.practice.record_employee_review(who, worker_id, kind=body.kind, reviewed_on=body.reviewed_on,
                                            reason=body.reason)
    return ReviewOut(review_id=str(r.id), worker_id=r.worker_id, kind=r.kind, reviewed_on=r.reviewed_on,
                     reviewer_id=r.reviewer_id, relation=r.relation)


__all__ = ["router"]
