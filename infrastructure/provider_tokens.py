"""Bearer JWTs from the organisation's identity provider, accepted by the API beside our own tokens: the JWT is
validated against the provider's keys (audience SVL_OIDC_AUDIENCE, expiry, issuer), then its subject must be
linked to an account here (`svl user link`) that is not disabled. Nobody is created by signing in."""

import logging

from infrastructure.identity_provider import IdentityProvider, ProviderUnavailable, TokenRefused
from infrastructure.users import (TOKEN_PREFIX, AuthenticationUnavailable, Authenticator, Principal, UserDirectory,
                                  UserError)

log = logging.getLogger("svl.sign-in")


class ProviderTokenAuthenticator:
    def __init__(self, provider: IdentityProvider, users: UserDirectory) -> None:
        self.provider = provider
        self.users = users

    def authenticate(self, credential: str) -> Principal | None:
        try:
            subject = self.provider.access_token_subject(credential)
        except TokenRefused as refused:
            log.info("API bearer JWT refused: %s", refused)
            return None
        except ProviderUnavailable as down:
            raise AuthenticationUnavailable(f"the identity provider cannot be reached: {down}") from None
        user = self.users.find_by_subject(subject)
        if user is None:
            log.warning("API bearer JWT refused: no account is linked to subject %s", subject)
            return None
        try:
            return self.users.principal(user["user_id"], via="oidc")
        except UserError as refused:  # disabled, or left
            log.warning("API bearer JWT refused for %s: %s", user["username"], refused)
            return None


class OurTokensThenProvider:
    """Our opaque tokens (`svl_…`) are checked here; anything else is offered to the provider."""

    def __init__(self, ours: Authenticator, provider: Authenticator) -> None:
        self.ours = ours
        self.provider = provider

    def authenticate(self, credential: str) -> Principal | None:
        if credential.startswith(TOKEN_PREFIX):
            return self.ours.authenticate(credential)
        return self.provider.authenticate(credential)

