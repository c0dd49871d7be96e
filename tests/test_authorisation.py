"""The access rules alone (no database): relationships now, grants by scope and time, refusals with reasons."""

from datetime import datetime, timedelta, timezone

import pytest

from domain.access import AccessGrant
from domain.authorisation import (GrantTerms, Reader, RecordParties, Refusal, Relationships, Role, ScopeKind,
                                  decide_either_party, decide_file_metadata, decide_read, decide_write)
from domain.errors import DomainError, NotPermitted, OutOfOrder

NOW = datetime(2026, 5, 1, 12, tzinfo=timezone.utc)
REL = Relationships("sam", current_supervisor_id="alex", line_manager_id="morgan")
AFTER_TRANSFER = Relationships("sam", current_supervisor_id="jo", line_manager_id="morgan",
                               previous_supervisor_ids=("alex",))
RECORD = RecordParties("rec-1", supervisee_id="sam", drafted_by="alex")


def staff(worker: str, role: Role = Role.SUPERVISOR) -> Reader:
    return Reader(f"user-{worker}", role, worker)


def grant(scope: ScopeKind, scope_id: str, *, expires: datetime = NOW + timedelta(days=1),
          revoked: datetime | None = None, grantee: str = "user-ines") -> GrantTerms:
    return GrantTerms("g-1", grantee, "inspection", "Ofsted", scope, scope_id, expires, revoked)


INSPECTOR = Reader("user-ines", Role.INSPECTOR)


@pytest.mark.parametrize("reader, rel, basis", [
    (staff("sam", Role.SUPERVISEE), REL, "own record"),
    (staff("alex"), REL, "current supervisor"),
    (staff("morgan", Role.MANAGER), REL, "line manager"),
    (staff("jo"), AFTER_TRANSFER, "current supervisor"),
    (staff("sam", Role.SUPERVISEE), AFTER_TRANSFER, "own record"),
])
def test_the_relationship_now_allows(reader: Reader, rel: Relationships, basis: str) -> None:
    decision = decide_read(reader, rel, [], NOW, RECORD)
    assert decision.allowed and decision.basis == basis and decision.purpose


@pytest.mark.parametrize("reader, rel, refusal", [
    (staff("alex"), AFTER_TRANSFER, Refusal.FORMER_SUPERVISOR),
    (staff("jo"), REL, Refusal.NO_RELATIONSHIP),
    (staff("alex", Role.SUPERVISEE), REL, Refusal.NO_RELATIONSHIP),  # allocated, but not in a supervising role
    (Reader("user-hana", Role.ADMINISTRATOR), REL, Refusal.NO_RELATIONSHIP),
    (Reader("user-alex", Role.INSPECTOR, "alex"), REL, Refusal.NO_RELATIONSHIP),  # role decides, not the link
    (staff("sam", Role.SUPERVISEE), Relationships("sam", "alex", "morgan", file_state="archived"),
     Refusal.ARCHIVED_FILE),
])
def test_everyone_else_is_refused_with_a_reason(reader: Reader, rel: Relationships, refusal: Refusal) -> None:
    decision = decide_read(reader, rel, [], NOW, RECORD)
    assert not decision.allowed and decision.refusal is refusal and decision.reason


@pytest.mark.parametrize("scope, scope_id, rel, allowed", [
    (ScopeKind.RECORD, "rec-1", REL, True),
    (ScopeKind.RECORD, "rec-2", REL, False),
    (ScopeKind.WORKER_FILE, "sam", REL, True),
    (ScopeKind.TEAM, "alex", REL, True),
    (ScopeKind.TEAM, "alex", AFTER_TRANSFER, False),  # the team is the supervisor's supervisees now
])
def test_a_grant_allows_within_its_scope(scope: ScopeKind, scope_id: str, rel: Relationships,
                                         allowed: bool) -> None:
    decision = decide_read(INSPECTOR, rel, [grant(scope, scope_id)], NOW, RECORD)
    assert decision.allowed is allowed
    if allowed:
        assert decision.grant_id == "g-1" and decision.purpose == "Ofsted" and decision.category == "inspection"
    else:
        assert decision.refusal is Refusal.OUTSIDE_GRANT_SCOPE


def test_grants_stop_at_expiry_and_revocation_and_are_personal() -> None:
    expired = grant(ScopeKind.RECORD, "rec-1", expires=NOW)
    assert decide_read(INSPECTOR, REL, [expired], NOW, RECORD).refusal is Refusal.GRANT_EXPIRED
    revoked = grant(ScopeKind.RECORD, "rec-1", revoked=NOW - timedelta(seconds=1))
    assert decide_read(INSPECTOR, REL, [revoked], NOW, RECORD).refusal is Refusal.GRANT_REVOKED
    someone_elses = grant(ScopeKind.RECORD, "rec-1", grantee="user-ivo")
    assert decide_read(INSPECTOR, REL, [someone_elses], NOW, RECORD).refusal is Refusal.NO_RELATIONSHIP


