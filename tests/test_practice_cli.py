"""`svl practice show` on both backends, through typer's CliRunner against the fixture's database: a worker's
practice as the web page shows it, by the same application query (`practice_of`), decided and logged as a read,
acting as the named user."""

import json
from datetime import date

from api.access_service import AccessLogFilter
from tests.support.acting import acting
from tests.support.cli import run  # noqa: F401  (fixture)
from tests.support.scheduling import new_worker, supervisors

D = date


def test_a_workers_practice_from_the_command_line(application, clock, run):
    app = application
    manager, supervisor = supervisors(app, clock)
    worker = new_worker(app, clock, supervisor, "overseas_recruited", D(2026, 6, 1), name="Sam Worker")
    stranger = new_worker(app, clock, manager, "experienced", D(2020, 1, 6), joined=D(2026, 1, 5), name="Ola Other")
    app.people.users.add_user("alex", "supervisor", worker_id=supervisor, created_by="test")
    app.people.users.add_user("sam", "supervisee", worker_id=worker, created_by="test")
    app.people.users.add_user("ola", "supervisee", worker_id=stranger, created_by="test")

    run("observation", "record", "Sam Worker", "--as", "alex", "--on", "2026-11-20", "--outcome", "meets_standard",
        "--feedback", "A clear purpose for the visit")
    shown = json.loads(run("practice", "show", "Sam Worker", "--as", "alex", "--json"))
    assert (shown["worker_id"], shown["basis"], shown["pack"]) == (worker, "current supervisor", "bcp")
    [o] = shown["observations"]
    assert (o["observed_on"], o["outcome"], o["feedback"]) == ("2026-11-20", "meets_standard",
                                                                "A clear purpose for the visit")
    assert shown["step_downs"] == [] and shown["reviews"] == [] and shown["review_kinds"] == []
    assert "observation" in shown["offered"]

    text = run("practice", "show", worker[:8], "--as", "sam")
    assert "you read this as: own record" in text and "observations: 1" in text
    assert "2026-11-20 practice by" in text and "feedback: A clear purpose for the visit" in text
    assert "reviews: 0 (the pack names none)" in text

    assert "you are not this worker, their supervisor or above them in line management" in run(
        "practice", "show", "Sam Worker", "--as", "ola", code=2)
    logged = sorted((e["outcome"], e["channel"]) for e in app.access.access_log_entries(
        acting("dpo"), AccessLogFilter(worker_id=worker)) if e["action"] == "read_practice")
    assert logged == [("allowed", "cli"), ("allowed", "cli"), ("denied", "cli")]
