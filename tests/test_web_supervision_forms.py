"""Bad input on the supervision pages (sessions, agreements, addenda) answers with a 4xx page naming the field,
never a 500, and stores nothing; a session or agreement nobody may see is 404; a form without this session's
CSRF token is refused. In-process (ASGI), on both backends."""

import uuid
from datetime import date, timedelta

from fastapi.testclient import TestClient

from api.http import create_app
from tests.support.acting import acting
from tests.support.web_forms import signed_in as _signed_in



def test_bad_session_and_agreement_forms_name_the_field_and_store_nothing(settings, master_key) -> None:  # noqa: ANN001
    api = create_app(settings, master_key)
    app = api.state.application
    hr = acting("hr")
    supervisor = str(app.people.join_worker(hr, name="Alex Supervisor", role="Team manager", category="manager",
                                            start_date=date(2018, 1, 1)).id)
    worker = str(app.people.join_worker(hr, name="Sam Worker", role="Social worker", category="experienced",
                                        start_date=date(2020, 1, 6)).id)
    app.allocation.allocate_supervisor(hr, worker, supervisor)
    soon = date.today() + timedelta(days=3)
    booking = {"supervisee_id": worker, "starts-day": str(soon.day), "starts-month": str(soon.month),
               "starts-year": str(soon.year), "time": "10:00", "planned_minutes": "90"}
    with TestClient(api) as client:
        csrf = _signed_in(client, app, "alex", "supervisor", supervisor)
        for change, field, words in [({"planned_minutes": "lots"}, "#planned_minutes", "valid integer"),
                                     ({"planned_minutes": "900"}, "#planned_minutes", "less than or equal to 480"),
                                     ({"time": "25:00"}, "#time", "24-hour time"),
                                     ({"starts-month": "13"}, "#starts-day", "must be a real date"),
                                     ({"supervisee_id": "not-an-id"}, "#supervisee_id", "valid UUID")]:
            answer = client.post("/sessions/new", data={"csrf_token": csrf, **booking, **change})
            assert answer.status_code == 422, change
            assert f'href="{field}"' in answer.text and words in answer.text, (change, answer.text[:2000])
        assert app.scheduling.sessions_of(worker) == []  # nothing was stored

        assert client.post("/sessions/new", data=booking).status_code == 403  # no CSRF token
        booked = client.post("/sessions/new", data={"csrf_token": csrf, **booking}, follow_redirects=False)
        assert booked.status_code == 303
        session_url = booked.headers["location"]
        too_long = client.post(f"{session_url}/held", data={"csrf_token": csrf, "actual_minutes": "481",
                                                            "held_on-day": str(soon.day),
                                                            "held_on-month": str(soon.month),
                                                            "held_on-year": str(soon.year)})
        assert too_long.status_code == 422 and 'href="#actual_minutes"' in too_long.text
        future = client.post(f"{session_url}/held", data={"csrf_token": csrf, "actual_minutes": "60",
                                                          "held_on-day": str(soon.day),
                                                          "held_on-month": str(soon.month),
                                                          "held_on-year": str(soon.year)})
        assert future.status_code == 422 and "in the future" in future.text
        odd_reason = client.post(f"{session_url}/cancellation", data={"csrf_token": csrf, "reason": "bored"})
        assert odd_reason.status_code == 422 and 'href="#reason"' in odd_reason.text
        assert app.scheduling.sessions_of(worker)[0]["state"] == "scheduled"

        long_term = client.post("/agreements/new", data={"csrf_token": csrf, "supervisee_id": worker,
                                                          "frequency": "x" * 4001})
        assert long_term.status_code == 422 and 'href="#frequency"' in long_term.text
        minutes = client.post("/agreements/new", data={"csrf_token": csrf, "supervisee_id": worker,
                                                       "session_minutes": "an hour"})
        assert minutes.status_code == 422 and 'href="#session_minutes"' in minutes.text
        assert app.scheduling.agreements_of(worker) == []

        nobody = uuid.uuid4()
        for path in (f"/sessions/{nobody}", f"/agreements/{nobody}", f"/records/{nobody}/addenda/new",
                     f"/records/{nobody}/addenda/1/countersign"):
            assert client.get(path).status_code == 404, path
        assert client.get("/sessions/not-an-id").status_code == 404
