"""Web sessions, kept in the database (the `web_sessions` table, infrastructure/users.py), so that every
`svl serve` process knows every browser's session: a sign-in begun on one worker is completed on another, a
sign-out on one ends the session on all, and a restart signs nobody out.

The browser holds only a random id (in an HttpOnly, SameSite=Lax cookie, Secure over TLS). The table keeps its
SHA-256, who signed in, when the session began, was last seen and must end; and, sealed (AES-GCM) with a key
derived from the id, so that only the browser's own requests can open it: a sign-in sent to the identity
provider (state, nonce, PKCE verifier), the ID token (the hint for signing out there too), and a notice for the
next page. The CSRF token is derived from the id too (an HMAC): the same in every process, and not in the table.

A visitor who has not signed in has a session (the sign-in forms carry its CSRF token) but no row until there
is something to keep (a sign-in sent to the provider, a notice): a stream of visitors writes nothing. Signing in
replaces the session with a new id (no session fixation). A session ends after `idle` without a request,
`lifetime` after it began, at sign-out, or when its account is disabled; ended rows are deleted, and rows
nobody came back for are purged every few minutes.
"""

import hashlib
import hmac
import json
import logging
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from functools import cached_property
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Engine, bindparam, delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from infrastructure.database import database_unavailable, reader
from infrastructure.users import users, web_sessions

log = logging.getLogger("svl.web")
# What secrets.token_urlsafe(32) makes; anything else in the cookie is not one of our ids.
WELL_FORMED = re.compile(r"[A-Za-z0-9_-]{43}")
# `seen_at` is written only when it is older than this, so that a busy session is not a write on every page
# (on SQLite every write waits its turn: infrastructure/write_turns.py). Idleness is measured to within it.
SEEN_EVERY = timedelta(seconds=60)
PURGE_EVERY_SECONDS = 300.0
_NONCE_BYTES = 12
# A session and its account's row, read together on every page (built once: it is the same every time).
_WITH_ACCOUNT = (select(web_sessions, *(c.label(f"account_{c.name}") for c in users.c))
                 .outerjoin(users, users.c.user_id == web_sessions.c.user_id)
                 .where(web_sessions.c.session_sha256 == bindparam("digest")))


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def new_id() -> str:
    return secrets.token_urlsafe(32)


def well_formed(cookie: str | None) -> bool:
    return bool(cookie) and WELL_FORMED.fullmatch(cookie or "") is not None


def digest_of(cookie: str) -> str:
    return hashlib.sha256(cookie.encode("utf-8", "replace")).hexdigest()


def _derived(cookie: str, purpose: bytes) -> bytes:
    return hmac.new(cookie.encode("ascii"), b"svl web session: " + purpose, hashlib.sha256).digest()


@dataclass
class Session:
    cookie: str  # the browser's id: in memory for this request only, never stored
    started: datetime
    seen: datetime
    user_id: str | None = None
    # One message shown on the next page (e.g. "Record shared"), then dropped.
    notices: list[str] = field(default_factory=list)
    # Single sign-on (api/web/provider_sign_in.py): the state, nonce and PKCE verifier of a sign-in sent to the
    # provider, until it returns; then the ID token, as the hint for signing out there too.
    pending_sign_in: dict[str, str] | None = None
    id_token: str | None = None
    stored: bool = False  # whether it has a row
    # Its account's row, read with the session in one statement: the page checks it (disabled? which role?)
    # without a second query. None when nobody is signed in or the account is gone.
    account: dict | None = None
    sealed: bytes | None = None  # its row's state as read (taking the pending sign-in compares it)

    @cached_property
    def digest(self) -> str:
        return digest_of(self.cookie)

    @cached_property
    def csrf(self) -> str:
        return _derived(self.cookie, b"csrf").hex()

    def seal(self) -> bytes | None:
        kept = {k: v for k, v in (("notices", self.notices), ("pending_sign_in", self.pending_sign_in),
                                  ("id_token", self.id_token)) if v}
        if not kept:
            return None
        nonce = secrets.token_bytes(_NONCE_BYTES)
        return nonce + AESGCM(_derived(self.cookie, b"state")).encrypt(
            nonce, json.dumps(kept).encode(), self.digest.encode())

    def unseal(self, sealed: bytes | None) -> None:
        self.sealed = sealed
        if not sealed:
            return
        try:
            kept: dict[str, Any] = json.loads(AESGCM(_derived(self.cookie, b"state")).decrypt(
                sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:], self.digest.encode()))
        except (InvalidTag, ValueError):  # not sealed for this id: keep nothing of it
            log.warning("a web session's stored state could not be opened; it is ignored")
            return
        self.notices = list(kept.get("notices") or [])
        self.pending_sign_in = kept.get("pending_sign_in")
        self.id_token = kept.get("id_token")


