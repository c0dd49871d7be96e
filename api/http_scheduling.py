"""/api/v1 for supervision on time: the overdue dashboard and the monthly frequency report for managers (their
team) and quality assurance (the whole organisation), and the session, agreement and case commands.

Include it as it is: `api.include_router(http_scheduling.router)` — the router carries the /api/v1 prefix
itself. Each route declares its roles (`x-allowed-roles`, enforced by the app's deny-by-default check) and
the handlers check the caller's scope again, so the router stays safe in an app without that check.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, Field, StringConstraints

from api.application import Conflict, NotFound, SupervisionLedger
from api.cli_scheduling import DASHBOARD_COLUMNS, REPORT_COLUMNS, dashboard_csv, to_csv
from domain.errors import DomainError, InvalidContent, NotPermitted, OutOfOrder, StaleVersion
from domain.timestamps import ImplausibleDate

API_PREFIX = "/api/v1"
SUPERVISING = ("supervisor", "manager")
ORGANISATION_WIDE = ("qa", "administrator")
STAFF = ("supervisee", "supervisor", "manager")


# -- who is calling: the app's authentication, wherever it lives -----------------------------------------------

def _auth_dependency() -> Callable[..., Any]:
    """The authenticated caller (an object with user_id, role and worker_id)."""
    try:  # the name the lead gave in the brief
        from api.http_auth import current_user  # type: ignore[import-not-found]

        return current_user
    except ImportError:
        pass
    try:  # what the API area provides today
        from api.http_support import caller

        return caller
    except ImportError:
        pass

    def not_wired() -> Any:
        # TODO(lead): wire authentication here (a dependency returning the caller: user_id, role, worker_id).
        raise HTTPException(501, "authentication is not wired for the scheduling endpoints yet")
    return not_wired


current_caller = _auth_dependency()


def _allow(*roles: str, rule: str = "", csv: bool = False) -> dict[str, Any]:
    """Route keyword arguments declaring who may call it (the app's check reads `x-allowed-roles`)."""
    try:
        from api.http_support import allow
        from domain.authorisation import Role

        declared = allow([Role(r) for r in roles], rule)
    except ImportError:
        declared = {"openapi_extra": {"x-allowed-roles": sorted(set(roles))},
                    "description": f"**Who may call it:** {', '.join(sorted(set(roles)))}. {rule}".strip()}
    if csv:
        declared["responses"] = {**declared.get("responses", {}), 200: {"content": {"text/csv": {}}}}
    return declared


def ledger(request: Request) -> SupervisionLedger:
    return request.app.state.ledger


Caller = Annotated[Any, Depends(current_caller)]
Ledger = Annotated[SupervisionLedger, Depends(ledger)]
router = APIRouter(prefix=API_PREFIX, tags=["supervision on time"])


def _role(who: Any) -> str:
    return getattr(who.role, "value", who.role)


def _actor(who: Any) -> str:
    """Commands are taken by members of staff, as themselves."""
    if _role(who) not in STAFF or not who.worker_id:
        raise HTTPException(403, "only members of staff (supervisee, supervisor, manager) take this step")
    return str(who.worker_id)


def _team_for(app: SupervisionLedger, who: Any, team: UUID | None) -> str | None:
    """QA and HR see the organisation (or any one team); a supervisor or manager sees their own team, or the team
    of someone they supervise (line management)."""
    role = _role(who)
    if role in ORGANISATION_WIDE:
        return str(team) if team else None
    if role not in SUPERVISING or not who.worker_id:
        raise HTTPException(403, f"a {role} may not see supervision compliance")
    mine = str(who.worker_id)
    if team is None or str(team) == mine:
        return mine
    with _refusals():
        if app.get_worker(team).supervisor_id != mine:
            raise HTTPException(403, "you may see your own team, or the team of a supervisor you supervise")
    return str(team)


@contextmanager
def _refusals() -> Iterator[None]:
    """Domain refusals as 4xx answers, the same in any app this router is included in."""
    try:
        yield
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from None
    except (Conflict, StaleVersion, OutOfOrder) as exc:
        raise HTTPException(409, str(exc)) from None
    except NotPermitted as exc:
        raise HTTPException(403, str(exc)) from None
    except ImplausibleDate:
        raise  # the app's handler answers 422 with `field` naming the input
    except (InvalidContent, DomainError) as exc:
        raise HTTPException(422, str(exc)) from None


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


class Terms(BaseModel):
    frequency: Text | None = None
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
    last_discussed_on: date | None = None


class RatingIn(BaseModel):
    rating: Annotated[str, StringConstraints(max_length=64)] | None = None
    approved_by: UUID | None = None
    approved_on: date | None = None


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
def due(app: Ledger, who: Caller, as_of: AsOf = None, team: Team = None, pack: Pack = None,
        format: Format = "json") -> Any:
    """Who is overdue for supervision and why, with unsigned records, agreements, cancellations and cases."""
    scope = _team_for(app, who, team)
    with _refusals():
        board = app.compliance_dashboard(as_of=as_of, team=scope, pack=pack)
    rows = board.as_dicts()
    if format == "csv":
        return PlainTextResponse(dashboard_csv(rows), media_type="text/csv",
                                 headers={"Content-Disposition": f'attachment; filename="due-{board.as_of}.csv"'})
    return DueOut(as_of=board.as_of, pack=board.pack, team=scope, workers=[DueRowOut(**r) for r in rows])


@router.get("/compliance/frequency", response_model=FrequencyOut, **_allow(
    *SUPERVISING, *ORGANISATION_WIDE, rule="The monthly report of supervision frequency per employee.", csv=True))
def frequency(app: Ledger, who: Caller,
              month: Annotated[str, Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="e.g. 2026-10")],
              as_of: Annotated[date | None, Query(description="as known at the end of this day "
                                                              "(default: the month's last day)")] = None,
              team: Team = None, pack: Pack = None, format: Format = "json") -> Any:
    scope = _team_for(app, who, team)
    with _refusals():
        report = app.frequency_report(month, as_of=as_of, team=scope, pack=pack)
    rows = report.as_dicts()
    if format == "csv":
        return PlainTextResponse(to_csv(rows, REPORT_COLUMNS), media_type="text/csv",
                                 headers={"Content-Disposition": f'attachment; filename="frequency-{month}.csv"'})
    return FrequencyOut(month=month, as_of=report.as_of, pack=report.pack, team=scope, summary=report.summary,
                        workers=[FrequencyRowOut(**r) for r in rows])


