"""A small organisation under bury's policy pack, for the browser: a team manager and the social worker she line
manages, each with an account and an access token (bury names employee reviews; the BCP demo does not load
under it). Written by the application itself, as HR would, before the server starts."""

from datetime import date

from infrastructure.settings import Settings
from tests.support.acting import acting

LINE_MANAGER, WORKER = "Rosa Lindqvist", "Sam Okoro"


def load_bury_staff(env: dict[str, str]) -> dict[str, str]:
    """username -> access token."""
    from api.application import open_application

    app = open_application(Settings.from_env(env), automatic_checkpoints=False)
    try:
        hr = acting("hr")
        manager = str(app.people.join_worker(hr, name=LINE_MANAGER, role="Team Manager", category="manager",
                                             start_date=date(2015, 9, 7)).id)
        worker = str(app.people.join_worker(hr, name=WORKER, role="Social Worker", category="experienced",
                                            start_date=date(2020, 1, 6)).id)
        app.allocation.allocate_supervisor(hr, worker, manager)
        app.people.users.add_user("rosa", "supervisor", worker_id=manager, created_by="test")
        app.people.users.add_user("sam", "supervisee", worker_id=worker, created_by="test")
        return {u: app.people.users.issue_token(u, days=1, label="browser test").token for u in ("rosa", "sam")}
    finally:
        app.close()
        app.storage.engine.dispose()
