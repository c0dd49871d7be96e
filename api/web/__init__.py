"""The web interface (GOV.UK Design System), served at / beside the API on the same application.

`mount(api)` is the one call api/http.py makes: the browser assets from node_modules, /docs with its assets
served locally, and the pages (api/web/site.py) for every path no route answers, including routes included
after this call (the pages are the router's fallback, not a route).
"""

from fastapi import FastAPI

from api.web.assets import serve_assets, serve_offline_docs
from api.web.site import create_site


def mount(api: FastAPI) -> None:
    serve_offline_docs(api)
    serve_assets(api)
    api.router.default = create_site(api.state.ledger)
