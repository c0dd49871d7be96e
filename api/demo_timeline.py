"""The demo's timeline: every scenario's steps run in one time order, on a clock the loaders move."""

import heapq
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass
class DemoClock:
    now: datetime
    step: timedelta = timedelta(seconds=37)

    def __call__(self) -> datetime:
        self.now += self.step
        return self.now


def run_in_time_order(clock: DemoClock, steps: list[Iterator[datetime]]) -> None:
    """Each scenario yields the moment of its next step; all steps run in one timeline, oldest first.
    A scenario whose first step waits on another's (e.g. a new worker) yields a later moment than it."""
    queue = [(next(s), n, s) for n, s in enumerate(steps)]
    heapq.heapify(queue)
    while queue:
        moment, n, scenario = heapq.heappop(queue)
        clock.now = max(clock.now, moment)
        following = next(scenario, None)
        if following is not None:
            heapq.heappush(queue, (following, n, scenario))
