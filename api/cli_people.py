"""`svl worker change-role`, `svl worker return`: HR records the changes in a worker's working life that start a
new frequency regime. People are named as `svl due` names them (id, unique id prefix, or full name)."""

import typer

from api.cli_scheduling import parse_day, resolve_worker
from api.cli_support import ACTING, acting_user, console, fail, opened_application
from domain.policy import WorkerCategory
from domain.workers import Absence, Worker

worker_app = typer.Typer(help="A worker's working life: a change of role, a return after a long absence.",
                         no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(worker_app, name="worker")


@worker_app.command("change-role")
def change_role(worker: str = typer.Argument(..., help="the worker (id, prefix or full name)"),
                role: str = typer.Option(..., "--role", help="the new role, e.g. 'Senior social worker'"),
                effective_on: str = typer.Option(..., "--from", help="the day the new role begins, e.g. 2026-03-02"),
                reason: str = typer.Option(..., "--reason", help="why (kept sealed in the worker's file)"),
                major: bool = typer.Option(False, "--major", help="a major change of role: starts the pack's "
                                                                  "role-changer regime"),
                category: str = typer.Option(None, "--category", help="a new category: "
                                             + ", ".join(c.value for c in WorkerCategory)),
                acting: str = ACTING) -> None:
    """A new role or category; a major change of role starts the role-changer regime (hull: fortnightly for the
    first 3 months)."""
    day = parse_day(effective_on, "--from")
    with opened_application() as app:
        changed = app.people.change_role(acting_user(app, acting), resolve_worker(app, worker), role=role,
                                         effective_on=day, major_change=major, category=category, reason=reason)
        _print(changed)


@worker_app.command("return")
def record_return(worker: str = typer.Argument(..., help="the worker (id, prefix or full name)"),
                  returned_on: str = typer.Option(..., "--on", help="the day back at work, e.g. 2026-03-02"),
                  absence: str = typer.Option(..., "--absence", help=" | ".join(a.value for a in Absence)),
                  acting: str = ACTING) -> None:
    """Back after a career break or other long term absence: the returner regime starts on the day back."""
    day = parse_day(returned_on, "--on")
    if absence not in {a.value for a in Absence}:
        fail(f"--absence must be one of: {', '.join(a.value for a in Absence)}")
    with opened_application() as app:
        _print(app.people.record_return(acting_user(app, acting), resolve_worker(app, worker), returned_on=day,
                                      absence=absence))


def _print(worker: Worker) -> None:
    console.print(f"{worker.name}: {worker.role}, category {worker.category} since {worker.category_since} "
                  f"(version {worker.version})", highlight=False)
