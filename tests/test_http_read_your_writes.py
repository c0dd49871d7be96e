"""A command's answer is its own result, and a read after it sees it, with the server's background projector
(as `svl serve` runs) on both backends."""

from datetime import timedelta
from typing import Any, Iterator

import pytest

from infrastructure.settings import Settings
from tests.support.world import World, build_world


@pytest.fixture
def served(settings: Settings, master_key: bytes, clock: Any) -> Iterator[World]:
    w = build_world(settings, master_key, clock, background_projections=True)
    try:
        yield w
    finally:
        w.app.close()
        w.app.storage.engine.dispose()


def test_a_hold_is_answered_201_with_itself_and_its_release_with_the_real_time(served: World) -> None:
    w = served
    placed = w.post("dana", f"/workers/{w.workers['X']}/holds",
                    {"kind": "investigation", "reason": "Grievance GRV-17", "reference": "GRV-17"})
    assert placed.status_code == 201, placed.text
    body = placed.json()
    assert (body["worker_id"], body["reference"], body["placed_by"], body["released_at"]) == (
        w.workers["X"], "GRV-17", "user:dana", None)
    listed = w.get("dana", "/holds", params={"worker_id": w.workers["X"]})
    assert [h["hold_id"] for h in listed.json()] == [body["hold_id"]]
    released = w.post("dana", f"/holds/{body['hold_id']}/release", {"reason": "closed"})
    assert released.status_code == 200 and released.json()["released_at"] is not None
    assert w.get("dana", "/holds").json()[0]["released_at"] is not None


def test_the_first_read_under_a_new_grant_is_allowed(served: World) -> None:
    w = served
    granted = w.post("hana", "/grants", {
        "grantee": "quinn", "purpose": "Quarterly audit", "category": "qa_audit",
        "scope": {"kind": "record", "id": w.records["W"]},
        "expires_at": (w.clock.now + timedelta(days=5)).isoformat()})
    assert granted.status_code == 201, granted.text
    assert granted.json()["live"] is True
    read = w.get("quinn", f"/records/{w.records['W']}")
    assert read.status_code == 200, read.text
    assert read.json()["access"]["grant_id"] == granted.json()["grant_id"]
    assert [r["record_id"] for r in w.get("quinn", "/records").json()] == [w.records["W"]]
    assert not [f for f in w.get("dana", "/access-log/flags").json() if f["reader_username"] == "quinn"]


def test_qa_sees_neither_the_index_nor_the_records_of_an_archived_file(served: World) -> None:
    w = served
    sam = w.workers["W"]
    assert w.post("hana", f"/workers/{sam}/leave", {"leaving_date": "2026-03-01"}).status_code == 200
    assert w.post("hana", f"/workers/{sam}/archive").status_code == 200
    for grantee, category in (("quinn", "qa_audit"), ("ivo", "investigation")):
        assert w.post("hana", "/grants", {
            "grantee": grantee, "purpose": "review", "category": category,
            "scope": {"kind": "worker_file", "id": sam},
            "expires_at": (w.clock.now + timedelta(days=5)).isoformat()}).status_code == 201
    index = w.get("quinn", f"/workers/{sam}/file", headers={"X-Access-Purpose": "audit"})
    assert index.status_code == 403 and index.json()["refusal"] == "archived_file"
    assert w.get("quinn", "/records").json() == []
    # bcp names investigating officers, with a defined purpose for each read.
    assert w.get("ivo", f"/workers/{sam}/file").json()["refusal"] == "purpose_required"
    allowed = w.get("ivo", f"/workers/{sam}/file", headers={"X-Access-Purpose": "grievance GRV-17"})
    assert allowed.status_code == 200, allowed.text


def test_the_leave_command_answers_who_needs_a_supervisor_and_the_leavers_token_ends(served: World) -> None:
    w = served
    left = w.post("hana", f"/workers/{w.workers['S1']}/leave", {"leaving_date": w.clock.now.date().isoformat()})
    assert left.status_code == 200, left.text
    body = left.json()
    assert {p["id"] for p in body["needs_a_supervisor"]} == {w.workers["W"]}  # Tina moved to Jo before
    assert body["accounts_ended"] == ["alex"] and body["state"] == "left"
    assert w.get("alex", "/me").status_code == 401
    due = w.get("morgan", "/compliance/due", params={"team": w.workers["M"]})
    assert due.status_code == 200
    everyone = w.get("hana", "/compliance/due").json()["workers"]
    sam = next(r for r in everyone if r["worker_id"] == w.workers["W"])
    assert any(i["kind"] == "no_supervisor" for i in sam["issues"])
