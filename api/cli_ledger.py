"""`svl verify`, `svl checkpoint`, `svl export-bundle`, `svl ledger ...`: the integrity ledger.

`svl verify` exits 0 when the log is intact, 1 when it found tampering (naming the first divergence),
2 when it could not run (bad option, missing key...).
"""

import json
import sys
from collections.abc import Iterator
from datetime import datetime, timezone
from contextlib import contextmanager
from pathlib import Path

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from api.access_service import AccessDenied, AccessLogUnavailable
from api.cli_records import resolve_record_id
from api.cli_support import ACTING, acting_user, cli_via, console, errors, fail, opened_application, print_json
from infrastructure.checkpoints import SigningKeyMissing, write_atomically
from infrastructure.database import database_errors
from infrastructure.ledger import IntegrityLedger, LedgerError
from infrastructure.ledger_verify import AuditReport
from infrastructure.settings import Settings
from infrastructure.svl_verify import VerificationError

ledger_cli = typer.Typer(help="Proofs from the integrity ledger (hashes only, no content).", no_args_is_help=True)
SHOWN_FINDINGS = 10


def register(app: typer.Typer) -> None:
    app.command()(verify)
    app.command()(checkpoint)
    app.command("export-bundle")(export_bundle)
    app.add_typer(ledger_cli, name="ledger")


@contextmanager
def ledger_errors() -> Iterator[None]:
    """Ledger refusals and missing keys become one clear line and exit 2, never a traceback."""
    try:
        yield
    except (LedgerError, SigningKeyMissing, VerificationError, FileNotFoundError) as exc:
        fail(str(exc))


def verify(checkpoints: Path = typer.Option(None, "--checkpoints", help="a directory of published checkpoints "
                                            "to compare with (e.g. the one handed to an inspector)"),
           key: str = typer.Option(None, "--key", help="the verifier key to trust (text or file); default: the "
                                   "public half of SVL_SIGNING_KEY_FILE"),
           as_json: bool = typer.Option(False, "--json", help="machine-readable report")) -> None:
    """Recompute every leaf and the whole tree from the events as stored, check every checkpoint's
    signature and root, and compare with published checkpoints. Exit 0 if intact, 1 if not."""
    # Reads only (no schema check, key or lock), so it also runs against a hot standby.
    integrity = IntegrityLedger.for_verification(Settings.from_env(), lambda: datetime.now(timezone.utc))
    try:
        with ledger_errors():
            report = _run_verify(integrity, checkpoints, key, show_progress=not as_json)
            newest = integrity.published_size(checkpoints) if checkpoints else None
    except database_errors() as exc:  # unreachable, or not a Supervision Ledger database: one line, exit 2
        fail(f"the database could not be read: {str(getattr(exc, 'orig', None) or exc).strip().splitlines()[0]}")
    finally:
        integrity.engine.dispose()
    unsigned = _unsigned_tail(report, newest, checkpoints)
    if as_json:
        print_json({**report.to_dict(), "newest_published_checkpoint": newest, "events_after_newest_checkpoint":
                    unsigned[0]})
    else:
        _print_report(report, checkpoints)
        console.print(unsigned[1], markup=False, highlight=False)
    if not report.intact:
        raise typer.Exit(1)


def _run_verify(integrity: IntegrityLedger, published: Path | None, key: str | None,
                show_progress: bool) -> AuditReport:
    if not show_progress:
        return integrity.verify(published_dir=published, verifier_key=key)
    columns = (TextColumn("verifying"), BarColumn(), MofNCompleteColumn(), TextColumn("leaves"),
               TimeRemainingColumn())
    with Progress(*columns, console=errors, transient=True) as bar:
        task = bar.add_task("verify", total=None)
        return integrity.verify(published_dir=published, verifier_key=key,
                                on_start=lambda total: bar.update(task, total=total),
                                progress=lambda done: bar.update(task, completed=done))


