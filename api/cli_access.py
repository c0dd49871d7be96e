"""`svl user`, `svl token`, `svl grant`, `svl access-log`: accounts, bearer tokens, access grants, the log."""

import os
import sys

import typer
from rich.table import Table

from api.access_service import EXPORT_COLUMNS, AccessLogFilter, to_csv
from api.application import SupervisionApplication
from api.cli_support import ACTING, acting_user, console, errors, fail, opened_application, parse_moment, print_json
from domain.authorisation import Role
from infrastructure.users import UserError

users_cli = typer.Typer(help="User accounts and their roles.", no_args_is_help=True)
tokens_cli = typer.Typer(help="Bearer tokens for the HTTP API (stored only as SHA-256 hashes).", no_args_is_help=True)
grants_cli = typer.Typer(help="Access grants: a named person, a purpose, a scope, an expiry.", no_args_is_help=True)

def register(app: typer.Typer) -> None:
    app.add_typer(users_cli, name="user")
    app.add_typer(tokens_cli, name="token")
    app.add_typer(grants_cli, name="grant")
    app.command("access-log")(access_log)


# -- users ---------------------------------------------------------------------------------------------------

@users_cli.command("add")
def user_add(username: str = typer.Argument(..., help="a login name, e.g. jo.bloggs"),
             role: Role = typer.Option(..., help="what the user does"),
             worker: str = typer.Option(None, help="the worker id of this member of staff (staff roles)"),
             acting: str = ACTING) -> None:
    """Create a user account (as an administrator; the very first administrator needs no --as).
    Staff (supervisee, supervisor, manager) are linked to their worker id."""
    with opened_application() as app:
        if not worker and role.value in ("supervisee", "supervisor", "manager"):
            fail(f"a {role.value} must be linked to their worker id: --worker WORKER_ID")
        who = acting_user(app, acting) if acting or _administrator_exists(app) else None
        try:
            user_id = app.people.add_account(who, username, role.value, worker_id=worker)
        except UserError as exc:
            fail(str(exc))
        console.print(f"[green]user added:[/] {username} ({role.value}) id {user_id}")


@users_cli.command("list")
def user_list(as_json: bool = typer.Option(False, "--json"), acting: str = ACTING) -> None:
    with opened_application() as app:
        rows = app.people.accounts(acting_user(app, acting))
    if as_json:
        print_json(rows)
        return
    table = Table("username", "role", "worker", "created", "disabled", "signs in as")
    for r in rows:
        table.add_row(r["username"], r["role"], r["worker_id"] or "", str(r["created_at"])[:16],
                      str(r["disabled_at"] or ""), r["external_subject"] or "")
    console.print(table)


# -- tokens --------------------------------------------------------------------------------------------------

@users_cli.command("disable")
def user_disable(username: str, acting: str = ACTING) -> None:
    """End an account's access at once (HR): every token of it is refused from now on."""
    with opened_application() as app:
        try:
            user = app.people.disable_user(acting_user(app, acting), username)
        except UserError as exc:
            fail(str(exc))
        console.print(f"[green]disabled:[/] {user['username']} from {user['disabled_at']}")


@users_cli.command("link")
def user_link(username: str,
              subject: str = typer.Option(..., help="the person's `sub` at the identity provider (ask its admins, "
                                                    "or read it from the provider's user record)"),
              issuer: str = typer.Option("", help="the provider's issuer (default: SVL_OIDC_ISSUER)"),
              acting: str = ACTING) -> None:
    """Link an account to the person's sign-in at the organisation's identity provider (HR). Signing in through
    the provider finds an account only by this link; nobody is created by signing in."""
    from infrastructure.identity_provider import subject_key
    from infrastructure.oidc_settings import OidcSettings

    issuer = issuer.strip()
    if not issuer:
        try:
            configured = OidcSettings.from_env(os.environ)
        except ValueError as exc:
            fail(str(exc))
        if configured is None:
            fail("no issuer: set SVL_OIDC_ISSUER (as `svl serve` has it) or pass --issuer")
        issuer = configured.issuer
    if "#" in issuer or not subject.strip():
        fail("the issuer may not contain '#', and the subject may not be empty")
    with opened_application() as app:
        try:
            user = app.people.link_account(acting_user(app, acting), username, subject_key(issuer, subject.strip()))
        except UserError as exc:
            fail(str(exc))
        console.print(f"[green]linked:[/] {user['username']} signs in as {user['external_subject']}", highlight=False)


@users_cli.command("unlink")
def user_unlink(username: str, acting: str = ACTING) -> None:
    """Remove an account's link to the identity provider (HR); its own tokens still work until revoked."""
    with opened_application() as app:
        try:
            user = app.people.link_account(acting_user(app, acting), username, None)
        except UserError as exc:
            fail(str(exc))
        console.print(f"[green]unlinked:[/] {user['username']}")


@tokens_cli.command("issue")
def token_issue(username: str, days: float = typer.Option(30, help="days until it expires"),
                label: str = typer.Option("cli", help="a note, e.g. which device"), acting: str = ACTING) -> None:
    """Issue a bearer token (as an administrator). It is printed once: only its hash is kept."""
    with opened_application() as app:
        try:
            issued = app.people.issue_token(acting_user(app, acting), username, days=days, label=label)
        except UserError as exc:
            fail(str(exc))
    errors.print(f"token {issued.token_id} for {username}, expires {issued.expires_at.isoformat()} "
                 "(shown once: store it now)")
    sys.stdout.write(issued.token + "\n")


