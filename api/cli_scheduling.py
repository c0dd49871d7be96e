"""`svl due`, `svl session ...`, `svl agreement ...`, `svl case ...`, `svl report frequency`: supervision on time.

People are named by id, a unique id prefix, or their full name (as `svl due` prints it). Every command acts
as a named user (`--as USER` or SVL_USER) and is decided by the same application call as over HTTP.
"""

import csv
import io
from datetime import date
from pathlib import Path
from typing import Any

import typer
from rich.table import Table
from rich.text import Text
from sqlalchemy import Table as SqlTable
from sqlalchemy import select

from api.application import SupervisionApplication
from api.errors import NotFound
from api.cli_support import ACTING, acting_user, console, fail, opened_application, parse_moment, print_json
from api.scheduling_service import Dashboard, FrequencyReport
from domain.compliance import CATEGORY_LABELS
from projections.schema import workers
from projections.supervision_compliance import compliance_agreements, compliance_cases, compliance_sessions

session_app = typer.Typer(help="Supervision sessions: schedule, hold, cancel, rebook.", no_args_is_help=True)
agreement_app = typer.Typer(help="Supervision agreements: draft, sign, review.", no_args_is_help=True)
case_app = typer.Typer(help="Case supervision: how often each case is discussed, by its rating.",
                       no_args_is_help=True)
report_app = typer.Typer(help="Quality assurance reports.", no_args_is_help=True)

STATUS_STYLE = {"overdue": "bold red", "due_soon": "yellow", "on_time": "green"}
SEVERITY_MARK = {"overdue": "[red]![/]", "warning": "[yellow]![/]", "info": "[dim]-[/]"}


def register(app: typer.Typer) -> None:
    app.command()(due)
    app.add_typer(session_app, name="session")
    app.add_typer(agreement_app, name="agreement")
    app.add_typer(case_app, name="case")
    app.add_typer(report_app, name="report")


# -- resolving what the operator typed -----------------------------------------------------------------------


def resolve_worker(app: SupervisionApplication, given: str) -> str:
    """A worker id, a unique id prefix, or a full name (case-insensitive)."""
    ids = _by_prefix(app, workers, "worker_id", given)
    if len(ids) == 1:
        return ids[0]
    with app.storage.reads.connect() as conn:
        everyone = conn.execute(select(workers.c.worker_id)).scalars().all()
    wanted = given.strip().casefold()
    matches = [wid for wid, name in app.people.worker_names(everyone).items() if name.casefold() == wanted]
    if len(matches) == 1:
        return matches[0]
    raise NotFound(f"no single worker matches {given!r}" + (" (ambiguous)" if len(matches) > 1 or ids else ""))


def _resolve(app: SupervisionApplication, table: SqlTable, column: str, given: str, noun: str) -> str:
    ids = _by_prefix(app, table, column, given)
    if len(ids) != 1:
        raise NotFound(f"no single {noun} matches {given!r}" + (" (ambiguous prefix)" if ids else ""))
    return ids[0]


def _by_prefix(app: SupervisionApplication, table: SqlTable, column: str, given: str) -> list[str]:
    prefix = given.strip().lower()
    if len(prefix) < 4 or any(c not in "0123456789abcdef-" for c in prefix):
        return []
    with app.storage.reads.connect() as conn:
        return conn.execute(select(table.c[column]).where(table.c[column].like(prefix + "%")).limit(2)).scalars().all()


def parse_day(value: str | None, what: str = "date") -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        fail(f"{what} {value!r} is not an ISO date, e.g. 2026-10-31")
    raise AssertionError  # pragma: no cover


# -- svl due -------------------------------------------------------------------------------------------------


def due(team: str = typer.Option(None, "--team", help="a supervisor (id, prefix or name): only their supervisees"),
        as_of: str = typer.Option(None, "--as-of", help="as known at the end of this day, e.g. 2026-10-31"),
        as_json: bool = typer.Option(False, "--json", help="machine-readable output"),
        csv_file: Path = typer.Option(None, "--csv", help="also write the rows to this CSV file"),
        attention: bool = typer.Option(False, "--attention", help="only workers who need action"),
        pack: str = typer.Option(None, "--pack", help="judge against another policy pack (default: the configured one)"),
        acting: str = ACTING) -> None:
    """Who is overdue for supervision, and why: the manager's morning view (your team; QA and HR: everyone)."""
    with opened_application() as app:
        supervisor = app.scheduling.compliance_scope(acting_user(app, acting),
                                                     resolve_worker(app, team) if team else None)
        board = app.scheduling.compliance_dashboard(as_of=parse_day(as_of, "--as-of"), team=supervisor, pack=pack)
    rows = [r for r in board.as_dicts() if r["needs_attention"] or not attention]
    if csv_file:
        csv_file.write_text(dashboard_csv(rows), encoding="utf-8")
    if as_json:
        print_json({"as_of": board.as_of, "pack": board.pack, "team": supervisor, "workers": rows})
        return
    _print_dashboard(board, rows, team)
    if csv_file:
        console.print(f"written to {csv_file}")


