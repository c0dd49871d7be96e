"""`svl records`, `svl history`: what an investigating officer reads.

`svl records` starts at once: it lists through api/record_index.py (the application's rule and query, with the
database driver alone), and opens the application only where that cannot answer exactly as the application
would. `svl history` reads content, so it always goes through the application (decided, then logged).
"""

from __future__ import annotations

import sys
from datetime import datetime
from typing import TYPE_CHECKING
from uuid import UUID

import typer

from api.cli import TextOptions
from api.cli_options import ACTING
from api.cli_output import print_json, print_table
from api.record_index import RecordIndex, record_index

if TYPE_CHECKING:
    from api.application import SupervisionApplication
    from domain.authorisation import Decision
    from domain.supervision_record import SupervisionRecord
    from infrastructure.users import Principal

RECORD_COLUMNS = ("record", "session", "supervisee", "supervisor", "state", "v", "section")


def register(app: typer.Typer) -> None:
    app.command(cls=TextOptions)(records)  # starts without pydantic: see TextOptions
    app.command()(history)


def resolve_record_id(app: SupervisionApplication, given: str) -> UUID:
    """A full id, or a unique prefix of one (as `svl records` prints)."""
    from sqlalchemy import select

    from api.errors import NotFound
    from projections.schema import current_records

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
    index = _quick_index(acting) or _application_index(acting)
    rows = [r for r in index.rows if not state or r["state"] == state]
    if as_json:
        print_json(rows)
        return
    print_table(RECORD_COLUMNS, [(r["record_id"][:8], str(r["session_date"]), index.name(r["supervisee_id"]),
                                  index.name(r["supervisor_id"]), r["state"], str(r["content_version"]),
                                  r["file_section"]) for r in rows])
    sys.stdout.write(f"{len(rows)} records\n")


def _quick_index(acting: str | None) -> RecordIndex | None:
    from infrastructure.settings import Settings

    try:
        settings = Settings.from_env()
    except ValueError:  # the application names the setting that cannot work
        return None
    return record_index(settings, acting)


def _application_index(acting: str | None) -> RecordIndex:
    from api.cli_support import acting_user, opened_application
    from api.record_history import NameBook

    with opened_application() as app:
        rows = app.access.readable_records(acting_user(app, acting))
        names = NameBook(app)
        return RecordIndex(rows, {w: names.name(w) for r in rows for w in (r["supervisee_id"], r["supervisor_id"])})


def history(record_id: str = typer.Argument(..., help="record id or a unique prefix of it"),
            as_of: str = typer.Option(None, "--as-of", help="show the record as it stood then, e.g. 2026-05-01T12:00Z"),
            as_json: bool = typer.Option(False, "--json", help="machine-readable output"),
            acting: str = ACTING) -> None:
    """Every version of a record: who did what and when, and what changed; or the record as of a moment.

    Reads content, so it acts as a named user: allowed only as the API would allow it, and logged first."""
    from rich.table import Table

    from api.cli_support import acting_user, console, opened_application, parse_moment
    from api.record_history import NameBook, record_history, record_view

    with opened_application() as app:
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


def _read(app: SupervisionApplication, who: Principal, rid: UUID, action: str, as_of: datetime | None
          ) -> tuple[SupervisionRecord, Decision]:
    from api.access_service import AccessDenied, AccessLogUnavailable
    from api.cli_support import cli_via, fail

    try:
        return app.access.read_record_content(who, rid, action=action, via=cli_via(), as_of=as_of)
    except AccessDenied as exc:
        fail(f"refused (and logged): {exc}", code=3)
    except AccessLogUnavailable as exc:
        fail(str(exc), code=4)
    raise AssertionError("unreachable")


def _print_view(view: dict, heading: str) -> None:
    from api.cli_support import console
    from api.record_history import render_content

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


__all__ = ["records", "resolve_record_id"]
