"""Signing in to the web interface in-process (ASGI), for the tests of its forms."""

import re

from fastapi.testclient import TestClient

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def signed_in(client: TestClient, app, username: str, role: str, worker_id: str | None) -> str:  # noqa: ANN001
    """Adds the account, signs in with a token, and returns the session's CSRF token."""
    app.people.users.add_user(username, role, worker_id=worker_id, created_by="test")
    return _with_token(client, app, username)


def signed_in_again(client: TestClient, app, username: str) -> str:  # noqa: ANN001
    """Signs an existing account in afresh (a new session, the old cookies dropped); returns the CSRF token."""
    client.cookies.clear()
    return _with_token(client, app, username)


def _with_token(client: TestClient, app, username: str) -> str:  # noqa: ANN001
    token = CSRF.search(client.get("/sign-in").text).group(1)  # type: ignore[union-attr]
    issued = app.people.users.issue_token(username, days=1)
    assert client.post("/sign-in/token", data={"csrf_token": token, "token": issued.token}).status_code == 200
    return CSRF.search(client.get("/records").text).group(1)  # type: ignore[union-attr]


def token_sign_in(client, token: str) -> str:  # noqa: ANN001
    """Signs in over real HTTP (an httpx client that does not follow redirects) with an access token from
    `svl token issue`; returns the signed-in session's CSRF token, read from a page."""
    answer = client.post("/sign-in/token", data={"csrf_token": csrf_of(client.get("/sign-in").text), "token": token})
    assert answer.status_code == 303 and answer.headers["location"] == "/records", answer.text
    return csrf_of(client.get("/records").text)


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "the page has a form with this session's CSRF token"
    return found.group(1)
