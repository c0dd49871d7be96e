"""Working days in England: weekdays that are neither bank holidays nor organisation closures.

Bank holidays come from the ``holidays`` package (England subdivision of GB), which
includes substitute days (e.g. 28 Dec 2026 for Boxing Day on a Saturday) and one-off
days (e.g. the 2023 Coronation). Pure: no clock reads, results depend only on inputs.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from functools import lru_cache

_ONE_DAY = timedelta(days=1)


@lru_cache(maxsize=None)
def _england_bank_holidays(year: int) -> frozenset[date]:
    # Per-year, immutable cache: the holidays object itself grows lazily and is mutable. Imported here: it takes
    # most of a second to import, which every command that never counts working days would pay.
    import holidays

    return frozenset(holidays.country_holidays("GB", subdiv="ENG", years=year).keys())


def is_bank_holiday(day: date) -> bool:
    return day in _england_bank_holidays(day.year)


class WorkingCalendar:
    """An organisation's working days: Mon-Fri minus England bank holidays and its closure days."""

    __slots__ = ("_closures",)

    def __init__(self, closure_days: Iterable[date] = ()) -> None:
        self._closures = frozenset(closure_days)

    @property
    def closure_days(self) -> frozenset[date]:
        return self._closures

    def is_working_day(self, day: date) -> bool:
        return day.weekday() < 5 and not is_bank_holiday(day) and day not in self._closures

    def next_working_day_on_or_after(self, day: date) -> date:
        while not self.is_working_day(day):
            day += _ONE_DAY
        return day

    def add_working_days(self, start: date, n: int) -> date:
        """The date n working days after ``start`` (``start`` itself never counts).

        "Within 5 working days of a Monday session" -> the following Monday, absent holidays.
        """
        if n < 0:
            raise ValueError(f"cannot add a negative number of working days ({n})")
        day = start
        remaining = n
        while remaining:
            day += _ONE_DAY
            if self.is_working_day(day):
                remaining -= 1
        return day

    def working_days_between(self, a: date, b: date) -> int:
        """Working days in (a, b]; negative when b is before a.

        Inverse of ``add_working_days``: working_days_between(d, add_working_days(d, n)) == n.
        """
        if b < a:
            return -self.working_days_between(b, a)
        count = 0
        day = a
        while day < b:
            day += _ONE_DAY
            if self.is_working_day(day):
                count += 1
        return count

    def __repr__(self) -> str:
        return f"WorkingCalendar(closure_days={sorted(self._closures)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, WorkingCalendar) and other._closures == self._closures

    def __hash__(self) -> int:
        return hash(self._closures)
