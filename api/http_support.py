"""What every HTTP router shares: who is calling, who may call each endpoint, input types that refuse
what the storage cannot hold, and the error body every 4xx/5xx answer uses."""

from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Annotated, Any

from fastapi import Depends, Header, HTTPException, Request
from pydantic import AfterValidator, BaseModel, StringConstraints

from api.access_service import Via
from api.application import SupervisionApplication
from domain.authorisation import ALL_ROLES, STAFF_ROLES, SUPERVISING_ROLES, Role
from infrastructure.users import Principal

API_PREFIX = "/api/v1"
PRINCIPAL_KEY = "svl.principal"
ROLES_KEY = "x-allowed-roles"
PUBLIC_KEY = "x-public"

# -- who may call an endpoint ---------------------------------------------------------------------------

def allow(roles: Iterable[Role], rule: str = "") -> dict[str, Any]:
    """Route keyword arguments stating who may call it. A route without them is refused to everyone."""
    names = sorted(r.value for r in roles)
    note = f"**Who may call it:** {', '.join(names)}." + (f" {rule}" if rule else "")
    return {"openapi_extra": {ROLES_KEY: names}, "description": note, "responses": ERROR_RESPONSES}


ADMIN = (Role.ADMINISTRATOR,)
ANYONE = ALL_ROLES
STAFF = STAFF_ROLES
SUPERVISING = SUPERVISING_ROLES
ACCESS_LOG_READERS = (Role.DPO, Role.INSPECTOR)
RULES_DECIDE = ("The access rules then decide per record: the supervisee, their current supervisor, that "
                "supervisor's line manager, or a live access grant that covers it. Every attempt, allowed or "
                "refused, is written to the access log before anything is returned.")


# The dependencies below only read the request: `async`, so FastAPI runs them on the event loop instead of
# handing each to a worker thread and back (several thread hops per request otherwise).

async def caller(request: Request) -> Principal:
    """The authenticated caller; the middleware has already checked the token and the route's roles."""
    principal = request.scope.get(PRINCIPAL_KEY)
    if principal is None:
        raise HTTPException(401, "a bearer token is required", headers={"WWW-Authenticate": "Bearer"})
    return principal


async def application(request: Request) -> SupervisionApplication:
    return request.app.state.application


Caller = Annotated[Principal, Depends(caller)]
App = Annotated[SupervisionApplication, Depends(application)]


async def via(request: Request, x_access_purpose: Annotated[
        str | None, Header(max_length=300, pattern=r"^[^\x00]*$",
                           description="Why you are reading, in your words; kept in the access log.")] = None
        ) -> Via:
    client = request.client.host if request.client else "unknown"
    return Via("http", client, (x_access_purpose or "").strip())


From = Annotated[Via, Depends(via)]


# -- input types -----------------------------------------------------------------------------------------

def _utf8(value: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("text must be valid Unicode (no lone surrogates)") from None
    return value


def _utc(value: datetime) -> datetime:
    if not 1970 <= value.year <= 9000:
        raise ValueError("must be a date-time between 1970 and 9000")
    if value.tzinfo is None:  # read as UTC, like the CLI
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def text(max_length: int, min_length: int = 1) -> Any:
    return Annotated[str, StringConstraints(min_length=min_length, max_length=max_length, pattern=r"^[^\x00]*$"),
                     AfterValidator(_utf8)]


Moment = Annotated[datetime, AfterValidator(_utc)]


# -- errors ------------------------------------------------------------------------------------------------

class ErrorBody(BaseModel):
    detail: str
    field: str | None = None
    current_version: int | None = None
    current_content_version: int | None = None
    current_content_sha256: str | None = None
    refusal: str | None = None


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "Malformed request"},
    401: {"model": ErrorBody, "description": "No valid bearer token"},
    403: {"model": ErrorBody, "description": "Not allowed for this caller (refusals of reads are logged)"},
    404: {"model": ErrorBody, "description": "Unknown id"},
    409: {"model": ErrorBody, "description": "Conflicts with the current version or state"},
    410: {"model": ErrorBody, "description": "Destroyed under a retention rule"},
    413: {"model": ErrorBody, "description": "Request body larger than SVL_MAX_BODY_BYTES (refused before parsing)"},
    422: {"model": ErrorBody, "description": "Invalid input; `field` names it"},
    503: {"model": ErrorBody, "description": "The access log or the database is unavailable: nothing served"},
}
