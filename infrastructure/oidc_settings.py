"""How the organisation's OpenID Connect provider is configured (SVL_OIDC_*, SVL_PUBLIC_URL). Read at the edge
with the other settings; nothing here talks to the provider (infrastructure/identity_provider.py does)."""

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

CALLBACK_PATH = "/sign-in/provider/callback"
SIGNED_OUT_PATH = "/signed-out"


@dataclass(frozen=True)
class OidcSettings:
    issuer: str
    client_id: str
    client_secret: str = ""
    # The `aud` a bearer JWT for the API must carry (the API's identifier at the provider); empty: the API
    # accepts no JWTs, only our own tokens.
    audience: str = ""
    # Where browsers reach this service (the redirect URI registered at the provider is built from it).
    public_url: str = ""
    provider_name: str = "your organisation's account"
    timeout: float = 5.0

    @property
    def redirect_uri(self) -> str:
        return self.public_url + CALLBACK_PATH

    @property
    def post_logout_redirect_uri(self) -> str:
        return self.public_url + SIGNED_OUT_PATH

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "OidcSettings | None":
        """None when SVL_OIDC_ISSUER is unset (single sign-on off); a ValueError naming the variable when what is
        set cannot work."""
        issuer = env.get("SVL_OIDC_ISSUER", "").strip()
        if not issuer:
            return None
        _check_url("SVL_OIDC_ISSUER", issuer)
        client_id = env.get("SVL_OIDC_CLIENT_ID", "").strip()
        if not client_id:
            raise ValueError("SVL_OIDC_CLIENT_ID must be set with SVL_OIDC_ISSUER (the client id the provider gave)")
        public_url = env.get("SVL_PUBLIC_URL", "").strip().rstrip("/")
        if not public_url:
            raise ValueError("SVL_PUBLIC_URL must be set with SVL_OIDC_ISSUER: the address browsers use for this "
                             f"service (the provider sends them back to SVL_PUBLIC_URL{CALLBACK_PATH})")
        _check_url("SVL_PUBLIC_URL", public_url)
        timeout = env.get("SVL_OIDC_TIMEOUT", "5")
        try:
            seconds = float(timeout)
        except ValueError:
            raise ValueError(f"SVL_OIDC_TIMEOUT must be a number of seconds, got {timeout!r}") from None
        return cls(issuer=issuer,
                   client_id=client_id, client_secret=_secret(env), audience=env.get("SVL_OIDC_AUDIENCE", "").strip(),
                   public_url=public_url, provider_name=env.get("SVL_OIDC_NAME", "").strip() or cls.provider_name,
                   timeout=max(0.5, seconds))


def _secret(env: Mapping[str, str]) -> str:
    secret_file = env.get("SVL_OIDC_CLIENT_SECRET_FILE", "").strip()
    if secret_file:
        try:
            return Path(secret_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ValueError(f"SVL_OIDC_CLIENT_SECRET_FILE {secret_file} cannot be read: {exc.strerror}") from None
    return env.get("SVL_OIDC_CLIENT_SECRET", "").strip()


def _check_url(name: str, url: str) -> None:
    # Tokens and codes travel over these: TLS, except on this machine's loopback (tests, a local provider).
    parts = urlsplit(url)
    loopback = parts.hostname in ("127.0.0.1", "localhost", "::1")
    if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
        raise ValueError(f"{name} must be an https:// address (http only on 127.0.0.1), got {url!r}")
    if parts.query or parts.fragment:
        raise ValueError(f"{name} must have no query or fragment, got {url!r}")

