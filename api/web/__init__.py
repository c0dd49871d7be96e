"""The web interface (GOV.UK Design System), served at / beside the API on the same application.

`mount(api)` is the one call api/http.py makes: the browser assets from node_modules, /docs with its assets
served locally, and the pages (api/web/site.py) for every path no route answers, including routes included
after this call (the pages are the router's fallback, not a route).
"""

from fastapi import FastAPI

import api.web.case_record_commands as case_record_commands
import api.web.commands as commands
from api.web import (account_pages, addendum_pages, agreement_pages, case_record_pages, due_pages, grant_pages,
                     ledger_pages, oversight_pages, people_change_pages, people_pages, practice_pages, provider_sign_in,
                     record_pages, retention_pages, sar_pages, session_pages, sign_in)
from api.web.assets import serve_assets, serve_offline_docs
from api.web.site import create_site


def mount(api: FastAPI) -> None:
    serve_offline_docs(api)
    serve_assets(api)
    api.router.default = web_site(api)


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
