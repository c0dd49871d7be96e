"""`svl`: the Supervision Ledger command line. Each group of commands lives in its own module, imported only
when one of its commands runs: `svl --help` imports typer and nothing of the application.

A module here registers its commands with `register(app)`; list each command it registers below, with its
one-line help (tests/test_cli_startup.py checks the list against what the modules register).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import typer
from typer._coercion import PassThroughRuntimeParam
from typer.core import TyperCommand, TyperGroup

if TYPE_CHECKING:  # typer carries its own click: importing the separate package would cost `--help` a third more
    from typer._click import Command, Context, HelpFormatter

COMMANDS: dict[str, dict[str, str]] = {
    "api.cli_setup": {
        "init": "Create the local master key (if missing) and the database schema.",
        "demo": "Load the BCP demo (once) and print fresh demo tokens.",
        "serve": "Serve the HTTP API.",
        "db": "The database schema: Alembic migrations for our tables; read models rebuilt from the log.",
    },
    "api.cli_records": {
        "records": "List the supervision records you may read now, as `GET /records` does.",
        "history": "Every version of a record: who did what and when, and what changed; or the record as of a "
                   "moment.",
    },
    "api.cli_ledger": {
        "verify": "Recompute every leaf and the whole tree, check every checkpoint; name the first divergence.",
        "checkpoint": "Sign a checkpoint of the ledger now and publish it.",
        "export-bundle": "Write one JSON file an outsider checks with `svl-verify FILE`.",
        "ledger": "Proofs from the integrity ledger (hashes only, no content).",
    },
    "api.cli_access": {
        "access-log": "Who read (or tried to read) which record, when, on what basis and why.",
        "user": "User accounts and their roles.",
        "token": "Bearer tokens for the HTTP API (stored only as SHA-256 hashes).",
        "grant": "Access grants: a named person, a purpose, a scope, an expiry.",
    },
    "api.cli_retention": {
        "sar": "Subject access request: everything held about a person.",
        "retention": "Leavers' archival, the retention schedule and destruction.",
        "hold": "Legal holds: files that must not be destroyed.",
        "policy": "Policy packs: show and check.",
    },
    "api.cli_people": {
        "worker": "A worker's working life: a change of role, a return after a long absence.",
    },
    "api.cli_scheduling": {
        "due": "Who is overdue for supervision, and why: the manager's morning view.",
        "session": "Supervision sessions: schedule, hold, cancel, rebook.",
        "agreement": "Supervision agreements: draft, sign, review.",
        "case": "Case supervision: how often each case is discussed, by its rating.",
        "report": "Quality assurance reports.",
    },
    "api.cli_allocation": {
        "staff": "Allocation: standing, a second supervisor, departures agreed by the role the pack names.",
    },
    "api.cli_case_records": {
        "case-record": "Case supervision records kept apart from personal ones, with their own deadline and retention.",
    },
    "api.cli_practice": {
        "observation": "Direct observations of practice and of supervision.",
        "frequency": "Decisions to reduce a worker's supervision frequency.",
        "review": "Employee reviews the policy names (e.g. bury: annual and six-monthly).",
        "practice": "A worker's practice: observations, step-downs, reviews and what falls due.",
    },
    # Beneath the application's users: whoever runs these holds the key files, so they take no --as.
    "api.cli_backup": {
        "backup": "A consistent snapshot of the database (SQLite online backup, or pg_dump); never a key file.",
        "restore": "Replace the database with a snapshot; files destroyed since stay destroyed.",
        "keys": "Key rotation: the master key, the ledger's signing key.",
    },
    "api.cli_rebuild": {
        "rebuild": "Rebuild read models from zero from the event log, clearing a stuck one; or --check.",
    },
    # A witness holds nothing of the organisation but its verifier key: no users, so no --as.
    "api.cli_witness": {
        "witness": "Run a witness that cosigns another organisation's checkpoints (C2SP tlog-witness).",
    },
}
_MODULE_OF = {name: module for module, names in COMMANDS.items() for name in names}
_HELP = {name: text for names in COMMANDS.values() for name, text in names.items()}


def take_as_typed(params: Iterable[Any]) -> None:
    """typer (0.29) checks each option's value through a pydantic TypeAdapter built on first use, even `--help`'s,
    and that imports pydantic: more than `import typer` itself costs. A text option or a flag needs no conversion,
    so each gets typer's own pass-through check instead (a str stays a str, a flag a bool; anything else is refused
    as typer refuses it). tests/test_cli_startup.py checks that `svl --help` and `svl records` import no pydantic."""
    for param in params:
        descriptor = getattr(param, "type_descriptor", None)
        if descriptor is not None and descriptor.annotation in (str, bool) and descriptor.file_annotation is None:
            param._runtime_param = PassThroughRuntimeParam(annotation=descriptor.annotation,
                                                           parameter_info=descriptor.parameter_info)


class TextOptions(TyperCommand):
    """A command that must start at once (`svl records`): its text options and flags are taken as typed."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        take_as_typed(self.params)

    def get_params(self, ctx: Context) -> list[Any]:
        params = super().get_params(ctx)  # with the help option, made here
        take_as_typed(params)
        return params


class LazyCommands(TyperGroup):
    """Lists every command from COMMANDS; builds a command (importing its module) only when it is run."""

    def get_params(self, ctx: Context) -> list[Any]:
        params = super().get_params(ctx)
        take_as_typed(params)
        return params

    def list_commands(self, ctx: Context) -> list[str]:
        return sorted(_MODULE_OF)

    def get_command(self, ctx: Context, name: str) -> Command | None:
        module = _MODULE_OF.get(name)
        if module is None:
            return None
        group = typer.Typer()
        importlib.import_module(module).register(group)
        return typer.main.get_group(group).commands.get(name)

    def format_commands(self, ctx: Context, formatter: HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, _HELP[name]) for name in self.list_commands(ctx)])


app = typer.Typer(
    name="svl",
    cls=LazyCommands,
    rich_markup_mode=None,  # plain help: rich would build (and import) every command to list it
    help="Supervision Ledger: event-sourced, audit-first supervision records.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def main() -> None:
    """Supervision Ledger: event-sourced, audit-first supervision records."""


if __name__ == "__main__":
    app()
