"""Who may read or change a supervision record, and on what basis. Pure rules: no I/O, time passed in.

Access follows the relationship *now*: the supervisee, their current supervisor and that supervisor's
line manager (hull, bcp, darlington). Anyone else needs a live access grant whose scope covers the
record. Everything not allowed here is refused, with a reason an inspector can read in the access log.

Unsigned records at a transfer are frozen (the safer of the two choices): the previous supervisor loses
read and write access the moment the transfer is recorded, as the policies require (bcp: permissions
are removed from the previous supervisor), and the new supervisor may read the record but not sign or
change it in the previous supervisor's place, because a supervisor's signature attests to a session
the signer held. The supervisee keeps their own steps. The transfer lists what it freezes.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum


class Role(str, Enum):
    SUPERVISEE = "supervisee"
    SUPERVISOR = "supervisor"
    MANAGER = "manager"
    ADMINISTRATOR = "administrator"  # HR
    INSPECTOR = "inspector"
    INVESTIGATING_OFFICER = "investigating_officer"
    QA = "qa"
    DPO = "dpo"


ALL_ROLES = frozenset(Role)
# Members of staff: each is someone's supervisee, and may read their own records.
STAFF_ROLES = frozenset({Role.SUPERVISEE, Role.SUPERVISOR, Role.MANAGER})
# Staff who may act as a supervisor or oversee one as line manager.
SUPERVISING_ROLES = frozenset({Role.SUPERVISOR, Role.MANAGER})


class Basis(str, Enum):
    OWN_RECORD = "own record"
    CURRENT_SUPERVISOR = "current supervisor"
    LINE_MANAGER = "line manager"
    SECOND_SUPERVISOR = "second supervisor"  # bcp: the ASYE assessor/mentor; school-trust: the outside provider
    GRANT = "grant"
    ADMINISTRATOR = "administrator (file metadata only)"


class Refusal(str, Enum):
    """Why a request was refused; the flags an inspector looks for are built from these."""

    NO_RELATIONSHIP = "no_relationship"
    FORMER_SUPERVISOR = "former_supervisor"
    OUTSIDE_GRANT_SCOPE = "outside_grant_scope"
    GRANT_EXPIRED = "grant_expired"
    GRANT_REVOKED = "grant_revoked"
    ARCHIVED_FILE = "archived_file"
    FROZEN_AT_TRANSFER = "frozen_at_transfer"
    NOT_STAFF = "not_staff"
    PURPOSE_REQUIRED = "purpose_required"
    ROLE = "role"  # the caller's role may not take this step at all
    ALLOCATION = "allocation"  # a supervisor allocation the rules forbid


class ScopeKind(str, Enum):
    RECORD = "record"
    WORKER_FILE = "worker_file"
    TEAM = "team"  # a supervisor's current supervisees


@dataclass(frozen=True)
class Reader:
    user_id: str
    role: Role
    worker_id: str | None = None


@dataclass(frozen=True)
class RecordParties:
    record_id: str
    supervisee_id: str
    drafted_by: str  # the supervisor who drafted it (and signs it)


@dataclass(frozen=True)
class Relationships:
    """The supervisee's position now, read from their file at the moment of access."""

    worker_id: str
    current_supervisor_id: str | None
    line_manager_id: str | None  # the current supervisor's own supervisor
    previous_supervisor_ids: tuple[str, ...] = ()
    file_state: str = "active"  # active | left | archived
    # A second supervisor the pack names (domain/allocation.py): holds and records sessions as a supervisor does.
    second_supervisor_id: str | None = None


@dataclass(frozen=True)
class GrantTerms:
    grant_id: str
    grantee_user_id: str
    category: str
    purpose: str
    scope_kind: ScopeKind
    scope_id: str
    expires_at: datetime
    revoked_at: datetime | None = None

    def live_at(self, at: datetime) -> bool:
        return self.revoked_at is None and at < self.expires_at

    def covers(self, rel: Relationships, record_id: str | None) -> bool:
        if self.scope_kind is ScopeKind.RECORD:
            return record_id is not None and self.scope_id == record_id
        if self.scope_kind is ScopeKind.WORKER_FILE:
            return self.scope_id == rel.worker_id
        return rel.current_supervisor_id is not None and self.scope_id == rel.current_supervisor_id


