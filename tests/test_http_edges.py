"""The right code at the edge, on both backends: impossible dates are 422 naming the field (never 503), every
datetime served carries its offset, a refusal at the level of a route's roles is in the access log."""

import re
from datetime import date, datetime, timedelta
from typing import Any

import pytest

from domain.schedule_rules import destruction_date
from domain.timestamps import ImplausibleDate
from infrastructure.checkpoints import create_signing_key_file
from infrastructure.policy_packs import load_pack_by_name
from tests.support.world import World, world  # noqa: F401 (the fixture)

OFFSET = re.compile(r"(Z|[+-]\d\d:\d\d)$")
DATETIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d")


def datetimes_in(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [s for v in value.values() for s in datetimes_in(v)]
    if isinstance(value, list):
        return [s for v in value for s in datetimes_in(v)]
    return [value] if isinstance(value, str) and DATETIME.match(value) else []


def test_impossible_dates_are_422_naming_the_field(world: World) -> None:
    create_signing_key_file(world.app.storage.settings.signing_key_file, "supervision-ledger.example/test")
    worker = world.workers["W"]
    world.app.access.grant_access(grantor=world.principal("hana"), grantee="dana", purpose="Subject access request",
                                  category="sar", scope_kind="worker_file", scope_id=worker,
                                  expires_at=world.clock.now + timedelta(days=30))
    answers = {
        "as_of": world.get("morgan", "/compliance/due?as_of=9999-12-31"),
        "month": world.get("quinn", "/compliance/frequency?month=9999-12"),
        "received_on": world.client.post(f"/api/v1/sar/{worker}?received_on=9999-12-31", headers=world.auth("dana")),
        "leaving_date": world.post("hana", f"/workers/{worker}/leave", {"leaving_date": "9999-12-31"}),
    }
    for field, response in answers.items():
        assert response.status_code == 422, (field, response.text)
        assert response.json()["field"] == field, response.text
        assert field in response.json()["detail"]
    # Nothing was half-done: the worker is still in post, and an ordinary date still works.
    assert world.app.people.get_worker(worker).leaving_date is None
    assert world.get("morgan", "/compliance/due?as_of=2026-03-03").status_code == 200


def test_a_stored_leaving_date_beyond_the_calendar_is_refused_by_name_when_archiving() -> None:
    with pytest.raises(ImplausibleDate) as refused:
        destruction_date(load_pack_by_name("bcp"), date(9999, 12, 31))
    assert refused.value.field == "leaving_date"


def test_every_datetime_served_carries_its_offset(world: World) -> None:
    worker = world.workers["W"]
    placed = world.post("dana", f"/workers/{worker}/holds", {"kind": "investigation", "reason": "Grievance",
                                                             "reference": "GRV-1"})
    assert placed.status_code == 201, placed.text
    starts = (world.clock.now + timedelta(days=2)).replace(microsecond=0)
    booked = world.post("alex", "/sessions", {"supervisee_id": worker, "starts_at": starts.isoformat()})
    assert booked.status_code == 201, booked.text
    assert world.get("sam", f"/records/{world.records['W']}").status_code == 200  # an entry in sam's access log
    served = {path: world.get(user, path) for user, path in (("dana", "/holds"), ("alex", "/sessions"),
                                                             ("hana", "/grants"), ("sam", "/me/access-log"))}
    for path, response in served.items():
        assert response.status_code == 200, (path, response.text)
        stamps = datetimes_in(response.json())
        assert stamps, f"{path} served no datetime to check"
        naive = [s for s in stamps if not OFFSET.search(s)]
        assert not naive, f"{path} served datetimes without an offset: {naive}"
    held = served["/holds"].json()[0]
    assert datetime.fromisoformat(held["placed_at"]).utcoffset() == timedelta(0)


def test_a_refusal_by_the_routes_roles_is_in_the_access_log(world: World) -> None:
    record = world.records["W"]
    refused = world.post("hana", f"/records/{record}/sign", {"content_sha256": "0" * 64})
    assert refused.status_code == 403, refused.text
    entries = [e for e in world.log(record_id=record) if e["reader_username"] == "hana"]
    assert len(entries) == 1, entries
    entry = entries[0]
    assert (entry["outcome"], entry["refusal"], entry["action"]) == ("denied", "role", "sign")
    assert entry["worker_id"] == world.workers["W"]
    assert "/sign" in entry["reason"]
