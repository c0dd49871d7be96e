"""Supervision sessions in the browser: the sessions I can see (a supervisor's team, a supervisee's own), booking
one, recording it as held with its length, cancelling it with a reason, and rebooking a cancelled one. The same
commands, with the same request models, as /api/v1/sessions (api/http_scheduling.py); whether this person may
take the step now is the application's and the domain's decision."""

from uuid import UUID

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import ValidationError

from api.errors import Conflict, NotFound
import api.web.commands as commands
import api.web.scheduling_commands as scheduling
from api.web.date_fields import day_from, time_from, values_of
from api.web.record_form import FormErrors
from api.web.site import checked_form, notice, page, redirect, signed_in, web_of
from domain.errors import DomainError, NotPermitted, OutOfOrder
from infrastructure.users import Principal

router = APIRouter(include_in_schema=False)
REASONS = [("sickness", "Sickness", "The rebooking deadline counts from the day they are back at work."),
           ("leave", "Annual or other leave", ""), ("operational", "Operational (for example, a court hearing)", "")]
# Which form field a request model's field is shown beside.
FIELD_OF = {"supervisee_id": "supervisee_id", "starts_at": "starts-day", "planned_minutes": "planned_minutes",
            "actual_minutes": "actual_minutes", "held_on": "held_on-day", "reason": "reason"}


@router.get("/sessions")
def sessions(request: Request, who: Principal = Depends(signed_in)) -> Response:
    app = web_of(request).application
    rows = scheduling.sessions(app, who)
    today = app.clock().date()
    names = commands.names(app, [p for r in rows for p in (r["worker_id"], r["supervisor_id"])])
    return page(request, "sessions.html", who=who, names=names, today=today,
                coming=sorted((r for r in rows if r["state"] == "scheduled" and r["scheduled_for"] >= today),
                              key=lambda r: r["scheduled_for"]),
                to_record=[r for r in rows if r["state"] == "scheduled" and r["scheduled_for"] < today],
                past=[r for r in rows if r["state"] != "scheduled"])


@router.get("/sessions/new")
def new_session(request: Request, who: Principal = Depends(signed_in), supervisee: str = "") -> Response:
    return _new(request, who, {"supervisee_id": supervisee, "planned_minutes": "90", "time": "10:00"})


@router.post("/sessions/new")
def schedule(request: Request, who: Principal = Depends(signed_in),
             form: dict[str, str] = Depends(checked_form)) -> Response:
    errors = FormErrors()
    starts_at = _moment(form, "starts", errors)
    fields = {"supervisee_id": form.get("supervisee_id", ""), "planned_minutes": form.get("planned_minutes", "")}
    if not errors:
        try:
            session_id = scheduling.schedule(web_of(request).application, who, {**fields, "starts_at": starts_at})
        except (ValidationError, DomainError) as exc:
            _errors_of(exc, errors, "starts-day")
    if errors:
        return _new(request, who, {**values_of(form, "starts-"), **fields, "time": form.get("time", "")}, errors)
    notice(request, "You booked the session.")
    return redirect(f"/sessions/{session_id}")


@router.get("/sessions/{session_id}")
def session_page(session_id: UUID, request: Request, who: Principal = Depends(signed_in)) -> Response:
    return _session(request, who, session_id)


@router.post("/sessions/{session_id}/held")
def hold(session_id: UUID, request: Request, who: Principal = Depends(signed_in),
         form: dict[str, str] = Depends(checked_form)) -> Response:
    errors = FormErrors()
    held_on = day_from(form, "held_on", errors, "the day it was held")
    if not form.get("actual_minutes", "").strip():
        errors.add("actual_minutes", "Enter how many minutes the session lasted")
    if not errors:
        try:
            scheduling.hold(web_of(request).application, who, session_id,
                            {"actual_minutes": form.get("actual_minutes", "").strip(), "held_on": held_on})
        except (Conflict, OutOfOrder) as exc:
            return _changed(request, who, session_id, exc)
        except (ValidationError, DomainError) as exc:
            _errors_of(exc, errors, "actual_minutes")
    if errors:
        return _session(request, who, session_id, errors, values_of(form, "held_on-", "actual_minutes"))
    notice(request, "You recorded the session as held.")
    return redirect(f"/sessions/{session_id}")


