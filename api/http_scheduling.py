"""/api/v1 for supervision on time: the overdue dashboard and the monthly frequency report for managers (their
team) and quality assurance (the whole organisation), and the session, agreement and case commands.

Include it as it is: `api.include_router(http_scheduling.router)` — the router carries the /api/v1 prefix
itself. Each route declares its roles (`x-allowed-roles`, enforced by the app's deny-by-default check); the
application's commands and queries then decide for the caller (their team, their sessions, their party).
"""

from datetime import date, datetime, timezone
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, Field, StringConstraints

from api.application import SupervisionApplication
from api.cli_scheduling import DASHBOARD_COLUMNS, REPORT_COLUMNS, dashboard_csv, to_csv
from api.http_support import ADMIN, ERROR_RESPONSES, STAFF, SUPERVISING, Caller, App, allow
from domain.authorisation import Role

API_PREFIX = "/api/v1"
ORGANISATION_WIDE = (Role.QA, Role.ADMINISTRATOR)


def _allow(*roles: Role, rule: str = "", csv: bool = False) -> dict[str, Any]:
    declared = allow(roles, rule)
    if csv:
        declared["responses"] = {**ERROR_RESPONSES, 200: {"content": {"application/json": {}, "text/csv": {}}}}
    return declared


router = APIRouter(prefix=API_PREFIX, tags=["supervision on time"])


# -- bodies --------------------------------------------------------------------------------------------------------

Text = Annotated[str, StringConstraints(max_length=4000, pattern=r"^[^\x00]*$")]
Minutes = Annotated[int, Field(ge=1, le=480)]
AsOf = Annotated[date | None, Query(description="as known at the end of this day (default: today)")]
Team = Annotated[UUID | None, Query(description="a supervisor's worker id: their supervisees")]
Pack = Annotated[str | None, Query(pattern=r"^[a-z][a-z0-9-]{0,40}$",
                                   description="judge against another policy pack (default: the organisation's)")]
Format = Annotated[Literal["json", "csv"], Query(description="json, or csv for a spreadsheet")]


class IssueOut(BaseModel):
    kind: str
    severity: Literal["overdue", "warning", "info"]
    text: str
    due: date | None = None
    days_overdue: int = 0
    ref: str | None = None


class DueRowOut(BaseModel):
    worker_id: str
    name: str
    category: str
    supervisor_id: str | None
    supervisor: str
    status: Literal["overdue", "due_soon", "on_time"]
    last_session: date | None
    due: date
    days_overdue: int
    rule: str
    rule_source: str
    reason: str
    next_booked: date | None
    needs_attention: bool
    issues: list[IssueOut]
    # Where the worker has a second supervisor: whose turn the next session is (None: either may hold it).
    next_supervisor_id: str | None = None
    next_supervisor: str | None = None


class DueOut(BaseModel):
    as_of: date
    pack: str
    team: str | None
    workers: list[DueRowOut]


class FrequencyRowOut(BaseModel):
    worker_id: str
    name: str
    category: str
    supervisor_id: str | None
    supervisor: str
    rule: str
    rule_source: str
    sessions_held: int
    sessions_required: int
    overdue_days: int
    met: bool
    short_sessions: int
    cancelled: int


class FrequencyOut(BaseModel):
    month: str
    as_of: date
    pack: str
    team: str | None
    summary: str
    workers: list[FrequencyRowOut]


class ScheduleIn(BaseModel):
    supervisee_id: UUID
    starts_at: datetime
    planned_minutes: Minutes = 90


class HoldIn(BaseModel):
    actual_minutes: Minutes
    held_on: date | None = None


class CancelIn(BaseModel):
    reason: Literal["sickness", "leave", "operational"]


class ReturnIn(BaseModel):
    returned_on: date


class RebookIn(BaseModel):
    starts_at: datetime
    planned_minutes: Minutes | None = None


class SessionOut(BaseModel):
    session_id: str
    supervisee_id: str
    supervisor_id: str
    starts_at: datetime
    planned_minutes: int
    state: Literal["scheduled", "held", "cancelled"]
    held_on: date | None
    actual_minutes: int | None
    shortfall_minutes: int
    cancellation_reason: str | None
    cancelled_by: str | None
    returned_on: date | None
    rebooks: str | None
    rebooked_as: str | None
    rebook_by: date | None = Field(description="last day to re-hold a cancelled session under the pack, if any")


