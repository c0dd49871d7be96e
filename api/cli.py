"""`svl`: the Supervision Ledger command line. Each group of commands lives in its own module."""

import typer

from api import cli_access, cli_ledger, cli_records, cli_retention, cli_scheduling, cli_setup, cli_witness

app = typer.Typer(
    name="svl",
    help="Supervision Ledger: event-sourced, audit-first supervision records.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

for module in (cli_setup, cli_records, cli_ledger, cli_access, cli_retention, cli_scheduling, cli_witness):
    module.register(app)


if __name__ == "__main__":
    app()
