"""The web interface's application: sessions, CSRF, page rendering, and the error pages (403, 404, 409, 410,
503) that say what happened and what to do next. Never a stack trace."""

import logging
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from jinja2 import (BytecodeCache, ChoiceLoader, Environment, FileSystemLoader, PackageLoader, PrefixLoader,
                    select_autoescape)
from jinja2.bccache import Bucket
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.access_service import AccessDenied, AccessLogUnavailable, Via
from api.http_guards import route_path
from api.application import SupervisionApplication
from api.errors import Destroyed, NotFound
import api.web.commands as commands
from api.web.assets import ASSET_PATH, GOVUK_PATH
from api.web.record_form import FormErrors
from domain.errors import DomainError, NotPermitted
from infrastructure.database import database_unavailable
from infrastructure.keys import KeyDestroyed
from infrastructure.ledger import LedgerBehind
from infrastructure.sealed_mapper import EventDestroyed
from infrastructure.users import Principal, UserError
from infrastructure.web_sessions import Session, SessionStore, csrf_matches
from projections.runner import ReadModelStuck

log = logging.getLogger("svl.web")
TEMPLATES = Path(__file__).parent / "templates"
# Pages with content (and every other page and file this app answers with): never kept in a cache.
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
# Templates and redirects name this service's own paths from its root ("/records"); behind a proxy's prefix
# (`svl serve --root-path /svl`) the prefix is put in front of each, here, in one place. Only the markup the
# templates write can match: text from records is escaped, so it holds no `href="`.
LOCAL_LINK = re.compile(r'\b(href|src|action)="/(?!/)')
COOKIE = "svl_session"
CSRF_FIELD = "csrf_token"
RETRY_AFTER_SECONDS = "2"  # as the API's 503s say (api/http.py)


class SignInNeeded(Exception):
    pass


class FormRefused(Exception):
    """A POST without this session's CSRF token."""


class SessionsUnavailable(Exception):
    """The database, where sessions are kept, does not answer: nobody's session can be known (a 503)."""


@dataclass(frozen=True)
class Web:
    application: SupervisionApplication
    sessions: SessionStore
    templates: Environment


def web_of(request: Request) -> Web:
    return request.app.state.web


def session_of(request: Request) -> Session:
    """The visitor's session, read from the database on first use in a request (from a page's thread, not the
    event loop; a page that needs none reads nothing). Someone not signed in has one without a row."""
    session = request.state.session
    if session is not None:
        return session
    web = web_of(request)
    cookie = request.cookies.get(COOKIE)
    try:
        session = web.sessions.find(cookie)
    except Exception as error:
        # The error page shows no one as signed in, and changes no cookie: the browser's session may be alive.
        request.state.session = web.sessions.visitor()
        if database_unavailable(error):
            raise SessionsUnavailable(str(error).splitlines()[0] if str(error) else "") from error
        raise
    if session is None:
        session = web.sessions.visitor(cookie)
        if session.cookie != cookie:
            request.state.set_cookie = session.cookie
    request.state.session = session
    return session


def signed_in(request: Request) -> Principal:
    """The signed-in person, checked again on every request (a disabled account ends its sessions)."""
    session = session_of(request)
    if session.user_id is None:
        raise SignInNeeded()
    web = web_of(request)
    try:
        return _principal(web, session)
    except UserError:
        web.sessions.close_all_for(session.user_id)
        raise SignInNeeded() from None


def _principal(web: Any, session: Session) -> Principal:
    users = web.application.people.users
    if session.account is None:  # a session opened in this request: its account was not read with it
        return users.principal(session.user_id, via="web")
    return users.principal_of(session.account, "web", session.user_id)


def via(request: Request, purpose: str = "") -> Via:
    return Via("web", request.client.host if request.client else "unknown", purpose.strip()[:300])


async def checked_form(request: Request) -> dict[str, str]:
    """The submitted form, refused unless it carries this session's CSRF token."""
    form = await request.form()
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    session = await run_in_threadpool(session_of, request)  # it may be read from the database: not on the loop
    if not csrf_matches(session, fields.get(CSRF_FIELD)):
        raise FormRefused("The form was not sent from this service's own page, or your session has ended. "
                          "Go back, reload the page and try again.")
    return fields


def start_session(request: Request, user_id: str, id_token: str | None = None) -> None:
    """Replaces the visitor's session with a signed-in one under a new id (so a new CSRF token)."""
    web = web_of(request)
    web.sessions.close(request.cookies.get(COOKIE))
    session = web.sessions.open(user_id, id_token=id_token)
    request.state.session, request.state.set_cookie = session, session.cookie


def end_session(request: Request) -> None:
    web_of(request).sessions.close(request.cookies.get(COOKIE))
    request.state.set_cookie = ""


def notice(request: Request, text: str) -> None:
    """A message for the next page, which another process may serve: kept with the session."""
    session = session_of(request)
    session.notices.append(text)
    web_of(request).sessions.save(session)


