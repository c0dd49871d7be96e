"""Case supervision records, a record class of their own where the pack keeps them apart (bcp, bury), a service of
the application (api/application.py): record one, confirm its decision is on the child's record, the due
view of those decisions, and their own retention: schedule, a reviewed list, destruction.

Each record is sealed with a data key of its own (not the worker's), so a worker's file destroyed under the
personal retention leaves their case supervision records, and a case supervision record destroyed under its own
retention leaves the worker's file. Every command takes the acting Principal and decides through
domain/authorisation.py; the domain decides what the policy allows.
"""

from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path
from uuid import UUID

from sqlalchemy import or_, select

from api.access_service import AccessService
from api.core import Core, Service
from api.policy_service import PolicyService
from api.retention_service import RetentionService, approval_of

from api.access_service import AccessDenied, Via
from api.errors import Destroyed
from domain.access_log import AccessAttempt
from domain.authorisation import (Relationships, Role, decide_pack_role, decide_read, decide_role,
                                  decide_session_step, decide_staff_step, RecordParties)
from domain.case_record_disposal import CASE_RECORD_CLASS, CaseRecordDestruction, case_record_destruction_id
from domain.case_supervision_record import (CaseSupervisionRecord, case_decision_status,
                                            case_record_destruction_date, case_record_status)
from domain.destruction_proposal import CASE_SUPERVISION, DestructionProposal
from domain.errors import DomainError
from domain.policy import PolicyPack
from domain.record_classes import RecordClass, record_classes
from domain.schedule_rules import case_decision_deadline
from infrastructure.destruction_certificates import record_certificate_name
from infrastructure.keys import StagedKeys
from infrastructure.sealed_mapper import EventDestroyed
from infrastructure.users import Principal
from projections.case_records import case_records, kept_case_records_of
from projections.retention_schedule import legal_holds
from projections.schema import workers

# Who sees every case supervision record's dates (no content): quality assurance and HR, as on the due view.
OVERSIGHT = frozenset({Role.QA, Role.ADMINISTRATOR})
RETENTION_ROLES = frozenset({Role.DPO, Role.ADMINISTRATOR})


@dataclass(frozen=True)
class CaseDecisionDue:
    record_id: str
    worker_id: str
    supervisor_id: str
    discussed_on: date
    decision_due: date | None
    on_childs_record_on: date | None
    status: str  # recorded | recorded_late | due | overdue | no_deadline

    def to_dict(self) -> dict:
        return {k: (v.isoformat() if isinstance(v, date) else v) for k, v in asdict(self).items()}


@dataclass(frozen=True)
class ScheduledCaseRecord:
    record_id: str
    worker_id: str | None
    discussed_on: date | None
    destruction_date: date | None
    status: str  # retained | due | held | no_period | destruction_incomplete | destroyed
    destroyed_at: str | None

    def to_dict(self) -> dict:
        return {k: (v.isoformat() if isinstance(v, date) else v) for k, v in asdict(self).items()}