# -- sessions ------------------------------------------------------------------------------------------------------------


def _session_out(app: SupervisionLedger, session: Any) -> SessionOut:
    cancellation = session.cancellation or {}
    return SessionOut(session_id=str(session.id), supervisee_id=session.supervisee_id,
                      supervisor_id=session.supervisor_id, starts_at=session.starts_at,
                      planned_minutes=session.planned_minutes, state=session.state, held_on=session.held_on,
                      actual_minutes=session.actual_minutes, shortfall_minutes=session.shortfall_minutes,
                      cancellation_reason=cancellation.get("reason"), cancelled_by=cancellation.get("cancelled_by"),
                      returned_on=session.returned_on, rebooks=session.rebooks, rebooked_as=session.rebooked_as,
                      rebook_by=session.rebook_by(app.compliance_pack()))


@router.post("/sessions", status_code=201, response_model=SessionOut, **_allow(*SUPERVISING, rule="The supervisee's "
             "current supervisor books it."))
def schedule(body: ScheduleIn, app: Ledger, who: Caller) -> SessionOut:
    with _refusals():
        session_id = app.schedule_session(supervisee_id=body.supervisee_id, starts_at=_utc(body.starts_at),
                                          planned_minutes=body.planned_minutes, actor=_actor(who))
        return _session_out(app, app.get_session(session_id))


@router.post("/sessions/{session_id}/held", response_model=SessionOut, **_allow(*SUPERVISING, rule="The session's "
             "supervisor; a session shorter than the pack's minimum is kept with its shortfall."))
def hold(session_id: UUID, body: HoldIn, app: Ledger, who: Caller) -> SessionOut:
    with _refusals():
        return _session_out(app, app.hold_session(session_id, actual_minutes=body.actual_minutes, actor=_actor(who),
                                                  held_on=body.held_on))


@router.post("/sessions/{session_id}/cancellation", response_model=SessionOut, **_allow(*STAFF, rule="Either party."))
def cancel(session_id: UUID, body: CancelIn, app: Ledger, who: Caller) -> SessionOut:
    with _refusals():
        app.cancel_session(session_id, body.reason, actor=_actor(who))
        return _session_out(app, app.get_session(session_id))


@router.post("/sessions/{session_id}/return-to-work", response_model=SessionOut, **_allow(
             *STAFF, rule="After a sickness cancellation: the rebooking clock starts on the return."))
def returned(session_id: UUID, body: ReturnIn, app: Ledger, who: Caller) -> SessionOut:
    with _refusals():
        app.record_return_to_work(session_id, body.returned_on, actor=_actor(who))
        return _session_out(app, app.get_session(session_id))


@router.post("/sessions/{session_id}/rebooking", status_code=201, response_model=SessionOut, **_allow(
             *SUPERVISING, rule="The new session is linked to the cancelled one."))
def rebook(session_id: UUID, body: RebookIn, app: Ledger, who: Caller) -> SessionOut:
    with _refusals():
        new_id = app.rebook_session(session_id, starts_at=_utc(body.starts_at), actor=_actor(who),
                                    planned_minutes=body.planned_minutes)
        return _session_out(app, app.get_session(new_id))


