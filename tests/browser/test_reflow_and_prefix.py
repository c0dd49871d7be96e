"""Pages that reflow at 320 px (WCAG 1.4.10: a wide table scrolls in its own labelled, focusable region, the page
never sideways); the service behind a proxy that mounts it under /svl (`svl serve --root-path /svl`), clicked
through in the browser, every link, form, redirect and asset under the prefix; and /docs working from this server
alone, under a policy that allows scripts and styles from 'self' only."""

import http.client
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest

from tests.browser.conftest import LIFETIME_SECONDS, ROOT, SERVER, Site, _wait_until_it_answers
from tests.browser.pages import html, sign_in, sign_out
from tests.support.ports import free_port

PREFIX = "/svl"
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


def test_the_supervision_due_table_scrolls_in_its_own_region_at_320_px(browser, site: Site) -> None:  # noqa: ANN001
    ctx = browser.new_context(viewport={"width": 320, "height": 900}, java_script_enabled=site.backend == "sqlite")
    page = ctx.new_page()
    try:
        sign_in(page, site, "priya")
        for path in ("/due", "/supervisees", "/records", "/due/frequency"):
            page.goto(site.url(path))
            assert page.evaluate("document.documentElement.scrollWidth") <= 320, path
        page.goto(site.url("/due"))
        region = page.get_by_role("region", name="Supervision due, most urgent first")
        assert region.get_attribute("tabindex") == "0"
        assert region.evaluate("e => e.scrollWidth > e.clientWidth")  # the table is wider: it scrolls here
        region.focus()
        # A keyboard user scrolls it. The browser may animate the scroll, or take the first key press before the
        # region's layout settles on a loaded machine: press again until it has moved, as a person would.
        for _ in range(20):
            page.keyboard.press("ArrowRight")
            if region.evaluate("e => e.scrollLeft") > 0:
                break
            page.wait_for_timeout(100)
        assert region.evaluate("e => e.scrollLeft") > 0
        assert page.evaluate("document.activeElement.getAttribute('role')") == "region"
    finally:
        ctx.close()


class _StripPrefix(BaseHTTPRequestHandler):
    """A reverse proxy as nginx's `location /svl/ { proxy_pass http://app/; }`: strips the prefix, passes the rest."""

    upstream: tuple[str, int]

    def _forward(self) -> None:
        if not (self.path == PREFIX or self.path.startswith(PREFIX + "/")):
            self.send_error(404, "not under the proxy's prefix")
            return
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        upstream = http.client.HTTPConnection(*self.upstream, timeout=120)
        upstream.request(self.command, self.path[len(PREFIX):] or "/", body=body or None,
                         headers={k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP})
        answer = upstream.getresponse()
        data = answer.read()
        self.send_response(answer.status)
        for name, value in answer.getheaders():
            if name.lower() not in HOP_BY_HOP:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        upstream.close()

    do_GET = do_POST = do_HEAD = _forward

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def prefixed(site: Site) -> Iterator[str]:
    """A second `svl serve --root-path /svl` on the same database, behind the stripping proxy: its base URL."""
    port = free_port()
    server = SERVER.replace('"--port", sys.argv[1]', f'"--port", sys.argv[1], "--root-path", "{PREFIX}"')
    process = subprocess.Popen([sys.executable, "-c", server, str(port), str(LIFETIME_SECONDS)], cwd=ROOT,
                               env=site.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    proxy = None
    try:
        _wait_until_it_answers(process, f"http://127.0.0.1:{port}")
        handler = type("Proxy", (_StripPrefix,), {"upstream": ("127.0.0.1", port)})
        proxy = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=proxy.serve_forever, daemon=True).start()
        yield f"http://127.0.0.1:{proxy.server_address[1]}"
    finally:
        if proxy is not None:
            proxy.shutdown()
            proxy.server_close()
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def _local_addresses(page) -> list[str]:  # noqa: ANN001
    return page.evaluate("""() => [...document.querySelectorAll('[href],[src],[action]')]
        .map(e => e.getAttribute('href') || e.getAttribute('src') || e.getAttribute('action'))
        .filter(a => a.startsWith('/'))""")


def test_under_a_proxys_prefix_every_link_form_redirect_and_asset_stays_under_it(browser, site: Site,  # noqa: ANN001
                                                                                prefixed: str) -> None:
    js = site.backend == "sqlite"
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, java_script_enabled=js)
    page = ctx.new_page()
    answers: list[tuple[str, int]] = []
    page.on("response", lambda r: answers.append((urlsplit(r.url).path, r.status)))
    try:
        page.goto(f"{prefixed}{PREFIX}/")
        assert page.url == f"{prefixed}{PREFIX}/sign-in"  # the redirect kept the prefix
        page.click('button[data-username="hr"]')
        page.wait_for_url(f"{prefixed}{PREFIX}/records")
        for name in ("Staff", "Accounts", "Grants", "Ledger", "Supervision due"):
            page.get_by_role("link", name=name, exact=True).click()
            assert page.url.startswith(f"{prefixed}{PREFIX}/"), (name, page.url)
            outside = [a for a in _local_addresses(page) if not a.startswith(PREFIX + "/")]
            assert not outside, (name, outside)
        page.get_by_role("link", name="Ledger", exact=True).click()
        page.get_by_role("button", name="Verify the ledger now").click()  # a form, and its redirect
        assert page.url == f"{prefixed}{PREFIX}/ledger#verification" and "Intact" in html(page)
        sign_out(page)
        assert page.url == f"{prefixed}{PREFIX}/signed-out"
        if js:
            assert page.evaluate("document.body.classList.contains('govuk-frontend-supported')")

        page.goto(f"{prefixed}{PREFIX}/docs")
        if js:
            page.wait_for_selector(".opblock")  # Swagger UI ran, from this server, under the prefix
    finally:
        ctx.close()
    failed = [(path, status) for path, status in answers if status >= 400]
    assert not failed, failed
    assets = {path for path, status in answers if status == 200}
    assert f"{PREFIX}/govuk-frontend/govuk-frontend.min.css" in assets and f"{PREFIX}/web-static/site.css" in assets
    assert any(p.startswith(f"{PREFIX}/assets/fonts/") for p in assets), sorted(assets)  # named by the stylesheet
    if js:
        assert {f"{PREFIX}/govuk-frontend/govuk-frontend.min.js", f"{PREFIX}/swagger-ui/swagger-ui-bundle.js",
                f"{PREFIX}/openapi.json"} <= assets, sorted(assets)
    assert not [p for p, _ in answers if not p.startswith(PREFIX + "/")]


def test_api_docs_run_under_a_policy_of_scripts_and_styles_from_this_server_only(browser, site: Site) -> None:  # noqa: ANN001
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    page = ctx.new_page()
    refused: list[str] = []
    page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
    try:
        response = page.goto(site.url("/docs"))
        assert response is not None
        policy = dict(d.strip().split(" ", 1) for d in response.headers["content-security-policy"].split(";"))
        assert policy["script-src"] == "'self'" and policy["style-src"] == "'self'", policy
        page.wait_for_selector(".opblock")
        page.locator(".opblock-summary").first.click()  # an operation opens: Swagger UI works
        page.wait_for_selector(".opblock-body")
        assert page.locator(".opblock").count() > 10
    finally:
        ctx.close()
    assert not refused, refused
