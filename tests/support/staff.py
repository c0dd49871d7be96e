"""A small staff and record content for tests that call the application directly."""

from datetime import date

from api.application import SupervisionApplication
from tests.support.acting import acting


SECRET = "Discussed the Zarquon household and the worker's bereavement"


def content(discussion: str = SECRET, session_date: str = "2026-03-02") -> dict:
    return {
        "session_date": session_date,
        "attendees": ["Alex Supervisor", "Sam Worker"],
        "agenda": ["Wellbeing", "Caseload"],
        "discussion": discussion,
        "actions": [{"description": "Book visit", "owner": "Sam", "due": "2026-03-09"}],
        "case_discussions": [{"case_reference": "Z.Q.", "summary": "Risk reviewed", "decision": "Weekly visits"}],
    }


def staff(app: SupervisionApplication) -> tuple[str, str, str]:
    manager = app.people.join_worker(acting("hr"), name="Morgan Manager", role="Service manager", category="manager",
                                     start_date=date(2018, 1, 1)).id
    supervisor = app.people.join_worker(acting("hr"), name="Alex Supervisor", role="Team manager", category="manager",
                                        start_date=date(2019, 1, 1)).id
    worker = app.people.join_worker(acting("hr"), name="Sam Worker", role="Social worker", category="experienced",
                                    start_date=date(2022, 9, 1)).id
    app.allocation.allocate_supervisor(acting("hr"), supervisor, manager)
    app.allocation.allocate_supervisor(acting("hr"), worker, supervisor)
    return str(manager), str(supervisor), str(worker)
