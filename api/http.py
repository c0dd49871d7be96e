"""The HTTP API (FastAPI), versioned under /api/v1, deny by default.

Every request under /api/ is authenticated (our bearer tokens, or the identity provider's JWTs) and then
checked against the roles its endpoint declares (`allow(...)` in api/http_support.py, shown in the OpenAPI
document as `x-allowed-roles`). An endpoint that declares no roles is refused to everyone, however its router
was included. Errors map to 4xx answers that name the problem; the only 5xx is 503, for an outage (the
access log or the database unavailable), and it never comes with content.
"""

import logging
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import anyio
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from api import (http_access, http_allocation, http_case_records, http_practice, http_records, http_retention,
                 http_scheduling, http_workers)
from api.access_service import AccessDenied, AccessLogUnavailable
from api.application import Storage, SupervisionApplication, one_look_at_the_newest, utc_now
from api.errors import Conflict, Destroyed, NotFound
from api.health import health_report
from api.metrics import RequestMetrics, metrics_endpoint, route_templates
from api.readiness import readiness
from api.http_guards import install_guards, parse_networks, route_path
from api.http_models import HealthOut
from api.http_ledger import router as ledger_router
from api.route_refusals import log_route_refusal
from api.web import mount as mount_web
from api.http_support import API_PREFIX, PRINCIPAL_KEY, PUBLIC_KEY, ROLES_KEY
from domain.authorisation import ALL_ROLES
from domain.errors import DomainError, InvalidContent, NotPermitted, OutOfOrder, StaleVersion
from infrastructure.database import database_unavailable
from infrastructure.keys import KeyDestroyed
from infrastructure.ledger import LedgerBehind
from infrastructure.policy_packs import PolicyPackError
from infrastructure.sealed_mapper import EventDestroyed
from infrastructure.settings import Settings
from infrastructure.users import (AuthenticationUnavailable, Authenticator, Principal, TokenAuthenticator,
                                  UserError)
from projections.runner import ReadModelLagging, ReadModelStuck

log = logging.getLogger("svl.http")

# Roles for routes of other areas that carry no `allow(...)` of their own: ledger checkpoints and proofs
# hold hashes only, never content, so any authenticated user may fetch them.
PUBLIC_PATHS = {f"{API_PREFIX}/health"}
DECLARED_BY_PREFIX: dict[str, list[str]] = {
    f"{API_PREFIX}/ledger/": sorted(r.value for r in ALL_ROLES),
}


def create_app(settings: Settings | None = None, master_key: bytes | None = None, *,
               clock: Callable[[], datetime] = utc_now, authenticator: Authenticator | None = None,
               log_reads: bool = True, background_projections: bool = False) -> FastAPI:
    """`log_reads=False` exists for benchmarks/api.py only, to measure what the access log costs.
    `background_projections=True` (as `svl serve` runs) projects in batches off the request path."""
    settings = settings or Settings.from_env()
    application = SupervisionApplication(Storage.open(settings, master_key), clock,
                                         background_projections=background_projections)
    application.access.log_reads = log_reads
    provider = identity_provider(settings, clock)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        if provider is not None:
            provider.close()
        application.close()
        application.storage.engine.dispose()

    api = FastAPI(title="Supervision Ledger", version="1.0.0", dependencies=[Depends(authorise_route)],
                  lifespan=lifespan,
                  description="Event-sourced, audit-first supervision records. Every endpoint under /api/v1 "
                              "needs a bearer token and states who may call it; every read of record content "
                              "is written to the access log before it is returned.")
    api.state.application = application
    api.state.identity_provider = provider
    for router in (http_workers.router, http_allocation.router, http_records.router, http_access.router,
                   http_retention.router):
        api.include_router(router, prefix=API_PREFIX)
    # Other areas include their routers here, e.g. api.include_router(ledger_router, prefix=API_PREFIX).
    api.include_router(ledger_router, prefix=API_PREFIX)
    api.include_router(http_scheduling.router)  # carries /api/v1 itself
    api.include_router(http_practice.router)  # carries /api/v1 itself
    api.include_router(http_case_records.router)  # carries /api/v1 itself

    @api.get("/ready", tags=["health"], openapi_extra={PUBLIC_KEY: True})
    def ready() -> JSONResponse:
        """Open to all (for load balancers): 200 when this process can serve (the database answers, no read model
        is stuck), else 503; each read model's lag behind the newest event, the newest checkpoint's age, which
        witnesses cosigned it, and whether this process projects. Positions and counts only."""
        is_ready, report = readiness(application)
        return JSONResponse(report, status_code=200 if is_ready else 503,
                            headers=None if is_ready else {"Retry-After": RETRY_AFTER_SECONDS})

    api.add_route("/metrics", metrics_endpoint(application, settings.metrics_token), include_in_schema=False)

    @api.get("/health", tags=["health"], response_model=HealthOut, openapi_extra={PUBLIC_KEY: True})
    @api.get(f"{API_PREFIX}/health", tags=["health"], response_model=HealthOut, openapi_extra={PUBLIC_KEY: True})
    def health() -> HealthOut:
        """Open to all: no data, just whether the service and its database answer, the schema version, and
        each read model's position — a stuck one named with the event it failed on and the error."""
        return health_report(application)

    add_error_handlers(api)
    _document_bearer_auth(api)
    mount_web(api)  # the web interface at /, beside the API (api/web/)
    api.add_middleware(DenyByDefault, authenticator=authenticator or bearer_authenticator(application, provider))
    install_guards(api, trusted_proxies=parse_networks(settings.trusted_proxies),
                   max_body_bytes=settings.max_body_bytes,
                   form_targets=(provider.origin,) if provider is not None else ())
    api.add_middleware(RequestMetrics, templates=route_templates(api))
    return api