def _print_report(report: AuditReport, published: Path | None) -> None:
    if report.intact:
        console.print(f"[bold green]intact:[/] {report.events:,} events, {report.leaves:,} ledger leaves, "
                      f"root {report.root.hex()}")
        console.print(f"  checkpoints verified: {report.checkpoints_checked} stored"
                      + (f", {report.published_checked} published ({published})" if published else "")
                      + (f"; latest covers {report.latest_checkpoint:,} events"
                         if report.latest_checkpoint is not None else ""))
    else:
        first = report.first
        assert first is not None
        errors.print(f"[bold red]TAMPERED[/] — first divergence: {escape(first.describe())}", highlight=False)
        more = report.findings[1:SHOWN_FINDINGS]
        if more:
            errors.print(f"  and {report.findings_total - 1} more:")
            for finding in more:
                errors.print(f"   - {finding.describe()}", markup=False, highlight=False)
        console.print(f"checked {report.events:,} events, {report.leaves:,} ledger leaves, "
                      f"{report.checkpoints_checked} stored and {report.published_checked} published checkpoint(s)")
    for (rule, on, rechecked), ids in _purges_by_rule(report.purged).items():
        how = "leaves re-checked from the kept digests" if rechecked else "content gone, places in the log kept"
        console.print(f"  {len(ids)} event(s) destroyed under {rule} on {on} ({how}): notification ids "
                      f"{_id_ranges(ids)}", markup=False, highlight=False)
    if report.unused_notification_ids:
        console.print(f"  {report.unused_notification_ids} notification id(s) were never used (writes that rolled "
                      "back): not a divergence")


def _unsigned_tail(report: AuditReport, published: int | None, directory: Path | None) -> tuple[int, str]:
    """How many ledger leaves no checkpoint covers yet: nobody outside could notice them removed."""
    if directory is not None:
        newest = published or 0
        where = f"the newest checkpoint published in {directory}" + (f" (size {published:,})" if published else
                                                                     " (none there)")
    else:
        newest = report.latest_checkpoint or 0
        where = "the newest stored checkpoint (pass --checkpoints DIR to compare with a published one)"
    after = max(0, report.leaves - newest)
    return after, f"  {after:,} event(s) lie after {where}"


def _purges_by_rule(purged: list) -> dict[tuple[str, str, bool], list[int]]:
    """One line per destruction (rule and day), not one per event."""
    grouped: dict[tuple[str, str, bool], list[int]] = {}
    for nid, purge, rechecked in purged:
        grouped.setdefault((purge.rule, purge.on, rechecked), []).append(nid)
    return grouped


def _id_ranges(ids: list[int]) -> str:
    """[3, 4, 5, 9] -> "3-5, 9"."""
    spans: list[list[int]] = []
    for nid in sorted(ids):
        if spans and nid == spans[-1][1] + 1:
            spans[-1][1] = nid
        else:
            spans.append([nid, nid])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in spans)


def checkpoint(publish: Path = typer.Option(None, "--publish", help="also publish into this directory "
                                            "(default: SVL_CHECKPOINT_DIR)"),
               as_json: bool = typer.Option(False, "--json", help="machine-readable output")) -> None:
    """Sign a checkpoint of the ledger now (after proving it consistent with the previous one), and
    publish it as a file that can be handed to a third party."""
    with opened_application(automatic_checkpoints=False) as app, ledger_errors():  # it signs itself, below
        outcome = app.integrity.checkpoint() if publish is None else app.integrity.checkpoint(publish_to=publish)
        vkey = app.integrity.verifier_key()
    cp = outcome.checkpoint
    if as_json:
        print_json({"tree_size": cp.tree_size, "created": outcome.created, "note": outcome.note,
                    "published": str(outcome.published) if outcome.published else None, "verifier_key": vkey,
                    "witnesses": [{"witness": w.witness, "cosigned": w.cosigned, "message": w.message}
                                  for w in outcome.witnesses]})
        return
    what = "signed" if outcome.created else "unchanged since the last checkpoint"
    console.print(f"[green]checkpoint {what}:[/] {cp.tree_size:,} events")
    sys.stdout.write(outcome.note)  # verbatim: a wrapped signature line would no longer verify
    sys.stdout.write(f"verifier key: {vkey}\n")
    sys.stdout.flush()
    for w in outcome.witnesses:
        (console if w.cosigned else errors).print(f"witness {w.witness}: {w.message}", markup=False, highlight=False)
    if outcome.published:
        console.print(f"published: {outcome.published}")
    else:
        console.print("[yellow]not published:[/] set SVL_CHECKPOINT_DIR or pass --publish DIR; a checkpoint kept "
                      "only in the database proves nothing to an outsider")


