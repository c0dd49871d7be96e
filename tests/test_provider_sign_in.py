"""The web sign-in through the identity provider, in-process on both backends against a real OpenID provider
(oidc-provider under Node) on 127.0.0.1: the authorization request carries a PKCE challenge (S256), a state and a
nonce; the provider's answer signs in only with the state this browser was given, once; an answer naming another
issuer is refused; the provider down is a 503 page at once. The browser runs of the same flow are in
tests/browser/test_single_sign_on.py. Also: what SVL_OIDC_* settings are refused."""

import dataclasses
import re
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import pytest
from fastapi.testclient import TestClient

from api.http import create_app
from domain.authorisation import Role
from infrastructure.identity_provider import subject_key
from infrastructure.oidc_settings import OidcSettings
from tests.support.oidc import CLIENT_ID, headless_sign_in, running_provider, signing_key

PUBLIC_URL = "http://127.0.0.1:8000"


def local(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(("", "", parts.path, parts.query, ""))


def changed(url: str, **params: str) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    return local(urlunsplit(parts._replace(query=urlencode({**query, **params}))))


@pytest.fixture()
def signing_in(settings, master_key, tmp_path):  # noqa: ANN001, ANN201
    with running_provider(tmp_path, accounts=["hr.officer"], public_url=PUBLIC_URL,
                          keys=[signing_key("k1")]) as provider:
        oidc = OidcSettings(issuer=provider.issuer, client_id=CLIENT_ID, client_secret=provider.client_secret,
                            public_url=PUBLIC_URL, provider_name="Council Account")
        api = create_app(dataclasses.replace(settings, oidc=oidc), master_key)
        app = api.state.application
        app.people.users.add_user("hr", Role.ADMINISTRATOR.value, created_by="bootstrap")
        app.people.link_account(app.people.users.principal("hr", via="test"), "hr",
                                subject_key(provider.issuer, "hr.officer"))
        with TestClient(api, base_url=PUBLIC_URL) as client:
            yield provider, client


def start(client: TestClient) -> str:
    sent = client.get("/sign-in/provider", follow_redirects=False)
    assert sent.status_code == 303
    return sent.headers["location"]


def test_the_authorization_request_and_a_good_answer(signing_in) -> None:  # noqa: ANN001
    provider, client = signing_in
    assert "Sign in with Council Account" in client.get("/sign-in").text
    request = start(client)
    params = parse_qs(urlsplit(request).query)
    assert request.startswith(provider.issuer + "/auth?")
    assert params["code_challenge_method"] == ["S256"] and len(params["code_challenge"][0]) == 43
    assert params["response_type"] == ["code"] and params["scope"] == ["openid"]
    assert params["redirect_uri"] == [PUBLIC_URL + "/sign-in/provider/callback"]
    assert len(params["state"][0]) >= 32 and len(params["nonce"][0]) >= 32
    back = headless_sign_in(provider, request, "hr.officer")
    assert parse_qs(urlsplit(back).query)["state"] == params["state"]
    landed = client.get(local(back), follow_redirects=False)
    assert landed.status_code == 303 and landed.headers["location"] == "/records"
    assert "Signed in as <strong>hr</strong>" in client.get("/records").text


def test_a_changed_state_is_refused_and_an_answer_works_once(signing_in) -> None:  # noqa: ANN001
    provider, client = signing_in
    back = headless_sign_in(provider, start(client), "hr.officer")
    forged = client.get(changed(back, state="forged-state"))
    assert forged.status_code == 400 and "Your sign-in could not be completed" in forged.text
    assert client.get("/records", follow_redirects=False).headers["location"] == "/sign-in"
    replayed = client.get(local(back))  # the genuine answer, after: the sign-in it belonged to is spent
    assert replayed.status_code == 400 and "not started from this browser" in replayed.text
    assert client.get("/records", follow_redirects=False).headers["location"] == "/sign-in"


def test_an_answer_from_another_issuer_or_to_another_browser_is_refused(signing_in) -> None:  # noqa: ANN001
    provider, client = signing_in
    back = headless_sign_in(provider, start(client), "hr.officer")
    mixed_up = client.get(changed(back, iss="https://impostor.example"))
    assert mixed_up.status_code == 400 and "another issuer" in mixed_up.text

    back = headless_sign_in(provider, start(client), "hr.officer")
    someone_else = TestClient(client.app, base_url=PUBLIC_URL)  # another browser: no sign-in was started there
    planted = someone_else.get(local(back))
    assert planted.status_code == 400
    assert someone_else.get("/records", follow_redirects=False).headers["location"] == "/sign-in"
    assert client.get(local(back), follow_redirects=False).headers["location"] == "/records"  # still its own


def test_the_provider_down_is_a_page_that_says_so(settings, master_key, tmp_path) -> None:  # noqa: ANN001
    with running_provider(tmp_path, accounts=[], public_url=PUBLIC_URL, keys=[signing_key("k1")]) as provider:
        issuer = provider.issuer
    oidc = OidcSettings(issuer=issuer, client_id=CLIENT_ID, public_url=PUBLIC_URL, provider_name="Council Account")
    with TestClient(create_app(dataclasses.replace(settings, oidc=oidc), master_key), base_url=PUBLIC_URL) as client:
        down = client.get("/sign-in/provider")
        assert down.status_code == 503 and "Council Account" in down.text and "is not answering" in down.text
        assert re.search(r"access token", client.get("/sign-in").text)  # the other way in stays


@pytest.mark.parametrize("env, problem", [
    ({"SVL_OIDC_ISSUER": "http://idp.example"}, "must be an https:// address"),
    ({"SVL_OIDC_ISSUER": "https://idp.example"}, "SVL_OIDC_CLIENT_ID must be set"),
    ({"SVL_OIDC_ISSUER": "https://idp.example", "SVL_OIDC_CLIENT_ID": "svl"}, "SVL_PUBLIC_URL must be set"),
    ({"SVL_OIDC_ISSUER": "https://idp.example", "SVL_OIDC_CLIENT_ID": "svl", "SVL_PUBLIC_URL": "https://svl.example",
      "SVL_OIDC_CLIENT_SECRET_FILE": "/nonexistent/secret"}, "cannot be read"),
    ({"SVL_OIDC_ISSUER": "https://idp.example?x=1", "SVL_OIDC_CLIENT_ID": "svl"}, "no query or fragment"),
])
def test_settings_that_cannot_work_are_refused_by_name(env: dict, problem: str) -> None:
    with pytest.raises(ValueError, match=re.escape(problem)):
        OidcSettings.from_env(env)


def test_the_settings(tmp_path) -> None:  # noqa: ANN001
    assert OidcSettings.from_env({}) is None
    secret = tmp_path / "secret"
    secret.write_text("s3cret\n")
    read = OidcSettings.from_env({"SVL_OIDC_ISSUER": "https://login.council.example/tenant/v2.0",
                                  "SVL_OIDC_CLIENT_ID": "svl", "SVL_OIDC_CLIENT_SECRET_FILE": str(secret),
                                  "SVL_PUBLIC_URL": "https://svl.council.example/", "SVL_OIDC_AUDIENCE": "api://svl"})
    assert read is not None and read.client_secret == "s3cret" and read.audience == "api://svl"
    assert read.redirect_uri == "https://svl.council.example/sign-in/provider/callback"


def test_only_hr_links_accounts_and_a_subject_links_one_account(settings, master_key) -> None:  # noqa: ANN001
    from api.access_service import AccessDenied
    from infrastructure.users import UserError

    app = create_app(settings, master_key).state.application
    app.people.users.add_user("hr", Role.ADMINISTRATOR.value, created_by="bootstrap")
    hr = app.people.users.principal("hr", via="test")
    app.people.add_account(hr, "ofsted", Role.INSPECTOR.value)
    app.people.add_account(hr, "io", Role.INVESTIGATING_OFFICER.value)
    inspector = app.people.users.principal("ofsted", via="test")
    with pytest.raises(AccessDenied):
        app.people.link_account(inspector, "ofsted", subject_key("https://idp.example", "someone-else"))
    assert app.people.users.find("ofsted")["external_subject"] is None
    app.people.link_account(hr, "ofsted", subject_key("https://idp.example", "a1"))
    assert app.people.users.find_by_subject("https://idp.example#a1")["username"] == "ofsted"
    with pytest.raises(UserError, match="already linked to 'ofsted'"):
        app.people.link_account(hr, "io", subject_key("https://idp.example", "a1"))
    app.people.link_account(hr, "ofsted", None)
    assert app.people.users.find_by_subject("https://idp.example#a1") is None
    app.storage.engine.dispose()
