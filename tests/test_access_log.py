"""The access log: every read of content is logged before it is served, refusals too; if the log cannot be
written nothing is served (503). Filters, CSV export, inspector flags, and the supervisee's own view."""

import csv
import io
from datetime import timedelta

from fastapi import APIRouter
from sqlalchemy import text
from typer.testing import CliRunner

from tests.support.world import SECRET, World, world, write_master_key  # noqa: F401  (the shared fixture)


def _reject_new_events(w: World, settings) -> None:  # noqa: ANN001
    """An outage underneath the application: the event store refuses every insert from now on."""
    table = w.app.recorder.events_table_name
    with w.app.storage.engine.begin() as conn:
        if settings.is_sqlite:
            conn.execute(text(f"CREATE TRIGGER refuse_events BEFORE INSERT ON {table} "
                              "BEGIN SELECT RAISE(ABORT, 'storage is failing'); END"))
        else:
            conn.execute(text("CREATE FUNCTION refuse_events() RETURNS trigger LANGUAGE plpgsql AS "
                              "$$ BEGIN RAISE EXCEPTION 'storage is failing'; END $$"))
            conn.execute(text(f"CREATE TRIGGER refuse_events BEFORE INSERT ON {table} "
                              "FOR EACH ROW EXECUTE FUNCTION refuse_events()"))


def test_when_the_access_log_cannot_be_written_no_content_is_served(world: World, settings) -> None:  # noqa: ANN001
    w = world
    rid = w.records["W"]
    assert SECRET in w.get("sam", f"/records/{rid}").text  # served while the log works
    before = len(w.log())
    _reject_new_events(w, settings)

    for path in (f"/records/{rid}", f"/records/{rid}/history", f"/records/{rid}?version=1",
                 f"/workers/{w.workers['W']}/file"):
        response = w.get("sam", path)
        assert response.status_code == 503, (path, response.text)
        assert SECRET not in response.text and "Zarquon" not in response.text
        assert "access log" in response.json()["detail"]
    refused = w.get("quinn", f"/records/{rid}")  # a refusal that cannot be logged is not answered either
    assert refused.status_code == 503
    assert len(w.log()) == before


def test_each_read_is_logged_with_who_what_version_basis_purpose_when_and_where(world: World) -> None:
    w = world
    rid = w.records["X"]
    response = w.client.get(f"/api/v1/records/{rid}", headers={**w.auth("ivo"), "X-Access-Purpose": "interview prep"})
    assert response.status_code == 200
    entry = w.log(record_id=rid, reader="ivo")[-1]
    assert entry["outcome"] == "allowed" and entry["action"] == "read_record"
    assert entry["record_version"] == 2 and entry["worker_id"] == w.workers["X"]
    assert entry["basis"] == f"grant {w.grants['ivo']}" and entry["grant_id"] == w.grants["ivo"]
    assert entry["purpose"] == "Grievance investigation GRV-17" and entry["category"] == "investigation"
    assert entry["stated_purpose"] == "interview prep"
    assert entry["channel"] == "http" and entry["client"] == "testclient"
    assert entry["at"].tzinfo is not None
    assert SECRET not in str(entry)

    w.get("quinn", f"/records/{rid}")
    denied = w.log(reader="quinn")[-1]
    assert denied["outcome"] == "denied" and denied["refusal"] == "no_relationship" and denied["reason"]


def test_grants_stop_at_once_when_revoked_or_expired(world: World) -> None:
    w = world
    rid = w.records["X"]
    assert w.get("ivo", f"/records/{rid}").status_code == 200
    revoked = w.post("hana", f"/grants/{w.grants['ivo']}/revoke", {"reason": "investigation closed"})
    assert revoked.status_code == 200 and revoked.json()["live"] is False
    refused = w.get("ivo", f"/records/{rid}")
    assert refused.status_code == 403 and refused.json()["refusal"] == "grant_revoked"
    assert w.post("hana", f"/grants/{w.grants['ivo']}/revoke", {"reason": "again"}).status_code == 409

    assert w.get("ines", f"/records/{w.records['W']}").status_code == 200
    w.clock.set(w.clock.now + timedelta(days=61))  # past the grant's expiry
    expired = w.get("ines", f"/records/{w.records['W']}")
    assert expired.status_code == 403 and expired.json()["refusal"] == "grant_expired"

    kinds = {f["kind"] for f in w.get("dana", "/access-log/flags").json()}
    assert {"after_grant_revocation", "after_grant_expiry"} <= kinds


