"""/api/v1/grants, /api/v1/access-log, /api/v1/me: access grants, the access log and its flags, and what a
supervisee may see of who read their records and why."""

from enum import Enum
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, HTTPException, Path, Query
from fastapi.responses import PlainTextResponse

from api.access_service import AccessLogFilter, to_csv
from api.application import SupervisionApplication
from api.errors import NotFound
from api.http_models import AccessLogEntryOut, AccessLogPage, FlagOut, GrantIn, GrantOut, MeOut, RevokeIn
from api.http_support import ACCESS_LOG_READERS, ADMIN, ANYONE, ERROR_RESPONSES, Caller, App, Moment, allow, text
from domain.access import AccessGrant
from domain.authorisation import Role
from infrastructure.users import UserError

router = APIRouter(tags=["access"])
GrantId = Annotated[UUID, Path(description="The grant's id")]


class ExportFormat(str, Enum):
    JSON = "json"
    CSV = "csv"


# -- grants --------------------------------------------------------------------------------------------------

@router.post("/grants", status_code=201, response_model=GrantOut, **allow(
        ADMIN, "To a named person (not the administrator themselves), for a stated purpose and category, "
               "within a scope (one record, one worker's file, or a supervisor's team), until an expiry."))
def grant(body: GrantIn, app: App, who: Caller) -> GrantOut:
    try:
        granted = app.access.grant_access(grantor=who, grantee=body.grantee, purpose=body.purpose,
                                          category=body.category.value, scope_kind=body.scope.kind.value,
                                          scope_id=str(body.scope.id), expires_at=body.expires_at)
    except UserError as exc:
        raise HTTPException(422, f"grantee: {exc}") from None
    return grant_out(app, granted)


@router.get("/grants", response_model=list[GrantOut], **allow(
        ANYONE, "Administrators see every grant; everyone else sees the grants made to them."))
def list_grants(app: App, who: Caller) -> list[GrantOut]:
    return [grant_out(app, app.access.get_grant(row["grant_id"])) for row in app.access.grants_visible_to(who)]


@router.get("/grants/{grant_id}", response_model=GrantOut, **allow(
        ANYONE, "Administrators, and the person the grant is for."))
def get_grant(grant_id: GrantId, app: App, who: Caller) -> GrantOut:
    found = app.access.get_grant(grant_id)
    if who.role is not Role.ADMINISTRATOR and found.grantee_user_id != who.user_id:
        raise NotFound(f"no access grant {grant_id}")  # others' grants are not theirs to know of
    return grant_out(app, found)


@router.post("/grants/{grant_id}/revoke", response_model=GrantOut, **allow(
        ADMIN, "Stops the grant at once: the next read under it is refused."))
def revoke(grant_id: GrantId, body: RevokeIn, app: App, who: Caller) -> GrantOut:
    return grant_out(app,
                     app.access.revoke_grant(grant_id, body.reason, actor=who, expected_version=body.expected_version))


# -- the access log --------------------------------------------------------------------------------------------

CSV_RESPONSE = {**ERROR_RESPONSES, 200: {"content": {"application/json": {}, "text/csv": {
    "schema": {"type": "string"}}}, "description": "JSON, or CSV with format=csv"}}


@router.get("/access-log", response_model=AccessLogPage, **{**allow(
        ACCESS_LOG_READERS, "Filter by record, worker, reader, grant, purpose, category, outcome and period; "
                            "export as JSON or CSV."), "responses": CSV_RESPONSE})
def access_log(app: App, who: Caller,
               record_id: UUID | None = None, worker_id: UUID | None = None,
               reader: Annotated[text(64) | None, Query(description="username or user id")] = None,  # type: ignore
               grant_id: UUID | None = None,
               purpose: Annotated[text(300) | None, Query(description="words in the purpose")] = None,  # type: ignore
               category: Annotated[text(32) | None, Query()] = None,  # type: ignore[valid-type]
               outcome: Annotated[text(8) | None, Query(pattern="^(allowed|denied)$")] = None,  # type: ignore
               since: Moment | None = None, until: Moment | None = None,
               limit: Annotated[int, Query(ge=1, le=10000)] = 1000, offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
               format: ExportFormat = ExportFormat.JSON) -> AccessLogPage | PlainTextResponse:
    f = AccessLogFilter(_s(record_id), _s(worker_id), reader, _s(grant_id), purpose, category, outcome, since, until,
                        limit, offset)
    rows = app.access.access_log_entries(who, f)
    if format is ExportFormat.CSV:
        return PlainTextResponse(to_csv(rows), media_type="text/csv",
                                 headers={"Content-Disposition": 'attachment; filename="access-log.csv"'})
    return AccessLogPage(entries=[AccessLogEntryOut(**r) for r in rows], count=len(rows), limit=limit, offset=offset)


@router.get("/access-log/flags", response_model=list[FlagOut], **allow(
        ACCESS_LOG_READERS, "What an inspector looks for: attempts outside a grant's scope or after its expiry or "
                            "revocation, reads of a leaver's file, a former supervisor reading after a transfer, "
                            "unusually many reads by one person in a day."))
def flags(app: App, who: Caller, since: Moment | None = None, until: Moment | None = None,
          many_reads_per_day: Annotated[int, Query(ge=1, le=100000)] = 50) -> list[FlagOut]:
    return [FlagOut(**f) for f in app.access.access_log_flags(who, since, until, many_reads_per_day)]


# -- me ---------------------------------------------------------------------------------------------------------

@router.get("/me", response_model=MeOut, **allow(ANYONE))
def me(app: App, who: Caller) -> MeOut:
    name = app.people.get_worker(who.worker_id).name if who.worker_id else None
    grants = [grant_out(app, app.access.get_grant(r["grant_id"])) for r in app.access.list_grants(who.user_id)]
    return MeOut(user_id=who.user_id, username=who.username, role=who.role.value, worker_id=who.worker_id,
                 name=name, grants=grants)


@router.get("/me/access-log", response_model=list[AccessLogEntryOut], **allow(
        ANYONE, "Who read your supervision records and file, when, on what basis and why (bcp, darlington: "
                "a supervisee should know who sees their records and why)."))
def my_access_log(app: App, who: Caller) -> list[AccessLogEntryOut]:
    if who.worker_id is None:
        return []
    return [AccessLogEntryOut(**r) for r in app.access.access_log_for_worker(who.worker_id)]


def grant_out(app: SupervisionApplication, g: AccessGrant) -> GrantOut:
    return GrantOut(grant_id=str(g.id), version=g.version, grantee_user_id=g.grantee_user_id,
                    grantee_username=g.grantee_username, category=g.category, purpose=g.purpose,
                    scope_kind=g.scope_kind, scope_id=g.scope_id, expires_at=g.expires_at, granted_by=g.granted_by,
                    granted_at=g.granted_at, revoked_at=g.revoked_at, revocation_reason=g.revocation_reason,
                    live=g.terms().live_at(app.clock()))


def _s(value: UUID | None) -> str | None:
    return str(value) if value is not None else None

