"""Access grants: an administrator lets a named person read records for a stated purpose, within a scope,
until an expiry. Anyone outside the supervision relationship reads only under one (hull, bcp, darlington).
"""

from datetime import datetime
from enum import Enum

from eventsourcing.domain import Aggregate, event

from domain.authorisation import GrantTerms, Role, ScopeKind
from domain.errors import DomainError, NotPermitted, OutOfOrder
from domain.labels import ID_LENGTH, USERNAME_LENGTH, bounded
from domain.timestamps import require_not_before, require_utc


class GrantCategory(str, Enum):
    INSPECTION = "inspection"
    INVESTIGATION = "investigation"
    QA_AUDIT = "qa_audit"
    SAR = "sar"  # a subject access request being answered


# Who may hold a grant of each category: a purpose belongs to a function, not to whoever asks.
CATEGORY_HOLDERS: dict[GrantCategory, frozenset[Role]] = {
    GrantCategory.INSPECTION: frozenset({Role.INSPECTOR}),
    GrantCategory.INVESTIGATION: frozenset({Role.INVESTIGATING_OFFICER}),
    GrantCategory.QA_AUDIT: frozenset({Role.QA, Role.MANAGER}),  # workforce/QA staff, senior managers (bcp)
    GrantCategory.SAR: frozenset({Role.DPO}),
}


class AccessGrant(Aggregate):
    @event("Granted")
    def __init__(self, grantee_user_id: str, grantee_username: str, grantee_role: str, purpose: str,
                 category: str, scope_kind: str, scope_id: str, expires_at: datetime, actor: str,
                 timestamp: datetime) -> None:
        self.grantee_user_id = grantee_user_id
        self.grantee_username = grantee_username
        self.grantee_role = grantee_role
        self.purpose = purpose
        self.category = category
        self.scope_kind = scope_kind
        self.scope_id = scope_id
        self.expires_at = expires_at
        self.granted_by = actor
        self.granted_at = timestamp
        self.revoked_at: datetime | None = None
        self.revoked_by: str | None = None
        self.revocation_reason: str | None = None

    @classmethod
    def grant(cls, *, grantee_user_id: str, grantee_username: str, grantee_role: str, purpose: str,
              category: str, scope_kind: str, scope_id: str, expires_at: datetime, granted_by_user_id: str,
              granted_by_role: str, timestamp: datetime) -> "AccessGrant":
        require_utc(timestamp)
        if granted_by_role != Role.ADMINISTRATOR.value:
            raise NotPermitted("only an administrator grants access")
        if grantee_user_id == granted_by_user_id:
            raise NotPermitted("an administrator cannot grant access to themselves")
        category_ = _one_of(GrantCategory, category, "category")
        _one_of(ScopeKind, scope_kind, "scope kind")
        role = _one_of(Role, grantee_role, "role")
        if role not in CATEGORY_HOLDERS[category_]:
            holders = ", ".join(sorted(r.value for r in CATEGORY_HOLDERS[category_]))
            raise DomainError(f"a {category_.value} grant is for: {holders}; {grantee_username} is a {role.value}")
        if not purpose.strip():
            raise DomainError("purpose must state why access is needed")
        if not scope_id.strip():
            raise DomainError("scope id must name the record, worker or supervisor")
        bounded(scope_id, ID_LENGTH, "scope id")
        bounded(grantee_username, USERNAME_LENGTH, "grantee username")
        require_utc(expires_at)
        if expires_at <= timestamp:
            raise DomainError("expires_at must be in the future")
        return cls(grantee_user_id, grantee_username, role.value, purpose.strip(), category_.value, scope_kind,
                   scope_id.strip(), expires_at, granted_by_user_id, timestamp)

    def revoke(self, reason: str, *, actor: str, actor_role: str, timestamp: datetime) -> None:
        """Stops the grant at once; the grant and its use stay on record."""
        require_not_before(timestamp, self.modified_on)
        if actor_role != Role.ADMINISTRATOR.value:
            raise NotPermitted("only an administrator revokes access")
        if self.revoked_at is not None:
            raise OutOfOrder(f"the grant was already revoked at {self.revoked_at.isoformat()}")
        if not reason.strip():
            raise DomainError("reason must say why the grant is revoked")
        self._revoked(reason=reason.strip(), actor=actor, timestamp=timestamp)

    @event("Revoked")
    def _revoked(self, reason: str, actor: str, timestamp: datetime) -> None:
        self.revoked_at = timestamp
        self.revoked_by = actor
        self.revocation_reason = reason

    def terms(self) -> GrantTerms:
        return GrantTerms(str(self.id), self.grantee_user_id, self.category, self.purpose,
                          ScopeKind(self.scope_kind), self.scope_id, self.expires_at, self.revoked_at)


def _one_of(enum: type[Enum], value: str, noun: str):  # type: ignore[no-untyped-def]
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(m.value for m in enum)
        raise DomainError(f"{noun} {value!r} is not one of: {allowed}") from None