def served_app() -> FastAPI:
    """What each `svl serve --workers N` process runs (uvicorn imports it by name in every worker)."""
    return create_app(Settings.from_env(), background_projections=True)


# -- authentication and the roles an endpoint declares ------------------------------------------------------

def identity_provider(settings: Settings, clock: Callable[[], datetime]) -> Any:
    """The organisation's OpenID Connect provider, when SVL_OIDC_ISSUER names one (it is asked nothing until
    the first sign-in or bearer JWT, so the service starts while the provider is down)."""
    if settings.oidc is None:
        return None
    from infrastructure.identity_provider import IdentityProvider

    return IdentityProvider(settings.oidc, clock)


def bearer_authenticator(application: SupervisionApplication, provider: Any) -> Authenticator:
    ours = TokenAuthenticator(application.storage.engine, application.clock)
    if provider is None or not provider.settings.audience:
        return ours
    from infrastructure.provider_tokens import OurTokensThenProvider, ProviderTokenAuthenticator

    return OurTokensThenProvider(ours, ProviderTokenAuthenticator(provider, application.people.users))


class DenyByDefault:
    """Authenticates every /api/ request before any routing or parsing (401 without a valid token), and is the
    last line against a 500: anything unexpected becomes a logged 503, never with content."""

    def __init__(self, app: ASGIApp, authenticator: Authenticator) -> None:
        self.app = app
        self.authenticator = authenticator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: dict) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            # One request: one look at the newest event, and one connection for its reads (the token's among them).
            with one_look_at_the_newest():
                refusal = await self._refusal(scope)
                if refusal is not None:
                    await refusal(scope, receive, send)
                    return
                await self.app(scope, receive, tracking_send)
        except Exception as error:
            reference = uuid.uuid4().hex[:12]
            if database_unavailable(error):  # an outage, not a bug: one line, no traceback
                log.warning("database unavailable (reference %s): %s", reference, (str(error).splitlines() or [""])[0])
            else:
                log.exception("request failed (reference %s)", reference)
            if not started:
                await _error(503, f"the service could not complete this request (reference {reference}); "
                                  "nothing was served; try again later")(scope, receive, send)

    async def _refusal(self, scope: Scope) -> JSONResponse | None:
        path = route_path(scope)  # without a proxy's prefix (--root-path), which must not slip past this check
        if not path.startswith("/api/") or path in PUBLIC_PATHS:
            return None
        try:
            principal = await self._authenticate(scope)
        except AuthenticationUnavailable as down:
            log.warning("%s", down)
            return _error(503, f"{down}; try again later")
        if principal is None:
            return _error(401, "a valid bearer token is required (svl token issue)",
                          {"WWW-Authenticate": "Bearer"})
        scope[PRINCIPAL_KEY] = principal
        return None

    async def _authenticate(self, scope: Scope) -> Principal | None:
        header = dict(scope["headers"]).get(b"authorization", b"").decode("latin-1")
        scheme, _, credential = header.partition(" ")
        if scheme.lower() != "bearer" or not credential.strip():
            return None
        try:
            return await anyio.to_thread.run_sync(self.authenticator.authenticate, credential.strip())
        except UserError:
            return None


