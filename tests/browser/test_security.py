"""The web interface's security, over real HTTP against the real server: CSRF refused, the session cookie's
flags, a new session id at sign-in, content pages logged (channel "web"), nothing cached, a signed-out session
dead, and no content when the access log cannot be written."""

import re

import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.browser.conftest import Site

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def _signed_in(site: Site, username: str) -> tuple[httpx.Client, str]:
    client = httpx.Client(base_url=site.base, timeout=30)
    token = CSRF.search(client.get("/sign-in").text).group(1)  # type: ignore[union-attr]
    answer = client.post("/sign-in/demo", data={"csrf_token": token, "username": username})
    assert answer.status_code == 303 and answer.headers["location"] == "/records"
    page = client.get("/records")
    return client, CSRF.search(page.text).group(1)  # type: ignore[union-attr]


def _a_draft_of(client: httpx.Client) -> str:
    page = client.get("/records").text
    found = re.search(r'href="/records/([0-9a-f-]{36})">[^<]*</a>: Share with the supervisee', page)
    assert found, "the demo has drafts waiting to be shared"
    return found.group(1)


def test_a_form_without_this_sessions_csrf_token_is_refused_and_changes_nothing(site: Site) -> None:
    anonymous = httpx.Client(base_url=site.base, timeout=30)
    assert anonymous.post("/sign-in/demo", data={"username": "daniel"}).status_code == 403

    client, token = _signed_in(site, "daniel")
    draft = _a_draft_of(client)
    for data in ({"expected_version": "1"}, {"expected_version": "1", "csrf_token": "forged"}):
        refused = client.post(f"/records/{draft}/share", data=data)
        assert refused.status_code == 403 and "This form has expired" in refused.text
    assert "Share the record" in client.get(f"/records/{draft}").text  # still a draft
    other, _ = _signed_in(site, "helen")  # another session's token is no good either
    assert other.post("/sign-out", data={"csrf_token": token}).status_code == 403


def test_the_session_cookie_is_httponly_samesite_and_secure_over_tls(site: Site) -> None:
    plain = httpx.get(site.url("/sign-in")).headers["set-cookie"]
    assert "HttpOnly" in plain and "SameSite=lax" in plain and "Path=/" in plain and "Secure" not in plain
    # Behind a TLS-terminating proxy on this host (the site trusts X-Forwarded-Proto from 127.0.0.1:
    # SVL_TRUSTED_PROXIES).
    tls = httpx.get(site.url("/sign-in"), headers={"X-Forwarded-Proto": "https"}).headers["set-cookie"]
    assert "Secure" in tls and "HttpOnly" in tls

    client = httpx.Client(base_url=site.base, timeout=30)
    before = client.get("/sign-in")
    anonymous_id = before.cookies["svl_session"]
    token = CSRF.search(before.text).group(1)  # type: ignore[union-attr]
    client.post("/sign-in/demo", data={"csrf_token": token, "username": "amira"})
    assert client.cookies["svl_session"] != anonymous_id  # a new id at sign-in: no session fixation


def test_content_pages_are_logged_as_web_reads_and_never_cached(site: Site) -> None:
    client, token = _signed_in(site, "daniel")
    draft = _a_draft_of(client)
    page = client.get(f"/records/{draft}")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    entries = httpx.get(site.url("/api/v1/access-log"), params={"record_id": draft, "reader": "daniel"},
                        headers={"Authorization": f"Bearer {site.tokens['dpo']}"}, timeout=30).json()["entries"]
    assert any(e["channel"] == "web" and e["action"] == "read_record" and e["outcome"] == "allowed"
               for e in entries), entries
    for path in ("/records", "/supervisees", "/reads", f"/records/{draft}/amend"):
        assert client.get(path).headers["cache-control"] == "no-store", path

    cookie = client.cookies["svl_session"]
    assert client.post("/sign-out", data={"csrf_token": token}).status_code == 303
    replay = httpx.get(site.url(f"/records/{draft}"), cookies={"svl_session": cookie})
    assert replay.status_code == 303 and replay.headers["location"] == "/sign-in"


def test_when_the_access_log_cannot_be_written_the_page_has_no_content(site: Site) -> None:
    client, _ = _signed_in(site, "daniel")
    draft = _a_draft_of(client)
    discussion = re.search(r'<p class="govuk-body app-text">([^<]{20,})', client.get(f"/records/{draft}").text)
    assert discussion
    engine = create_engine(site.database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    table = site.events_table if site.backend == "sqlite" else f'"{site.schema}".{site.events_table}'
    function = f'"{site.schema}".refuse_events'
    with engine.begin() as conn:  # an outage underneath: the event store refuses every insert
        if site.backend == "sqlite":
            conn.execute(text(f"CREATE TRIGGER refuse_events BEFORE INSERT ON {table} "
                              "BEGIN SELECT RAISE(ABORT, 'storage is failing'); END"))
        else:
            conn.execute(text(f"CREATE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS "
                              "$$ BEGIN RAISE EXCEPTION 'storage is failing'; END $$"))
            conn.execute(text(f"CREATE TRIGGER refuse_events BEFORE INSERT ON {table} "
                              f"FOR EACH ROW EXECUTE FUNCTION {function}()"))
    try:
        page = client.get(f"/records/{draft}")
        assert page.status_code == 503 and "cannot be shown just now" in page.text
        assert discussion.group(1) not in page.text
        assert client.get(f"/records/{draft}/copy.pdf").status_code == 503
    finally:
        with engine.begin() as conn:
            conn.execute(text(f"DROP TRIGGER refuse_events ON {table}" if site.backend == "postgresql"
                              else "DROP TRIGGER refuse_events"))
            if site.backend == "postgresql":
                conn.execute(text(f"DROP FUNCTION {function}()"))
        engine.dispose()
    assert client.get(f"/records/{draft}").status_code == 200


@pytest.mark.parametrize("path", ["/docs"])
def test_api_docs_load_their_assets_from_this_server(site: Site, path: str) -> None:
    page = httpx.get(site.url(path)).text
    assets = re.findall(r'(?:src|href)="([^"]+\.(?:js|css))"', page)
    assert assets and all(a.startswith("/") for a in assets), assets
    for asset in assets:
        assert httpx.get(site.url(asset)).status_code == 200, asset
