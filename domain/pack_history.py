"""A pack's history: which version of an organisation's rules was in force on a day.

A change to a policy takes effect from a date; a day before it is still judged by the rules of its time, so
an as-of view of last spring shows what was due last spring, not what today's rules would have required.
The first version is in force from the beginning (no day is judged by no rules); each later one from its
``effective_from`` day, inclusive.

Pure: no I/O, no clock reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from domain.errors import DomainError
from domain.policy import PolicyPack, WorkerCategory
from domain.schedule_rules import next_due_date


class PackHistoryError(DomainError):
    """Versions that cannot make one history (dates out of order, repeated, another organisation)."""


@dataclass(frozen=True)
class PackVersion:
    # None: the first version, in force from the beginning.
    effective_from: date | None
    pack: PolicyPack


class PackHistory:
    def __init__(self, versions: Sequence[PackVersion]) -> None:
        if not versions:
            raise PackHistoryError("a pack history needs at least one version")
        if versions[0].effective_from is not None:
            raise PackHistoryError("the first version is in force from the beginning: it has no effective_from")
        names = {v.pack.short_name for v in versions}
        if len(names) > 1:
            raise PackHistoryError(f"versions of one history name different organisations: {sorted(names)}")
        if any(v.effective_from is None for v in versions[1:]):
            raise PackHistoryError("every version after the first needs an effective_from date")
        for n, (before, after) in enumerate(zip(versions[1:], versions[2:]), start=2):
            assert before.effective_from is not None and after.effective_from is not None
            if after.effective_from == before.effective_from:
                raise PackHistoryError(f"versions {n} and {n + 1} both take effect on {after.effective_from}")
            if after.effective_from < before.effective_from:
                raise PackHistoryError(f"version {n + 1} takes effect on {after.effective_from}, before version {n} "
                                       f"({before.effective_from}): list versions in date order")
        self.versions: tuple[PackVersion, ...] = tuple(versions)

    @classmethod
    def single(cls, pack: PolicyPack) -> PackHistory:
        """A pack that has never changed."""
        return cls([PackVersion(None, pack)])

    @property
    def short_name(self) -> str:
        return self.versions[0].pack.short_name

    @property
    def changes(self) -> tuple[PackVersion, ...]:
        """The versions after the first, each with its day."""
        return self.versions[1:]

    def in_force_on(self, day: date) -> PolicyPack:
        pack = self.versions[0].pack
        for version in self.changes:
            if version.effective_from > day:  # type: ignore[operator]
                break
            pack = version.pack
        return pack

    def changes_between(self, after: date, up_to: date) -> tuple[PackVersion, ...]:
        """Versions taking effect on a day in (after, up_to]."""
        return tuple(v for v in self.changes if after < v.effective_from <= up_to)  # type: ignore[operator]

    def next_due_across(self, category: WorkerCategory | str, start_date: date, anchor: date,
                        steps: Sequence[date] = ()) -> date:
        """The next session's due date when the frequency may change between the anchor (the last session, or
        the start) and that date.

        The rule in force on the anchor gives a due date. A change taking effect on or before that date
        governs from then on: the due date becomes the new rule's, counted from the same anchor, but never
        before the change itself (nobody is overdue under a rule that did not yet exist). A later change
        is weighed the same way against the date so found.

        Monthly to fortnightly from 15 Jan, last session 1 Jan: due 1 Feb under the old rule, but the
        change comes first and the new rule wants 15 Jan, the change's own day: due 15 Jan.
        Fortnightly to monthly from 10 Jan, last session 1 Jan: 15 Jan under the old rule; from 10 Jan
        monthly governs: due 1 Feb.
        """
        due = next_due_date(self.in_force_on(anchor), category, start_date, anchor, steps)
        for version in self.changes:
            effective = version.effective_from
            assert effective is not None
            if effective <= anchor:
                continue
            if due < effective:
                break  # due before the change: the earlier rule decided it
            due = max(effective, next_due_date(version.pack, category, start_date, anchor, steps))
        return due
