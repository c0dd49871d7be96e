"""Keeps the read models up to date from the notification log, with the position tracked in the same
transaction as the rows it produced: restart-safe, idempotent, rebuildable from zero.

The library's ProjectionRunner needs a recorder that supports subscriptions, which its SQLite
recorder does not; this runner pulls from the notification log instead, on both backends.
"""

import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select

from projections import access_log, current_records, retention_schedule, supervision_compliance, worker_files
from projections.schema import projection_positions, read_models

Handler = Callable[[Connection, Any], None]
# Each read-model module maps event classes to handlers; an event may feed several modules.
MODULES = (worker_files, current_records, access_log, retention_schedule, supervision_compliance)
POSITION_NAME = "read_models"
log = logging.getLogger(__name__)


class ProjectionRunner:
    """`read(start, limit)` returns notifications (with `.id`); `decode(n)` returns the domain event,
    or None when the event's key was destroyed (its content is gone; only the position moves)."""

    def __init__(
        self,
        engine: Engine,
        read: Callable[[int, int], Sequence[Any]],
        decode: Callable[[Any], Any | None],
        extra_handlers: dict[type, Handler] | None = None,
        batch_size: int = 500,
    ) -> None:
        self.engine = engine
        self.read = read
        self.decode = decode
        self.handlers: dict[type, list[Handler]] = {}
        for handlers in [m.HANDLERS for m in MODULES] + [extra_handlers or {}]:
            for event_class, handler in handlers.items():
                self.handlers.setdefault(event_class, []).append(handler)
        self.batch_size = batch_size
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def create_tables(self) -> None:
        read_models.create_all(self.engine)
        with self.engine.begin() as conn:
            if conn.execute(select(projection_positions.c.position)
                            .where(projection_positions.c.name == POSITION_NAME)).first() is None:
                conn.execute(insert(projection_positions).values(name=POSITION_NAME, position=0))

    def position(self) -> int:
        with self.engine.connect() as conn:
            return conn.execute(select(projection_positions.c.position)
                                .where(projection_positions.c.name == POSITION_NAME)).scalar_one()

    def catch_up(self, progress: Callable[[int], None] | None = None) -> int:
        """Processes every notification after the tracked position. Returns how many were processed."""
        processed = 0
        while True:
            with self.engine.begin() as conn:
                position = conn.execute(
                    select(projection_positions.c.position)
                    .where(projection_positions.c.name == POSITION_NAME)
                    .with_for_update()  # PostgreSQL: one catcher-up at a time; SQLite: BEGIN IMMEDIATE
                ).scalar_one()
                batch = self.read(position + 1, self.batch_size)
                if not batch:
                    return processed
                self._apply(conn, batch)
                conn.execute(projection_positions.update()
                             .where(projection_positions.c.name == POSITION_NAME)
                             .values(position=batch[-1].id))
            processed += len(batch)
            if progress:
                progress(len(batch))
            if len(batch) < self.batch_size:  # a short batch was the end of the log
                return processed

    def rebuild(self, progress: Callable[[int], None] | None = None) -> int:
        """Empties every read model and replays the whole log."""
        with self.engine.begin() as conn:
            for table in reversed(read_models.sorted_tables):
                if table is not projection_positions:
                    conn.execute(delete(table))
            conn.execute(projection_positions.update()
                         .where(projection_positions.c.name == POSITION_NAME).values(position=0))
        return self.catch_up(progress)

    # -- background mode: commands only poke; a thread projects in batches --------------------------

    def start_background(self, idle_seconds: float = 0.5, gather_seconds: float = 0.05) -> None:
        """Projects in a daemon thread: woken by `poke()` after a save, and every `idle_seconds` to pick up
        other processes' writes. Readers that need their own writes call `catch_up()` first."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, args=(idle_seconds, gather_seconds), name="svl-projector",
                                        daemon=True)
        self._thread.start()

    def poke(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        if self._thread is None:
            return
        self._stopping.set()
        self._wake.set()
        self._thread.join(timeout=10)
        self._thread = None

    def _run(self, idle_seconds: float, gather_seconds: float) -> None:
        while not self._stopping.is_set():
            if self._wake.wait(idle_seconds):
                # Let a burst of commands finish first: one transaction then projects them all.
                self._stopping.wait(gather_seconds)
            self._wake.clear()
            if self._stopping.is_set():
                return
            try:
                self.catch_up()
            except Exception:  # keep projecting after a transient failure; the position makes it safe
                log.exception("projection catch-up failed; will retry")

    def _apply(self, conn: Connection, batch: Iterable[Any]) -> None:
        for notification in batch:
            domain_event = self.decode(notification)
            if domain_event is None:
                continue
            for handler in self.handlers.get(type(domain_event), ()):
                handler(conn, domain_event)
