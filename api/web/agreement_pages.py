"""Supervision agreements in the browser: the supervisor drafts one with a supervisee (its terms: how often, how
long, where, the arrangements); each party signs it once, the second signature bringing it into force; either
party records its review, which the organisation's pack requires at least annually (the page says when the next
is due). The supervisee's view is "My agreement". The same commands as /api/v1/agreements; reading an
agreement's terms is decided and written to the access log first, as any read of content."""

from uuid import UUID

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import ValidationError

from api.errors import Conflict, NotFound
import api.web.commands as commands
import api.web.scheduling_commands as scheduling
from api.web.date_fields import day_from, values_of
from api.web.record_form import FormErrors
from api.web.site import checked_form, notice, page, redirect, signed_in, via, web_of
from domain.errors import DomainError, NotPermitted, OutOfOrder
from infrastructure.users import Principal

router = APIRouter(include_in_schema=False)
TERMS = [("frequency", "How often you meet", "For example, every two weeks for the first three months, then monthly"),
         ("session_minutes", "How long a session lasts", ""),
         ("location", "Where you meet", "For example, the team office, in a private room"),
         ("arrangements", "Arrangements", "Cancelling and rebooking, preparing, recording, what happens if you disagree"),
         ("notes", "Anything else agreed", "")]


@router.get("/agreements")
def agreements(request: Request, who: Principal = Depends(signed_in)) -> Response:
    app = web_of(request).application
    rows = scheduling.agreements(app, who)
    names = commands.names(app, [p for r in rows for p in (r["worker_id"], r["supervisor_id"])])
    return page(request, "agreements.html", who=who, names=names,
                mine=[r for r in rows if r["worker_id"] == who.worker_id],
                theirs=[r for r in rows if r["worker_id"] != who.worker_id])


@router.get("/agreements/new")
def new_agreement(request: Request, who: Principal = Depends(signed_in), supervisee: str = "") -> Response:
    return _new(request, who, {"supervisee_id": supervisee})


@router.post("/agreements/new")
def draft(request: Request, who: Principal = Depends(signed_in), form: dict[str, str] = Depends(checked_form)
          ) -> Response:
    values = {k: form.get(k, "").strip() for k in ["supervisee_id", *(t for t, _, _ in TERMS)]}
    terms = {k: values[k] for k, _, _ in TERMS if values[k]}
    errors = FormErrors()
    try:
        agreement_id = scheduling.draft_agreement(web_of(request).application, who,
                                                  {"supervisee_id": values["supervisee_id"], "terms": terms})
    except ValidationError as exc:
        for e in exc.errors():
            loc = [str(p) for p in e.get("loc", ())]
            field = loc[-1] if loc and loc[-1] in values else "frequency"
            errors.add(field, f"{_label(field)}: {e.get('msg', 'not valid')}")
    except DomainError as exc:
        if isinstance(exc, (NotPermitted, NotFound)):
            raise
        errors.add("frequency", str(exc)[:1].upper() + str(exc)[1:])
    if errors:
        return _new(request, who, values, errors)
    notice(request, "You drafted the agreement. Sign it, and ask your supervisee to sign it too: it is in force "
                    "when you have both signed.")
    return redirect(f"/agreements/{agreement_id}")


@router.get("/agreements/{agreement_id}")
def agreement_page(agreement_id: UUID, request: Request, who: Principal = Depends(signed_in)) -> Response:
    return _agreement(request, who, agreement_id)


@router.post("/agreements/{agreement_id}/signatures")
def sign(agreement_id: UUID, request: Request, who: Principal = Depends(signed_in),
         form: dict[str, str] = Depends(checked_form)) -> Response:
    try:
        scheduling.sign_agreement(web_of(request).application, who, agreement_id)
    except (Conflict, OutOfOrder) as exc:
        return _changed(request, who, agreement_id, exc)
    notice(request, "You signed the agreement.")
    return redirect(f"/agreements/{agreement_id}")


@router.post("/agreements/{agreement_id}/reviews")
def review(agreement_id: UUID, request: Request, who: Principal = Depends(signed_in),
           form: dict[str, str] = Depends(checked_form)) -> Response:
    errors = FormErrors()
    reviewed_on = day_from(form, "reviewed_on", errors, "the day you reviewed it")
    notes = form.get("notes", "")
    if not errors:
        try:
            scheduling.review_agreement(web_of(request).application, who, agreement_id,
                                        {"reviewed_on": reviewed_on, "notes": notes})
        except (Conflict, OutOfOrder) as exc:
            return _changed(request, who, agreement_id, exc)
        except ValidationError as exc:
            errors.add("notes", f"Notes: {exc.errors()[0].get('msg', 'not valid')}")
        except DomainError as exc:
            if isinstance(exc, (NotPermitted, NotFound)):
                raise
            errors.add("reviewed_on-day", str(exc)[:1].upper() + str(exc)[1:])
    if errors:
        return _agreement(request, who, agreement_id, errors, {**values_of(form, "reviewed_on-"), "notes": notes})
    notice(request, "You recorded the review of the agreement.")
    return redirect(f"/agreements/{agreement_id}")


def _new(request: Request, who: Principal, values: dict, errors: FormErrors | None = None) -> Response:
    supervisees = commands.my_supervisees(web_of(request).application, who)  # refused to anyone with no team
    return page(request, "agreement_new.html", 422 if errors else 200, who=who, supervisees=supervisees,
                terms=TERMS, values=values, errors=errors or FormErrors())


def _changed(request: Request, who: Principal, agreement_id: UUID, exc: DomainError) -> Response:
    """Someone changed the agreement first (e.g. it was signed from another tab): 409, with it as it is now."""
    errors = FormErrors()
    errors.add("main-content", f"Nothing was saved: {exc}. The agreement is shown as it is now.")
    return _agreement(request, who, agreement_id, errors, status=409)


def _agreement(request: Request, who: Principal, agreement_id: UUID, errors: FormErrors | None = None,
               values: dict | None = None, status: int | None = None) -> Response:
    app = web_of(request).application
    found, decision, review_due = scheduling.agreement(app, who, via(request), agreement_id)
    today = app.clock().date()
    defaults = {"reviewed_on-day": str(today.day), "reviewed_on-month": str(today.month),
                "reviewed_on-year": str(today.year)}
    return page(request, "agreement.html", status or (422 if errors else 200), who=who, agreement=found,
                party=found.party(who.worker_id or ""), basis=decision.basis, review_due=review_due, today=today,
                names=commands.names(app, [found.supervisee_id, found.supervisor_id]), terms=TERMS,
                errors=errors or FormErrors(), values={**defaults, **(values or {})})


def _label(field: str) -> str:
    return {k: label for k, label, _ in TERMS}.get(field, field.replace("_", " ").capitalize())
