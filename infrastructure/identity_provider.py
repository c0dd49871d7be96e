"""The organisation's OpenID Connect provider, as a relying party sees it: discovery, its signing keys (JWKS,
cached, fetched again when a token names a key we do not hold), the authorization code flow with PKCE
(Authlib's OAuth 2.0 client), and validating what it signs (joserfc): ID tokens for the web sign-in, JWT access
tokens for the API.

A person is known to us by the pair (issuer, subject): `subject_key` joins them with "#", which an issuer
identifier may not contain (OpenID Connect Discovery: no query or fragment), so the pair is unambiguous and
two providers' subjects never collide. Nothing here logs or keeps a code or a token.
"""

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx2
from authlib.common.security import generate_token
from authlib.integrations.httpx_client import OAuth2Client
from authlib.integrations.base_client import OAuthError
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry

from infrastructure.oidc_settings import OidcSettings

LEEWAY_SECONDS = 60  # clock skew between us and the provider
# How soon an unknown key id may make us fetch the keys again (a stream of made-up kids must not become a
# stream of requests to the provider).
KEY_REFRESH_INTERVAL = 30.0
# RFC 9068 access tokens say `at+jwt`; some providers (Entra ID) say `JWT`. Anything else (an ID token has
# none of these in oidc-provider; a logout token says `logout+jwt`) is not an access token.
ACCESS_TOKEN_TYPES = {"at+jwt", "application/at+jwt", "jwt"}


class ProviderUnavailable(Exception):
    """The provider did not answer (in time, or sensibly): nothing can be checked against it just now."""


class TokenRefused(Exception):
    """A token or sign-in answer that does not check out; the message says why (never the token itself)."""


def subject_key(issuer: str, subject: str) -> str:
    return f"{issuer}#{subject}"


@dataclass(frozen=True)
class PendingSignIn:
    """What the browser's session keeps between sending someone to the provider and their return."""

    state: str
    nonce: str
    code_verifier: str
    url: str


@dataclass(frozen=True)
class SignedIn:
    subject: str  # subject_key(iss, sub)
    id_token: str  # kept only in the server-side session, as the logout hint