def test_grants_are_given_by_an_administrator_for_a_fitting_role(world: World) -> None:
    w = world
    body = {"grantee": "quinn", "purpose": "QA audit of Alex's team", "category": "qa_audit",
            "scope": {"kind": "record", "id": w.records["W"]}, "expires_at": "2026-04-30T17:00:00Z"}
    assert w.get("quinn", f"/records/{w.records['W']}").status_code == 403
    granted = w.post("hana", "/grants", body)
    assert granted.status_code == 201, granted.text
    assert granted.json()["live"] is True
    assert w.get("quinn", f"/records/{w.records['W']}").json()["access"]["grant_id"] == granted.json()["grant_id"]
    assert w.get("quinn", f"/records/{w.records['T']}").json()["refusal"] == "outside_grant_scope"

    assert w.post("hana", "/grants", {**body, "grantee": "hana"}).status_code == 403  # not to themselves
    wrong_role = w.post("hana", "/grants", {**body, "category": "inspection"})
    assert wrong_role.status_code == 422 and "inspector" in wrong_role.json()["detail"]
    past = w.post("hana", "/grants", {**body, "expires_at": "2020-01-01T00:00:00Z"})
    assert past.status_code == 422 and "expires_at" in past.json()["detail"]
    unknown = w.post("hana", "/grants", {**body, "scope": {"kind": "record", "id": w.workers["W"]}})
    assert unknown.status_code == 404
    assert [g["grant_id"] for g in w.get("quinn", "/grants").json()] == [granted.json()["grant_id"]]
    assert len(w.get("hana", "/grants").json()) == 3


def test_tokens_expire_and_can_be_revoked(world: World) -> None:
    w = world
    users = w.app.people.users
    short = users.issue_token("sam", days=1)
    headers = {"Authorization": f"Bearer {short.token}"}
    assert w.client.get("/api/v1/me", headers=headers).status_code == 200
    w.clock.set(w.clock.now + timedelta(days=2))
    assert w.client.get("/api/v1/me", headers=headers).status_code == 401
    users.revoke_token(w.tokens["sam"])
    assert w.get("sam", "/me").status_code == 401
    fresh = users.issue_token("sam")
    users.revoke_token(fresh.token_id)
    assert w.client.get("/api/v1/me", headers={"Authorization": f"Bearer {fresh.token}"}).status_code == 401
    with w.app.storage.engine.connect() as conn:  # only hashes are kept
        stored = conn.execute(text("SELECT token_sha256 FROM api_tokens")).scalars().all()
    assert fresh.token not in stored and all(len(s) == 64 for s in stored)


def test_a_supervisee_sees_who_read_their_records_and_why(world: World) -> None:
    w = world
    w.get("ines", f"/records/{w.records['W']}")
    w.get("morgan", f"/records/{w.records['W']}/history")
    w.get("quinn", f"/records/{w.records['W']}")
    mine = w.get("sam", "/me/access-log").json()
    seen = {(e["reader_username"], e["outcome"], e["purpose"]) for e in mine}
    assert ("ines", "allowed", "Ofsted inspection of the team") in seen
    assert ("morgan", "allowed", "oversight of the supervisor (line management)") in seen
    assert ("quinn", "denied", "") in seen
    assert all(e["worker_id"] == w.workers["W"] for e in mine)
    assert w.get("hana", "/me/access-log").json() == []


