"""Which process projects the read models: the one holding a PostgreSQL advisory lock.

Every `svl serve` worker (and every server on another host sharing the database) tries for the same session
lock, keyed by the schema. The holder projects and signs the automatic checkpoints; the others only read. The
lock lives on one dedicated connection, so when the leader dies (even by SIGKILL) its connection closes, the
server releases the lock and the next follower to try takes over, within its polling interval. Correctness never
rests on there being one leader: every catch-up locks the read-model positions, so two projectors queue.

The lock's connection also LISTENs on the schema's channel: other processes NOTIFY it after a write, or when a
query is waiting for the read models, so the leader projects at once rather than at its next poll.
On SQLite there is one server process, and it always leads.
"""

import logging
import threading
from collections.abc import Callable

from sqlalchemy import Connection, Engine, text

log = logging.getLogger(__name__)

LOCK_KEY = "hashtext('svl-projector:' || current_schema())"


class Leadership:
    """`held()` says whether this process leads now; `contend()` tries to (cheap when it already does)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.shared = engine.dialect.name == "postgresql"
        self._conn: Connection | None = None
        self._held = not self.shared
        self._channel: str | None = None
        self._lock = threading.Lock()
        # Told when this process gains or loses the lead (e.g. metrics).
        self.on_change: list[Callable[[bool], None]] = []

    def held(self) -> bool:
        return self._held

    def contend(self) -> bool:
        """Takes the lock if it is free; checks the lock's connection is alive if this process holds it."""
        if not self.shared:
            return True
        with self._lock:
            try:
                if self._conn is None:
                    self._conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
                    self._channel = self._conn.execute(text("SELECT 'svl_projector_' || md5(current_schema())")
                                                       ).scalar_one()
                if self._held:
                    self._conn.execute(text("SELECT 1"))
                else:
                    got = self._conn.execute(text(f"SELECT pg_try_advisory_lock({LOCK_KEY})")).scalar_one()
                    if got:
                        self._conn.execute(text(f'LISTEN "{self._channel}"'))
                        self._set(True)
            except Exception as exc:  # noqa: BLE001 - the connection died: the lock went with it
                log.warning("projection lead lost or not taken: %s", type(exc).__name__)
                self._discard()
        return self._held

    def wait_for_notice(self, timeout: float) -> bool:
        """The leader's wait: True when another process asked it to project (or the timeout passed first: False)."""
        with self._lock:
            conn = self._conn
        if conn is None or not self._held:
            return False
        try:
            import psycopg  # here: the leader contends only on PostgreSQL, and SQLite's callers need not import it

            raw = conn.connection.dbapi_connection
            assert isinstance(raw, psycopg.Connection)
            return any(True for _ in raw.notifies(timeout=timeout, stop_after=1))
        except Exception as exc:  # noqa: BLE001 - the connection died: the next contend() finds out
            log.warning("projection lead's connection failed: %s", type(exc).__name__)
            with self._lock:
                self._discard()
            return False

    def notify(self, conn: Connection) -> None:
        """Wakes the leader, on the caller's own connection (outside any transaction that could be rolled back)."""
        if self.shared:
            conn.execute(text("SELECT pg_notify('svl_projector_' || md5(current_schema()), '')"))

    def release(self) -> None:
        with self._lock:
            if self._conn is not None and self._held:
                try:
                    self._conn.execute(text(f"SELECT pg_advisory_unlock({LOCK_KEY})"))
                except Exception:  # noqa: BLE001 - closing the connection releases it anyway
                    pass
            self._discard()

    def _discard(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.invalidate()  # never back into the pool: it may still hold the lock or the LISTEN
                conn.close()
            except Exception:  # noqa: BLE001
                pass
        if self.shared and self._held:
            self._set(False)

    def _set(self, held: bool) -> None:
        self._held = held
        for listener in self.on_change:
            listener(held)
