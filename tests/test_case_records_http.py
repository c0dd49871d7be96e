"""/api/v1 case supervision records and record classes on both backends: the routes only translate; the application
refuses what the rules forbid (403, 404 unknown ids, 422 bad input naming what was wrong, 410 once destroyed)."""

from datetime import date
from uuid import NAMESPACE_URL, uuid5

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api import http_case_records, http_support
from api.http import add_error_handlers
from domain.authorisation import Role
from infrastructure.checkpoints import create_signing_key_file
from infrastructure.svl_verify import RECORD_CERTIFICATE_FORMAT, verify_certificate
from infrastructure.users import Principal
from tests.support.scheduling import at, new_worker, supervisors

D = date
CASE = {"case_reference": "LCS 55821", "discussed_on": "2026-04-02",
        "discussion": "Worries about school attendance", "decisions": "Strategy discussion requested"}


@pytest.fixture
def client(application, settings):
    create_signing_key_file(settings.signing_key_file, settings.organisation_origin)
    api = FastAPI()
    api.state.application = application
    api.include_router(http_case_records.router)
    add_error_handlers(api)
    caller = {"who": None}
    api.dependency_overrides[http_support.caller] = lambda: caller["who"]
    test_client = TestClient(api)

    def as_(role: str, worker_id: str | None = None, user: str | None = None) -> TestClient:
        """The client, acting from now on as this caller (call it again for each request)."""
        name = user or f"u-{worker_id}"
        caller["who"] = Principal(str(uuid5(NAMESPACE_URL, name)), name[:64], Role(role), worker_id, "test")
        return test_client
    return as_


