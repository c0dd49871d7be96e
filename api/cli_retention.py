"""`svl retention …`, `svl hold …`, `svl policy …`: what a data protection officer runs."""

import sys
from datetime import date, datetime, timezone
from pathlib import Path

import typer
from rich.table import Table

from api.access_service import AccessDenied
from api.cli_support import ACTING, acting_user, cli_via, console, fail, opened_application, print_json
from infrastructure.policy_packs import PolicyPackError, available_packs, load_history, load_history_by_name

retention = typer.Typer(help="Leavers' archival, the retention schedule and destruction.", no_args_is_help=True)
hold = typer.Typer(help="Legal holds: files that must not be destroyed.", no_args_is_help=True)
policy = typer.Typer(help="Policy packs: show and check.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.command()(sar)
    app.add_typer(retention, name="retention")
    app.add_typer(hold, name="hold")
    app.add_typer(policy, name="policy")


def _day(value: str | None) -> date:
    if value is None:
        return datetime.now(timezone.utc).date()
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        fail(f"{value!r} is not an ISO date, e.g. 2026-11-24")
        raise


@retention.command("schedule")
def schedule(as_of: str = typer.Option(None, "--as-of", help="the day to judge due dates on (default today)"),
             as_json: bool = typer.Option(False, "--json")) -> None:
    """Every worker's file: state, destruction date, holds, and what is due."""
    with opened_application() as app:
        files = app.retention.retention_schedule(_day(as_of))
        if as_json:
            print_json([f.to_dict() for f in files])
            return
        table = Table("worker", "state", "status", "left", "archive by", "destroy on", "holds")
        for f in files:
            style = {"due": "bold red", "archival_overdue": "red", "held": "yellow", "destroyed": "dim"}.get(f.status)
            table.add_row(f.worker_id[:8], f.state, f.status, str(f.leaving_date or ""),
                          str(f.archival_deadline or ""), str(f.destruction_date or ""), str(f.active_holds),
                          style=style)
        console.print(table)


@retention.command("archive")
def archive(worker_id: str, acting: str = ACTING) -> None:
    """Archive a leaver's file with its destruction date from the policy pack (HR, DPO)."""
    with opened_application() as app:
        due = app.retention.archive_leaver(acting_user(app, acting), worker_id)
        console.print(f"archived; to be destroyed on {due} under {app.policy.policy_pack.short_name}")


@retention.command("propose")
def propose(as_of: str = typer.Option(None, "--as-of", help="judge due dates on this day (default today)"),
            acting: str = ACTING, as_json: bool = typer.Option(False, "--json")) -> None:
    """Propose the files due for destruction, for a second authorised person to approve (the pack's roles)."""
    with opened_application() as app:
        proposal = app.retention.propose_destruction(acting_user(app, acting), as_of=_day(as_of))
        if as_json:
            print_json(proposal_summary(proposal))
            return
        console.print(f"proposal {proposal.id}: {len(proposal.items)} file(s) due on {proposal.as_of}")
        for f in proposal.items:
            console.print(f"  worker {f['worker_id']} — due {f['destruction_date']}", highlight=False)
        console.print("another authorised person approves it with "
                      f"`svl retention approve {proposal.id} --rationale … --as USER`")


@retention.command("approve")
def approve(proposal_id: str, rationale: str = typer.Option(..., help="why the list may be destroyed"),
            acting: str = ACTING) -> None:
    """Approve a destruction proposal (a second person: never the one who proposed it)."""
    with opened_application() as app:
        proposal = app.retention.approve_destruction(acting_user(app, acting), proposal_id, rationale=rationale)
        console.print(f"approved by {proposal.decided_by}: {len(proposal.items)} file(s) may now be destroyed "
                      "with `svl retention run`", highlight=False)


@retention.command("reject")
def reject(proposal_id: str, rationale: str = typer.Option(..., help="why the list must not be destroyed"),
           acting: str = ACTING) -> None:
    """Reject a destruction proposal (a second person); nothing on it is destroyed."""
    with opened_application() as app:
        proposal = app.retention.reject_destruction(acting_user(app, acting), proposal_id, rationale=rationale)
        console.print(f"rejected by {proposal.decided_by}: nothing on it will be destroyed", highlight=False)


@retention.command("proposals")
def proposals(acting: str = ACTING, as_json: bool = typer.Option(False, "--json")) -> None:
    """Destruction proposals, newest first, and who decided on each."""
    with opened_application() as app:
        rows = app.retention.destruction_proposals(acting_user(app, acting))
        if as_json:
            print_json(rows)
            return
        table = Table("proposal", "as of", "files", "status", "proposed by", "decided by")
        for r in rows:
            table.add_row(r["proposal_id"], str(r["as_of"]), str(r["files"]), r["status"], r["proposed_by"],
                          r["decided_by"] or "")
        console.print(table)


@retention.command("run")
def run(proposal_id: str = typer.Argument(None, help="the approved proposal (default: the latest approved)"),
        dry_run: bool = typer.Option(False, "--dry-run", help="list exactly what is due, destroying nothing"),
        as_of: str = typer.Option(None, "--as-of", help="for a dry run: judge due dates on this day (default today)"),
        purge_ciphertext: bool = typer.Option(False, "--purge-ciphertext",
                                              help="also empty the stored ciphertext (the ledger keeps its leaves)"),
        rotate_master_key: bool = typer.Option(
            None, "--rotate-master-key/--keep-master-key",
            help="rotate the master key after destroying, so an older backup cannot unwrap the destroyed keys with "
                 "the current one (default: SVL_RETENTION_ROTATES_MASTER_KEY); needs the service stopped"),
        acting: str = ACTING,
        as_json: bool = typer.Option(False, "--json")) -> None:
    """Destroy the files of an approved proposal still due and not on hold, by deleting their data keys (DPO, HR).
    Safe to rerun after a crash. The destruction certificate names this user, the proposer and the approver."""
    if as_of is not None and not dry_run:
        fail("--as-of is for a dry run: a run destroys the approved list, judged on the day it was proposed for")
    with opened_application() as app:
        outcomes = app.retention.run_retention(acting_user(app, acting), proposal_id,
                                               as_of=_day(as_of) if dry_run else None,
                                               dry_run=dry_run, purge_ciphertext=purge_ciphertext,
                                               rotate_master_key=rotate_master_key,
                                               progress=None if as_json else lambda o: console.print(
                                         f"  {o.status}: worker {o.worker_id[:8]} — {len(o.record_ids)} records, "
                                         f"{o.event_count} events, due {o.destruction_date}"))
        if as_json:
            print_json([o.to_dict() for o in outcomes])
        elif not outcomes:
            console.print("nothing is due")
        else:
            done = [o for o in outcomes if not o.status.startswith("skipped")]
            verb = "would be destroyed" if dry_run else "destroyed"
            console.print(f"{len(done)} file(s) {verb}" + (f", {len(outcomes) - len(done)} skipped"
                                                            if len(done) < len(outcomes) else ""))


@retention.command("certificate")
def certificate(worker: str = typer.Argument(..., help="the destroyed file's worker id, or a unique prefix of it"),
                output: Path = typer.Option(None, "-o", "--output", help="write it to this file (default: print it)"),
                acting: str = ACTING) -> None:
    """A destroyed personal file's signed destruction certificate, as written (the roles the pack's
    destruction_approval names). Anyone checks it offline: `svl-verify FILE --key verifier.vkey`."""
    from api.cli_scheduling import _resolve
    from projections.retention_schedule import retention_files

    with opened_application() as app:
        app.read_models.refresh()
        name, text = app.retention.destruction_certificate(
            acting_user(app, acting), "personal_supervision",
            _resolve(app, retention_files, "worker_id", worker, "worker"))
    write_certificate_out(name, text, output)


def write_certificate_out(name: str, text: str, output: Path | None) -> None:
    """Printed as written, or written whole (never a truncated file) where --output says."""
    if output is None:
        sys.stdout.write(text)  # byte for byte: its signature covers it
        return
    from infrastructure.checkpoints import write_atomically

    write_atomically(output, text)
    console.print(f"{name} written to {output}; check it with `svl-verify {output} --key verifier.vkey`",
                  highlight=False)


def proposal_summary(proposal) -> dict:  # noqa: ANN001 - a DestructionProposal
    return {"proposal_id": str(proposal.id), "as_of": proposal.as_of.isoformat(), "status": proposal.status,
            "proposed_by": proposal.proposed_by, "files": proposal.items}


@hold.command("place")
def place(worker_id: str, kind: str = typer.Option(..., help="investigation | litigation | subject_access_request | other"),
          reason: str = typer.Option(...), reference: str = typer.Option(...),
          acting: str = ACTING) -> None:
    """Hold a worker's file: it will not be destroyed until released (the roles the policy pack names)."""
    with opened_application() as app:
        placed = app.retention.place_hold(acting_user(app, acting), worker_id, kind=kind, reason=reason,
                                          reference=reference)
        console.print(f"hold {placed.id} placed")


@hold.command("release")
def release(hold_id: str, reason: str = typer.Option(...), acting: str = ACTING) -> None:
    """Release a hold (only the roles the policy pack names)."""
    with opened_application() as app:
        released = app.retention.release_hold(acting_user(app, acting), hold_id, reason=reason)
        console.print(f"hold released at {released.released_at}")


@hold.command("list")
def list_holds(worker_id: str = typer.Option(None), as_json: bool = typer.Option(False, "--json"),
               acting: str = ACTING) -> None:
    with opened_application() as app:
        holds = app.retention.list_holds(acting_user(app, acting), worker_id)
        if as_json:
            print_json(holds)
            return
        table = Table("hold", "worker", "kind", "reference", "placed", "released")
        for h in holds:
            table.add_row(h["hold_id"][:8], h["worker_id"][:8], h["kind"], h["reference"], str(h["placed_at"])[:16],
                          str(h["released_at"] or "")[:16])
        console.print(table)


@policy.command("show")
def show(name: str = typer.Argument(None, help="pack name, e.g. hull (default: list them)")) -> None:
    """Show a policy pack (or list the packs)."""
    try:
        if name is None:
            console.print("\n".join(available_packs()))
            return
        # the version in force today, as every view of today uses
        print_json(load_history_by_name(name).in_force_on(date.today()).model_dump(mode="json"))
    except PolicyPackError as exc:
        fail(str(exc))


@policy.command("check")
def check(path: Path) -> None:
    """Validate a policy pack file, every version of it; exit 0 when valid."""
    try:
        history = load_history(path)
    except PolicyPackError as exc:
        fail(str(exc))
        return
    from domain.policy import organisation_settings
    from domain.schedule_rules import incomplete_rules

    pack = history.versions[-1].pack
    missing = incomplete_rules(pack)
    console.print(f"[green]valid:[/] {path} ({pack.organisation.name})")
    for version in history.versions:
        since = f"in force from {version.effective_from}" if version.effective_from else "in force from the start"
        console.print(f"version {version.pack.version}: {since}", highlight=False)
    for key in missing:
        console.print(f"[yellow]still to configure:[/] {key} (destruction is refused until it is set)")
    for key, rule in organisation_settings(pack):
        console.print(f"[cyan]no policy sentence backs:[/] {key} (the organisation's own setting: "
                      f"{rule.note or 'policy silent'})", highlight=False)


def sar(worker_id: str = typer.Argument(..., help="the worker whose data is requested"),
        out: Path = typer.Option(..., "-o", "--out", help="directory to write the export into"),
        received: str = typer.Option(None, help="the day the request was received (default today)"),
        extended: bool = typer.Option(False, help="the response period was extended (complex requests)"),
        acting: str = ACTING,
        purpose: str = typer.Option(None, help="why you read (kept in the access log)")) -> None:
    """Subject access request: everything held about a person (JSON + readable HTML + ledger bundles).

    Acts as a named user (normally the DPO, under a live SAR grant); every record read is logged."""
    from api.subject_access import subject_access_export

    with opened_application() as app:
        who = acting_user(app, acting)
        try:
            export = subject_access_export(app, who, worker_id, received_on=_day(received), extended=extended,
                                           via=cli_via(purpose))
        except AccessDenied as exc:
            fail(f"refused (and logged): {exc}", code=3)
            return
        written = export.write(out)
        request = export.document["subject_access_request"]
        console.print(f"wrote {len(written)} files to {out}: {len(export.bundles)} records with proofs; "
                      f"respond by {request['respond_by']}")
