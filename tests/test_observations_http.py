"""/api/v1 observations, step-down decisions and reviews on both backends: the routes only translate; the
application refuses what the rules forbid (403 naming the policy, 404 unknown ids, 422 bad input)."""

from datetime import date

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api import http_practice, http_scheduling, http_support
from api.http import add_error_handlers
from domain.authorisation import Role
from infrastructure.users import Principal
from tests.support.scheduling import at, held, new_worker, supervisors

D = date


@pytest.fixture
def client(ledger):
    api = FastAPI()
    api.state.ledger = ledger
    api.include_router(http_scheduling.router)
    api.include_router(http_practice.router)
    add_error_handlers(api)
    caller = {"who": None}
    api.dependency_overrides[http_support.caller] = lambda: caller["who"]
    test_client = TestClient(api)

    def as_(role: str, worker_id: str | None = None) -> TestClient:
        caller["who"] = Principal(f"u-{worker_id}", f"u-{worker_id}"[:64], Role(role), worker_id, "test")
        return test_client
    return as_


def test_an_observation_then_a_step_down_over_http(ledger, clock, client):
    app = ledger
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
