"""/api/v1/retention, /api/v1/holds, /api/v1/sar: what data protection officers and HR use."""

from datetime import date, datetime
from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from api.http_support import Caller, From, Ledger, allow
from api.retention_service import ScheduledFile
from domain.authorisation import Role
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


class ArchivedOut(BaseModel):
    worker_id: str
    destruction_date: date


@router.get("/retention/schedule", response_model=list[ScheduledFile], **allow(RETENTION_ROLES))
def schedule(app: Ledger, who: Caller, as_of: Annotated[date | None, Query(description="judge due dates on this day")] = None
             ) -> list[ScheduledFile]:
    """Every worker's file: state, destruction date, holds, and what is due (ids and dates only)."""
    return app.retention_schedule(as_of or app.clock().date())


@router.post("/workers/{worker_id}/archive", response_model=ArchivedOut, **allow((Role.ADMINISTRATOR, Role.DPO)))
def archive(worker_id: WorkerId, app: Ledger, who: Caller) -> ArchivedOut:
    """Archive a leaver's file, read-only, with its destruction date from the policy pack."""
    due = app.archive_leaver(who, worker_id)
    return ArchivedOut(worker_id=str(worker_id), destruction_date=due)


@router.get("/holds", response_model=list[HoldOut], **allow(HOLD_ROLES))
def holds(app: Ledger, who: Caller, worker_id: Annotated[UUID | None, Query()] = None) -> list[HoldOut]:
    return [HoldOut(**{k: h[k] for k in HoldOut.model_fields}) for h in app.list_holds(who, worker_id)]


@router.post("/workers/{worker_id}/holds", status_code=201, response_model=HoldOut, **allow(
        HOLD_ROLES, "Only the roles the policy pack's `legal_holds.place` names (bcp: DPO, HR, investigating officers)."))
def place_hold(worker_id: WorkerId, body: HoldIn, app: Ledger, who: Caller) -> HoldOut:
    """Hold a worker's file (investigation, litigation, a SAR in progress): it is not destroyed until released."""
    return hold_out(app.place_hold(who, worker_id, kind=body.kind, reason=body.reason, reference=body.reference))


@router.post("/holds/{hold_id}/release", response_model=HoldOut, **allow(
        HOLD_ROLES, "Only the roles the policy pack's `legal_holds.release` names (bcp: DPO, HR)."))
def release_hold(hold_id: Annotated[UUID, Path()], body: HoldReleaseIn, app: Ledger, who: Caller) -> HoldOut:
    return hold_out(app.release_hold(who, hold_id, reason=body.reason))


@router.post("/sar/{worker_id}", **allow((Role.DPO,), "Under a live SAR grant covering the worker's file."))
def subject_access(worker_id: WorkerId, app: Ledger, who: Caller, via: From,
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