DASHBOARD_COLUMNS = ["worker_id", "name", "supervisor", "category", "status", "last_session", "due", "days_overdue",
                     "next_booked", "rule", "reason", "issues", "rule_source", "next_supervisor"]


def dashboard_csv(rows: list[dict]) -> str:
    return to_csv([{**r, "issues": " | ".join(i["text"] for i in r["issues"])} for r in rows], DASHBOARD_COLUMNS)


def to_csv(rows: list[dict], columns: list[str]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _csv_value(row.get(k)) for k in columns})
    return out.getvalue()


def _csv_value(value: Any) -> Any:
    # A cell starting with = + - @ would run as a formula in a spreadsheet.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return "" if value is None else value


def _print_dashboard(board: Dashboard, rows: list[dict], team: str | None) -> None:
    title = f"Supervision due as of {board.as_of:%a %d %b %Y} ({board.pack})" + (f", team of {team}" if team else "")
    table = Table("worker", "supervisor", "last session", "due", "status", "why", title=title, show_lines=True)
    for r in rows:
        status = {"overdue": f"{r['days_overdue']} days overdue", "due_soon": "due soon",
                  "on_time": "on time"}[r["status"]]
        why = Text.from_markup(_escape(r["reason"]))
        for issue in r["issues"]:
            why.append("\n")
            why.append_text(Text.from_markup(f"{SEVERITY_MARK[issue['severity']]} {_escape(issue['text'])}"))
        table.add_row(r["name"], r["supervisor"], _day(r["last_session"]), _day(r["due"]),
                      Text(status, style=STATUS_STYLE[r["status"]]), why)
    console.print(table)
    overdue = sum(r["status"] == "overdue" for r in rows)
    actions = sum(1 for r in rows for i in r["issues"] if i["severity"] in ("overdue", "warning"))
    console.print(f"{len(rows)} workers: {overdue} overdue for supervision, {actions} other items need action")
    sources = {CATEGORY_LABELS.get(r["category"], r["category"]): r["rule_source"] for r in rows}
    if sources:
        console.print(f"[dim]Rules quoted from the {board.pack} policy pack:[/]")
        for label, source in sorted(sources.items()):
            console.print(f"[dim]  {label}: '{source}'[/]", highlight=False)


def _escape(text: str) -> str:
    return text.replace("[", r"\[")


def _day(value: date | None) -> str:
    return "-" if value is None else value.strftime("%d %b %Y")


# -- svl report frequency ---------------------------------------------------------------------------------------

REPORT_COLUMNS = ["worker_id", "name", "supervisor", "category", "rule", "sessions_held", "sessions_required",
                  "overdue_days", "met", "short_sessions", "cancelled", "rule_source"]


@report_app.command("frequency")
def report_frequency(month: str = typer.Option(..., "--month", help="e.g. 2026-10"),
                     as_of: str = typer.Option(None, "--as-of", help="as known at the end of this day "
                                                                     "(default: the month's last day)"),
                     team: str = typer.Option(None, "--team", help="a supervisor: only their supervisees"),
                     as_json: bool = typer.Option(False, "--json"),
                     csv_file: Path = typer.Option(None, "--csv", help="write the report to this CSV file"),
                     pack: str = typer.Option(None, "--pack"), acting: str = ACTING) -> None:
    """Sessions held per employee in a month against what the policy required (bcp, hull: QA reports)."""
    with opened_application() as app:
        supervisor = app.scheduling.compliance_scope(acting_user(app, acting),
                                                     resolve_worker(app, team) if team else None)
        report = app.scheduling.frequency_report(month, as_of=parse_day(as_of, "--as-of"), team=supervisor, pack=pack)
    rows = report.as_dicts()
    if csv_file:
        csv_file.write_text(to_csv(rows, REPORT_COLUMNS), encoding="utf-8")
    if as_json:
        print_json({"month": report.month, "as_of": report.as_of, "pack": report.pack, "summary": report.summary,
                    "workers": rows})
        return
    _print_report(report, rows)
    if csv_file:
        console.print(f"written to {csv_file}")


