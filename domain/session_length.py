"""How long a session lasted, judged against the pack: whether it counts as a session at all, and what the
dashboard says about its length; and the minutes a week some categories must have (hull's trainees).

The pack says what a short session does (``minimum_session_minutes.short_session``): it does not count, it
counts with a shortfall that needs attention, or its shortfall is information only. A longer session than the
pack's maximum always counts: both policies that give one hedge it ("probably no more than three unless in
exceptional circumstances"; "likely to last between one and 2 hours"). Pure: no I/O, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from domain.policy import PolicyPack, WeeklyMinutes, WorkerCategory

DOES_NOT_COUNT = "does_not_count"
COUNTS_WITH_SHORTFALL = "counts_with_shortfall"
INFORMATION_ONLY = "information_only"


@dataclass(frozen=True)
class LengthVerdict:
    counts: bool  # whether the session is a session for the frequency rule
    severity: str | None  # "warning" (needs attention) | "info" | None (nothing to say)
    text: str = ""


def judge_length(pack: PolicyPack, minutes: int) -> LengthVerdict:
    """What `minutes` of a held session mean under `pack`."""
    rule = pack.minimum_session_minutes
    minimum, maximum = rule.minutes, rule.maximum.minutes if rule.maximum else None
    if minimum and minutes < minimum:
        whose = pack.cite(rule.short_session) if rule.short_session else pack.short_name
        short = f"lasted {minutes} min, {minimum - minutes} min short of the {pack.cite(rule)} minimum of {minimum} min"
        if rule.below_minimum == DOES_NOT_COUNT:
            return LengthVerdict(False, "warning", f"{short}: not counted as a supervision session ({whose})")
        if rule.below_minimum == COUNTS_WITH_SHORTFALL:
            return LengthVerdict(True, "warning", f"{short}: counted, with its shortfall ({whose})")
        return LengthVerdict(True, "info", short)
    if maximum and minutes > maximum:
        return LengthVerdict(True, "info", f"lasted {minutes} min, over the {pack.cite(rule.maximum)} "
                                           f"maximum of {maximum} min (shown, not judged)")
    return LengthVerdict(True, None)


def counts_from_minutes(pack: PolicyPack) -> int | None:
    """The shortest session that counts as a session for the frequency rule; None: every session counts."""
    rule = pack.minimum_session_minutes
    return rule.minutes if rule.minutes and rule.below_minimum == DOES_NOT_COUNT else None


# --- minutes a week ---------------------------------------------------------------------------------------------


def weekly_minutes_rule(pack: PolicyPack, category: str) -> WeeklyMinutes | None:
    return pack.frequency.for_category(WorkerCategory(category)).weekly_minutes


def last_full_week(as_of: date) -> tuple[date, date]:
    """Monday to Sunday of the last week that ended on or before `as_of`."""
    sunday = as_of - timedelta(days=(as_of.weekday() + 1) % 7)
    return sunday - timedelta(days=6), sunday


@dataclass(frozen=True)
class WeekVerdict:
    severity: str | None  # "overdue" (the week fell short) | "info" (informal may have made up the rest) | None
    text: str = ""


def judge_week(rule: WeeklyMinutes, formal_minutes: int, week: tuple[date, date], whose: str) -> WeekVerdict:
    """A week's formal (recorded) supervision against the minutes a week the rule requires.

    Where the policy lets informal supervision count but requires the ratio "in favour of formal supervision",
    formal minutes above half the requirement may have been made up by informal supervision the ledger does not
    hold: that is shown, not judged. At half or below, the week fell short whatever informal supervision there was.
    """
    required = rule.minutes
    span = f"week of {week[0].day} {week[0]:%b}"
    if formal_minutes >= required:
        return WeekVerdict(None)
    said = f"{span}: {formal_minutes} min of formal supervision recorded, of the {required} min a week ({whose})"
    if rule.formal_majority and formal_minutes * 2 > required:
        return WeekVerdict("info", f"{said}; informal supervision may make up the other "
                                   f"{required - formal_minutes} min (formal must be the larger part)")
    if rule.formal_majority:
        return WeekVerdict("overdue", f"{said}: formal supervision must be the larger part, so at least "
                                      f"{required // 2 + 1} min of it")
    return WeekVerdict("overdue", said)
