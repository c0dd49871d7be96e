"""Signing in to the web interface without the demo: no demo users are offered (and the demo sign-in refuses
anyone), a token from `svl token issue` signs in, a disabled account's session ends, and an unknown API path
still answers as the API does. In-process (ASGI), on both backends."""

import re

from fastapi.testclient import TestClient
from sqlalchemy import update

from api.http import create_app
from infrastructure.users import users

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def test_without_the_demo_only_a_token_signs_in(settings, master_key) -> None:  # noqa: ANN001
    api = create_app(settings, master_key)
    app = api.state.application
    with TestClient(api) as client:
        page = client.get("/sign-in")
        assert page.status_code == 200 and "data-username" not in page.text  # no demo list
        token = CSRF.search(page.text).group(1)  # type: ignore[union-attr]
        app.people.users.add_user("daniel", "supervisor", created_by="someone")  # a real user of that name
        refused = client.post("/sign-in/demo", data={"csrf_token": token, "username": "daniel"})
        assert refused.status_code == 422 and "svl_session" not in refused.headers.get("set-cookie", "")
        assert client.get("/records", follow_redirects=False).headers["location"] == "/sign-in"

        wrong = client.post("/sign-in/token", data={"csrf_token": token, "token": "svl_not-a-token"})
        assert wrong.status_code == 422 and "Enter a valid access token" in wrong.text
        issued = app.people.users.issue_token("daniel", days=1)
        signed = client.post("/sign-in/token", data={"csrf_token": token, "token": issued.token},
                             follow_redirects=False)
        assert signed.status_code == 303 and signed.headers["location"] == "/records"
        assert issued.token not in client.get("/records").text
        assert client.get("/records").status_code == 200

        with app.storage.engine.begin() as conn:  # HR disables the account: the session ends at once
            conn.execute(update(users).where(users.c.username == "daniel").values(disabled_at=app.clock()))
        assert client.get("/records", follow_redirects=False).headers["location"] == "/sign-in"

        missing = client.get("/api/v1/no-such-endpoint", headers={"Authorization": f"Bearer {issued.token}"})
        assert missing.status_code in (401, 404) and missing.headers["content-type"].startswith("application/json")