def test_the_access_log_filters_and_exports_csv(world: World) -> None:
    w = world
    w.get("ines", f"/records/{w.records['W']}")
    w.get("ivo", f"/records/{w.records['X']}")
    w.get("ivo", f"/records/{w.records['W']}")
    by_grant = w.get("dana", "/access-log", params={"grant_id": w.grants["ivo"]}).json()
    assert by_grant["count"] == 1 and by_grant["entries"][0]["reader_username"] == "ivo"
    assert w.get("dana", "/access-log", params={"reader": "ivo", "outcome": "denied"}).json()["count"] == 1
    assert w.get("dana", "/access-log", params={"purpose": "Ofsted"}).json()["count"] == 1
    assert w.get("dana", "/access-log", params={"worker_id": w.workers["X"]}).json()["count"] == 1
    assert w.get("dana", "/access-log", params={"since": "2030-01-01T00:00:00Z"}).json()["count"] == 0
    exported = w.get("ines", "/access-log", params={"format": "csv", "record_id": w.records["W"]})
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [r["reader_username"] for r in rows] == ["ines", "ivo"]
    assert rows[1]["refusal"] == "outside_grant_scope"


def test_flags_reads_of_a_leavers_file_and_unusually_many_reads(world: World) -> None:
    w = world
    for _ in range(4):
        assert w.get("morgan", f"/records/{w.records['X']}").status_code == 200
    w.post("hana", f"/workers/{w.workers['X']}/leave", {"leaving_date": "2026-03-31"})
    assert w.get("jo", f"/records/{w.records['X']}").status_code == 200  # until archived, to finish paperwork
    flags = w.get("ines", "/access-log/flags", params={"many_reads_per_day": 3}).json()
    leaver = [f for f in flags if f["kind"] == "leaver_file_read"]
    assert [f["reader_username"] for f in leaver] == ["jo"]
    many = [f for f in flags if f["kind"] == "many_reads"]
    assert [f["reader_username"] for f in many] == ["morgan"] and "4 record reads" in many[0]["detail"]


def test_access_log_entries_outlive_a_workers_destroyed_key(world: World) -> None:
    w = world
    w.get("ivo", f"/records/{w.records['X']}")
    key_id = w.app.storage.keyring.key_id_for(w.workers["X"])
    w.app.storage.keyring.destroy(key_id, w.clock())
    w.app.read_models.rebuild()
    entries = w.log(worker_id=w.workers["X"])
    assert [e["reader_username"] for e in entries] == ["ivo"]


def test_an_endpoint_that_declares_no_roles_is_refused_to_everyone(world: World) -> None:
    w = world
    extra = APIRouter()

    @extra.get("/undeclared")
    def undeclared() -> dict:
        return {"leak": SECRET}

    @extra.get("/ledger/undeclared-but-under-the-ledger-prefix")
    def hashes_only() -> dict:
        return {"tree_size": 1}

    w.client.app.include_router(extra, prefix="/api/v1")
    for user in ("hana", "sam", "dana"):
        refused = w.get(user, "/undeclared")
        assert refused.status_code == 403 and SECRET not in refused.text
        # declared for all roles in api/http.py: ledger routes hold hashes only
        assert w.get(user, "/ledger/undeclared-but-under-the-ledger-prefix").status_code == 200
    assert w.client.get("/api/v1/ledger/undeclared-but-under-the-ledger-prefix").status_code == 401


