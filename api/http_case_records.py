"""/api/v1 for case supervision records, a record class of their own where the pack keeps them apart (bcp, bury),
and the organisation's record classes. Translation only: the application's commands decide who may (the worker's
current supervisor records; the supervisor or the supervisee confirms the decision is on the child's record; the
access rules decide each read and log it) and the domain what the policy allows.
"""

from datetime import date, datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field, StringConstraints

from api.case_record_service import CaseDecisionDue, ScheduledCaseRecord
from api.http_retention import certificate_download, certificate_file
from api.http_support import ANYONE, STAFF, SUPERVISING, Caller, From, App, allow
from domain.authorisation import Role
from domain.case_supervision_record import CaseSupervisionRecord
from domain.destruction_proposal import CASE_SUPERVISION, RATIONALE_LENGTH, DestructionProposal

router = APIRouter(prefix="/api/v1", tags=["case supervision records"])

Text = Annotated[str, StringConstraints(min_length=1, max_length=8000, pattern=r"^[^\x00]*$")]
Reference = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[^\x00]*$")]
AsOf = Annotated[date | None, Query(description="as known at the end of this day (default: today)")]
OVERSIGHT = (Role.QA, Role.ADMINISTRATOR)
RETENTION_ROLES = (Role.DPO, Role.ADMINISTRATOR)


class TermOut(BaseModel):
    what: str
    whose: str
    key: str
    words: str


class RecordClassOut(BaseModel):
    name: str
    title: str
    retention: TermOut
    deadlines: list[TermOut]
    child_reference: str | None


class CaseRecordIn(BaseModel):
    worker_id: UUID
    case_reference: Reference = Field(description="the number of the child's case record, e.g. 'LCS 55821'")
    discussed_on: date
    discussion: Text
    decisions: Text
    confirmed_anonymous: bool = False


class OnChildsRecordIn(BaseModel):
    childs_record_reference: Reference = Field(description="the entry on the child's record, e.g. 'Case note 88123'")
    recorded_on: date


class CaseRecordOut(BaseModel):
    record_id: str
    worker_id: str
    supervisor_id: str
    discussed_on: date
    decision_due: date | None
    on_childs_record_on: date | None
    version: int


class CaseRecordContentOut(CaseRecordOut):
    case_reference: str
    discussion: str
    decisions: str
    childs_record_reference: str | None


class DisposalIn(BaseModel):
    as_of: date | None = Field(None, description="judge due dates on this day (default today)")


class DisposalReviewIn(BaseModel):
    rationale: str = Field(min_length=1, max_length=RATIONALE_LENGTH)


class DisposalOut(BaseModel):
    disposal_id: str
    as_of: date
    record_ids: list[str]
    rule: str
    proposed_by: str
    decision: str | None
    decided_by: str | None
    destroyed: list[str]


def _out(record: CaseSupervisionRecord) -> CaseRecordOut:
    on = record.on_childs_record
    return CaseRecordOut(record_id=str(record.id), worker_id=record.worker_id, supervisor_id=record.supervisor_id,
                         discussed_on=record.discussed_on, decision_due=record.decision_due,
                         on_childs_record_on=on["recorded_on"] if on else None, version=record.version)


def disposal_out(d: DestructionProposal) -> DisposalOut:
    return DisposalOut(disposal_id=str(d.id), as_of=d.as_of, record_ids=d.item_ids, rule=d.rule or "",
                       proposed_by=d.proposed_by, decision=d.decision, decided_by=d.decided_by, destroyed=d.destroyed)


@router.get("/record-classes", response_model=list[RecordClassOut], **allow(
    ANYONE, "The organisation's record classes, each with its retention and deadlines, and whose rule each is."))
def classes(app: App, who: Caller) -> list[RecordClassOut]:
    return [RecordClassOut(name=c.name, title=c.title, retention=TermOut(**vars(c.retention)),
                           deadlines=[TermOut(**vars(t)) for t in c.deadlines], child_reference=c.child_reference)
            for c in app.case_records.record_classes()]


@router.post("/case-records", status_code=201, response_model=CaseRecordOut, **allow(
    SUPERVISING, "The worker's current supervisor, where the pack keeps case supervision apart (bcp, bury)."))
def record(body: CaseRecordIn, app: App, who: Caller) -> CaseRecordOut:
    return _out(app.case_records.record_case_supervision(who, worker_id=body.worker_id,
                                                         case_reference=body.case_reference,
                                                         discussed_on=body.discussed_on, discussion=body.discussion,
                                                         decisions=body.decisions, confirmed_anonymous=body.confirmed_anonymous))


@router.get("/case-records/due", response_model=list[CaseDecisionDue], **allow(
    (*STAFF, *OVERSIGHT), "Staff see their own and their current supervisees'; QA and HR the organisation's."))
def due(app: App, who: Caller, as_of: AsOf = None,
        attention: Annotated[bool, Query(description="only those due or overdue")] = False) -> list[CaseDecisionDue]:
    """Each decision's last day to reach the child's record, and where it stands (dates only, no content)."""
    return app.case_records.case_decisions_due(who, as_of=as_of, only_attention=attention)