def _print_report(report: FrequencyReport, rows: list[dict]) -> None:
    table = Table("worker", "supervisor", "rule", "held", "required", "days overdue", "met", "short", "cancelled",
                  title=f"Supervision frequency, {report.first:%B %Y}, as known on {report.as_of} ({report.pack})")
    for r in rows:
        table.add_row(r["name"], r["supervisor"], r["rule"], str(r["sessions_held"]), str(r["sessions_required"]),
                      str(r["overdue_days"]), Text("yes", style="green") if r["met"] else Text("no", style="red"),
                      str(r["short_sessions"]), str(r["cancelled"]))
    console.print(table)
    console.print(report.summary)


# -- svl session ... -----------------------------------------------------------------------------------------------


@session_app.command("schedule")
def session_schedule(supervisee: str = typer.Argument(..., help="the supervisee"),
                     at: str = typer.Option(..., "--at", help="start, e.g. 2026-11-30T10:00 (UTC if no zone)"),
                     minutes: int = typer.Option(90, "--minutes", help="planned length"),
                     acting: str = ACTING) -> None:
    """Book a session (the supervisor)."""
    with opened_application() as app:
        session_id = app.scheduling.schedule_session(acting_user(app, acting),
                                                     supervisee_id=resolve_worker(app, supervisee),
                                                     starts_at=parse_moment(at),
                                                     planned_minutes=minutes).id
    console.print(f"scheduled session {session_id}")


@session_app.command("hold")
def session_hold(session: str = typer.Argument(..., help="session id or prefix"),
                 minutes: int = typer.Option(..., "--minutes", help="how long it actually lasted"),
                 on: str = typer.Option(None, "--on", help="the day it took place (default: the day it was booked)"),
                 acting: str = ACTING) -> None:
    """Record that a session took place (the supervisor); a session below the pack's minimum is kept with
    its shortfall."""
    with opened_application() as app:
        held = app.scheduling.hold_session(acting_user(app, acting), _session(app, session), actual_minutes=minutes,
                                           held_on=parse_day(on, "--on"))
    short = f", {held.shortfall_minutes} min short of the minimum" if held.shortfall_minutes else ""
    console.print(f"session held on {held.held_on}, {held.actual_minutes} min{short}")


@session_app.command("cancel")
def session_cancel(session: str = typer.Argument(..., help="session id or prefix"),
                   reason: str = typer.Option(..., "--reason", help="sickness, leave or operational"),
                   acting: str = ACTING) -> None:
    """Cancel a session (either party); the rebooking deadline comes from the pack."""
    with opened_application() as app:
        rebook_by = app.scheduling.rebook_by(app.scheduling.cancel_session(acting_user(app, acting),
                                                                           _session(app, session), reason))
        pack = app.policy.compliance_pack().short_name
    if rebook_by:
        console.print(f"cancelled: rebook by {rebook_by} ({pack})")
    elif reason == "sickness":
        console.print("cancelled: record the return to work (`svl session returned`) to start the rebooking clock")
    else:
        console.print(f"cancelled: {pack} sets no rebooking deadline; the minimum frequency still applies")


@session_app.command("returned")
def session_returned(session: str = typer.Argument(..., help="the session cancelled for sickness"),
                     on: str = typer.Option(..., "--on", help="the day the person returned to work"),
                     acting: str = ACTING) -> None:
    """Record the return to work after a sickness cancellation."""
    with opened_application() as app:
        rebook_by = app.scheduling.rebook_by(app.scheduling.record_return_to_work(acting_user(app, acting),
                                                                                  _session(app, session),
                                                                                  parse_day(on, "--on")))
    console.print(f"return recorded: rebook by {rebook_by}" if rebook_by else "return recorded")


@session_app.command("rebook")
def session_rebook(session: str = typer.Argument(..., help="the cancelled session"),
                   at: str = typer.Option(..., "--at", help="new start, e.g. 2026-12-01T10:00"),
                   minutes: int = typer.Option(None, "--minutes"), acting: str = ACTING) -> None:
    """Book the replacement of a cancelled session; the two are linked."""
    with opened_application() as app:
        new_id = app.scheduling.rebook_session(acting_user(app, acting), _session(app, session),
                                               starts_at=parse_moment(at),
                                               planned_minutes=minutes).id
    console.print(f"rebooked as session {new_id}")