def test_case_supervision_over_http(application, clock, client):
    app = application
    _, supervisor = supervisors(app, clock)
    worker = new_worker(app, clock, supervisor, "experienced", D(2025, 6, 2))
    clock.set(at(D(2026, 4, 2), 15))

    def as_supervisor() -> TestClient:
        return client("supervisor", supervisor)

    def due_on(day: str) -> list[tuple[str, str]]:
        return [(d["record_id"], d["status"])
                for d in as_supervisor().get("/api/v1/case-records/due", params={"as_of": day}).json()]

    classes = client("qa", user="qa").get("/api/v1/record-classes").json()
    assert [c["name"] for c in classes] == ["personal_supervision", "case_supervision"]
    case_class = classes[1]
    assert case_class["retention"]["whose"] == "bcp's own setting"  # the policy is silent: never the council's
    assert case_class["deadlines"][0]["whose"] == "bcp" and "one week" in case_class["deadlines"][0]["words"]

    bad = as_supervisor().post("/api/v1/case-records",
                                                json={**CASE, "worker_id": worker, "case_reference": "J.S."})
    assert bad.status_code == 422 and "not the number of the child's case record" in bad.json()["detail"]
    named = as_supervisor().post("/api/v1/case-records", json={**CASE, "worker_id": worker,
                                                              "discussion": "Talked about John Smith's mother"})
    assert named.status_code == 422 and "discussion" in named.json()["detail"]
    assert as_supervisor().post("/api/v1/case-records",
                                json={**CASE, "worker_id": worker, "discussed_on": "soon"}).status_code == 422
    unknown = "00000000-0000-4000-8000-000000000000"
    assert as_supervisor().post("/api/v1/case-records", json={**CASE, "worker_id": unknown}).status_code == 404
    created = as_supervisor().post("/api/v1/case-records", json={**CASE, "worker_id": worker})
    assert created.status_code == 201, created.text
    rid = created.json()["record_id"]
    assert created.json()["decision_due"] == "2026-04-09"

    assert client("supervisor", "someone-else").post("/api/v1/case-records",
                                                     json={**CASE, "worker_id": worker}).status_code == 403
    assert due_on("2026-04-10") == [(rid, "overdue")]
    assert due_on("2026-04-09") == [(rid, "due")]
    assert client("inspector", user="ofsted").get("/api/v1/case-records/due").status_code == 403

    clock.set(at(D(2026, 4, 8), 10))
    assert client("supervisee", worker).post(f"/api/v1/case-records/{rid}/on-childs-record",
                          json={"childs_record_reference": "on file", "recorded_on": "2026-04-08"}).status_code == 422
    confirmed = client("supervisee", worker).post(f"/api/v1/case-records/{rid}/on-childs-record",
                               json={"childs_record_reference": "Case note 88123", "recorded_on": "2026-04-08"})
    assert confirmed.status_code == 200 and confirmed.json()["on_childs_record_on"] == "2026-04-08"
    again = client("supervisee", worker).post(f"/api/v1/case-records/{rid}/on-childs-record",
                           json={"childs_record_reference": "Case note 88124", "recorded_on": "2026-04-08"})
    assert again.status_code == 409
    assert due_on("2026-04-10") == [(rid, "recorded")]

    read = as_supervisor().get(f"/api/v1/case-records/{rid}")
    assert read.status_code == 200 and read.json()["childs_record_reference"] == "Case note 88123"
    assert read.json()["case_reference"] == "LCS 55821"
    assert client("supervisor", "someone-else").get(f"/api/v1/case-records/{rid}").status_code == 403
    assert as_supervisor().get(f"/api/v1/case-records/{unknown}").status_code == 404

    # its own retention: six years after the discussion (bcp's own setting), reviewed by a second person
    schedule = client("dpo", user="dpo").get("/api/v1/retention/case-records",
                                             params={"as_of": "2032-04-02"}).json()
    assert [(s["record_id"], s["destruction_date"], s["status"]) for s in schedule] == [(rid, "2032-04-02", "due")]
    clock.set(at(D(2032, 4, 2), 10))
    proposed = client("dpo", user="dpo").post("/api/v1/retention/case-records/proposals", json={})
    assert proposed.status_code == 201 and proposed.json()["record_ids"] == [rid]
    disposal = proposed.json()["disposal_id"]
    # the lists, as the DPO's web page shows them: newest first, counts and who decided, no content
    [listed] = client("dpo", user="dpo").get("/api/v1/retention/case-records/proposals").json()
    assert (listed["disposal_id"], listed["records"], listed["status"], listed["decided_by"]) == \
        (disposal, 1, "proposed", None)
    one = client("administrator", user="hr").get(f"/api/v1/retention/case-records/proposals/{disposal}")
    assert one.status_code == 200 and one.json()["record_ids"] == [rid] and one.json()["decision"] is None
    assert as_supervisor().get("/api/v1/retention/case-records/proposals").status_code == 403
    assert client("dpo", user="dpo").get(f"/api/v1/retention/case-records/proposals/{unknown}").status_code == 404
    assert client("dpo", user="dpo").post(f"/api/v1/retention/case-records/proposals/{disposal}/approve",
                                          json={"rationale": "mine"}).status_code == 403
    assert client("dpo", user="dpo").post(f"/api/v1/retention/case-records/proposals/{disposal}/run").status_code \
        == 409
    assert client("administrator", user="hr").post(f"/api/v1/retention/case-records/proposals/{disposal}/approve",
                                                   json={"rationale": "Checked"}).status_code == 200
    ran = client("dpo", user="dpo").post(f"/api/v1/retention/case-records/proposals/{disposal}/run")
    assert ran.status_code == 200 and ran.json()["destroyed"] == [rid]
    [listed] = client("dpo", user="dpo").get("/api/v1/retention/case-records/proposals").json()
    assert (listed["status"], listed["destroyed"], listed["decided_by"]) == ("destroyed", 1, "user:hr")
    assert client("dpo", user="dpo").get(f"/api/v1/retention/case-records/proposals/{disposal}").json()[
        "destroyed"] == [rid]
    assert as_supervisor().get(f"/api/v1/case-records/{rid}").status_code == 410
    # the destroyed record's signed certificate, as written (v3: it names the record class), which verifies
    certificate = client("administrator", user="hr").get(f"/api/v1/retention/case-records/certificates/{rid}")
    assert certificate.status_code == 200 and certificate.headers["content-type"].startswith("application/json")
    assert f'filename="destruction-case-supervision-{rid}.json"' in certificate.headers["content-disposition"]
    assert certificate.text == app.case_records.case_record_certificate_path(rid).read_text()
    assert certificate.json()["format"] == RECORD_CERTIFICATE_FORMAT
    assert verify_certificate(certificate.json(), trusted_key=app.integrity.verifier_key()).verified
    refused = as_supervisor().get(f"/api/v1/retention/case-records/certificates/{rid}")
    assert refused.status_code == 403 and "download destruction certificates" in refused.json()["detail"]
    assert client("dpo", user="dpo").get(f"/api/v1/retention/case-records/certificates/{worker}").json()[
        "detail"] == f"no destruction certificate for case supervision record {worker}"
    assert client("dpo", user="dpo").get("/api/v1/retention/case-records/certificates/not-an-id").status_code == 422
