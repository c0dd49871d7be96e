"""`svl rebuild`: every read model rebuilt from zero from the event log, or `--check` where each one stands."""

import time

import typer

from api.cli_support import console, errors, fail, opened_application, print_json


def register(app: typer.Typer) -> None:
    app.command()(rebuild)


def rebuild(
    read_models: list[str] = typer.Argument(None, metavar="[READ_MODEL]...",
                                            help="only these read models (default: every one)"),
    check: bool = typer.Option(False, "--check", help="report each read model's position and any stuck one; "
                                                      "changes nothing (exit 1 if one is stuck)"),
    json_out: bool = typer.Option(False, "--json", help="with --check: as JSON"),
) -> None:
    """Rebuild read models from zero (they hold nothing the events do not), clearing a stuck one; or --check."""
    from projections.runner import NAMES

    unknown = sorted(set(read_models or ()) - set(NAMES))
    if unknown:
        fail(f"no read model {', '.join(unknown)}: they are {', '.join(NAMES)}")
    with opened_application() as app:
        if check:
            _check(app, json_out)
            return
        started = time.perf_counter()
        events = app.read_models.rebuild(read_models or None)
        seconds = time.perf_counter() - started
        chosen = ", ".join(read_models) if read_models else "every read model"
        console.print(f"[green]rebuilt[/] {chosen}: {events:,} events in {seconds:.2f} s "
                      f"({events / seconds if seconds else 0:,.0f} events/s)")
        _check(app, False)


def _check(app, json_out: bool) -> None:  # type: ignore[no-untyped-def]
    last = app.recorder.max_notification_id() or 0
    states = app.read_models.states()
    if json_out:
        print_json({"events": last, "read_models": [s.as_dict() for s in states]})
    else:
        for s in states:
            if s.stuck:
                line = (f"[bold red]STUCK[/] at notification {s.stuck_at} ({s.stuck_event}): {s.stuck_error}; "
                        f"fix the cause, then `svl rebuild {s.name}`")
            elif s.position < last:
                line = f"[yellow]behind[/] by {last - s.position} events"
            else:
                line = "[green]up to date[/]"
            console.print(f"  {s.name:22} {s.position:>9,} of {last:,}  {line}", highlight=False, soft_wrap=True)
    if any(s.stuck for s in states):
        errors.print("[bold red]a read model is stuck:[/] the answers that need it are refused (503) until it is "
                     "rebuilt")
        raise typer.Exit(1)
