"""Signing in through the organisation's identity provider (OpenID Connect, authorization code flow with PKCE).

"Sign in with …" sends the browser to the provider with a fresh state, nonce and PKCE challenge kept in this
browser's server-side session; the provider sends it back to SVL_PUBLIC_URL/sign-in/provider/callback, where the
state is checked, the code exchanged and the ID token validated (infrastructure/identity_provider.py). The
person's (issuer, subject) must be linked to an account that is not disabled (`svl user link`): nobody is
created by signing in, and every refusal is logged (who and why; never a code or a token)."""

import logging
from dataclasses import asdict

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.web.site import page, redirect, session_of, start_session, web_of
from infrastructure.identity_provider import IdentityProvider, PendingSignIn, ProviderUnavailable, TokenRefused
from infrastructure.users import UserError

router = APIRouter(include_in_schema=False)
log = logging.getLogger("svl.sign-in")


def provider_of(request: Request) -> IdentityProvider | None:
    return getattr(request.app.state, "identity_provider", None)


@router.get("/sign-in/provider")
def start(request: Request) -> Response:
    provider = provider_of(request)
    if provider is None:
        return _refused(request, 404, "Page not found", "This service does not use single sign-on.")
    try:
        pending = provider.begin_sign_in()
    except ProviderUnavailable as down:
        return _unavailable(request, provider, down)
    session = session_of(request)
    session.pending_sign_in = asdict(pending)
    web_of(request).sessions.save(session)  # the provider may send the browser back to another process
    return redirect(pending.url)


@router.get("/sign-in/provider/callback")
def callback(request: Request) -> Response:
    provider = provider_of(request)
    if provider is None:
        return _refused(request, 404, "Page not found", "This service does not use single sign-on.")
    kept = web_of(request).sessions.take_pending_sign_in(session_of(request))  # one use only
    if kept is None:
        log.warning("sign-in refused: an answer from the provider, but this browser started no sign-in "
                    "(or its session ended)")
        return _refused(request, 400, "Your sign-in could not be completed",
                        "This sign-in was not started from this browser, or it took too long.",
                        "Go back to the sign-in page and start again.")
    try:
        signed = provider.finish_sign_in(PendingSignIn(**kept), dict(request.query_params))
    except TokenRefused as why:
        log.warning("sign-in refused: %s", why)
        return _refused(request, 400, "Your sign-in could not be completed", f"{_sentence(str(why))}.",
                        "Go back to the sign-in page and start again. If it happens again, tell your IT service desk.")
    except ProviderUnavailable as down:
        return _unavailable(request, provider, down)
    users = web_of(request).application.people.users
    account = users.find_by_subject(signed.subject)
    if account is None:
        log.warning("sign-in refused: no account is linked to subject %s", signed.subject)
        return _refused(request, 403, "You do not have an account on this service",
                        f"You signed in with {provider.name}, but no account here is linked to you.",
                        "Ask HR to set up your account (they link it to your sign-in). This attempt has been "
                        "recorded.")
    try:
        users.principal(account["user_id"], via="web")
    except UserError:
        log.warning("sign-in refused: account %s is disabled (subject %s)", account["username"], signed.subject)
        return _refused(request, 403, "Your account has been closed",
                        "Your account on this service has been closed, so you cannot sign in.",
                        "If you think this is wrong, ask HR. This attempt has been recorded.")
    start_session(request, account["user_id"], id_token=signed.id_token)
    log.info("signed in: %s through the identity provider", account["username"])
    return redirect("/records")


def sign_out_at_provider(request: Request, id_token: str | None) -> str | None:
    """Where to send the browser after the local session ended: the provider's end-session page, if any."""
    provider = provider_of(request)
    if provider is None or not id_token:
        return None
    return provider.logout_url(id_token)


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def _refused(request: Request, status: int, title: str, message: str, next_step: str = "") -> Response:
    return page(request, "problem.html", status, title=title, message=message, next_step=next_step,
                back_to_sign_in=True)


def _unavailable(request: Request, provider: IdentityProvider, down: ProviderUnavailable) -> Response:
    log.warning("sign-in could not reach the identity provider: %s", down)
    return _refused(request, 503, "Sorry, signing in is not working just now",
                    f"The sign-in service ({provider.name}) is not answering.",
                    "Try again in a few minutes. HR can give you an access token meanwhile.")
