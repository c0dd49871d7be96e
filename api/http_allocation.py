"""/api/v1/workers/{id}/standing, /second-supervisor and /allocation-exceptions: what allocation is judged on (HR),
a second supervisor where the policy names one (HR), and departures agreed by the role the pack names."""

from datetime import date
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter
from pydantic import BaseModel, Field, StringConstraints

from api.http_models import Version, WorkerOut
from api.http_support import ADMIN, Caller, App, allow
from api.http_workers import worker_out
from domain.allocation import RULES
from domain.authorisation import Role

router = APIRouter(tags=["workers"])

Reason = Annotated[str, StringConstraints(min_length=1, max_length=2000, pattern=r"^[^\x00]*$")]


class StandingIn(BaseModel):
    level: int | None = Field(default=None, ge=1, le=20, description="in the line management structure; 1: front line")
    registered: bool | None = Field(default=None, description="holds professional registration (HCPC, SWE)")
    supervising_since: date | None = Field(default=None, description="appointed to a supervisory position")
    expected_version: int | None = Version


class SecondSupervisorIn(BaseModel):
    supervisor_id: UUID
    expected_version: int | None = Version


class EndSecondIn(BaseModel):
    reason: Reason
    expected_version: int | None = Version


class ExceptionIn(BaseModel):
    supervisor_id: UUID
    rules: list[Annotated[str, StringConstraints(pattern="^(" + "|".join(RULES) + ")$")]] = Field(min_length=1)
    reason: Reason
    expected_version: int | None = Version


@router.post("/workers/{worker_id}/standing", response_model=WorkerOut, **allow(
        ADMIN, "HR records the level, registration and supervising-since date the policy pack's allocation rules "
               "are judged on; a fact left out stays unrecorded and is not checked."))
def record_standing(worker_id: UUID, body: StandingIn, app: App, who: Caller) -> WorkerOut:
    return worker_out(app.allocation.record_standing(who, worker_id, level=body.level, registered=body.registered,
                                                     supervising_since=body.supervising_since,
                                                     expected_version=body.expected_version))


@router.post("/workers/{worker_id}/second-supervisor", response_model=WorkerOut, **allow(
        ADMIN, "Only where the policy pack names a second supervisor (bcp: the ASYE assessor/mentor of an NQSW; "
               "school-trust: the outside provider). Either supervisor may then hold and record sessions."))
def allocate_second(worker_id: UUID, body: SecondSupervisorIn, app: App, who: Caller) -> WorkerOut:
    return worker_out(app.allocation.allocate_second_supervisor(who, worker_id, body.supervisor_id,
                                                                expected_version=body.expected_version))


@router.post("/workers/{worker_id}/second-supervisor/ending", response_model=WorkerOut, **allow(
        ADMIN, "The second supervisor no longer supervises the worker (bcp: the ASYE period ended)."))
def end_second(worker_id: UUID, body: EndSecondIn, app: App, who: Caller) -> WorkerOut:
    return worker_out(app.allocation.end_second_supervision(who, worker_id, body.reason,
                                                            expected_version=body.expected_version))


@router.post("/workers/{worker_id}/allocation-exceptions", response_model=WorkerOut, **allow(
        (Role.MANAGER,), "A departure from the allocation rules, recorded in the worker's file with its reason; the "
                         "caller's job title must be the role the policy pack names (bcp: the Service Manager)."))
def agree_exception(worker_id: UUID, body: ExceptionIn, app: App, who: Caller) -> WorkerOut:
    return worker_out(app.allocation.agree_allocation_exception(who, worker_id, body.supervisor_id, body.rules,
                                                                body.reason,
                                                                expected_version=body.expected_version))