@dataclass(frozen=True)
class Decision:
    allowed: bool
    basis: str = ""
    purpose: str = ""
    grant_id: str | None = None
    category: str | None = None
    refusal: Refusal | None = None
    reason: str = ""
    notes: tuple[str, ...] = field(default=())

    @classmethod
    def allow(cls, basis: Basis, purpose: str) -> "Decision":
        return cls(True, basis.value, purpose)

    @classmethod
    def refuse(cls, refusal: Refusal, reason: str, grant: GrantTerms | None = None) -> "Decision":
        return cls(False, refusal=refusal, reason=reason, grant_id=grant.grant_id if grant else None,
                   category=grant.category if grant else None, purpose=grant.purpose if grant else "")


_PURPOSES = {
    Basis.OWN_RECORD: "own supervision record",
    Basis.CURRENT_SUPERVISOR: "supervision of the worker",
    Basis.LINE_MANAGER: "oversight of the supervisor (line management)",
    Basis.SECOND_SUPERVISOR: "supervision of the worker (second supervisor)",
}


# What each of our roles counts as among the roles a policy pack names (domain.policy.AccessRole, HoldRole).
PACK_ROLE_NAMES: dict[Role, frozenset[str]] = {
    Role.SUPERVISEE: frozenset(),
    Role.SUPERVISOR: frozenset({"line_manager"}),
    Role.MANAGER: frozenset({"line_manager", "senior_manager"}),
    Role.ADMINISTRATOR: frozenset({"hr"}),
    Role.INSPECTOR: frozenset({"inspector"}),
    Role.INVESTIGATING_OFFICER: frozenset({"investigating_officer"}),
    Role.QA: frozenset({"quality_staff", "workforce_development"}),
    Role.DPO: frozenset({"dpo"}),
}
ARCHIVE_ROLE_NAMES = PACK_ROLE_NAMES


@dataclass(frozen=True)
class ArchiveRule:
    """The pack's `archive_access`: who may read an archived file (under a grant), and whether each read must
    state its purpose."""

    roles: frozenset[str]
    purpose_required: bool = True


def decide_read(reader: Reader, rel: Relationships, grants: Sequence[GrantTerms], at: datetime,
                record: RecordParties | None = None, archive_roles: frozenset[str] | None = None,
                archive: ArchiveRule | None = None, stated_purpose: str = "") -> Decision:
    """May `reader` read this record's content (or, with record=None, the worker's whole file)?

    An archived file is read only under a grant, only by the roles the policy pack allows, and (when the
    pack says so) only with a purpose stated for that read; a subject access request is answered whatever
    the pack says, as the law requires."""
    if archive is None and archive_roles is not None:
        archive = ArchiveRule(archive_roles, purpose_required=False)
    relationship = _relationship(reader, rel)
    if relationship is not None and rel.file_state != "archived":
        return Decision.allow(relationship, _PURPOSES[relationship])
    record_id = record.record_id if record else None
    by_grant = _by_grant(reader, rel, grants, at, record_id)
    if by_grant is not None:
        if by_grant.allowed and rel.file_state == "archived" and archive is not None and by_grant.category != "sar":
            if not PACK_ROLE_NAMES[reader.role] & archive.roles:
                return Decision.refuse(Refusal.ARCHIVED_FILE,
                                       f"the file is archived: the policy pack lets only "
                                       f"{', '.join(sorted(archive.roles))} read it, under a grant")
            if archive.purpose_required and not stated_purpose.strip():
                return Decision.refuse(Refusal.PURPOSE_REQUIRED,
                                       "the file is archived: the policy pack requires a defined purpose for each "
                                       "read; state it (X-Access-Purpose, or --purpose)")
        return by_grant
    if relationship is not None:
        return Decision.refuse(Refusal.ARCHIVED_FILE, "the file is archived: reading it needs an access grant")
    if _former_supervisor(reader, rel, record):
        return Decision.refuse(Refusal.FORMER_SUPERVISOR,
                               "you are no longer this worker's supervisor: access moved with the worker "
                               "to their current supervisor at the transfer")
    return Decision.refuse(Refusal.NO_RELATIONSHIP,
                           "you are not the supervisee, their current supervisor or that supervisor's line "
                           "manager, and hold no live access grant that covers this")