@tokens_cli.command("revoke")
def token_revoke(token: str = typer.Argument(..., help="the token id (from `svl token list`) or the token"),
                 acting: str = ACTING) -> None:
    """Revoke a token at once."""
    with opened_application() as app:
        try:
            token_id = app.people.revoke_token(acting_user(app, acting), token)
        except UserError as exc:
            fail(str(exc))
    console.print(f"[green]revoked:[/] token {token_id}")


@tokens_cli.command("list")
def token_list(username: str = typer.Argument(None), as_json: bool = typer.Option(False, "--json"),
               acting: str = ACTING) -> None:
    with opened_application() as app:
        try:
            rows = app.people.tokens(acting_user(app, acting), username)
        except UserError as exc:
            fail(str(exc))
    if as_json:
        print_json(rows)
        return
    table = Table("token id", "user", "label", "created", "expires", "revoked")
    for r in rows:
        table.add_row(r["token_id"], r["username"], r["label"], str(r["created_at"])[:16],
                      str(r["expires_at"])[:16], str(r["revoked_at"] or "")[:16])
    console.print(table)


# -- grants ---------------------------------------------------------------------------------------------------

@grants_cli.command("add")
def grant_add(to: str = typer.Option(..., "--to", help="username of the person"),
              purpose: str = typer.Option(..., help="why access is needed"),
              category: str = typer.Option(..., help="inspection | investigation | qa_audit | sar"),
              scope: str = typer.Option(..., help="record | worker_file | team"),
              scope_id: str = typer.Option(..., "--id", help="the record, worker, or supervisor id"),
              expires: str = typer.Option(..., help="until when, e.g. 2026-12-31T17:00Z"),
              acting: str = ACTING) -> None:
    """Grant access (administrators only)."""
    with opened_application() as app:
        who = acting_user(app, acting)
        try:
            granted = app.access.grant_access(grantor=who, grantee=to, purpose=purpose, category=category,
                                              scope_kind=scope, scope_id=scope_id, expires_at=parse_moment(expires))
        except UserError as exc:
            fail(str(exc))
        console.print(f"[green]granted:[/] {granted.id}")


@grants_cli.command("revoke")
def grant_revoke(grant_id: str, reason: str = typer.Option(..., help="why it ends now"),
                 acting: str = ACTING) -> None:
    """Revoke a grant at once (administrators only)."""
    with opened_application() as app:
        app.access.revoke_grant(grant_id, reason, actor=acting_user(app, acting))
        console.print(f"[green]revoked:[/] {grant_id}")


@grants_cli.command("list")
def grant_list(as_json: bool = typer.Option(False, "--json"), acting: str = ACTING) -> None:
    """Administrators see every grant; everyone else the grants made to them."""
    with opened_application() as app:
        rows = app.access.grants_visible_to(acting_user(app, acting))
    if as_json:
        print_json(rows)
        return
    table = Table("grant", "to", "category", "scope", "purpose", "expires", "revoked")
    for r in rows:
        table.add_row(r["grant_id"][:8], r["grantee_username"], r["category"],
                      f"{r['scope_kind']} {r['scope_id'][:8]}", r["purpose"], str(r["expires_at"])[:16],
                      str(r["revoked_at"] or "")[:16])
    console.print(table)


# -- the access log -------------------------------------------------------------------------------------------

def access_log(record: str = typer.Option(None, help="record id"), worker: str = typer.Option(None, help="worker id"),
               reader: str = typer.Option(None, help="username or user id"),
               grant: str = typer.Option(None, help="grant id"),
               purpose: str = typer.Option(None, help="words in the purpose"),
               category: str = typer.Option(None), outcome: str = typer.Option(None, help="allowed | denied"),
               since: str = typer.Option(None, help="from, e.g. 2026-11-01"),
               until: str = typer.Option(None, help="before, e.g. 2026-12-01"),
               output: str = typer.Option("table", "--format", help="table | json | csv"),
               flags: bool = typer.Option(False, "--flags", help="only what an inspector should look at"),
               many_reads: int = typer.Option(50, help="with --flags: reads by one person in a day that count "
                                                       "as unusually many"),
               acting: str = ACTING) -> None:
    """Who read (or tried to read) which record, when, on what basis and why (DPO, inspectors)."""
    with opened_application() as app:
        who = acting_user(app, acting)
        start = parse_moment(since) if since else None
        end = parse_moment(until) if until else None
        if flags:
            rows = app.access.access_log_flags(who, start, end, many_reads)
        else:
            rows = app.access.access_log_entries(who, AccessLogFilter(record, worker, reader, grant, purpose, category,
                                                                      outcome,
                                                          start, end, limit=1_000_000))
    if output == "json":
        print_json(rows)
    elif output == "csv":
        sys.stdout.write(to_csv(rows, list(rows[0]) if flags and rows else EXPORT_COLUMNS))
    else:
        _print_log(rows, flags)


def _print_log(rows: list[dict], flags: bool) -> None:
    if flags:
        table = Table("when (UTC)", "flag", "who", "record", "detail")
        for r in rows:
            table.add_row(f"{r['at']:%Y-%m-%d %H:%M}", r["kind"], r["reader_username"],
                          (r["record_id"] or "")[:8], r["detail"])
    else:
        table = Table("when (UTC)", "who", "action", "record", "outcome", "basis / refusal", "purpose")
        for r in rows:
            table.add_row(f"{r['at']:%Y-%m-%d %H:%M}", r["reader_username"], r["action"], (r["record_id"] or "")[:8],
                          r["outcome"], r["basis"] if r["outcome"] == "allowed" else r["refusal"] or "", r["purpose"])
    console.print(table)
    console.print(f"{len(rows)} {'flags' if flags else 'entries'}")


def _administrator_exists(app: SupervisionApplication) -> bool:
    return any(u["role"] == Role.ADMINISTRATOR.value for u in app.people.users.list_users())