async def authorise_route(request: Request) -> None:
    """Applied to every route of the app, however its router was included: the caller's role must be one the
    endpoint declares. No declaration, no access. On the event loop (the check reads only the request); a refusal
    is logged in a worker thread, as it writes to the access log."""
    route = request.scope.get("route")
    extra = getattr(route, "openapi_extra", None) or {}
    path = route_path(request.scope)
    if extra.get(PUBLIC_KEY) or not path.startswith("/api/"):
        return
    principal: Principal | None = request.scope.get(PRINCIPAL_KEY)
    if principal is None:
        raise HTTPException(401, "a valid bearer token is required", headers={"WWW-Authenticate": "Bearer"})
    roles = _declared_roles(route, path)
    if roles is None:
        await anyio.to_thread.run_sync(log_route_refusal, request, principal, ())
        raise HTTPException(403, "this endpoint declares no roles, so it is refused to everyone (deny by default)")
    if principal.role.value not in roles:
        await anyio.to_thread.run_sync(log_route_refusal, request, principal, roles)
        raise HTTPException(403, f"a {principal.role.value} may not call this endpoint; it is for: {', '.join(roles)}")


def _declared_roles(route: Any, path: str) -> list[str] | None:
    extra = getattr(route, "openapi_extra", None) or {}
    if ROLES_KEY in extra:
        return list(extra[ROLES_KEY])
    for prefix, roles in DECLARED_BY_PREFIX.items():
        if path.startswith(prefix):
            return roles
    return None


def _document_bearer_auth(api: FastAPI) -> None:
    """Every operation under /api/ except the public ones needs the bearer token, whoever wrote its router."""
    generate = api.openapi

    def openapi() -> dict[str, Any]:
        if api.openapi_schema:
            return api.openapi_schema
        schema = generate()
        schema.setdefault("components", {}).setdefault("securitySchemes", {})["bearer"] = {
            "type": "http", "scheme": "bearer",
            "description": "A token from `svl token issue` (or printed by `svl demo`)."}
        for path, operations in schema.get("paths", {}).items():
            for operation in operations.values():
                if path.startswith("/api/") and not operation.get(PUBLIC_KEY):
                    operation["security"] = [{"bearer": []}]
        return schema

    api.openapi = openapi  # type: ignore[method-assign]


# -- errors -------------------------------------------------------------------------------------------------

RETRY_AFTER_SECONDS = "2"


def _error(status: int, detail: str, headers: dict[str, str] | None = None, **extra: Any) -> JSONResponse:
    body = {"detail": detail, **{k: v for k, v in extra.items() if v is not None}}
    if status == 503:  # an outage: say when to come back
        headers = {"Retry-After": RETRY_AFTER_SECONDS, **(headers or {})}
    return JSONResponse(body, status_code=status, headers=headers)


def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
    errors = exc.errors()
    first = errors[0] if errors else {}
    field = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or None
    message = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}" for e in errors[:5])
    return _error(422, message or "invalid request", field=field)


def _conflict(_: Request, exc: Conflict) -> JSONResponse:
    return _error(409, str(exc), current_version=exc.current_version,
                  current_content_version=getattr(exc, "current_content_version", None),
                  current_content_sha256=getattr(exc, "current_content_sha256", None))


def add_error_handlers(api: FastAPI) -> None:
    handlers: list[tuple[type[Exception], Callable[[Request, Any], JSONResponse]]] = [
        (RequestValidationError, _validation),
        (AccessDenied, lambda _, e: _error(403, str(e), refusal=e.decision.refusal.value if e.decision.refusal
                                            else None)),
        (AccessLogUnavailable, lambda _, e: _error(503, str(e))),
        (ReadModelStuck, lambda _, e: _error(503, str(e), read_model=e.state.name)),
        (ReadModelLagging, lambda _, e: _error(503, str(e), read_model=", ".join(s.name for s in e.lagging))),
        (LedgerBehind, lambda _, e: _error(503, str(e))),
        (Destroyed, lambda _, e: _error(410, str(e))),
        (NotFound, lambda _, e: _error(404, str(e))),
        (Conflict, _conflict),
        (NotPermitted, lambda _, e: _error(403, str(e))),
        (StaleVersion, lambda _, e: _error(409, str(e))),
        (OutOfOrder, lambda _, e: _error(409, str(e))),
        (InvalidContent, lambda _, e: _error(422, str(e), field="content")),
        (UserError, lambda _, e: _error(422, str(e))),
        (PolicyPackError, lambda _, e: _error(422, str(e), field="pack")),
        (EventDestroyed, lambda _, e: _error(410, f"destroyed under a retention rule: {e}")),
        (KeyDestroyed, lambda _, e: _error(410, f"destroyed under a retention rule: {e}")),
        (DomainError, lambda _, e: _error(422, str(e), field=getattr(e, "field", None))),
    ]
    for exc_class, handler in handlers:
        api.add_exception_handler(exc_class, handler)