class Every(BaseModel):
    months: Annotated[int, Field(ge=0, le=24)] = 0
    weeks: Annotated[int, Field(ge=0, le=104)] = 0
    days: Annotated[int, Field(ge=0, le=731)] = 0


class Terms(BaseModel):
    frequency: Text | None = None
    every: Every | None = Field(default=None, description="the agreed frequency as an interval, e.g. {\"weeks\": 2}; "
                                                          "binding on the due view where stricter than the pack")
    session_minutes: Minutes | None = None
    location: Text | None = None
    arrangements: Text | None = None
    notes: Text | None = None


class AgreementIn(BaseModel):
    supervisee_id: UUID
    terms: Terms


class PaperAgreementIn(BaseModel):
    supervisee_id: UUID
    supervisor_id: UUID
    signed_on: date
    terms: Terms


class ReviewIn(BaseModel):
    reviewed_on: date | None = None
    notes: Text = ""


class AgreementOut(BaseModel):
    agreement_id: str
    supervisee_id: str
    supervisor_id: str
    state: Literal["draft", "in_force", "lapsed"]
    terms: dict[str, Any]
    awaiting: list[str]
    in_force_on: date | None
    last_reviewed_on: date | None
    lapsed_on: date | None
    lapse_reason: str | None
    replaces: str | None


class CaseIn(BaseModel):
    worker_id: UUID
    case_reference: Annotated[str, StringConstraints(min_length=1, max_length=40)]
    rating: Annotated[str, StringConstraints(max_length=64)] | None = None
    approved_by: UUID | None = None
    approved_on: date | None = None
    rationale: Text = ""
    last_discussed_on: date | None = None


class RatingIn(BaseModel):
    rating: Annotated[str, StringConstraints(max_length=64)] | None = None
    approved_by: UUID | None = None
    approved_on: date | None = None
    rationale: Text = Field(default="", description="why, where the rating is agreed by both (bury: settled)")


class DiscussionIn(BaseModel):
    discussed_on: date


class CaseOut(BaseModel):
    case_id: str
    worker_id: str
    case_reference: str
    rating: str | None
    approved_by: str | None
    approved_on: date | None
    last_discussed_on: date | None
    closed: bool


# -- the dashboard and the report ------------------------------------------------------------------------------------


@router.get("/compliance/due", response_model=DueOut, **_allow(
    *SUPERVISING, *ORGANISATION_WIDE, rule="Supervisors and managers see their team; QA and HR the organisation.",
    csv=True))
def due(app: App, who: Caller, as_of: AsOf = None, team: Team = None, pack: Pack = None,
        format: Format = "json") -> Any:
    """Who is overdue for supervision and why, with unsigned records, agreements, cancellations and cases."""
    scope = app.scheduling.compliance_scope(who, team)
    board = app.scheduling.compliance_dashboard(as_of=as_of, team=scope, pack=pack)
    rows = board.as_dicts()
    if format == "csv":
        return PlainTextResponse(dashboard_csv(rows), media_type="text/csv",
                                 headers={"Content-Disposition": f'attachment; filename="due-{board.as_of}.csv"'})
    return DueOut(as_of=board.as_of, pack=board.pack, team=scope, workers=[DueRowOut(**r) for r in rows])


@router.get("/compliance/frequency", response_model=FrequencyOut, **_allow(
    *SUPERVISING, *ORGANISATION_WIDE, rule="The monthly report of supervision frequency per employee.", csv=True))
def frequency(app: App, who: Caller,
              month: Annotated[str, Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="e.g. 2026-10")],
              as_of: Annotated[date | None, Query(description="as known at the end of this day "
                                                              "(default: the month's last day)")] = None,
              team: Team = None, pack: Pack = None, format: Format = "json") -> Any:
    scope = app.scheduling.compliance_scope(who, team)
    report = app.scheduling.frequency_report(month, as_of=as_of, team=scope, pack=pack)
    rows = report.as_dicts()
    if format == "csv":
        return PlainTextResponse(to_csv(rows, REPORT_COLUMNS), media_type="text/csv",
                                 headers={"Content-Disposition": f'attachment; filename="frequency-{month}.csv"'})
    return FrequencyOut(month=month, as_of=report.as_of, pack=report.pack, team=scope, summary=report.summary,
                        workers=[FrequencyRowOut(**r) for r in rows])


