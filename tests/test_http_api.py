"""The API end to end through real HTTP (FastAPI's test client), on SQLite and PostgreSQL: a record's whole
life, history with diffs and as_of, 409 with the current version, 422 naming the field, 404, transfers."""

import uuid

from tests.support.world import SECRET, World, content, world  # noqa: F401  (the shared fixture)


def test_a_record_lives_its_whole_life_over_http(world: World) -> None:
    w = world
    drafted = w.post("alex", "/records", {"supervisee_id": w.workers["W"], "content": content("First text.")})
    assert drafted.status_code == 201, drafted.text
    rid, version = drafted.json()["record_id"], drafted.json()["version"]
    assert "content" not in drafted.json()  # a write never returns content: reading it is a logged read

    assert w.post("alex", f"/records/{rid}/share", {"expected_version": version}).status_code == 200
    asked = w.post("sam", f"/records/{rid}/amendment-requests", {"text": "Add my leave", "based_on_version": 1})
    assert asked.json()["state"] == "amendment_requested"
    amended = w.post("alex", f"/records/{rid}/amend", {"content": content("First text. Leave agreed."),
                                                       "based_on_version": 1})
    assert amended.json()["content_version"] == 2
    sha = amended.json()["content_sha256"]
    assert w.post("sam", f"/records/{rid}/sign", {"content_sha256": sha}).json()["state"] == "signed_by_supervisee"
    assert w.post("alex", f"/records/{rid}/sign", {"content_sha256": sha}).json()["state"] == "locked"

    added = w.post("alex", f"/records/{rid}/addenda", {"text": "Date was the 4th", "reason": "typo"})
    assert added.status_code == 201
    record = w.get("sam", f"/records/{rid}").json()
    assert record["content"]["discussion"] == "First text. Leave agreed."
    assert record["access"] == {"basis": "own record", "purpose": "own supervision record", "grant_id": None}
    number, addendum_sha = record["addenda"][0]["number"], record["addenda"][0]["sha256"]
    countersigned = w.post("sam", f"/records/{rid}/addenda/{number}/countersign", {"sha256": addendum_sha})
    assert countersigned.status_code == 200, countersigned.text

    history = w.get("morgan", f"/records/{rid}/history").json()
    assert [e["event"] for e in history["events"]] == [
        "Drafted", "SharedWithSupervisee", "AmendmentRequested", "Amended", "SignedBySupervisee",
        "SignedBySupervisor", "AddendumAdded", "AddendumCountersigned"]
    assert "+  First text. Leave agreed." in history["events"][3]["diff"]
    assert history["access"]["basis"] == "line manager"

    first = w.get("sam", f"/records/{rid}", params={"version": 1}).json()
    assert first["content"]["discussion"] == "First text." and first["state"] == "draft"
    moment = history["events"][2]["at"]
    as_of = w.get("sam", f"/records/{rid}", params={"as_of": moment}).json()
    assert as_of["state"] == "amendment_requested" and as_of["content_version"] == 1


def test_conflicting_writes_get_409_with_the_current_version(world: World) -> None:
    w = world
    rid = w.records["W"]
    stale = w.post("alex", f"/records/{rid}/share", {"expected_version": 1})
    assert stale.status_code == 409
    assert stale.json()["current_version"] == 2
    wrong_sha = w.post("sam", f"/records/{rid}/sign", {"content_sha256": "a" * 64})
    assert wrong_sha.status_code == 409
    body = wrong_sha.json()
    assert body["current_content_version"] == 1 and len(body["current_content_sha256"]) == 64
    out_of_order = w.post("alex", f"/records/{rid}/share", {})
    assert out_of_order.status_code == 409 and "shared" in out_of_order.json()["detail"]


