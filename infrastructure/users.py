"""Users, their roles, and bearer tokens kept only as SHA-256 hashes, with expiry and revocation.

Authentication sits behind the `Authenticator` protocol: `TokenAuthenticator` checks our own tokens;
infrastructure/provider_tokens.py checks the organisation's identity provider's JWTs, and maps their subject
to a user here (`users.external_subject`, set by `link_subject`).
"""

import hashlib
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Protocol

from sqlalchemy import (Column, Connection, DateTime, Engine, ForeignKey, LargeBinary, String, Table, bindparam, delete,
                        insert, select, update)
from sqlalchemy.exc import IntegrityError

from domain.authorisation import STAFF_ROLES, Reader, Role, account_ended
from domain.labels import USERNAME_LENGTH
from infrastructure.database import metadata, reader

TOKEN_PREFIX = "svl_"

users = Table(
    "users",
    metadata,
    Column("user_id", String(36), primary_key=True),
    Column("username", String(USERNAME_LENGTH), nullable=False, unique=True),
    Column("role", String(32), nullable=False),
    Column("worker_id", String(36), nullable=True, index=True),  # the member of staff this account is
    Column("external_subject", String(255), nullable=True, unique=True),  # an OIDC `sub`, when one is used
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", String(64), nullable=False),
    Column("disabled_at", DateTime(timezone=True), nullable=True),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("token_id", String(16), primary_key=True),
    Column("user_id", String(36), ForeignKey("users.user_id"), nullable=False, index=True),
    Column("token_sha256", String(64), nullable=False, unique=True),
    Column("label", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
)

# Web sessions (infrastructure/web_sessions.py), here so that every server process knows every browser's session.
# A row is found by the SHA-256 of the browser's cookie, never the cookie itself, and what it keeps besides (a
# sign-in in progress, the ID token, the next page's notice) is sealed with a key derived from the cookie: reading
# this table signs nobody in and completes nobody's sign-in.
web_sessions = Table(
    "web_sessions",
    metadata,
    Column("session_sha256", String(64), primary_key=True),
    Column("user_id", String(36), ForeignKey("users.user_id"), nullable=True, index=True),  # None: not signed in
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("seen_at", DateTime(timezone=True), nullable=False),  # written at most once a minute
    Column("expires_at", DateTime(timezone=True), nullable=False),  # its lifetime's end, however busy
    Column("state", LargeBinary, nullable=True),
)


class UserError(Exception):
    """A user or token command that cannot be done; the message says why."""


class AuthenticationUnavailable(Exception):
    """What checks a credential (the identity provider) cannot be reached: answer 503, not 401."""


@dataclass(frozen=True)
class Principal:
    """An authenticated caller."""

    user_id: str
    username: str
    role: Role
    worker_id: str | None
    via: str  # "token", "oidc" (a bearer JWT from the provider), "web"

    @property
    def reader(self) -> Reader:
        return Reader(self.user_id, self.role, self.worker_id)

    @property
    def actor(self) -> str:
        """Who the events name: a member of staff by their worker id (the domain decides parties by it),
        anyone else by their account."""
        if self.role in STAFF_ROLES and self.worker_id:
            return self.worker_id
        return f"user:{self.username}"


@dataclass(frozen=True)
class IssuedToken:
    token_id: str
    token: str  # shown once, never stored
    expires_at: datetime


class Authenticator(Protocol):
    def authenticate(self, credential: str) -> Principal | None:
        """The caller behind a bearer credential, or None if it is not (or no longer) valid."""


def token_sha256(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


def _aware(value: datetime) -> datetime:
    # SQLite hands back naive datetimes for timezone-aware columns; they were stored as UTC.
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)


def _ended(disabled_at: datetime | None, now: datetime) -> bool:
    return account_ended(_aware(disabled_at) if disabled_at is not None else None, now)


class UserDirectory:
    def __init__(self, engine: Engine, clock: Callable[[], datetime] = _utc_now) -> None:
        self.engine = engine
        self.clock = clock

    def add_user(self, username: str, role: str, *, worker_id: str | None = None, created_by: str) -> str:
        username = username.strip()
        if not username or len(username) > USERNAME_LENGTH:
            raise UserError(f"username must be 1 to {USERNAME_LENGTH} characters")
        try:
            role_ = Role(role)
        except ValueError:
            raise UserError(f"role {role!r} is not one of: {', '.join(r.value for r in Role)}") from None
        user_id = str(uuid.uuid4())
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(users).values(
                    user_id=user_id, username=username, role=role_.value, worker_id=worker_id,
                    created_at=self.clock(), created_by=created_by))
        except IntegrityError:
            raise UserError(f"there is already a user called {username!r}") from None
        return user_id

    def find(self, username_or_id: str) -> dict | None:
        with reader(self.engine).connect() as conn:
            row = conn.execute(select(users).where(
                (users.c.username == username_or_id) | (users.c.user_id == username_or_id))).first()
        return dict(row._mapping) if row else None

    def require(self, username_or_id: str) -> dict:
        return self._usable(self.find(username_or_id), username_or_id)

    def _usable(self, user: dict | None, username_or_id: str) -> dict:
        if user is None:
            raise UserError(f"no user {username_or_id!r}")
        if _ended(user["disabled_at"], self.clock()):
            raise UserError(f"user {user['username']!r} is disabled")
        return user

    def disable(self, username_or_id: str, at: datetime | None = None) -> dict:
        """Ends the account's access at `at` (default: now); every token of it is refused from then on."""
        user = self.find(username_or_id)
        if user is None:
            raise UserError(f"no user {username_or_id!r}")
        when = at or self.clock()
        with self.engine.begin() as conn:
            conn.execute(update(users).where(users.c.user_id == user["user_id"],
                                             (users.c.disabled_at.is_(None)) | (users.c.disabled_at > when))
                         .values(disabled_at=when))
            if when <= self.clock():
                _end_web_sessions(conn, [user["user_id"]])
        return {**user, "disabled_at": min(when, _aware(user["disabled_at"])) if user["disabled_at"] else when}

    def find_by_subject(self, subject: str) -> dict | None:
        """The account linked to an identity provider's subject (infrastructure/identity_provider.subject_key)."""
        with reader(self.engine).connect() as conn:
            row = conn.execute(select(users).where(users.c.external_subject == subject)).first()
        return dict(row._mapping) if row else None

    def link_subject(self, username_or_id: str, subject: str | None) -> dict:
        """Links the account to a provider subject (None: unlinks it); one account per subject."""
        user = self.find(username_or_id)
        if user is None:
            raise UserError(f"no user {username_or_id!r}")
        if subject is not None and not 1 <= len(subject) <= users.c.external_subject.type.length:
            raise UserError(f"an issuer and subject together must be 1 to "
                            f"{users.c.external_subject.type.length} characters")
        try:
            with self.engine.begin() as conn:
                conn.execute(update(users).where(users.c.user_id == user["user_id"]).values(external_subject=subject))
        except IntegrityError:
            other = self.find_by_subject(subject or "")
            raise UserError(f"that subject is already linked to {other['username'] if other else 'another user'!r}"
                            ) from None
        return {**user, "external_subject": subject}

    def end_access_of_worker(self, worker_id: str, at: datetime) -> list[str]:
        """A leaver's accounts end at the leaving date; returns their usernames."""
        with self.engine.begin() as conn:
            rows = conn.execute(select(users.c.user_id, users.c.username).where(users.c.worker_id == worker_id)).all()
            conn.execute(update(users).where(users.c.worker_id == worker_id,
                                             (users.c.disabled_at.is_(None)) | (users.c.disabled_at > at))
                         .values(disabled_at=at))
            if at <= self.clock():
                _end_web_sessions(conn, [r.user_id for r in rows])
        return [r.username for r in rows]

    def account_roles_of_worker(self, worker_id: str) -> frozenset[Role]:
        with reader(self.engine).connect() as conn:
            roles = conn.execute(select(users.c.role).where(users.c.worker_id == worker_id)).scalars().all()
        return frozenset(Role(r) for r in roles)

    def list_users(self) -> list[dict]:
        with reader(self.engine).connect() as conn:
            return [dict(r._mapping) for r in conn.execute(select(users).order_by(users.c.username))]

    def principal(self, username_or_id: str, via: str) -> Principal:
        return self.principal_of(self.find(username_or_id), via, username_or_id)

    def principal_of(self, user: dict | None, via: str, username_or_id: str = "") -> Principal:
        """The principal of an account row already read (a web session reads its account with it), under the same
        checks as `principal`."""
        user = self._usable(user, username_or_id)
        return Principal(user["user_id"], user["username"], Role(user["role"]), user["worker_id"], via)

    def issue_token(self, username_or_id: str, *, days: float = 30, label: str = "cli") -> IssuedToken:
        """A random 32-byte token; only its SHA-256 is kept, so it is shown to the caller once."""
        user = self.require(username_or_id)
        if days <= 0:
            raise UserError("a token must last a positive number of days")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        token_id = secrets.token_hex(8)
        expires_at = self.clock() + timedelta(days=days)
        with self.engine.begin() as conn:
            conn.execute(insert(api_tokens).values(
                token_id=token_id, user_id=user["user_id"], token_sha256=token_sha256(token), label=label[:64],
                created_at=self.clock(), expires_at=expires_at))
        return IssuedToken(token_id, token, expires_at)

    def revoke_token(self, token_id_or_token: str) -> str:
        """Revokes by token id (as `svl token issue` prints) or by the token itself; returns the token id."""
        digest = token_sha256(token_id_or_token)
        with self.engine.begin() as conn:
            row = conn.execute(select(api_tokens.c.token_id, api_tokens.c.revoked_at).where(
                (api_tokens.c.token_id == token_id_or_token) | (api_tokens.c.token_sha256 == digest))).first()
            if row is None:
                raise UserError(f"no token {token_id_or_token!r}")
            if row.revoked_at is None:
                conn.execute(update(api_tokens).where(api_tokens.c.token_id == row.token_id)
                             .values(revoked_at=self.clock()))
        return row.token_id

    def revoke_tokens_labelled(self, label: str) -> int:
        with self.engine.begin() as conn:
            return conn.execute(update(api_tokens).where(api_tokens.c.label == label,
                                                         api_tokens.c.revoked_at.is_(None))
                                .values(revoked_at=self.clock())).rowcount

    def list_tokens(self, username_or_id: str | None = None) -> list[dict]:
        query = (select(api_tokens.c.token_id, users.c.username, api_tokens.c.label, api_tokens.c.created_at,
                        api_tokens.c.expires_at, api_tokens.c.revoked_at)
                 .join(users, users.c.user_id == api_tokens.c.user_id).order_by(api_tokens.c.created_at))
        if username_or_id:
            user = self.require(username_or_id)
            query = query.where(api_tokens.c.user_id == user["user_id"])
        with reader(self.engine).connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]


