"""How often a child's case is discussed in supervision, by its rating (darlington's RAG; bcp, bury ratings).

A case is named by initials, a pseudonym or a number, never by name (bury, bcp). A rating whose pack rule
names an approver (darlington: Green needs the Head of Service) is refused unless the approval is recorded
with it, and the approver holds that role; where the rule is an agreement between supervisor and
supervisee (bury: a settled case), the supervisee is the one who agrees, and the rationale is recorded.
"""

import re
from datetime import date, datetime

from eventsourcing.domain import Aggregate, event

from domain.anonymisation import NameLexicon
from domain.errors import DomainError, NotPermitted, OutOfOrder
from domain.policy import PolicyPack
from domain.record_content import check_case_reference
from domain.timestamps import require_not_before, require_utc

# A pack's approval_by that is the two parties' agreement rather than a role someone holds.
BOTH_PARTIES = "supervisor_and_supervisee"


def holds_role(job_title: str, role: str) -> bool:
    """Does a job title name the pack's role? "Head of Service", "Head of Service – Care Planning"
    hold ``head_of_service``; "Service Manager", "Assistant Head of Service" do not."""
    title = re.sub(r"[^a-z0-9]+", "_", job_title.lower()).strip("_")
    return title == role or title.startswith(role + "_")


def check_rating(pack: PolicyPack, rating: str | None) -> str | None:
    """The pack's name for the rating (lower case), or None for an unrated case."""
    if rating is None or not rating.strip():
        return None
    name = rating.strip().lower().replace(" ", "_").replace("-", "_")
    if name not in pack.case_supervision.ratings:
        known = ", ".join(sorted(pack.case_supervision.ratings)) or "none: leave the case unrated"
        raise DomainError(f"{pack.short_name} has no case rating {rating!r}; known ratings: {known}")
    return name


class CaseSupervision(Aggregate):
    @event("Opened")
    def __init__(self, worker_id: str, supervisor_id: str, case_reference: str, actor: str,
                 timestamp: datetime) -> None:
        self.worker_id = worker_id
        self.supervisor_id = supervisor_id
        self.case_reference = case_reference
        self.rating: str | None = None
        self.approval: dict | None = None
        self.last_discussed_on: date | None = None
        self.closed = False

    @classmethod
    def open(cls, *, worker_id: str, supervisor_id: str, case_reference: str, actor: str,
             timestamp: datetime, lexicon: NameLexicon | None = None) -> "CaseSupervision":
        """A case the worker holds, tracked for how often it is discussed in their supervision."""
        require_utc(timestamp)
        if actor != supervisor_id:
            raise NotPermitted("only the worker's supervisor opens a case for case supervision")
        return cls(worker_id, supervisor_id, check_case_reference(case_reference, lexicon), actor, timestamp)

    def rate(self, rating: str | None, *, pack: PolicyPack, actor: str, supervisor_now: str, timestamp: datetime,
             approved_by: str | None = None, approved_on: date | None = None,
             approver_role: str | None = None, rationale: str = "") -> None:
        """The team manager agrees a frequency rating; some ratings need an approver's sign-off recorded.

        ``approver_role`` is the approver's job title as the organisation holds it (e.g. "Head of
        Service"); it must name the role the pack's rule gives."""
        self._check(actor, supervisor_now, "rate the case", timestamp)
        name = check_rating(pack, rating)
        rule = pack.case_supervision.ratings[name] if name else pack.case_supervision.unrated
        required = rule.approval_by
        if required == BOTH_PARTIES:
            if approved_by is not None and approved_by != self.worker_id:
                raise NotPermitted(f"a {name} rating is agreed between supervisor and supervisee "
                                   f"({pack.short_name}): the supervisee agrees it, not someone else")
        elif approved_by is not None and approved_by in (actor, self.worker_id):
            raise NotPermitted("the approval must come from someone other than the supervisor and the worker")
        approver_role_name = required
        if required is not None:
            if not approved_by or approved_on is None:
                raise NotPermitted(
                    f"a {name} rating needs the approval of the {required.replace('_', ' ')} recorded with it "
                    f"({pack.short_name}: '{rule.source}'): give who approved it and when")
            if approved_on > timestamp.date():
                raise DomainError(f"the approval date {approved_on} is in the future")
            if required == BOTH_PARTIES and not rationale.strip():
                raise NotPermitted(f"a {name} rating is agreed between supervisor and supervisee with the rationale "
                                   f"recorded ({pack.short_name}): give the rationale")
            if len(rationale) > 4000:
                raise DomainError("the rationale is longer than 4000 characters")
            if required != BOTH_PARTIES:
                if approver_role is None or not approver_role.strip():
                    raise NotPermitted(f"a {name} rating needs the approval of the {required.replace('_', ' ')}: "
                                       "give the approver's role so it can be checked")
                if not holds_role(approver_role, required):
                    raise NotPermitted(
                        f"a {name} rating needs the approval of the {required.replace('_', ' ')} "
                        f"({pack.short_name}: '{rule.source}'); the approver is {approver_role!r}")
        elif approved_by or approved_on:
            raise DomainError(f"{pack.short_name} needs no approval for a {name or 'unrated'} case")
        self._rated(rating=name, approval_by_role=approver_role_name,
                    approved_by=approved_by if approver_role_name else None,
                    approved_on=approved_on if approver_role_name else None, pack=pack.short_name, actor=actor,
                    timestamp=timestamp, approver_title=approver_role if approver_role_name else None,
                    rationale=rationale.strip() if required == BOTH_PARTIES else "")

    @event("Rated")
    def _rated(self, rating: str | None, approval_by_role: str | None, approved_by: str | None,
               approved_on: date | None, pack: str, actor: str, timestamp: datetime,
               approver_title: str | None = None, rationale: str = "") -> None:
        self.rating = rating
        self.approval = None if approved_by is None else {"role": approval_by_role, "by": approved_by,
                                                          "on": approved_on, **({"rationale": rationale}
                                                                                 if rationale else {})}

    def record_discussion(self, discussed_on: date, *, actor: str, supervisor_now: str, timestamp: datetime) -> None:
        self._check(actor, supervisor_now, "record a case discussion", timestamp)
        if discussed_on > timestamp.date():
            raise DomainError(f"the discussion date {discussed_on} is in the future")
        if self.last_discussed_on is not None and discussed_on < self.last_discussed_on:
            raise DomainError(f"the case was already discussed later, on {self.last_discussed_on}")
        self._discussed(discussed_on=discussed_on, actor=actor, timestamp=timestamp)

    @event("Discussed")
    def _discussed(self, discussed_on: date, actor: str, timestamp: datetime) -> None:
        self.last_discussed_on = discussed_on

    def close(self, *, actor: str, supervisor_now: str, timestamp: datetime) -> None:
        """The case closed or moved to another worker: it is no longer due for discussion here."""
        self._check(actor, supervisor_now, "close the case", timestamp)
        self._closed(actor=actor, timestamp=timestamp)

    @event("Closed")
    def _closed(self, actor: str, timestamp: datetime) -> None:
        self.closed = True

    def _check(self, actor: str, supervisor_now: str, step: str, timestamp: datetime) -> None:
        # Whoever supervises the worker now, not necessarily who opened the case: it moves at a transfer.
        require_not_before(timestamp, self.modified_on)
        if actor != supervisor_now:
            raise NotPermitted(f"only the worker's current supervisor can {step}")
        if self.closed:
            raise OutOfOrder(f"cannot {step}: the case is closed")
