"""Bearer JWTs from the organisation's identity provider, accepted by the API beside our own tokens. Against a real
OpenID provider (oidc-provider under Node) on 127.0.0.1, whose login form signs the test's people in; the API
in-process on both backends. Valid → 200; unknown subject, disabled account, tampered, wrong audience, expired,
an ID token instead of an access token → 401; the provider's keys rotated → fetched again; the provider down →
503 at once; no token in any log line."""

import base64
import dataclasses
import json
import logging
import time
from datetime import datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient

from api.http import create_app
from domain.authorisation import Role
from infrastructure.identity_provider import IdentityProvider, TokenRefused, subject_key
from infrastructure.oidc_settings import OidcSettings
from tests.support.oidc import (API_AUDIENCE, CLIENT_ID, OTHER_AUDIENCE, headless_tokens, running_provider,
                                signing_key)
from tests.support.ports import free_port

PUBLIC_URL = "http://127.0.0.1:8000"


class Clock:
    """Real time, moved on by the test when it needs a token to have expired."""

    def __init__(self) -> None:
        self.ahead = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(timezone.utc) + self.ahead


def oidc_settings(provider, audience: str = API_AUDIENCE) -> OidcSettings:  # noqa: ANN001
    return OidcSettings(issuer=provider.issuer, client_id=CLIENT_ID, client_secret=provider.client_secret,
                        audience=audience, public_url=PUBLIC_URL, provider_name="Council Account")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def tampered(token: str) -> str:
    """The same signature over a payload naming someone else."""
    head, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sub"] = "ofsted.lead"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{head}.{forged}.{signature}"


def test_the_api_accepts_the_providers_jwts_and_refuses_the_rest(settings, master_key, tmp_path, caplog) -> None:  # noqa: ANN001
    caplog.set_level(logging.INFO, logger="svl.sign-in")
    with running_provider(tmp_path, accounts=["ofsted.lead", "qa.lead", "stranger"], public_url=PUBLIC_URL,
                          keys=[signing_key("k1")]) as provider:
        clock = Clock()
        api = create_app(dataclasses.replace(settings, oidc=oidc_settings(provider)), master_key, clock=clock)
        app = api.state.application
        app.people.users.add_user("hr", Role.ADMINISTRATOR.value, created_by="bootstrap")
        hr = app.people.users.principal("hr", via="test")
        for username, role, login in (("ofsted", Role.INSPECTOR, "ofsted.lead"), ("qa", Role.QA, "qa.lead")):
            app.people.add_account(hr, username, role.value)
            app.people.link_account(hr, username, subject_key(provider.issuer, login))
        inspector = headless_tokens(provider, "ofsted.lead")
        qa = headless_tokens(provider, "qa.lead")
        stranger = headless_tokens(provider, "stranger")
        elsewhere = headless_tokens(provider, "ofsted.lead", resource=OTHER_AUDIENCE)
        with TestClient(api) as client:
            me = client.get("/api/v1/me", headers=bearer(inspector["access_token"]))
            assert me.status_code == 200, me.text
            assert me.json()["username"] == "ofsted"

            for what, token in (("unknown subject", stranger["access_token"]),
                                ("tampered", tampered(qa["access_token"])),
                                ("wrong audience", elsewhere["access_token"]),
                                ("an ID token", inspector["id_token"]),
                                ("not a JWT", "eyJhbGciOi.not-a-jwt"),
                                ("unsigned", _unsigned(inspector["access_token"]))):
                refused = client.get("/api/v1/me", headers=bearer(token))
                assert refused.status_code == 401, (what, refused.text)
                assert refused.headers["www-authenticate"] == "Bearer"

            app.people.disable_user(hr, "qa")
            assert client.get("/api/v1/me", headers=bearer(qa["access_token"])).status_code == 401

            assert client.get("/api/v1/me", headers=bearer(inspector["access_token"])).status_code == 200
            clock.ahead = timedelta(seconds=300 + 61)  # past `exp` (5 minutes) and the minute of leeway
            assert client.get("/api/v1/me", headers=bearer(inspector["access_token"])).status_code == 401
            clock.ahead = timedelta(0)

            issued = app.people.issue_token(hr, "ofsted", days=1)  # our own tokens still work beside the provider's
            assert client.get("/api/v1/me", headers=bearer(issued.token)).status_code == 200

    logged = caplog.text
    assert "no account is linked to subject " + subject_key(provider.issuer, "stranger") in logged
    assert "qa" in logged and "disabled" in logged
    assert "expired" in logged and "aud" in logged
    for token in (inspector, qa, stranger, elsewhere):
        assert token["access_token"] not in logged and token["id_token"] not in logged