def decide_file_metadata(reader: Reader, rel: Relationships, grants: Sequence[GrantTerms],
                         at: datetime, archive: ArchiveRule | None = None, stated_purpose: str = "") -> Decision:
    """The file's index (record dates, states, supervisors) without content: HR keeps files in order. An
    archived file's index is read like its records: only by the roles the pack names."""
    if reader.role is Role.ADMINISTRATOR:
        return Decision.allow(Basis.ADMINISTRATOR, "keeping the worker's file (HR)")
    return decide_read(reader, rel, grants, at, archive=archive, stated_purpose=stated_purpose)


def may_list_archived(reader: Reader, archive: ArchiveRule) -> bool:
    """Whether an archived file's records may appear in the reader's index at all."""
    return bool(PACK_ROLE_NAMES[reader.role] & archive.roles)


# -- the index of records a reader may list (no content: each read is still decided and logged) -----------

class ListedBy(str, Enum):
    """Which column of a current record (or of its supervisee's file) a listing scope matches."""

    SUPERVISEE = "supervisee"  # the record's supervisee
    SUPERVISOR = "supervisor"  # the supervisee's current supervisor
    LINE_MANAGER = "line_manager"  # that supervisor's own supervisor
    RECORD = "record"  # the record itself (a grant's scope)


@dataclass(frozen=True)
class ListingScope:
    """Records whose `by` is `id`; from archived files only when `archived_too`."""

    by: ListedBy
    id: str
    archived_too: bool = False


_GRANT_LISTS_BY = {ScopeKind.RECORD: ListedBy.RECORD, ScopeKind.WORKER_FILE: ListedBy.SUPERVISEE,
                   ScopeKind.TEAM: ListedBy.SUPERVISOR}


def listing_scopes(reader: Reader, grants: Sequence[GrantTerms], at: datetime,
                   archive: Callable[[], ArchiveRule]) -> tuple[ListingScope, ...]:
    """Which records `reader` may list now: their own relationships (never an archived file's), and each live
    grant's scope (an archived file's only where the pack lets the reader's role, or for a subject access
    request, whatever the pack says). Empty: nothing. `archive` is asked only when a live grant needs it."""
    scopes: list[ListingScope] = []
    if reader.worker_id is not None and reader.role in STAFF_ROLES:
        scopes.append(ListingScope(ListedBy.SUPERVISEE, reader.worker_id))
        if reader.role in SUPERVISING_ROLES:
            scopes += [ListingScope(ListedBy.SUPERVISOR, reader.worker_id),
                       ListingScope(ListedBy.LINE_MANAGER, reader.worker_id)]
    live = [g for g in grants if g.live_at(at)]
    archived_too = may_list_archived(reader, archive()) if live else False
    scopes += [ListingScope(_GRANT_LISTS_BY[g.scope_kind], g.scope_id, archived_too or g.category == "sar")
               for g in live]
    return tuple(scopes)


def account_ended(disabled_at: datetime | None, at: datetime) -> bool:
    """An account given an end (a leaver's is given their leaving date ahead of time) works until then."""
    return disabled_at is not None and disabled_at <= at


# -- commands that are not steps on a record ---------------------------------------------------------------

def decide_role(reader: Reader, allowed: frozenset[Role] | set[Role] | tuple[Role, ...], step: str) -> Decision:
    """Steps only some roles may take at all (HR's file changes, grants, retention runs)."""
    if reader.role in allowed:
        return Decision(True, f"role {reader.role.value}", step)
    names = ", ".join(sorted(r.value for r in allowed))
    return Decision.refuse(Refusal.ROLE, f"a {reader.role.value} may not {step}; only: {names}")