def test_the_cli_history_acts_as_a_user_and_is_logged(world: World, settings, master_key) -> None:  # noqa: ANN001
    from api.cli import app as cli

    w = world
    write_master_key(settings, master_key)
    env = {"SVL_DATABASE_URL": settings.database_url, "SVL_DATABASE_SCHEMA": settings.database_schema,
           "SVL_MASTER_KEY_FILE": str(settings.master_key_file), "SVL_USER": ""}
    runner = CliRunner()
    rid = w.records["W"]
    assert runner.invoke(cli, ["history", rid], env=env).exit_code == 2  # no acting user: refused
    allowed = runner.invoke(cli, ["history", rid, "--as", "sam", "--json"], env=env)
    assert allowed.exit_code == 0, allowed.output
    refused = runner.invoke(cli, ["history", rid, "--as-of", "2030-01-01", "--json"], env={**env, "SVL_USER": "quinn"})
    assert refused.exit_code == 3 and SECRET not in refused.output
    entries = w.log(record_id=rid)
    assert [(e["reader_username"], e["outcome"], e["channel"]) for e in entries] == [
        ("sam", "allowed", "cli"), ("quinn", "denied", "cli")]
    assert runner.invoke(cli, ["access-log", "--format", "csv", "--record", rid], env=env).exit_code == 2
    as_qa = runner.invoke(cli, ["access-log", "--format", "csv", "--record", rid, "--as", "quinn"], env=env)
    assert as_qa.exit_code == 2 and "access log" in as_qa.output  # the same role rule as GET /access-log
    listed = runner.invoke(cli, ["access-log", "--format", "csv", "--record", rid, "--as", "dana"], env=env)
    assert listed.exit_code == 0 and "quinn" in listed.output


def test_cli_users_and_tokens(world: World, settings, master_key) -> None:  # noqa: ANN001
    from api.cli import app as cli

    w = world
    write_master_key(settings, master_key)
    env = {"SVL_DATABASE_URL": settings.database_url, "SVL_DATABASE_SCHEMA": settings.database_schema,
           "SVL_MASTER_KEY_FILE": str(settings.master_key_file)}
    runner = CliRunner()
    # Without --as (an administrator exists) or as a role that may not, account commands are refused.
    assert runner.invoke(cli, ["user", "add", "nia", "--role", "supervisee", "--worker", w.workers["T"]],
                         env=env).exit_code == 2
    refused = runner.invoke(cli, ["user", "add", "nia", "--role", "supervisee", "--worker", w.workers["T"],
                                  "--as", "alex"], env=env)
    assert refused.exit_code == 2 and "administrator" in refused.output
    added = runner.invoke(cli, ["user", "add", "nia", "--role", "supervisee", "--worker", w.workers["T"],
                                "--as", "hana"], env=env)
    assert added.exit_code == 0, added.output
    assert runner.invoke(cli, ["user", "add", "nobody", "--role", "supervisor", "--as", "hana"], env=env).exit_code == 2
    assert runner.invoke(cli, ["token", "issue", "nia", "--days", "1"], env=env).exit_code == 2
    issued = runner.invoke(cli, ["token", "issue", "nia", "--days", "1", "--as", "hana"], env=env)
    assert issued.exit_code == 0, issued.output
    token = issued.stdout.strip().splitlines()[-1]
    assert token.startswith("svl_")
    assert w.client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).json()["username"] == "nia"
    assert runner.invoke(cli, ["token", "revoke", token, "--as", "hana"], env=env).exit_code == 0
    assert w.client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    # HR ends an account at once: its other tokens are refused from that moment, over HTTP and in the CLI.
    second = runner.invoke(cli, ["token", "issue", "nia", "--as", "hana"], env=env).stdout.strip().splitlines()[-1]
    assert w.client.get("/api/v1/me", headers={"Authorization": f"Bearer {second}"}).status_code == 200
    assert w.post("alex", "/users/nia/disable").status_code == 403
    disabled = w.post("hana", "/users/nia/disable")
    assert disabled.status_code == 200 and disabled.json()["username"] == "nia"
    assert w.client.get("/api/v1/me", headers={"Authorization": f"Bearer {second}"}).status_code == 401
    assert runner.invoke(cli, ["user", "disable", "nia", "--as", "alex"], env=env).exit_code == 2
    assert runner.invoke(cli, ["user", "disable", "nia", "--as", "hana"], env=env).exit_code == 0
    refused = runner.invoke(cli, ["records", "--as", "nia"], env=env)
    assert refused.exit_code == 2 and "disabled" in refused.output
    granted = runner.invoke(cli, ["grant", "add", "--to", "quinn", "--purpose", "audit", "--category", "qa_audit",
                                  "--scope", "team", "--id", w.workers["S2"], "--expires", "2026-12-31",
                                  "--as", "hana"], env=env)
    assert granted.exit_code == 0, granted.output
    assert w.get("quinn", f"/records/{w.records['X']}").status_code == 200



