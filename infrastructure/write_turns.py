"""Writers to one SQLite file take turns, in the order they arrived, within this process.

SQLite lets one writer at a time hold a file's write lock, and a writer that finds it taken sleeps and retries
(its busy timeout): not in any order, so under load some writers lose every retry and time out while others
write many times. The event store's library adds its own wait for its single writer connection (a fixed 5 s,
"Timed out waiting for return of writer"). So every write transaction of the application on SQLite (the event
store's appends, and our SQLAlchemy transactions that write) first takes its turn here, and only then asks
SQLite for the lock, which no other writer of this process then holds. Another process (a CLI beside the
server) is still kept out by SQLite's busy timeout. PostgreSQL needs none of this: its locks queue.
"""

import os
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager

from eventsourcing.persistence import OperationalError


class WriteTurnTimedOut(OperationalError):
    """No turn to write within the wait: the database is as good as down for this request (a 503)."""


class _Waiter:
    __slots__ = ("thread", "called")

    def __init__(self, thread: int) -> None:
        self.thread = thread
        self.called = threading.Event()


class WriteTurns:
    """A first-come, first-served queue of the writers of one database file. A thread that already has the turn
    (a write inside a write) keeps it: SQLite itself then decides, as it would without the queue."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: deque[_Waiter] = deque()
        self._holder: int | None = None
        self._depth = 0

    def take(self, wait: float) -> None:
        """Waits at most `wait` seconds for this thread's turn; then WriteTurnTimedOut."""
        me = threading.get_ident()
        with self._lock:
            if self._holder == me:
                self._depth += 1
                return
            if self._holder is None and not self._queue:
                self._holder, self._depth = me, 1
                return
            waiter = _Waiter(me)
            self._queue.append(waiter)
        if waiter.called.wait(wait):
            return
        with self._lock:
            if waiter.called.is_set():  # handed the turn just as the wait ran out: take it
                return
            self._queue.remove(waiter)
        raise WriteTurnTimedOut(f"no turn to write to the database within {wait:g} s (SVL_DB_WRITE_WAIT): "
                                "other writers held it")

    def give_back(self) -> None:
        with self._lock:
            if self._depth > 1:
                self._depth -= 1
                return
            if self._queue:
                following = self._queue.popleft()
                self._holder, self._depth = following.thread, 1
                following.called.set()
            else:
                self._holder, self._depth = None, 0

    @contextmanager
    def turn(self, wait: float) -> Iterator[None]:
        self.take(wait)
        try:
            yield
        finally:
            self.give_back()

    @property
    def waiting(self) -> int:
        with self._lock:
            return len(self._queue)


_by_file: dict[str, WriteTurns] = {}
_by_file_lock = threading.Lock()


def turns_for(path: str | os.PathLike[str]) -> WriteTurns:
    """The process's one queue for this database file, however the path is spelt."""
    key = os.path.realpath(path)
    with _by_file_lock:
        turns = _by_file.get(key)
        if turns is None:
            turns = _by_file[key] = WriteTurns()
        return turns