@router.get("/case-records/{case_record_id}", response_model=CaseRecordContentOut, **allow(
    ANYONE, "The access rules decide: the worker, their current supervisor, that supervisor's line manager, or a "
            "live access grant that covers it. Every attempt is written to the access log first."))
def read(case_record_id: UUID, app: App, who: Caller, via: From) -> CaseRecordContentOut:
    r = app.case_records.read_case_record(who, case_record_id, via=via)
    on = r.on_childs_record
    return CaseRecordContentOut(**_out(r).model_dump(), case_reference=r.case_reference, discussion=r.discussion,
                                decisions=r.decisions, childs_record_reference=on["reference"] if on else None)


@router.post("/case-records/{case_record_id}/on-childs-record", response_model=CaseRecordOut, **allow(
    STAFF, "The worker's current supervisor, or the worker the recording was delegated to."))
def on_childs_record(case_record_id: UUID, body: OnChildsRecordIn, app: App, who: Caller) -> CaseRecordOut:
    return _out(app.case_records.confirm_case_decision(who, case_record_id,
                                                       childs_record_reference=body.childs_record_reference,
                                                       recorded_on=body.recorded_on))


@router.get("/retention/case-records", response_model=list[ScheduledCaseRecord], **allow(RETENTION_ROLES))
def schedule(app: App, who: Caller, as_of: AsOf = None) -> list[ScheduledCaseRecord]:
    """Every case supervision record with its destruction date under its own retention, and its status."""
    return app.case_records.case_record_schedule(who, as_of=as_of)


class DisposalSummaryOut(BaseModel):
    disposal_id: str
    as_of: date
    records: int
    status: str  # proposed | approved | rejected | destroyed
    proposed_at: datetime
    proposed_by: str
    decided_at: datetime | None
    decided_by: str | None
    destroyed_at: datetime | None
    destroyed: int | None


@router.get("/retention/case-records/proposals", response_model=list[DisposalSummaryOut], **allow(
    RETENTION_ROLES, "The roles the policy pack's `destruction_approval` names to propose or approve a list."))
def disposals(app: App, who: Caller) -> list[DisposalSummaryOut]:
    """Every list of case supervision records proposed for destruction, newest first: ids, dates, counts and who
    decided (no content)."""
    return [DisposalSummaryOut(**row) for row in app.case_records.case_record_disposals(who)]


@router.get("/retention/case-records/proposals/{disposal_id}", response_model=DisposalOut, **allow(
    RETENTION_ROLES, "The roles the policy pack's `destruction_approval` names to propose or approve a list."))
def disposal(disposal_id: UUID, app: App, who: Caller) -> DisposalOut:
    """One list: the records on it, the rule it was drawn up under, who proposed and decided, what was destroyed."""
    return disposal_out(app.case_records.read_case_record_disposal(who, disposal_id))


@router.post("/retention/case-records/proposals", status_code=201, response_model=DisposalOut, **allow(
    RETENTION_ROLES, "Only the roles the policy pack's `destruction_approval.propose` names (bcp: DPO, HR)."))
def propose(body: DisposalIn, app: App, who: Caller) -> DisposalOut:
    return disposal_out(app.case_records.propose_case_record_destruction(who, as_of=body.as_of))


@router.post("/retention/case-records/proposals/{disposal_id}/approve", response_model=DisposalOut, **allow(
    RETENTION_ROLES, "A role `destruction_approval.approve` names, and never the person who proposed the list."))
def approve(disposal_id: UUID, body: DisposalReviewIn, app: App, who: Caller) -> DisposalOut:
    return disposal_out(app.case_records.review_case_record_destruction(who, disposal_id, approve=True,
                                                                        rationale=body.rationale))


@router.post("/retention/case-records/proposals/{disposal_id}/reject", response_model=DisposalOut, **allow(
    RETENTION_ROLES, "A role `destruction_approval.approve` names, and never the person who proposed the list."))
def reject(disposal_id: UUID, body: DisposalReviewIn, app: App, who: Caller) -> DisposalOut:
    return disposal_out(app.case_records.review_case_record_destruction(who, disposal_id, approve=False,
                                                            rationale=body.rationale))


@router.get("/retention/case-records/certificates/{case_record_id}", **certificate_download(
        "The roles the policy pack's `destruction_approval` names to propose or approve a list (bcp: DPO, HR)."))
def certificate(case_record_id: UUID, app: App, who: Caller) -> Response:
    """A destroyed case supervision record's signed destruction certificate (404 until it is destroyed)."""
    return certificate_file(*app.retention.destruction_certificate(who, CASE_SUPERVISION.name, case_record_id))


@router.post("/retention/case-records/proposals/{disposal_id}/run", response_model=DisposalOut, **allow(
    RETENTION_ROLES, "Only an approved list; each record still due and not held is destroyed (its own key)."))
def run(disposal_id: UUID, app: App, who: Caller) -> DisposalOut:
    return disposal_out(app.case_records.destroy_case_records(who, disposal_id))


__all__ = ["router"]
