"""Policy packs: each organisation's supervision rules as validated data.

A pack is loaded from a TOML file (see ``infrastructure/policy_packs.py``) and is
immutable once built. Every rule carries the sentence of the policy it comes from
(``source``), or a ``note`` saying why there is none (policy silent, product
baseline, or the organisation must configure it), so that any date the product
enforces can be traced back to the organisation's own words.

Pure: no I/O, no clock reads; imports only ``domain.errors`` and ``domain.anonymisation``.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from functools import lru_cache
from typing import Annotated, Literal

from dateutil.relativedelta import relativedelta
from pydantic import BaseModel, ConfigDict, Field, Strict, ValidationInfo, field_validator, model_validator

from domain.anonymisation import OnNames
from domain.errors import DomainError

# Average Gregorian month, only used to *order* intervals when validating a pack;
# real dates always use calendar arithmetic (``add_interval``).
_DAYS_PER_MONTH = 365.2425 / 12

Identifier = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
# Strict so a TOML `true` or `7.5` is rejected rather than read as a number.
Count = Annotated[int, Strict()]


class PolicyIncomplete(DomainError):
    """The pack lacks a value the organisation must set before this action is allowed.

    A DomainError, so the edge answers with a refusal rather than a server error."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Interval(_Frozen):
    """A span of calendar time: months first, then weeks and days (relativedelta order)."""

    months: Count = Field(default=0, ge=0)
    weeks: Count = Field(default=0, ge=0)
    days: Count = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _not_empty(self) -> Interval:
        if self.months == self.weeks == self.days == 0:
            raise ValueError("an interval needs at least one of months, weeks or days above 0")
        return self

    def nominal_days(self) -> float:
        """Approximate length, for ordering intervals only (months averaged)."""
        return self.months * _DAYS_PER_MONTH + self.weeks * 7 + self.days

    def __str__(self) -> str:
        return _interval_words(self.months, self.weeks, self.days)


# Worded for every worker on the due view, always the pack's same few intervals.
@lru_cache(maxsize=256)
def _interval_words(months: int, weeks: int, days: int) -> str:
    return " ".join(f"{n} {unit}{'' if n == 1 else 's'}" for n, unit in ((months, "month"), (weeks, "week"),
                                                                          (days, "day")) if n)


def add_interval(start: date, interval: Interval) -> date:
    """Calendar arithmetic: 31 Jan + 1 month = 28/29 Feb (last day when no match)."""
    return _added(start, interval.months, interval.weeks, interval.days)


# The due view adds intervals several times a worker, mostly to the same few hundred dates: building a
# relativedelta each time cost more than the rest of the evaluation.
@lru_cache(maxsize=65536)
def _added(start: date, months: int, weeks: int, days: int) -> date:
    return start + relativedelta(months=months, weeks=weeks, days=days)


