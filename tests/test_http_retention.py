"""Retention, legal holds and subject access through the real HTTP API (both backends)."""

from datetime import date, timedelta

from infrastructure.checkpoints import create_signing_key_file
from infrastructure.master_key import load_master_key
from infrastructure.svl_verify import verify_certificate
from tests.support.world import SECRET, world, write_master_key  # noqa: F401  (the shared fixture)
from tests.support.acting import acting
from tests.support.retention import destroy_due


def test_hr_archives_a_leaver_and_the_dpo_sees_the_schedule(world):  # noqa: F811
    sam = world.workers["W"]
    left = world.post("hana", f"/workers/{sam}/leave", {"leaving_date": "2020-01-31"})
    assert left.status_code == 200 and left.json()["accounts_ended"] == ["sam"]
    assert world.post("sam", f"/workers/{sam}/archive").status_code == 401  # a leaver's token ends at leaving
    assert world.post("alex", f"/workers/{sam}/archive").status_code == 403
    archived = world.post("hana", f"/workers/{sam}/archive")
    assert archived.status_code == 200 and archived.json()["destruction_date"] == "2026-01-31"
    schedule = world.get("dana", "/retention/schedule", params={"as_of": "2026-03-02"})
    assert schedule.status_code == 200
    assert {f["worker_id"]: f["status"] for f in schedule.json()}[sam] == "due"
    assert world.get("alex", "/retention/schedule").status_code == 403


def test_an_investigating_officer_holds_a_file_and_releases_it(world):  # noqa: F811
    xavier = world.workers["X"]
    bad = world.post("ivo", f"/workers/{xavier}/holds", {"kind": "rumour", "reason": "x", "reference": "y"})
    assert bad.status_code == 422
    placed = world.post("ivo", f"/workers/{xavier}/holds",
                        {"kind": "investigation", "reason": "Grievance GRV-17", "reference": "GRV-17"})
    assert placed.status_code == 201 and placed.json()["released_at"] is None
    hold_id = placed.json()["hold_id"]
    assert world.get("dana", "/holds", params={"worker_id": xavier}).json()[0]["reference"] == "GRV-17"
    # bcp names only the DPO and HR to release a hold (legal_holds.release), whoever placed it.
    refused = world.post("ivo", f"/holds/{hold_id}/release", {"reason": "Closed: no case to answer"})
    assert refused.status_code == 403 and refused.json()["refusal"] == "role"
    released = world.post("dana", f"/holds/{hold_id}/release", {"reason": "Closed: no case to answer"})
    assert released.status_code == 200 and released.json()["release_reason"] == "Closed: no case to answer"
    assert released.json()["released_at"] is not None
    assert world.post("sam", f"/workers/{xavier}/holds",
                      {"kind": "other", "reason": "r", "reference": "x"}).status_code == 403


def test_a_subject_access_export_needs_a_sar_grant_and_logs_every_record_read(world, settings):  # noqa: F811
    create_signing_key_file(settings.signing_key_file, settings.organisation_origin)
    sam = world.workers["W"]
    refused = world.post("dana", f"/sar/{sam}")
    assert refused.status_code == 403
    world.app.access.grant_access(grantor=world.principal("hana"), grantee="dana", purpose="SAR-2026-031",
                                  category="sar", scope_kind="worker_file", scope_id=sam,
                                  expires_at=world.clock.now + timedelta(days=30))
    export = world.post("dana", f"/sar/{sam}?received_on=2026-03-02")
    assert export.status_code == 200, export.text
    body = export.json()
    assert body["subject_access_request"]["respond_by"] == "2026-04-02"
    assert body["worker"]["name"] == "Sam Worker"
    [record] = body["supervision_records"]
    assert record["content"]["discussion"] == SECRET
    from infrastructure.svl_verify import verify_bundle
    assert verify_bundle(body["bundles"][record["record_id"]],
                         trusted_key=world.app.integrity.verifier_key()).verified
    reads = world.log(record_id=record["record_id"], reader="dana")
    assert [r["action"] for r in reads if r["outcome"] == "allowed"] == ["sar_export"]


def test_a_destroyed_record_answers_410_gone(world, settings):  # noqa: F811
    create_signing_key_file(settings.signing_key_file, settings.organisation_origin)
    sam, record = world.workers["W"], world.records["W"]
    world.app.people.record_leaving(acting("hr"), sam, date(2020, 1, 31))
    world.app.retention.archive_leaver(acting("hr"), sam)
    destroy_due(world.app, world.clock.now.date())
    assert world.get("sam", f"/records/{record}").status_code == 401  # the leaver's account has ended
    assert world.get("morgan", f"/records/{record}").status_code == 410
    gone = world.get("alex", f"/records/{record}/history")
    assert gone.status_code == 410 and "destroyed under the retention schedule" in gone.json()["detail"]


