"""Every command decides for the acting user itself (both backends): called directly, as the demo loaders, the
CLI and the web interface call it, the application gives the answer HTTP gives."""

from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from api.access_service import AccessDenied, AccessLogFilter, Via
from api.application import Storage, SupervisionApplication
from api.errors import Conflict
from domain.authorisation import Refusal, Role
from domain.errors import DomainError
from infrastructure.users import Principal, TokenAuthenticator
from projections.schema import workers
from tests.support.acting import acting
from tests.support.staff import content, staff


def _signed_by_supervisee(app: SupervisionApplication, supervisor: str, worker: str) -> str:
    record = app.records.draft_record(acting(supervisor), supervisee_id=worker, content=content())
    app.records.share_record(acting(supervisor), record.id)
    app.records.sign_record(acting(worker, Role.SUPERVISEE), record.id, record.content_sha256)
    return str(record.id)


def test_the_transfer_freeze_holds_when_the_application_is_called_directly(application):
    app = application
    _, supervisor, worker = staff(app)
    rid = _signed_by_supervisee(app, supervisor, worker)
    sha = app.records.get_record(rid).content_sha256
    new_supervisor = str(app.people.join_worker(acting("hr"), name="Jo New", role="Team manager", category="manager",
                                                start_date=date(2019, 1, 1)).id)
    transfer = app.allocation.transfer_worker(acting("hr"), worker, new_supervisor, "team restructure")
    assert [r["record_id"] for r in transfer.frozen_records] == [rid]

    with pytest.raises(AccessDenied) as former:
        app.records.sign_record(acting(supervisor), rid, sha)
    assert former.value.decision.refusal is Refusal.FORMER_SUPERVISOR
    with pytest.raises(AccessDenied) as frozen:
        app.records.sign_record(acting(new_supervisor), rid, sha)
    assert frozen.value.decision.refusal is Refusal.FROZEN_AT_TRANSFER
    with pytest.raises(AccessDenied):
        app.records.draft_record(acting(supervisor), supervisee_id=worker, content=content())
    assert app.records.get_record(rid).state == "signed_by_supervisee"  # nothing was signed
    log = app.access.access_log_entries(acting("dpo"), AccessLogFilter(record_id=rid))
    assert [(e["action"], e["refusal"]) for e in log] == [("sign", "former_supervisor"), ("sign", "frozen_at_transfer")]


def test_a_transfer_between_the_decision_and_the_save_ends_in_a_conflict(application, settings, master_key, clock):
    """The sign command decides on the copies it loaded; another process transfers the worker before the
    signature is stored: the signature is refused with a conflict, never stored against the rules."""
    app = application
    _, supervisor, worker = staff(app)
    rid = _signed_by_supervisee(app, supervisor, worker)
    sha = app.records.get_record(rid).content_sha256
    new_supervisor = str(app.people.join_worker(acting("hr"), name="Jo New", role="Team manager", category="manager",
                                                start_date=date(2019, 1, 1)).id)
    other = SupervisionApplication(Storage.open(settings, master_key=master_key), clock)
    try:
        readings = {"n": 0}

        def transfer_meanwhile() -> datetime:
            # The sign command reads the clock once, after its decision and before it saves.
            readings["n"] += 1
            if readings["n"] == 1:
                other.allocation.transfer_worker(acting("hr"), worker, new_supervisor, "restructure")
            return clock()

        app.clock = transfer_meanwhile
        with pytest.raises(Conflict):
            app.records.sign_record(acting(supervisor), rid, sha)
        app.clock = clock
        assert readings["n"] >= 1
        assert app.records.get_record(rid).state == "signed_by_supervisee"
        with pytest.raises(AccessDenied):  # retried: now refused by the rules
            app.records.sign_record(acting(supervisor), rid, sha)
    finally:
        other.close()
        other.storage.engine.dispose()


