"""The web interface's calls into the application for a worker's practice: observations, decisions to reduce the
supervision frequency, and employee reviews. In the same sequence as the HTTP API's handlers
(api/http_practice.py), with the same request models, so the same limits apply; as in api/web/commands.py, the
rules are the application's and the domain's: every call takes the acting Principal."""

from uuid import UUID

from api.access_service import Via
from api.application import SupervisionApplication
from api.http_practice import ObservationIn, ReviewIn, StepDownIn
from api.practice_service import WorkerPractice
from infrastructure.users import Principal


def practice(app: SupervisionApplication, who: Principal, via: Via, worker_id: UUID) -> WorkerPractice:
    """Decided and written to the access log before anything is shown."""
    return app.practice.practice_of(who, worker_id, via=via)


def record_observation(app: SupervisionApplication, who: Principal, worker_id: UUID, fields: dict) -> None:
    """As POST /api/v1/observations, of this worker."""
    body = ObservationIn.model_validate({**fields, "subject_id": str(worker_id)})
    app.practice.record_observation(who, subject_id=body.subject_id, observed=body.observed,
                                    observed_on=body.observed_on,
                                    outcome=body.outcome, feedback=body.feedback,
                                    confirmed_anonymous=body.confirmed_anonymous)


def step_down(app: SupervisionApplication, who: Principal, worker_id: UUID, fields: dict) -> None:
    """As POST /api/v1/workers/{id}/frequency-step-downs."""
    body = StepDownIn.model_validate(fields)
    app.practice.step_down_frequency(who, worker_id, decided_on=body.decided_on, observation_id=body.observation_id,
                                     rationale=body.rationale, confirmed_anonymous=body.confirmed_anonymous)


def record_review(app: SupervisionApplication, who: Principal, worker_id: UUID, fields: dict) -> None:
    """As POST /api/v1/workers/{id}/reviews."""
    body = ReviewIn.model_validate(fields)
    app.practice.record_employee_review(who, worker_id, kind=body.kind, reviewed_on=body.reviewed_on,
                                        reason=body.reason)
