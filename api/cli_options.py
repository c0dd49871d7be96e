"""Options every `svl` command shares, apart from api/cli_support.py so that a command that must start at once
(`svl records`) declares them without importing the application."""

import typer

# Every command that changes state or reads content acts as a named user, exactly as over HTTP.
ACTING = typer.Option(None, "--as", envvar="SVL_USER", metavar="USER",
                      help="the user you act as (or set SVL_USER); your role decides, as over HTTP")

