"""/api/v1/retention, /api/v1/holds, /api/v1/sar: what data protection officers and HR use."""

from datetime import date, datetime
from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, Field

from api.http_support import Caller, From, App, allow
from api.retention_service import DestructionOutcome, ScheduledFile
from domain.authorisation import Role
from domain.destruction_proposal import PERSONAL, RATIONALE_LENGTH, DestructionProposal
from domain.retention import LegalHold

router = APIRouter(tags=["retention"])
WorkerId = Annotated[UUID, Path(description="The worker's id")]
RETENTION_ROLES = (Role.DPO, Role.ADMINISTRATOR)
HOLD_ROLES = (Role.DPO, Role.ADMINISTRATOR, Role.INVESTIGATING_OFFICER)


class HoldIn(BaseModel):
    kind: Literal["investigation", "litigation", "subject_access_request", "other"]
    reason: str = Field(min_length=1, max_length=2000)
    reference: str = Field(min_length=1, max_length=200)


class HoldReleaseIn(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)


class HoldOut(BaseModel):
    hold_id: str
    worker_id: str
    kind: str
    reference: str
    reason: str
    placed_at: datetime
    placed_by: str
    released_at: datetime | None
    release_reason: str | None


class ProposalIn(BaseModel):
    as_of: date | None = Field(None, description="judge due dates on this day (default today)")


class ReviewIn(BaseModel):
    rationale: str = Field(min_length=1, max_length=RATIONALE_LENGTH)


class RunIn(BaseModel):
    purge_ciphertext: bool = False
    # None: the deployment's default (SVL_RETENTION_ROTATES_MASTER_KEY).
    rotate_master_key: bool | None = None


class ProposedFile(BaseModel):
    worker_id: str
    destruction_date: date
    rule: str


class ProposalOut(BaseModel):
    proposal_id: str
    as_of: date
    status: str  # proposed | approved | rejected | executed
    files: list[ProposedFile]
    proposed_by: str
    proposed_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    rationale: str | None
    destroyed: list[str]
    skipped: list[dict]


class ProposalRow(BaseModel):
    proposal_id: str
    as_of: date
    files: int
    status: str
    proposed_at: datetime
    proposed_by: str
    decided_at: datetime | None
    decided_by: str | None
    executed_at: datetime | None
    destroyed: int | None


class ArchivedOut(BaseModel):
    worker_id: str
    destruction_date: date


@router.get("/retention/schedule", response_model=list[ScheduledFile], **allow(RETENTION_ROLES))
def schedule(app: App, who: Caller,
             as_of: Annotated[date | None, Query(description="judge due dates on this day")] = None
             ) -> list[ScheduledFile]:
    """Every worker's file: state, destruction date, holds, and what is due (ids and dates only)."""
    return app.retention.retention_schedule(as_of or app.clock().date())


@router.post("/workers/{worker_id}/archive", response_model=ArchivedOut, **allow((Role.ADMINISTRATOR, Role.DPO)))
def archive(worker_id: WorkerId, app: App, who: Caller) -> ArchivedOut:
    """Archive a leaver's file, read-only, with its destruction date from the policy pack."""
    due = app.retention.archive_leaver(who, worker_id)
    return ArchivedOut(worker_id=str(worker_id), destruction_date=due)


REVIEW_RULE = ("Only the roles the policy pack's `destruction_approval` names (bcp: DPO, HR); the person who "
               "proposed a list may never approve or reject it.")
ProposalId = Annotated[UUID, Path(description="The destruction proposal's id")]


@router.get("/retention/proposals", response_model=list[ProposalRow], **allow(RETENTION_ROLES))
def list_proposals(app: App, who: Caller) -> list[ProposalRow]:
    """Destruction proposals, newest first: when, how many files, who proposed and who decided."""
    return [ProposalRow(**row) for row in app.retention.destruction_proposals(who)]


@router.post("/retention/proposals", status_code=201, response_model=ProposalOut, **allow(
        RETENTION_ROLES, "Only the roles the policy pack's `destruction_approval.propose` names (bcp: DPO, HR)."))
def propose(body: ProposalIn, app: App, who: Caller) -> ProposalOut:
    """Fixes the list of files due on `as_of` and not on hold, for a second authorised person to review."""
    return proposal_out(app.retention.propose_destruction(who, as_of=body.as_of))


@router.get("/retention/proposals/{proposal_id}", response_model=ProposalOut, **allow(RETENTION_ROLES))
def proposal(proposal_id: ProposalId, app: App, who: Caller) -> ProposalOut:
    return proposal_out(app.retention.read_proposal(who, proposal_id))


@router.post("/retention/proposals/{proposal_id}/approve", response_model=ProposalOut,
             **allow(RETENTION_ROLES, REVIEW_RULE))
def approve(proposal_id: ProposalId, body: ReviewIn, app: App, who: Caller) -> ProposalOut:
    """Approves the list, with a rationale: its files may then be destroyed (holds placed since still stop one)."""
    return proposal_out(app.retention.approve_destruction(who, proposal_id, rationale=body.rationale))