def decide_pack_role(reader: Reader, pack_roles: Sequence[str], step: str) -> Decision:
    """Steps the policy pack assigns to named roles (e.g. who may place or release a legal hold)."""
    if PACK_ROLE_NAMES[reader.role] & set(pack_roles):
        return Decision(True, f"role {reader.role.value}", step)
    return Decision.refuse(Refusal.ROLE, f"the policy pack lets only {', '.join(sorted(pack_roles))} {step}")


def decide_destruction_review(reader: Reader, pack_roles: Sequence[str], proposed_by_user: str, step: str) -> Decision:
    """Approving or rejecting a destruction proposal: a role the pack names, and never the person who proposed
    it (a second pair of eyes before anything is destroyed: records-management disposition review)."""
    by_role = decide_pack_role(reader, pack_roles, step)
    if not by_role.allowed:
        return by_role
    if reader.user_id == proposed_by_user:
        return Decision.refuse(Refusal.ROLE, f"you proposed this list, so you may not {step}: another authorised "
                                             f"person ({', '.join(sorted(pack_roles))}) must")
    return by_role


def decide_staff_step(reader: Reader, step: str) -> Decision:
    """Supervision steps (sessions, agreements, cases) are taken by members of staff as themselves; the domain
    then decides whether this member of staff is the right party."""
    if reader.role in STAFF_ROLES and reader.worker_id is not None:
        return Decision(True, "member of staff", step)
    return Decision.refuse(Refusal.NOT_STAFF, f"only members of staff (supervisee, supervisor, manager) {step}")


@dataclass(frozen=True)
class SupervisorCandidate:
    """The person HR would make someone's supervisor, as they stand now."""

    worker_id: str
    state: str
    supervisor_id: str | None  # the candidate's own supervisor
    account_roles: frozenset[Role]  # the roles of the candidate's user accounts (none: no account yet)


def decide_allocation(reader: Reader, worker_id: str, candidate: SupervisorCandidate) -> Decision:
    """May HR make `candidate` the supervisor of `worker_id` (a first allocation or a transfer)?"""
    role = decide_role(reader, {Role.ADMINISTRATOR}, "allocate or transfer supervisors")
    if not role.allowed:
        return role
    if candidate.state != "active":
        return Decision.refuse(Refusal.ALLOCATION, f"the supervisor is {candidate.state}, not active")
    if candidate.supervisor_id == worker_id:
        return Decision.refuse(Refusal.ALLOCATION, "the new supervisor is this worker's own supervisee: two people "
                                                   "cannot be each other's supervisor")
    if candidate.account_roles and not candidate.account_roles & SUPERVISING_ROLES:
        roles = ", ".join(sorted(r.value for r in candidate.account_roles))
        return Decision.refuse(Refusal.ALLOCATION, f"the new supervisor's account has the role {roles}: give them a "
                                                   "supervisor or manager account first")
    return Decision(True, "role administrator", "allocate a supervisor")


def decide_write(reader: Reader, rel: Relationships, record: RecordParties, party: str) -> Decision:
    """May `reader` take a step on the record as `party` ("supervisee" or "supervisor")?

    The domain then decides whether the step is allowed in the record's state."""
    if reader.role not in STAFF_ROLES or reader.worker_id is None:
        return Decision.refuse(Refusal.NOT_STAFF, f"only the record's {party} can do this")
    if rel.file_state == "archived":
        return Decision.refuse(Refusal.ARCHIVED_FILE, "the file is archived: it is read-only")
    if party == "supervisee":
        if reader.worker_id == record.supervisee_id:
            return Decision.allow(Basis.OWN_RECORD, _PURPOSES[Basis.OWN_RECORD])
        return Decision.refuse(Refusal.NO_RELATIONSHIP, "only the supervisee can do this")
    if _second_supervisor(reader, rel) or (record.drafted_by == rel.second_supervisor_id
                                           and reader.worker_id == rel.current_supervisor_id):
        if reader.worker_id != record.drafted_by:
            return Decision.refuse(Refusal.NO_RELATIONSHIP, "this record was drafted by the worker's other "
                                                            "supervisor: only its author signs or changes it "
                                                            "as supervisor")
        return Decision.allow(Basis.SECOND_SUPERVISOR, _PURPOSES[Basis.SECOND_SUPERVISOR])
    if reader.worker_id == rel.current_supervisor_id and reader.role in SUPERVISING_ROLES:
        if reader.worker_id != record.drafted_by:
            return Decision.refuse(Refusal.FROZEN_AT_TRANSFER,
                                   "this record was drafted by the previous supervisor before a transfer; "
                                   "only its author can sign or change it as supervisor, and they no longer "
                                   "have access, so it stays as it was")
        return Decision.allow(Basis.CURRENT_SUPERVISOR, _PURPOSES[Basis.CURRENT_SUPERVISOR])
    if _former_supervisor(reader, rel, record):
        return Decision.refuse(Refusal.FORMER_SUPERVISOR,
                               "you are no longer this worker's supervisor: write access moved at the transfer")
    return Decision.refuse(Refusal.NO_RELATIONSHIP, "only the worker's current supervisor can do this")


