"""The web interface in a real browser: Debian's Chromium driven by Playwright, against a real `svl serve`
(after `svl init` and `svl demo`) on a free 127.0.0.1 port, on SQLite and on PostgreSQL.

One browser for the whole run; one server per backend. With CI=true a missing Chromium or PostgreSQL fails the
run; elsewhere those tests are skipped with the reason. Screenshots go to test-output/screenshots/.
"""

import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.conftest import IN_CI, POSTGRES_URL, _drop_schema, _postgres_unreachable
from tests.support.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
OUTPUT = ROOT / "test-output"
LIFETIME_SECONDS = 1800  # the server stops itself even if the test run dies
SERVER = """
import os, sys, threading
timer = threading.Timer(float(sys.argv[2]), lambda: os._exit(3))
timer.daemon = True
timer.start()
from api.cli import app
app(["serve", "--port", sys.argv[1]])
"""


@dataclass(frozen=True)
class Site:
    base: str
    backend: str
    env: dict[str, str]
    database_url: str
    schema: str
    events_table: str
    tokens: dict[str, str]  # the demo users' API tokens, as `svl demo` printed them

    def url(self, path: str) -> str:
        return self.base + path


def _svl(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([sys.executable, "-c", "from api.cli import app; app()", *args], cwd=ROOT,
                          env={**env, "COLUMNS": "400"},
                          check=True, capture_output=True, text=True)
    return done.stdout


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def site(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The BCP demo (`svl demo`), served."""
    def demo(env: dict[str, str]) -> dict[str, str]:
        printed = _svl(env, "demo")
        return dict(re.findall(r"^\s*(\w+) \(\w+\): (svl_\S+)", printed, re.MULTILINE))

    yield from _served(request.param, tmp_path_factory.mktemp(f"web-{request.param}"), "bcp", demo)


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def bury_site(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """A small organisation under bury's pack, which names employee reviews (the BCP demo does not load under it):
    its staff written by the application before the server starts, each signing in with an access token."""
    from tests.support.bury_staff import load_bury_staff

    yield from _served(request.param, tmp_path_factory.mktemp(f"web-bury-{request.param}"), "bury", load_bury_staff)


def _served(backend: str, folder: Path, pack: str, populate: Callable[[dict[str, str]], dict[str, str]]
            ) -> Iterator[Site]:
    """`svl init`, then `populate(env)` (which returns the users' tokens), then `svl serve` on a free port."""
    schema = "public"
    if backend == "sqlite":
        database_url, events_table = f"sqlite:///{folder}/data/svl.db", "stored_events"
    else:
        problem = _postgres_unreachable()
        if problem:
            if IN_CI:
                pytest.fail(f"{problem} (CI=true: PostgreSQL tests must run, not skip)")
            pytest.skip(problem)
        database_url, schema = POSTGRES_URL, f"svl_web_{uuid.uuid4().hex[:12]}"
        events_table = "supervisionledger_events"
    env = {**os.environ, "SVL_DATABASE_URL": database_url, "SVL_DATABASE_SCHEMA": schema,
           # Keys apart from the database's folder, as the product requires.
           "SVL_MASTER_KEY_FILE": str(folder / "keys" / "master.key"),
           "SVL_SIGNING_KEY_FILE": str(folder / "keys" / "signing.key"),
           "SVL_CHECKPOINT_DIR": str(folder / "checkpoints"), "SVL_CERTIFICATE_DIR": str(folder / "certificates"),
           "SVL_TRUSTED_PROXIES": "127.0.0.1",  # the TLS-terminating proxy of test_security.py
           "SVL_POLICY_PACK": pack}
    env.pop("SVL_MASTER_KEY", None)
    try:
        _svl(env, "init")
        tokens = populate(env)
        port = free_port()
        process = subprocess.Popen([sys.executable, "-c", SERVER, str(port), str(LIFETIME_SECONDS)], cwd=ROOT,
                                   env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        base = f"http://127.0.0.1:{port}"
        try:
            _wait_until_it_answers(process, base)
            yield Site(base, backend, env, database_url, schema, events_table, tokens)
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
    finally:
        if backend == "postgresql":
            _drop_schema(schema)


def _wait_until_it_answers(process: subprocess.Popen, base: str) -> None:
    """No start-up deadline (the machine may be loaded): wait while the server is alive and not yet answering."""
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"svl serve exited: {process.stderr.read().decode() if process.stderr else ''}")
        try:
            if httpx.get(f"{base}/health", timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.2)


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    executable = shutil.which("chromium")
    if executable is None:
        reason = "Debian's chromium is not installed (apt-get install -y chromium)"
        if IN_CI:
            pytest.fail(f"{reason}; CI=true: the browser tests must run")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, headless=True)
        if os.environ.get("SVL_BROWSER_VISITS"):
            _record_visits(launched, Path(os.environ["SVL_BROWSER_VISITS"]))
        try:
            yield launched
        finally:
            launched.close()


def _record_visits(browser: object, listing: Path) -> None:
    """Every page each test loads or submits a form to (method, path, test), appended to `listing`: the
    closing note's list of pages and the tests that visit them."""
    opened = browser.new_context  # type: ignore[attr-defined]

    def new_context(*args: object, **kwargs: object) -> object:
        ctx = opened(*args, **kwargs)

        def seen(request: object) -> None:
            if request.is_navigation_request():  # type: ignore[attr-defined]
                test = os.environ.get("PYTEST_CURRENT_TEST", "").split(" ")[0]
                with listing.open("a") as out:
                    out.write(f"{request.method}\t{urlsplit(request.url).path}\t{test}\n")  # type: ignore[attr-defined]
        ctx.on("request", seen)
        return ctx
    browser.new_context = new_context  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def screenshots() -> Path:
    folder = OUTPUT / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
