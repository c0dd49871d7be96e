"""A case supervision record: a record class of its own where the policy keeps it apart from personal supervision.

bcp: "Records pertaining to personal supervision must be maintained separately from records of supervisory
discussion for professional case-work interventions." bury: "Secondly case specific supervision records will be
placed on the LCS (Liquidlogic Childrens System) under case notes / supervision." So a discussion of a child's
case is recorded here, not in the personal record: sealed with its own data key (the application gives each
record one), so destroying the worker's personal file leaves it, and kept for its own period
(``record_classes.case_supervision.retention``). It names the child only by the number of the child's case
record, and its text passes the pack's anonymisation check like every other text.

The decision must reach the child's record (bcp: "All case work discussions, decisions and actions must be
recorded on the child's record within a maximum of one week."): the supervisor, or the supervisee the recording
was delegated to, confirms it with the reference of the entry on the child's record; until then it is due, and
overdue after the pack's deadline (``completion.case_decisions``).
"""

import re
from datetime import date, datetime

from dateutil.relativedelta import relativedelta
from eventsourcing.domain import Aggregate, event

from domain.anonymisation import NameLexicon, Screening
from domain.errors import DomainError, InvalidContent, NotPermitted, OutOfOrder
from domain.policy import PolicyPack
from domain.record_content import check_case_reference
from domain.timestamps import require_not_before, require_plausible_day, require_utc

TEXT_LENGTH = 8000
REFERENCE_LENGTH = 64
# The number of a case record, or of an entry on it ("LCS 55821", "CN-10234", "104331", "WF/2026/118").
_HAS_DIGIT = re.compile(r"\d")
_BY_NUMBER_ONLY = "a case supervision record names the child only by the number of their case record (e.g. 'LCS 55821')"


def check_child_record_number(reference: str, lexicon: NameLexicon | None = None) -> str:
    """The child's case record, by its number only: a name, initials or a pseudonym do not find the child's
    record, and a name or a date of birth would identify the child here."""
    try:
        ref = check_case_reference(reference, lexicon)
    except InvalidContent as refused:
        # The personal record's advice (initials, a pseudonym) is wrong here: keep only what was wrong.
        said = str(refused)
        why = said.split(": use ")[0] if ": use " in said else (
            f"case reference {' '.join(reference.split())!r} is not the number of the child's case record")
        raise InvalidContent(f"{why}: {_BY_NUMBER_ONLY}", field=refused.field) from None
    if not _HAS_DIGIT.search(ref) or re.match(r"^(?:child|baby|sibling|young person|yp|cyp|infant|twin|mother|"
                                              r"father|parent|carer)\b", ref, re.IGNORECASE):
        raise InvalidContent(f"case reference {ref!r} is not the number of the child's case record: "
                             f"{_BY_NUMBER_ONLY}")
    if len(ref) > REFERENCE_LENGTH:
        raise InvalidContent(f"case reference is longer than {REFERENCE_LENGTH} characters")
    return ref


# An entry on the child's record, named by its number with the words a case system uses for it ("Case note
# 88123", "Management action 4411", "WF/2026/118"): words that cannot name anyone.
_ENTRY = re.compile(r"^(?:(?:case|note|notes|workflow|wf|management|action|oversight|entry|lcs|ref|no|id|record|"
                    r"supervision)[ .:#/-]*){0,4}\d[\dA-Za-z\-/]{0,30}$", re.IGNORECASE)


def _entry_reference(reference: str) -> str:
    ref = " ".join(reference.split())
    if len(ref) > REFERENCE_LENGTH:
        raise InvalidContent(f"the child's record reference is longer than {REFERENCE_LENGTH} characters")
    if not _ENTRY.match(ref):
        raise InvalidContent("give the reference of the entry on the child's record (the case note or workflow "
                             "number, e.g. 'Case note 88123'), so the decision can be found there")
    return ref


def case_decision_status(*, decision_due: date | None, recorded_on: date | None, as_of: date) -> str:
    """What the due view says of one record's decision on a day: ``recorded`` (on the child's record in time),
    ``recorded_late``, ``due`` (not yet, deadline not passed), ``overdue``, or ``no_deadline`` (the pack sets
    none: bury's case notes on LCS have no timescale)."""
    if recorded_on is not None and recorded_on <= as_of:
        return "recorded_late" if decision_due is not None and recorded_on > decision_due else "recorded"
    if decision_due is None:
        return "no_deadline"
    return "overdue" if as_of > decision_due else "due"


def case_record_destruction_date(pack: PolicyPack, discussed_on: date) -> date:
    """The discussion's date + the class's years (29 Feb -> 28 Feb); PolicyIncomplete without a period."""
    return discussed_on + relativedelta(years=pack.case_record_years_required())


def case_record_status(*, destruction_date: date | None, destroyed: bool, as_of: date) -> str:
    """What the case records' schedule says of one record: ``retained``, ``due``, ``destroyed``, or
    ``no_period`` (the pack sets none: never destroyed until it does)."""
    if destroyed:
        return "destroyed"
    if destruction_date is None:
        return "no_period"
    return "due" if as_of >= destruction_date else "retained"