def test_over_http_the_dpo_proposes_only_someone_else_approves_and_the_run_destroys_the_list(world, settings):  # noqa: F811
    create_signing_key_file(settings.signing_key_file, settings.organisation_origin)
    sam, record = world.workers["W"], world.records["W"]
    world.app.people.record_leaving(acting("hr"), sam, date(2020, 1, 31))
    world.app.retention.archive_leaver(acting("hr"), sam)
    proposed = world.post("dana", "/retention/proposals", {})
    assert proposed.status_code == 201, proposed.text
    body = proposed.json()
    assert [f["worker_id"] for f in body["files"]] == [sam] and body["status"] == "proposed"
    pid = body["proposal_id"]
    assert world.post("dana", f"/retention/proposals/{pid}/run", {}).status_code == 409  # not approved yet
    mine = world.post("dana", f"/retention/proposals/{pid}/approve", {"rationale": "mine"})
    assert mine.status_code == 403 and "you proposed this list" in mine.json()["detail"]
    assert world.post("hana", f"/retention/proposals/{pid}/approve", {"rationale": ""}).status_code == 422
    approved = world.post("hana", f"/retention/proposals/{pid}/approve", {"rationale": "Checked the leavers list"})
    assert approved.status_code == 200 and approved.json()["decided_by"] == "user:hana"
    # Asked to rotate a master key this service does not keep in its file: refused, naming why, nothing destroyed.
    settings.master_key_file.unlink(missing_ok=True)
    refused = world.post("dana", f"/retention/proposals/{pid}/run", {"rotate_master_key": True})
    assert 400 <= refused.status_code < 500 and "rotates only a key this service keeps in its file" \
        in refused.json()["detail"], refused.text
    assert world.app.records.get_record(record).version >= 2  # not destroyed
    write_master_key(settings, world.app.storage.keyring.master_key)
    [outcome] = world.post("dana", f"/retention/proposals/{pid}/run", {"rotate_master_key": True}).json()
    assert (outcome["worker_id"], outcome["status"]) == (sam, "destroyed")
    assert world.get("morgan", f"/records/{record}").status_code == 410
    rotated = load_master_key(settings.master_key_file, env_value=None)
    assert rotated == world.app.storage.keyring.master_key  # the serving process went on with the new key
    assert world.app.records.get_record(world.records["X"]).version >= 2  # another worker's record still reads
    listed = world.get("hana", "/retention/proposals").json()
    assert [(p["proposal_id"], p["status"], p["destroyed"]) for p in listed] == [(pid, "executed", 1)]
    assert world.get("dana", f"/retention/proposals/{pid}").json()["destroyed"] == [sam]
    # the destroyed file's signed certificate, as written, for the people the pack lets review the lists
    certificate = world.get("hana", f"/retention/certificates/{sam}")
    assert certificate.status_code == 200 and certificate.headers["content-type"].startswith("application/json")
    assert f'filename="destruction-{sam}.json"' in certificate.headers["content-disposition"]
    assert certificate.text == world.app.retention.certificate_path(sam).read_text()
    report = verify_certificate(certificate.json(), trusted_key=world.app.integrity.verifier_key())
    assert report.verified and report.record_id == sam
    refused = world.get("morgan", f"/retention/certificates/{sam}")
    assert refused.status_code == 403 and "may not call this endpoint" in refused.json()["detail"]
    alex = world.workers["S1"]  # not destroyed: no certificate
    assert world.get("dana", f"/retention/certificates/{alex}").json()["detail"] == \
        f"no destruction certificate for worker {alex}"


def test_a_subject_access_export_holds_the_case_supervision_records_and_their_proofs(world, settings):  # noqa: F811
    create_signing_key_file(settings.signing_key_file, settings.organisation_origin)
    sam, alex = world.workers["W"], world.workers["S1"]
    case = str(world.app.case_records.record_case_supervision(acting(alex), worker_id=sam, case_reference="LCS 55821",
                                                              discussed_on=date(2026, 3,
                                                                                1), discussion="Missed school lunches",
                                                              decisions="Home visit within five days").id)
    world.app.access.grant_access(grantor=world.principal("hana"), grantee="dana", purpose="SAR-2026-032",
                                  category="sar", scope_kind="worker_file", scope_id=sam,
                                  expires_at=world.clock.now + timedelta(days=30))
    export = world.post("dana", f"/sar/{sam}?received_on=2026-03-02")
    assert export.status_code == 200, export.text
    body = export.json()
    [held] = body["case_supervision_records"]
    assert (held["record_id"], held["case_reference"], held["discussion"], held["decisions"], held["on_childs_record"]
            ) == (case, "LCS 55821", "Missed school lunches", "Home visit within five days", None)
    from infrastructure.svl_verify import verify_bundle
    assert verify_bundle(body["bundles"][case], trusted_key=world.app.integrity.verifier_key()).verified
    reads = world.log(record_id=case, reader="dana")
    assert [r["action"] for r in reads if r["outcome"] == "allowed"] == ["sar_export"]
