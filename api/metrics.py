"""Prometheus metrics at `/metrics`, for whoever holds SVL_METRICS_TOKEN (refused to everyone without one).

Labels carry route templates (`/api/v1/records/{record_id}`), methods, status codes and read-model names only:
never a path as requested, an id, a name or anything a record says. Request counts and durations are counted by
each process; with several workers (`svl serve --workers N`) prometheus-client's multi-process mode adds them up
from the files in PROMETHEUS_MULTIPROC_DIR, which `svl serve` sets before the workers start. Positions, lag and
the checkpoint's age are read from the database when scraped, so any process gives the same answer.
"""

import hmac
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.http_guards import route_path
from api.readiness import readiness

OURS = CollectorRegistry(auto_describe=True)
REQUESTS = Counter("svl_http_requests", "HTTP requests answered", ["method", "route", "status"], registry=OURS)
DURATION = Histogram("svl_http_request_duration_seconds", "Time to answer an HTTP request", ["method", "route"],
                     registry=OURS, buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
LEADING = Gauge("svl_projection_leader", "1 in the process that projects the read models and signs checkpoints",
                registry=OURS, multiprocess_mode="livesum")
UNMATCHED = "unmatched"


class RequestMetrics:
    """Outermost middleware: counts every answer, refusals before routing included, under its route template."""

    def __init__(self, app: ASGIApp, templates: list[str]) -> None:
        self.app = app
        self._compiled: list[tuple[re.Pattern[str], str]] = [(compile_path(t)[0], t) for t in templates]
        self._by_route: dict[int, str] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        started = time.perf_counter()

        async def counting_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, counting_send)
        finally:
            route, method = self._template(scope), scope.get("method", "")
            REQUESTS.labels(method, route, str(status)).inc()
            DURATION.labels(method, route).observe(time.perf_counter() - started)

    def _template(self, scope: Scope) -> str:
        """The documented path template the request matched, with its router's prefix (a route object knows only
        its own part); for a request refused before routing (401, 413), the one it would have matched."""
        route = scope.get("route")
        if route is not None and id(route) in self._by_route:
            return self._by_route[id(route)]
        path = route_path(scope)
        template = next((t for pattern, t in self._compiled if pattern.match(path)), None)
        if template is None:
            template = getattr(route, "path", None) or UNMATCHED
        if route is not None:
            self._by_route[id(route)] = template
        return template


def route_templates(app: Any) -> list[str]:
    """Every route's full path template, routers' prefixes included, in the order the router tries them. Read
    once when the app is built: FastAPI's own per-route objects carry only their router's part.

    Worked out from each included router's prefix and its routes' own paths, not from FastAPI's route contexts
    (`fastapi.routing.iter_route_contexts`), which give the same list but build every route's request handling
    (its models and dependencies) for this app to do it: half a second or more per `create_app`, which FastAPI
    otherwise does only for a router a request reaches. tests/test_watching.py checks the two lists agree."""
    templates: list[str] = []
    _add_templates(app.routes, "", templates, included=False)
    return templates


def _add_templates(routes: Any, prefix: str, templates: list[str], *, included: bool) -> None:
    for route in routes:
        inclusion = getattr(route, "include_context", None)
        if inclusion is not None and hasattr(route, "original_router"):  # an included router
            _add_templates(route.original_router.routes, prefix + inclusion.prefix, templates, included=True)
            continue
        path = getattr(route, "path", None)
        if not included:
            template = getattr(route, "path_format", None) or path
        elif path is None:
            template = None
        elif isinstance(route, Mount):  # as FastAPI mounts one inside an included router
            template = compile_path((prefix + path).rstrip("/") + "/{path:path}")[1]
        else:
            template = compile_path(prefix + path)[1]
        if template and template not in templates:
            templates.append(template)


class DatabaseFacts:
    """Read from the database at each scrape: the same figures as /ready."""

    def __init__(self, application: Any) -> None:
        self.application = application

    def collect(self) -> Iterator[Metric]:
        ready, report = readiness(self.application)
        yield GaugeMetricFamily("svl_ready", "1 when the database answers and no read model is stuck",
                                value=1 if ready else 0)
        if "events" not in report:
            return
        yield GaugeMetricFamily("svl_events", "Newest event (notification id) in the store", value=report["events"])
        position = GaugeMetricFamily("svl_read_model_position", "Last event projected", labels=["read_model"])
        lag = GaugeMetricFamily("svl_read_model_lag_events", "Events not yet projected", labels=["read_model"])
        stuck = GaugeMetricFamily("svl_read_model_stuck", "1 while the read model is stuck", labels=["read_model"])
        for m in report["read_models"]:
            position.add_metric([m["name"]], m["position"])
            lag.add_metric([m["name"]], m["lag"])
            stuck.add_metric([m["name"]], 0 if m["stuck_at"] is None else 1)
        yield from (position, lag, stuck)
        checkpoint = report["checkpoint"]
        if checkpoint is not None:
            if checkpoint["age_seconds"] is not None:
                yield GaugeMetricFamily("svl_checkpoint_age_seconds", "Age of the newest signed checkpoint",
                                        value=checkpoint["age_seconds"])
            yield GaugeMetricFamily("svl_unsigned_leaves", "Ledger leaves after the newest signed checkpoint",
                                    value=checkpoint["unsigned_leaves"])


class _Ours:
    def collect(self) -> Iterator[Metric]:
        yield from OURS.collect()


def _forget_dead_processes(directory: Path) -> None:
    """A worker killed outright leaves its live-gauge file behind; its leader flag must not count any more."""
    for path in directory.glob("gauge_live*_*.db"):
        pid = int(path.stem.rsplit("_", 1)[1])
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            mark_process_dead(pid, str(directory))
        except PermissionError:
            pass


def metrics_endpoint(application: Any, token: str) -> Any:
    if application.read_models.leadership is not None:
        application.read_models.leadership.on_change.append(lambda held: LEADING.set(1 if held else 0))
    LEADING.set(1 if application.read_models.projects_here() else 0)

    def endpoint(request: Request) -> Response:
        if not token:
            return JSONResponse({"detail": "metrics are off: set SVL_METRICS_TOKEN to a secret of 32 characters or "
                                           "more, and scrape with it as a bearer token"}, status_code=403)
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
            return JSONResponse({"detail": "the metrics token (SVL_METRICS_TOKEN) is required as a bearer token"},
                                status_code=401, headers={"WWW-Authenticate": "Bearer"})
        registry = CollectorRegistry(auto_describe=False)
        directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        if directory:
            _forget_dead_processes(Path(directory))
            MultiProcessCollector(registry, path=directory)
        else:
            registry.register(_Ours())  # type: ignore[arg-type]
        registry.register(DatabaseFacts(application))  # type: ignore[arg-type]
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return endpoint
