"""The DPO's legal holds and subject access forms in-process (ASGI), on both backends: each picks the person by
name from a list (the id is only each choice's value); a blank, malformed or unknown choice answers 422 with a GOV.UK
error summary naming the field and does nothing (no hold stored, nothing read or logged); a good choice places the
hold, shown by the worker's name, or downloads the export of the person chosen."""

import re
from datetime import date, timedelta
from uuid import uuid4

from fastapi.testclient import TestClient

from api.access_service import AccessLogFilter
from api.http import create_app
from infrastructure.checkpoints import create_signing_key_file
from tests.support.acting import acting
from tests.support.web_forms import signed_in

SUMMARY = re.compile(r'govuk-error-summary__list">(.*?)</ul>', re.S)
OPTION = re.compile(r'<option value="([^"]*)"[^>]*>([^<]*)</option>')


def _summary(html: str) -> str:
    found = SUMMARY.search(html)
    assert found, "the page has a GOV.UK error summary"
    return found.group(1)


def _options(html: str, select_id: str) -> dict[str, str]:
    """The choices of the select called `select_id`: value -> text."""
    select = re.search(rf'<select[^>]*id="{select_id}".*?</select>', html, re.S)
    assert select, f"the page has the select #{select_id}"
    return {value: text.strip() for value, text in OPTION.findall(select.group(0))}


def _staff(app):  # noqa: ANN001, ANN202
    hr = acting("hr")
    return {name: str(app.people.join_worker(hr, name=name, role="Social worker", category="experienced",
                                             start_date=date(2020, 1, 6)).id)
            for name in ("Sam Worker", "Ann Archer")}


def test_a_hold_is_placed_by_choosing_a_name_and_a_bad_choice_is_refused(settings, master_key) -> None:  # noqa: ANN001
    api = create_app(settings, master_key)
    app = api.state.application
    staff = _staff(app)
    twin = str(app.people.join_worker(acting("hr"), name="Sam Worker", role="Team manager", category="manager",
                                      start_date=date(2018, 1, 1)).id)
    good = {"worker_id": staff["Ann Archer"], "kind": "investigation", "reason": "Grievance raised",
            "reference": "INV-7"}
    with TestClient(api) as client:
        csrf = signed_in(client, app, "dpo", "dpo", None)
        shown = client.get("/retention/holds").text
        choices = _options(shown, "worker_id")
        assert choices.pop("") == "Choose a member of staff"
        # by name from A to Z; the short id only beside the name two people share
        assert list(choices.values()) == sorted(choices.values(), key=str.casefold)
        assert choices[staff["Ann Archer"]] == "Ann Archer"
        assert choices[staff["Sam Worker"]] == f"Sam Worker ({staff['Sam Worker'][:8]})"
        assert choices[twin] == f"Sam Worker ({twin[:8]})"
        for change, message in [({"worker_id": ""}, "Choose whose file to hold"),
                                ({"worker_id": "Ann Archer"}, "Choose whose file to hold from the list"),
                                ({"worker_id": str(uuid4())}, "Choose whose file to hold from the list")]:
            answer = client.post("/retention/holds", data={**good, **change, "csrf_token": csrf})
            assert answer.status_code == 422, (change, answer.text[:500])
            listed = _summary(answer.text)
            assert 'href="#worker_id"' in listed and message in listed, (change, listed)
            assert 'id="worker_id-error"' in answer.text  # beside the field too
            assert _options(answer.text, "worker_id")  # the list is offered again
        answer = client.post("/retention/holds", data={**good, "reason": "", "csrf_token": csrf})
        assert answer.status_code == 422 and 'href="#reason"' in _summary(answer.text)
        assert f'<option value="{staff["Ann Archer"]}" selected' in answer.text  # the choice kept
        assert app.retention.list_holds(acting("dpo")) == []  # nothing stored

        answer = client.post("/retention/holds", data={**good, "csrf_token": csrf}, follow_redirects=False)
        assert answer.status_code == 303
        [hold] = app.retention.list_holds(acting("dpo"))
        assert hold["worker_id"] == staff["Ann Archer"]
        page = client.get("/retention/holds").text
        table = page[page.index("<table"):page.index("</table>")]
        assert "Ann Archer" in table and staff["Ann Archer"] not in table  # by name, not by id
        answer = client.post(f"/retention/holds/{hold['hold_id']}/release", data={"reason": "", "csrf_token": csrf})
        assert answer.status_code == 422 and f'href="#release-{hold["hold_id"]}"' in _summary(answer.text)
        assert f'id="release-{hold["hold_id"]}-error"' in answer.text


def test_a_subject_access_export_is_of_the_person_chosen_and_a_bad_choice_is_refused(  # noqa: ANN001
        settings, master_key) -> None:
    create_signing_key_file(settings.signing_key_file, settings.organisation_origin)  # the export signs a checkpoint
    api = create_app(settings, master_key)
    app = api.state.application
    staff = _staff(app)
    with TestClient(api) as client:
        csrf = signed_in(client, app, "dpo", "dpo", None)
        app.access.grant_access(grantor=acting("hr"), grantee="dpo", purpose="Subject access request SAR-1",
                                category="sar", scope_kind="worker_file", scope_id=staff["Sam Worker"],
                                expires_at=app.clock() + timedelta(days=30))
        choices = _options(client.get("/retention").text, "sar-worker_id")
        assert choices == {"": "Choose a member of staff", staff["Ann Archer"]: "Ann Archer",
                           staff["Sam Worker"]: "Sam Worker"}
        logged_before = len(app.access.access_log_entries(acting("dpo"), AccessLogFilter()))
        for chosen, message in [("", "Choose whose data was requested"),
                                ("Sam Worker", "Choose whose data was requested from the list"),
                                (str(uuid4()), "Choose whose data was requested from the list")]:
            answer = client.post("/retention/sar", data={"worker_id": chosen, "csrf_token": csrf})
            assert answer.status_code == 422, (chosen, answer.text[:500])
            listed = _summary(answer.text)
            assert 'href="#sar-worker_id"' in listed and message in listed, (chosen, listed)
            assert 'id="sar-worker_id-error"' in answer.text
        assert len(app.access.access_log_entries(acting("dpo"), AccessLogFilter())) == logged_before  # nothing read

        answer = client.post("/retention/sar", data={"worker_id": staff["Sam Worker"], "csrf_token": csrf})
        assert answer.status_code == 200, answer.text[:500]
        sam = staff["Sam Worker"]
        assert answer.headers["content-disposition"] == f'attachment; filename="subject-access-{sam}.json"'
        assert answer.json()["worker"]["name"] == "Sam Worker"
        # without a grant for Ann's file the command refuses (the rule is the application's, not the page's)
        assert client.post("/retention/sar", data={"worker_id": staff["Ann Archer"], "csrf_token": csrf}
                           ).status_code == 403