class IdentityProvider:
    def __init__(self, settings: OidcSettings, clock: Callable[[], datetime],
                 key_refresh_interval: float = KEY_REFRESH_INTERVAL,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self.clock = clock
        self.key_refresh_interval = key_refresh_interval
        self.monotonic = monotonic
        self._http = httpx2.Client(timeout=settings.timeout, follow_redirects=False)
        self._lock = threading.Lock()
        self._metadata: dict[str, Any] | None = None
        self._keys: KeySet | None = None
        self._keys_fetched = float("-inf")

    @property
    def name(self) -> str:
        return self.settings.provider_name

    @property
    def origin(self) -> str:
        """Where its pages are (the sign-out form's answer redirects there)."""
        parts = urlsplit(self.settings.issuer)
        return f"{parts.scheme}://{parts.netloc}"

    def close(self) -> None:
        self._http.close()

    # -- discovery and keys -----------------------------------------------------------------------------------

    def metadata(self) -> dict[str, Any]:
        with self._lock:
            if self._metadata is None:
                found = self._get_json(self.settings.issuer + "/.well-known/openid-configuration")
                if found.get("issuer") != self.settings.issuer:
                    # OpenID Connect Discovery §4.3: a mismatch means this is not the provider we were told of.
                    raise ProviderUnavailable(f"the provider's discovery document names issuer "
                                              f"{found.get('issuer')!r}, not SVL_OIDC_ISSUER {self.settings.issuer!r}")
                for needed in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
                    if not isinstance(found.get(needed), str):
                        raise ProviderUnavailable(f"the provider's discovery document has no {needed}")
                self._metadata = found
            return self._metadata

    def _key_set(self, kid: str | None) -> KeySet:
        """The provider's keys; fetched again when `kid` is not among them (the provider rotated its keys),
        at most once per `key_refresh_interval`."""
        jwks_uri = self.metadata()["jwks_uri"]
        with self._lock:
            known = self._keys is not None and (kid is None or any(k.kid == kid for k in self._keys))
            if not known and (self._keys is None
                              or self.monotonic() - self._keys_fetched >= self.key_refresh_interval):
                try:
                    self._keys = KeySet.import_key_set(self._get_json(jwks_uri))
                except (JoseError, ValueError, KeyError, TypeError) as exc:
                    raise ProviderUnavailable(f"the provider's keys (jwks_uri) could not be read: {exc}") from None
                self._keys_fetched = self.monotonic()
            assert self._keys is not None
            return self._keys

    def _get_json(self, url: str) -> dict[str, Any]:
        try:
            answer = self._http.get(url, headers={"Accept": "application/json"})
        except httpx2.HTTPError as exc:
            raise ProviderUnavailable(f"{url} did not answer: {type(exc).__name__}") from None
        if answer.status_code != 200:
            raise ProviderUnavailable(f"{url} answered {answer.status_code}")
        try:
            body = answer.json()
        except ValueError:
            raise ProviderUnavailable(f"{url} did not answer with JSON") from None
        if not isinstance(body, dict):
            raise ProviderUnavailable(f"{url} did not answer with a JSON object")
        return body

    # -- the web sign-in: authorization code flow with PKCE ---------------------------------------------------

    def _client(self) -> OAuth2Client:
        return OAuth2Client(self.settings.client_id, self.settings.client_secret or None, scope="openid",
                            redirect_uri=self.settings.redirect_uri, code_challenge_method="S256",
                            token_endpoint_auth_method="client_secret_basic" if self.settings.client_secret
                            else "none", timeout=self.settings.timeout)

    def begin_sign_in(self) -> PendingSignIn:
        endpoint = self.metadata()["authorization_endpoint"]
        verifier, nonce = generate_token(64), generate_token(32)
        with self._client() as client:
            url, state = client.create_authorization_url(endpoint, state=generate_token(32), code_verifier=verifier,
                                                         nonce=nonce)
        return PendingSignIn(state, nonce, verifier, url)

    def finish_sign_in(self, pending: PendingSignIn, answer: dict[str, str]) -> SignedIn:
        """The provider's answer at the redirect URI (its query): checked against what we sent, the code
        exchanged (with the PKCE verifier), and the ID token validated."""
        if answer.get("state") != pending.state:
            raise TokenRefused("the answer's state does not match the sign-in this browser started")
        if "error" in answer:
            raise TokenRefused(f"the provider refused the sign-in: {answer.get('error', '')[:100]}")
        issuer_answered = answer.get("iss")
        if issuer_answered is not None and issuer_answered != self.settings.issuer:  # RFC 9207: mix-up defence
            raise TokenRefused("the answer came from another issuer")
        code = answer.get("code", "")
        if not code:
            raise TokenRefused("the answer carries no authorization code")
        token_endpoint = self.metadata()["token_endpoint"]
        try:
            with self._client() as client:
                tokens = client.fetch_token(token_endpoint, grant_type="authorization_code", code=code,
                                            code_verifier=pending.code_verifier)
        except OAuthError as exc:
            raise TokenRefused(f"the provider would not exchange the code: {exc.error}") from None
        except httpx2.HTTPError as exc:
            raise ProviderUnavailable(f"the token endpoint did not answer: {type(exc).__name__}") from None
        id_token = tokens.get("id_token")
        if not isinstance(id_token, str):
            raise TokenRefused("the provider sent no ID token")
        claims = self._verified(id_token, audience=self.settings.client_id, nonce=pending.nonce)
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        if len(audiences) > 1 and claims.get("azp") != self.settings.client_id:
            raise TokenRefused("the ID token was issued to another party (azp)")
        return SignedIn(subject_key(claims["iss"], claims["sub"]), id_token)

    def logout_url(self, id_token: str) -> str | None:
        """RP-initiated logout at the provider, if it offers it (discovery's end_session_endpoint)."""
        try:
            endpoint = self.metadata().get("end_session_endpoint")
        except ProviderUnavailable:
            return None
        if not isinstance(endpoint, str):
            return None
        query = urlencode({"id_token_hint": id_token, "client_id": self.settings.client_id,
                           "post_logout_redirect_uri": self.settings.post_logout_redirect_uri})
        return f"{endpoint}{'&' if '?' in endpoint else '?'}{query}"

    # -- bearer JWTs for the API ------------------------------------------------------------------------------

    def access_token_subject(self, token: str) -> str:
        """The subject key of a JWT access token for our API (audience SVL_OIDC_AUDIENCE), or TokenRefused."""
        if not self.settings.audience:
            raise TokenRefused("this service accepts no provider tokens (SVL_OIDC_AUDIENCE is not set)")
        claims, header = self._verified_with_header(token, audience=self.settings.audience)
        kind = str(header.get("typ", "jwt")).lower()
        if kind not in ACCESS_TOKEN_TYPES:
            raise TokenRefused(f"a {kind} token is not an access token")
        return subject_key(claims["iss"], claims["sub"])

    # -- validation ---------------------------------------------------------------------------------------------

    def _verified(self, token: str, *, audience: str, nonce: str | None = None) -> dict[str, Any]:
        return self._verified_with_header(token, audience=audience, nonce=nonce)[0]

    def _verified_with_header(self, token: str, *, audience: str,
                              nonce: str | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
        if token.count(".") != 2 or len(token) > 16_384:
            raise TokenRefused("not a signed JWT")
        algorithms = self.metadata().get("id_token_signing_alg_values_supported") or ["RS256"]
        # "none" and the HMAC family are never accepted: only the provider's published public keys sign.
        algorithms = [a for a in algorithms if a != "none" and not a.startswith("HS")]
        registry = JWSRegistry(algorithms=algorithms, strict_check_header=False)
        try:
            kid = _unverified_kid(token)
            try:
                decoded = jwt.decode(token, self._key_set(kid), registry=registry)
            except InvalidKeyIdError:
                raise TokenRefused("signed by a key the provider does not publish") from None
            options: dict[str, Any] = {
                "iss": {"essential": True, "value": self.settings.issuer},
                "aud": {"essential": True, "value": audience},
                "sub": {"essential": True},
                "exp": {"essential": True},
                "iat": {"essential": True},
            }
            if nonce is not None:
                options["nonce"] = {"essential": True, "value": nonce}
            now = int(self.clock().timestamp())
            jwt.JWTClaimsRegistry(now=now, leeway=LEEWAY_SECONDS, **options).validate(decoded.claims)
        except JoseError as exc:
            raise TokenRefused(f"the token does not check out: {exc.error}"
                               + (f" ({exc.description})" if exc.description else "")) from None
        return decoded.claims, dict(decoded.header)


def _unverified_kid(token: str) -> str | None:
    """The key id a token names, read before its signature is checked (only to pick the key)."""
    from joserfc.util import json_b64decode

    try:
        header = json_b64decode(token.split(".", 1)[0].encode("ascii"))
    except (ValueError, TypeError, UnicodeError):
        raise TokenRefused("not a signed JWT (unreadable header)") from None
    if not isinstance(header, dict):
        raise TokenRefused("not a signed JWT")
    kid = header.get("kid")
    return kid if isinstance(kid, str) else None
