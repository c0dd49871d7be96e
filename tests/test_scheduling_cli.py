"""`svl due`, `svl session`, `svl agreement`, `svl case`, `svl report frequency` on both backends, through typer's
CliRunner against the fixture's database."""

import csv
import io
import json
from datetime import date, datetime, timezone


from tests.support.cli import run  # noqa: F401  (fixture)
from tests.support.scheduling import held, new_worker, supervisors

D = date


def test_svl_due_shows_each_worker_with_reasons_as_table_json_and_csv(application, clock, run, tmp_path):
    app = application
    _, supervisor = supervisors(app, clock)
    app.people.users.add_user("quinn", "qa", created_by="test")
    app.people.users.add_user("alex", "supervisor", worker_id=supervisor, created_by="test")
    nqsw = new_worker(app, clock, supervisor, "nqsw_asye", D(2026, 3, 2), name="Nia New")
    held(app, clock, nqsw, supervisor, D(2026, 3, 3))

    table = run("due", "--as", "quinn", "--as-of", "2026-03-15", "--team", "alex supervisor")
    assert "Nia New" in table and "Morgan Manager" not in table  # only Alex's team
    mine = run("due", "--as", "alex", "--as-of", "2026-03-15")  # a supervisor sees their own team, as over HTTP
    assert "Nia New" in mine and "Morgan Manager" not in mine
    assert "no user 'nobody-at-all'" in run("due", "--as-of", "2026-03-15", "--as", "nobody-at-all", code=2)
    assert "NQSW/ASYE weekly phase (bcp: weekly for the first 6 weeks): last session 3 Mar, due 10 Mar, 5 days" \
           " overdue" in table
    assert "For Newly Qualified Social Workers the frequency of supervision should be weekly" in table

    answer = json.loads(run("due", "--as", "quinn", "--as-of", "2026-03-15", "--json"))
    rows = {r["name"]: r for r in answer["workers"]}
    assert answer["as_of"] == "2026-03-15" and answer["pack"] == "bcp"
    assert (rows["Nia New"]["status"], rows["Nia New"]["days_overdue"], rows["Nia New"]["due"]) == \
        ("overdue", 5, "2026-03-10")
    assert "no supervisor allocated" in rows["Morgan Manager"]["issues"][0]["text"]

    export = tmp_path / "due.csv"
    run("due", "--as", "quinn", "--as-of", "2026-03-15", "--csv", str(export), "--attention", "--pack", "hull")
    exported = list(csv.DictReader(io.StringIO(export.read_text())))
    assert {r["name"] for r in exported} >= {"Nia New"}
    assert next(r for r in exported if r["name"] == "Nia New")["rule"].startswith("NQSW/ASYE weekly phase (hull")

    assert "no single worker matches 'Nobody'" in run("due", "--as", "quinn", "--team", "Nobody", code=2)
    assert "no policy pack named 'nowhere'" in run("due", "--as", "quinn", "--pack", "nowhere", code=2)


def test_sessions_agreements_and_cases_from_the_command_line(application, clock, run, tmp_path):
    app = application
    _, supervisor = supervisors(app, clock)
    worker = new_worker(app, clock, supervisor, "experienced", D(2020, 1, 6), joined=D(2026, 1, 5))
    today = datetime.now(timezone.utc).date()
    app.people.users.add_user("quinn", "qa", created_by="test")
    app.people.users.add_user("alex", "supervisor", worker_id=supervisor, created_by="test")
    app.people.users.add_user("sam", "supervisee", worker_id=worker, created_by="test")
    # The CLI acts as a named user, decided exactly as over HTTP: without one, or as QA, no session is booked.
    assert "say who you are" in run("session", "schedule", "Sam Worker", "--at", "2026-01-12T10:00", code=2)
    assert "only members of staff" in run("session", "schedule", "Sam Worker", "--at", "2026-01-12T10:00",
                                          "--as", "quinn", code=2)
    assert "current supervisor" in run("session", "schedule", "Sam Worker", "--at", "2026-01-12T10:00",
                                       "--as", "sam", code=2)

    out = run("session", "schedule", "Sam Worker", "--at", "2026-01-12T10:00", "--minutes", "60",
              "--as", "alex")
    session = out.split()[-1]
    assert "session held on 2026-01-12, 45 min" in run("session", "hold", session[:8], "--minutes", "45",
                                                       "--as", "alex")
    booked = run("session", "schedule", worker, "--at", "2026-02-09T10:00", "--as", "alex").split()[-1]
    assert "sets no rebooking deadline" in run("session", "cancel", booked, "--reason", "leave", "--as", "sam")
    replacement = run("session", "rebook", booked, "--at", "2026-02-11T10:00", "--as", "alex").split()[-1]
    listing = json.loads(run("session", "list", "--as", "quinn", "--worker", "Sam Worker", "--json"))
    assert sorted(r["state"] for r in listing) == ["cancelled", "held", "scheduled"]
    assert "not one of: sickness, leave, operational" in run("session", "cancel", replacement, "--reason", "bored",
                                                             "--as", "sam", code=2)
    assert "already cancelled" in run("session", "cancel", booked, "--reason", "leave", "--as", "sam", code=2)

    agreement = run("agreement", "draft", "Sam Worker", "--as", "alex", "--frequency", "monthly",
                    "--minutes", "90").split()[2].rstrip(":")
    assert "awaiting the supervisor" in run("agreement", "sign", agreement[:8], "--as", "sam")
    assert f"in force from {today}" in run("agreement", "sign", agreement, "--as", "alex")
    assert f"reviewed on {today}" in run("agreement", "review", agreement, "--as", "sam")
    assert "in force" in run("agreement", "list", "--worker", "Sam Worker")

    assert "known ratings: private_fostering_language_student, private_fostering_mainstream, red" in run(
        "case", "open", "Sam Worker", "CN-77", "--rating", "green", "--as", "alex", code=2)
    case = run("case", "open", "Sam Worker", "CN-77", "--rating", "red", "--as", "alex",
               "--last-discussed", "2026-01-12").split()[1]
    assert "discussion recorded" in run("case", "discuss", case[:8], "--on", "2026-02-11", "--as", "alex")

    # January as it stood on 31 Jan knew nothing of a session entered today; as known today, it counts.
    as_it_stood = json.loads(run("report", "frequency", "--as", "quinn", "--month", "2026-01", "--json"))
    assert as_it_stood["as_of"] == "2026-01-31" and "of 3 workers met" in as_it_stood["summary"]
    assert next(r for r in as_it_stood["workers"] if r["name"] == "Sam Worker")["sessions_held"] == 0
    report = json.loads(run("report", "frequency", "--as", "quinn", "--month", "2026-01", "--as-of", today.isoformat(), "--json"))
    mine = next(r for r in report["workers"] if r["name"] == "Sam Worker")
    assert (mine["sessions_held"], mine["sessions_required"], mine["met"]) == (1, 0, True)
    export = tmp_path / "frequency.csv"
    run("report", "frequency", "--as", "quinn", "--month", "2026-01", "--csv", str(export))
    assert export.read_text().splitlines()[0].startswith("worker_id,name,supervisor,category,rule,sessions_held")
    board = json.loads(run("due", "--as", "quinn", "--json", "--as-of", today.isoformat()))
    sam = next(r for r in board["workers"] if r["name"] == "Sam Worker")
    assert sam["last_session"] == "2026-01-12" and sam["next_booked"] is None
    assert any("case CN-77 (red, monthly): last discussed 11 Feb" in i["text"] for i in sam["issues"])
