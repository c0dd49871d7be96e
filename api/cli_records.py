"""`svl records`, `svl history`: what an investigating officer reads."""

from datetime import datetime
from uuid import UUID

import typer
from rich.table import Table
from sqlalchemy import select

from api.access_service import AccessDenied, AccessLogUnavailable
from api.application import NotFound, SupervisionLedger
from api.cli_support import ACTING, acting_user, cli_via, console, fail, opened_ledger, parse_moment, print_json
from api.record_history import NameBook, record_history, record_view, render_content
from domain.authorisation import Decision
from domain.supervision_record import SupervisionRecord
from infrastructure.users import Principal
from projections.schema import current_records


def register(app: typer.Typer) -> None:
    app.command()(records)
    app.command()(history)


def resolve_record_id(app: SupervisionLedger, given: str) -> UUID:
    """A full id, or a unique prefix of one (as `svl records` prints)."""
    try:
        return UUID(given)
    except ValueError:
        pass
    with app.storage.reads.connect() as conn:
        matches = conn.execute(select(current_records.c.record_id)
                               .where(current_records.c.record_id.like(given.lower() + "%")).limit(2)).scalars().all()
    if len(matches) != 1:
        raise NotFound(f"no single record matches {given!r}" + (" (ambiguous prefix)" if matches else ""))
    return UUID(matches[0])


def records(as_json: bool = typer.Option(False, "--json", help="machine-readable output"),
            state: str = typer.Option(None, help="only records in this state, e.g. locked"),
            acting: str = ACTING) -> None:
    """List the supervision records you may read now, as `GET /records` does (dates and states: no content)."""
    with opened_ledger() as app:
        rows = [r for r in app.readable_records(acting_user(app, acting)) if not state or r["state"] == state]
        if as_json:
            print_json(rows)
            return
        names = NameBook(app)
        table = Table("record", "session", "supervisee", "supervisor", "state", "v", "section")
        for r in rows:
            table.add_row(r["record_id"][:8], str(r["session_date"]), names.name(r["supervisee_id"]),
                          names.name(r["supervisor_id"]), r["state"], str(r["content_version"]), r["file_section"])
        console.print(table)
        console.print(f"{len(rows)} records")


def history(record_id: str = typer.Argument(..., help="record id or a unique prefix of it"),
            as_of: str = typer.Option(None, "--as-of", help="show the record as it stood then, e.g. 2026-05-01T12:00Z"),
            as_json: bool = typer.Option(False, "--json", help="machine-readable output"),
            acting: str = ACTING) -> None:
    """Every version of a record: who did what and when, and what changed; or the record as of a moment.

    Reads content, so it acts as a named user: allowed only as the API would allow it, and logged first."""
    with opened_ledger() as app:
        who = acting_user(app, acting)
        rid = resolve_record_id(app, record_id)
        if as_of:
            moment = parse_moment(as_of)
            record, _ = _read(app, who, rid, "read_as_of", moment)
            view = record_view(record, NameBook(app))
            if as_json:
                print_json({"as_of": moment.isoformat(), **view})
            else:
                _print_view(view, f"as of {moment.isoformat()}")
            return
        _read(app, who, rid, "read_history", None)
        entries = record_history(app, rid)
        if as_json:
            print_json({"record_id": str(rid), "events": [e.to_dict() for e in entries]})
            return
        table = Table("v", "when (UTC)", "who", "what", title=f"history of record {rid}")
        for e in entries:
            table.add_row(str(e.version), e.at.strftime("%Y-%m-%d %H:%M"), e.actor_name, e.summary)
        console.print(table)
        for e in entries:
            if e.diff:
                console.print(f"[bold]changes in v{e.content_version}[/] ({e.actor_name}, {e.at:%Y-%m-%d %H:%M}):")
                for line in e.diff:
                    style = "green" if line.startswith("+") else "red" if line.startswith("-") else ""
                    console.print(line, style=style, markup=False, highlight=False)


def _read(app: SupervisionLedger, who: Principal, rid: UUID, action: str, as_of: datetime | None
          ) -> tuple[SupervisionRecord, Decision]:
    try:
        return app.read_record_content(who, rid, action=action, via=cli_via(), as_of=as_of)
    except AccessDenied as exc:
        fail(f"refused (and logged): {exc}", code=3)
    except AccessLogUnavailable as exc:
        fail(str(exc), code=4)
    raise AssertionError("unreachable")


def _print_view(view: dict, heading: str) -> None:
    console.print(f"[bold]record {view['record_id']}[/] {heading}: [bold]{view['state']}[/], "
                  f"content v{view['content_version']} (SHA-256 {view['content_sha256']})")
    console.print(f"supervisee {view['supervisee']['name']}, supervisor {view['supervisor']['name']}")
    for line in render_content(view["content"]):
        console.print("  " + line, markup=False, highlight=False)
    for s in view["signatures"]:
        console.print(f"  signed by the {s['role']} at {s['signed_at']} over v{s['content_version']}")
    for d in view["areas_of_disagreement"]:
        console.print(f"  disagreement: {d['text']} — declined: {d['rationale']}", markup=False)
    for a in view["addenda"]:
        console.print(f"  addendum {a['number']} ({a['reason']}): {a['text']}", markup=False)


__all__ = ["fail", "resolve_record_id"]