def test_a_command_loads_each_aggregate_once(application):
    app = application
    _, supervisor, worker = staff(app)
    record = app.records.draft_record(acting(supervisor), supervisee_id=worker, content=content())
    app.records.share_record(acting(supervisor), record.id)
    loads: list[str] = []
    get = app.repository.get

    def counting(aggregate_id, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003
        loads.append(str(aggregate_id))
        return get(aggregate_id, *args, **kwargs)

    app.repository.get = counting  # type: ignore[method-assign]
    try:
        signed = app.records.sign_record(acting(worker, Role.SUPERVISEE), record.id, record.content_sha256)
    finally:
        app.repository.get = get  # type: ignore[method-assign]
    assert signed.state == "signed_by_supervisee"
    assert sorted(loads) == sorted([str(record.id), worker])


def test_hr_may_not_make_two_people_each_others_supervisor_nor_a_supervisee_account_a_supervisor(application):
    app = application
    manager, supervisor, worker = staff(app)
    with pytest.raises(DomainError, match="each other's supervisor"):
        app.allocation.transfer_worker(acting("hr"), supervisor, worker, "swap")  # Sam is Alex's supervisee
    with pytest.raises(DomainError, match="each other's supervisor"):
        app.allocation.transfer_worker(acting("hr"), manager, supervisor, "swap")  # Alex is Morgan's supervisee
    newcomer = str(app.people.join_worker(acting("hr"), name="Nia New", role="Social worker", category="experienced",
                                          start_date=date(2024, 1, 1)).id)
    app.people.users.add_user("sam", "supervisee", worker_id=worker, created_by="test")
    with pytest.raises(DomainError, match="supervisee"):
        app.allocation.allocate_supervisor(acting("hr"), newcomer, worker)
    with pytest.raises(AccessDenied) as not_hr:
        app.allocation.allocate_supervisor(acting(supervisor), newcomer, supervisor)
    assert not_hr.value.decision.refusal is Refusal.ROLE
    assert app.allocation.allocate_supervisor(acting("hr"), newcomer, supervisor).supervisor_id == supervisor


def test_grants_holds_and_retention_runs_are_decided_by_role_in_the_application(application):
    app = application
    _, supervisor, worker = staff(app)
    with pytest.raises(AccessDenied):
        app.access.grant_access(grantor=acting(supervisor), grantee="x", purpose="p", category="inspection",
                                scope_kind="worker_file", scope_id=worker, expires_at=app.clock() + timedelta(days=1))
    with pytest.raises(AccessDenied):
        app.retention.place_hold(acting("qa"), worker, kind="investigation", reason="r", reference="ref")
    with pytest.raises(AccessDenied):
        app.retention.place_hold(acting(supervisor), worker, kind="investigation", reason="r", reference="ref")
    hold = app.retention.place_hold(acting("io:jones"), worker, kind="investigation", reason="r", reference="ref")
    assert hold.placed_by == "user:io:jones" and hold.released_at is None
    with pytest.raises(AccessDenied):
        app.retention.release_hold(acting("io:jones"), hold.id, reason="done")
    released = app.retention.release_hold(acting("hr"), hold.id, reason="done")
    assert released.released_at is not None
    with pytest.raises(AccessDenied):
        app.retention.run_retention(acting("qa"), as_of=app.clock().date(), dry_run=True)
    with pytest.raises(AccessDenied):
        app.people.record_leaving(acting(supervisor), worker, date(2026, 3, 1))


def test_a_leaver_ends_their_supervision_of_others_and_their_account_at_the_leaving_date(application, clock):
    app = application
    manager, supervisor, worker = staff(app)
    app.people.users.add_user("alex", "supervisor", worker_id=supervisor, created_by="test")
    token = app.people.users.issue_token("alex", days=365).token
    authenticator = TokenAuthenticator(app.storage.engine, clock)
    leaving_day = (clock.now + timedelta(days=10)).date()

    left = app.people.record_leaving(acting("hr"), supervisor, leaving_day)
    assert left.needs_a_supervisor == [worker] and left.accounts_ended == ["alex"]
    assert app.people.get_worker(worker).supervisor_id is None
    with app.storage.engine.connect() as conn:
        assert conn.execute(select(workers.c.supervisor_id).where(workers.c.worker_id == worker)).scalar() is None
    board = app.scheduling.compliance_dashboard(as_of=clock.now.date(), team=None, with_names=True)
    row = next(r for r in board.as_dicts() if r["worker_id"] == worker)
    assert any(i["kind"] == "no_supervisor" for i in row["issues"])  # "needs a supervisor" in the manager's view

    assert authenticator.authenticate(token) is not None  # until the leaving date
    clock.set(datetime.combine(leaving_day, datetime.min.time(), tzinfo=timezone.utc) - timedelta(minutes=2))
    assert authenticator.authenticate(token) is not None
    clock.set(datetime.combine(leaving_day, datetime.min.time(), tzinfo=timezone.utc))
    assert authenticator.authenticate(token) is None  # from the leaving date: refused
    with pytest.raises(Exception, match="disabled"):
        app.people.users.principal("alex", via="cli")
    # The worker who needs a supervisor gets one; the leaver can no longer be allocated.
    with pytest.raises(DomainError):
        app.allocation.allocate_supervisor(acting("hr"), worker, supervisor)
    assert app.allocation.allocate_supervisor(acting("hr"), worker, manager).supervisor_id == manager


def test_a_disabled_user_is_refused_at_once(application, clock):
    app = application
    app.people.users.add_user("nia", "inspector", created_by="test")
    token = app.people.users.issue_token("nia").token
    authenticator = TokenAuthenticator(app.storage.engine, clock)
    assert authenticator.authenticate(token) is not None
    with pytest.raises(AccessDenied):
        app.people.disable_user(acting("qa"), "nia")
    app.people.disable_user(acting("hr"), "nia")
    assert authenticator.authenticate(token) is None
    with pytest.raises(Exception, match="disabled"):
        app.people.users.principal("nia", via="cli")


def test_an_archived_file_is_read_only_by_the_packs_roles_and_with_a_stated_purpose(application, clock):
    app = application
    _, supervisor, worker = staff(app)
    rid = _signed_by_supervisee(app, supervisor, worker)
    app.people.record_leaving(acting("hr"), worker, date(2026, 3, 1))
    app.retention.archive_leaver(acting("hr"), worker)
    for username, role, category in (("quinn", "qa", "qa_audit"), ("ivo", "investigating_officer", "investigation")):
        app.people.users.add_user(username, role, created_by="test")
        app.access.grant_access(grantor=acting("hr"), grantee=username, purpose="p", category=category,
                                scope_kind="worker_file", scope_id=worker, expires_at=clock.now + timedelta(days=30))
    quinn, ivo = (app.people.users.principal(u, via="test") for u in ("quinn", "ivo"))
    via = Via("test", "local", "audit of the leaver's file")
    with pytest.raises(AccessDenied) as index:
        app.access.open_worker_file(quinn, worker, via=via)  # bcp's archive_access does not name QA
    assert index.value.decision.refusal is Refusal.ARCHIVED_FILE
    assert app.access.readable_records(quinn) == []
    assert [r["record_id"] for r in app.access.readable_records(ivo)] == [rid]
    with pytest.raises(AccessDenied) as no_purpose:
        app.access.read_record_content(ivo, rid, action="read_record", via=Via("test", "local", ""))
    assert no_purpose.value.decision.refusal is Refusal.PURPOSE_REQUIRED
    record, decision = app.access.read_record_content(ivo, rid, action="read_record", via=via)
    assert decision.allowed and record.content["discussion"] == content()["discussion"]
    assert app.access.open_worker_file(ivo, worker, via=via)["decision"].allowed


def test_answers_come_from_the_commands_own_result(application):
    app = application
    _, supervisor, worker = staff(app)
    record = app.records.draft_record(acting(supervisor), supervisee_id=worker, content=content())
    shared = app.records.share_record(acting(supervisor), record.id)
    assert (shared.id, shared.version, shared.state) == (record.id, 2, "shared")
    assert Principal("u", "u", Role.SUPERVISOR, supervisor, "test").actor == supervisor
    assert acting("hr").actor == "user:hr"