class CaseSupervisionRecord(Aggregate):
    @event("CaseSupervisionRecorded")
    def __init__(self, worker_id: str, supervisor_id: str, case_reference: str, discussed_on: date,
                 discussion: str, decisions: str, decision_due: date | None, pack: str, actor: str,
                 timestamp: datetime, anonymity_confirmed: bool = False) -> None:
        self.worker_id = worker_id
        self.supervisor_id = supervisor_id
        self.case_reference = case_reference
        self.discussed_on = discussed_on
        self.discussion = discussion
        self.decisions = decisions
        # The last day for the decision to reach the child's record under the pack when recorded (None: no deadline)
        self.decision_due = decision_due
        self.pack = pack
        self.anonymity_confirmed = anonymity_confirmed
        self.on_childs_record: dict | None = None

    @classmethod
    def record(cls, *, pack: PolicyPack, worker_id: str, supervisor_id: str, case_reference: str,
               discussed_on: date, discussion: str, decisions: str, decision_due: date | None, actor: str,
               timestamp: datetime, screening: Screening | None = None,
               confirmed_anonymous: bool = False) -> "CaseSupervisionRecord":
        """The supervisor records a discussion of a child's case and the decisions made (bcp: "The
        responsibility for recording unplanned and impromptu supervision rests with the supervisor.")."""
        require_utc(timestamp)
        pack.case_records_class()  # refused where the policy keeps case discussions in the personal record
        if actor != supervisor_id:
            raise NotPermitted("only the worker's supervisor records their case supervision")
        if worker_id == supervisor_id:
            raise DomainError("supervisee and supervisor must be different people")
        require_plausible_day(discussed_on, "discussed_on")
        if discussed_on > timestamp.date():
            raise DomainError(f"the discussion date {discussed_on} is in the future")
        discussion, decisions = discussion.strip(), decisions.strip()
        if not discussion:
            raise InvalidContent("discussion must not be empty")
        if not decisions:
            raise InvalidContent("decisions must not be empty: what was decided, and why, goes on the child's record")
        if len(discussion) > TEXT_LENGTH or len(decisions) > TEXT_LENGTH:
            raise InvalidContent(f"discussion and decisions are at most {TEXT_LENGTH} characters each")
        reference = check_child_record_number(case_reference, screening.lexicon if screening else None)
        confirmed = False
        if screening is not None:
            confirmed = screening.check([("discussion", discussion), ("decisions", decisions)],
                                        confirmed_anonymous=confirmed_anonymous)
        elif confirmed_anonymous:
            raise InvalidContent("nothing to confirm: no anonymisation check applies here")
        return cls(worker_id, supervisor_id, reference, discussed_on, discussion, decisions, decision_due,
                   pack.short_name, actor, timestamp, confirmed)

    def confirm_on_childs_record(self, childs_record_reference: str, *, recorded_on: date, actor: str,
                                 supervisor_now: str | None, timestamp: datetime) -> None:
        """The decision is on the child's record: the worker's current supervisor confirms it, or the supervisee
        (bcp: "A supervisor may explicitly delegate the recording of the discussion and decision to the
        supervisee."; bury: "unless it is agreed with the supervisee that it is for them to record")."""
        require_not_before(timestamp, self.modified_on)
        if actor not in (supervisor_now, self.worker_id):
            raise NotPermitted("only the worker's current supervisor, or the worker the recording was delegated "
                               "to, confirms that the decision is on the child's record")
        if self.on_childs_record is not None:
            raise OutOfOrder(f"the decision was already confirmed on the child's record on "
                             f"{self.on_childs_record['recorded_on']}")
        require_plausible_day(recorded_on, "recorded_on")
        if recorded_on > timestamp.date():
            raise DomainError(f"the date it was recorded on the child's record, {recorded_on}, is in the future")
        if recorded_on < self.discussed_on:
            raise DomainError(f"the decision cannot be on the child's record before the discussion on "
                              f"{self.discussed_on}")
        self._confirmed(childs_record_reference=_entry_reference(childs_record_reference), recorded_on=recorded_on,
                        actor=actor, timestamp=timestamp)

    @event("DecisionOnChildsRecord")
    def _confirmed(self, childs_record_reference: str, recorded_on: date, actor: str, timestamp: datetime) -> None:
        self.on_childs_record = {"reference": childs_record_reference, "recorded_on": recorded_on, "by": actor}

    def status(self, as_of: date) -> str:
        recorded = self.on_childs_record["recorded_on"] if self.on_childs_record else None
        return case_decision_status(decision_due=self.decision_due, recorded_on=recorded, as_of=as_of)


__all__ = ["CaseSupervisionRecord", "case_decision_status", "case_record_destruction_date", "case_record_status",
           "check_child_record_number"]
