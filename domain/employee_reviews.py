"""Reviews of each worker the policy names, as recorded decisions by a named person, and when each falls due.

bury: "Every worker will have an employee review annually. Employee review should be carried out by the
immediate line manager. In exceptional circumstances, a more senior manager or supervisor in the line
management chain of the employee may also carry out a review." and, planned with it, "A review date (six
months from the date of employee review)". The immediate line manager is the worker's supervisor; a review by
someone higher in the chain is accepted only with the exceptional circumstances recorded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from eventsourcing.domain import Aggregate, event

from domain.errors import DomainError, NotPermitted
from domain.observations import SOON_DAYS, CycleDue
from domain.policy import PolicyPack, ReviewCycle, add_interval
from domain.timestamps import require_plausible_day, require_utc

_MAX_TEXT = 4000


def check_reviewer(cycle: ReviewCycle, whose: str, reviewer_id: str, worker_chain: Sequence[str],
                   reason: str) -> str:
    """"supervisor" (the immediate line manager) or "senior" (higher in the chain, with a reason); else refused."""
    if worker_chain and reviewer_id == worker_chain[0]:
        return "supervisor"
    words = f"({whose}: '{cycle.source}')" if cycle.source else f"({whose})"
    if reviewer_id in worker_chain[1:]:
        if cycle.senior_with_reason and not reason.strip():
            raise NotPermitted("a review by someone above the immediate line manager needs the exceptional "
                               f"circumstances recorded (the reason) {words}", field="reason")
        return "senior"
    raise NotPermitted(f"the review is carried out by the worker's immediate line manager (their supervisor), or "
                       f"in exceptional circumstances someone above them in the line management chain {words}")


class EmployeeReview(Aggregate):
    @event("Recorded")
    def __init__(self, worker_id: str, kind: str, reviewed_on: date, reviewer_id: str, relation: str, reason: str,
                 actor: str, timestamp: datetime) -> None:
        self.worker_id = worker_id
        self.kind = kind
        self.reviewed_on = reviewed_on
        self.reviewer_id = reviewer_id
        self.relation = relation
        self.reason = reason

    @classmethod
    def record(cls, *, pack: PolicyPack, worker_id: str, kind: str, reviewed_on: date, worker_chain: Sequence[str],
               actor: str, timestamp: datetime, reason: str = "") -> EmployeeReview:
        """The reviewer records the review they held, as themselves."""
        require_utc(timestamp)
        require_plausible_day(reviewed_on, "reviewed_on")
        cycle = pack.review.get(kind)
        if cycle is None:
            known = ", ".join(sorted(pack.review)) or "none"
            raise DomainError(f"{pack.short_name} names no review {kind!r}; its reviews: {known}", field="kind")
        if reviewed_on > timestamp.date():
            raise DomainError(f"the review date {reviewed_on} is in the future", field="reviewed_on")
        if len(reason) > _MAX_TEXT:
            raise DomainError(f"the reason is longer than {_MAX_TEXT} characters", field="reason")
        relation = check_reviewer(cycle, pack.cite(cycle) if cycle.source else pack.short_name, actor, worker_chain,
                                  reason)
        return cls(worker_id, kind, reviewed_on, actor, relation, reason.strip(), actor, timestamp)

    def fact(self) -> ReviewFact:
        return ReviewFact(str(self.id), self.kind, self.reviewed_on)


@dataclass(frozen=True)
class ReviewFact:
    review_id: str
    kind: str
    reviewed_on: date


def review_due(pack: PolicyPack, key: str, reviews: Sequence[ReviewFact], from_day: date) -> date | None:
    """When review ``key`` next falls due. Standing alone: ``every`` after the latest such review, or after
    ``from_day`` (when the worker came under the policy). With ``after``: ``every`` after the latest review of
    that kind, unless one of this kind was held since (None: nothing due until that review is held)."""
    cycle = pack.review[key]
    mine = [r.reviewed_on for r in reviews if r.kind == key]
    if cycle.after is None:
        return add_interval(max(mine, default=from_day), cycle.every)
    anchor = max((r.reviewed_on for r in reviews if r.kind == cycle.after), default=None)
    if anchor is None or any(day >= anchor for day in mine):
        return None
    return add_interval(anchor, cycle.every)


def reviews_due(pack: PolicyPack, reviews: Sequence[ReviewFact], monitored_from: date, as_of: date) -> list[CycleDue]:
    """Each review overdue, or due within SOON_DAYS."""
    return [d for d in review_cycles(pack, reviews, monitored_from, as_of) if (as_of - d.due).days > -SOON_DAYS]


def review_cycles(pack: PolicyPack, reviews: Sequence[ReviewFact], monitored_from: date,
                  as_of: date) -> list[CycleDue]:
    """Every review the pack names that falls due (one waiting for another review to be held does not yet)."""
    found = []
    for key, cycle in pack.review.items():
        due = review_due(pack, key, reviews, monitored_from)
        if due is None:
            continue
        late = (as_of - due).days
        name = key.replace("_", " ")
        last = max((r.reviewed_on for r in reviews if r.kind == key), default=None)
        since = f"last {last:%-d %b %Y}" if last else (f"after the {cycle.after.replace('_', ' ')}" if cycle.after
                                                        else f"none recorded since {monitored_from:%-d %b %Y}")
        rule = (f"({pack.cite(cycle)}: every {cycle.every}"
                f"{' after the ' + cycle.after.replace('_', ' ') if cycle.after else ''}; {since})")
        found.append(CycleDue(f"review.{key}", due, max(late, 0),
                              f"{name} due {due:%-d %b %Y} {rule}"
                              + (f", {late} day{'s' if late != 1 else ''} overdue" if late > 0 else ""),
                              f"{name} {rule}"))
    return found


__all__ = ["EmployeeReview", "ReviewFact", "check_reviewer", "review_cycles", "review_due", "reviews_due"]