@router.get("/sessions", **_allow(*STAFF, *ORGANISATION_WIDE, rule="Supervisees see their own; supervisors their "
            "team; QA and HR everyone's. Dates, minutes and states only."))
def list_sessions(app: Ledger, who: Caller, worker_id: UUID | None = None) -> list[dict]:
    role = _role(who)
    if role == "supervisee":
        return app.sessions_of(worker_id=who.worker_id)
    if role in ORGANISATION_WIDE:
        return app.sessions_of(worker_id=worker_id)
    return app.sessions_of(worker_id=worker_id, team=_team_for(app, who, None))


# -- agreements ---------------------------------------------------------------------------------------------------------


def _agreement_out(agreement: Any) -> AgreementOut:
    return AgreementOut(agreement_id=str(agreement.id), supervisee_id=agreement.supervisee_id,
                        supervisor_id=agreement.supervisor_id, state=agreement.state, terms=agreement.terms,
                        awaiting=agreement.awaiting, in_force_on=agreement.in_force_on,
                        last_reviewed_on=agreement.last_reviewed_on, lapsed_on=agreement.lapsed_on,
                        lapse_reason=agreement.lapse_reason, replaces=agreement.replaces)


def _terms(terms: Terms) -> dict:
    return terms.model_dump(exclude_none=True)


@router.post("/agreements", status_code=201, response_model=AgreementOut, **_allow(
             *SUPERVISING, rule="The supervisee's current supervisor drafts it; both then sign."))
def draft_agreement(body: AgreementIn, app: Ledger, who: Caller) -> AgreementOut:
    with _refusals():
        agreement_id = app.draft_agreement(supervisee_id=body.supervisee_id, terms=_terms(body.terms),
                                           actor=_actor(who))
        return _agreement_out(app.get_agreement(agreement_id))


@router.post("/agreements/paper", status_code=201, response_model=AgreementOut, **_allow(
             "administrator", rule="An agreement both signed on paper before the ledger was used."))
def paper_agreement(body: PaperAgreementIn, app: Ledger, who: Caller) -> AgreementOut:
    with _refusals():
        agreement_id = app.record_paper_agreement(supervisee_id=body.supervisee_id, supervisor_id=body.supervisor_id,
                                                  signed_on=body.signed_on, terms=_terms(body.terms),
                                                  actor=str(who.user_id))
        return _agreement_out(app.get_agreement(agreement_id))


@router.post("/agreements/{agreement_id}/signatures", response_model=AgreementOut, **_allow(
             *STAFF, rule="The supervisee and the supervisor each sign once."))
def sign_agreement(agreement_id: UUID, app: Ledger, who: Caller) -> AgreementOut:
    with _refusals():
        return _agreement_out(app.sign_agreement(agreement_id, actor=_actor(who)))


@router.post("/agreements/{agreement_id}/reviews", response_model=AgreementOut, **_allow(
             *STAFF, rule="Either party records the (at least annual) review."))
def review_agreement(agreement_id: UUID, body: ReviewIn, app: Ledger, who: Caller) -> AgreementOut:
    with _refusals():
        return _agreement_out(app.review_agreement(agreement_id, actor=_actor(who), reviewed_on=body.reviewed_on,
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
def open_case(body: CaseIn, app: Ledger, who: Caller) -> CaseOut:
    with _refusals():
        case_id = app.open_case(worker_id=body.worker_id, case_reference=body.case_reference, actor=_actor(who),
                                rating=body.rating, approved_by=str(body.approved_by) if body.approved_by else None,
                                approved_on=body.approved_on, last_discussed_on=body.last_discussed_on)
        return _case_out(app.get_case(case_id))


@router.post("/cases/{case_id}/rating", response_model=CaseOut, **_allow(*SUPERVISING))
def rate_case(case_id: UUID, body: RatingIn, app: Ledger, who: Caller) -> CaseOut:
    with _refusals():
        return _case_out(app.rate_case(case_id, body.rating, actor=_actor(who),
                                       approved_by=str(body.approved_by) if body.approved_by else None,
                                       approved_on=body.approved_on))


@router.post("/cases/{case_id}/discussions", response_model=CaseOut, **_allow(*SUPERVISING))
def discuss_case(case_id: UUID, body: DiscussionIn, app: Ledger, who: Caller) -> CaseOut:
    with _refusals():
        return _case_out(app.record_case_discussion(case_id, body.discussed_on, actor=_actor(who)))


@router.post("/cases/{case_id}/closure", response_model=CaseOut, **_allow(*SUPERVISING))
def close_case(case_id: UUID, app: Ledger, who: Caller) -> CaseOut:
    with _refusals():
        return _case_out(app.close_case(case_id, actor=_actor(who)))


def _utc(moment: datetime) -> datetime:
    from datetime import timezone

    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


__all__ = ["DASHBOARD_COLUMNS", "current_caller", "router"]
