"""/api/v1 observations, step-down decisions and reviews on both backends: the routes only translate; the
application refuses what the rules forbid (403 naming the policy, 404 unknown ids, 422 bad input)."""

from datetime import date
from uuid import NAMESPACE_URL, uuid5

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api import http_practice, http_scheduling, http_support
from api.access_service import AccessLogFilter
from api.http import add_error_handlers
from domain.authorisation import Role
from infrastructure.users import Principal
from tests.support.acting import acting
from tests.support.scheduling import at, held, new_worker, supervisors

D = date


@pytest.fixture
def client(application):
    api = FastAPI()
    api.state.application = application
    api.include_router(http_scheduling.router)
    api.include_router(http_practice.router)
    add_error_handlers(api)
    caller = {"who": None}
    api.dependency_overrides[http_support.caller] = lambda: caller["who"]
    test_client = TestClient(api)

    def as_(role: str, worker_id: str | None = None) -> TestClient:
        # a user id as long as a real one (a UUID): the access log's column holds 36 characters
        caller["who"] = Principal(str(uuid5(NAMESPACE_URL, f"u-{worker_id}")), f"u-{worker_id}"[:64], Role(role),
                                  worker_id, "test")
        return test_client
    return as_


def test_an_observation_then_a_step_down_over_http(application, clock, client):
    app = application
    _, supervisor = supervisors(app, clock)
    worker = new_worker(app, clock, supervisor, "overseas_recruited", D(2026, 6, 1))
    held(app, clock, worker, supervisor, D(2026, 9, 7))
    clock.set(at(D(2026, 9, 8), 10))
    as_supervisor = client("supervisor", supervisor)
    refused = as_supervisor.post(f"/api/v1/workers/{worker}/frequency-step-downs",
                                 json={"decided_on": "2026-09-08", "rationale": "Meets the standard"})
    assert refused.status_code == 403 and "no direct observation of practice" in refused.json()["detail"]
    assert as_supervisor.post("/api/v1/observations", json={
        "subject_id": worker, "observed_on": "2026-09-08", "outcome": "excellent"}).status_code == 422
    observed = as_supervisor.post("/api/v1/observations", json={
        "subject_id": worker, "observed_on": "2026-09-04", "outcome": "meets_standard"})
    assert observed.status_code == 201, observed.text
    assert observed.json()["relation"] == "supervisor"
    decided = as_supervisor.post(f"/api/v1/workers/{worker}/frequency-step-downs", json={
        "decided_on": "2026-09-08", "rationale": "Meets the standard",
        "observation_id": observed.json()["observation_id"]})
    assert decided.status_code == 201, decided.text
    assert decided.json()["steps"][0]["to_every"] == {"weeks": 3}
    due = as_supervisor.get("/api/v1/compliance/due", params={"as_of": "2026-09-10"}).json()
    mine = next(w for w in due["workers"] if w["worker_id"] == worker)
    assert mine["due"] == "2026-09-28"
    assert not any(i["kind"] == "observation.direct_practice" for i in mine["issues"])
    unknown = as_supervisor.post("/api/v1/workers/00000000-0000-0000-0000-000000000000/reviews",
                                 json={"kind": "employee_review", "reviewed_on": "2026-09-08"})
    assert unknown.status_code == 404
    refused = as_supervisor.post(f"/api/v1/workers/{worker}/reviews",
                                 json={"kind": "employee_review", "reviewed_on": "2026-09-08"})
    assert refused.status_code in (400, 403, 422) and "names no review" in refused.text


def test_a_workers_practice_over_http_is_the_practice_pages_logged_read(application, clock, client):
    app = application
    manager, supervisor = supervisors(app, clock)
    worker = new_worker(app, clock, supervisor, "overseas_recruited", D(2026, 6, 1))
    stranger = new_worker(app, clock, manager, "experienced", D(2020, 1, 6), joined=D(2026, 1, 5), name="Ola Other")
    held(app, clock, worker, supervisor, D(2026, 9, 7))
    clock.set(at(D(2026, 9, 8), 10))
    observed = app.practice.record_observation(acting(supervisor), subject_id=worker, observed="practice",
                                               observed_on=D(2026, 9, 4), outcome="meets_standard",
                                               feedback="A clear purpose for the visit")
    app.practice.step_down_frequency(acting(supervisor), worker, decided_on=D(2026, 9, 8), observation_id=observed.id,
                                     rationale="Meets the standard")
    app.practice.record_employee_review(acting(supervisor), worker, kind="employee_review", reviewed_on=D(2026, 9, 8),
                                        pack="bury")  # a review under the pack that names one

    got = client("supervisor", supervisor).get(f"/api/v1/workers/{worker}/practice")
    assert got.status_code == 200, got.text
    body = got.json()
    assert (body["basis"], body["pack"], body["state"]) == ("current supervisor", "bcp", "active")
    [o] = body["observations"]
    assert (o["observation_id"], o["outcome"], o["feedback"], o["relation"]) == (
        str(observed.id), "meets_standard", "A clear purpose for the visit", "supervisor")
    [step] = body["step_downs"]
    assert (step["decided_on"], step["to_every"], step["observation_id"]) == ("2026-09-08", {"weeks": 3},
                                                                               str(observed.id))
    [review] = body["reviews"]
    assert (review["kind"], review["reviewed_on"], review["reviewer_id"]) == ("employee_review", "2026-09-08",
                                                                             supervisor)
    assert "every 3 weeks" in body["regime"] and body["frequency"]["due"] == "2026-09-28"
    assert "observation.direct_practice" in {c["kind"] for c in body["cycles"]}
    assert {"observation", "step_down"} <= set(body["offered"])
    assert client("supervisee", worker).get(f"/api/v1/workers/{worker}/practice").json()["offered"] == []

    refused = client("supervisee", stranger).get(f"/api/v1/workers/{worker}/practice")
    assert refused.status_code == 403 and refused.json()["detail"]
    unknown = client("supervisor", supervisor).get("/api/v1/workers/00000000-0000-0000-0000-000000000000/practice")
    assert unknown.status_code == 404
    assert client("supervisor", supervisor).get("/api/v1/workers/not-an-id/practice").status_code == 422
    logged = [(e["outcome"], e["channel"]) for e in app.access.access_log_entries(acting("dpo"), AccessLogFilter(
        worker_id=worker)) if e["action"] == "read_practice"]
    assert sorted(logged) == [("allowed", "http"), ("allowed", "http"), ("denied", "http")]
