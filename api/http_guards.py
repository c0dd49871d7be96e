"""What the HTTP service needs behind a reverse proxy, as ASGI middleware installed by `create_app`:

* the client address and scheme come from `X-Forwarded-For` / `X-Forwarded-Proto` only when the direct peer is a
  proxy named in SVL_TRUSTED_PROXIES; otherwise those headers are ignored (`svl serve` turns uvicorn's own
  handling off, which would trust 127.0.0.1);
* a request body larger than SVL_MAX_BODY_BYTES is refused with 413 before anything parses it;
* security headers on every answer (CSP with frame-ancestors, X-Frame-Options, X-Content-Type-Options,
  Referrer-Policy, no caching of API answers, HSTS when the request came over TLS);
* the access log never prints a query string (a credential put there by mistake is refused, and not logged).
"""

import ipaddress
import json
import logging
from collections.abc import Iterable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.config import LOGGING_CONFIG
from uvicorn.logging import AccessFormatter

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
# Swagger UI and ReDoc (FastAPI's /docs and /redoc) load their scripts and styles from a CDN, with inline script.
DOCS_PATHS = ("/docs", "/redoc")
API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
PAGE_CSP = ("default-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
DOCS_CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
            "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; img-src 'self' data: https:; "
            "object-src 'none'; frame-ancestors 'none'; base-uri 'none'")
HSTS = "max-age=31536000; includeSubDomains"


def route_path(scope: Scope) -> str:
    """The path the app routes on: without the prefix a proxy mounts it under (`--root-path`), which servers keep
    in scope["path"]. Checks such as "is this under /api/?" must use this, or a prefix would slip past them."""
    path: str = scope.get("path", "")
    root: str = scope.get("root_path", "") or ""
    if root and (path == root or path.startswith(root + "/")):
        return path[len(root):] or "/"
    return path


def parse_networks(value: str | Iterable[str]) -> tuple[Network, ...]:
    """'10.0.0.5, 192.168.1.0/24' -> networks; an entry that is not an address or network is an error."""
    entries = [e.strip() for e in (value.split(",") if isinstance(value, str) else value) if e.strip()]
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ValueError(f"SVL_TRUSTED_PROXIES: {entry!r} is not an IP address or network") from None
    return tuple(networks)


def _address(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(value.strip().strip("[]"))
    except ValueError:
        return None


class TrustedProxies:
    """Takes the client address from `X-Forwarded-For` only when the direct peer is a trusted proxy: the rightmost
    address not itself a trusted proxy (earlier entries were written by the client and prove nothing)."""

    def __init__(self, app: ASGIApp, trusted: tuple[Network, ...]) -> None:
        self.app = app
        self.trusted = trusted

    def _is_trusted(self, host: str) -> bool:
        address = _address(host)
        return address is not None and any(address in network for network in self.trusted)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and scope.get("client") and self.trusted \
                and self._is_trusted(scope["client"][0]):
            headers = dict(scope["headers"])
            forwarded = headers.get(b"x-forwarded-for", b"").decode("latin-1")
            hops = [h.strip() for h in forwarded.split(",") if h.strip()]
            client = next((h for h in reversed(hops) if not self._is_trusted(h)), hops[0] if hops else None)
            scope = dict(scope)
            if client is not None and _address(client) is not None:
                scope["client"] = (str(_address(client)), 0)
            proto = headers.get(b"x-forwarded-proto", b"").decode("latin-1").split(",")[0].strip().lower()
            if proto in ("http", "https"):
                scope["scheme"] = proto if scope["type"] == "http" else {"http": "ws", "https": "wss"}[proto]
        await self.app(scope, receive, send)


class BodyLimit:
    """413 for a body over the limit: at once from Content-Length, or as soon as a streamed body passes it,
    before the application has parsed (or acted on) any of it."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None:
            try:
                too_large = int(declared) > self.max_bytes
            except ValueError:
                await _json(send, 400, {"detail": "Content-Length is not a number"})
                return
            if too_large:
                await self._refuse(send)
                return
        received = 0
        started = refused = False

        async def counting_receive() -> Message:
            nonlocal received, refused
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes and not refused:
                    # Answer now, and tell the application the client went away: it stops reading and acts on
                    # nothing (whatever it then tries to send is dropped).
                    refused = True
                    if not started:
                        await self._refuse(send)
                    return {"type": "http.disconnect"}
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if refused:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        await self.app(scope, counting_receive, tracking_send)

    async def _refuse(self, send: Send) -> None:
        await _json(send, 413, {"detail": f"the request body is larger than {self.max_bytes} bytes "
                                          "(SVL_MAX_BODY_BYTES)", "field": "body"})


class SecurityHeaders:
    """Adds the security headers to every answer (an endpoint that sets one of them keeps its own)."""

    def __init__(self, app: ASGIApp, form_targets: tuple[str, ...] = ()) -> None:
        self.app = app
        # Signing out through the identity provider is a form whose answer redirects there: form-action must
        # allow its origin, or the browser stops at the redirect.
        self.page_csp = PAGE_CSP + "".join(f" {origin}" for origin in form_targets)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = route_path(scope)
        policy = DOCS_CSP if path.startswith(DOCS_PATHS) else API_CSP if path.startswith("/api/") else self.page_csp
        extra = [(b"content-security-policy", policy), (b"x-content-type-options", "nosniff"),
                 (b"x-frame-options", "DENY"), (b"referrer-policy", "no-referrer")]
        if path.startswith("/api/"):
            extra.append((b"cache-control", "no-store"))  # answers carry personal data: no shared caches
        if scope.get("scheme") == "https":
            extra.append((b"strict-transport-security", HSTS))

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(name, value.encode("latin-1")) for name, value in extra if name not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


async def _json(send: Send, status: int, body: dict[str, Any]) -> None:
    payload = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": payload})


def install_guards(api: Any, *, trusted_proxies: tuple[Network, ...], max_body_bytes: int,
                   form_targets: tuple[str, ...] = ()) -> None:
    """Outermost first: the client's address and scheme (so the rest see them), headers on every answer (refusals
    too), then the body limit. Each add_middleware wraps the ones before it."""
    api.add_middleware(BodyLimit, max_bytes=max_body_bytes)
    api.add_middleware(SecurityHeaders, form_targets=form_targets)
    api.add_middleware(TrustedProxies, trusted=trusted_proxies)


# -- the server's access log ------------------------------------------------------------------------------------

class RedactedAccessFormatter(AccessFormatter):
    """uvicorn's access line without the query string: a token or other credential sent in a URL is refused by
    the API and must not be written to the log either. The path (ids only) is kept."""

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 (logging's name)
        args = record.args
        if isinstance(args, tuple) and len(args) == 5:
            client, method, full_path, version, status = args
            path, separator, _ = str(full_path).partition("?")
            record.args = (client, method, path + ("?[redacted]" if separator else ""), version, status)
        return super().formatMessage(record)


def server_log_config() -> dict[str, Any]:
    """uvicorn's default logging, with the access lines redacted."""
    config = json.loads(json.dumps(LOGGING_CONFIG))
    config["formatters"]["access"]["()"] = f"{__name__}.RedactedAccessFormatter"
    # Who was refused at sign-in, and why (never a code or a token): api/web/provider_sign_in.py.
    config["loggers"]["svl.sign-in"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    return config
