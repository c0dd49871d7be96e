"""Browser assets from the npm packages `make setup` installs (package-lock.json): GOV.UK Frontend for the web
interface and Swagger UI for /docs. Served from node_modules, never copied into the repository, never fetched
from the internet at page load."""

import html
import logging
import os
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

log = logging.getLogger(__name__)

NODE_MODULES = Path(os.environ.get("SVL_NODE_MODULES", Path(__file__).resolve().parents[2] / "node_modules"))
GOVUK = NODE_MODULES / "govuk-frontend" / "dist" / "govuk"
SWAGGER = NODE_MODULES / "swagger-ui-dist"
# GOV.UK Frontend's stylesheet looks for its fonts and images under /assets.
ASSET_PATH = "/assets"
GOVUK_PATH = "/govuk-frontend"
SWAGGER_PATH = "/swagger-ui"


def serve_assets(api: FastAPI) -> None:
    missing = [str(p) for p in (GOVUK, SWAGGER) if not p.is_dir()]
    if missing:
        log.warning("browser assets missing (%s): run `make setup` (npm ci); pages will be unstyled",
                    ", ".join(missing))
    stylesheet = GOVUK / "govuk-frontend.min.css"

    @api.get(f"{GOVUK_PATH}/govuk-frontend.min.css", include_in_schema=False)
    def govuk_stylesheet() -> Response:
        # The stylesheet names its fonts and images from the site's root (url(/assets/...)); relative to the
        # stylesheet they are found under a proxy's prefix too (`svl serve --root-path /svl`).
        if not stylesheet.is_file():
            return Response(status_code=404)
        css = stylesheet.read_text(encoding="utf-8").replace(f"url({ASSET_PATH}/", f"url(..{ASSET_PATH}/")
        return Response(css, media_type="text/css")

    api.mount(ASSET_PATH, StaticFiles(directory=GOVUK / "assets", check_dir=False), name="govuk-assets")
    api.mount(GOVUK_PATH, StaticFiles(directory=GOVUK, check_dir=False), name="govuk-frontend")
    api.mount("/web-static", StaticFiles(directory=Path(__file__).parent / "static"), name="web-static")
    api.mount(SWAGGER_PATH, StaticFiles(directory=SWAGGER, check_dir=False), name="swagger-ui")


def serve_offline_docs(api: FastAPI) -> None:
    """FastAPI's own /docs page loads Swagger UI from a public CDN and starts it with an inline script; this one
    loads it from node_modules and starts it from /web-static/docs.js, so its Content-Security-Policy can allow
    scripts and styles from this server only (api/http_guards.py)."""
    api.router.routes = [r for r in api.router.routes if getattr(r, "path", None) not in ("/docs", "/redoc")]

    @api.get("/docs", include_in_schema=False)
    def docs(request: Request) -> HTMLResponse:
        # Behind a proxy's prefix (`svl serve --root-path /svl`) the browser asks for everything under it.
        prefix = html.escape(request.scope.get("root_path", "").rstrip("/"))
        openapi = prefix + html.escape(api.openapi_url or "/openapi.json")
        return HTMLResponse(f"""<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>{html.escape(api.title)} - API</title>
  <link rel="stylesheet" href="{prefix}{SWAGGER_PATH}/swagger-ui.css">
  <link rel="icon" href="{prefix}{ASSET_PATH}/images/favicon.ico">
</head>
<body>
  <div id="swagger-ui" data-openapi-url="{openapi}"></div>
  <script src="{prefix}{SWAGGER_PATH}/swagger-ui-bundle.js"></script>
  <script src="{prefix}/web-static/docs.js"></script>
</body>
</html>
""")
