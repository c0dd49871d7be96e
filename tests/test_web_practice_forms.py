"""Bad input on a worker's practice page answers with a 422 page naming the field, never a 500, and stores
nothing; the step down without an observation is refused beside the observation field; a form without the
session's CSRF token, and a stranger, are refused (403). In-process (ASGI), on both backends."""

from datetime import date

from fastapi.testclient import TestClient

from api.access_service import Via
from api.http import create_app
from tests.support.acting import acting
from tests.support.web_forms import signed_in

_WEB = Via("web", "127.0.0.1")


def test_bad_practice_forms_name_the_field_and_store_nothing(settings, master_key) -> None:  # noqa: ANN001
    api = create_app(settings, master_key)
    app = api.state.application
    hr = acting("hr")
    supervisor = str(app.people.join_worker(hr, name="Alex Supervisor", role="Team manager", category="manager",
                                            start_date=date(2018, 1, 1)).id)
    worker = str(app.people.join_worker(hr, name="Sam Worker", role="Social worker", category="overseas_recruited",
                                        start_date=date(2026, 1, 5)).id)
    app.allocation.allocate_supervisor(hr, worker, supervisor)
    stranger = str(app.people.join_worker(hr, name="Ola Other", role="Social worker", category="experienced",
                                          start_date=date(2020, 1, 6)).id)
    today = date.today()
    on = {"day": str(today.day), "month": str(today.month), "year": str(today.year)}
    observation = {"observed": "practice", "outcome": "meets_standard", "feedback": "Clear and purposeful",
                   **{f"observed_on-{k}": v for k, v in on.items()}}
    step_down = {"rationale": "Meets the standard", **{f"decided_on-{k}": v for k, v in on.items()}}
    page = f"/supervisees/{worker}/practice"
    with TestClient(api) as client:
        csrf = signed_in(client, app, "alex", "supervisor", supervisor)
        assert client.get(page).status_code == 200
        for change, field, words in [({"outcome": ""}, "#outcome", "choose one"),
                                     ({"observed": "gossip"}, "#observed", "choose one"),
                                     ({"observed_on-month": "13"}, "#observed_on-day", "must be a real date"),
                                     ({"observed_on-year": "1066"}, "#observed_on-day", "outside the supported"),
                                     ({"observed_on-year": str(today.year + 1)}, "#observed_on-day", "future"),
                                     ({"feedback": "x" * 4001}, "#feedback", "4000"),
                                     ({"feedback": "a\x00b"}, "#feedback", "cannot be stored"),
                                     ({"observed": "supervision"}, "#observed", "supervises nobody")]:
            answer = client.post(f"{page}/observations", data={"csrf_token": csrf, **observation, **change})
            assert answer.status_code == 422, change
            assert f'href="{field}"' in answer.text and words in answer.text, (change, answer.text[-3000:])
        for change, field, words in [({}, "#observation_id", "direct observation of practice is recorded"),
                                     ({"rationale": ""}, "#rationale", "enter it"),
                                     ({"observation_id": "not-an-id"}, "#observation_id", "choose one"),
                                     ({"decided_on-day": "", "decided_on-month": "", "decided_on-year": ""}, "#decided_on-day",
                                      "Enter the day of the decision")]:
            answer = client.post(f"{page}/step-downs", data={"csrf_token": csrf, **step_down, **change})
            assert answer.status_code == 422, change
            assert f'href="{field}"' in answer.text and words in answer.text, (change, answer.text[-3000:])
        review = client.post(f"{page}/reviews", data={"csrf_token": csrf, "kind": "annual", **{
            f"reviewed_on-{k}": v for k, v in on.items()}})
        assert review.status_code == 422 and 'href="#kind"' in review.text and "names no review" in review.text
        assert app.practice.practice_of(acting(supervisor), worker, via=_WEB).observations == []  # nothing was stored

        assert client.post(f"{page}/observations", data=observation).status_code == 403  # no CSRF token
        assert client.get(f"/supervisees/{stranger}/practice").status_code == 403  # not his supervisee
        assert client.get("/supervisees/not-an-id/practice").status_code == 404
