"""Web sessions across server processes and restarts, against a real `svl serve` (tests/support/serving.py): a
page after signing in is served by the other worker, a sign-out on one worker is refused on the other, a restart
keeps the session, disabling an account ends its sessions in every worker at once, and with the database down a
page answers the 503 page quickly (and the session is still there when it is back). Sessions are kept in the
database (infrastructure/web_sessions.py); several workers run on PostgreSQL only (`--workers` above 1 is refused
on SQLite)."""

import time
from pathlib import Path

import httpx
import psycopg
import pytest

from infrastructure.settings import Settings
from tests.conftest import POSTGRES_URL
from tests.support.gate import Gate
from tests.support.serving import Served, server_env, start_svl_serve, stop, svl
from tests.support.web_forms import token_sign_in

postgres_only = pytest.mark.parametrize("settings", ["postgresql"], indirect=True)


def signed_in_as(page: httpx.Response, username: str) -> bool:
    return page.status_code == 200 and f"Signed in as <strong>{username}</strong>" in page.text


def sent_to_sign_in(page: httpx.Response) -> bool:
    return page.status_code == 303 and page.headers["location"] == "/sign-in"


@pytest.fixture
def deployment(settings: Settings, tmp_path: Path) -> tuple[dict[str, str], dict[str, str]]:
    """`svl init`, two administrators and a token each: the server's environment, and the tokens."""
    env = server_env(settings, tmp_path)
    svl(env, "init")
    svl(env, "user", "add", "hr", "--role", "administrator")
    svl(env, "user", "add", "ada", "--role", "administrator", "--as", "hr")
    return env, {u: svl(env, "token", "issue", u, "--as", "hr").split()[-1] for u in ("hr", "ada")}


def two_workers(env: dict[str, str]) -> Served:
    served = start_svl_serve(env, workers=2)
    served.wait_for(lambda: len(served.live_workers()) == 2)
    return served


@postgres_only
def test_a_page_after_sign_in_is_served_by_the_other_worker_and_a_sign_out_there_ends_it_here(deployment) -> None:  # noqa: ANN001
    env, tokens = deployment
    served = two_workers(env)
    try:
        first, second = served.live_workers()
        for signs_in, other in ((first, second), (second, first)):
            with served.pinned(signs_in) as here, served.pinned(other) as there:
                csrf = token_sign_in(here, tokens["hr"])
                there.cookies = here.cookies  # the same browser, its next connection taken by the other worker
                assert signed_in_as(there.get("/records"), "hr")
                assert signed_in_as(here.get("/records"), "hr")
                # Signing out there, with the form of a page served here.
                signed_out = there.post("/sign-out", data={"csrf_token": csrf})
                assert signed_out.status_code == 303 and signed_out.headers["location"] == "/signed-out"
                assert sent_to_sign_in(here.get("/records"))  # the old cookie, on the worker that opened it
                assert served.answered_by(here) == signs_in and served.answered_by(there) == other
    finally:
        stop(served)


@postgres_only
def test_disabling_an_account_ends_its_web_sessions_in_every_worker_at_once(settings: Settings, deployment) -> None:  # noqa: ANN001
    env, tokens = deployment
    served = two_workers(env)
    try:
        first, second = served.live_workers()
        with served.pinned(first) as ada_here, served.pinned(second) as ada_there, \
                served.pinned(second) as hr_there:
            token_sign_in(ada_here, tokens["ada"])
            ada_there.cookies = ada_here.cookies
            assert signed_in_as(ada_there.get("/records"), "ada")
            token_sign_in(hr_there, tokens["hr"])

            assert "disabled: ada" in svl(env, "user", "disable", "ada", "--as", "hr")
            with psycopg.connect(POSTGRES_URL) as conn:
                left = conn.execute(
                    f'SELECT count(*) FROM "{settings.database_schema}".web_sessions s '
                    f'JOIN "{settings.database_schema}".users u USING (user_id) WHERE u.username = %s',
                    ("ada",)).fetchone()
            assert left == (0,)  # no row of hers is left to find
            assert sent_to_sign_in(ada_here.get("/records")) and sent_to_sign_in(ada_there.get("/records"))
            assert signed_in_as(hr_there.get("/records"), "hr")  # nobody else is signed out
    finally:
        stop(served)


def test_a_restart_keeps_the_session(deployment) -> None:  # noqa: ANN001
    env, tokens = deployment
    served = start_svl_serve(env, workers=1)
    try:
        with httpx.Client(base_url=served.base, timeout=60) as browser:
            csrf = token_sign_in(browser, tokens["hr"])
            cookies = httpx.Cookies(browser.cookies)
    finally:
        stop(served)
    served = start_svl_serve(env, workers=1)
    try:
        with httpx.Client(base_url=served.base, timeout=60, cookies=cookies) as browser:
            assert signed_in_as(browser.get("/records"), "hr")
            # A form from a page served before the restart is still this session's.
            assert browser.post("/sign-out", data={"csrf_token": csrf}).status_code == 303
            assert sent_to_sign_in(browser.get("/records"))
    finally:
        stop(served)


@pytest.mark.timeout(240)
@postgres_only
def test_with_the_database_down_a_page_answers_the_503_page_quickly_and_the_session_outlives_it(deployment) -> None:  # noqa: ANN001
    env, tokens = deployment
    url = psycopg.conninfo.conninfo_to_dict(POSTGRES_URL)
    gate = Gate((str(url.get("host", "127.0.0.1")), int(url.get("port", 5432))))
    through_gate = {**env, "SVL_DB_CONNECT_TIMEOUT": "2",
                    "SVL_DATABASE_URL": f"postgresql://{url.get('user', 'postgres')}@127.0.0.1:{gate.port}/{url['dbname']}"}
    served = start_svl_serve(through_gate, workers=1)
    try:
        with httpx.Client(base_url=served.base, timeout=60) as browser:
            csrf = token_sign_in(browser, tokens["hr"])
            gate.close()
            for ask in (lambda: browser.get("/records"), lambda: browser.post("/sign-out", data={"csrf_token": csrf}),
                        lambda: httpx.get(served.base + "/sign-in", timeout=60)):
                started = time.monotonic()
                answer = ask()
                took = time.monotonic() - started
                assert answer.status_code == 503, answer.text
                assert answer.headers["retry-after"] == "2" and "set-cookie" not in answer.headers
                assert 'class="govuk-heading-xl"' in answer.text and "Sorry, " in answer.text, answer.text
                assert "Traceback" not in answer.text and "Signed in as" not in answer.text
                assert took < 10, f"{answer.request.url.path} answered 503 in {took:.1f} s"
                print(f"\n{answer.request.method} {answer.request.url.path}: 503 in {took:.2f} s")
            gate.open()
            while not signed_in_as(back := browser.get("/records"), "hr"):  # bounded by the test's timeout
                assert back.status_code == 503, back.text
                time.sleep(0.1)
    finally:
        stop(served)
        gate.close()
