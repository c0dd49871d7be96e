"""The record classes a pack declares, each with its retention and its deadlines, and whose rule each one is.

Personal supervision is always a class (``retention``, ``completion.record``); case supervision is one only where
the policy keeps it apart (bcp, bury: ``record_classes.case_supervision``, with ``completion.case_decisions``).
A value no sentence of the policy gives is shown as the organisation's own setting, never under the council's
name (``PolicyPack.cite``).
"""

from dataclasses import dataclass

from domain.policy import PolicyPack, Rule


@dataclass(frozen=True)
class Term:
    what: str  # in plain words: "6 years after employment ends"; "not set: ..." when the pack has no value
    whose: str  # "bcp", or "bcp's own setting"
    key: str  # the pack key
    words: str  # the policy's sentence, or the note saying why there is none


@dataclass(frozen=True)
class RecordClass:
    name: str  # personal_supervision | case_supervision
    title: str
    retention: Term
    deadlines: tuple[Term, ...]
    child_reference: str | None = None  # how a record of this class may name a child


def _term(pack: PolicyPack, rule: Rule, key: str, what: str) -> Term:
    return Term(what, pack.cite(rule), key, rule.source or rule.note or "")


def record_classes(pack: PolicyPack) -> tuple[RecordClass, ...]:
    years = pack.retention.years_after_employment_ends
    record = pack.completion.record
    personal = RecordClass(
        "personal_supervision", "Personal supervision",
        _term(pack, pack.retention, "retention.years_after_employment_ends",
              f"{years} years after employment ends" if years else "not set: nothing is destroyed until it is"),
        (_term(pack, record, "completion.record",
               f"record completed within {record.days} {record.counting.replace('_', ' ')} of the session"),))
    kept_apart = pack.record_classes.case_supervision
    if kept_apart is None:
        return (personal,)
    case_years = kept_apart.retention.years_after_discussion
    decisions = pack.completion.case_decisions
    deadlines = () if decisions is None else (_term(
        pack, decisions, "completion.case_decisions",
        f"decision on the child's record within {decisions.days} {decisions.counting.replace('_', ' ')} "
        "of the discussion"),)
    case = RecordClass(
        "case_supervision", "Case supervision",
        _term(pack, kept_apart.retention, "record_classes.case_supervision.retention.years_after_discussion",
              f"{case_years} years after the discussion" if case_years
              else "not set: nothing is destroyed until it is"),
        deadlines, child_reference="the number of the child's case record only")
    return (personal, case)


__all__ = ["RecordClass", "Term", "record_classes"]
