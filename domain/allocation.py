"""Who may supervise whom, and whose turn it is: pure rules over a policy pack's `allocation` and
`second_supervisor`. No I/O, no clock: the day is always a parameter.

bcp: the supervisor is "at least one level higher", holds professional registration within statutory social
work, is not newly promoted when the supervisee is a new practitioner, and has 5 to 7 supervisees. A departure
"should be clearly recorded in the individual's supervision file and agreed by the Service Manager": a
breach stands (refused, or shown on the due view, as the pack's `on_breach` says) until an exception agreed by
the role the pack names covers it. Unknown facts (a level HR has not recorded) are not breaches: the rule
cannot be checked, and the product never guesses a person's level.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date

from domain.case_supervision import holds_role  # one reading of job titles for every role a pack names
from domain.errors import DomainError, NotPermitted
from domain.policy import PolicyPack, SecondSupervisor, add_interval

# The rules an exception may cover: the keys of the pack's allocation table.
RULES = ("supervisor_level", "registration", "experience", "ratio")


@dataclass(frozen=True)
class Standing:
    """What HR recorded about a member of staff that allocation depends on (None: not recorded)."""

    worker_id: str
    category: str
    level: int | None = None  # in the line management structure; higher is more senior
    registered: bool | None = None  # holds professional registration (HCPC, Social Work England)
    supervising_since: date | None = None  # appointed to a supervisory position


@dataclass(frozen=True)
class Breach:
    rule: str  # one of RULES
    text: str
    supervisee_id: str
    supervisor_id: str


def allocation_breaches(pack: PolicyPack, supervisee: Standing, supervisor: Standing, on: date) -> list[Breach]:
    """The pack's rules this pairing departs from on `on` (the ratio is counted separately: ratio_breach)."""
    rules, found = pack.allocation, []

    def breach(rule: str, text: str) -> None:
        found.append(Breach(rule, text, supervisee.worker_id, supervisor.worker_id))

    level = rules.supervisor_level
    if level and supervisee.level is not None and supervisor.level is not None \
            and supervisor.level - supervisee.level < level.levels_above:
        breach("supervisor_level", f"the supervisor is at level {supervisor.level}, the supervisee at level "
                                   f"{supervisee.level}: {pack.cite(level)} asks for a supervisor at least "
                                   f"{level.levels_above} level{'' if level.levels_above == 1 else 's'} higher")
    registration = rules.registration
    if registration and supervisee.category in registration.categories and supervisor.registered is False:
        breach("registration", f"the supervisor has no professional registration recorded as held: "
                               f"{pack.cite(registration)} requires it within statutory social work")
    experience = rules.experience
    if experience and supervisee.category in experience.new_practitioners and supervisor.supervising_since:
        experienced_on = add_interval(supervisor.supervising_since, experience.supervising_for_at_least)
        if on < experienced_on:
            breach("experience", f"a new practitioner supervised by someone supervising only since "
                                 f"{supervisor.supervising_since:%d %b %Y} ({pack.cite(experience)}: not newly "
                                 f"promoted, at least {experience.supervising_for_at_least} supervising)")
    return found


def ratio_breach(pack: PolicyPack, supervisor_id: str, supervisees: Iterable[str],
                 covered: Iterable[str] = ()) -> Breach | None:
    """More supervisees than the pack expects, counting only those no exception for the ratio covers."""
    ratio = pack.allocation.ratio
    everyone = set(supervisees)
    if ratio is None or len(everyone) <= ratio.most:
        return None
    if len(everyone - set(covered)) <= ratio.most:
        return None
    return Breach("ratio", f"supervises {len(everyone)} people: {pack.cite(ratio)} expects {ratio.fewest} to "
                           f"{ratio.most} supervisees per supervisor", "", supervisor_id)


def uncovered(breaches: Iterable[Breach], exceptions: Mapping[tuple[str, str], frozenset[str]]) -> list[Breach]:
    """Breaches no recorded exception covers; `exceptions` maps (supervisee, supervisor) to the rules agreed."""
    return [b for b in breaches if b.rule not in exceptions.get((b.supervisee_id, b.supervisor_id), frozenset())]


def check_exception(pack: PolicyPack, rules: Iterable[str], agreer_job_title: str | None, reason: str) -> tuple[str, ...]:
    """May this person agree a departure from these rules? The pack names the role (bcp: the Service Manager)."""
    allocation = pack.allocation
    wanted = tuple(dict.fromkeys(r.strip() for r in rules if r.strip()))
    if allocation.exception_agreed_by is None:
        raise DomainError(f"{pack.short_name} sets no allocation rules, so there is no departure to agree")
    if not wanted:
        raise DomainError(f"name the rules the exception covers: {', '.join(_set_rules(pack))}")
    unknown = [r for r in wanted if r not in _set_rules(pack)]
    if unknown:
        raise DomainError(f"{', '.join(unknown)}: not an allocation rule of {pack.short_name}; its rules: "
                          f"{', '.join(_set_rules(pack))}")
    if not reason.strip():
        raise DomainError("give the reason for the departure: it is recorded in the worker's file")
    role = allocation.exception_agreed_by
    if not agreer_job_title or not holds_role(agreer_job_title, role):
        raise NotPermitted(f"{pack.short_name}: a departure from the allocation rules is agreed by the "
                           f"{role.replace('_', ' ')} ('{allocation.source}'); you are "
                           f"{agreer_job_title or 'not a member of staff'!r}")
    return wanted


def _set_rules(pack: PolicyPack) -> tuple[str, ...]:
    return tuple(r for r in RULES if getattr(pack.allocation, r) is not None)


def check_second_supervisor(pack: PolicyPack, category: str) -> SecondSupervisor:
    """The pack's second supervisor for a worker of this category, or a refusal saying the policy names none."""
    rule = pack.second_supervisor
    if rule.title is None:
        raise DomainError(f"{pack.short_name}: the policy names one supervisor per worker ({rule.note})")
    if rule.categories and category not in rule.categories:
        allowed = ", ".join(rule.categories)
        raise DomainError(f"{pack.short_name}: an {rule.title} is allocated only to {allowed} workers")
    return rule


@dataclass(frozen=True)
class Turn:
    supervisor_id: str | None  # None: either may hold it
    text: str


def next_supervisor(pack: PolicyPack, *, category: str, start_date: date, line_manager: str | None,
                    second: str | None, last_held_by: str | None, on: date) -> Turn | None:
    """Whose turn the next session is, where the worker has a second supervisor (None: only one supervisor)."""
    rule = pack.second_supervisor
    if second is None or rule.title is None or line_manager is None:
        return None
    whose = pack.cite(rule)
    if not rule.alternate:
        return Turn(None, f"next session: the line manager or the {rule.title} ({whose}: either may hold it)")
    if rule.alternate_for is not None and on >= add_interval(start_date, rule.alternate_for):
        return Turn(line_manager, f"next session: the line manager ({whose}: the {rule.title} period ended "
                                  f"{add_interval(start_date, rule.alternate_for):%d %b %Y})")
    if last_held_by == line_manager:
        return Turn(second, f"next session: the {rule.title} ({whose}: alternating; the last was the line manager)")
    if last_held_by == second:
        return Turn(line_manager, f"next session: the line manager ({whose}: alternating; the last was the "
                                  f"{rule.title})")
    return Turn(line_manager, f"next session: the line manager ({whose}: alternating with the {rule.title}, "
                              "starting with the line manager)")