# -- sessions ------------------------------------------------------------------------------------------------------------


def _session_out(app: SupervisionApplication, session: Any) -> SessionOut:
    cancellation = session.cancellation or {}
    return SessionOut(session_id=str(session.id), supervisee_id=session.supervisee_id,
                      supervisor_id=session.supervisor_id, starts_at=session.starts_at,
                      planned_minutes=session.planned_minutes, state=session.state, held_on=session.held_on,
                      actual_minutes=session.actual_minutes, shortfall_minutes=session.shortfall_minutes,
                      cancellation_reason=cancellation.get("reason"), cancelled_by=cancellation.get("cancelled_by"),
                      returned_on=session.returned_on, rebooks=session.rebooks, rebooked_as=session.rebooked_as,
                      rebook_by=app.scheduling.rebook_by(session))


@router.post("/sessions", status_code=201, response_model=SessionOut, **_allow(*SUPERVISING, rule="The supervisee's "
             "current supervisor books it."))
def schedule(body: ScheduleIn, app: App, who: Caller) -> SessionOut:
    return _session_out(app, app.scheduling.schedule_session(who, supervisee_id=body.supervisee_id,
                                                             starts_at=_utc(body.starts_at),
                                                             planned_minutes=body.planned_minutes))


@router.post("/sessions/{session_id}/held", response_model=SessionOut, **_allow(*SUPERVISING, rule="The session's "
             "supervisor; a session shorter than the pack's minimum is kept with its shortfall."))
def hold(session_id: UUID, body: HoldIn, app: App, who: Caller) -> SessionOut:
    return _session_out(app, app.scheduling.hold_session(who, session_id, actual_minutes=body.actual_minutes,
                                                         held_on=body.held_on))


@router.post("/sessions/{session_id}/cancellation", response_model=SessionOut, **_allow(*STAFF, rule="Either party."))
def cancel(session_id: UUID, body: CancelIn, app: App, who: Caller) -> SessionOut:
    return _session_out(app, app.scheduling.cancel_session(who, session_id, body.reason))


@router.post("/sessions/{session_id}/return-to-work", response_model=SessionOut, **_allow(
             *STAFF, rule="After a sickness cancellation: the rebooking clock starts on the return."))
def returned(session_id: UUID, body: ReturnIn, app: App, who: Caller) -> SessionOut:
    return _session_out(app, app.scheduling.record_return_to_work(who, session_id, body.returned_on))


@router.post("/sessions/{session_id}/rebooking", status_code=201, response_model=SessionOut, **_allow(
             *SUPERVISING, rule="The new session is linked to the cancelled one."))
def rebook(session_id: UUID, body: RebookIn, app: App, who: Caller) -> SessionOut:
    return _session_out(app, app.scheduling.rebook_session(who, session_id, starts_at=_utc(body.starts_at),
                                                           planned_minutes=body.planned_minutes))


@router.get("/sessions", **_allow(*STAFF, *ORGANISATION_WIDE, rule="Supervisees see their own; supervisors their "
            "team; QA and HR everyone's. Dates, minutes and states only."))
def list_sessions(app: App, who: Caller, worker_id: UUID | None = None) -> list[dict]:
    return app.scheduling.sessions_visible_to(who, worker_id)


# -- agreements ---------------------------------------------------------------------------------------------------------


def _agreement_out(agreement: Any) -> AgreementOut:
    return AgreementOut(agreement_id=str(agreement.id), supervisee_id=agreement.supervisee_id,
                        supervisor_id=agreement.supervisor_id, state=agreement.state, terms=agreement.terms,
                        awaiting=agreement.awaiting, in_force_on=agreement.in_force_on,
                        last_reviewed_on=agreement.last_reviewed_on, lapsed_on=agreement.lapsed_on,
                        lapse_reason=agreement.lapse_reason, replaces=agreement.replaces)


