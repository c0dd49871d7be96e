"""Every call the web interface makes into the application, in one place, in the same sequence as the HTTP API's
handlers (api/http_*.py). The pages translate forms into these calls and answers into pages; the rules are
decided by the application and the domain, never here: every command and content read takes the acting
Principal, exactly as the API's handlers pass it."""

from collections.abc import Callable, Iterable
from datetime import date, datetime
from typing import Any
from uuid import UUID

from api.access_service import AccessLogFilter, Via
from api.application import SupervisionApplication
from api.errors import Conflict, NotFound
from api.ids import is_id
from api.http_models import (AddendumIn, AllocateIn, AmendIn, AmendmentRequestIn, ContentIn, CountersignIn, DeclineIn,
                             GrantIn, JoinIn, LeaveIn, ReturnIn, RevokeIn, RoleChangeIn, SignIn,
                             TransferIn)
from api.http_allocation import EndSecondIn, ExceptionIn, SecondSupervisorIn, StandingIn
from api.verification_service import LatestCheckpoint, LedgerVerification
from api.http_support import ADMIN
from api.record_history import record_history
from api.subject_access import SubjectAccessExport, subject_access_export
from domain.authorisation import Decision, Role
from domain.access import AccessGrant
from domain.errors import DomainError, NotPermitted, OutOfOrder, StaleVersion
from domain.policy import RecordTemplate
from domain.supervision_record import SupervisionRecord
from domain.workers import Worker
from infrastructure.users import IssuedToken, Principal, UserError


class Stale(Exception):
    """The step was refused because the record changed first (409): carries the current record's id."""

    def __init__(self, message: str, record_id: UUID | str) -> None:
        super().__init__(message)
        self.record_id = record_id


# -- reads ----------------------------------------------------------------------------------------------------

def readable_records(app: SupervisionApplication, who: Principal) -> list[dict]:
    """As GET /api/v1/records: the index of what `who` may read now (no content)."""
    return app.access.readable_records(who)


def read(app: SupervisionApplication, who: Principal, via: Via, record_id: UUID | str,
         action: str = "read_record") -> tuple[SupervisionRecord, Decision]:
    """As GET /api/v1/records/{id}: decided and written to the access log before anything is shown."""
    return app.access.read_record_content(who, record_id, action=action, via=via)


def reads_of_my_records(app: SupervisionApplication, who: Principal) -> list[dict]:
    """As GET /api/v1/me/access-log."""
    if who.worker_id is None:
        return []
    return app.access.access_log_for_worker(who.worker_id)


def my_supervisees(app: SupervisionApplication, who: Principal) -> list[dict]:
    """As GET /api/v1/compliance/due for a supervisor's own team (as `compliance_scope` decides for a supervisor)."""
    if not who.worker_id:
        raise NotPermitted(f"a {who.role.value} has no supervisees")
    return app.scheduling.compliance_dashboard(team=who.worker_id).as_dicts()


def due(app: SupervisionApplication, who: Principal, team: UUID | None, as_of: date | None) -> tuple[str | None,
                                                                                                     list[dict]]:
    """As GET /api/v1/compliance/due: the team is checked by the same rule (`compliance_scope`)."""
    scope = app.scheduling.compliance_scope(who, team)
    return scope, app.scheduling.compliance_dashboard(as_of=as_of, team=scope).as_dicts()


def frequency(app: SupervisionApplication, who: Principal, month: str, team: UUID | None) -> tuple[str | None, Any]:
    """As GET /api/v1/compliance/frequency."""
    scope = app.scheduling.compliance_scope(who, team)
    return scope, app.scheduling.frequency_report(month, team=scope)


# -- HR (the API declares these routes for administrators only: api/http_workers.py, `allow(ADMIN)`) ----------

def _administrator(who: Principal) -> str:
    if who.role not in ADMIN:
        raise NotPermitted(f"a {who.role.value} may not do this: it is for HR ({', '.join(r.value for r in ADMIN)})")
    return who.user_id


def staff(app: SupervisionApplication, who: Principal) -> list[Worker]:
    """As GET /api/v1/workers."""
    return app.people.staff(who)


def worker(app: SupervisionApplication, who: Principal, worker_id: UUID) -> Worker:
    _administrator(who)
    return app.people.get_worker(worker_id)


def join(app: SupervisionApplication, who: Principal, fields: dict) -> UUID:
    """As POST /api/v1/workers."""
    body = JoinIn.model_validate(fields)
    return app.people.join_worker(who, name=body.name, role=body.role, category=body.category.value,
                                  start_date=body.start_date).id