def decide_draft(reader: Reader, rel: Relationships) -> Decision:
    """Only the supervisee's current supervisor (or their second supervisor, where the pack names one) drafts
    their records."""
    return decide_session_step(reader, rel, "drafts their supervision records")


def decide_session_step(reader: Reader, rel: Relationships, step: str) -> Decision:
    """Steps a supervisor takes for a supervisee (schedule or rebook a session, draft its record): the current
    supervisor, or the second supervisor where the pack names one (bcp: the line manager alternates with the
    ASYE assessor/mentor; school-trust: the outside provider)."""
    if rel.file_state == "active" and _second_supervisor(reader, rel):
        return Decision.allow(Basis.SECOND_SUPERVISOR, _PURPOSES[Basis.SECOND_SUPERVISOR])
    if reader.role in SUPERVISING_ROLES and reader.worker_id is not None \
            and reader.worker_id == rel.current_supervisor_id:
        return Decision.allow(Basis.CURRENT_SUPERVISOR, _PURPOSES[Basis.CURRENT_SUPERVISOR])
    return Decision.refuse(Refusal.NO_RELATIONSHIP, f"only the worker's current supervisor {step}")


def decide_practice_read(reader: Reader, rel: Relationships, chain: Sequence[str], grants: Sequence[GrantTerms],
                         at: datetime, archive: ArchiveRule | None = None, stated_purpose: str = "") -> Decision:
    """May `reader` see a worker's practice: the observations of it (with their feedback), the decisions to
    reduce their supervision frequency and their employee reviews?

    The worker themself; their current supervisor, or the second supervisor the pack names; anyone above them
    in line management (``chain``: their supervisor, that supervisor's supervisor, ...), since an observation
    or a review may be recorded by "someone above them"; or a live grant covering their file. An archived
    file is read as any archived file is (domain rule `decide_read`). Everyone else is refused."""
    if rel.file_state == "archived":
        return decide_read(reader, rel, grants, at, archive=archive, stated_purpose=stated_purpose)
    if reader.role in STAFF_ROLES and reader.worker_id is not None:
        basis = None
        if reader.worker_id == rel.worker_id:
            basis = Basis.OWN_RECORD
        elif reader.role in SUPERVISING_ROLES:
            if reader.worker_id == rel.current_supervisor_id:
                basis = Basis.CURRENT_SUPERVISOR
            elif reader.worker_id == rel.second_supervisor_id:
                basis = Basis.SECOND_SUPERVISOR
            elif reader.worker_id in chain[1:]:
                basis = Basis.LINE_MANAGER
        if basis is not None:
            return Decision.allow(basis, _PURPOSES[basis])
    by_grant = _by_grant(reader, rel, grants, at, None)
    if by_grant is not None:
        return by_grant
    if _former_supervisor(reader, rel, None):
        return Decision.refuse(Refusal.FORMER_SUPERVISOR,
                               "you are no longer this worker's supervisor: access moved with the worker to their "
                               "current supervisor at the transfer")
    return Decision.refuse(Refusal.NO_RELATIONSHIP,
                           "you are not this worker, their supervisor or above them in line management, and hold no "
                           "live access grant that covers their file")