def export_bundle(record_id: str = typer.Argument(..., help="record id or a unique prefix of it"),
                  output: Path = typer.Option(..., "-o", "--output", help="the bundle file to write (JSON)"),
                  with_content: bool = typer.Option(False, "--with-content", help="add the decrypted content and the "
                                                    "data key that proves it (a content read: needs --as, logged)"),
                  consistency_from: list[int] = typer.Option([], "--consistency-from", help="also link to the "
                                                             "checkpoint of this size (repeatable)"),
                  acting: str = ACTING) -> None:
    """Write one JSON file an outsider checks with `svl-verify FILE`: the record's events as stored, their
    inclusion proofs in the latest signed checkpoint, the checkpoint and the verifier key."""
    with opened_application() as app, ledger_errors():
        rid = resolve_record_id(app, record_id)
        if with_content:
            who = acting_user(app, acting)
            try:
                app.access.read_record_content(who, rid, action="export_bundle", via=cli_via())
            except AccessDenied as exc:
                fail(f"refused (and logged): {exc}", code=3)
            except AccessLogUnavailable as exc:
                fail(str(exc), code=4)
        bundle = app.integrity.export_bundle(rid, with_content=with_content, consistency_from=consistency_from)
    # Whole or not at all; a bundle carrying a data key is readable by its owner only.
    write_atomically(output, json.dumps(bundle, indent=2, ensure_ascii=False) + "\n",
                     mode=0o600 if with_content else 0o644)
    console.print(f"[green]bundle written:[/] {output} — {len(bundle['events'])} event(s) of record {rid}, "
                  f"proved in the checkpoint of size {bundle['checkpoint'].splitlines()[1]}")
    if with_content:
        errors.print("[bold yellow]warning:[/] the bundle carries a data key: it opens every event sealed with it "
                     "(all of that worker's records). Hand it only to someone entitled to read them.")
    console.print(f"check it with: svl-verify {output}  (an outsider adds --key with the published verifier key)")


@ledger_cli.command("proof")
def proof(notification_id: int = typer.Argument(..., help="the event's notification id"),
          tree_size: int = typer.Option(None, "--tree-size", help="a checkpoint's size; default: the latest")) -> None:
    """Inclusion proof of one event in a signed checkpoint (JSON)."""
    with opened_application(automatic_checkpoints=False) as app, ledger_errors():  # reads only
        print_json(app.integrity.inclusion(notification_id, tree_size))


@ledger_cli.command("consistency")
def consistency(from_size: int = typer.Argument(..., help="the size of the tree you hold"),
                to_size: int = typer.Argument(None, help="a checkpoint's size; default: the latest")) -> None:
    """Consistency proof between two tree sizes (JSON)."""
    with opened_application(automatic_checkpoints=False) as app, ledger_errors():  # reads only
        print_json(app.integrity.consistency(from_size, to_size))


@ledger_cli.command("key")
def key() -> None:
    """Print the organisation's verifier key (public): publish it beside the checkpoints."""
    with opened_application(automatic_checkpoints=False) as app, ledger_errors():  # reads only
        sys.stdout.write(app.integrity.verifier_key() + "\n")