def test_concurrent_entries_share_a_write_and_each_waits_for_its_own() -> None:
    import threading

    from api.access_service import GroupCommit

    written: list[list[int]] = []
    writing, gate = threading.Event(), threading.Event()

    def write(items: list[int]) -> None:
        writing.set()
        gate.wait()  # the first write is slow, so the others queue up behind it
        if 13 in items:
            raise OSError("disk full")
        written.append(items)

    group = GroupCommit(write)
    first = group.begin(1)
    writing.wait()  # the writer has taken [1] alone
    later = {n: group.begin(n) for n in (2, 3, 13)}
    gate.set()
    first.wait()
    assert written[0] == [1]
    outcomes = {}
    for n, pending in later.items():
        try:
            pending.wait()
            outcomes[n] = "stored" if any(n in batch for batch in written) else "returned unstored"
        except OSError:
            outcomes[n] = "failed"
    # 2, 3 and 13 queued behind the first write and shared one transaction: it failed, so all three fail
    assert outcomes == {2: "failed", 3: "failed", 13: "failed"} and len(written) == 1
    group.close()


def test_an_entry_begun_is_written_by_the_writer_thread_while_the_reader_goes_on() -> None:
    import threading

    from api.access_service import GroupCommit

    writing, release = threading.Event(), threading.Event()
    written: list[list[int]] = []

    def write(items: list[int]) -> None:
        writing.set()
        release.wait()
        if 13 in items:
            raise OSError("disk full")
        written.append(items)

    group = GroupCommit(write, idle_seconds=0)
    pending = group.begin(1)  # returns at once: the reader prepares its answer meanwhile
    writing.wait()
    assert not pending.finished and written == []
    release.set()
    pending.wait()  # only now may the answer leave
    assert pending.finished and written == [[1]]

    writer = group._writer
    if writer is not None:  # with nothing queued it ends (idle_seconds=0) and the next entry starts another
        writer.join(5)
        assert not writer.is_alive()
    failing = group.begin(13)
    try:
        failing.wait()
        raise AssertionError("a failed write must reach the reader")
    except OSError:
        pass
    last = [group.begin(n) for n in (4, 5)]
    group.close()  # what is queued is written before the writer stops
    assert all(p.finished and p.error is None for p in last)
    assert sorted(n for batch in written for n in batch) == [1, 4, 5]
    try:
        group.begin(6)
        raise AssertionError("a closed log must refuse entries")
    except RuntimeError:
        pass


def test_what_follows_a_write_runs_once_its_readers_are_released_and_never_after_a_failed_one() -> None:
    import threading

    from api.access_service import GroupCommit

    following, gate = threading.Event(), threading.Event()
    followed: list[list[int]] = []

    def write(items: list[int]) -> list[int]:
        if 13 in items:
            raise OSError("disk full")
        return [n * 10 for n in items]

    def then(written: list[int]) -> None:
        followed.append(written)
        following.set()
        gate.wait()  # a slow checkpoint, say
        if written == [70]:
            raise RuntimeError("the checkpoint failed")

    group = GroupCommit(write, then=then)
    group.begin(1).wait()  # served while what follows its write is still running
    assert following.wait(5) and followed == [[10]]
    queued = group.begin(13)  # written after `then` returns: it fails, and nothing follows it
    gate.set()
    try:
        queued.wait()
        raise AssertionError("a failed write must reach the reader")
    except OSError:
        pass
    group.begin(7).wait()  # a failure of what follows reaches no reader
    group.begin(8).wait()
    group.close()
    assert followed == [[10], [70], [80]]
