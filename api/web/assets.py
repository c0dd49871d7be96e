"""Browser assets from the npm packages `make setup` installs (package-lock.json): GOV.UK Frontend for the web
interface and Swagger UI for /docs. Served from node_modules, never copied into the repository, never fetched
from the internet at page load."""

import logging
import os
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
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
    api.mount(ASSET_PATH, StaticFiles(directory=GOVUK / "assets", check_dir=False), name="govuk-assets")
    api.mount(GOVUK_PATH, StaticFiles(directory=GOVUK, check_dir=False), name="govuk-frontend")
    api.mount("/web-static", StaticFiles(directory=Path(__file__).parent / "static"), name="web-static")
    api.mount(SWAGGER_PATH, StaticFiles(directory=SWAGGER, check_dir=False), name="swagger-ui")


def serve_offline_docs(api: FastAPI) -> None:
    """FastAPI's own /docs page loads Swagger UI from a public CDN; this one loads it from node_modules."""
    api.router.routes = [r for r in api.router.routes if getattr(r, "path", None) not in ("/docs", "/redoc")]

    @api.get("/docs", include_in_schema=False)
    def docs(request: Request) -> HTMLResponse:
        # Behind a proxy's prefix (`svl serve --root-path /svl`) the browser asks for everything under it.
        prefix = request.scope.get("root_path", "").rstrip("/")
        return get_swagger_ui_html(openapi_url=prefix + (api.openapi_url or "/openapi.json"),
                                   title=f"{api.title} - API",
                                   swagger_js_url=f"{prefix}{SWAGGER_PATH}/swagger-ui-bundle.js",
                                   swagger_css_url=f"{prefix}{SWAGGER_PATH}/swagger-ui.css",
                                   swagger_favicon_url=f"{prefix}{ASSET_PATH}/images/favicon.ico")