def allocate(app: SupervisionApplication, who: Principal, worker_id: UUID, fields: dict) -> None:
    body = AllocateIn.model_validate(fields)
    app.allocation.allocate_supervisor(who, worker_id, body.supervisor_id, expected_version=body.expected_version)


def transfer(app: SupervisionApplication, who: Principal, worker_id: UUID, fields: dict) -> list[dict]:
    """As POST /api/v1/workers/{id}/transfer: returns the records the transfer froze."""
    body = TransferIn.model_validate(fields)
    return app.allocation.transfer_worker(who, worker_id, body.new_supervisor_id, body.reason,
                                          expected_version=body.expected_version).frozen_records


def leave(app: SupervisionApplication, who: Principal, worker_id: UUID, fields: dict) -> None:
    body = LeaveIn.model_validate(fields)
    app.people.record_leaving(who, worker_id, body.leaving_date, expected_version=body.expected_version)


# -- HR: changes in a worker's working life and their allocation (as /api/v1/workers/{id}/role-change, /return,
# /standing, /second-supervisor, /second-supervisor/ending; api/http_workers.py, api/http_allocation.py) ------

def change_role(app: SupervisionApplication, who: Principal, worker_id: UUID, fields: dict) -> Worker:
    body = RoleChangeIn.model_validate(fields)
    return app.people.change_role(who, worker_id, role=body.role, effective_on=body.effective_on,
                                  major_change=body.major_change, category=body.category.value if body.category else None,
                                  reason=body.reason, expected_version=body.expected_version)


def record_return(app: SupervisionApplication, who: Principal, worker_id: UUID, fields: dict) -> Worker:
    body = ReturnIn.model_validate(fields)
    return app.people.record_return(who, worker_id, returned_on=body.returned_on, absence=body.absence.value,
                                    expected_version=body.expected_version)


def record_standing(app: SupervisionApplication, who: Principal, worker_id: UUID, fields: dict) -> Worker:
    body = StandingIn.model_validate(fields)
    return app.allocation.record_standing(who, worker_id, level=body.level, registered=body.registered,
                                          supervising_since=body.supervising_since, expected_version=body.expected_version)


def allocate_second(app: SupervisionApplication, who: Principal, worker_id: UUID, fields: dict) -> Worker:
    body = SecondSupervisorIn.model_validate(fields)
    return app.allocation.allocate_second_supervisor(who, worker_id, body.supervisor_id,
                                                     expected_version=body.expected_version)


def end_second(app: SupervisionApplication, who: Principal, worker_id: UUID, fields: dict) -> Worker:
    body = EndSecondIn.model_validate(fields)
    return app.allocation.end_second_supervision(who, worker_id, body.reason, expected_version=body.expected_version)


def allocation_breaches(app: SupervisionApplication, who: Principal) -> list:
    return app.allocation.current_allocation_breaches(who)


def agreed_exceptions(app: SupervisionApplication, who: Principal) -> list:
    return app.allocation.agreed_allocation_exceptions(who)


def agree_exception(app: SupervisionApplication, who: Principal, worker_id: UUID, fields: dict) -> Worker:
    """As POST /api/v1/workers/{id}/allocation-exceptions: the command checks the agreer's job title."""
    body = ExceptionIn.model_validate(fields)
    return app.allocation.agree_allocation_exception(who, worker_id, body.supervisor_id, body.rules, body.reason,
                                                     expected_version=body.expected_version)


def allocation_rules(app: SupervisionApplication) -> Any:
    """The pack's allocation table: its rules' sources and the role that agrees a departure."""
    return app.policy.compliance_pack().allocation


def second_supervisor_rule(app: SupervisionApplication) -> Any:
    return app.policy.compliance_pack().second_supervisor


# -- oversight: grants, the access log, a record's history -------------------------------------------------

def grants_held(app: SupervisionApplication, who: Principal) -> list[dict]:
    """As GET /api/v1/grants: administrators see every grant; everyone else the grants made to them."""
    now = app.clock()
    return [{**row,
             "live": app.access.get_grant(row["grant_id"]).terms().live_at(now)} for row in app.access.grants_visible_to(who)]


def access_log(app: SupervisionApplication, who: Principal, f: AccessLogFilter) -> list[dict]:
    """As GET /api/v1/access-log (declared for ACCESS_LOG_READERS in api/http_access.py)."""
    return app.access.access_log_entries(who, f)


def access_log_flags(app: SupervisionApplication, who: Principal, since: datetime | None,
                     until: datetime | None) -> list[dict]:
    return app.access.access_log_flags(who, since, until)


