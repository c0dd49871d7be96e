"""Commands and queries of the scheduling area, a service of the application (api/application.py):
sessions, supervision agreements, case supervision, the overdue dashboard and the monthly frequency report.

Methods here use self.repository, self.save_and_project, self.clock and self.storage of the application.
"""

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any
from uuid import UUID


from api.access_service import AccessService
from api.core import Core, Service
from api.policy_service import PolicyService
from api.access_service import AccessDenied, Via
from api.allocation_service import allocation_view

from domain.agreements import AgreementState, LapseReason, SupervisionAgreement
from domain.case_supervision import CaseSupervision
from domain.compliance import (
    WorkerCompliance, WorkerFacts, agreed_rule, binding_terms, evaluate, month_frequency, rule_in_force,
    short_sessions, sorted_for_attention,
)
from domain.access_log import AccessAttempt
from domain.authorisation import (SUPERVISING_ROLES, Decision, Relationships, Role, decide_read, decide_role,
                                  decide_session_step, decide_staff_step)
from domain.errors import DomainError, NotPermitted
from domain.pack_history import PackHistory
from domain.policy import PolicyPack
from domain.schedule_rules import agreement_review_due, calendar_for
from domain.session_length import counts_from_minutes, last_full_week
from domain.sessions import SupervisionSession
from domain.timestamps import require_plausible_day
from domain.workers import Worker
from infrastructure.name_lexicon import default_lexicon
from infrastructure.users import Principal
from projections.allocation import second_supervisees_on
from projections.practice_cycles import agreed_terms_of, step_downs, with_cycle_facts
from projections.supervision_compliance import (
    MonthFacts, Scope, agreement_in_force, agreements_of, cutoff_for, joined_on, load_facts, load_month,
    next_session_of, sessions_of, unlapsed_agreements,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Dashboard:
    as_of: date
    pack: str
    rows: list[WorkerCompliance]
    names: dict[str, str] = field(default_factory=dict)
    # Whose turn the next session is, where a worker has a second supervisor (domain/allocation.py).
    turns: dict[str, Any] = field(default_factory=dict)

    def name(self, worker_id: str | None) -> str:
        return "-" if worker_id is None else self.names.get(worker_id, worker_id[:8])

    def as_dicts(self) -> list[dict]:
        return [dashboard_row(r, self) for r in self.rows]


@dataclass(frozen=True)
class FrequencyRow:
    worker_id: str
    category: str
    supervisor_id: str | None
    rule: str
    rule_source: str
    held: int
    required: int
    overdue_days: int
    short_sessions: int
    cancelled: int

    @property
    def met(self) -> bool:
        return self.held >= self.required and self.overdue_days == 0


@dataclass(frozen=True)
class FrequencyReport:
    month: str  # YYYY-MM
    first: date
    last: date
    as_of: date
    pack: str
    rows: list[FrequencyRow]
    names: dict[str, str] = field(default_factory=dict)

    def as_dicts(self) -> list[dict]:
        return [{"worker_id": r.worker_id, "name": self.names.get(r.worker_id, r.worker_id[:8]),
                 "category": r.category, "supervisor_id": r.supervisor_id,
                 "supervisor": self.names.get(r.supervisor_id or "", "-"), "rule": r.rule,
                 "sessions_held": r.held, "sessions_required": r.required, "overdue_days": r.overdue_days,
                 "met": r.met, "short_sessions": r.short_sessions, "cancelled": r.cancelled,
                 "rule_source": r.rule_source} for r in self.rows]

    @property
    def summary(self) -> str:
        met = sum(r.met for r in self.rows)
        share = f" ({100 * met // len(self.rows)}%)" if self.rows else ""
        return (f"{met} of {len(self.rows)} workers met the minimum supervision frequency in {self.month}{share}, "
                f"as known on {self.as_of} ({self.pack})")


def dashboard_row(r: WorkerCompliance, board: Dashboard) -> dict:
    f = r.frequency
    return {"worker_id": r.worker_id, "name": board.name(r.worker_id), "category": r.category,
            "supervisor_id": r.supervisor_id, "supervisor": board.name(r.supervisor_id), "status": f.status,
            "last_session": f.last_session, "due": f.due, "days_overdue": f.days_overdue, "rule": f.rule,
            "reason": f.reason, "next_booked": r.next_booked, "needs_attention": r.needs_attention,
            "issues": [{"kind": i.kind, "severity": i.severity, "text": i.text, "due": i.due,
                        "days_overdue": i.days_overdue, "ref": i.ref} for i in r.issues],
            "rule_source": f.source, **_next_supervisor(board.turns.get(r.worker_id), board)}


def _next_supervisor(turn: Any, board: Dashboard) -> dict:
    if turn is None:
        return {"next_supervisor_id": None, "next_supervisor": None}
    return {"next_supervisor_id": turn.supervisor_id,
            "next_supervisor": board.name(turn.supervisor_id) if turn.supervisor_id else "either supervisor"}


def parse_month(month: str) -> tuple[date, date]:
    """'2026-10' -> (1 Oct 2026, 31 Oct 2026)."""
    try:
        year, number = (int(part) for part in month.split("-"))
        first = date(year, number, 1)
    except ValueError:
        raise DomainError(f"{month!r} is not a month: use YYYY-MM, e.g. 2026-10") from None
    require_plausible_day(first, "month")
    following = date(year + number // 12, number % 12 + 1, 1)
    return first, date.fromordinal(following.toordinal() - 1)


ORGANISATION_WIDE = frozenset({Role.QA, Role.ADMINISTRATOR})


class SchedulingService(Service):
    """Sessions, agreements, cases and the due view. Uses the core, access (reads are decided and logged) and
    policy (frequencies and deadlines)."""

    def __init__(self, core: Core, access: AccessService, policy: PolicyService) -> None:
        super().__init__(core)
        self.access = access
        self.policy = policy
        # A transfer makes the agreement with the previous supervisor lapse (bcp, hull, bury, school-trust).
        self.after_save.append(self._lapse_agreements_after_transfer)

    # -- the pack's deadlines -------------------------------------------------------------------------------------

    def rebook_by(self, session: SupervisionSession, pack: PackHistory | PolicyPack | str | None = None
                  ) -> date | None:
        """The day a cancelled session must be re-held by, under the version in force on the day it was
        missed (a later change of the rebooking deadline does not move a deadline already running)."""
        return session.rebook_by(self.policy.compliance_pack(pack, on=session.session_date))

    # -- sessions ---------------------------------------------------------------------------------------

    def schedule_session(self, user: Principal, *, supervisee_id: UUID | str, starts_at: datetime,
                         planned_minutes: int) -> SupervisionSession:
        actor = self._staff(user, "schedule a session")
        supervisee = self._session_supervisee(user, supervisee_id, "schedules a session")
        session = SupervisionSession.schedule(supervisee_id=str(supervisee.id), supervisor_id=actor,
                                              starts_at=starts_at, planned_minutes=planned_minutes, actor=actor,
                                              timestamp=self.clock())
        self.save_and_project(session, keys=self._worker_key(session.id, supervisee.id),
                              unchanged=(supervisee,))
        return session

    def hold_session(self, user: Principal, session_id: UUID | str, *, actual_minutes: int, held_on: date | None = None,
                     pack: PolicyPack | str | None = None) -> SupervisionSession:
        """Recorded as held; a session shorter than the pack's minimum is kept with its shortfall."""
        actor = self._staff(user, "record a session as held")
        session = self.get_session(session_id)
        session.hold(actual_minutes=actual_minutes,
                     pack=self.policy.compliance_pack(pack, on=held_on or session.session_date), actor=actor,
                     timestamp=self.clock(), held_on=held_on)
        self.save_and_project(session)
        return session

    def cancel_session(self, user: Principal, session_id: UUID | str, reason: str) -> SupervisionSession:
        """`rebook_by(pack)` of the answer: the day by which it must be re-held (None: no deadline yet, or none
        in the pack)."""
        actor = self._staff(user, "cancel a session")
        session = self.get_session(session_id)
        session.cancel(reason, actor=actor, timestamp=self.clock())
        self.save_and_project(session)
        return session

    def record_return_to_work(self, user: Principal, session_id: UUID | str, returned_on: date) -> SupervisionSession:
        actor = self._staff(user, "record a return to work")
        session = self.get_session(session_id)
        session.record_return_to_work(returned_on, actor=actor, timestamp=self.clock())
        self.save_and_project(session)
        return session

    def rebook_session(self, user: Principal, session_id: UUID | str, *, starts_at: datetime,
                       planned_minutes: int | None = None) -> SupervisionSession:
        """A new session that replaces a cancelled one; both are saved together, linked both ways."""
        actor = self._staff(user, "rebook a session")
        old = self.get_session(session_id)
        supervisee = self._session_supervisee(user, old.supervisee_id, "rebooks a session")
        new = SupervisionSession.schedule(supervisee_id=old.supervisee_id, supervisor_id=actor, starts_at=starts_at,
                                          planned_minutes=planned_minutes or old.planned_minutes, actor=actor,
                                          timestamp=self.clock(), rebooks=str(old.id))
        old.mark_rebooked(str(new.id), actor=actor, timestamp=self.clock())
        self.save_and_project(old, new, keys=self._worker_key(new.id, supervisee.id),
                              unchanged=(supervisee,))
        return new

    def get_session(self, session_id: UUID | str) -> SupervisionSession:
        return self._get_aggregate(SupervisionSession, session_id, "supervision session")

    def sessions_of(self, worker_id: UUID | str | None = None, team: str | None = None) -> list[dict]:
        """Sessions from the read model (dates, minutes, states), newest first."""
        self.see_own_writes()
        with self.storage.reads.connect() as conn:
            return sessions_of(conn, None if worker_id is None else str(worker_id), team)

    # -- agreements --------------------------------------------------------------------------------------

    def draft_agreement(self, user: Principal, *, supervisee_id: UUID | str, terms: dict) -> SupervisionAgreement:
        """Drafted by the current supervisor; replaces (once signed by both) any agreement still in force."""
        actor = self._staff(user, "draft an agreement")
        supervisee = self._supervisee_of(supervisee_id, actor, "draft the supervision agreement")
        replaces = self._agreement_in_force(str(supervisee.id), actor)
        agreement = SupervisionAgreement.draft(supervisee_id=str(supervisee.id), supervisor_id=actor, terms=terms,
                                               actor=actor, timestamp=self.clock(),
                                               replaces=replaces)
        self.save_and_project(agreement, keys=self._worker_key(agreement.id, supervisee.id),
                              unchanged=(supervisee,))
        return agreement

    def sign_agreement(self, user: Principal, agreement_id: UUID | str) -> SupervisionAgreement:
        actor = self._staff(user, "sign an agreement")
        agreement = self.get_agreement(agreement_id)
        supervisee = self.get_worker(agreement.supervisee_id)
        if supervisee.supervisor_id != agreement.supervisor_id:
            raise DomainError("this agreement's supervisor no longer supervises the worker: draft a new agreement "
                              "with the current supervisor")
        agreement.sign(actor=actor, timestamp=self.clock())
        changed: list[Any] = [agreement]
        if agreement.state == AgreementState.IN_FORCE.value and agreement.replaces:
            old = self.get_agreement(agreement.replaces)
            if old.state != AgreementState.LAPSED.value:
                old.lapse(LapseReason.SUPERSEDED, lapsed_on=agreement.in_force_on, actor=actor,
                          timestamp=self.clock())
                changed.append(old)
        self.save_and_project(*changed)
        return agreement

    def record_paper_agreement(self, user: Principal, *, supervisee_id: UUID | str, supervisor_id: UUID | str,
                               signed_on: date,
                               terms: dict) -> SupervisionAgreement:
        """An agreement both signed on paper before the ledger was used. If the supervisor has changed since,
        it is recorded as having lapsed at that transfer."""
        self.require(user, decide_role(user.reader, {Role.ADMINISTRATOR}, "record a paper agreement"))
        actor = user.actor
        supervisee = self.get_worker(supervisee_id)
        supervisor, until = _supervisor_on(supervisee, signed_on)
        if supervisor != str(supervisor_id):
            raise DomainError(f"{supervisor_id} was not this worker's supervisor on {signed_on} "
                              f"(the ledger shows {supervisor or 'none'})")
        agreement = SupervisionAgreement.from_paper(supervisee_id=str(supervisee.id), supervisor_id=str(supervisor_id),
                                                    terms=terms, signed_on=signed_on, actor=actor,
                                                    timestamp=self.clock())
        if until is not None:
            agreement.lapse(LapseReason.SUPERVISOR_CHANGED, lapsed_on=until, actor=actor,
                            timestamp=self.clock())
        self.save_and_project(agreement, keys=self._worker_key(agreement.id, supervisee.id))
        return agreement

    def review_agreement(self, user: Principal, agreement_id: UUID | str, *, reviewed_on: date | None = None,
                         notes: str = "") -> SupervisionAgreement:
        actor = self._staff(user, "review an agreement")
        agreement = self.get_agreement(agreement_id)
        now = self.clock()
        agreement.review(reviewed_on=reviewed_on or now.date(), actor=actor, timestamp=now, notes=notes)
        self.save_and_project(agreement)
        return agreement

    def get_agreement(self, agreement_id: UUID | str) -> SupervisionAgreement:
        return self._get_aggregate(SupervisionAgreement, agreement_id, "supervision agreement")

    def agreements_of(self, worker_id: UUID | str | None = None) -> list[dict]:
        with self.storage.reads.connect() as conn:
            return agreements_of(conn, None if worker_id is None else str(worker_id))

    def agreements_visible_to(self, user: Principal, worker_id: UUID | str | None = None) -> list[dict]:
        """Agreements (dates and signatures, not their terms): members of staff see those they are a party to,
        as supervisee or as supervisor; QA and HR everyone's."""
        if user.role in ORGANISATION_WIDE:
            return self.agreements_of(worker_id)
        self._staff(user, "see supervision agreements")
        self.see_own_writes()
        with self.storage.reads.connect() as conn:
            return agreements_of(conn, None if worker_id is None else str(worker_id), party=user.worker_id)

    def read_agreement(self, user: Principal, agreement_id: UUID | str, *, via: Via
                       ) -> tuple[SupervisionAgreement, Decision]:
        """An agreement with its terms, once the read is allowed (as for the worker's file: the supervisee, their
        current supervisor and that supervisor's line manager, or a grant covering the file) and logged."""
        agreement = self.get_agreement(agreement_id)
        rel = self.access.relationships_of(agreement.supervisee_id)
        now = self.clock()
        decision = decide_read(user.reader, rel, self.access.grants_for(user, rel), now,
                               archive=self.access.archive_rule,
                               stated_purpose=via.stated_purpose)
        self.access.log_access(user, AccessAttempt("read_agreement", agreement.supervisee_id, None, agreement.version,
                                                   rel.file_state, via.channel, via.client, via.stated_purpose),
                               decision, now)
        if not decision.allowed:
            raise AccessDenied(decision, logged=self.access.log_reads)
        return agreement, decision

    def agreement_review_due(self, agreement: SupervisionAgreement) -> date | None:
        """When an agreement in force is next due for review under the organisation's pack."""
        if agreement.state != AgreementState.IN_FORCE.value or agreement.in_force_on is None:
            return None
        return agreement_review_due(self.policy.compliance_pack(), agreement.last_reviewed_on or agreement.in_force_on)

    def next_session_of(self, user: Principal) -> dict | None:
        """The signed-in member of staff's own next scheduled session as a supervisee (today or later)."""
        if not user.worker_id:
            return None
        self.see_own_writes()
        with self.storage.reads.connect() as conn:
            return next_session_of(conn, user.worker_id, self.clock().date())

    def _agreement_in_force(self, worker_id: str, supervisor_id: str) -> str | None:
        with self.storage.reads.connect() as conn:
            return agreement_in_force(conn, worker_id, supervisor_id)

    def _lapse_agreements_after_transfer(self, recordings: list[Any]) -> None:
        transfers = [r.domain_event for r in recordings
                     if isinstance(r.domain_event, (Worker.TransferredToNewSupervisor, Worker.SupervisionEnded))]
        for transfer in transfers:
            try:
                self._lapse_agreements(str(transfer.originator_id), transfer.previous_supervisor_id,
                                       transfer.timestamp.date(), transfer.actor)
            except Exception:  # the transfer is saved; the dashboard derives the lapse from it regardless
                log.exception("could not record the lapse of agreements after transfer of %s", transfer.originator_id)

    def _lapse_agreements(self, worker_id: str, previous_supervisor: str, on: date, actor: str) -> None:
        self.read_models.refresh()
        with self.storage.reads.connect() as conn:
            ids = unlapsed_agreements(conn, worker_id, previous_supervisor)
        lapsing = []
        for agreement_id in ids:
            agreement = self.get_agreement(agreement_id)
            if agreement.state != AgreementState.LAPSED.value:
                agreement.lapse(LapseReason.SUPERVISOR_CHANGED, lapsed_on=on, actor=actor,
                                timestamp=self.clock())
                lapsing.append(agreement)
        if lapsing:
            self.save_and_project(*lapsing)

    # -- case supervision ---------------------------------------------------------------------------------

    def open_case(self, user: Principal, *, worker_id: UUID | str, case_reference: str, rating: str | None = None,
                  approved_by: str | None = None, approved_on: date | None = None,
                  last_discussed_on: date | None = None, pack: PolicyPack | str | None = None,
                  rationale: str = "") -> CaseSupervision:
        """A case the worker holds, with its rating (and approval where the pack asks for one)."""
        actor = self._staff(user, "open a case")
        worker = self._supervisee_of(worker_id, actor, "open a case for case supervision")
        if approved_by:
            self._require_known_worker(approved_by, "approver")
        case = CaseSupervision.open(worker_id=str(worker.id), supervisor_id=actor, case_reference=case_reference,
                                    actor=actor, timestamp=self.clock(), lexicon=default_lexicon())
        case.rate(rating, pack=self.policy.compliance_pack(pack), actor=actor, supervisor_now=actor,
                  timestamp=self.clock(),
                  approved_by=approved_by, approved_on=approved_on,
                  approver_role=self.get_worker(approved_by).role if approved_by else None, rationale=rationale)
        if last_discussed_on is not None:
            case.record_discussion(last_discussed_on, actor=actor, supervisor_now=actor,
                                   timestamp=self.clock())
        self.save_and_project(case, keys=self._worker_key(case.id, worker.id),
                              unchanged=(worker,))
        return case

    def rate_case(self, user: Principal, case_id: UUID | str, rating: str | None, *, approved_by: str | None = None,
                  approved_on: date | None = None, pack: PolicyPack | str | None = None,
                  rationale: str = "") -> CaseSupervision:
        actor = self._staff(user, "rate a case")
        case = self.get_case(case_id)
        if approved_by:
            self._require_known_worker(approved_by, "approver")
        case.rate(rating, pack=self.policy.compliance_pack(pack), actor=actor,
                  supervisor_now=self._supervisor_now(case),
                  timestamp=self.clock(), approved_by=approved_by, approved_on=approved_on,
                  approver_role=self.get_worker(approved_by).role if approved_by else None, rationale=rationale)
        self.save_and_project(case)
        return case

    def record_case_discussion(self, user: Principal, case_id: UUID | str, discussed_on: date) -> CaseSupervision:
        actor = self._staff(user, "record a case discussion")
        case = self.get_case(case_id)
        case.record_discussion(discussed_on, actor=actor, supervisor_now=self._supervisor_now(case),
                               timestamp=self.clock())
        self.save_and_project(case)
        return case

    def close_case(self, user: Principal, case_id: UUID | str) -> CaseSupervision:
        actor = self._staff(user, "close a case")
        case = self.get_case(case_id)
        case.close(actor=actor, supervisor_now=self._supervisor_now(case), timestamp=self.clock())
        self.save_and_project(case)
        return case

    def get_case(self, case_id: UUID | str) -> CaseSupervision:
        return self._get_aggregate(CaseSupervision, case_id, "case")

    def _supervisor_now(self, case: CaseSupervision) -> str:
        return self.get_worker(case.worker_id).supervisor_id or ""

    # -- the dashboard and the monthly report ------------------------------------------------------------------

    def compliance_dashboard(self, *, as_of: date | None = None, team: UUID | str | None = None,
                             pack: PolicyPack | str | None = None, with_names: bool = True) -> Dashboard:
        """Per worker in post: next due date, overdue days and reasons, as known at the end of `as_of`
        (default today). `team` is a supervisor's id: their supervisees on that day."""
        history = self.policy.pack_history(pack)
        day = require_plausible_day(as_of or self.clock().date(), "as_of")
        policy = history.in_force_on(day)
        self.see_own_writes()
        with self.storage.reads.connect() as conn:
            facts = load_facts(conn, day, Scope(team=str(team) if team else None), counts_from_minutes(policy),
                               last_full_week(day))
            if team:  # a second supervisor (bcp's ASYE assessor/mentor) holds and records sessions too: theirs as well
                seconds = tuple(second_supervisees_on(conn, str(team), cutoff_for(day)))
                if seconds:
                    facts += load_facts(conn, day, Scope(worker_ids=seconds), counts_from_minutes(policy),
                                        last_full_week(day))
            facts = with_cycle_facts(conn, facts, cutoff_for(day))
            allocation = allocation_view(conn, policy, day, facts, self.worker_names)
        facts = self._with_case_references(allocation.facts)
        calendar = calendar_for(policy)
        rows = [evaluate(policy, f, day, calendar, history) for f in facts]
        rows = sorted_for_attention([replace(r, issues=r.issues + tuple(allocation.issues.get(r.worker_id, ())))
                                     for r in rows])
        people = _people(rows) | {t.supervisor_id for t in allocation.turns.values() if t.supervisor_id}
        names = self.worker_names(people) if with_names else {}
        return Dashboard(day, policy.short_name, rows, names, allocation.turns)

    def frequency_report(self, month: str, *, as_of: date | None = None, team: UUID | str | None = None,
                         pack: PolicyPack | str | None = None, with_names: bool = True) -> FrequencyReport:
        """Sessions held per employee in the month vs the fewest the pack required, as known on `as_of`
        (default: the month's last day, or today while the month is still running)."""
        first, last = parse_month(month)
        today = self.clock().date()
        day = require_plausible_day(as_of or min(last, today), "as_of")
        if day < first:
            raise DomainError(f"nothing is known about {month} as of {day}: the month had not started")
        end = min(last, day)
        # The month is judged by the version in force at its end (as far as it is known): a change mid-month
        # sets the number of sessions the month required.
        policy = self.policy.compliance_pack(pack, on=end)
        with self.storage.reads.connect() as conn:
            months = load_month(conn, first, last, day, Scope(team=str(team) if team else None),
                                counts_from_minutes(policy))
            steps = step_downs(conn, cutoff_for(day), [m.worker for m in months])
            terms = agreed_terms_of(conn, [m.worker["worker_id"] for m in months])
        rows = [_month_row(policy, m, first, end, steps.get(m.worker["worker_id"], ()),
                           terms.get(m.worker["worker_id"], {})) for m in months]
        rows.sort(key=lambda r: (r.met, -r.overdue_days, r.worker_id))
        names = self.worker_names({p for r in rows for p in (r.worker_id, r.supervisor_id) if p}) if with_names else {}
        return FrequencyReport(month, first, last, day, policy.short_name, rows, names)

    def _with_case_references(self, facts: list[WorkerFacts]) -> list[WorkerFacts]:
        if not any(f.cases for f in facts):
            return facts
        return [f if not f.cases else replace(f, cases=tuple(
            replace(c, reference=self.get_case(c.case_id).case_reference) for c in f.cases)) for f in facts]

    # -- shared ------------------------------------------------------------------------------------------------

    def compliance_scope(self, user: Principal, team: UUID | str | None) -> str | None:
        """Whose supervision `user` may see: QA and HR the organisation (or any one team); a supervisor or
        manager their own team, or the team of someone they supervise (line management). None: everyone."""
        if user.role in ORGANISATION_WIDE:
            return str(team) if team else None
        if user.role not in SUPERVISING_ROLES or not user.worker_id:
            raise NotPermitted(f"a {user.role.value} may not see supervision compliance")
        if team is None or str(team) == user.worker_id:
            return user.worker_id
        if self.get_worker(team).supervisor_id != user.worker_id:
            raise NotPermitted("you may see your own team, or the team of a supervisor you supervise")
        return str(team)

    def sessions_visible_to(self, user: Principal, worker_id: UUID | str | None = None) -> list[dict]:
        """Supervisees see their own sessions; supervisors their team's; QA and HR everyone's."""
        if user.role is Role.SUPERVISEE:
            return self.sessions_of(worker_id=user.worker_id) if user.worker_id else []
        if user.role in ORGANISATION_WIDE:
            return self.sessions_of(worker_id=worker_id)
        return self.sessions_of(worker_id=worker_id, team=self.compliance_scope(user, None))

    def _staff(self, user: Principal, step: str) -> str:
        """Supervision steps are taken by members of staff as themselves (the worker id the events name)."""
        self.require(user, decide_staff_step(user.reader, step))
        return user.actor

    def _supervisee_of(self, worker_id: UUID | str, actor: str, step: str) -> Worker:
        worker = self.get_worker(worker_id)
        if worker.state != "active":
            raise DomainError(f"cannot {step} for a worker who is {worker.state}")
        if worker.supervisor_id != actor:
            raise NotPermitted(f"only the worker's current supervisor can {step}")
        return worker

    def _session_supervisee(self, user: Principal, worker_id: UUID | str, step: str) -> Worker:
        """Sessions are booked by the current supervisor or, where the pack names one, the second supervisor."""
        worker = self.get_worker(worker_id)
        if worker.state != "active":
            raise DomainError(f"cannot book a session for a worker who is {worker.state}")
        rel = Relationships(str(worker.id), worker.supervisor_id, None, (), worker.state, worker.second_supervisor_id)
        decision = decide_session_step(user.reader, rel, step)
        if not decision.allowed:
            raise NotPermitted(decision.reason)
        return worker

    def _require_known_worker(self, worker_id: str, what: str) -> None:
        worker = self.get_worker(worker_id)
        if worker.state != "active":
            raise DomainError(f"the {what} is {worker.state}, not active")


def _month_row(policy: PolicyPack, m: MonthFacts, first: date, end: date, steps: tuple[date, ...] = (),
               terms: dict[str, dict] | None = None) -> FrequencyRow:
    w = m.worker
    # Counted from the 1st, or from when the worker started (or the ledger first knew them, with no session
    # before), to the month's end, the day asked about, or the leaving day.
    monitored = max(w["start_date"], joined_on(w))
    window_first = max(first, w["start_date"] if m.last_before is not None else monitored)
    window_last = min(end, w["left_on"]) if w["left_on"] and w["left_on"] >= window_first else end
    # An agreement binds on the days it was in force, where stricter than the pack (as on the due view).
    supervisor_since = w["supervisor_from"].date() if w.get("supervisor_from") else None
    agreed = binding_terms(m.agreements, terms or {}, w["supervisor_id"], supervisor_since)
    counted = month_frequency(policy, w["category"], w["start_date"], monitored, m.last_before, m.held,
                              window_first, window_last, steps, agreed)
    on = max(window_last, w["start_date"])
    rule, source = (agreed_rule(policy, w["category"], w["start_date"], on, agreed, steps)
                    or rule_in_force(policy, w["category"], w["start_date"], on, steps))
    return FrequencyRow(w["worker_id"], w["category"], w["supervisor_id"], rule, source, counted.held,
                        counted.required, counted.overdue_days, short_sessions(policy, m.held_lengths, agreed),
                        m.cancelled)


def _supervisor_on(worker: Worker, day: date) -> tuple[str | None, date | None]:
    """Who supervised the worker on `day`, and the day that supervision ended (None: still current)."""
    for period in worker.previous_supervisors:
        until = datetime.fromisoformat(period["until"]).date()
        if day < until:
            return period["supervisor_id"], until
    return worker.supervisor_id, None


def _people(rows: Iterable[WorkerCompliance]) -> set[str]:
    return {p for r in rows for p in (r.worker_id, r.supervisor_id) if p}


__all__ = ["Dashboard", "FrequencyReport", "FrequencyRow", "SchedulingService", "parse_month"]