def practice_steps_offered(reader: Reader, rel: Relationships, chain: Sequence[str]) -> frozenset[str]:
    """Which of the practice forms to offer someone who may see the page ("observation", "step_down",
    "review"); the commands decide again when one is sent. The worker and grant holders only read."""
    if reader.role not in SUPERVISING_ROLES or reader.worker_id is None or reader.worker_id == rel.worker_id \
            or rel.file_state != "active":
        return frozenset()
    offered = {"observation"}  # their supervisor, someone above them, or a peer
    if reader.worker_id == rel.current_supervisor_id:
        offered.add("step_down")
    if reader.worker_id in chain:
        offered.add("review")
    return frozenset(offered)


def decide_allocation_exception(reader: Reader) -> Decision:
    """A departure from the allocation rules is agreed by a manager acting as themselves; which job title may
    agree it is the pack's (domain.allocation.check_exception)."""
    if reader.role is Role.MANAGER and reader.worker_id is not None:
        return Decision(True, "role manager", "agree an allocation exception")
    return Decision.refuse(Refusal.ROLE, "only a manager, acting as themselves, agrees a departure from the "
                                         "allocation rules")


def decide_either_party(reader: Reader, rel: Relationships, record: RecordParties) -> Decision:
    """Steps either party may take (sign, addenda): as supervisee if it is their record, else as supervisor."""
    party = "supervisee" if reader.worker_id == record.supervisee_id else "supervisor"
    return decide_write(reader, rel, record, party)


def _second_supervisor(reader: Reader, rel: Relationships) -> bool:
    return reader.role in SUPERVISING_ROLES and reader.worker_id is not None \
        and reader.worker_id == rel.second_supervisor_id


def _former_supervisor(reader: Reader, rel: Relationships, record: RecordParties | None) -> bool:
    if reader.role not in SUPERVISING_ROLES or reader.worker_id in (None, rel.current_supervisor_id,
                                                                     rel.second_supervisor_id):
        return False
    return reader.worker_id in rel.previous_supervisor_ids or (record is not None
                                                               and reader.worker_id == record.drafted_by)


def _relationship(reader: Reader, rel: Relationships) -> Basis | None:
    if reader.role not in STAFF_ROLES or reader.worker_id is None:
        return None
    if reader.worker_id == rel.worker_id:
        return Basis.OWN_RECORD
    if reader.role in SUPERVISING_ROLES:
        if reader.worker_id == rel.current_supervisor_id:
            return Basis.CURRENT_SUPERVISOR
        if reader.worker_id == rel.line_manager_id:
            return Basis.LINE_MANAGER
        if reader.worker_id == rel.second_supervisor_id:
            return Basis.SECOND_SUPERVISOR
    return None


def _by_grant(reader: Reader, rel: Relationships, grants: Sequence[GrantTerms], at: datetime,
              record_id: str | None) -> Decision | None:
    """A live grant that covers it allows; otherwise the refusal says what an inspector would want to know."""
    mine = [g for g in grants if g.grantee_user_id == reader.user_id]
    covering = [g for g in mine if g.covers(rel, record_id)]
    live = [g for g in covering if g.live_at(at)]
    if live:
        g = min(live, key=lambda g: g.expires_at)
        return Decision(True, f"{Basis.GRANT.value} {g.grant_id}", g.purpose, g.grant_id, g.category)
    if covering:
        g = max(covering, key=lambda g: g.expires_at)
        if g.revoked_at is not None and g.revoked_at <= at:
            return Decision.refuse(Refusal.GRANT_REVOKED, f"access grant {g.grant_id} was revoked", g)
        return Decision.refuse(Refusal.GRANT_EXPIRED,
                               f"access grant {g.grant_id} expired at {g.expires_at.isoformat()}", g)
    if any(g.live_at(at) for g in mine):
        return Decision.refuse(Refusal.OUTSIDE_GRANT_SCOPE,
                               "none of your live access grants covers this record or file")
    return None