class CaseRecordService(Service):
    """Case supervision records and their own destruction. Uses the core, access (reads are logged), retention
    (the reviewed lists, shredding and certificates a destruction shares with personal files) and policy."""

    def __init__(self, core: Core, access: AccessService, retention: RetentionService, policy: PolicyService) -> None:
        super().__init__(core)
        self.access = access
        self.retention = retention
        self.policy = policy

    def record_classes(self) -> tuple[RecordClass, ...]:
        """The organisation's record classes, each with its retention and deadlines and whose rule each is."""
        return record_classes(self.policy.policy_pack)

    # -- recording -------------------------------------------------------------------------------------------

    def record_case_supervision(self, user: Principal, *, worker_id: UUID | str, case_reference: str,
                                discussed_on: date, discussion: str, decisions: str,
                                confirmed_anonymous: bool = False) -> CaseSupervisionRecord:
        """The worker's supervisor records a case supervision discussion, sealed with a key of its own."""
        self.require(user, decide_staff_step(user.reader, "record case supervision"))
        worker = self.get_worker(worker_id)
        self.require(user, decide_session_step(user.reader, self.access.relationships_of(str(worker.id)),
                                               "records their case supervision"))
        if worker.state != "active":
            raise DomainError(f"cannot record case supervision for a worker who is {worker.state}")
        pack = self.policy.policy_pack
        record = CaseSupervisionRecord.record(
            pack=pack, worker_id=str(worker.id), supervisor_id=user.actor, case_reference=case_reference,
            discussed_on=discussed_on, discussion=discussion, decisions=decisions,
            decision_due=case_decision_deadline(pack, discussed_on), actor=user.actor, timestamp=self.clock(),
            screening=self.policy.screening(), confirmed_anonymous=confirmed_anonymous)
        self.save_and_project(record, keys=self.storage.keyring.stage_new_key(record.id), unchanged=(worker,))
        return record

    def confirm_case_decision(self, user: Principal, record_id: UUID | str, *, childs_record_reference: str,
                              recorded_on: date) -> CaseSupervisionRecord:
        """The decision is on the child's record (the case note or workflow entry named by its reference)."""
        self.require(user, decide_staff_step(user.reader, "confirm a case decision is on the child's record"))
        record = self.get_case_record(record_id)
        worker = self.get_worker(record.worker_id)
        record.confirm_on_childs_record(childs_record_reference, recorded_on=recorded_on, actor=user.actor,
                                        supervisor_now=worker.supervisor_id, timestamp=self.clock())
        self.save_and_project(record, unchanged=(worker,))
        return record

    def case_record_ids_of(self, worker_id: str) -> list[str]:
        """The case supervision records kept about a worker's cases, oldest discussion first (ids only)."""
        self.read_models.refresh()
        with self.storage.reads.connect() as conn:
            return kept_case_records_of(conn, worker_id)

    def get_case_record(self, record_id: UUID | str) -> CaseSupervisionRecord:
        try:
            return self._get_aggregate(CaseSupervisionRecord, record_id, "case supervision record")
        except EventDestroyed:
            raise Destroyed(f"case supervision record {record_id} was destroyed under its retention "
                            "schedule") from None

    def read_case_record(self, user: Principal, record_id: UUID | str, *, via: Via,
                         action: str = "read_case_record") -> CaseSupervisionRecord:
        """The record's content, once the read is allowed and logged: the worker, their current supervisor and
        that supervisor's line manager, or a live grant that covers it (also after the worker's personal file
        was destroyed: the record outlives it)."""
        record = self.get_case_record(record_id)
        try:
            rel = self.access.relationships_of(record.worker_id)
        except Destroyed:
            rel = Relationships(record.worker_id, None, None, (), "destroyed")
        now = self.clock()
        decision = decide_read(user.reader, rel, self.access.grants_for(user, rel), now,
                               RecordParties(str(record.id), record.worker_id, record.supervisor_id),
                               stated_purpose=via.stated_purpose)
        self.access.log_access(user, AccessAttempt(action, record.worker_id, str(record.id), record.version,
                                            rel.file_state, via.channel, via.client, via.stated_purpose),
                        decision, now)
        if not decision.allowed:
            raise AccessDenied(decision, logged=self.access.log_reads)
        return record

    # -- the due view ------------------------------------------------------------------------------------------

    def case_decisions_due(self, user: Principal, *, as_of: date | None = None,
                           only_attention: bool = False) -> list[CaseDecisionDue]:
        """Each case supervision record with the last day for its decision to reach the child's record and where
        it stands on `as_of` (default today), as known at the end of that day. Staff see their own and their
        current supervisees'; QA and HR see the organisation's. Dates only, no content."""
        if user.reader.role not in OVERSIGHT:
            self.require(user, decide_staff_step(user.reader, "see case decisions due"))
        day = as_of or self.clock().date()
        self.see_own_writes()
        query = select(case_records).where(case_records.c.state == "kept", case_records.c.discussed_on <= day)
        if user.reader.role not in OVERSIGHT:
            mine = select(workers.c.worker_id).where(workers.c.supervisor_id == user.reader.worker_id)
            query = query.where(or_(case_records.c.worker_id == user.reader.worker_id,
                                    case_records.c.worker_id.in_(mine)))
        with self.storage.reads.connect() as conn:
            rows = conn.execute(query.order_by(case_records.c.decision_due, case_records.c.record_id)).all()
        due = []
        for r in rows:
            # Recorded after the day asked about: not known then.
            recorded = r.on_childs_record_on if r.on_childs_record_on and r.on_childs_record_on <= day else None
            status = case_decision_status(decision_due=r.decision_due, recorded_on=recorded, as_of=day)
            if only_attention and status not in ("overdue", "due"):
                continue
            due.append(CaseDecisionDue(r.record_id, r.worker_id, r.supervisor_id, r.discussed_on, r.decision_due,
                                       recorded, status))
        return due

    # -- their own retention -----------------------------------------------------------------------------------

    def case_record_schedule(self, user: Principal, *, as_of: date | None = None) -> list[ScheduledCaseRecord]:
        """Every case supervision record with its destruction date under the class's own period (none: the pack
        sets none), and its status on `as_of`. A record whose worker's file is on legal hold is held too."""
        self.require(user, decide_role(user.reader, RETENTION_ROLES, "see the case supervision records' schedule"))
        return self._case_schedule(as_of or self.clock().date())

    def _case_schedule(self, day: date, rules_on: date | None = None) -> list[ScheduledCaseRecord]:
        """Each record's status on `day`, its destruction date under the pack version in force on `rules_on`
        (default `day`: a past day's view shows what was due then; proposals and runs pass today, as for the
        personal files, RetentionService.retention_schedule)."""
        pack = self.policy.compliance_pack(on=rules_on or day)
        years = pack.case_records_class().retention.years_after_discussion
        self.see_own_writes()
        with self.storage.reads.connect() as conn:
            rows = conn.execute(select(case_records).order_by(case_records.c.discussed_on,
                                                              case_records.c.record_id)).all()
            held = set(conn.execute(select(legal_holds.c.worker_id).where(legal_holds.c.released_at.is_(None)))
                       .scalars())
        scheduled = []
        for r in rows:
            due_on = case_record_destruction_date(pack, r.discussed_on) if years and r.discussed_on else None
            status = case_record_status(destruction_date=due_on, destroyed=r.state == "destroyed", as_of=day)
            if r.state == "destroying":
                status = "destruction_incomplete"  # started by a run that stopped: the list's next run finishes it
            elif status == "due" and r.worker_id in held:
                status = "held"
            scheduled.append(ScheduledCaseRecord(r.record_id, r.worker_id, r.discussed_on, due_on, status,
                                                 r.destroyed_at.isoformat() if r.destroyed_at else None))
        return scheduled

    def propose_case_record_destruction(self, user: Principal, *,
                                        as_of: date | None = None) -> DestructionProposal:
        """Fixes the list of case supervision records due on `as_of` and not held, for a second person to review."""
        pack = self.policy.policy_pack
        self.require(user, decide_pack_role(user.reader, pack.destruction_approval.propose,
                                            "propose case supervision records for destruction"))
        years = pack.case_record_years_required()  # refused where the pack sets no period
        today = self.clock().date()
        day = as_of or today
        due = [r for r in self._case_schedule(day, rules_on=today) if r.status == "due"]
        return self.retention.propose_list(user, CASE_SUPERVISION, day, [
            {"record_id": r.record_id, "destruction_date": r.destruction_date.isoformat()}
            for r in due if r.destruction_date], rule=_rule_text(pack, years))

    def review_case_record_destruction(self, user: Principal, disposal_id: UUID | str, *, approve: bool,
                                       rationale: str) -> DestructionProposal:
        """A second authorised person approves or rejects the list (never the person who proposed it)."""
        return self.retention.review_list(user, CASE_SUPERVISION, disposal_id, rationale, approve=approve,
                                 step="approve or reject a list of case supervision records for destruction")

    def destroy_case_records(self, user: Principal, disposal_id: UUID | str) -> DestructionProposal:
        """Destroys the approved list's records still due and not held, by the personal files' own steps
        (RetentionService.shred_and_certify): one checkpoint before, each record's destruction started, its own key
        listed in the tombstones (so a restored backup cannot bring it back) and destroyed, one checkpoint after,
        and a signed certificate per record that `svl-verify` checks. The worker's personal file and every other
        record are untouched. A run stopped part way is finished by running the list again."""
        self.require(user, decide_role(user.reader, RETENTION_ROLES, "destroy case supervision records"))
        disposal = self.get_case_record_disposal(disposal_id)
        disposal.require_runnable()
        self.integrity.require_writable()
        self.retention.require_certifying_key()
        on_list = set(disposal.item_ids)
        # Judged today under the version in force today (a period lengthened since the approval keeps a record).
        now = {r.record_id: r for r in self._case_schedule(self.clock().date()) if r.record_id in on_list}
        resumed = [self.repository.get(case_record_destruction_id(rid)) for rid, r in now.items()
                   if r.status == "destruction_incomplete"]
        started = self._start_case_destructions(disposal, [now[rid] for rid in disposal.item_ids
                                                           if rid in now and now[rid].status == "due"], user.actor)
        going = [*resumed, *started]
        if going:
            self.retention.shred_and_certify(going, user.actor, purge_ciphertext=False)
        disposal.record_execution(destroyed=[d.record_id for d in going], skipped=[], actor=user.actor,
                                  timestamp=self.clock())
        self.save_and_project(disposal)
        return disposal

    def _start_case_destructions(self, disposal: DestructionProposal, due: list[ScheduledCaseRecord],
                                 actor: str) -> list[CaseRecordDestruction]:
        """Each record's destruction started, in one transaction after the run's checkpoint before, under the
        organisation's key (so it outlives the record)."""
        if not due:
            return []
        keyring = self.storage.keyring
        key_ids = {r.record_id: keyring.key_id_for(r.record_id) for r in due}
        counts = self.retention.event_counts(list(key_ids.values()))
        before, approval = self.retention.checkpoint_before(), approval_of(disposal)
        pack = self.policy.policy_pack  # the rule in force today, which the records are destroyed under
        rule = _rule_text(pack, pack.case_record_years_required())
        started = [CaseRecordDestruction.start(
            record_id=r.record_id, worker_id=r.worker_id or "", key_id=key_ids[r.record_id],
            event_count=counts[key_ids[r.record_id]], rule=rule, pack=pack.short_name,
            discussed_on=r.discussed_on, destruction_date=r.destruction_date,  # type: ignore[arg-type]
            as_of=self.clock().date(),
            disposal_id=str(disposal.id), checkpoint_before=before, approval=approval, actor=actor,
            timestamp=self.clock()) for r in due]
        staged = [keyring.stage_assignment(d.id, "organisation") for d in started]
        self.save_and_project(*started, keys=StagedKeys(new_keys=[], assignments=[
            assignment for one in staged for assignment in one.assignments]))
        return started

    def case_record_certificate_path(self, record_id: str) -> Path:
        return self.storage.settings.certificate_dir / record_certificate_name(CASE_RECORD_CLASS, record_id)

    def case_record_certificates(self, user: Principal) -> list[tuple[ScheduledCaseRecord, Path]]:
        """Each destroyed case supervision record with its certificate, for the people who see the lists."""
        self._require_reviewer(user)
        if not any(c.name == CASE_RECORD_CLASS for c in self.record_classes()):
            return []
        found = []
        for r in self._case_schedule(self.clock().date()):
            path = self.case_record_certificate_path(r.record_id)
            if r.status == "destroyed" and path.exists():
                found.append((r, path))
        return found

    def case_record_disposals(self, user: Principal) -> list[dict]:
        """Every list of case supervision records proposed for destruction, newest first (ids, dates, counts and
        who decided), for the people the pack lets propose or approve one."""
        self._require_reviewer(user)
        return [{"disposal_id": r["proposal_id"], "as_of": r["as_of"], "records": r["items"], "status": r["status"],
                 "proposed_at": r["proposed_at"], "proposed_by": r["proposed_by"], "decided_at": r["decided_at"],
                 "decided_by": r["decided_by"], "destroyed_at": r["executed_at"], "destroyed": r["destroyed"]}
                for r in self.retention.lists(CASE_SUPERVISION)]

    def read_case_record_disposal(self, user: Principal, disposal_id: UUID | str) -> DestructionProposal:
        """One list, for the people the pack lets propose or approve one."""
        self._require_reviewer(user)
        return self.get_case_record_disposal(disposal_id)

    def _require_reviewer(self, user: Principal) -> None:
        self.retention.require_list_reader(user, "see lists of case supervision records proposed for destruction")

    def get_case_record_disposal(self, disposal_id: UUID | str) -> DestructionProposal:
        return self.retention.list_of(CASE_SUPERVISION, disposal_id)


def _rule_text(pack: PolicyPack, years: int) -> str:
    rule = pack.case_records_class().retention
    return (f"{pack.cite(rule)}: record_classes.case_supervision.retention.years_after_discussion = {years} "
            f"({rule.source or rule.note})")


__all__ = ["CaseDecisionDue", "CaseRecordService", "ScheduledCaseRecord"]