def test_bad_input_gets_422_naming_the_field_and_unknown_ids_404(world: World) -> None:
    w = world
    bad_date = w.post("alex", "/records", {"supervisee_id": w.workers["W"],
                                           "content": {**content(), "session_date": "not a date"}})
    assert bad_date.status_code == 422
    assert bad_date.json()["field"] == "content.session_date"
    named = w.post("alex", "/records", {"supervisee_id": w.workers["W"], "content": {
        **content(), "case_discussions": [{"case_reference": "John Smith", "summary": "s"}]}})
    assert named.status_code == 422 and "full name" in named.json()["detail"] and named.json()["field"] == "content"
    assert w.get("sam", "/records/not-a-uuid").json()["field"] == "path.record_id"
    assert w.get("sam", f"/records/{uuid.uuid4()}").status_code == 404
    assert w.get("hana", f"/workers/{uuid.uuid4()}/file").status_code == 404
    assert w.get("hana", f"/grants/{uuid.uuid4()}").status_code == 404
    assert w.get("sam", f"/records/{w.records['W']}", params={"version": 99}).status_code == 404
    assert w.get("sam", f"/records/{w.records['W']}", params={"as_of": "2001-01-01T00:00:00Z"}).status_code == 404
    assert w.client.post("/api/v1/records", headers={**w.auth("alex"), "Content-Type": "application/json"},
                         content=b"{not json").status_code == 422
    leaving_early = w.post("hana", f"/workers/{w.workers['W']}/leave", {"leaving_date": "2001-01-01"})
    assert leaving_early.status_code == 422 and "start date" in leaving_early.json()["detail"]


def test_hr_moves_staff_and_the_file_names_the_previous_supervisor(world: World) -> None:
    w = world
    joined = w.post("hana", "/workers", {"name": "Nia New", "role": "Social worker", "category": "nqsw_asye",
                                         "start_date": "2026-03-01"})
    assert joined.status_code == 201
    nia = joined.json()["worker_id"]
    assert w.post("hana", f"/workers/{nia}/supervisor", {"supervisor_id": w.workers["S1"]}).json()[
        "supervisor_id"] == w.workers["S1"]
    assert w.post("hana", f"/workers/{nia}/supervisor", {"supervisor_id": w.workers["S2"]}).status_code == 409

    the_file = w.get("jo", f"/workers/{w.workers['T']}/file").json()
    assert the_file["current_supervisor"]["name"] == "Jo Supervisor"
    previous = the_file["previous_supervision"]
    assert [p["supervisor"]["name"] for p in previous] == ["Alex Supervisor"]
    assert [r["record_id"] for r in previous[0]["records"]] == [w.records["T"]]
    assert "content" not in str(the_file["current"])
    left = w.post("hana", f"/workers/{nia}/leave", {"leaving_date": "2026-06-30"})
    assert left.json()["state"] == "left"


def test_after_a_transfer_the_previous_supervisor_loses_access_at_once(world: World) -> None:
    w = world
    rid = w.records["W"]
    assert w.get("alex", f"/records/{rid}").status_code == 200
    moved = w.post("hana", f"/workers/{w.workers['W']}/transfer",
                   {"new_supervisor_id": w.workers["S2"], "reason": "caseload"})
    assert moved.status_code == 200
    assert [r["record_id"] for r in moved.json()["frozen_records"]] == [rid]  # HR sees what stays unsigned

    refused = w.get("alex", f"/records/{rid}")  # the very next request
    assert refused.status_code == 403 and refused.json()["refusal"] == "former_supervisor"
    assert w.post("alex", f"/records/{rid}/sign", {"content_sha256": "0" * 64}).status_code == 403
    assert w.get("jo", f"/records/{rid}").status_code == 200  # access followed the worker
    frozen = w.post("jo", f"/records/{rid}/amend", {"content": content("rewritten"), "based_on_version": 1})
    assert frozen.status_code == 403 and frozen.json()["refusal"] == "frozen_at_transfer"
    assert w.get("ines", f"/records/{rid}").json()["refusal"] == "outside_grant_scope"  # Sam left Alex's team

    flags = w.get("dana", "/access-log/flags").json()
    assert {"supervisor_after_transfer", "outside_grant_scope"} <= {f["kind"] for f in flags}


def test_health_is_open_and_says_which_database(world: World, settings) -> None:  # noqa: ANN001
    body = world.client.get("/api/v1/health").json()
    assert body["status"] == "ok"
    assert body["database"] == ("sqlite" if settings.is_sqlite else "postgresql")
    assert SECRET not in world.client.get("/openapi.json").text
