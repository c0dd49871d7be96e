"""A real OpenID provider for the tests: the npm package oidc-provider under Node (tests/support/oidc_provider.mjs),
started on a free 127.0.0.1 port with one client (PKCE required), a few accounts and keys the test made; and a
headless sign-in through its login form (real HTTP, as a browser would) for the tokens the API tests send."""

import base64
import hashlib
import json
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import pytest
from joserfc.jwk import RSAKey

from tests.conftest import IN_CI
from tests.support.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tests" / "support" / "oidc_provider.mjs"
CLIENT_ID = "supervision-ledger"
API_AUDIENCE = "https://svl.test/api"
OTHER_AUDIENCE = "https://another-service.test/api"


@dataclass(frozen=True)
class Provider:
    issuer: str
    port: int
    client_secret: str
    redirect_uri: str
    config: Path


def signing_key(kid: str) -> dict:
    return RSAKey.generate_key(2048, parameters={"kid": kid, "alg": "RS256", "use": "sig"},
                               private=True).as_dict(private=True)


def node() -> str:
    found = shutil.which("node")
    if found is None or not (ROOT / "node_modules" / "oidc-provider").is_dir():
        reason = "node, or oidc-provider in node_modules (make setup: npm ci), is missing"
        if IN_CI:
            pytest.fail(f"{reason}; CI=true: the single sign-on tests must run")
        pytest.skip(reason)
    return found


@contextmanager
def running_provider(folder: Path, *, accounts: list[str], public_url: str, keys: list[dict],
                     port: int | None = None, access_token_seconds: int = 300) -> Iterator[Provider]:
    """The provider, answering once it said it listens (however long a loaded machine takes); stopped after."""
    port = port or free_port()
    secret = secrets.token_urlsafe(24)
    redirect_uri = f"{public_url}/sign-in/provider/callback"
    config = folder / f"provider-{port}-{secrets.token_hex(4)}.json"
    config.write_text(json.dumps({
        "port": port, "client_id": CLIENT_ID, "client_secret": secret, "redirect_uris": [redirect_uri],
        "post_logout_redirect_uris": [f"{public_url}/signed-out"], "accounts": accounts, "jwks": {"keys": keys},
        "resources": {API_AUDIENCE: access_token_seconds, OTHER_AUDIENCE: access_token_seconds}}))
    process = subprocess.Popen([node(), str(SCRIPT), str(config)], cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    try:
        assert process.stdout is not None
        said = []
        for line in process.stdout:  # ends only when it says it listens, or exits
            said.append(line)
            if line.startswith("listening "):
                break
        else:
            raise RuntimeError(f"the OpenID provider exited: {''.join(said)}")
        yield Provider(f"http://127.0.0.1:{port}", port, secret, redirect_uri, config)
    finally:
        stop(process)


def stop(process: subprocess.Popen) -> None:
    """Asks it to stop, and makes sure it did."""
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()


def oidc_env(provider: Provider, public_url: str, *, audience: str = API_AUDIENCE) -> dict[str, str]:
    return {"SVL_OIDC_ISSUER": provider.issuer, "SVL_OIDC_CLIENT_ID": CLIENT_ID,
            "SVL_OIDC_CLIENT_SECRET": provider.client_secret, "SVL_OIDC_AUDIENCE": audience,
            "SVL_PUBLIC_URL": public_url, "SVL_OIDC_NAME": "Council Account"}


def headless_sign_in(provider: Provider, authorization_url: str, login: str) -> str:
    """Follows an authorization request through the provider's login form as `login`, as a browser would; returns
    the address the provider sends the browser back to (the redirect URI with its code and state)."""
    with httpx.Client(follow_redirects=False, timeout=30) as client:
        answer = _follow(client, provider, client.get(authorization_url))
        form = answer.text.split('action="', 1)[1].split('"', 1)[0]
        answer = client.post(urljoin(provider.issuer, form), data={"prompt": "login", "login": login,
                                                                   "password": "any"})
        return _follow(client, provider, answer).headers["location"]


def headless_tokens(provider: Provider, login: str, *, resource: str = API_AUDIENCE) -> dict:
    """Signs `login` in at the provider's own form and exchanges the code (PKCE) for its tokens, as a tool the
    council gives its staff would: what `token_endpoint` answers (access_token, id_token, ...)."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    request = httpx.URL(provider.issuer + "/auth", params={
        "client_id": CLIENT_ID, "response_type": "code", "scope": "openid api", "resource": resource,
        "redirect_uri": provider.redirect_uri, "code_challenge": challenge, "code_challenge_method": "S256",
        "state": secrets.token_urlsafe(16), "nonce": secrets.token_urlsafe(16)})
    back = headless_sign_in(provider, str(request), login)
    code = parse_qs(urlsplit(back).query)["code"][0]
    tokens = httpx.post(provider.issuer + "/token", auth=(CLIENT_ID, provider.client_secret), timeout=30, data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": provider.redirect_uri,
        "code_verifier": verifier, "resource": resource})
    tokens.raise_for_status()
    return tokens.json()


def _follow(client: httpx.Client, provider: Provider, answer: httpx.Response) -> httpx.Response:
    """Follows the provider's redirects until it shows a page or sends the browser back to us."""
    while answer.is_redirect and not answer.headers["location"].startswith(provider.redirect_uri):
        answer = client.get(urljoin(provider.issuer, answer.headers["location"]))
    return answer
