"""Web sessions, kept on the server: the browser holds only a random id (in an HttpOnly, SameSite=Lax cookie,
Secure over TLS); the store keeps its SHA-256, who signed in, a CSRF token, and when it expires.

A session ends after `idle` without a request, `lifetime` after it began, or at sign-out. Sessions are held in
memory: a restart signs everyone out (one `svl serve` process serves the interface). A visitor who has not
signed in has a session too, so that the sign-in forms carry a CSRF token; signing in replaces it with a new
id (no session fixation).
"""

import hashlib
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

COOKIE = "svl_session"
CSRF_FIELD = "csrf_token"


@dataclass
class Session:
    csrf: str
    started: float
    seen: float
    user_id: str | None = None
    # One message shown on the next page (e.g. "Record shared"), then dropped.
    notices: list[str] = field(default_factory=list)
    # Single sign-on (api/web/provider_sign_in.py): the state, nonce and PKCE verifier of a sign-in sent to the
    # provider, until it returns; then the ID token, kept only here, as the hint for signing out there too.
    pending_sign_in: Any = None
    id_token: str | None = None


class SessionStore:
    def __init__(self, idle_seconds: float = 30 * 60, lifetime_seconds: float = 8 * 3600,
                 now: Callable[[], float] = time.monotonic, max_sessions: int = 100_000) -> None:
        self.idle = idle_seconds
        self.lifetime = lifetime_seconds
        self.now = now
        self.max_sessions = max_sessions
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def open(self, user_id: str | None = None) -> tuple[str, Session]:
        """A new session; returns the cookie value (shown to nobody else, never stored) and the session."""
        cookie = secrets.token_urlsafe(32)
        moment = self.now()
        session = Session(csrf=secrets.token_urlsafe(32), started=moment, seen=moment, user_id=user_id)
        with self._lock:
            if len(self._sessions) >= self.max_sessions:
                self._drop_expired(moment)
            if len(self._sessions) >= self.max_sessions:  # still full: the oldest anonymous ones go first
                for key in [k for k, s in sorted(self._sessions.items(), key=lambda kv: kv[1].seen)
                            if s.user_id is None][: max(1, self.max_sessions // 10)]:
                    del self._sessions[key]
            self._sessions[_key(cookie)] = session
        return cookie, session

    def find(self, cookie: str | None) -> Session | None:
        """The live session behind a cookie, or None (unknown, expired or signed out)."""
        if not cookie or len(cookie) > 100:
            return None
        moment = self.now()
        with self._lock:
            session = self._sessions.get(_key(cookie))
            if session is None:
                return None
            if moment - session.seen > self.idle or moment - session.started > self.lifetime:
                del self._sessions[_key(cookie)]
                return None
            session.seen = moment
            return session

    def close(self, cookie: str | None) -> None:
        if cookie:
            with self._lock:
                self._sessions.pop(_key(cookie), None)

    def close_all_for(self, user_id: str) -> None:
        with self._lock:
            for key in [k for k, s in self._sessions.items() if s.user_id == user_id]:
                del self._sessions[key]

    def _drop_expired(self, moment: float) -> None:
        for key in [k for k, s in self._sessions.items()
                    if moment - s.seen > self.idle or moment - s.started > self.lifetime]:
            del self._sessions[key]


def csrf_matches(session: Session, submitted: str | None) -> bool:
    return bool(submitted) and secrets.compare_digest(session.csrf.encode(), str(submitted).encode())


def _key(cookie: str) -> str:
    return hashlib.sha256(cookie.encode("utf-8", "replace")).hexdigest()
