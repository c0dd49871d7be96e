"""Allocation through the application, on SQLite and PostgreSQL: an NQSW's sessions alternating between the line
manager and the ASYE assessor/mentor (bcp), and allocations that depart from bcp's rules shown on the manager's due
view until the Service Manager's recorded exception covers them; refused instead under a pack that says so. Then
`svl rebuild` reproduces the allocation tables, and the CLI and HTTP say the same."""

import json
from datetime import date

import pytest
from sqlalchemy import select

from api.access_service import AccessDenied
from api.application import SupervisionApplication
from domain.pack_history import PackHistory
from domain.authorisation import Role
from domain.errors import DomainError, NotPermitted
from projections.allocation import TABLES
from tests.support.acting import acting
from tests.support.scheduling import at, held, new_worker, supervisors
from tests.support.cli import run  # noqa: F401  (svl against the fixture's database)

D = date


def row(board, worker: str):
    return next(r for r in board.rows if r.worker_id == worker)


def kinds(board, worker: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for issue in row(board, worker).issues:
        found.setdefault(issue.kind, []).append(issue.text)
    return found


def snapshot(app: SupervisionApplication) -> dict[str, list[tuple]]:
    with app.storage.engine.connect() as conn:
        return {t.name: sorted(map(tuple, conn.execute(select(t)).all()), key=repr) for t in TABLES}


def join(app: SupervisionApplication, name: str, role: str, category: str, start: date = D(2020, 1, 6)) -> str:
    return str(app.people.join_worker(acting("hr"), name=name, role=role, category=category, start_date=start).id)


def test_an_nqsws_sessions_alternate_between_the_line_manager_and_the_asye_assessor(application, clock, run):
    app = application
    manager, line_manager = supervisors(app, clock)
    assessor = join(app, "Asha Assessor", "ASYE assessor", "experienced")
    app.allocation.allocate_supervisor(acting("hr"), assessor, manager)
    nia = new_worker(app, clock, line_manager, "nqsw_asye", D(2026, 1, 5), name="Nia New")
    sam = new_worker(app, clock, line_manager, "experienced", D(2026, 1, 5))

    with pytest.raises(AccessDenied):
        app.allocation.allocate_second_supervisor(acting(line_manager), nia, assessor)
    with pytest.raises(DomainError, match="ASYE assessor/mentor is allocated only to nqsw_asye"):
        app.allocation.allocate_second_supervisor(acting("hr"), sam, assessor)
    with pytest.raises(DomainError, match="already the worker's supervisor"):
        app.allocation.allocate_second_supervisor(acting("hr"), nia, line_manager)
    assert app.allocation.allocate_second_supervisor(acting("hr"), nia, assessor).second_supervisor_id == assessor
    with pytest.raises(NotPermitted, match="current supervisor"):  # nobody else books Nia's sessions
        app.scheduling.schedule_session(acting(manager), supervisee_id=nia, starts_at=at(D(2026, 1, 8)),
                                        planned_minutes=90)

    held(app, clock, nia, line_manager, D(2026, 1, 8))
    board = app.scheduling.compliance_dashboard(as_of=D(2026, 1, 9), team=line_manager)
    assert board.turns[nia].supervisor_id == assessor
    assert kinds(board, nia)["next_supervisor"] == [
        "next session: the ASYE assessor/mentor (bcp: alternating; the last was the line manager)"]
    assert next(r for r in board.as_dicts() if r["worker_id"] == nia)["next_supervisor"] == "Asha Assessor"
    assert sam not in board.turns

    # The assessor books, holds and records the next session; Nia and the assessor sign it.
    held(app, clock, nia, assessor, D(2026, 1, 15))
    clock.set(at(D(2026, 1, 15), 15))
    record = app.records.draft_record(acting(assessor), supervisee_id=nia, content={
        "session_date": "2026-01-15", "attendees": ["Asha Assessor", "Nia New"], "discussion": "Reflective log"})
    app.records.share_record(acting(assessor), record.id)
    with pytest.raises(AccessDenied, match="drafted by the worker's other supervisor"):
        app.records.amend_record(acting(line_manager), record.id, {"session_date": "2026-01-15", "attendees": ["x"],
                                                           "discussion": "y"}, based_on_version=1)
    digest = app.records.get_record(record.id).content_sha256
    app.records.sign_record(acting(nia, Role.SUPERVISEE), record.id, digest)
    assert app.records.sign_record(acting(assessor), record.id, digest).state == "locked"

    board = app.scheduling.compliance_dashboard(as_of=D(2026, 1, 16), team=line_manager)
    status = row(board, nia)
    assert status.frequency.last_session == D(2026, 1, 15) and status.frequency.status == "due_soon"
    assert board.turns[nia].supervisor_id == line_manager
    assert "record_frozen" not in kinds(board, nia)  # the assessor's record is theirs to sign, not frozen
    assert "the last was the ASYE assessor/mentor" in kinds(board, nia)["next_supervisor"][0]

    # An unsigned record drafted by the assessor is in hand, and overdue like any other, not frozen.
    held(app, clock, nia, line_manager, D(2026, 1, 22))
    clock.set(at(D(2026, 1, 29), 15))
    app.records.draft_record(acting(assessor), supervisee_id=nia, content={
        "session_date": "2026-01-29", "attendees": ["Asha Assessor", "Nia New"], "discussion": "Observation"})
    board = app.scheduling.compliance_dashboard(as_of=D(2026, 2, 9), team=line_manager)
    assert "record_unsigned" in kinds(board, nia) and "record_frozen" not in kinds(board, nia)

    # As of a past day the turn is as it stood then; twelve months on, the line manager alone.
    assert app.scheduling.compliance_dashboard(as_of=D(2026, 1, 9),
                                               team=line_manager).turns[nia].supervisor_id == assessor
    later = app.scheduling.compliance_dashboard(as_of=D(2027, 1, 6), team=line_manager)
    assert "period ended" in later.turns[nia].text and later.turns[nia].supervisor_id == line_manager

    app.people.users.add_user("alex", "supervisor", worker_id=line_manager, created_by="test")
    out = json.loads(run("due", "--as", "alex", "--as-of", "2026-01-09", "--json"))
    nia_row = next(r for r in out["workers"] if r["worker_id"] == nia)
    assert nia_row["next_supervisor"] == "Asha Assessor" and nia_row["next_supervisor_id"] == assessor
    assert "ASYE assessor/mentor" in run("due", "--as", "alex", "--as-of", "2026-01-09")

    # The assessor leaves: Nia's second supervision ends with it.
    clock.set(at(D(2026, 2, 10)))
    app.people.record_leaving(acting("hr"), assessor, D(2026, 2, 10))
    assert app.people.get_worker(nia).second_supervisor_id is None
    assert nia not in app.scheduling.compliance_dashboard(as_of=D(2026, 2, 11), team=line_manager).turns

    before = snapshot(app)
    assert before["second_supervision_periods"]
    app.read_models.rebuild()
    assert snapshot(app) == before


def test_a_departing_allocation_is_shown_until_the_service_manager_agrees_an_exception(application, clock, run):
    app = application
    clock.set(at(D(2026, 1, 5)))
    head = join(app, "Hana Head", "Head of Service", "manager")
    service_manager = join(app, "Morgan Manager", "Service Manager", "manager")
    team_manager = join(app, "Alex Supervisor", "Team Manager", "manager")
    nqsw = join(app, "Nia New", "Social worker", "nqsw_asye", D(2025, 9, 1))
    senior = join(app, "Sam Senior", "Senior social worker", "experienced")
    for worker, supervisor in ((service_manager, head), (team_manager, service_manager), (nqsw, service_manager)):
        app.allocation.allocate_supervisor(acting("hr"), worker, supervisor)
    for worker, level in ((nqsw, 1), (senior, 2), (team_manager, 3), (service_manager, 4)):
        app.allocation.record_standing(acting("hr"), worker, level=level, registered=True)
    with pytest.raises(AccessDenied):
        app.allocation.record_standing(acting(team_manager), senior, level=5)

    # bcp flags a departure rather than refusing it: the NQSW becomes the senior social worker's supervisor.
    app.allocation.allocate_supervisor(acting("hr"), senior, nqsw)
    assert app.allocation.allocation_departures(app.people.get_worker(senior),
                                                app.people.get_worker(nqsw))[0].rule == "supervisor_level"
    board = app.scheduling.compliance_dashboard(as_of=D(2026, 1, 5), team=service_manager)  # the Service Manager's view
    [text] = kinds(board, nqsw)["allocation_breach"]
    assert text.startswith("as supervisor of Sam Senior: the supervisor is at level 1, the supervisee at level 2")
    assert text.endswith("needs an exception agreed by the service manager (bcp)")
    assert row(board, nqsw).needs_attention
    assert kinds(app.scheduling.compliance_dashboard(as_of=D(2026, 1, 5), team=nqsw), senior)["allocation_breach"][0] \
        .startswith("allocation to Nia New: the supervisor is at level 1")

    # Only the role the pack names agrees it, as themselves, with a reason.
    with pytest.raises(NotPermitted, match="agreed by the service manager .* 'Team Manager'"):
        app.allocation.agree_allocation_exception(acting(team_manager, Role.MANAGER), senior, nqsw,
                                                  ["supervisor_level"], "Cover")
    with pytest.raises(AccessDenied):
        app.allocation.agree_allocation_exception(acting("hr"), senior, nqsw, ["supervisor_level"], "Cover")
    clock.set(at(D(2026, 1, 7)))
    agreed = app.allocation.agree_allocation_exception(acting(service_manager, Role.MANAGER), senior, nqsw,
                                                       ["supervisor_level"],
                                                       "Sam mentors Nia on a shared caseload; Nia signs off the rota only")
    assert agreed.allocation_exceptions[-1]["agreed_by"] == service_manager
    assert "allocation_breach" not in kinds(app.scheduling.compliance_dashboard(as_of=D(2026, 1, 7),
                                                                                team=service_manager), nqsw)
    # What was known on the 5th stays as it was.
    assert "allocation_breach" in kinds(app.scheduling.compliance_dashboard(as_of=D(2026, 1, 6), team=service_manager),
                                        nqsw)

    # Twelve supervisees: the ratio breach is on the team manager's row of the Service Manager's view.
    team = [join(app, f"Worker {n}", "Family support worker", "family_support") for n in range(12)]
    for worker in team:
        app.allocation.allocate_supervisor(acting("hr"), worker, team_manager)
    board = app.scheduling.compliance_dashboard(as_of=D(2026, 1, 7), team=service_manager)
    assert kinds(board, team_manager)["allocation_breach"] == [
        "supervises 12 people: bcp expects 5 to 7 supervisees per supervisor; needs an exception agreed by the service "
        "manager (bcp) for each supervisee beyond 7"]
    # A team's view judges the pairings that involve its people (here the team manager's twelve, outside the
    # view) as the whole organisation's view does.
    whole = {r.worker_id: r for r in app.scheduling.compliance_dashboard(as_of=D(2026, 1, 7)).rows}
    assert board.rows and all(r == whole[r.worker_id] for r in board.rows)
    for worker in team[7:]:
        app.allocation.agree_allocation_exception(acting(service_manager, Role.MANAGER), worker, team_manager,
                                                  ["ratio"],
                                                  "Vacancy in the neighbouring team until April")
    assert "allocation_breach" not in kinds(app.scheduling.compliance_dashboard(as_of=D(2026, 1, 7),
                                                                                team=service_manager),
                                            team_manager)

    # The CLI and HTTP forms of the due view carry the same breach.
    clock.set(at(D(2026, 1, 8)))
    app.allocation.record_standing(acting("hr"), team_manager, level=3, registered=True,
                                   supervising_since=D(2025, 12, 1))
    app.allocation.transfer_worker(acting("hr"), nqsw, team_manager, "Team restructure")
    app.people.users.add_user("morgan", "manager", worker_id=service_manager, created_by="test")
    out = json.loads(run("due", "--as", "morgan", "--as-of", "2026-01-08", "--team", team_manager, "--json"))
    issue = next(i for r in out["workers"] if r["worker_id"] == nqsw for i in r["issues"]
                 if i["kind"] == "allocation_breach")
    assert "a new practitioner supervised by someone supervising only since 01 Dec 2025 (bcp's own setting" in \
        issue["text"]
    own = json.loads(run("due", "--as", "morgan", "--as-of", "2026-01-08", "--json"))  # the Service Manager's view
    assert sorted(i["text"][:22] for r in own["workers"] if r["worker_id"] == team_manager for i in r["issues"]
                  if i["kind"] == "allocation_breach") == ["as supervisor of Nia N", "supervises 13 people: "]
    assert "Nia New" in run("staff", "exception", "Nia New", "--supervisor", "Alex Supervisor", "--rule", "experience",
                            "--rule", "ratio", "--reason", "Senior practitioner co-supervises", "--as", "morgan")
    app.see_own_writes()
    nia = app.people.get_worker(nqsw)  # the CLI acts on today's clock: the exception is known from the day it was agreed
    assert nia.excepted_rules(team_manager) == {"experience", "ratio"}
    assert nia.allocation_exceptions[-1]["agreed_by"] == service_manager
    agreed_on = nia.allocation_exceptions[-1]["agreed_at"][:10]
    for team in ([], ["--team", team_manager]):
        after = json.loads(run("due", "--as", "morgan", "--as-of", agreed_on, "--json", *team))
        assert [i["text"] for r in after["workers"] for i in r["issues"] if i["kind"] == "allocation_breach"] == []

    before = snapshot(app)
    assert before["allocation_exceptions"] and before["staff_standing"]
    app.read_models.rebuild()
    assert snapshot(app) == before


def test_under_a_pack_that_refuses_departures_the_exception_comes_first(application, clock):
    app = application
    bcp = app.policy.compliance_pack()
    refusing = bcp.model_copy(update={"allocation": bcp.allocation.model_copy(update={"on_breach": "refuse"})})
    app.policy._packs[app.storage.settings.policy_pack] = PackHistory.single(refusing)  # the organisation's own configured choice
    clock.set(at(D(2026, 1, 5)))
    service_manager = join(app, "Morgan Manager", "Service Manager", "manager")
    nqsw = join(app, "Nia New", "Social worker", "nqsw_asye", D(2025, 9, 1))
    senior = join(app, "Sam Senior", "Senior social worker", "experienced")
    app.allocation.record_standing(acting("hr"), nqsw, level=1)
    app.allocation.record_standing(acting("hr"), senior, level=2)
    with pytest.raises(DomainError, match="bcp refuses this allocation: the supervisor is at level 1.*service "
                                          "manager first"):
        app.allocation.allocate_supervisor(acting("hr"), senior, nqsw)
    assert app.people.get_worker(senior).supervisor_id is None  # nothing written
    app.allocation.agree_allocation_exception(acting(service_manager, Role.MANAGER), senior, nqsw, ["supervisor_level"],
                                              "Agreed for the pilot")
    assert app.allocation.allocate_supervisor(acting("hr"), senior, nqsw).supervisor_id == nqsw


def test_the_allocation_list_and_a_second_supervisors_team(application, clock):
    """What the allocation page lists (HR and managers only), and the ASYE assessor's own team view, which holds
    the NQSW they second-supervise (their "my supervisees")."""
    app = application
    clock.set(at(D(2026, 1, 5)))
    service_manager = join(app, "Morgan Manager", "Service Manager", "manager")
    team_manager = join(app, "Alex Supervisor", "Team Manager", "manager")
    assessor = join(app, "Asha Assessor", "ASYE assessor", "experienced")
    nqsw = join(app, "Nia New", "Social worker", "nqsw_asye", D(2025, 12, 1))
    for worker, supervisor in ((team_manager, service_manager), (assessor, service_manager), (nqsw, team_manager)):
        app.allocation.allocate_supervisor(acting("hr"), worker, supervisor)
    for worker, level in ((nqsw, 2), (team_manager, 2), (assessor, 3), (service_manager, 4)):
        app.allocation.record_standing(acting("hr"), worker, level=level)
    app.allocation.allocate_second_supervisor(acting("hr"), nqsw, assessor)

    with pytest.raises(AccessDenied):
        app.allocation.current_allocation_breaches(acting(nqsw, Role.SUPERVISEE))
    [breach] = app.allocation.current_allocation_breaches(acting(service_manager, Role.MANAGER))
    assert (breach.rule, breach.supervisee_id, breach.supervisor_id) == ("supervisor_level", nqsw, team_manager)
    assert app.allocation.current_allocation_breaches(acting("hr")) == [breach]
    app.allocation.agree_allocation_exception(acting(service_manager, Role.MANAGER), nqsw, team_manager,
                                              ["supervisor_level"],
                                              "Acting up until the vacancy is filled")
    assert app.allocation.current_allocation_breaches(acting("hr")) == []

    assert [r.worker_id for r in app.scheduling.compliance_dashboard(as_of=D(2026, 1, 5), team=assessor).rows] == [nqsw]
    assert [r.worker_id for r in app.scheduling.compliance_dashboard(as_of=D(2026, 1, 4), team=assessor).rows] == []
    app.allocation.end_second_supervision(acting("hr"), nqsw, "assessor changed")
    assert app.scheduling.compliance_dashboard(as_of=D(2026, 1, 6), team=assessor).rows == []