def history(app: SupervisionApplication, who: Principal, via: Via, record_id: UUID) -> tuple[SupervisionRecord, list]:
    """As GET /api/v1/records/{id}/history: a logged read of every version."""
    record, _ = app.access.read_record_content(who, record_id, action="read_history", via=via)
    return record, record_history(app, record.id)


def read_as_of(app: SupervisionApplication, who: Principal, via: Via, record_id: UUID,
               as_of: datetime) -> SupervisionRecord:
    """As GET /api/v1/records/{id}?as_of=."""
    record, _ = app.access.read_record_content(who, record_id, action="read_as_of", via=via, as_of=as_of)
    return record


def record_template(app: SupervisionApplication) -> RecordTemplate:
    return app.policy.policy_pack.record_template


def names(app: SupervisionApplication, worker_ids: Iterable[str | None]) -> dict[str, str]:
    return app.people.worker_names({w for w in worker_ids if w})


def actor_names(app: SupervisionApplication, actors: Iterable[str | None]) -> dict[str, str]:
    """Who the events name, as a person reads them: a member of staff (a worker id) by name; an account
    ("user:dpo") by the name of the member of staff it belongs to, else its username; anything else as it is."""
    shown: dict[str, str] = {}
    staff = set()
    for actor in {a for a in actors if a}:
        if actor.startswith("user:"):
            account = app.people.users.find(actor.removeprefix("user:"))
            if account and account.get("worker_id"):
                shown[actor] = app.people.worker_names({account["worker_id"]})[account["worker_id"]]
            else:
                shown[actor] = actor.removeprefix("user:")
        elif is_id(actor):
            staff.add(actor)
    return {**shown, **app.people.worker_names(staff)}



# -- HR: grants and accounts (the API's POST /api/v1/grants and /revoke; `svl user`, `svl token`) ----------

def grant(app: SupervisionApplication, who: Principal, fields: dict) -> AccessGrant:
    """As POST /api/v1/grants (the same body model, so the same limits apply)."""
    body = GrantIn.model_validate(fields)
    try:
        return app.access.grant_access(grantor=who, grantee=body.grantee, purpose=body.purpose,
                                       category=body.category.value, scope_kind=body.scope.kind.value,
                                       scope_id=str(body.scope.id), expires_at=body.expires_at)
    except UserError as exc:
        raise GranteeRefused(str(exc)) from None


class GranteeRefused(DomainError):
    """The grantee named is not an account that can hold a grant now (unknown, or disabled)."""


def a_grant(app: SupervisionApplication, who: Principal, grant_id: UUID) -> AccessGrant:
    """As GET /api/v1/grants/{id}: administrators, and the person the grant is for."""
    found = app.access.get_grant(grant_id)
    if who.role is not Role.ADMINISTRATOR and found.grantee_user_id != who.user_id:
        raise NotFound(f"no access grant {grant_id}")
    return found


def revoke(app: SupervisionApplication, who: Principal, grant_id: UUID, fields: dict) -> AccessGrant:
    body = RevokeIn.model_validate(fields)
    return app.access.revoke_grant(grant_id, body.reason, actor=who, expected_version=body.expected_version)


def accounts(app: SupervisionApplication, who: Principal) -> list[dict]:
    """As `svl user list`."""
    return app.people.accounts(who)


def add_account(app: SupervisionApplication, who: Principal, username: str, role: str, worker_id: str | None) -> str:
    """As `svl user add`."""
    return app.people.add_account(who, username, role, worker_id=worker_id)


def disable_account(app: SupervisionApplication, who: Principal, username: str) -> dict:
    """As POST /api/v1/users/{username}/disable."""
    return app.people.disable_user(who, username)


def issue_token(app: SupervisionApplication, who: Principal, username: str, days: float) -> IssuedToken:
    """As `svl token issue`: the token is shown once and only its SHA-256 is kept."""
    return app.people.issue_token(who, username, days=days, label="web")


def tokens(app: SupervisionApplication, who: Principal, username: str) -> list[dict]:
    return app.people.tokens(who, username)


# -- the integrity ledger (as `svl verify`, `svl export-bundle`; api/verification_service.py) ------------------

def latest_checkpoint(app: SupervisionApplication, who: Principal) -> LatestCheckpoint | None:
    return app.verification.latest_checkpoint(who)


def verify_ledger(app: SupervisionApplication, who: Principal) -> LedgerVerification:
    return app.verification.verify_ledger(who)


