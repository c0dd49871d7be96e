"""Waiting, in tests, for writers to be queued behind the turn (infrastructure/write_turns.py)."""

import threading
import time
from collections.abc import Callable

from infrastructure.write_turns import WriteTurns


def until(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    """Returns once `condition()` holds; fails if it does not within `timeout` (a bound, not an ordering)."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while not condition():
        assert time.monotonic() < deadline, "the condition did not hold in time"
        pause.wait(0.002)


def queued(turns: WriteTurns, count: int) -> None:
    until(lambda: turns.waiting >= count)


class Holder:
    """A thread of its own holding one write transaction open until released (turns are per thread, so the
    test's thread is not the holder)."""

    def __init__(self, engine) -> None:  # type: ignore[no-untyped-def]
        self._engine = engine
        self.holding = threading.Event()
        self._release = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        assert self.holding.wait(30), "the holder did not get its turn"

    def _run(self) -> None:
        with self._engine.begin():
            self.holding.set()
            self._release.wait(60)

    def release(self) -> None:
        self._release.set()
        self._thread.join(30)
