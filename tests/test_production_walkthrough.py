"""README "Running it in production", followed as a council's IT team would, on PostgreSQL: from a schema that does
not exist yet to a member of staff signed in through the organisation's identity provider, every step through
the commands the README gives (`svl init`, `svl db version`, the first administrator, `svl user link`,
`svl serve --workers 2`), against a real OpenID provider (tests/support/oidc.py) and a real server.

A browser keeps its connection open, so the sign-in's requests usually reach one worker; web sessions are kept in
the database (infrastructure/web_sessions.py), so a sign-in whose answer from the provider reaches the other
worker is completed there too: the last test here.
"""

import subprocess
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import psycopg
import pytest

from infrastructure.migrations import HEAD
from infrastructure.settings import Settings
from tests.conftest import POSTGRES_URL
from tests.support.oidc import headless_sign_in, oidc_env, running_provider, signing_key
from tests.support.ports import free_port
from tests.support.serving import ROOT, SVL, Served, server_env, start_svl_serve, stop

postgres_only = pytest.mark.parametrize("settings", ["postgresql"], indirect=True)


def schema_exists(schema: str) -> bool:
    with psycopg.connect(POSTGRES_URL) as conn:
        return conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone() is not None


def said(done: subprocess.CompletedProcess) -> str:
    return " ".join((done.stdout + done.stderr).split())


def local(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(("", "", parts.path, parts.query, ""))


class Walkthrough:
    """The README's steps, one method each, run as the IT team runs them: `svl` in a shell with the variables set."""

    def __init__(self, settings: Settings, folder: Path, provider_env: dict[str, str]) -> None:
        self.env = {**server_env(settings, folder, **provider_env), "COLUMNS": "200"}

    def svl(self, *args: str) -> subprocess.CompletedProcess:
        done = subprocess.run([SVL, *args], cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, f"svl {' '.join(args)}: {said(done)}"
        return done


@postgres_only
def test_an_empty_postgresql_schema_to_staff_signed_in_through_the_provider(settings: Settings, tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with running_provider(tmp_path, accounts=["hr.officer", "stranger"], public_url=base,
                          keys=[signing_key("k1")]) as provider:
        it = Walkthrough(settings, tmp_path, oidc_env(provider, base))
        assert not schema_exists(settings.database_schema)  # nothing made before the first step
        assert not settings.master_key_file.exists() and not settings.signing_key_file.exists()

        # 1. The database and its schema.
        assert f"schema: empty database -> {HEAD}" in said(it.svl("init"))
        assert settings.master_key_file.exists() and settings.signing_key_file.exists()
        assert f"schema {HEAD}; this release needs {HEAD}" in said(it.svl("db", "version"))

        # The first administrator (HR), then their link to the identity provider.
        assert "user added: hr (administrator)" in said(it.svl("user", "add", "hr", "--role", "administrator"))
        linked = it.svl("user", "link", "hr", "--subject", "hr.officer", "--as", "hr")
        assert f"linked: hr signs in as {provider.issuer}#hr.officer" in said(linked)
        assert f"{provider.issuer}#hr.officer" in said(it.svl("user", "list", "--as", "hr"))

        # Several processes.
        served = start_svl_serve(it.env, workers=2, port=port)
        try:
            served.wait_for(lambda: len(served.live_workers()) == 2)
            health = httpx.get(f"{base}/health", timeout=60)
            assert health.status_code == 200 and health.json()["schema_version"] == HEAD, health.text
            ready = httpx.get(f"{base}/ready", timeout=60)
            assert ready.status_code == 200 and ready.json()["database"] == "postgresql", ready.text

            # Signing in through your identity provider, as a browser does it (one kept-alive connection).
            with httpx.Client(base_url=base, timeout=60) as browser:
                assert "Sign in with Council Account" in browser.get("/sign-in").text
                sent = browser.get("/sign-in/provider")
                assert sent.status_code == 303 and sent.headers["location"].startswith(provider.issuer + "/auth?")
                landed = browser.get(local(headless_sign_in(provider, sent.headers["location"], "hr.officer")))
                assert landed.status_code == 303 and landed.headers["location"] == "/records", landed.text
                assert "Signed in as <strong>hr</strong>" in browser.get("/records").text

            # Someone the provider knows but HR did not link gets no account by signing in.
            with httpx.Client(base_url=base, timeout=60) as browser:
                sent = browser.get("/sign-in/provider")
                refused = browser.get(local(headless_sign_in(provider, sent.headers["location"], "stranger")))
                assert refused.status_code == 403 and "You do not have an account on this service" in refused.text
                assert browser.get("/records").headers.get("location") == "/sign-in"
        finally:
            stop(served)
        it.svl("verify")


@postgres_only
def test_a_sign_in_begun_on_one_worker_is_completed_on_the_other(settings: Settings, tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with running_provider(tmp_path, accounts=["hr.officer"], public_url=base, keys=[signing_key("k1")]) as provider:
        it = Walkthrough(settings, tmp_path, oidc_env(provider, base))
        it.svl("init")
        it.svl("user", "add", "hr", "--role", "administrator")
        it.svl("user", "link", "hr", "--subject", "hr.officer", "--as", "hr")
        served: Served = start_svl_serve(it.env, workers=2, port=port)
        try:
            served.wait_for(lambda: len(served.live_workers()) == 2)
            first, second = served.live_workers()
            with served.pinned(first) as on_first, served.pinned(second) as on_second:
                sent = on_first.get("/sign-in/provider")
                assert sent.status_code == 303
                back = headless_sign_in(provider, sent.headers["location"], "hr.officer")
                on_second.cookies = on_first.cookies  # the same browser, its next connection taken by the other
                landed = on_second.get(local(back))
                assert landed.status_code == 303 and landed.headers["location"] == "/records", landed.text
                on_first.cookies = on_second.cookies
                for client in (on_first, on_second):
                    assert "Signed in as <strong>hr</strong>" in client.get("/records").text
        finally:
            stop(served)
