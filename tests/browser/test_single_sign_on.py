"""Signing in through the organisation's identity provider, in Debian's Chromium: a real OpenID provider
(oidc-provider under Node) and a real `svl serve` configured for it (SVL_OIDC_*), both on free 127.0.0.1 ports.
Accounts are linked with `svl user link`. HR and an inspector sign in at the provider's own login form and land on
their role's home page; signing out ends the session here and at the provider; an unlinked person and a disabled
account are refused with a page that says what to do, and the refusals are logged. No code is ever written to
the server's log. (A changed state, and an answer replayed, are refused in tests/test_provider_sign_in.py.)
"""

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.browser.conftest import LIFETIME_SECONDS, ROOT, SERVER, _svl, _wait_until_it_answers
from tests.browser.pages import check
from tests.support.oidc import Provider, oidc_env, running_provider, signing_key, stop
from tests.support.ports import free_port

@dataclass(frozen=True)
class SignOnSite:
    base: str
    provider: Provider
    log: Path

    def url(self, path: str) -> str:
        return self.base + path


@pytest.fixture(scope="module")
def sso(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SignOnSite]:
    folder = tmp_path_factory.mktemp("sso")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with running_provider(folder, accounts=["hr.officer", "inspector.one", "io.gone", "stranger"], public_url=base,
                          keys=[signing_key("k1")]) as provider:
        env = {**os.environ, "SVL_DATABASE_URL": f"sqlite:///{folder}/data/svl.db",
               "SVL_MASTER_KEY_FILE": str(folder / "keys" / "master.key"),
               "SVL_SIGNING_KEY_FILE": str(folder / "keys" / "signing.key"),
               "SVL_CHECKPOINT_DIR": str(folder / "checkpoints"), **oidc_env(provider, base)}
        env.pop("SVL_MASTER_KEY", None)
        _svl(env, "init")
        _svl(env, "user", "add", "hr", "--role", "administrator")  # the first administrator
        _svl(env, "user", "add", "ofsted", "--role", "inspector", "--as", "hr")
        _svl(env, "user", "add", "io", "--role", "investigating_officer", "--as", "hr")
        for username, login in (("hr", "hr.officer"), ("ofsted", "inspector.one"), ("io", "io.gone")):
            _svl(env, "user", "link", username, "--subject", login, "--as", "hr")  # issuer: SVL_OIDC_ISSUER
        _svl(env, "user", "disable", "io", "--as", "hr")
        log = folder / "server.log"
        with log.open("w") as written:
            process = subprocess.Popen([sys.executable, "-c", SERVER, str(port), str(LIFETIME_SECONDS)], cwd=ROOT,
                                       env=env, stdout=written, stderr=subprocess.STDOUT)
            try:
                _wait_until_it_answers(process, base)
                yield SignOnSite(base, provider, log)
            finally:
                stop(process)


@pytest.fixture()
def page(browser) -> Iterator[object]:  # noqa: ANN001
    context = browser.new_context()
    # Only this machine: the provider's stock pages ask for web fonts from elsewhere, which are not fetched.
    context.route("**/*", lambda route: route.continue_() if urlsplit(route.request.url).hostname == "127.0.0.1"
                  else route.abort())
    opened = context.new_page()
    try:
        yield opened
    finally:
        context.close()


def sign_in_at_provider(page, sso: SignOnSite, login: str) -> None:  # noqa: ANN001
    page.goto(sso.url("/sign-in"))
    page.get_by_role("button", name="Sign in with Council Account").click()
    page.wait_for_url(f"{sso.provider.issuer}/interaction/**")
    page.fill('input[name="login"]', login)
    page.fill('input[name="password"]', "any password")
    page.click('button[type="submit"]')


def server_log(sso: SignOnSite) -> str:
    return sso.log.read_text()


def test_hr_signs_in_through_the_provider_and_out_again(page, sso, screenshots) -> None:  # noqa: ANN001
    page.goto(sso.url("/sign-in"))
    check(page, "sign in with the identity provider", screenshots)
    codes: list[str] = []
    page.on("request", lambda request: codes.extend(
        parse_qs(urlsplit(request.url).query).get("code", [])) if "/sign-in/provider/callback" in request.url else None)
    sign_in_at_provider(page, sso, "hr.officer")
    page.wait_for_url(sso.url("/records"))
    assert "Signed in as hr (administrator)" in page.inner_text(".app-account")
    assert page.get_by_role("link", name="Staff").is_visible()  # HR's pages
    assert codes, "the provider sent the browser back with a code"

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{sso.provider.issuer}/session/end**")  # RP-initiated logout: the provider asks
    page.get_by_role("button", name="Yes, sign me out").click()
    page.wait_for_url(sso.url("/signed-out"))
    page.goto(sso.url("/records"))
    assert page.url == sso.url("/sign-in")  # the session here is gone
    page.get_by_role("button", name="Sign in with Council Account").click()
    page.wait_for_url(f"{sso.provider.issuer}/interaction/**")  # and there: the provider asks who it is again
    assert page.locator('input[name="login"]').is_visible()

    logged = server_log(sso)
    assert "signed in: hr through the identity provider" in logged
    for code in codes:
        assert code not in logged


def test_an_inspector_lands_on_their_own_home_page(page, sso) -> None:  # noqa: ANN001
    sign_in_at_provider(page, sso, "inspector.one")
    page.wait_for_url(sso.url("/records"))
    assert "Signed in as ofsted (inspector)" in page.inner_text(".app-account")
    assert page.get_by_role("link", name="Access log").is_visible()
    assert page.get_by_role("link", name="Staff").count() == 0


def test_someone_with_no_linked_account_is_refused(page, sso, screenshots) -> None:  # noqa: ANN001
    sign_in_at_provider(page, sso, "stranger")
    page.wait_for_url(sso.url("/sign-in/provider/callback**"))
    assert page.get_by_role("heading", level=1).inner_text() == "You do not have an account on this service"
    assert "Ask HR to set up your account" in page.inner_text("main")
    check(page, "sign in refused no account", screenshots)
    page.goto(sso.url("/records"))
    assert page.url == sso.url("/sign-in")
    assert f"sign-in refused: no account is linked to subject {sso.provider.issuer}#stranger" in server_log(sso)


def test_a_disabled_account_is_refused(page, sso) -> None:  # noqa: ANN001
    sign_in_at_provider(page, sso, "io.gone")
    page.wait_for_url(sso.url("/sign-in/provider/callback**"))
    assert page.get_by_role("heading", level=1).inner_text() == "Your account has been closed"
    page.goto(sso.url("/records"))
    assert page.url == sso.url("/sign-in")
    assert "sign-in refused: account io is disabled" in server_log(sso)
