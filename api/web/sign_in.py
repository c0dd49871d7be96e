"""Signing in and out: through the organisation's identity provider when one is configured
(api/web/provider_sign_in.py), or with an access token from `svl token issue` (the same check as the API's).
With the demo loaded, and only then, the page lists the demo users to sign in as with one click: the server
opens a session for that user; no token is ever put in the page."""

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from api.demo import DEMO_USERS
from api.demo_cast import HR
from api.web.provider_sign_in import provider_of, sign_out_at_provider
from api.web.site import checked_form, end_session, page, redirect, session_of, start_session, web_of
from infrastructure.users import TokenAuthenticator

router = APIRouter(include_in_schema=False)


def demo_people(request: Request) -> list[dict]:
    """The demo users, if `svl demo` created them (each made by the demo loader); otherwise none."""
    app = web_of(request).application
    made_by_demo = {u["username"]: u for u in app.people.users.list_users()
                    if u["created_by"] == HR.actor and u["disabled_at"] is None}
    if "hr" not in made_by_demo:
        return []
    # Those the demo made: a demo loaded by an earlier version has no account for a member of staff added since.
    return [{"username": username, "role": role, "name": name or username}
            for username, role, name, _ in DEMO_USERS if username in made_by_demo]


@router.get("/")
def home(request: Request) -> Response:
    return redirect("/records" if session_of(request).user_id else "/sign-in")


@router.get("/sign-in")
def sign_in_page(request: Request) -> Response:
    if session_of(request).user_id:
        return redirect("/records")
    return sign_in_form(request, 200, [])


def sign_in_form(request: Request, status: int, errors: list[dict]) -> Response:
    return page(request, "sign_in.html", status, demo=demo_people(request), provider=provider_of(request),
                errors=errors)


@router.post("/sign-in/demo")
def sign_in_demo(request: Request, form: dict[str, str] = Depends(checked_form)) -> Response:
    known = {p["username"] for p in demo_people(request)}
    username = form.get("username", "")
    if username not in known:
        return sign_in_form(request, 422, [{"text": "Choose one of the demo users listed", "href": "#demo-users"}])
    user = web_of(request).application.people.users.require(username)
    start_session(request, user["user_id"])
    return redirect("/records")


@router.post("/sign-in/token")
def sign_in_token(request: Request, form: dict[str, str] = Depends(checked_form)) -> Response:
    app = web_of(request).application
    principal = TokenAuthenticator(app.storage.engine, app.clock).authenticate(form.get("token", "").strip())
    if principal is None:
        return sign_in_form(request, 422, [{"text": "Enter a valid access token: it may have expired or been revoked",
                                            "href": "#token"}])
    start_session(request, principal.user_id)
    return redirect("/records")


@router.post("/sign-out")
def sign_out(request: Request, form: dict[str, str] = Depends(checked_form)) -> Response:
    id_token = session_of(request).id_token
    end_session(request)
    return redirect(sign_out_at_provider(request, id_token) or "/signed-out")


@router.get("/signed-out")
def signed_out(request: Request) -> Response:
    return page(request, "signed_out.html")