@session_app.command("list")
def session_list(worker: str = typer.Option(None, "--worker"), team: str = typer.Option(None, "--team"),
                 as_json: bool = typer.Option(False, "--json"), acting: str = ACTING) -> None:
    """Sessions, newest first (dates, minutes and states only): yours, your team's, or (QA, HR) everyone's."""
    with opened_application() as app:
        who = acting_user(app, acting)
        rows = app.scheduling.sessions_visible_to(who, resolve_worker(app, worker) if worker else None)
        if team:
            rows = [r for r in rows if r["supervisor_id"] == app.scheduling.compliance_scope(who,
                                                                                             resolve_worker(app, team))]
        names = app.people.worker_names({r["worker_id"] for r in rows} | {r["supervisor_id"] for r in rows})
    if as_json:
        print_json(rows)
        return
    table = Table("session", "date", "supervisee", "supervisor", "state", "minutes", "note")
    for r in rows:
        note = (f"{r['cancel_reason']}, by the {r['cancelled_by']}" if r["cancelled_at"] else
                f"{r['shortfall_minutes']} min short" if r["shortfall_minutes"] else "")
        if r["rebooked_as"]:
            note += f"; rebooked as {r['rebooked_as'][:8]}"
        table.add_row(r["session_id"][:8], str(r["held_on"] or r["scheduled_for"]), names[r["worker_id"]],
                      names[r["supervisor_id"]], r["state"], str(r["actual_minutes"] or r["planned_minutes"]), note)
    console.print(table)


def _session(app: SupervisionApplication, given: str) -> str:
    return _resolve(app, compliance_sessions, "session_id", given, "session")


# -- svl agreement ... -------------------------------------------------------------------------------------------


def _terms(frequency: str | None, minutes: int | None, arrangements: str | None, every: str | None = None) -> dict:
    return {k: v for k, v in {"frequency": frequency, "session_minutes": minutes, "arrangements": arrangements,
                              "every": _every(every) if every else None}.items() if v is not None}


def _every(given: str) -> dict:
    """'2w' -> {"weeks": 2}; '1m', '10d'."""
    units = {"d": "days", "w": "weeks", "m": "months"}
    number, unit = given.strip()[:-1], given.strip()[-1:].lower()
    if unit not in units or not number.isdigit():
        fail(f"--every {given!r}: give a number and d, w or m, e.g. 2w (every two weeks) or 1m")
    return {units[unit]: int(number)}


@agreement_app.command("draft")
def agreement_draft(supervisee: str = typer.Argument(...), acting: str = ACTING,
                    frequency: str = typer.Option(None, "--frequency", help="e.g. 'fortnightly, Tuesdays'"),
                    minutes: int = typer.Option(None, "--minutes", help="agreed session length"),
                    arrangements: str = typer.Option(None, "--arrangements"),
                    every: str = typer.Option(None, "--every", help="the agreed frequency, binding where stricter "
                                                                    "than the pack: e.g. 2w, 1m")) -> None:
    """Draft the agreement with a supervisee (the supervisor); both then sign it."""
    with opened_application() as app:
        agreement_id = app.scheduling.draft_agreement(acting_user(app, acting),
                                                      supervisee_id=resolve_worker(app, supervisee),
                                                      terms=_terms(frequency, minutes, arrangements, every)).id
    console.print(f"drafted agreement {agreement_id}: both parties now sign it (`svl agreement sign`)")


@agreement_app.command("sign")
def agreement_sign(agreement: str = typer.Argument(...), acting: str = ACTING) -> None:
    """Sign the agreement (supervisee or supervisor)."""
    with opened_application() as app:
        signed = app.scheduling.sign_agreement(acting_user(app, acting), _agreement(app, agreement))
    if signed.in_force_on:
        console.print(f"signed by both: in force from {signed.in_force_on}")
    else:
        console.print(f"signed; awaiting the {' and '.join(signed.awaiting)}")


@agreement_app.command("review")
def agreement_review(agreement: str = typer.Argument(...), acting: str = ACTING,
                     on: str = typer.Option(None, "--on", help="the review date (default today)"),
                     notes: str = typer.Option("", "--notes")) -> None:
    """Record the (at least annual) review of the agreement."""
    with opened_application() as app:
        reviewed = app.scheduling.review_agreement(acting_user(app, acting), _agreement(app, agreement),
                                                   reviewed_on=parse_day(on, "--on"), notes=notes)
    console.print(f"reviewed on {reviewed.last_reviewed_on}")


