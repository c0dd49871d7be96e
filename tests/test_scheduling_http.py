"""/api/v1 scheduling endpoints on both backends: managers see their team, QA the organisation; commands act as
the caller. The caller is injected by overriding the authentication dependency, in an app without the route
role check: the application's own decisions refuse what the rules forbid."""

import csv
import io
from datetime import date, datetime, timezone
from types import SimpleNamespace

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api import http_scheduling, http_support
from api.http import add_error_handlers
from domain.authorisation import Role
from infrastructure.users import Principal
from tests.support.scheduling import held, new_worker, supervisors
from tests.support.acting import acting

D = date


@pytest.fixture
def client(application):
    api = FastAPI()
    api.state.application = application
    api.include_router(http_scheduling.router)
    add_error_handlers(api)
    caller = {"who": None}
    api.dependency_overrides[http_support.caller] = lambda: caller["who"]
    test_client = TestClient(api)

    def as_(role: str, worker_id: str | None = None, user_id: str = "u-1") -> TestClient:
        caller["who"] = Principal(user_id, user_id, Role(role), worker_id, "test")
        return test_client
    return as_


def test_managers_see_their_team_and_qa_the_organisation(application, clock, client):
    app = application
    manager, supervisor = supervisors(app, clock)
    worker = new_worker(app, clock, supervisor, "nqsw_asye", D(2026, 3, 2))
    held(app, clock, worker, supervisor, D(2026, 3, 3))
    query = {"as_of": "2026-03-15"}

    mine = client("supervisor", supervisor).get("/api/v1/compliance/due", params=query)
    assert mine.status_code == 200, mine.text
    body = mine.json()
    assert body["team"] == supervisor and [w["name"] for w in body["workers"]] == ["Sam Worker"]
    assert body["workers"][0]["days_overdue"] == 5 and "weekly phase" in body["workers"][0]["reason"]

    refused = client("supervisor", supervisor).get("/api/v1/compliance/due", params={**query, "team": manager})
    assert refused.status_code == 403
    # a line manager may look at the team of a supervisor they supervise
    line = client("manager", manager).get("/api/v1/compliance/due", params={**query, "team": supervisor})
    assert [w["worker_id"] for w in line.json()["workers"]] == [worker]

    everyone = client("qa").get("/api/v1/compliance/due", params=query).json()
    assert {w["name"] for w in everyone["workers"]} == {"Sam Worker", "Alex Supervisor", "Morgan Manager"}
    assert client("supervisee", worker).get("/api/v1/compliance/due").status_code == 403

    exported = client("administrator").get("/api/v1/compliance/due", params={**query, "format": "csv"})
    assert exported.headers["content-type"].startswith("text/csv")
    assert {r["name"] for r in csv.DictReader(io.StringIO(exported.text))} == set(
        w["name"] for w in everyone["workers"])

    report = client("qa").get("/api/v1/compliance/frequency", params={"month": "2026-03", "as_of": "2026-03-31"})
    assert report.status_code == 200, report.text
    nqsw = next(r for r in report.json()["workers"] if r["worker_id"] == worker)
    # bcp: weekly for the first six weeks from 2 Mar: due 9, 16, 23, 30 Mar; one held on 3 Mar
    assert (nqsw["sessions_held"], nqsw["sessions_required"], nqsw["met"]) == (1, 4, False)
    assert client("qa").get("/api/v1/compliance/frequency", params={"month": "2026-13"}).status_code == 422
    assert client("qa").get("/api/v1/compliance/due", params={"pack": "nowhere"}).status_code == 422