def page(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    web = web_of(request)
    session = session_of(request)
    who = context.pop("who", None)
    if who is None and session.user_id is not None:
        try:
            who = _principal(web, session)
        except UserError:
            who = None
    notices, session.notices = session.notices, []
    if notices:  # shown once: dropped from the stored session too
        web.sessions.save(session)
    errors = context.get("errors")
    error_list = errors.summary() if isinstance(errors, FormErrors) else list(errors or [])
    html = web.templates.get_template(template).render(
        request=request, who=who, error_list=error_list, csrf_field=CSRF_FIELD, csrf_token=session.csrf, notices=notices,
        assetPath=ASSET_PATH, govuk_path=GOVUK_PATH, path=route_path(request.scope), me=_me(web.application, who,
                                                                                            context),
        **context)
    return HTMLResponse(under_root(request, html), status_code=status)


def root_of(request: Request) -> str:
    return str(request.scope.get("root_path", "") or "").rstrip("/")


def under_root(request: Request, html: str) -> str:
    root = root_of(request)
    return LOCAL_LINK.sub(lambda m: f'{m.group(1)}="{root}/', html) if root else html


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _me(app: SupervisionApplication, who: Principal | None, context: dict[str, Any]) -> str | None:
    """The signed-in person's name for the header, from the names the page already looked up when it has them
    (each name is a worker's sealed events read and decrypted)."""
    if who is None:
        return None
    if not who.worker_id:
        return who.username
    known, name_of = context.get("names"), context.get("name")
    if isinstance(known, dict) and who.worker_id in known:
        return known[who.worker_id]
    if callable(name_of):  # a page's NameBook, which keeps what it read for the rest of the page
        return name_of(who.worker_id)
    return commands.names(app, [who.worker_id]).get(who.worker_id, who.username)


class CompiledTemplates(BytecodeCache):
    """Each template compiled once per process, not once per application: every `create_app` builds its own
    Environment (its globals are that application's), and compiling the pages with GOV.UK Frontend's macros
    takes about 2 s. Jinja keys each entry by the template's name and a checksum of its source."""

    def __init__(self) -> None:
        self._compiled: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        compiled = self._compiled.get(bucket.key)
        if compiled is not None:
            bucket.bytecode_from_string(compiled)

    def dump_bytecode(self, bucket: Bucket) -> None:
        self._compiled[bucket.key] = bucket.bytecode_to_string()


COMPILED = CompiledTemplates()


def templates() -> Environment:
    env = Environment(
        loader=ChoiceLoader([FileSystemLoader(TEMPLATES),
                             PrefixLoader({"govuk_frontend_jinja": PackageLoader("govuk_frontend_jinja")})]),
        autoescape=select_autoescape(("html",)), trim_blocks=True, lstrip_blocks=True,
        auto_reload=False,  # the templates are the installed package's: no stat of each file on every page
        bytecode_cache=COMPILED)
    env.filters["when"] = _when
    env.filters["day"] = _day
    env.globals["str"] = str
    env.filters["words"] = lambda value: str(value or "").replace("_", " ")
    return env


def _when(value: Any) -> str:
    from datetime import datetime

    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    return value.strftime("%-d %B %Y at %H:%M UTC") if value else ""


def _day(value: Any) -> str:
    from datetime import date

    if isinstance(value, str):
        try:
            value = date.fromisoformat(value[:10])
        except ValueError:
            return value
    return value.strftime("%-d %B %Y") if value else ""


# -- the app --------------------------------------------------------------------------------------------------

class SessionAndHeaders:
    """Makes room for the visitor's session, which the page reads when it first needs it (`session_of`, in the
    page's thread: a database read must not hold up the event loop); afterwards sets or deletes its cookie,
    marks the answer no-store and puts a proxy's prefix in front of a local redirect. Plain ASGI rather than
    `@app.middleware("http")`: that one runs each page in a task group with memory streams, a cost on every
    page measured by benchmarks/web.py."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if route_path(scope).startswith("/api/"):  # an API path no API route answers
            await JSONResponse({"detail": "Not Found"}, status_code=404)(scope, receive, send)
            return
        request = Request(scope)
        request.state.set_cookie = None
        request.state.session = None

        async def with_headers(message: dict) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = _answer_headers(request, MutableHeaders(raw=list(message.get("headers", []))))
            await send(message)

        await self.app(scope, receive, with_headers)


def _answer_headers(request: Request, headers: MutableHeaders) -> list[tuple[bytes, bytes]]:
    fresh = request.state.set_cookie
    if fresh is not None:
        cookie = Response()
        if fresh == "":
            cookie.delete_cookie(COOKIE, path="/", secure=request.url.scheme == "https", httponly=True,
                                 samesite="lax")
        else:
            cookie.set_cookie(COOKIE, fresh, path="/", httponly=True, samesite="lax",
                              secure=request.url.scheme == "https")
        for value in cookie.headers.getlist("set-cookie"):
            headers.append("set-cookie", value)
    headers.update(NO_STORE)  # the other security headers: api/http_guards.py, on every answer
    location = headers.get("location", "")
    if location.startswith("/") and not location.startswith("//") and root_of(request):
        headers["location"] = root_of(request) + location
    return headers.raw


def create_site(application: SupervisionApplication, sessions: SessionStore | None = None) -> FastAPI:
    site = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    storage = application.storage
    site.state.web = Web(application, sessions or SessionStore(storage.engine, storage.reads), templates())

    site.add_middleware(SessionAndHeaders)
    _add_error_pages(site)
    return site


def _add_error_pages(site: FastAPI) -> None:
    def problem(status: int, title: str, template: str = "problem.html") -> Callable[[Request, Exception], Response]:
        def handle(request: Request, exc: Exception) -> Response:
            return page(request, template, status, title=title, message=str(exc))
        return handle

    def refused(request: Request, exc: Exception) -> Response:
        # Only a refused read of a file, or a refused step on one, is in the access log (AccessDenied.logged);
        # a refusal by role, by the domain's rule of who takes a step, or of a route, touched no file.
        written = ("The attempt has been written to the access log." if getattr(exc, "logged", False)
                   else "Nothing was shown or changed.")
        return page(request, "problem.html", 403, title="You cannot do this", message=str(exc),
                    next_step=f"If you think you should be able to, ask your manager or HR. {written}")

    def not_found(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 403:  # a rule the API states as an HTTP answer (e.g. api/http_scheduling.py)
            return refused(request, Exception(exc.detail))
        if exc.status_code == 404:
            return page(request, "problem.html", 404, title="Page not found",
                        message="There is no page at this address. If you typed it, check it is correct.")
        if exc.status_code == 405:
            return page(request, "problem.html", 405, title="This page cannot be used like that",
                        message="Go back and use the page's buttons and links.")
        return page(request, "problem.html", exc.status_code, title="Sorry, there is a problem",
                    message=str(exc.detail))

    def unexpected(request: Request, exc: Exception) -> Response:
        reference = uuid.uuid4().hex[:12]
        if database_unavailable(exc):  # an outage, not a bug: one line, no traceback
            log.warning("web page: database unavailable (reference %s): %s", reference,
                        (str(exc).splitlines() or [""])[0])
        else:
            log.error("web page failed (reference %s)", reference, exc_info=exc)
        answer = page(request, "problem.html", 503, title="Sorry, there is a problem with the service",
                      message=f"Nothing was shown or changed. Try again later. Reference: {reference}.")
        answer.headers["Retry-After"] = RETRY_AFTER_SECONDS
        return answer

    def sessions_unavailable(request: Request, exc: Exception) -> Response:
        log.warning("web page: sessions cannot be read, the database is unavailable: %s", exc)
        answer = page(request, "problem.html", 503, title="Sorry, the service is not available just now",
                      message="Nothing was shown or changed.", next_step="Try again in a few minutes.")
        answer.headers["Retry-After"] = RETRY_AFTER_SECONDS
        return answer

    def add(kind: type[Exception], handle: Callable[[Request, Any], Response]) -> None:
        def with_session(request: Request, exc: Exception) -> Response:
            try:  # read here, in the handler's thread, if the page had not: an error page may follow an outage
                session_of(request)
            except Exception:  # noqa: BLE001  (session_of left a stand-in: nobody signed in)
                pass
            return handle(request, exc)
        site.add_exception_handler(kind, with_session)

    site.add_exception_handler(SignInNeeded, lambda request, _: redirect("/sign-in"))
    add(SessionsUnavailable, sessions_unavailable)
    add(FormRefused, problem(403, "This form has expired"))
    add(AccessDenied, refused)
    add(NotPermitted, refused)
    add(NotFound, problem(404, "Not found"))
    add(Destroyed, problem(410, "This record was destroyed", "destroyed.html"))
    add(EventDestroyed, problem(410, "This record was destroyed", "destroyed.html"))
    add(KeyDestroyed, problem(410, "This record was destroyed", "destroyed.html"))
    add(AccessLogUnavailable, problem(503, "Sorry, the record cannot be shown just now"))
    # As the API answers them (503): a read model stuck on an event, a database behind a published checkpoint.
    add(ReadModelStuck, problem(503, "Sorry, this page cannot be shown just now"))
    add(LedgerBehind, problem(503, "Sorry, nothing can be changed just now"))
    add(DomainError, problem(422, "This cannot be done"))
    add(UserError, problem(422, "This cannot be done"))
    add(StarletteHTTPException, not_found)
    add(RequestValidationError, lambda request, _: not_found(
        request, StarletteHTTPException(404)))  # e.g. /records/not-an-id
    add(Exception, unexpected)
