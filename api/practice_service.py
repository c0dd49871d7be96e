"""Commands of the observation and review area, a service of the application (api/application.py): direct
observations of practice and of supervision, decisions to reduce a frequency that rest on them, and employee
reviews. Each takes the acting Principal first, decides through domain/authorisation.py that a member of staff
acts as themselves, and the domain then decides whether this person may take this step.
"""

from dataclasses import dataclass
from datetime import date
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from sqlalchemy import func, select

from api.access_service import AccessService
from api.core import Core, Service
from api.policy_service import PolicyService
from api.access_service import AccessDenied, Via
from domain.access_log import AccessAttempt
from domain.authorisation import decide_practice_read, decide_staff_step, practice_steps_offered
from domain.compliance import FrequencyStatus, frequency_status, practice_cycles, rule_in_force
from domain.employee_reviews import EmployeeReview
from domain.errors import DomainError
from domain.observations import CycleDue, FrequencySteps, PracticeObservation, relation_of, steps_id
from domain.policy import PolicyPack, WorkerCategory
from domain.session_length import counts_from_minutes
from domain.workers import Worker
from infrastructure.users import Principal
from projections.practice_cycles import observations_of, reviews_of, with_cycle_facts
from projections.schema import workers
from projections.supervision_compliance import Scope, cutoff_for, load_facts

_CHAIN_LIMIT = 20  # line management is a chain, never a cycle (allocation refuses mutual supervision)


@dataclass(frozen=True)
class WorkerPractice:
    """One worker's practice as someone allowed to see it sees it now (`practice_of`)."""

    worker_id: str
    category: str
    state: str
    supervisor_id: str | None
    basis: str  # why the reader may see it (as the access log records it)
    pack: str  # the policy pack's short name
    observations: list[dict]  # newest first: observed, observed_on, observer_id, relation, outcome, feedback
    step_downs: list[dict]  # in order: decided_on, from_every, to_every, observation_id, decided_by
    reviews: list[dict]  # newest first: kind, reviewed_on, reviewer_id, relation, reason
    review_kinds: tuple[str, ...]  # the reviews the pack names
    regime: str | None  # the frequency in force today, with the pack's words (None: not in post)
    frequency: FrequencyStatus | None  # when supervision is next due, as the due view says it
    cycles: list[CycleDue]  # each observation and review cycle the pack applies, with its next due date
    offered: frozenset[str]  # the forms to offer this reader: observation, step_down, review
    step_down_by_decision: bool  # whether this worker's frequency eases by a recorded decision at all


