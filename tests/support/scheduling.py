"""Staff, workers and held sessions for the supervision-on-time tests."""

from datetime import date, datetime, time, timedelta, timezone

from api.application import SupervisionApplication
from tests.support.acting import acting


def at(day: date, hour: int = 9) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=timezone.utc)


def supervisors(app: SupervisionApplication, clock) -> tuple[str, str]:
    clock.set(at(date(2025, 1, 1)))
    manager = str(app.people.join_worker(acting("hr"), name="Morgan Manager", role="Service manager",
                                         category="manager",
                                         start_date=date(2015, 1, 5)).id)
    supervisor = str(app.people.join_worker(acting("hr"), name="Alex Supervisor", role="Team manager",
                                            category="manager",
                                            start_date=date(2018, 1, 1)).id)
    app.allocation.allocate_supervisor(acting("hr"), supervisor, manager)
    return manager, supervisor


def new_worker(app: SupervisionApplication, clock, supervisor: str, category: str, start: date,
               joined: date | None = None, name: str = "Sam Worker") -> str:
    clock.set(at(joined or start - timedelta(days=7), 8))
    worker = str(app.people.join_worker(acting("hr"), name=name, role="Social worker", category=category,
                                        start_date=start).id)
    app.allocation.allocate_supervisor(acting("hr"), worker, supervisor)
    return worker


def held(app: SupervisionApplication, clock, worker: str, supervisor: str, day: date, minutes: int = 90, **kw) -> str:
    clock.set(at(day, 8))
    session = str(app.scheduling.schedule_session(acting(supervisor), supervisee_id=worker, starts_at=at(day, 10),
                                                  planned_minutes=90).id)
    clock.set(at(day, 12))
    app.scheduling.hold_session(acting(supervisor), session, actual_minutes=minutes, **kw)
    return session
