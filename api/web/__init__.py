"""The web interface (GOV.UK Design System), served at / beside the API on the same application.

`mount(api)` is the one call api/http.py makes: the browser assets from node_modules, /docs with its assets
served locally, and the pages (api/web/site.py) for every path no route answers, including routes included
after this call (the pages are the router's fallback, not a route).
"""

from typing import Any

from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

import api.web.case_record_commands as case_record_commands
import api.web.commands as commands
from api.web import (account_pages, addendum_pages, agreement_pages, case_record_pages, due_pages, grant_pages,
                     ledger_pages, oversight_pages, people_change_pages, people_pages, practice_pages, provider_sign_in,
                     record_pages, retention_pages, sar_pages, session_pages, sign_in)
from api.web.assets import serve_assets, serve_offline_docs
from api.http_guards import route_path
from api.metrics import route_templates
from api.web.site import create_site


def mount(api: FastAPI) -> None:
    serve_offline_docs(api)
    serve_assets(api)
    api.router.default = web_site(api)
    api.add_middleware(PageDispatch, api=api, site=api.router.default)


class PageDispatch:
    """A path whose first segment begins none of the API's routes ("/records", not "/api/..." or "/docs") goes
    straight to the pages: the API's router would otherwise try each of its routes, then each again with a
    slash added, before falling back to them (a sixth of a records page's time, benchmarks/web.py). Innermost of
    the API's middleware, so the guards, the metrics and the deny-by-default check still see every request."""

    def __init__(self, app: Any, api: FastAPI, site: Any) -> None:
        self.app, self.api, self.site = app, api, site
        self._segments: frozenset[str] | None = None  # read at the first request: every router is included

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and _first_segment(route_path(scope)) not in self._api_segments():
            await self.site(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _api_segments(self) -> frozenset[str]:
        if self._segments is None:
            segments = frozenset(_first_segment(t) for t in route_templates(self.api))
            # A route beginning with a parameter could answer any path: then every path is routed as before.
            self._segments = segments if not any(s.startswith("{") for s in segments) else _EVERY
        return self._segments


class _Every(frozenset):
    def __contains__(self, item: object) -> bool:
        return True


_EVERY = _Every()


def _first_segment(path: str) -> str:
    return path.lstrip("/").split("/", 1)[0]


def web_site(api: FastAPI) -> FastAPI:
    """The shared middleware and error pages (api/web/site.py), then each area's pages. Composed here, so that
    the page modules may use site.py's helpers without site.py importing them back."""
    site = create_site(api.state.application)
    site.state.identity_provider = getattr(api.state, "identity_provider", None)
    site.add_exception_handler(commands.Stale, record_pages.conflict_page)  # type: ignore[arg-type]
    # Case supervision records' pages are linked only where the pack keeps them apart (bcp, bury).
    site.state.web.templates.globals["case_records_kept"] = case_record_commands.case_class(api.state.application) is not None
    for pages in (sign_in, provider_sign_in, record_pages, due_pages, people_pages, people_change_pages, grant_pages,
                  oversight_pages, account_pages, ledger_pages, sar_pages, case_record_pages, retention_pages):
        site.include_router(pages.router)
    # supervision: sessions, agreements, addenda, a worker's practice
    for pages in (addendum_pages, session_pages, agreement_pages, practice_pages):
        site.include_router(pages.router)
    return site
