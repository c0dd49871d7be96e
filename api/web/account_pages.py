"""HR's account pages: every account, a new account for a member of staff (or for an inspector, a DPO...),
an access token for the API shown once, and disabling an account (its sessions and tokens stop working at
once). The same application commands as `svl user ...`, `svl token issue` and POST /api/v1/users/{u}/disable."""

from datetime import datetime, timezone

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from api.errors import NotFound
import api.web.commands as commands
from api.web.record_form import FormErrors
from api.web.site import checked_form, notice, page, redirect, signed_in, web_of
from domain.authorisation import Role
from infrastructure.users import Principal, UserError

router = APIRouter(include_in_schema=False)
ROLE_NAMES = {"supervisee": "Supervisee (a member of staff who is supervised)",
              "supervisor": "Supervisor (supervises others, and is supervised)",
              "manager": "Manager (a supervisor who oversees supervisors)", "administrator": "HR (administrator)",
              "inspector": "Inspector", "investigating_officer": "Investigating officer",
              "qa": "Quality assurance", "dpo": "Data protection officer"}
TOKEN_DAYS = 30


@router.get("/accounts")
def accounts(request: Request, who: Principal = Depends(signed_in)) -> Response:
    app = web_of(request).application
    now = app.clock()
    rows = [{**r, "ended": _ended(r, now)} for r in commands.accounts(app, who)]
    names = commands.names(app, [r["worker_id"] for r in rows])
    return page(request, "accounts.html", who=who, rows=rows, names=names)


@router.get("/accounts/new")
def new_account(request: Request, who: Principal = Depends(signed_in)) -> Response:
    return _form(request, who, {}, FormErrors())


@router.post("/accounts/new")
def add_account(request: Request, who: Principal = Depends(signed_in), form: dict[str, str] = Depends(checked_form)
                ) -> Response:
    values = {k: form.get(k, "").strip() for k in ("username", "role", "worker_id")}
    errors = FormErrors()
    if not values["username"]:
        errors.add("username", "Enter a username, for example jo.bloggs")
    if not values["role"]:
        errors.add("role", "Choose the account's role")
    if not errors:
        try:
            commands.add_account(web_of(request).application, who, values["username"], values["role"],
                                 values["worker_id"] or None)
        except UserError as exc:
            errors.add("role" if str(exc).startswith("role") else "username", str(exc).capitalize())
        except NotFound as exc:
            errors.add("worker_id", f"Choose a member of staff from the list: {exc}")
    if errors:
        return _form(request, who, values, errors, 422)
    notice(request, f"Account {values['username']} added. Give them a way to sign in: an access token below, "
                    "or your organisation's sign-in.")
    return redirect(f"/accounts/{values['username']}")


@router.get("/accounts/{username}")
def account(username: str, request: Request, who: Principal = Depends(signed_in)) -> Response:
    return _account(request, who, username)


@router.post("/accounts/{username}/disable")
def disable(username: str, request: Request, who: Principal = Depends(signed_in),
            form: dict[str, str] = Depends(checked_form)) -> Response:
    app = web_of(request).application
    _find(app, who, username)
    commands.disable_account(app, who, username)
    notice(request, f"Account {username} is disabled: its sessions and access tokens stopped working now.")
    return redirect(f"/accounts/{username}")


@router.post("/accounts/{username}/token")
def issue_token(username: str, request: Request, who: Principal = Depends(signed_in),
                form: dict[str, str] = Depends(checked_form)) -> Response:
    app = web_of(request).application
    _find(app, who, username)
    errors = FormErrors()
    days = 0.0
    try:
        days = float(form.get("days", "").strip())
        if not 0 < days <= 365:
            errors.add("days", "Enter a number of days from 1 to 365")
    except ValueError:
        errors.add("days", "Enter the number of days the token lasts, like 30")
    if errors:
        return _account(request, who, username, errors, 422)
    try:
        issued = commands.issue_token(app, who, username, days)
    except UserError as exc:
        return _account(request, who, username, FormErrors({"days": str(exc).capitalize()}), 422)
    # Shown in this answer only (never stored, never in a redirect or a notice kept in the session).
    return page(request, "token_issued.html", who=who, username=username, issued=issued)


def _find(app, who: Principal, username: str) -> dict:  # noqa: ANN001
    for row in commands.accounts(app, who):
        if row["username"] == username:
            return row
    raise NotFound(f"no account {username!r}")


def _account(request: Request, who: Principal, username: str, errors: FormErrors | None = None,
             status: int = 200) -> Response:
    app = web_of(request).application
    now = app.clock()
    row = _find(app, who, username)
    ended = _ended(row, now)
    names = commands.names(app, [row["worker_id"]])
    tokens = [] if ended else [{**t, "ended": t["revoked_at"] is not None or _aware(t["expires_at"]) <= now}
                               for t in reversed(commands.tokens(app, who, row["user_id"]))]
    actors = commands.actor_names(app, [row["created_by"]])
    return page(request, "account.html", status, who=who, account=row, ended=ended, names=names, tokens=tokens,
                actors=actors, errors=errors or FormErrors(), role_names=ROLE_NAMES, days=TOKEN_DAYS)


def _ended(row: dict, now: datetime) -> bool:
    """Disabled now (a leaver's account carries its leaving date ahead of time, and works until then)."""
    return row["disabled_at"] is not None and _aware(row["disabled_at"]) <= now


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)  # SQLite keeps UTC, naive


def _form(request: Request, who: Principal, values: dict[str, str], errors: FormErrors, status: int = 200
          ) -> Response:
    app = web_of(request).application
    staff = [w for w in commands.staff(app, who) if w.state == "active"]
    return page(request, "account_new.html", status, who=who, values=values, errors=errors, staff=staff,
                roles=[(r.value, ROLE_NAMES.get(r.value, r.value)) for r in Role])