def last_verification(app: SupervisionApplication) -> LedgerVerification | None:
    """The last verification this process ran (shown with the checkpoint, to those who may see it)."""
    return app.verification.last_verification


def record_bundle(app: SupervisionApplication, who: Principal, record_id: UUID) -> dict:
    return app.verification.record_bundle(who, record_id)


def subject_access(app: SupervisionApplication, who: Principal, via: Via, worker_id: UUID,
                   received_on: date) -> SubjectAccessExport:
    """As POST /api/v1/sar/{worker_id}: every record read is authorised (a live SAR grant) and logged."""
    return subject_access_export(app, who, str(worker_id), received_on=received_on, extended=False, via=via)


def read_with_bundle(app: SupervisionApplication, who: Principal, via: Via, record_id: UUID | str,
                     action: str = "download_copy") -> tuple[SupervisionRecord, dict]:
    """A logged read of the record with its ledger bundle (for the signed copy, which carries it)."""
    record, _, bundle = app.verification.record_with_bundle(who, record_id, action=action, via=via)
    return record, bundle


# -- the record's life ---------------------------------------------------------------------------------------

def draft(app: SupervisionApplication, who: Principal, via: Via, supervisee_id: str, content: dict) -> UUID:
    """As POST /api/v1/records (the body checked by the same model, so the same limits apply)."""
    checked = ContentIn.model_validate(content).model_dump(mode="json")
    return app.records.draft_record(who, supervisee_id=supervisee_id, content=checked, via=via).id


def share(app: SupervisionApplication, who: Principal, via: Via, record_id: str, expected_version: int) -> None:
    _step(record_id, lambda: app.records.share_record(who, record_id, expected_version=expected_version, via=via))


def request_amendment(app: SupervisionApplication, who: Principal, via: Via, record_id: str, text: str,
                      based_on_version: int, expected_version: int) -> None:
    body = AmendmentRequestIn(text=text, based_on_version=based_on_version, expected_version=expected_version)
    _step(record_id, lambda: app.records.request_amendment(
        who, record_id, body.text, based_on_version=body.based_on_version, expected_version=body.expected_version,
        via=via))


def amend(app: SupervisionApplication, who: Principal, via: Via, record_id: str, content: dict, based_on_version: int,
          expected_version: int) -> None:
    body = AmendIn.model_validate({"content": content, "based_on_version": based_on_version,
                                   "expected_version": expected_version})
    _step(record_id, lambda: app.records.amend_record(
        who, record_id, body.content.model_dump(mode="json"), based_on_version=body.based_on_version,
        expected_version=body.expected_version, via=via))


def decline(app: SupervisionApplication, who: Principal, via: Via, record_id: str, rationale: str,
            expected_version: int) -> None:
    body = DeclineIn(rationale=rationale, expected_version=expected_version)
    _step(record_id, lambda: app.records.decline_amendment(who, record_id, body.rationale,
                                                           expected_version=body.expected_version, via=via))


def sign(app: SupervisionApplication, who: Principal, via: Via, record_id: str, content_sha256: str,
         expected_version: int) -> None:
    body = SignIn(content_sha256=content_sha256, expected_version=expected_version)
    _step(record_id, lambda: app.records.sign_record(who, record_id, body.content_sha256,
                                                     expected_version=body.expected_version, via=via))


def add_addendum(app: SupervisionApplication, who: Principal, via: Via, record_id: str, text: str, reason: str,
                 expected_version: int) -> None:
    """As POST /api/v1/records/{id}/addenda: signed by its author as it is added."""
    body = AddendumIn(text=text, reason=reason, expected_version=expected_version)
    _step(record_id, lambda: app.records.add_addendum(who, record_id, body.text, body.reason,
                                                      expected_version=body.expected_version, via=via))


def countersign_addendum(app: SupervisionApplication, who: Principal, via: Via, record_id: str, number: int,
                         sha256: str,
                         expected_version: int) -> None:
    """As POST /api/v1/records/{id}/addenda/{number}/countersign: the other party signs the addendum's SHA-256."""
    body = CountersignIn(sha256=sha256, expected_version=expected_version)
    _step(record_id, lambda: app.records.countersign_addendum(who, record_id, number, body.sha256,
                                                              expected_version=body.expected_version, via=via))


def _step(record_id: str, do: Callable[[], object]) -> None:
    """The command decides who may take the step and whether it may be taken now (refusals are logged by it);
    a newer version or a step out of order is a conflict, shown with the current record."""
    try:
        do()
    except (StaleVersion, OutOfOrder, Conflict) as exc:
        raise Stale(str(exc), record_id) from None