def test_sessions_agreements_and_cases_act_as_the_caller(application, clock, client):
    app = application
    manager, supervisor = supervisors(app, clock)
    worker = new_worker(app, clock, supervisor, "experienced", D(2020, 1, 6), joined=D(2026, 1, 5))
    clock.set(datetime(2026, 3, 2, 9, tzinfo=timezone.utc))
    sup = client("supervisor", supervisor)

    booked = sup.post("/api/v1/sessions", json={"supervisee_id": worker, "starts_at": "2026-01-12T10:00:00"})
    assert booked.status_code == 201, booked.text
    session = booked.json()["session_id"]
    assert client("manager", manager).post(f"/api/v1/sessions/{session}/held",
                                           json={"actual_minutes": 60}).status_code == 403
    done = client("supervisor", supervisor).post(f"/api/v1/sessions/{session}/held", json={"actual_minutes": 60})
    assert done.json()["state"] == "held" and done.json()["held_on"] == "2026-01-12"

    other = client("supervisor", supervisor).post("/api/v1/sessions", json={
        "supervisee_id": worker, "starts_at": "2026-02-09T10:00:00Z", "planned_minutes": 60}).json()["session_id"]
    me = client("supervisee", worker)
    cancelled = me.post(f"/api/v1/sessions/{other}/cancellation", json={"reason": "sickness"})
    assert cancelled.json()["cancelled_by"] == "supervisee" and cancelled.json()["rebook_by"] is None
    assert me.post(f"/api/v1/sessions/{other}/cancellation", json={"reason": "sickness"}).status_code == 409
    rebooked = client("supervisor", supervisor).post(f"/api/v1/sessions/{other}/rebooking",
                                                     json={"starts_at": "2026-02-16T10:00:00Z"})
    assert rebooked.status_code == 201 and rebooked.json()["rebooks"] == other
    assert len(client("supervisee", worker).get("/api/v1/sessions").json()) == 3

    drafted = client("supervisor", supervisor).post("/api/v1/agreements", json={
        "supervisee_id": worker, "terms": {"frequency": "monthly", "session_minutes": 90}})
    assert drafted.status_code == 201, drafted.text
    agreement = drafted.json()["agreement_id"]
    assert client("supervisee", worker).post(f"/api/v1/agreements/{agreement}/signatures").json()["awaiting"] == [
        "supervisor"]
    signed = client("supervisor", supervisor).post(f"/api/v1/agreements/{agreement}/signatures").json()
    assert signed["state"] == "in_force"
    assert client("qa").post(f"/api/v1/agreements/{agreement}/signatures").status_code == 403
    assert client("supervisor", supervisor).post(f"/api/v1/agreements/{agreement}/reviews",
                                                 json={"notes": "fine"}).status_code == 200
    paper = client("administrator", user_id="hr-1").post("/api/v1/agreements/paper", json={
        "supervisee_id": supervisor, "supervisor_id": manager, "signed_on": "2025-06-02",
        "terms": {"arrangements": "signed on paper"}})
    assert paper.status_code == 201 and paper.json()["in_force_on"] == "2025-06-02"

    assert client("supervisor", supervisor).post("/api/v1/cases", json={
        "worker_id": worker, "case_reference": "John Smith"}).status_code == 422  # a name, not initials
    case = client("supervisor", supervisor).post("/api/v1/cases", json={
        "worker_id": worker, "case_reference": "J.S.", "rating": "red", "last_discussed_on": "2026-01-12"})
    assert case.status_code == 201 and case.json()["rating"] == "red"
    assert client("supervisor", supervisor).post(f"/api/v1/cases/{case.json()['case_id']}/discussions",
                                                 json={"discussed_on": "2026-01-13"}).json()[
        "last_discussed_on"] == "2026-01-13"
    assert client("supervisor", supervisor).post(f"/api/v1/sessions/{session}/held",
                                                 json={"actual_minutes": 60}).status_code == 409
    assert client("supervisor", supervisor).post(
        "/api/v1/sessions/00000000-0000-0000-0000-000000000000/held", json={"actual_minutes": 60}).status_code == 404


def test_every_route_declares_who_may_call_it():
    api = FastAPI()
    api.include_router(http_scheduling.router)
    for path, operations in api.openapi()["paths"].items():
        assert path.startswith("/api/v1/")
        for operation in operations.values():
            assert operation.get("x-allowed-roles"), f"{path} declares no roles: deny by default would refuse it"


def test_in_the_api_app_the_roles_are_enforced_by_its_deny_by_default_check(settings, master_key):
    """Wired as the lead will: the API app's authentication and role check, this router included as it is."""
    pytest.importorskip("api.http_support")
    from api.http import create_app

    tokens: dict[str, Principal] = {}
    api = create_app(settings, master_key, authenticator=SimpleNamespace(authenticate=tokens.get))
    api.include_router(http_scheduling.router)
    app = api.state.application
    supervisor = str(app.people.join_worker(acting("hr"), name="Alex Supervisor", role="Team manager",
                                            category="manager",
                                            start_date=D(2018, 1, 1)).id)
    tokens.update({"sup": Principal("u1", "alex", Role.SUPERVISOR, supervisor, "token"),
                   "io": Principal("u2", "io", Role.INVESTIGATING_OFFICER, None, "token")})
    with TestClient(api) as http:
        assert http.get("/api/v1/compliance/due").status_code == 401
        assert http.get("/api/v1/compliance/due", headers={"Authorization": "Bearer io"}).status_code == 403
        answer = http.get("/api/v1/compliance/due", headers={"Authorization": "Bearer sup"})
        assert answer.status_code == 200 and answer.json()["team"] == supervisor