def test_when_the_provider_is_down_a_jwt_gets_503_and_our_tokens_still_work(settings, master_key,  # noqa: ANN001
                                                                            tmp_path) -> None:
    with running_provider(tmp_path, accounts=["ofsted.lead"], public_url=PUBLIC_URL,
                          keys=[signing_key("k1")]) as provider:
        token = headless_tokens(provider, "ofsted.lead")["access_token"]
    api = create_app(dataclasses.replace(settings, oidc=oidc_settings(provider)), master_key)
    app = api.state.application
    app.people.users.add_user("hr", Role.ADMINISTRATOR.value, created_by="bootstrap")
    ours = app.people.users.issue_token("hr", days=1)
    with TestClient(api) as client:
        started = time.monotonic()
        down = client.get("/api/v1/me", headers=bearer(token))
        assert down.status_code == 503 and "identity provider" in down.json()["detail"]
        assert down.headers["retry-after"]
        assert time.monotonic() - started < 30  # connection refused: at once, not a hang (the bound is generous)
        assert client.get("/api/v1/me", headers=bearer(ours.token)).status_code == 200


def test_keys_are_fetched_again_when_a_token_names_a_new_one(tmp_path) -> None:  # noqa: ANN001
    port = free_port()
    first, second = signing_key("k1"), signing_key("k2")
    with running_provider(tmp_path, accounts=["qa.lead"], public_url=PUBLIC_URL, keys=[first], port=port) as provider:
        signed_by_first = headless_tokens(provider, "qa.lead")["access_token"]
        checker = IdentityProvider(oidc_settings(provider), lambda: datetime.now(timezone.utc), key_refresh_interval=0)
        assert checker.access_token_subject(signed_by_first) == subject_key(provider.issuer, "qa.lead")
    # The provider rotates: the same issuer now signs with k2 only (k1 withdrawn).
    with running_provider(tmp_path, accounts=["qa.lead"], public_url=PUBLIC_URL, keys=[second], port=port) as provider:
        signed_by_second = headless_tokens(provider, "qa.lead")["access_token"]
        assert checker.access_token_subject(signed_by_second) == subject_key(provider.issuer, "qa.lead")
        with pytest.raises(TokenRefused, match="key the provider does not publish"):
            checker.access_token_subject(signed_by_first)
    checker.close()


def test_an_unknown_key_id_does_not_fetch_the_keys_again_within_the_interval(tmp_path) -> None:  # noqa: ANN001
    with running_provider(tmp_path, accounts=["qa.lead"], public_url=PUBLIC_URL, keys=[signing_key("k1")]) as provider:
        token = headless_tokens(provider, "qa.lead")["access_token"]
        checker = IdentityProvider(oidc_settings(provider), lambda: datetime.now(timezone.utc),
                                   key_refresh_interval=3600)
        checker.access_token_subject(token)
    # The provider is gone: a made-up kid must be refused from the cache, not sent to fetch keys (which would fail).
    head, payload, signature = token.split(".")
    header = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    made_up = base64.urlsafe_b64encode(json.dumps({**header, "kid": "made-up"}).encode()).rstrip(b"=").decode()
    with pytest.raises(TokenRefused, match="key the provider does not publish"):
        checker.access_token_subject(f"{made_up}.{payload}.{signature}")
    assert checker.access_token_subject(token) == subject_key(provider.issuer, "qa.lead")  # from the cache
    checker.close()


def _unsigned(token: str) -> str:
    head, payload, _ = token.split(".")
    header = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    none = base64.urlsafe_b64encode(json.dumps({**header, "alg": "none"}).encode()).rstrip(b"=").decode()
    return f"{none}.{payload}."