@agreement_app.command("paper")
def agreement_paper(supervisee: str = typer.Argument(...),
                    supervisor: str = typer.Option(..., "--supervisor"),
                    signed_on: str = typer.Option(..., "--signed-on", help="the day both signed it"),
                    acting: str = ACTING,
                    frequency: str = typer.Option(None, "--frequency"), minutes: int = typer.Option(None, "--minutes"),
                    arrangements: str = typer.Option(None, "--arrangements")) -> None:
    """Enter an agreement both signed on paper before the ledger was used."""
    with opened_application() as app:
        agreement_id = app.scheduling.record_paper_agreement(
            acting_user(app, acting), supervisee_id=resolve_worker(app, supervisee), supervisor_id=resolve_worker(app, supervisor),
            signed_on=parse_day(signed_on, "--signed-on"), terms=_terms(frequency, minutes, arrangements)).id
    console.print(f"recorded agreement {agreement_id}")


@agreement_app.command("list")
def agreement_list(worker: str = typer.Option(None, "--worker"), as_json: bool = typer.Option(False, "--json")
                   ) -> None:
    """Agreements, newest first."""
    with opened_application() as app:
        rows = app.scheduling.agreements_of(resolve_worker(app, worker) if worker else None)
        names = app.people.worker_names({r["worker_id"] for r in rows} | {r["supervisor_id"] for r in rows})
    if as_json:
        print_json(rows)
        return
    table = Table("agreement", "supervisee", "supervisor", "signed", "state")
    for r in rows:
        signed = [str(r[f"{p}_signed_on"]) for p in ("supervisee", "supervisor") if r[f"{p}_signed_on"]]
        state = (f"lapsed {r['lapsed_on']} ({r['lapse_reason']})" if r["lapsed_on"] else
                 "in force" if len(signed) == 2 else "awaiting signature")
        table.add_row(r["agreement_id"][:8], names[r["worker_id"]], names[r["supervisor_id"]], ", ".join(signed),
                      state)
    console.print(table)


def _agreement(app: SupervisionApplication, given: str) -> str:
    return _resolve(app, compliance_agreements, "agreement_id", given, "agreement")


# -- svl case ... ----------------------------------------------------------------------------------------------------


@case_app.command("open")
def case_open(worker: str = typer.Argument(...), reference: str = typer.Argument(..., help="initials or case number"),
              acting: str = ACTING, rating: str = typer.Option(None, "--rating", help="e.g. red, amber, green"),
              approved_by: str = typer.Option(None, "--approved-by", help="who approved the rating, where needed"),
              approved_on: str = typer.Option(None, "--approved-on"),
              last_discussed: str = typer.Option(None, "--last-discussed"),
              rationale: str = typer.Option("", "--rationale", help="why, where both agree the rating")) -> None:
    """Track a case the worker holds for case supervision."""
    with opened_application() as app:
        case_id = app.scheduling.open_case(acting_user(app, acting), worker_id=resolve_worker(app, worker),
                                           case_reference=reference, rating=rating,
                                           approved_by=resolve_worker(app, approved_by) if approved_by else None,
                                           approved_on=parse_day(approved_on), last_discussed_on=parse_day(last_discussed),
                                           rationale=rationale).id
    console.print(f"case {case_id} opened")


@case_app.command("rate")
def case_rate(case: str = typer.Argument(...), rating: str = typer.Option(None, "--rating"), acting: str = ACTING,
              approved_by: str = typer.Option(None, "--approved-by"),
              approved_on: str = typer.Option(None, "--approved-on"),
              rationale: str = typer.Option("", "--rationale", help="why, where both agree the rating")) -> None:
    """Change a case's rating."""
    with opened_application() as app:
        rated = app.scheduling.rate_case(acting_user(app, acting), _case(app, case), rating,
                                         approved_by=resolve_worker(app, approved_by) if approved_by else None,
                                         approved_on=parse_day(approved_on), rationale=rationale)
    console.print(f"case {rated.case_reference} now {rated.rating or 'unrated'}")


@case_app.command("discuss")
def case_discuss(case: str = typer.Argument(...), on: str = typer.Option(..., "--on"), acting: str = ACTING) -> None:
    """Record that the case was discussed in supervision."""
    with opened_application() as app:
        app.scheduling.record_case_discussion(acting_user(app, acting), _case(app, case), parse_day(on, "--on"))
    console.print("discussion recorded")


@case_app.command("close")
def case_close(case: str = typer.Argument(...), acting: str = ACTING) -> None:
    """The case closed or moved on: it is no longer due for discussion."""
    with opened_application() as app:
        app.scheduling.close_case(acting_user(app, acting), _case(app, case))
    console.print("case closed")


def _case(app: SupervisionApplication, given: str) -> str:
    return _resolve(app, compliance_cases, "case_id", given, "case")


__all__ = ["dashboard_csv", "register", "resolve_worker", "to_csv"]