def _terms(terms: Terms) -> dict:
    dumped = terms.model_dump(exclude_none=True)
    if terms.every is not None:
        dumped["every"] = terms.every.model_dump(exclude_defaults=True)
    return dumped


@router.post("/agreements", status_code=201, response_model=AgreementOut, **_allow(
             *SUPERVISING, rule="The supervisee's current supervisor drafts it; both then sign."))
def draft_agreement(body: AgreementIn, app: App, who: Caller) -> AgreementOut:
    return _agreement_out(app.scheduling.draft_agreement(who, supervisee_id=body.supervisee_id,
                                                         terms=_terms(body.terms)))


@router.post("/agreements/paper", status_code=201, response_model=AgreementOut, **_allow(
             *ADMIN, rule="An agreement both signed on paper before the ledger was used."))
def paper_agreement(body: PaperAgreementIn, app: App, who: Caller) -> AgreementOut:
    return _agreement_out(app.scheduling.record_paper_agreement(who, supervisee_id=body.supervisee_id,
                                                                supervisor_id=body.supervisor_id, signed_on=body.signed_on,
                                                                terms=_terms(body.terms)))


@router.post("/agreements/{agreement_id}/signatures", response_model=AgreementOut, **_allow(
             *STAFF, rule="The supervisee and the supervisor each sign once."))
def sign_agreement(agreement_id: UUID, app: App, who: Caller) -> AgreementOut:
    return _agreement_out(app.scheduling.sign_agreement(who, agreement_id))


@router.post("/agreements/{agreement_id}/reviews", response_model=AgreementOut, **_allow(
             *STAFF, rule="Either party records the (at least annual) review."))
def review_agreement(agreement_id: UUID, body: ReviewIn, app: App, who: Caller) -> AgreementOut:
    return _agreement_out(app.scheduling.review_agreement(who, agreement_id, reviewed_on=body.reviewed_on,
                                                          notes=body.notes))


# -- case supervision ----------------------------------------------------------------------------------------------------


def _case_out(case: Any) -> CaseOut:
    approval = case.approval or {}
    return CaseOut(case_id=str(case.id), worker_id=case.worker_id, case_reference=case.case_reference,
                   rating=case.rating, approved_by=approval.get("by"), approved_on=approval.get("on"),
                   last_discussed_on=case.last_discussed_on, closed=case.closed)


@router.post("/cases", status_code=201, response_model=CaseOut, **_allow(
             *SUPERVISING, rule="The worker's current supervisor; a rating the pack reserves to an approver (e.g. "
             "darlington: Green, the Head of Service) is refused without the approval."))
def open_case(body: CaseIn, app: App, who: Caller) -> CaseOut:
    return _case_out(app.scheduling.open_case(who, worker_id=body.worker_id, case_reference=body.case_reference,
                                              rating=body.rating, approved_by=str(body.approved_by) if body.approved_by else None,
                                              approved_on=body.approved_on, last_discussed_on=body.last_discussed_on,
                                              rationale=body.rationale))


@router.post("/cases/{case_id}/rating", response_model=CaseOut, **_allow(*SUPERVISING))
def rate_case(case_id: UUID, body: RatingIn, app: App, who: Caller) -> CaseOut:
    return _case_out(app.scheduling.rate_case(who, case_id, body.rating,
                                              approved_by=str(body.approved_by) if body.approved_by else None,
                                              approved_on=body.approved_on, rationale=body.rationale))


@router.post("/cases/{case_id}/discussions", response_model=CaseOut, **_allow(*SUPERVISING))
def discuss_case(case_id: UUID, body: DiscussionIn, app: App, who: Caller) -> CaseOut:
    return _case_out(app.scheduling.record_case_discussion(who, case_id, body.discussed_on))


@router.post("/cases/{case_id}/closure", response_model=CaseOut, **_allow(*SUPERVISING))
def close_case(case_id: UUID, app: App, who: Caller) -> CaseOut:
    return _case_out(app.scheduling.close_case(who, case_id))


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


__all__ = ["DASHBOARD_COLUMNS", "router"]