class PracticeService(Service):
    """Direct observations of practice, step-downs of frequency, employee reviews. Uses the core, access (reads
    are decided and logged as for the file) and policy."""

    def __init__(self, core: Core, access: AccessService, policy: PolicyService) -> None:
        super().__init__(core)
        self.access = access
        self.policy = policy


    def record_observation(self, user: Principal, *, subject_id: UUID | str, observed: str, observed_on: date,
                           outcome: str, feedback: str = "", confirmed_anonymous: bool = False) -> PracticeObservation:
        """The observer records a direct observation of a worker's practice, or of a supervisor's supervision."""
        actor = self._as_staff(user, "record an observation")
        subject = self._active(subject_id, "record an observation of")
        if observed == "supervision" and not self._supervises_anyone(str(subject.id)):
            raise DomainError("this worker supervises nobody now: observe their practice, not their supervision",
                              field="observed")
        relation = relation_of(actor, self._chain(subject), self._supervises_anyone(actor))
        observation = PracticeObservation.record(
            subject_id=str(subject.id), observed=observed, observer_id=actor, relation=relation,
            observed_on=observed_on, outcome=outcome, actor=actor, timestamp=self.clock(), feedback=feedback,
            screening=self.policy.screening(), confirmed_anonymous=confirmed_anonymous)
        self.save_and_project(observation, keys=self._worker_key(observation.id, subject.id), unchanged=(subject,))
        return observation

    def step_down_frequency(self, user: Principal, worker_id: UUID | str, *, decided_on: date, rationale: str,
                            observation_id: UUID | str | None = None, confirmed_anonymous: bool = False,
                            pack: PolicyPack | str | None = None) -> FrequencySteps:
        """The worker's supervisor decides the worker meets the required standard and reduces the frequency one
        step; refused without a direct observation of the worker's practice before it (bcp)."""
        actor = self._as_staff(user, "decide to reduce a supervision frequency")
        worker = self._active(worker_id, "reduce the supervision frequency of")
        policy = self.policy.compliance_pack(pack)
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
                        actor=actor, timestamp=now, screening=self.policy.screening(),
                        confirmed_anonymous=confirmed_anonymous)
        self.save_and_project(steps, keys=keys, unchanged=(worker,))
        return steps

    def record_employee_review(self, user: Principal, worker_id: UUID | str, *, kind: str, reviewed_on: date,
                               reason: str = "", pack: PolicyPack | str | None = None) -> EmployeeReview:
        """The reviewer (the worker's immediate line manager, or someone above with the reason) records it."""
        actor = self._as_staff(user, "record an employee review")
        worker = self._active(worker_id, "record a review of")
        review = EmployeeReview.record(pack=self.policy.compliance_pack(pack), worker_id=str(worker.id), kind=kind,
                                       reviewed_on=reviewed_on, worker_chain=self._chain(worker), actor=actor,
                                       timestamp=self.clock(), reason=reason)
        self.save_and_project(review, keys=self._worker_key(review.id, worker.id), unchanged=(worker,))
        return review

    def practice_of(self, user: Principal, worker_id: UUID | str, *, via: Via,
                    pack: PolicyPack | str | None = None) -> WorkerPractice:
        """A worker's observations (with their feedback), step-down decisions and reviews, the frequency in
        force and when each cycle next falls due: decided (domain rule `decide_practice_read`) and written to
        the access log before anything is returned, as any read of a file's content."""
        worker = self.get_worker(worker_id)
        wid = str(worker.id)
        rel = self.access.relationships_of(wid)
        chain = self._chain(worker)
        now = self.clock()
        decision = decide_practice_read(user.reader, rel, chain, self.access.grants_for(user, rel), now,
                                        archive=self.access.archive_rule, stated_purpose=via.stated_purpose)
        self.access.log_access(user, AccessAttempt("read_practice", wid, None, worker.version, rel.file_state,
                                                   via.channel,
                                                   via.client, via.stated_purpose), decision, now)
        if not decision.allowed:
            raise AccessDenied(decision, logged=self.access.log_reads)
        policy = self.policy.compliance_pack(pack)
        day = now.date()
        self.see_own_writes()
        with self.storage.engine.connect() as conn:
            facts = with_cycle_facts(conn, load_facts(conn, day, Scope(worker_ids=(wid,)),
                                                      counts_from_minutes(policy)), cutoff_for(day))
            observation_ids = [r["observation_id"] for r in observations_of(conn, wid)]
            review_ids = [r["review_id"] for r in reviews_of(conn, wid)]
        try:
            steps = self.repository.get(steps_id(wid)).steps
        except AggregateNotFoundError:
            steps = []
        rule = policy.frequency.for_category(WorkerCategory(worker.category))
        return WorkerPractice(
            worker_id=wid, category=worker.category, state=worker.state, supervisor_id=worker.supervisor_id,
            basis=decision.basis, pack=policy.short_name,
            observations=[_observation(self.get_observation(o)) for o in observation_ids],
            step_downs=[dict(s) for s in steps],
            reviews=[_review(self._get_aggregate(EmployeeReview, r, "employee review")) for r in review_ids],
            review_kinds=tuple(policy.review),
            regime=rule_in_force(policy, facts[0].category, facts[0].start_date, day, facts[0].step_downs)[0]
            if facts else None,
            frequency=frequency_status(policy, facts[0], day) if facts else None,
            cycles=practice_cycles(policy, facts[0], day) if facts else [],
            offered=practice_steps_offered(user.reader, rel, chain), step_down_by_decision=rule.step_down is not None)

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


def _observation(o: PracticeObservation) -> dict:
    return {"observation_id": str(o.id), "observed": o.observed, "observed_on": o.observed_on,
            "observer_id": o.observer_id, "relation": o.relation, "outcome": o.outcome, "feedback": o.feedback}


def _review(r: EmployeeReview) -> dict:
    return {"review_id": str(r.id), "kind": r.kind, "reviewed_on": r.reviewed_on, "reviewer_id": r.reviewer_id,
            "relation": r.relation, "reason": r.reason}


__all__ = ["PracticeService", "WorkerPractice"]