@router.post("/retention/proposals/{proposal_id}/reject", response_model=ProposalOut,
             **allow(RETENTION_ROLES, REVIEW_RULE))
def reject(proposal_id: ProposalId, body: ReviewIn, app: App, who: Caller) -> ProposalOut:
    return proposal_out(app.retention.reject_destruction(who, proposal_id, rationale=body.rationale))


@router.post("/retention/proposals/{proposal_id}/run", response_model=list[DestructionOutcome],
             **allow(RETENTION_ROLES, "Only an approved proposal; each file still due and not on hold is destroyed."))
def run(proposal_id: ProposalId, body: RunIn, app: App, who: Caller) -> list[DestructionOutcome]:
    """Destroys the approved files (crypto-shredding), each with its signed certificate."""
    return app.retention.run_retention(who, proposal_id, purge_ciphertext=body.purge_ciphertext,
                                       rotate_master_key=body.rotate_master_key)


def certificate_download(rule: str) -> dict:
    """Route keyword arguments of a destruction certificate's download: the file as written, as JSON."""
    route = allow(RETENTION_ROLES, rule)
    return {**route, "response_class": Response, "responses": {**route["responses"], 200: {
        "description": "The signed certificate, as written: check it offline with `svl-verify FILE --key VKEY`.",
        "content": {"application/json": {"schema": {"type": "object"}}}}}}


def certificate_file(name: str, text: str) -> Response:
    return Response(text, media_type="application/json",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/retention/certificates/{worker_id}", **certificate_download(
        "The roles the policy pack's `destruction_approval` names to propose or approve a list (bcp: DPO, HR)."))
def certificate(worker_id: WorkerId, app: App, who: Caller) -> Response:
    """A destroyed personal file's signed destruction certificate (404 until the file is destroyed)."""
    return certificate_file(*app.retention.destruction_certificate(who, PERSONAL.name, worker_id))


@router.get("/holds", response_model=list[HoldOut], **allow(HOLD_ROLES))
def holds(app: App, who: Caller, worker_id: Annotated[UUID | None, Query()] = None) -> list[HoldOut]:
    return [HoldOut(**{k: h[k] for k in HoldOut.model_fields}) for h in app.retention.list_holds(who, worker_id)]


@router.post("/workers/{worker_id}/holds", status_code=201, response_model=HoldOut, **allow(
        HOLD_ROLES, "Only the roles the policy pack's `legal_holds.place` names (bcp: DPO, HR, investigating officers)."))
def place_hold(worker_id: WorkerId, body: HoldIn, app: App, who: Caller) -> HoldOut:
    """Hold a worker's file (investigation, litigation, a SAR in progress): it is not destroyed until released."""
    return hold_out(app.retention.place_hold(who, worker_id, kind=body.kind, reason=body.reason,
                                             reference=body.reference))


@router.post("/holds/{hold_id}/release", response_model=HoldOut, **allow(
        HOLD_ROLES, "Only the roles the policy pack's `legal_holds.release` names (bcp: DPO, HR)."))
def release_hold(hold_id: Annotated[UUID, Path()], body: HoldReleaseIn, app: App, who: Caller) -> HoldOut:
    return hold_out(app.retention.release_hold(who, hold_id, reason=body.reason))


@router.post("/sar/{worker_id}", **allow((Role.DPO,), "Under a live SAR grant covering the worker's file."))
def subject_access(worker_id: WorkerId, app: App, who: Caller, via: From,
                   received_on: Annotated[date | None, Query(description="when the request was received")] = None,
                   extended: bool = False) -> dict:
    """Everything held about a person, with the ledger bundles that prove each record. Every record read is
    logged before this answer is sent."""
    from api.subject_access import subject_access_export

    export = subject_access_export(app, who, str(worker_id), received_on=received_on or app.clock().date(),
                                   extended=extended, via=via)
    return {**export.document, "bundles": export.bundles}


def hold_out(hold: LegalHold) -> HoldOut:
    """The answer to a hold command, from the hold it stored (no read model is read after the commit)."""
    return HoldOut(hold_id=str(hold.id), worker_id=hold.worker_id, kind=hold.kind, reference=hold.reference,
                   reason=hold.reason, placed_at=hold.created_on, placed_by=hold.placed_by,
                   released_at=hold.released_at, release_reason=hold.release_reason)


def proposal_out(proposal: DestructionProposal) -> ProposalOut:
    """The answer to a proposal command, from the proposal it stored."""
    return ProposalOut(proposal_id=str(proposal.id), as_of=proposal.as_of, status=proposal.status,
                       files=[ProposedFile(**f) for f in proposal.items], proposed_by=proposal.proposed_by,
                       proposed_at=proposal.created_on, decided_by=proposal.decided_by,
                       decided_at=proposal.decided_at, rationale=proposal.rationale,
                       destroyed=proposal.destroyed, skipped=proposal.skipped)
