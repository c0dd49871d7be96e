"""A change of role and a return after a long absence start the regime the pack gives them: on the domain alone
(worked examples quoting hull), then through the application on SQLite and PostgreSQL, over HTTP and the CLI.

hull: "Social workers who have undertaken a major change of role in transferring to a different team and
practitioners returning to work following a career break or other long term absence should also receive
supervision fortnightly for the first 3 months and then a minimum of monthly as for other staff."
"""

from datetime import date, datetime, timezone

import pytest

from api.access_service import AccessDenied
from domain.compliance import WorkerFacts, evaluate
from domain.errors import DomainError
from domain.workers import Worker
from infrastructure.policy_packs import load_all_packs
from tests.support.acting import acting
from tests.support.scheduling import at, held, new_worker, supervisors
from tests.support.world import world  # noqa: F401  (the shared fixture)
from tests.support.cli import run  # noqa: F401  (svl against the fixture's database)

PACKS = load_all_packs()
D = date
NOW = datetime(2026, 3, 2, 9, tzinfo=timezone.utc)


def joined(category: str = "experienced", start: date = D(2019, 9, 2)) -> Worker:
    return Worker.join(name="Sam Worker", role="Social worker", category=category, start_date=start,
                       organisation="hull", actor="hr", timestamp=NOW)


def due(worker: Worker, last: date, as_of: date, pack: str = "hull") -> tuple[date, str]:
    facts = WorkerFacts(str(worker.id), worker.category, worker.category_since, D(2019, 9, 2), "s", None,
                        last_session=last)
    status = evaluate(PACKS[pack], facts, as_of).frequency
    return status.due, status.rule


# -- the domain alone --------------------------------------------------------------------------------------------


def test_hull_a_major_change_of_role_starts_fortnightly_for_three_months() -> None:
    worker = joined()
    assert due(worker, D(2026, 2, 20), D(2026, 3, 3)) == (D(2026, 3, 20), "Experienced monthly (hull)")
    worker.change_role("Social worker, fostering team", effective_on=D(2026, 3, 2), major_change=True,
                       reason="moved from assessment to fostering", actor="hr", timestamp=NOW)
    assert (worker.category, worker.category_since) == ("role_changer", D(2026, 3, 2))
    # "fortnightly for the first 3 months": the regime begins with its own first interval from the move
    assert due(worker, D(2026, 2, 20), D(2026, 3, 3))[0] == D(2026, 3, 16)
    assert due(worker, D(2026, 4, 27), D(2026, 4, 28))[0] == D(2026, 5, 11)
    # "... and then a minimum of monthly as for other staff."
    late, rule = due(worker, D(2026, 6, 8), D(2026, 6, 9))
    assert late == D(2026, 7, 8) and "monthly" in rule
    # bcp is silent: its own setting keeps a role changer monthly
    assert due(worker, D(2026, 2, 20), D(2026, 3, 3), "bcp") == (D(2026, 4, 2), "Role changer monthly (bcp's own setting)")


def test_hull_a_return_after_a_career_break_starts_fortnightly_for_three_months() -> None:
    worker = joined()
    worker.record_return(D(2026, 3, 2), absence="career_break", actor="hr", timestamp=NOW)
    assert (worker.category, worker.category_since) == ("returner", D(2026, 3, 2))
    assert due(worker, D(2025, 6, 30), D(2026, 3, 3))[0] == D(2026, 3, 16)
    assert due(worker, D(2026, 6, 8), D(2026, 6, 9))[0] == D(2026, 7, 8)
    with pytest.raises(DomainError, match="absence 'holiday' is not one of"):
        worker.record_return(D(2026, 4, 1), absence="holiday", actor="hr", timestamp=NOW)


def test_a_new_title_alone_starts_no_regime_and_a_new_category_starts_its_own() -> None:
    nqsw = joined("nqsw_asye", D(2025, 9, 1))
    nqsw.change_role("Social worker (ASYE)", effective_on=D(2026, 1, 5), major_change=False, reason="title",
                     actor="hr", timestamp=NOW)
    assert (nqsw.category, nqsw.category_since) == ("nqsw_asye", D(2025, 9, 1))  # the ASYE clock runs on
    nqsw.change_role("Social worker", effective_on=D(2026, 9, 1), major_change=False, category="experienced",
                     reason="ASYE completed", actor="hr", timestamp=NOW)
    assert (nqsw.category, nqsw.category_since) == ("experienced", D(2026, 9, 1))
    with pytest.raises(DomainError, match="nothing changes"):
        nqsw.change_role("Social worker", effective_on=D(2026, 9, 2), major_change=False, reason="r", actor="hr",
                         timestamp=NOW)
    with pytest.raises(DomainError, match="give no other category"):
        nqsw.change_role("Manager", effective_on=D(2026, 9, 2), major_change=True, category="manager",
                         reason="r", actor="hr", timestamp=NOW)
    with pytest.raises(DomainError, match="before the current regime began"):
        nqsw.change_role("Manager", effective_on=D(2026, 8, 1), major_change=True, reason="r", actor="hr",
                         timestamp=NOW)
    with pytest.raises(DomainError, match="is not one of"):
        nqsw.change_role("Manager", effective_on=D(2026, 9, 2), major_change=False, category="boss", reason="r",
                         actor="hr", timestamp=NOW)


# -- through the application, on both backends ---------------------------------------------------------------------