def _end_web_sessions(conn: Connection, user_ids: list[str]) -> None:
    """An account that ended is signed out of every browser at once, in every server process (a later end, a
    leaving date still to come, is caught by the check of the account on each page)."""
    if user_ids:
        conn.execute(delete(web_sessions).where(web_sessions.c.user_id.in_(user_ids)))


# Built once: every request runs it, and building and keying a new statement each time cost more than the query.
_TOKEN_QUERY = (select(users.c.user_id, users.c.username, users.c.role, users.c.worker_id, users.c.disabled_at,
                       api_tokens.c.expires_at, api_tokens.c.revoked_at)
                .join(users, users.c.user_id == api_tokens.c.user_id)
                .where(api_tokens.c.token_sha256 == bindparam("token_sha256")))


class TokenAuthenticator:
    """Checks a bearer token against the stored hashes: unknown, expired, revoked or disabled → None."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime] = _utc_now) -> None:
        self.engine = engine
        self.clock = clock

    def authenticate(self, credential: str) -> Principal | None:
        if not credential.startswith(TOKEN_PREFIX) or len(credential) > 200:
            return None
        # A read: on SQLite it must not queue behind a writer (every request, and /health, would wait with it).
        with reader(self.engine).connect() as conn:
            row = conn.execute(_TOKEN_QUERY, {"token_sha256": token_sha256(credential)}).first()
        now = self.clock()
        if row is None or row.revoked_at is not None or _ended(row.disabled_at, now):
            return None
        if _aware(row.expires_at) <= now:
            return None
        return Principal(row.user_id, row.username, Role(row.role), row.worker_id, "token")
