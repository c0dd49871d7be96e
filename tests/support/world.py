"""A small organisation behind the real HTTP API, shared by the HTTP and access tests.

Morgan (manager) line-manages two supervisors, Alex and Jo. Alex supervises Sam; Tina was Alex's supervisee
until she was transferred to Jo; Jo supervises Xavier. Each of Sam, Tina and Xavier has one shared record.
Ines (inspector) holds an inspection grant for Alex's team, Ivo (investigating officer) one for Xavier's
file; Quinn (QA) and Dana (DPO) hold none; Hana is HR (administrator).
"""

import base64
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.application import SupervisionApplication
from api.http import create_app
from infrastructure.settings import Settings
from tests.support.acting import acting

STAFF = {  # key: (name, category, supervisor key)
    "M": ("Morgan Manager", "manager", None),
    "S1": ("Alex Supervisor", "manager", "M"),
    "S2": ("Jo Supervisor", "manager", "M"),
    "W": ("Sam Worker", "experienced", "S1"),
    "T": ("Tina Transferred", "experienced", "S1"),
    "X": ("Xavier Other", "experienced", "S2"),
}
USERS = {  # username: (role, worker key)
    "hana": ("administrator", None),
    "morgan": ("manager", "M"),
    "alex": ("supervisor", "S1"),
    "jo": ("supervisor", "S2"),
    "sam": ("supervisee", "W"),
    "tina": ("supervisee", "T"),
    "ines": ("inspector", None),
    "ivo": ("investigating_officer", None),
    "quinn": ("qa", None),
    "dana": ("dpo", None),
}
SECRET = "Discussed the Zarquon household and a bereavement"


def content(discussion: str = SECRET, session_date: str = "2026-03-02") -> dict:
    return {
        "session_date": session_date,
        "attendees": ["Supervisor", "Worker"],
        "agenda": ["Wellbeing", "Caseload"],
        "discussion": discussion,
        "actions": [{"description": "Book visit", "owner": "Worker", "due": "2026-03-09"}],
        "case_discussions": [{"case_reference": "Z.Q.", "summary": "Risk reviewed", "decision": "Weekly visits"}],
    }


@dataclass
class World:
    client: TestClient
    app: SupervisionApplication
    clock: Any
    workers: dict[str, str] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    users: dict[str, str] = field(default_factory=dict)
    records: dict[str, str] = field(default_factory=dict)
    grants: dict[str, str] = field(default_factory=dict)

    def auth(self, username: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[username]}"}

    def get(self, username: str, path: str, headers: dict[str, str] | None = None, **kwargs: Any) -> Any:
        return self.client.get("/api/v1" + path, headers={**self.auth(username), **(headers or {})}, **kwargs)

    def post(self, username: str, path: str, body: dict | None = None) -> Any:
        return self.client.post("/api/v1" + path, headers=self.auth(username), json=body or {})

    def principal(self, username: str) -> Any:
        return self.app.people.users.principal(username, via="test")

    def log(self, **filters: Any) -> list[dict]:
        from api.access_service import AccessLogFilter

        return self.app.access.access_log_entries(self.principal("dana"), AccessLogFilter(**filters))


def build_world(settings: Settings, master_key: bytes, clock: Any, **app_options: Any) -> World:
    api = create_app(settings, master_key, clock=clock, **app_options)
    app: SupervisionApplication = api.state.application
    world = World(TestClient(api), app, clock)
    for key, (name, category, _) in STAFF.items():
        world.workers[key] = str(app.people.join_worker(acting("hr"), name=name, role="Social work", category=category,
                                                        start_date=date(2020, 1, 1)).id)
    for key, (_, _, boss) in STAFF.items():
        if boss:
            app.allocation.allocate_supervisor(acting("hr"), world.workers[key], world.workers[boss])
    for username, (role, worker) in USERS.items():
        world.users[username] = app.people.users.add_user(username, role, worker_id=world.workers.get(worker or ""),
                                                          created_by="test")
        world.tokens[username] = app.people.users.issue_token(username, days=365).token
    for key, supervisor in (("W", "S1"), ("T", "S1"), ("X", "S2")):
        rid = app.records.draft_record(acting(world.workers[supervisor]), supervisee_id=world.workers[key],
                                       content=content()).id
        app.records.share_record(acting(world.workers[supervisor]), rid)
        world.records[key] = str(rid)
    app.allocation.transfer_worker(acting("hr"), world.workers["T"], world.workers["S2"], "team restructure")
    hana = world.principal("hana")
    expiry = clock.now + timedelta(days=60)
    world.grants["ines"] = str(app.access.grant_access(
        grantor=hana, grantee="ines", purpose="Ofsted inspection of the team", category="inspection",
        scope_kind="team", scope_id=world.workers["S1"], expires_at=expiry).id)
    world.grants["ivo"] = str(app.access.grant_access(
        grantor=hana, grantee="ivo", purpose="Grievance investigation GRV-17", category="investigation",
        scope_kind="worker_file", scope_id=world.workers["X"], expires_at=expiry).id)
    return world


@pytest.fixture
def world(settings: Settings, master_key: bytes, clock: Any) -> Iterator[World]:
    w = build_world(settings, master_key, clock)
    try:
        yield w
    finally:
        w.app.close()
        w.app.storage.engine.dispose()


def write_master_key(settings: Settings, master_key: bytes) -> None:
    settings.master_key_file.write_text(base64.b64encode(master_key).decode() + "\n")