def test_file_metadata_for_hr_but_not_content() -> None:
    hr = Reader("user-hana", Role.ADMINISTRATOR)
    assert decide_file_metadata(hr, REL, [], NOW).allowed
    assert not decide_read(hr, REL, [], NOW).allowed


def test_writes_follow_the_current_supervisor_and_freeze_at_transfer() -> None:
    assert decide_write(staff("alex"), REL, RECORD, "supervisor").allowed
    assert decide_write(staff("sam", Role.SUPERVISEE), REL, RECORD, "supervisee").allowed
    assert decide_write(staff("alex"), AFTER_TRANSFER, RECORD, "supervisor").refusal is Refusal.FORMER_SUPERVISOR
    assert decide_write(staff("jo"), AFTER_TRANSFER, RECORD, "supervisor").refusal is Refusal.FROZEN_AT_TRANSFER
    assert decide_either_party(staff("sam", Role.SUPERVISEE), AFTER_TRANSFER, RECORD).allowed
    assert not decide_write(staff("morgan", Role.MANAGER), REL, RECORD, "supervisor").allowed
    assert not decide_write(INSPECTOR, REL, RECORD, "supervisor").allowed
    archived = Relationships("sam", "alex", "morgan", file_state="archived")
    assert decide_write(staff("alex"), archived, RECORD, "supervisor").refusal is Refusal.ARCHIVED_FILE


def _grant(**overrides: object) -> AccessGrant:
    terms = dict(grantee_user_id="user-ines", grantee_username="ines", grantee_role="inspector", purpose="Ofsted",
                 category="inspection", scope_kind="team", scope_id="alex", expires_at=NOW + timedelta(days=30),
                 granted_by_user_id="user-hana", granted_by_role="administrator", timestamp=NOW)
    return AccessGrant.grant(**{**terms, **overrides})  # type: ignore[arg-type]


def test_an_access_grant_is_given_and_revoked_by_an_administrator() -> None:
    g = _grant()
    assert g.terms().live_at(NOW + timedelta(days=1))
    with pytest.raises(NotPermitted):
        g.revoke("done", actor="user-sam", actor_role="supervisee", timestamp=NOW)
    g.revoke("inspection finished", actor="user-hana", actor_role="administrator", timestamp=NOW + timedelta(hours=1))
    assert not g.terms().live_at(NOW + timedelta(hours=2))
    with pytest.raises(OutOfOrder):
        g.revoke("again", actor="user-hana", actor_role="administrator", timestamp=NOW + timedelta(hours=3))
    assert [type(e).__name__ for e in g.collect_events()] == ["Granted", "Revoked"]


@pytest.mark.parametrize("overrides, error", [
    ({"granted_by_role": "manager"}, NotPermitted),
    ({"granted_by_user_id": "user-ines"}, NotPermitted),
    ({"category": "investigation"}, DomainError),  # an inspector does not investigate
    ({"purpose": "  "}, DomainError),
    ({"expires_at": NOW}, DomainError),
    ({"scope_kind": "everything"}, DomainError),
])
def test_a_grant_needs_an_administrator_a_fitting_role_a_purpose_and_a_future_expiry(
        overrides: dict, error: type[Exception]) -> None:
    with pytest.raises(error):
        _grant(**overrides)


def test_an_archived_file_is_read_only_by_the_roles_the_pack_allows_but_a_sar_is_always_answered():
    from datetime import datetime, timedelta, timezone

    from domain.authorisation import GrantTerms, Reader, Relationships, Role, ScopeKind, decide_read

    at = datetime(2026, 11, 24, tzinfo=timezone.utc)
    archived = Relationships("w1", None, None, ("s1",), "archived")
    bcp_archive_roles = frozenset({"senior_manager", "investigating_officer", "inspector", "hr"})

    def grant(user: str, category: str) -> GrantTerms:
        return GrantTerms(grant_id=f"g-{user}", grantee_user_id=user, category=category, purpose="p",
                          scope_kind=ScopeKind.WORKER_FILE, scope_id="w1", expires_at=at + timedelta(days=1),
                          revoked_at=None)

    qa = decide_read(Reader("u-qa", Role.QA), archived, [grant("u-qa", "qa_audit")], at,
                     archive_roles=bcp_archive_roles)
    assert not qa.allowed and "policy pack lets only" in qa.reason
    io = decide_read(Reader("u-io", Role.INVESTIGATING_OFFICER), archived, [grant("u-io", "investigation")], at,
                     archive_roles=bcp_archive_roles)
    assert io.allowed
    dpo = decide_read(Reader("u-dpo", Role.DPO), archived, [grant("u-dpo", "sar")], at,
                      archive_roles=bcp_archive_roles)
    assert dpo.allowed and dpo.category == "sar"
