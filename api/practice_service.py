"""Commands of the observation and review area, mixed into SupervisionLedger (see api/application.py): direct
observations of practice and of supervision, decisions to reduce a frequency that rest on them, and employee
reviews. Each takes the acting Principal first, decides through domain/authorisation.py that a member of staff
acts as themselves, and the domain then decides whether this person may take this step.
"""

from collections.abc import Callable
from datetime import date, datetime
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from sqlalchemy import func, select

from domain.anonymisation import Screening
from domain.authorisation import Decision, decide_staff_step
from domain.employee_reviews import EmployeeReview
from domain.errors import DomainError
from domain.observations import FrequencySteps, PracticeObservation, relation_of, steps_id
from domain.policy import PolicyPack, WorkerCategory
from domain.workers import Worker
from infrastructure.keys import StagedKeys
from infrastructure.users import Principal
from projections.schema import workers

_CHAIN_LIMIT = 20  # line management is a chain, never a cycle (allocation refuses mutual supervision)


class PracticeService:
    """Uses self.repository, self.save_and_project, self.clock and self.storage of the application."""

    storage: Any
    clock: Callable[[], datetime]
    repository: Any
    get_worker: Callable[..., Worker]
    save_and_project: Callable[..., None]
    require: Callable[[Principal, Decision], None]
    see_own_writes: Callable[[], None]
    compliance_pack: Callable[..., PolicyPack]
    screening: Callable[[], Screening]
    _worker_key: Callable[..., StagedKeys]
    _get_aggregate: Callable[..., Any]

    def record_observation(self, user: Principal, *, subject_id: UUID | str, observed: str, observed_on: date,
                           outcome: str, feedback: str = "", confirmed_anonymous: bool = False) -> PracticeObservation:
        """The observer records a direct observation of a worker's practice, or of a supervisor's supervision."""
        actor = self._as_staff(user, "record an observation")
        subject = self._active(subject_id, "record an observation of")
        if observed == "supervision" and not self._supervises_anyone(str(subject.id)):
            raise DomainError("this worker supervises nobody now: observe their practice, not their supervision")
        relation = relation_of(actor, self._chain(subject), self._supervises_anyone(actor))
        observation = PracticeObservation.record(
            subject_id=str(subject.id), observed=observed, observer_id=actor, relation=relation,
            observed_on=observed_on, outcome=outcome, actor=actor, timestamp=self.clock(), feedback=feedback,
            screening=self.screening(), confirmed_anonymous=confirmed_anonymous)
        self.save_and_project(observation, keys=self._worker_key(observation.id, subject.id), unchanged=(subject,))
        return observation

    def step_down_frequency(self, user: Principal, worker_id: UUID | str, *, decided_on: date, rationale: str,
                            observation_id: UUID | str | None = None, confirmed_anonymous: bool = False,
                            pack: PolicyPack | str | None = None) -> FrequencySteps:
        """The worker's supervisor decides the worker meets the required standard and reduces the frequency one
        step; refused without a direct observation of the worker's practice before it (bcp)."""
        actor = self._as_staff(user, "decide to reduce a supervision frequency")
        worker = self._active(worker_id, "reduce the supervision frequency of")
        policy = self.compliance_pack(pack)
        rule = policy.frequency.for_category(WorkerCategory(worker.category))
        observation = self.get_observation(observation_id).fact() if observation_id else None
        now = self.clock()
        try:
            steps = self.repository.get(steps_id(worker.id))
            keys = None
        except AggregateNotFoundError:
            steps = FrequencySteps.start(worker_id=str(worker.id), actor=actor, timestamp=now)
            keys = self._worker_key(steps.id, worker.id)
        steps.step_down(rule=rule, whose=policy.cite(rule.step_down) if rule.step_down else policy.short_name,
                        category=worker.category, regime_start=worker.start_date, decided_on=decided_on,
                        observation=observation, rationale=rationale, supervisor_now=worker.supervisor_id,
                        actor=actor, timestamp=now, screening=self.screening(),
                        confirmed_anonymous=confirmed_anonymous)
        self.save_and_project(steps, keys=keys, unchanged=(worker,))
        return steps

    def record_employee_review(self, user: Principal, worker_id: UUID | str, *, kind: str, reviewed_on: date,
                               reason: str = "", pack: PolicyPack | str | None = None) -> EmployeeReview:
        """The reviewer (the worker's immediate line manager, or someone above with the reason) records it."""
        actor = self._as_staff(user, "record an employee review")
        worker = self._active(worker_id, "record a review of")
        review = EmployeeReview.record(pack=self.compliance_pack(pack), worker_id=str(worker.id), kind=kind,
                                       reviewed_on=reviewed_on, worker_chain=self._chain(worker), actor=actor,
                                       timestamp=self.clock(), reason=reason)
        self.save_and_project(review, keys=self._worker_key(review.id, worker.id), unchanged=(worker,))
        return review

    def get_observation(self, observation_id: UUID | str) -> PracticeObservation:
        return self._get_aggregate(PracticeObservation, observation_id, "observation")

    # -- shared --------------------------------------------------------------------------------------------------

    def _as_staff(self, user: Principal, step: str) -> str:
        self.require(user, decide_staff_step(user.reader, step))
        return user.actor

    def _active(self, worker_id: UUID | str, step: str) -> Worker:
        worker = self.get_worker(worker_id)
        if worker.state != "active":
            raise DomainError(f"cannot {step} a worker who is {worker.state}")
        return worker

    def _chain(self, worker: Worker) -> tuple[str, ...]:
        """The worker's line management upwards: their supervisor, that supervisor's supervisor, ..."""
        chain: list[str] = []
        current = worker.supervisor_id
        while current and current not in chain and len(chain) < _CHAIN_LIMIT:
            chain.append(current)
            current = self.get_worker(current).supervisor_id
        return tuple(chain)

    def _supervises_anyone(self, worker_id: str) -> bool:
        self.see_own_writes()
        with self.storage.reads.connect() as conn:
            return bool(conn.execute(select(func.count()).select_from(workers).where(
                workers.c.supervisor_id == worker_id, workers.c.state == "active")).scalar_one())


__all__ = ["PracticeService"]