def row(board, worker: str):
    return next(r for r in board.rows if r.worker_id == worker)


def test_a_role_change_starts_the_new_regime_on_the_due_view_as_known_on_each_day(application, clock):
    app = application
    _, supervisor = supervisors(app, clock)
    worker = new_worker(app, clock, supervisor, "experienced", D(2025, 1, 6))
    held(app, clock, worker, supervisor, D(2026, 2, 20))
    clock.set(at(D(2026, 3, 4)))
    with pytest.raises(AccessDenied):  # HR's step: a supervisor may not record it
        app.people.change_role(acting(supervisor), worker, role="Fostering social worker", effective_on=D(2026, 3, 2),
                               major_change=True, reason="moved team")
    version = app.people.get_worker(worker).version
    changed = app.people.change_role(acting("hr"), worker, role="Fostering social worker", effective_on=D(2026, 3, 2),
                                     major_change=True, reason="moved to the fostering team", expected_version=version)
    assert (changed.category, changed.category_since) == ("role_changer", D(2026, 3, 2))

    before = row(app.scheduling.compliance_dashboard(as_of=D(2026, 3, 3), pack="hull"), worker).frequency
    after = row(app.scheduling.compliance_dashboard(as_of=D(2026, 3, 4), pack="hull"), worker).frequency
    assert (before.due, before.rule) == (D(2026, 3, 20), "Experienced monthly (hull)")  # not yet recorded then
    assert after.due == D(2026, 3, 16) and after.rule.startswith("Role changer fortnightly phase (hull")
    assert "before this rule began on 2 Mar" in after.reason

    clock.set(at(D(2026, 4, 1)))
    app.people.record_return(acting("hr"), worker, returned_on=D(2026, 5, 4), absence="long_term_absence")
    # recorded ahead of its day: the role-changer regime holds until the return
    assert row(app.scheduling.compliance_dashboard(as_of=D(2026, 4, 2), pack="hull"), worker).frequency.rule.startswith(
        "Role changer")
    back = row(app.scheduling.compliance_dashboard(as_of=D(2026, 5, 5), pack="hull"), worker).frequency
    assert back.rule.startswith("Returner fortnightly phase (hull") and back.due == D(2026, 5, 18)
    report = {r.worker_id: r for r in app.scheduling.frequency_report("2026-05", as_of=D(2026, 5, 31),
                                                                      pack="hull").rows}
    assert report[worker].rule.startswith("Returner") and report[worker].required == 1

    rows_before = _regimes(app)
    app.read_models.rebuild()
    assert _regimes(app) == rows_before and len([r for r in rows_before if r[0] == worker]) == 3


def _regimes(app) -> list[tuple]:
    from sqlalchemy import select

    from projections.schema import worker_regimes
    with app.storage.engine.connect() as conn:
        return sorted(map(tuple, conn.execute(select(worker_regimes)).all()), key=repr)


# -- the edges ------------------------------------------------------------------------------------------------------


def test_hr_records_a_role_change_and_a_return_over_http(world) -> None:
    w = world
    target = w.workers["W"]
    version = w.get("hana", "/workers").json()
    version = next(x["version"] for x in version if x["worker_id"] == target)
    body = {"role": "Fostering social worker", "effective_on": "2026-04-06", "major_change": True,
            "reason": "moved team", "expected_version": version}
    assert w.post("sam", f"/workers/{target}/role-change", body).status_code == 403
    done = w.post("hana", f"/workers/{target}/role-change", body)
    assert done.status_code == 200, done.text
    assert (done.json()["category"], done.json()["category_since"]) == ("role_changer", "2026-04-06")
    assert w.post("hana", f"/workers/{target}/role-change", body).status_code == 409  # stale version
    refused = w.post("hana", f"/workers/{target}/role-change", {**body, "expected_version": None,
                                                                 "category": "manager"})
    assert refused.status_code == 422 and "give no other category" in refused.text
    back = w.post("hana", f"/workers/{target}/return", {"returned_on": "2026-05-04", "absence": "career_break"})
    assert back.status_code == 200 and back.json()["category"] == "returner"
    assert w.post("hana", f"/workers/{target}/return", {"returned_on": "2026-05-04", "absence": "x"}).status_code == 422


def test_svl_worker_change_role_and_return_act_as_hr(application, clock, run) -> None:
    app = application
    _, supervisor = supervisors(app, clock)
    worker = new_worker(app, clock, supervisor, "experienced", D(2025, 1, 6), name="Sam Worker")
    app.people.users.add_user("hana", "administrator", created_by="test")
    app.people.users.add_user("alex", "supervisor", worker_id=supervisor, created_by="test")
    args = ("worker", "change-role", "sam worker", "--role", "Fostering social worker", "--from", "2026-03-02",
            "--major", "--reason", "moved team")
    assert "may not record a change of role" in run(*args, "--as", "alex", code=2)
    out = run(*args, "--as", "hana")
    assert "Sam Worker: Fostering social worker, category role_changer since 2026-03-02" in out
    out = run("worker", "return", worker[:8], "--on", "2026-06-01", "--absence", "career_break", "--as", "hana")
    assert "category returner since 2026-06-01" in out
    assert "--absence must be one of" in run("worker", "return", worker, "--on", "2026-06-01", "--absence", "x",
                                             "--as", "hana", code=2)
