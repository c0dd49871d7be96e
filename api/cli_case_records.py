"""`svl case-record ...`: case supervision records, a record class of their own where the pack keeps them apart
(bcp, bury). Each command acts as `--as USER` (or SVL_USER) through the same application call as over HTTP; records
are named by id or a unique id prefix, workers by id, prefix or full name.
"""

from pathlib import Path

import typer
from rich.table import Table

from api.cli_scheduling import _resolve, parse_day, resolve_worker
from api.cli_support import ACTING, acting_user, console, opened_application, print_json
from projections.case_records import case_records

case_record_app = typer.Typer(help="Case supervision records: kept apart from personal supervision where the "
                                   "policy says so, with their own deadline and retention.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(case_record_app, name="case-record")


@case_record_app.command("classes")
def classes(as_json: bool = typer.Option(False, "--json")) -> None:
    """The organisation's record classes, each with its retention and deadlines, and whose rule each is."""
    with opened_application() as app:
        found = app.case_records.record_classes()
    if as_json:
        print_json([{"name": c.name, "retention": vars(c.retention), "deadlines": [vars(t) for t in c.deadlines],
                     "child_reference": c.child_reference} for c in found])
        return
    for c in found:
        console.print(f"{c.title}: kept {c.retention.what} ({c.retention.whose})")
        for term in c.deadlines:
            console.print(f"  {term.what} ({term.whose})")
        if c.child_reference:
            console.print(f"  names a child by: {c.child_reference}")


@case_record_app.command("record")
def record(worker: str = typer.Argument(..., help="the supervisee"), acting: str = ACTING,
           case: str = typer.Option(..., "--case", help="the number of the child's case record, e.g. 'LCS 55821'"),
           on: str = typer.Option(..., "--on", help="the day of the discussion"),
           discussion: str = typer.Option(..., "--discussion"),
           decisions: str = typer.Option(..., "--decisions", help="what was decided, and why"),
           confirmed_anonymous: bool = typer.Option(False, "--confirmed-anonymous")) -> None:
    """Record a case supervision discussion (the worker's current supervisor)."""
    with opened_application() as app:
        r = app.case_records.record_case_supervision(acting_user(app, acting), worker_id=resolve_worker(app, worker),
                                                     case_reference=case, discussed_on=parse_day(on, "--on"),
                                                     discussion=discussion, decisions=decisions,
                                                     confirmed_anonymous=confirmed_anonymous)
    due = f"; on the child's record by {r.decision_due}" if r.decision_due else ""
    console.print(f"case supervision record {r.id} recorded{due}")


@case_record_app.command("on-childs-record")
def on_childs_record(record_id: str = typer.Argument(..., help="the case supervision record (id or prefix)"),
                     acting: str = ACTING,
                     reference: str = typer.Option(..., "--reference",
                                                   help="the entry on the child's record, e.g. 'Case note 88123'"),
                     on: str = typer.Option(..., "--on", help="the day it was recorded there")) -> None:
    """Confirm the decision is on the child's record (the supervisor, or the supervisee it was delegated to)."""
    with opened_application() as app:
        rid = _resolve(app, case_records, "record_id", record_id, "case supervision record")
        r = app.case_records.confirm_case_decision(acting_user(app, acting), rid, childs_record_reference=reference,
                                                   recorded_on=parse_day(on, "--on"))
    recorded_on = r.on_childs_record["recorded_on"] if r.on_childs_record else None
    console.print(f"case supervision record {r.id}: decision on the child's record on {recorded_on}")


@case_record_app.command("due")
def due(acting: str = ACTING, as_of: str = typer.Option(None, "--as-of", help="as known at the end of this day"),
        attention: bool = typer.Option(False, "--attention", help="only those due or overdue"),
        as_json: bool = typer.Option(False, "--json")) -> None:
    """Each case decision's last day to reach the child's record, and where it stands (dates only)."""
    with opened_application() as app:
        rows = app.case_records.case_decisions_due(acting_user(app, acting), as_of=parse_day(as_of, "--as-of"),
                                                   only_attention=attention)
    if as_json:
        print_json([r.to_dict() for r in rows])
        return
    table = Table("record", "worker", "discussed", "due on the child's record", "recorded there", "status")
    for r in rows:
        table.add_row(r.record_id[:8], r.worker_id[:8], str(r.discussed_on), str(r.decision_due or "-"),
                      str(r.on_childs_record_on or "-"), r.status)
    console.print(table)


@case_record_app.command("schedule")
def schedule(acting: str = ACTING, as_of: str = typer.Option(None, "--as-of"),
             as_json: bool = typer.Option(False, "--json")) -> None:
    """Case supervision records under their own retention (ids and dates only)."""
    with opened_application() as app:
        rows = app.case_records.case_record_schedule(acting_user(app, acting), as_of=parse_day(as_of, "--as-of"))
    if as_json:
        print_json([r.to_dict() for r in rows])
        return
    table = Table("record", "worker", "discussed", "destruction date", "status")
    for r in rows:
        table.add_row(r.record_id[:8], (r.worker_id or "-")[:8], str(r.discussed_on or "-"),
                      str(r.destruction_date or "-"), r.status)
    console.print(table)


@case_record_app.command("propose")
def propose(acting: str = ACTING, as_of: str = typer.Option(None, "--as-of")) -> None:
    """Propose the case supervision records due for destruction, for a second person to review."""
    with opened_application() as app:
        d = app.case_records.propose_case_record_destruction(acting_user(app, acting),
                                                             as_of=parse_day(as_of, "--as-of"))
    console.print(f"list {d.id}: {len(d.item_ids)} case supervision record(s) due on {d.as_of}, for review")


@case_record_app.command("lists")
def lists(acting: str = ACTING, as_json: bool = typer.Option(False, "--json")) -> None:
    """Every list of case supervision records proposed for destruction, newest first (ids, dates, counts and
    who decided)."""
    from api.http_case_records import DisposalSummaryOut  # the API's answer, field for field

    with opened_application() as app:
        rows = [DisposalSummaryOut(**r) for r in app.case_records.case_record_disposals(acting_user(app, acting))]
    if as_json:
        print_json([r.model_dump(mode="json") for r in rows])
        return
    table = Table("list", "as of", "records", "status", "proposed by", "decided by", "destroyed")
    for r in rows:
        table.add_row(r.disposal_id, str(r.as_of), str(r.records), r.status, r.proposed_by, r.decided_by or "-",
                      "-" if r.destroyed is None else str(r.destroyed))
    console.print(table)


@case_record_app.command("list")
def show_list(disposal: str = typer.Argument(..., help="the list's id"), acting: str = ACTING,
              as_json: bool = typer.Option(False, "--json")) -> None:
    """One list: its records, the rule it was drawn up under, who proposed and decided it, what was destroyed."""
    from api.http_case_records import disposal_out

    with opened_application() as app:
        d = disposal_out(app.case_records.read_case_record_disposal(acting_user(app, acting), disposal))
    if as_json:
        print_json(d.model_dump(mode="json"))
        return
    console.print(f"list {d.disposal_id}: {len(d.record_ids)} case supervision record(s) due on {d.as_of}; "
                  f"proposed by {d.proposed_by}; {d.decision or 'not yet reviewed'}"
                  + (f" by {d.decided_by}" if d.decided_by else ""))
    console.print(f"rule: {d.rule}")
    for rid in d.record_ids:
        console.print(f"  {rid}" + (" (destroyed)" if rid in d.destroyed else ""))


@case_record_app.command("approve")
def approve(disposal: str = typer.Argument(..., help="the list's id"), acting: str = ACTING,
            rationale: str = typer.Option(..., "--rationale")) -> None:
    """Approve a list (never the person who proposed it)."""
    with opened_application() as app:
        d = app.case_records.review_case_record_destruction(acting_user(app, acting), disposal, approve=True,
                                                            rationale=rationale)
    console.print(f"list {d.id} approved by {d.decided_by}")


@case_record_app.command("reject")
def reject(disposal: str = typer.Argument(...), acting: str = ACTING,
           rationale: str = typer.Option(..., "--rationale")) -> None:
    """Reject a list, with the reason (never the person who proposed it)."""
    with opened_application() as app:
        d = app.case_records.review_case_record_destruction(acting_user(app, acting), disposal, approve=False,
                                                            rationale=rationale)
    console.print(f"list {d.id} rejected by {d.decided_by}")


@case_record_app.command("destroy")
def destroy(disposal: str = typer.Argument(..., help="an approved list's id"), acting: str = ACTING) -> None:
    """Destroy the approved list's records still due (each record's own key); personal files are untouched."""
    with opened_application() as app:
        d = app.case_records.destroy_case_records(acting_user(app, acting), disposal)
    console.print(f"list {d.id}: {len(d.destroyed)} case supervision record(s) destroyed")


@case_record_app.command("certificate")
def certificate(record_id: str = typer.Argument(..., help="the destroyed record's id, or a unique prefix of it"),
                output: Path = typer.Option(None, "-o", "--output", help="write it to this file (default: print it)"),
                acting: str = ACTING) -> None:
    """A destroyed case supervision record's signed destruction certificate, as written (the roles the pack's
    destruction_approval names). Anyone checks it offline: `svl-verify FILE --key verifier.vkey`."""
    from api.cli_retention import write_certificate_out

    with opened_application() as app:
        app.read_models.refresh()
        name, text = app.retention.destruction_certificate(
            acting_user(app, acting), "case_supervision",
            _resolve(app, case_records, "record_id", record_id, "case supervision record"))
    write_certificate_out(name, text, output)


__all__ = ["register"]
