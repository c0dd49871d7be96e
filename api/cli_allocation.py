"""`svl staff ...`: what allocation is judged on, a second supervisor where the policy names one, and departures
from the allocation rules agreed by the role the pack names. Each acts as `--as USER`, through the same
application calls as over HTTP."""

from datetime import date

import typer

from api.cli_scheduling import parse_day, resolve_worker
from api.cli_support import ACTING, acting_user, console, opened_application

staff_app = typer.Typer(help="Allocation: standing, a second supervisor, departures agreed by the role the pack "
                             "names.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(staff_app, name="staff")


@staff_app.command("standing")
def standing(worker: str = typer.Argument(..., help="id, unique id prefix or full name"),
             level: int = typer.Option(None, "--level", help="level in the line management structure (1: front line)"),
             registered: bool = typer.Option(None, "--registered/--not-registered",
                                             help="holds professional registration (HCPC, Social Work England)"),
             supervising_since: str = typer.Option(None, "--supervising-since", help="appointed to supervise, e.g. "
                                                                                    "2025-09-01"),
             acting: str = ACTING) -> None:
    """Record what the allocation rules are judged on (HR). A fact left out stays unrecorded and is not checked."""
    since: date | None = parse_day(supervising_since, "--supervising-since")
    with opened_application() as app:
        done = app.allocation.record_standing(acting_user(app, acting), resolve_worker(app, worker), level=level,
                                              registered=registered, supervising_since=since)
    console.print(f"{done.name}: level {done.level or '-'}, registered "
                  f"{'-' if done.registered is None else 'yes' if done.registered else 'no'}, supervising since "
                  f"{done.supervising_since or '-'}")


@staff_app.command("second-supervisor")
def second_supervisor(worker: str = typer.Argument(...), supervisor: str = typer.Argument(...),
                      acting: str = ACTING) -> None:
    """Allocate the second supervisor the policy names (HR): bcp's ASYE assessor/mentor, school-trust's outside
    provider. Either supervisor may then hold and record sessions; `svl due` says whose turn it is."""
    with opened_application() as app:
        done = app.allocation.allocate_second_supervisor(acting_user(app, acting), resolve_worker(app, worker),
                                                         resolve_worker(app, supervisor))
        title = app.policy.compliance_pack().second_supervisor.title
        name = app.people.get_worker(done.second_supervisor_id).name
    console.print(f"{done.name}: {name} is now their {title}")


@staff_app.command("end-second")
def end_second(worker: str = typer.Argument(...), reason: str = typer.Option(..., "--reason"),
               acting: str = ACTING) -> None:
    """The second supervisor no longer supervises the worker (HR)."""
    with opened_application() as app:
        done = app.allocation.end_second_supervision(acting_user(app, acting), resolve_worker(app, worker), reason)
    console.print(f"{done.name}: second supervision ended")


@staff_app.command("exception")
def exception(worker: str = typer.Argument(...),
              supervisor: str = typer.Option(..., "--supervisor", help="whose allocation departs from the rules"),
              rules: list[str] = typer.Option(..., "--rule", help="supervisor_level, registration, experience or "
                                                                  "ratio; repeat for more"),
              reason: str = typer.Option(..., "--reason", help="recorded in the worker's file"),
              acting: str = ACTING) -> None:
    """Agree a departure from the allocation rules, as the role the pack names (bcp: the Service Manager)."""
    with opened_application() as app:
        done = app.allocation.agree_allocation_exception(acting_user(app, acting), resolve_worker(app, worker),
                                                         resolve_worker(app, supervisor), rules, reason)
    console.print(f"{done.name}: departure from {', '.join(done.allocation_exceptions[-1]['rules'])} recorded in "
                  "their file")