class SessionStore:
    """`engine` writes (each write takes its turn on SQLite); `reads` is the engine for queries (Storage.reads),
    which on SQLite waits for no writer."""

    def __init__(self, engine: Engine, reads: Engine | None = None, *, idle_seconds: float = 30 * 60,
                 lifetime_seconds: float = 8 * 3600, now: Callable[[], datetime] = utc_now,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.engine = engine
        self.reads = reads if reads is not None else reader(engine)
        self.idle = timedelta(seconds=idle_seconds)
        self.lifetime = timedelta(seconds=lifetime_seconds)
        self.now = now
        self.monotonic = monotonic
        self._purged = float("-inf")

    def visitor(self, cookie: str | None = None) -> Session:
        """A session for someone not signed in, under their id if it is one of ours, else a new one; no row."""
        moment = self.now()
        return Session(cookie if well_formed(cookie) else new_id(), moment, moment)

    def open(self, user_id: str, id_token: str | None = None) -> Session:
        """A new signed-in session, under a new id (the cookie the browser is given; shown to nobody else)."""
        session = self.visitor()
        session.user_id, session.id_token = user_id, id_token
        self.save(session)
        return session

    def find(self, cookie: str | None) -> Session | None:
        """The live session stored behind a cookie, or None (unknown, expired or ended)."""
        if not well_formed(cookie):
            return None
        assert cookie is not None
        digest = digest_of(cookie)
        with self.reads.connect() as conn:
            row = conn.execute(_WITH_ACCOUNT, {"digest": digest}).first()
        if row is None:
            return None
        moment = self.now()
        if moment >= row.expires_at or moment - row.seen_at > self.idle:
            self.close(cookie)
            return None
        session = Session(cookie, row.started_at, row.seen_at, row.user_id, stored=True)
        found = row._mapping
        if found["account_user_id"] is not None:
            session.account = {c.name: found[f"account_{c.name}"] for c in users.c}
        session.unseal(row.state)
        if moment - row.seen_at >= SEEN_EVERY:
            self._seen(session, moment)
        return session

    def save(self, session: Session) -> None:
        """Keeps what the session holds now: a row for it if it had none, else its state."""
        sealed = session.seal()
        if not session.stored:
            self._purge_now_and_then()
            try:
                with self.engine.begin() as conn:
                    conn.execute(insert(web_sessions).values(
                        session_sha256=session.digest, user_id=session.user_id, started_at=session.started,
                        seen_at=session.seen, expires_at=session.started + self.lifetime, state=sealed))
                session.stored, session.sealed = True, sealed
                return
            except IntegrityError:  # the same visitor's other request (another tab) made the row first
                session.stored = True
        with self.engine.begin() as conn:
            conn.execute(update(web_sessions).where(web_sessions.c.session_sha256 == session.digest)
                         .values(state=sealed))
        session.sealed = sealed

    def take_pending_sign_in(self, session: Session) -> dict[str, str] | None:
        """The sign-in sent to the provider, once only: of two answers at once (in two processes), one wins."""
        pending = session.pending_sign_in
        if pending is None or not session.stored:
            return None
        session.pending_sign_in = None
        sealed = session.seal()
        with self.engine.begin() as conn:
            matched = conn.execute(update(web_sessions).where(
                web_sessions.c.session_sha256 == session.digest,
                web_sessions.c.state == session.sealed).values(state=sealed)).rowcount
        session.sealed = sealed
        return pending if matched == 1 else None

    def close(self, cookie: str | None) -> None:
        if well_formed(cookie):
            assert cookie is not None
            with self.engine.begin() as conn:
                conn.execute(delete(web_sessions).where(web_sessions.c.session_sha256 == digest_of(cookie)))

    def close_all_for(self, user_id: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(web_sessions).where(web_sessions.c.user_id == user_id))

    def purge(self) -> int:
        """Deletes the rows of sessions that have ended (idle too long, or past their lifetime)."""
        moment = self.now()
        with self.engine.begin() as conn:
            return conn.execute(delete(web_sessions).where(or_(
                web_sessions.c.expires_at <= moment, web_sessions.c.seen_at < moment - self.idle))).rowcount

    def _purge_now_and_then(self) -> None:
        if self.monotonic() - self._purged < PURGE_EVERY_SECONDS:
            return
        self._purged = self.monotonic()
        try:
            purged = self.purge()
        except Exception as error:  # the next new session tries again
            if not database_unavailable(error):
                raise
            log.warning("ended web sessions could not be purged just now: %s", (str(error).splitlines() or [""])[0])
            return
        if purged:
            log.info("purged %d ended web sessions", purged)

    def _seen(self, session: Session, moment: datetime) -> None:
        """Best effort: a page that only reads is not refused because its session's last-seen time could not be
        written (SQLite's write lock held elsewhere); it is written by a later page."""
        try:
            with self.engine.begin() as conn:
                conn.execute(update(web_sessions).where(web_sessions.c.session_sha256 == session.digest)
                             .values(seen_at=moment))
        except Exception as error:
            if not database_unavailable(error):
                raise
            log.info("a web session's last-seen time was not written: %s", (str(error).splitlines() or [""])[0])
            return
        session.seen = moment


def csrf_matches(session: Session, submitted: str | None) -> bool:
    return bool(submitted) and secrets.compare_digest(session.csrf.encode(), str(submitted).encode())