class Rule(_Frozen):
    """Base for every rule: the policy's own words, or a note explaining their absence.

    ``basis`` says whether the policy's sentence backs the value itself ("policy") or the value is the
    organisation's own choice where the policy is silent ("organisation"): a quoted sentence may give the
    context without the number (darlington: "The recording of supervision sessions is the
    responsibility of the supervisor." sets no timescale). Left out, a rule with a source is "policy"."""

    source: str | None = None
    note: str | None = None
    basis: Literal["policy", "organisation"] | None = None

    @property
    def backed_by_policy(self) -> bool:
        return (self.basis or ("policy" if self.source else "organisation")) == "policy"

    @field_validator("source", "note")
    @classmethod
    def _not_blank(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("must not be blank; leave it out instead")
        return value

    @model_validator(mode="after")
    def _traceable(self) -> Rule:
        if self.source is None and self.note is None:
            raise ValueError(
                "give a `source` quoting the policy, or a `note` saying why there is none "
                "(e.g. 'policy silent: baseline')"
            )
        return self


class WorkerCategory(StrEnum):
    NQSW_ASYE = "nqsw_asye"
    RETURNER = "returner"
    OVERSEAS_RECRUITED = "overseas_recruited"
    EXPERIENCED = "experienced"
    FAMILY_SUPPORT = "family_support"
    MANAGER = "manager"
    VOLUNTEER = "volunteer"
    AGENCY = "agency"
    ROLE_CHANGER = "role_changer"
    TRAINEE = "trainee"  # a social worker in training (hull: "1.5 hours of individual supervision per week")


class CancellationReason(StrEnum):
    SICKNESS = "sickness"
    OTHER = "other"


class AccessRole(StrEnum):
    """Who, besides supervisee and supervisor, a policy lets read records for a purpose."""

    LINE_MANAGER = "line_manager"
    SENIOR_MANAGER = "senior_manager"
    HR = "hr"
    INSPECTOR = "inspector"
    INVESTIGATING_OFFICER = "investigating_officer"
    WORKFORCE_DEVELOPMENT = "workforce_development"
    QUALITY_STAFF = "quality_staff"


class Organisation(_Frozen):
    name: str = Field(min_length=1)
    short_name: str = Field(pattern=r"^[a-z][a-z0-9-]*$")
    policy_title: str = Field(min_length=1)


class Retention(Rule):
    # None is allowed so a pack can load, but nothing may be destroyed under it.
    years_after_employment_ends: Count | None = None

    @field_validator("years_after_employment_ends")
    @classmethod
    def _positive(cls, years: int | None) -> int | None:
        if years is not None and years < 1:
            raise ValueError(f"retention must be at least 1 year after employment ends, got {years}")
        return years


class Archival(Rule):
    deadline_after_leaving: Interval | None = None


class Deadline(Rule):
    days: Count = Field(ge=1)
    counting: Literal["working_days", "calendar_days"]


class DeadlineEnd(Rule):
    """Which step of the record ends its completion deadline: the supervisor's draft (`drafted`), the record
    offered to the supervisee (`shared`: bury's "returned to the supervisee"), or both signatures."""

    event: Literal["drafted", "shared", "signed_by_both"]


class Completion(_Frozen):
    record: Deadline
    # Left out: the deadline ends when both have signed (the product's reading before packs said which).
    record_ends: DeadlineEnd = DeadlineEnd(event="signed_by_both", note="policy silent: baseline, signed by both")
    # Decisions about a child recorded on the child's case record; None: policy sets no timescale.
    case_decisions: Deadline | None = None


class Rebooking(_Frozen):
    """Deadlines for re-holding a cancelled session; absent: the policy sets no separate deadline
    (the frequency rule still applies)."""

    after_cancellation: Deadline | None = None
    # Counted from the return to work; absent: after_cancellation applies from the return.
    after_sickness: Deadline | None = None
    note: str | None = None

    @model_validator(mode="after")
    def _explained(self) -> Rebooking:
        if self.after_cancellation is None and self.after_sickness is None and not self.note:
            raise ValueError("no rebooking deadlines: add a `note` saying the policy is silent")
        return self


class Agreement(Rule):
    review_every: Interval
    renegotiate_on_supervisor_change: bool


class FrequencyPhase(_Frozen):
    every: Interval
    # Offset from the category's start date at which this phase ends (exclusive);
    # None: open-ended, only allowed for the last phase.
    until: Interval | None = None


class WeeklyMinutes(_Frozen):
    """Minutes of supervision a week a category must have, besides the frequency of sessions (hull's trainees)."""

    minutes: Count = Field(ge=1)
    # The policy lets informal supervision make up the rest, provided formal supervision is the larger part.
    formal_majority: bool = False
class StepDown(Rule):
    """A frequency that eases only by a recorded decision, never by a timer (bcp: "Direct observation of
    practice must take place before a decision is taken to reduce the frequency of supervisions.")."""

    # Who takes the decision; the policy names nobody, so the pack says (the worker's current supervisor).
    decided_by: Literal["supervisor"] = "supervisor"
    # A direct observation of the worker's practice, meeting the required standard, recorded before it.
    observation_required: bool = True


class FrequencyRule(Rule):
    # Present: the worker moves to the next phase only by a step-down decision (phases have no `until`).
    # Declared before `phases`, so the phases are checked knowing it.
    step_down: StepDown | None = None
    phases: tuple[FrequencyPhase, ...]
    weekly_minutes: WeeklyMinutes | None = None

    @field_validator("phases")
    @classmethod
    def _phases_well_formed(cls, phases: tuple[FrequencyPhase, ...], info: ValidationInfo
                            ) -> tuple[FrequencyPhase, ...]:
        if not phases:
            raise ValueError("at least one phase is required")
        if info.data.get("step_down") is not None:
            dated = [n for n, phase in enumerate(phases, start=1) if phase.until is not None]
            if dated:
                raise ValueError(f"phase {dated[0]} has an `until`, but this frequency steps down by decision "
                                 "(`step_down`): leave `until` out")
            if len(phases) < 2:
                raise ValueError("a frequency that steps down by decision needs a phase to step down to")
        else:
            if phases[-1].until is not None:
                raise ValueError("the last phase must be open-ended (no `until`) so the rule never runs out")
            for n, phase in enumerate(phases[:-1], start=1):
                if phase.until is None:
                    raise ValueError(f"phase {n} of {len(phases)} has no `until`; only the last phase may be open-ended")
            ends = [p.until.nominal_days() for p in phases[:-1]]  # type: ignore[union-attr]
            for n in range(2, len(ends) + 1):
                if ends[n - 1] <= ends[n - 2]:
                    raise ValueError(f"phase {n}'s `until` must be later than phase {n - 1}'s; phases must follow each other in time")
        # Phases model support easing over time; the scheduler relies on intervals
        # never shrinking to keep due dates monotone in the last session date.
        for n in range(2, len(phases) + 1):
            earlier, later = phases[n - 2].every, phases[n - 1].every
            if later.nominal_days() < earlier.nominal_days():
                raise ValueError(
                    f"phase {n} (every {later}) is more frequent than phase {n - 1} (every {earlier}); "
                    "phases must ease, not tighten"
                )
        return phases


class Frequency(_Frozen):
    """Minimum supervision frequency; a category left out follows ``default``."""

    default: FrequencyRule
    nqsw_asye: FrequencyRule | None = None
    returner: FrequencyRule | None = None
    overseas_recruited: FrequencyRule | None = None
    experienced: FrequencyRule | None = None
    family_support: FrequencyRule | None = None
    manager: FrequencyRule | None = None
    volunteer: FrequencyRule | None = None
    agency: FrequencyRule | None = None
    role_changer: FrequencyRule | None = None
    trainee: FrequencyRule | None = None

    def for_category(self, category: WorkerCategory) -> FrequencyRule:
        return getattr(self, category.value) or self.default


class ShortSession(Rule):
    """What a session shorter than the minimum does to compliance: it is not counted as a session at all, it
    counts but the worker needs attention for the shortfall, or it counts and the shortfall is information."""

    counts: Literal["does_not_count", "counts_with_shortfall", "information_only"]


class SessionMaximum(Rule):
    """A longer session always counts: the maximum is shown, never judged (both policies that give one hedge it)."""

    minutes: Count = Field(ge=1)
Observer = Literal["supervisor", "senior", "peer"]


class ObservationCycle(Rule):
    """How often someone must be observed: each worker's direct practice, or a supervisor's supervision.

    ``observers`` names who counts, by their place relative to the one observed: their own supervisor
    ("supervisor"; for a supervisor observed, "the manager of the supervisor"), someone higher in their line
    management ("senior"), or another supervisor ("peer")."""

    of: Literal["practice", "supervision"]
    every: Interval
    observers: tuple[Observer, ...] = Field(min_length=1)
    # Categories whose staff do no direct practice (bcp: managers "who do not have a caseload").
    except_categories: tuple[WorkerCategory, ...] = ()


class ReviewCycle(Rule):
    """A review of each worker the policy names (bury: the annual employee review, and the review six months
    after it). With ``after``, it falls due ``every`` after the latest review of that other kind."""

    every: Interval
    after: Identifier | None = None
    # The worker's own supervisor (their immediate line manager) holds it; someone higher in the line
    # management chain only with the exceptional circumstances recorded.
    senior_with_reason: bool = True


class SessionMinutes(Rule):
    minutes: Count | None = Field(default=None, ge=1)
    short_session: ShortSession | None = None
    maximum: SessionMaximum | None = None

    @model_validator(mode="after")
    def _consistent(self) -> SessionMinutes:
        if self.short_session is not None and self.minutes is None:
            raise ValueError("`short_session` says what a session below the minimum does: set `minutes` too")
        if self.maximum is not None and self.minutes is not None and self.maximum.minutes < self.minutes:
            raise ValueError(f"the maximum ({self.maximum.minutes} min) is below the minimum ({self.minutes} min)")
        return self

    @property
    def below_minimum(self) -> str:
        """What a short session does; information only where the pack does not say (the earlier behaviour)."""
        return self.short_session.counts if self.short_session is not None else "information_only"


class CaseRating(Rule):
    every: Interval
    approval_by: str | None = None


class CaseSupervision(_Frozen):
    # Interval for cases without a rating (or for every case, where the policy has no ratings).
    unrated: CaseRating
    ratings: dict[Identifier, CaseRating] = Field(default_factory=dict)


class CaseRecordRetention(Rule):
    """How long a case supervision record is kept, counted from the day of the discussion it records (it concerns
    a child's case, not the worker's employment). None: the policy gives no period (bury defers to a records
    retention policy that is not in the seed): no case supervision record may be destroyed until one is set."""

    years_after_discussion: Count | None = Field(default=None, ge=1)


class CaseSupervisionRecords(Rule):
    """A record class of its own where the policy keeps case supervision apart from personal supervision (bcp,
    bury): its own records, sealed with their own keys, kept for their own period, never destroyed with the
    worker's personal file. ``child_reference``: how such a record names the child, here only by the number of
    the child's case record, where the decision itself is recorded (the case management system holds the name).
    The deadline for the decision to reach the child's record is ``completion.case_decisions``."""

    child_reference: Literal["case_record_number"] = "case_record_number"
    retention: CaseRecordRetention


class RecordClasses(_Frozen):
    """The record classes beside personal supervision (whose rules are ``retention`` and ``completion.record``).
    ``case_supervision`` None: case discussions are part of the personal record (hull, darlington, school-trust
    as shipped)."""

    case_supervision: CaseSupervisionRecords | None = None


class SarResponse(Rule):
    respond_within: Interval
    extension: Interval


class AccessLogRetention(Rule):
    years: Count = Field(ge=1)


class ClosureDays(Rule):
    dates: tuple[date, ...] = ()


class TemplateSection(_Frozen):
    key: Identifier
    title: str = Field(min_length=1)
    prompt: str | None = None


class RecordTemplate(Rule):
    sections: tuple[TemplateSection, ...]

    @field_validator("sections")
    @classmethod
    def _unique_keys(cls, sections: tuple[TemplateSection, ...]) -> tuple[TemplateSection, ...]:
        if not sections:
            raise ValueError("a record template needs at least one section")
        keys = [s.key for s in sections]
        duplicates = sorted({k for k in keys if keys.count(k) > 1})
        if duplicates:
            raise ValueError(f"duplicate section keys: {', '.join(duplicates)}")
        return sections


class Anonymisation(Rule):
    """What happens to record text that appears to name a child or family member, or gives a date of birth:
    refused, or accepted only on the supervisor's explicit confirmation (recorded in the event)."""

    names: OnNames


class ArchiveAccess(Rule):
    roles: tuple[AccessRole, ...]
    purpose_required: bool = True


class HoldRole(StrEnum):
    """Who a pack may let place or release a legal hold."""

    DPO = "dpo"
    HR = "hr"
    INVESTIGATING_OFFICER = "investigating_officer"
    SENIOR_MANAGER = "senior_manager"


class LegalHolds(Rule):
    place: tuple[HoldRole, ...] = (HoldRole.DPO, HoldRole.HR, HoldRole.INVESTIGATING_OFFICER)
    release: tuple[HoldRole, ...] = (HoldRole.DPO, HoldRole.HR)


class DestructionApproval(Rule):
    """Who may propose the list of files due for destruction, and who may approve or reject it. The approver
    is always a second person: whoever proposed a list may not approve it, whatever their role."""

    propose: tuple[HoldRole, ...] = (HoldRole.DPO, HoldRole.HR)
    approve: tuple[HoldRole, ...] = (HoldRole.DPO, HoldRole.HR)


_APPROVAL_BASELINE = DestructionApproval(
    note="policy silent: the data protection officer or HR proposes the files due for destruction; another "
         "data protection officer or HR approves or rejects the list (never the person who proposed it)")

_HOLDS_BASELINE = LegalHolds(note="policy silent: the data protection officer, HR and investigating officers "
                                  "place holds; only the data protection officer and HR release them")


class SecondSupervisor(Rule):
    """A second person who supervises some workers alongside their line manager (bcp: the ASYE assessor/mentor,
    alternating with the line manager; school-trust: the outside provider). Either may hold and record
    sessions. ``title`` None: the policy names no second supervisor."""

    title: str | None = Field(default=None, min_length=1)
    categories: tuple[WorkerCategory, ...] = ()  # who may have one; empty: any worker
    alternate: bool | None = None  # sessions alternate between the two, starting with the line manager (None: no)
    alternate_for: Interval | None = None  # from the worker's start date; None: for as long as both supervise


class LevelRule(Rule):
    """The supervisor's level in the line management structure must be this many levels above the supervisee's."""

    levels_above: Count = Field(ge=1)


class RegistrationRule(Rule):
    """Supervisors of these categories of worker must hold professional registration."""

    categories: tuple[WorkerCategory, ...] = Field(min_length=1)


class ExperienceRule(Rule):
    """New practitioners are not supervised by someone supervising for less than this long."""

    new_practitioners: tuple[WorkerCategory, ...] = Field(min_length=1)
    supervising_for_at_least: Interval


class RatioRule(Rule):
    """Supervisees per supervisor (line management); more than ``most`` is a departure."""

    fewest: Count = Field(ge=1)
    most: Count = Field(ge=1)

    @model_validator(mode="after")
    def _ordered(self) -> RatioRule:
        if self.most < self.fewest:
            raise ValueError(f"most ({self.most}) must not be below fewest ({self.fewest})")
        return self


class Allocation(Rule):
    """Who may supervise whom. A departure (a breach of one of the rules here) is refused, or allowed and shown
    until a recorded exception agreed by ``exception_agreed_by`` (a job title, e.g. service_manager) covers it."""

    on_breach: Literal["refuse", "flag"] | None = None
    exception_agreed_by: Identifier | None = None
    supervisor_level: LevelRule | None = None
    registration: RegistrationRule | None = None
    experience: ExperienceRule | None = None
    ratio: RatioRule | None = None

    @model_validator(mode="after")
    def _exceptions_named(self) -> Allocation:
        checks = (self.supervisor_level, self.registration, self.experience, self.ratio)
        if any(checks) and (self.on_breach is None or self.exception_agreed_by is None):
            raise ValueError("allocation rules need `on_breach` (refuse or flag) and `exception_agreed_by`")
        return self


_SILENT_SECOND = SecondSupervisor(note="policy silent: one supervisor per worker")
_SILENT_ALLOCATION = Allocation(note="policy silent: no allocation rules")


class PolicyPack(_Frozen):
    schema_version: Literal[1] = 1
    # Bump on any rule change, so events can cite the revision that applied.
    version: Count = Field(ge=1)
    organisation: Organisation
    retention: Retention
    archival: Archival
    completion: Completion
    rebooking: Rebooking
    agreement: Agreement
    frequency: Frequency
    minimum_session_minutes: SessionMinutes
    case_supervision: CaseSupervision
    sar_response: SarResponse
    access_log_retention: AccessLogRetention
    closure_days: ClosureDays
    record_template: RecordTemplate
    archive_access: ArchiveAccess
    anonymisation: Anonymisation
    legal_holds: LegalHolds = _HOLDS_BASELINE
    second_supervisor: SecondSupervisor = _SILENT_SECOND
    allocation: Allocation = _SILENT_ALLOCATION
    # Observation and review cycles the policy names (none: nothing of the kind is due).
    observation: dict[Identifier, ObservationCycle] = Field(default_factory=dict)
    review: dict[Identifier, ReviewCycle] = Field(default_factory=dict)
    record_classes: RecordClasses = RecordClasses()

    @model_validator(mode="after")
    def _reviews_follow_named_reviews(self) -> PolicyPack:
        for key, cycle in self.review.items():
            if cycle.after is not None and cycle.after not in self.review:
                raise ValueError(f"review.{key}.after names {cycle.after!r}, which is no review of this pack")
        return self
    destruction_approval: DestructionApproval = _APPROVAL_BASELINE

    @property
    def short_name(self) -> str:
        return self.organisation.short_name

    def cite(self, rule: Rule) -> str:
        """Whose rule a value is, for a reader: the policy's ("hull") or, where no sentence of the policy
        gives it, the organisation's own configured choice ("darlington's own setting"), never passed off
        as the council's policy."""
        return self.short_name if rule.backed_by_policy else f"{self.short_name}'s own setting"

    @property
    def access_log_retention_years(self) -> int:
        return self.access_log_retention.years

    @property
    def closure_dates(self) -> frozenset[date]:
        return frozenset(self.closure_days.dates)

    @property
    def archive_access_roles(self) -> tuple[AccessRole, ...]:
        return self.archive_access.roles

    def case_records_class(self) -> CaseSupervisionRecords:
        """The case supervision record class, or a refusal naming where such discussions go instead."""
        kept_apart = self.record_classes.case_supervision
        if kept_apart is None:
            raise DomainError(f"{self.short_name} keeps no separate case supervision records: record case "
                              "discussions in the personal supervision record (case_discussions)")
        return kept_apart

    def case_record_years_required(self) -> int:
        """How long case supervision records are kept, or PolicyIncomplete: destruction needs a period."""
        years = self.case_records_class().retention.years_after_discussion
        if years is None:
            raise PolicyIncomplete(
                f"{self.organisation.name} ({self.short_name}): no retention period is set for case supervision "
                "records, so none may be destroyed. The organisation must set "
                "record_classes.case_supervision.retention.years_after_discussion in its policy pack.")
        return years

    def retention_years_required(self) -> int:
        """The retention period, or PolicyIncomplete: destruction needs an explicit period."""
        years = self.retention.years_after_employment_ends
        if years is None:
            raise PolicyIncomplete(
                f"{self.organisation.name} ({self.short_name}): the policy names no retention period "
                "after employment ends, so no supervision record may be destroyed. The organisation "
                "must set retention.years_after_employment_ends in its policy pack."
            )
        return years


def rules(pack: PolicyPack) -> list[tuple[str, Rule]]:
    """Every rule of a pack with its key path ("completion.record", "case_supervision.ratings.green")."""
    found: list[tuple[str, Rule]] = []

    def walk(model: object, path: str) -> None:
        if isinstance(model, Rule):
            found.append((path, model))
        if isinstance(model, BaseModel):
            for name in type(model).model_fields:
                walk(getattr(model, name), f"{path}.{name}".lstrip("."))
        elif isinstance(model, dict):
            for key, value in model.items():
                walk(value, f"{path}.{key}")

    walk(pack, "")
    return found


_RULE_TEXT = frozenset({"source", "note", "basis"})


def sets_a_value(rule: Rule) -> bool:
    """False for a rule that only says the policy is silent (no retention period, no minimum length)."""
    return any(getattr(rule, name) not in (None, (), {}) for name in type(rule).model_fields if name not in _RULE_TEXT)


def organisation_settings(pack: PolicyPack) -> list[tuple[str, Rule]]:
    """Values the pack enforces that no sentence of the policy gives: the organisation's own choices."""
    return [(path, rule) for path, rule in rules(pack) if sets_a_value(rule) and not rule.backed_by_policy]
