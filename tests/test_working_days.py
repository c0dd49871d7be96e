"""England working days: weekends, bank holidays (incl. substitute days), organisation closures."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.working_days import WorkingCalendar, is_bank_holiday

CAL = WorkingCalendar()


@pytest.mark.parametrize(
    ("day", "why"),
    [
        (date(2026, 4, 3), "Good Friday"),
        (date(2026, 4, 6), "Easter Monday"),
        (date(2026, 5, 4), "Early May bank holiday"),
        (date(2026, 5, 25), "Late May (Spring) bank holiday"),
        (date(2026, 12, 25), "Christmas Day"),
        (date(2026, 12, 28), "Boxing Day substitute: 26 Dec 2026 is a Saturday"),
        (date(2026, 12, 26), "Saturday"),
        (date(2026, 4, 4), "Saturday"),
        (date(2026, 4, 5), "Sunday"),
    ],
)
def test_non_working_days(day: date, why: str) -> None:
    assert not CAL.is_working_day(day), why


@pytest.mark.parametrize("day", [date(2026, 4, 2), date(2026, 4, 7), date(2026, 5, 26), date(2026, 12, 24), date(2026, 12, 29)])
def test_working_days(day: date) -> None:
    assert CAL.is_working_day(day)


def test_bank_holidays_are_englands() -> None:
    assert is_bank_holiday(date(2026, 12, 28))
    assert not is_bank_holiday(date(2026, 1, 2))  # a Scottish bank holiday only
    assert not is_bank_holiday(date(2026, 3, 17))  # St Patrick's Day: Northern Ireland only


def test_add_working_days_over_easter_2026() -> None:
    # Thu 2 Apr + 1 skips Good Friday, the weekend and Easter Monday.
    assert CAL.add_working_days(date(2026, 4, 2), 1) == date(2026, 4, 7)
    assert CAL.add_working_days(date(2026, 4, 2), 5) == date(2026, 4, 13)


def test_add_working_days_over_christmas_2026() -> None:
    # Thu 24 Dec + 1: Fri 25, Sat 26, Sun 27 and the substitute Mon 28 are all off.
    assert CAL.add_working_days(date(2026, 12, 24), 1) == date(2026, 12, 29)


def test_add_working_days_over_late_may_2026() -> None:
    assert CAL.add_working_days(date(2026, 5, 22), 1) == date(2026, 5, 26)


def test_add_zero_working_days_is_the_same_day() -> None:
    assert CAL.add_working_days(date(2026, 4, 4), 0) == date(2026, 4, 4)


def test_negative_working_days_are_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        CAL.add_working_days(date(2026, 4, 2), -1)


def test_organisation_closure_days_are_not_working_days() -> None:
    # A Christmas shutdown between the bank holidays.
    closures = {date(2026, 12, 29), date(2026, 12, 30), date(2026, 12, 31)}
    org = WorkingCalendar(closures)
    assert not org.is_working_day(date(2026, 12, 30))
    assert CAL.is_working_day(date(2026, 12, 30))  # closures belong to that organisation only
    # 1 Jan 2027 is a bank holiday (Friday): the next working day is Mon 4 Jan.
    assert org.add_working_days(date(2026, 12, 24), 1) == date(2027, 1, 4)
    assert org.working_days_between(date(2026, 12, 24), date(2027, 1, 4)) == 1
    assert org.closure_days == frozenset(closures)


def test_working_days_between_counts_the_end_not_the_start() -> None:
    assert CAL.working_days_between(date(2026, 4, 2), date(2026, 4, 13)) == 5
    assert CAL.working_days_between(date(2026, 4, 13), date(2026, 4, 2)) == -5
    assert CAL.working_days_between(date(2026, 4, 2), date(2026, 4, 2)) == 0


def test_next_working_day_on_or_after() -> None:
    assert CAL.next_working_day_on_or_after(date(2026, 12, 25)) == date(2026, 12, 29)
    assert CAL.next_working_day_on_or_after(date(2026, 12, 29)) == date(2026, 12, 29)


dates = st.dates(min_value=date(2000, 1, 1), max_value=date(2060, 12, 31))
closures = st.frozensets(st.dates(min_value=date(2025, 1, 1), max_value=date(2027, 12, 31)), max_size=20)


@given(start=dates, n=st.integers(min_value=0, max_value=40), closed=closures)
def test_working_days_between_inverts_add_working_days(start: date, n: int, closed: frozenset[date]) -> None:
    cal = WorkingCalendar(closed)
    end = cal.add_working_days(start, n)
    assert cal.working_days_between(start, end) == n
    if n:
        assert cal.is_working_day(end)
        # no earlier date already has n working days
        assert cal.working_days_between(start, end - timedelta(days=1)) == n - 1


@given(a=dates, b=dates)
def test_working_days_between_is_antisymmetric(a: date, b: date) -> None:
    if abs((a - b).days) > 400:
        b = a + timedelta(days=(b - a).days % 400)
    assert CAL.working_days_between(a, b) == -CAL.working_days_between(b, a)