@router.post("/sessions/{session_id}/cancellation")
def cancel(session_id: UUID, request: Request, who: Principal = Depends(signed_in),
           form: dict[str, str] = Depends(checked_form)) -> Response:
    errors = FormErrors()
    if not form.get("reason"):
        errors.add("reason", "Choose why the session is cancelled")
    else:
        try:
            scheduling.cancel(web_of(request).application, who, session_id, {"reason": form["reason"]})
        except (Conflict, OutOfOrder) as exc:
            return _changed(request, who, session_id, exc)
        except (ValidationError, DomainError) as exc:
            _errors_of(exc, errors, "reason")
    if errors:
        return _session(request, who, session_id, errors, {"reason": form.get("reason", "")})
    notice(request, "You cancelled the session. It is kept, with the reason, and can be rebooked.")
    return redirect(f"/sessions/{session_id}")


@router.post("/sessions/{session_id}/rebooking")
def rebook(session_id: UUID, request: Request, who: Principal = Depends(signed_in),
           form: dict[str, str] = Depends(checked_form)) -> Response:
    errors = FormErrors()
    starts_at = _moment(form, "starts", errors)
    if not errors:
        try:
            new_id = scheduling.rebook(web_of(request).application, who, session_id, {"starts_at": starts_at})
        except (Conflict, OutOfOrder) as exc:
            return _changed(request, who, session_id, exc)
        except (ValidationError, DomainError) as exc:
            _errors_of(exc, errors, "starts-day")
    if errors:
        return _session(request, who, session_id, errors, {**values_of(form, "starts-"), "time": form.get("time", "")})
    notice(request, "You rebooked the session. The cancelled one is linked to it.")
    return redirect(f"/sessions/{new_id}")


# -- pages ------------------------------------------------------------------------------------------------

def _new(request: Request, who: Principal, values: dict, errors: FormErrors | None = None) -> Response:
    supervisees = commands.my_supervisees(web_of(request).application, who)  # refused to anyone with no team
    return page(request, "session_new.html", 422 if errors else 200, who=who, supervisees=supervisees,
                values=values, errors=errors or FormErrors())


def _changed(request: Request, who: Principal, session_id: UUID, exc: DomainError) -> Response:
    """Someone changed the session first (or the step no longer fits its state): 409, with the session as it
    is now."""
    errors = FormErrors()
    errors.add("main-content", f"Nothing was saved: {exc}. The session is shown as it is now.")
    return _session(request, who, session_id, errors, status=409)


def _session(request: Request, who: Principal, session_id: UUID, errors: FormErrors | None = None,
             values: dict | None = None, status: int | None = None) -> Response:
    app = web_of(request).application
    found, rebook_by = scheduling.session(app, who, session_id)
    names = commands.names(app, [found.supervisee_id, found.supervisor_id])
    day = found.session_date
    defaults = {"held_on-day": str(day.day), "held_on-month": str(day.month), "held_on-year": str(day.year),
                "time": found.starts_at.strftime("%H:%M")}
    return page(request, "session.html", status or (422 if errors else 200), who=who, session=found, names=names,
                party=found.party(who.worker_id or ""), rebook_by=rebook_by, reasons=REASONS,
                today=app.clock().date(), errors=errors or FormErrors(), values={**defaults, **(values or {})})


def _moment(form: dict[str, str], prefix: str, errors: FormErrors) -> str | None:
    day = day_from(form, prefix, errors, "the date of the session")
    at = time_from(form, "time", errors, "the start time")
    return f"{day}T{at}:00+00:00" if day and at else None


def _errors_of(exc: Exception, errors: FormErrors, field: str) -> None:
    """A request model's complaint beside its field; a refusal of the step (the domain's) beside the form's
    main field. Who may not act at all is the 403 page, an unknown session the 404."""
    if isinstance(exc, (NotPermitted, NotFound)):
        raise exc
    if isinstance(exc, ValidationError):
        for e in exc.errors():
            head = str((e.get("loc") or ("",))[0])
            errors.add(FIELD_OF.get(head, field), f"{head.replace('_', ' ').capitalize()}: {e.get('msg', 'not valid')}")
        return
    errors.add(field, str(exc)[:1].upper() + str(exc)[1:])

