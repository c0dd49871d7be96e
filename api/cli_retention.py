"""`svl` commands of the retention area (filled in by its issue)."""

import typer


def register(app: typer.Typer) -> None:
    """Adds this area's commands (and sub-command groups) to the `svl` app."""
