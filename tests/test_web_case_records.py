"""The case supervision records' pages in-process (ASGI), on both backends: bad input answers 422 naming the field
and stores nothing; the read is logged; the pages are linked only where the pack keeps the class apart (bcp), not
under a pack that keeps case discussions in the personal record (hull)."""

import dataclasses
import re
from datetime import date

from fastapi.testclient import TestClient

from api.http import create_app
from infrastructure.checkpoints import create_signing_key_file
from infrastructure.svl_verify import verify_certificate
from tests.support.acting import acting
from tests.support.web_forms import signed_in, signed_in_again

SUMMARY = re.compile(r'govuk-error-summary__list">(.*?)</ul>', re.S)


def _team(app):  # noqa: ANN001, ANN202
    hr = acting("hr")
    supervisor = str(app.people.join_worker(hr, name="Alex Supervisor", role="Team manager", category="manager",
                                            start_date=date(2018, 1, 1)).id)
    worker = str(app.people.join_worker(hr, name="Sam Worker", role="Social worker", category="experienced",
                                        start_date=date(2020, 1, 6)).id)
    app.allocation.allocate_supervisor(hr, worker, supervisor)
    return supervisor, worker


def test_recording_refusals_name_the_field_and_the_read_is_logged(settings, master_key) -> None:  # noqa: ANN001
    api = create_app(settings, master_key)
    app = api.state.application
    supervisor, worker = _team(app)
    today = app.clock().date()
    good = {"case_reference": "LCS 55821", "discussed_on-day": str(today.day),
            "discussed_on-month": str(today.month), "discussed_on-year": str(today.year),
            "discussion": "Worries about neglect; the school reports missed lunches",
            "decisions": "Strategy discussion requested; home visit within five days"}
    with TestClient(api) as client:
        csrf = signed_in(client, app, "alex", "supervisor", supervisor)
        assert 'href="/case-records/new/' in client.get("/supervisees").text
        assert 'href="/case-records"' in client.get("/records").text
        for change, field in [({"case_reference": "Jessica Brown"}, "#case_reference"),
                              ({"case_reference": "J.S."}, "#case_reference"),
                              ({"case_reference": "x" * 65}, "#case_reference"),
                              ({"discussion": "Spoke about Jessica Brown and her mother"}, "#discussion"),
                              ({"decisions": ""}, "#decisions"),
                              ({"discussed_on-day": "31", "discussed_on-month": "2"}, "#discussed_on-day"),
                              ({"discussed_on-year": str(today.year + 1)}, "#discussed_on-day")]:
            answer = client.post(f"/case-records/new/{worker}", data={**good, **change, "csrf_token": csrf})
            assert answer.status_code == 422, (change, answer.text[:500])
            listed = SUMMARY.search(answer.text)
            assert listed and f'href="{field}"' in listed.group(1), (change, listed and listed.group(1))
        assert app.case_records.case_decisions_due(acting(supervisor)) == []  # nothing stored
        answer = client.post(f"/case-records/new/{worker}", data={**good, "csrf_token": csrf},
                             follow_redirects=False)
        assert answer.status_code == 303
        record_id = answer.headers["location"].rsplit("/", 1)[1]
        page = client.get(f"/case-records/{record_id}").text
        assert "LCS 55821" in page and "missed lunches" in page
        logged = [e for e in app.access.access_log_for_worker(worker) if e.get("record_id") == record_id]
        assert logged and logged[-1]["action"] == "read_case_record"
        bad = client.post(f"/case-records/{record_id}/on-childs-record",
                          data={"childs_record_reference": "Jessica's file", f"c-{record_id}-recorded_on-day": str(today.day),
                                f"c-{record_id}-recorded_on-month": str(today.month),
                                f"c-{record_id}-recorded_on-year": str(today.year), "csrf_token": csrf})
        assert bad.status_code == 422 and f'href="#c-{record_id}-reference"' in bad.text
        early = client.post(f"/case-records/{record_id}/on-childs-record",
                            data={"childs_record_reference": "Case note 88123", "from": "record",
                                  f"c-{record_id}-recorded_on-day": "1", f"c-{record_id}-recorded_on-month": "1",
                                  f"c-{record_id}-recorded_on-year": "2020", "csrf_token": csrf})
        assert early.status_code == 422 and f'href="#c-{record_id}-recorded_on-day"' in early.text
        assert client.post(f"/case-records/{record_id}/on-childs-record",
                           data={"childs_record_reference": "x"}).status_code == 403  # no CSRF token


def test_a_pack_without_the_class_shows_no_case_record_links(settings, master_key) -> None:  # noqa: ANN001
    api = create_app(dataclasses.replace(settings, policy_pack="hull"), master_key)
    app = api.state.application
    supervisor, worker = _team(app)
    with TestClient(api) as client:
        signed_in(client, app, "alex", "supervisor", supervisor)
        assert "/case-records" not in client.get("/supervisees").text
        assert "/case-records" not in client.get("/records").text
        assert client.get(f"/case-records/new/{worker}").status_code == 422


def test_the_dpo_lists_and_downloads_a_case_records_certificate(settings, master_key, tmp_path) -> None:  # noqa: ANN001
    # bcp: case supervision records six years after the discussion, destroyed on a list a second person approved
    create_signing_key_file(settings.signing_key_file, settings.organisation_origin)
    api = create_app(settings, master_key)
    app = api.state.application
    supervisor, worker = _team(app)
    record_id = str(app.case_records.record_case_supervision(
        acting(supervisor), worker_id=worker, case_reference="LCS 55821", discussed_on=date(2019, 5, 2),
        discussion="Worries about neglect", decisions="Strategy discussion requested").id)
    with TestClient(api) as client:
        csrf = signed_in(client, app, "dana", "dpo", None)
        assert "No case supervision record has been destroyed yet" in client.get("/retention/certificates").text
        proposed = client.post("/retention/case-records/proposals", data={"csrf_token": csrf}, follow_redirects=False)
        assert proposed.status_code == 303
        listed = proposed.headers["location"]
        csrf = signed_in(client, app, "harriet", "administrator", None)  # HR
        assert client.post(f"{listed}/approve", data={"csrf_token": csrf, "rationale": "Checked the schedule",
                                                      "confirmed": "yes"}, follow_redirects=False).status_code == 303
        csrf = signed_in_again(client, app, "dana")
        ran = client.post(f"{listed}/run", data={"csrf_token": csrf, "confirmed": "yes"}, follow_redirects=False)
        assert ran.status_code == 303

        page = client.get("/retention/certificates").text
        card = page[page.index(f"Case supervision record <span class=\"app-fingerprint\">{record_id}"):]
        assert "Verified" in card[:2000] and "(record class case_supervision)" in card
        link = f"/retention/certificates/case-supervision/{record_id}.json"
        assert f'href="{link}"' in page
        downloaded = client.get(link)
        assert downloaded.status_code == 200 and "attachment" in downloaded.headers["content-disposition"]
        certificate = downloaded.json()
        assert verify_certificate(certificate, trusted_key=app.integrity.verifier_key()).verified
        assert client.get(f"/retention/certificates/case-supervision/{worker}.json").status_code == 404

        signed_in(client, app, "alex", "supervisor", supervisor)  # not one of the people who see the lists
        assert client.get(link).status_code == 403
        assert client.get("/retention/certificates").status_code == 403
