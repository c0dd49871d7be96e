"""What every `svl` command shares: opening the ledger from the environment, printing, and turning
refusals into a clear message and a non-zero exit instead of a traceback."""

import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone

import typer
from rich.console import Console
from rich.markup import escape

from api.access_service import Via
from api.application import SupervisionApplication, open_application
from api.cli_options import ACTING
from api.cli_output import print_json
from domain.errors import DomainError
from infrastructure.keys import KeyError_
from infrastructure.ledger import LedgerError
from infrastructure.settings import Settings
from infrastructure.users import Principal, UserError
from projections.runner import ReadModelStuck

console = Console()
errors = Console(stderr=True)


def acting_user(app: SupervisionApplication, username: str | None) -> Principal:
    """The named user the CLI acts as: refused without one, or when the account is unknown or disabled."""
    if not username:
        fail("say who you are: --as USERNAME, or set SVL_USER (the command acts as that user, and is "
             "decided and recorded as theirs)")
    try:
        return app.people.users.principal(username, via="cli")
    except UserError as exc:
        fail(str(exc))
    raise AssertionError("unreachable")


def cli_via(purpose: str | None = None) -> Via:
    return Via("cli", f"cli@{socket.gethostname()} pid {os.getpid()}", (purpose or "").strip())


@contextmanager
def opened_application(settings: Settings | None = None,
                       automatic_checkpoints: bool = True) -> Iterator[SupervisionApplication]:
    try:  # a setting that cannot work (e.g. SVL_OIDC_ISSUER over plain http) is named, without a traceback
        settings = settings or Settings.from_env()
    except ValueError as exc:
        fail(str(exc))
    try:
        app = open_application(settings, automatic_checkpoints=automatic_checkpoints)
    except KeyError_ as exc:
        fail(str(exc))
    if app.integrity.writes_refused:
        errors.print(f"[bold red]READ-ONLY:[/] {escape(app.integrity.writes_refused)}. What follows may show files "
                     "that were destroyed since as still present.", highlight=False)
    try:
        yield app
    except (DomainError, LedgerError, ReadModelStuck) as exc:
        fail(str(exc))
    finally:
        app.close()
        app.storage.engine.dispose()


def fail(message: str, code: int = 2) -> None:
    errors.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(code)


def parse_moment(value: str) -> datetime:
    """ISO 8601, 'Z' allowed; a time without a zone is read as UTC."""
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        fail(f"{value!r} is not an ISO 8601 date-time, e.g. 2026-05-01T12:00Z")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


__all__ = ["ACTING", "acting_user", "cli_via", "console", "errors", "fail", "opened_application", "parse_moment",
           "print_json"]
