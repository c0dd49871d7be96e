"""HR's grant pages: grant a named person access for a purpose, within a scope (one person's file, a
supervisor's team, or one record), until a date; revoke a grant. The same commands, with the same body
models, as POST /api/v1/grants and /api/v1/grants/{id}/revoke: who may grant, to whom and what is decided
there, never here."""

from datetime import date, datetime, time, timezone
from uuid import UUID

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import ValidationError

from api.errors import Conflict, NotFound
import api.web.commands as commands
from api.web.record_form import FormErrors
from api.web.site import checked_form, notice, page, redirect, signed_in, web_of
from domain.access import GrantCategory
from domain.authorisation import ScopeKind
from domain.errors import DomainError, NotPermitted
from infrastructure.users import Principal

router = APIRouter(include_in_schema=False)
CATEGORY_NAMES = {"inspection": "Inspection (for an inspector)",
                  "investigation": "Investigation (for an investigating officer)",
                  "qa_audit": "Quality assurance audit (for QA)", "sar": "Subject access request (for the DPO)"}
SCOPE_NAMES = {"worker_file": "One person's file: all their supervision records",
               "team": "A supervisor's team: the records of the people they supervise now",
               "record": "One supervision record"}
FIELDS = ("grantee", "category", "purpose", "scope_kind", "scope_worker", "scope_record", "expires_on")


@router.get("/grants/new")
def new_grant(request: Request, who: Principal = Depends(signed_in)) -> Response:
    return _form(request, who, {}, FormErrors())


@router.post("/grants/new")
def grant(request: Request, who: Principal = Depends(signed_in), form: dict[str, str] = Depends(checked_form)
          ) -> Response:
    values = {k: form.get(k, "").strip() for k in FIELDS}
    errors = FormErrors()
    kind = values["scope_kind"]
    scope_id = values["scope_record"] if kind == "record" else values["scope_worker"]
    scope_field = "scope_record" if kind == "record" else "scope_worker"
    for field in ("grantee", "category", "purpose", "scope_kind") + ((scope_field,) if kind else ()):
        if not values[field]:
            errors.add(field, _message(field, "missing"))
    expires_at = _end_of(values["expires_on"], errors)
    if not errors:
        body = {"grantee": values["grantee"], "purpose": values["purpose"], "category": values["category"],
                "scope": {"kind": kind, "id": scope_id}, "expires_at": expires_at}
        try:
            granted = commands.grant(web_of(request).application, who, body)
        except ValidationError as exc:
            for e in exc.errors():
                loc = [str(p) for p in e.get("loc", ())]
                field = {"scope": "scope_kind" if loc[1:2] == ["kind"] else scope_field,
                         "expires_at": "expires_on"}.get(loc[0] if loc else "", loc[0] if loc else "grantee")
                errors.add(field, _message(field, e.get("msg", "not valid")))
        except commands.GranteeRefused as exc:
            errors.add("grantee", f"Choose someone who can hold a grant: {exc}")
        except NotFound as exc:
            errors.add(scope_field, f"Choose who or what the grant covers: {exc}")
        except NotPermitted:
            raise
        except DomainError as exc:
            field = _field_of(str(exc), scope_field)
            errors.add(field, "The date the grant ends must be in the future" if field == "expires_on"
                       else str(exc)[:1].upper() + str(exc)[1:])
    if errors:
        return _form(request, who, values, errors, 422)
    notice(request, f"Access granted to {granted.grantee_username} until {granted.expires_at:%-d %B %Y}. "
                    "Every read under the grant is written to the access log.")
    return redirect("/grants")


@router.get("/grants/{grant_id}/revoke")
def revoke_page(grant_id: UUID, request: Request, who: Principal = Depends(signed_in)) -> Response:
    return _revoke_page(request, who, grant_id, FormErrors())


@router.post("/grants/{grant_id}/revoke")
def revoke(grant_id: UUID, request: Request, who: Principal = Depends(signed_in),
           form: dict[str, str] = Depends(checked_form)) -> Response:
    errors = FormErrors()
    reason = form.get("reason", "").strip()
    try:
        revoked = commands.revoke(web_of(request).application, who, grant_id, {
            "reason": reason, "expected_version": form.get("expected_version") or None})
    except ValidationError:
        errors.add("reason", "Enter why the grant ends now" if not reason else
                   "The reason must be 2,000 characters or fewer")
    except Conflict:
        errors.add("reason", "Someone changed this grant first: check it below and try again")
    except DomainError as exc:
        if isinstance(exc, (NotPermitted, NotFound)):
            raise
        errors.add("reason", str(exc).capitalize())
    if errors:
        return _revoke_page(request, who, grant_id, errors, 422, reason)
    notice(request, f"The grant to {revoked.grantee_username} is revoked: the next read under it is refused.")
    return redirect("/grants")


def _form(request: Request, who: Principal, values: dict[str, str], errors: FormErrors, status: int = 200
          ) -> Response:
    app = web_of(request).application
    accounts = [a for a in commands.accounts(app, who) if a["disabled_at"] is None and a["user_id"] != who.user_id]
    staff = [w for w in commands.staff(app, who) if w.state == "active"]
    return page(request, "grant_new.html", status, who=who, values=values, errors=errors, accounts=accounts,
                staff=staff, categories=[(c.value, CATEGORY_NAMES.get(c.value, c.value)) for c in GrantCategory],
                scopes=[(s.value, SCOPE_NAMES.get(s.value, s.value)) for s in ScopeKind])


def _revoke_page(request: Request, who: Principal, grant_id: UUID, errors: FormErrors, status: int = 200,
                 reason: str = "") -> Response:
    app = web_of(request).application
    found = commands.a_grant(app, who, grant_id)
    names = commands.names(app, [found.scope_id]) if found.scope_kind != "record" else {}
    return page(request, "grant_revoke.html", status, who=who, grant=found, errors=errors, reason=reason,
                live=found.terms().live_at(app.clock()), scope_name=names.get(found.scope_id, found.scope_id),
                scope_names=SCOPE_NAMES)


def _end_of(day: str, errors: FormErrors) -> datetime | None:
    """A grant entered as a day runs to the end of that day (UTC)."""
    if not day:
        errors.add("expires_on", "Enter the date the grant ends")
        return None
    try:
        return datetime.combine(date.fromisoformat(day), time(23, 59, 59), tzinfo=timezone.utc)
    except ValueError:
        errors.add("expires_on", "The date the grant ends must be a real date, like 2027-03-31")
        return None


def _message(field: str, msg: str) -> str:
    what = {"grantee": "Choose who the grant is for", "category": "Choose the kind of grant",
            "purpose": "Enter the purpose of the grant", "scope_kind": "Choose what the grant covers",
            "scope_worker": "Choose whose file or team the grant covers",
            "scope_record": "Enter the full id of the record the grant covers, as in its address",
            "expires_on": "Enter the date the grant ends"}.get(field, field.replace("_", " ").capitalize())
    if field in ("scope_kind", "scope_worker", "scope_record", "grantee", "category") or "missing" in msg.lower() \
            or "at least" in msg:
        return what  # a choice or an id: the validator's own words would only say which type it wanted
    return f"{what}: {msg}"


def _field_of(message: str, scope_field: str) -> str:
    """The field a refusal of the grant's terms is about (domain/access.py names the term it refuses)."""
    for start, field in (("purpose", "purpose"), ("expires_at", "expires_on"), ("scope", scope_field)):
        if message.startswith(start):
            return field
    return "grantee"  # e.g. "a sar grant is for: dpo; ofsted is a inspector"
