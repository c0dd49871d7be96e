"""The data protection officer's pages: the retention schedule; proposing the files due for destruction (a dry run
shows what would go); a second authorised person's approval or rejection, confirmed; legal holds placed and
released with reasons; the destruction run, confirmed; the certificates, to read and download; the subject access
export. Each page calls the same application commands as /api/v1/retention, with the same acting person, so the
rules (who may, never the proposer approving) stay in the application and the domain."""

import json
from collections import Counter
from collections.abc import Iterable
from datetime import date
from uuid import UUID

from fastapi import APIRouter, Depends, Request
from fastapi.responses import PlainTextResponse, Response

from api.application import SupervisionApplication
from api.errors import Destroyed, NotFound
from api.ids import is_id
from api.retention_service import ScheduledFile
import api.web.commands as commands
from api.web.record_form import FormErrors
from api.web.site import checked_form, notice, page, redirect, signed_in, via, web_of
from domain.errors import DomainError, NotPermitted, OutOfOrder
from domain.retention import HoldKind
from domain.case_record_disposal import CASE_RECORD_CLASS
from domain.destruction_proposal import PERSONAL
from infrastructure.svl_verify import verify_certificate
from infrastructure.users import Principal

router = APIRouter(include_in_schema=False)
CONFIRM = "confirmed"
GONE = ("destroying", "destroyed")  # a file in these states has no name left to show, and can be neither held nor
# exported: its key is destroyed (or being destroyed) with it


@router.get("/retention")
def schedule(request: Request, who: Principal = Depends(signed_in)) -> Response:
    return _schedule(request, who)


def _schedule(request: Request, who: Principal, status: int = 200, errors: list | None = None,
              values: dict | None = None, planned: list | None = None) -> Response:
    app = web_of(request).application
    proposals = app.retention.destruction_proposals(who)  # refused here to anyone the pack does not name
    today = app.clock().date()
    files = app.retention.retention_schedule(today)
    names = _names(app, files, [a for p in proposals for a in (p.get("proposed_by"), p.get("decided_by"))])
    return page(request, "retention.html", status, who=who, files=files, proposals=proposals, today=today,
                errors=errors or [], values=values or {}, planned=planned, names=names,
                people=_people(files, names))


@router.post("/retention/dry-run")
def dry_run(request: Request, who: Principal = Depends(signed_in), form: dict[str, str] = Depends(checked_form)
            ) -> Response:
    app = web_of(request).application
    as_of, errors = _as_of(form, app.clock().date())
    if errors:
        return _schedule(request, who, 422, errors, form)
    return _schedule(request, who, values=form, planned=app.retention.run_retention(who, as_of=as_of, dry_run=True))


@router.post("/retention/proposals")
def propose(request: Request, who: Principal = Depends(signed_in), form: dict[str, str] = Depends(checked_form)
            ) -> Response:
    app = web_of(request).application
    as_of, errors = _as_of(form, app.clock().date())
    if not errors:
        try:
            proposal = app.retention.propose_destruction(who, as_of=as_of)
        except NotPermitted:
            raise
        except DomainError as exc:
            errors = [{"text": str(exc), "href": "#as_of"}]
    if errors:
        return _schedule(request, who, 422, errors, form)
    notice(request, f"{len(proposal.items)} file(s) proposed for destruction. A second authorised person must "
                    "now approve the list.")
    return redirect(f"/retention/proposals/{proposal.id}")


@router.get("/retention/proposals/{proposal_id}")
def proposal_page(proposal_id: UUID, request: Request, who: Principal = Depends(signed_in)) -> Response:
    return _proposal(request, who, proposal_id)


def _proposal(request: Request, who: Principal, proposal_id: UUID, status: int = 200,
              errors: list | None = None, values: dict | None = None) -> Response:
    app = web_of(request).application
    proposal = app.retention.read_proposal(who, proposal_id)
    files = app.retention.retention_schedule(proposal.as_of)
    today = {f.worker_id: f.status for f in files}
    listed = {i["worker_id"] for i in proposal.items}
    actors = _names(app, [f for f in files if f.worker_id in listed], [proposal.proposed_by, proposal.decided_by])
    return page(request, "proposal.html", status, who=who, proposal=proposal, now=today, actors=actors,
                mine=proposal.proposer_user == who.user_id, errors=errors or [], values=values or {})


@router.post("/retention/proposals/{proposal_id}/{step}")
def review(proposal_id: UUID, step: str, request: Request, who: Principal = Depends(signed_in),
           form: dict[str, str] = Depends(checked_form)) -> Response:
    app = web_of(request).application
    if step not in ("approve", "reject", "run"):
        return page(request, "problem.html", 404, title="Page not found", message="There is no such step.")
    errors = []  # in the order the fields are on the page
    rationale = form.get("rationale", "").strip()
    if step != "run" and not rationale:
        errors.append({"text": "Give your reason, for the record and the certificate", "href": f"#{step}-rationale"})
    if form.get(CONFIRM) != "yes":
        what = {"approve": "you have checked the list", "reject": "you want to reject the list",
                "run": "you want these files destroyed now"}[step]
        errors.append({"text": f"Confirm that {what}", "href": f"#{step}-{CONFIRM}"})
    if errors:
        return _proposal(request, who, proposal_id, 422, errors, form)
    try:
        if step == "run":
            outcomes = app.retention.run_retention(who, proposal_id)
        else:
            decide = app.retention.approve_destruction if step == "approve" else app.retention.reject_destruction
            decide(who, proposal_id, rationale=rationale)
    except (NotPermitted, NotFound):
        raise
    except DomainError as exc:
        return _proposal(request, who, proposal_id, 422, [{"text": str(exc), "href": f"#{step}-rationale"
                                                           if step != "run" else f"#{step}-{CONFIRM}"}], form)
    if step == "run":
        destroyed = sum(1 for o in outcomes if o.status.endswith("destroyed"))
        notice(request, f"{destroyed} file(s) destroyed; {len(outcomes) - destroyed} left (on hold since the "
                        "proposal, or destroyed already). Each has its certificate below.")
        return redirect("/retention/certificates")
    notice(request, "List approved: it may now be destroyed." if step == "approve" else "List rejected: nothing "
                    "on it will be destroyed.")
    return redirect(f"/retention/proposals/{proposal_id}")


@router.get("/retention/holds")
def holds(request: Request, who: Principal = Depends(signed_in)) -> Response:
    return _holds(request, who)


def _holds(request: Request, who: Principal, status: int = 200, errors: FormErrors | None = None,
           values: dict | None = None) -> Response:
    app = web_of(request).application
    listed = app.retention.list_holds(who)
    files = app.retention.retention_schedule(app.clock().date())
    names = _names(app, files, [h.get("placed_by") for h in listed])
    return page(request, "holds.html", status, who=who, holds=listed, people=_people(files, names),
                kinds=list(HoldKind), errors=errors or FormErrors(), values=values or {}, names=names)


@router.post("/retention/holds")
def place_hold(request: Request, who: Principal = Depends(signed_in), form: dict[str, str] = Depends(checked_form)
               ) -> Response:
    fields = {k: form.get(k, "").strip() for k in ("worker_id", "kind", "reason", "reference")}
    errors = FormErrors()  # in the order the fields are on the page
    if not is_id(fields["worker_id"]):
        errors.add("worker_id", "Choose whose file to hold" if not fields["worker_id"] else
                   "Choose whose file to hold from the list")
    if not fields["reason"]:
        errors.add("reason", "Give the reason for the hold")
    if not fields["reference"]:
        errors.add("reference", "Give a reference, for example the investigation number")
    if not errors:
        try:
            web_of(request).application.retention.place_hold(who, fields["worker_id"], kind=fields["kind"],
                                                             reason=fields["reason"], reference=fields["reference"])
        except NotPermitted:
            raise
        except NotFound:  # no such member of staff: the list offers only those there are
            errors.add("worker_id", "Choose whose file to hold from the list")
        except OutOfOrder as exc:  # the file is destroyed, or being destroyed, since the page was shown
            errors.add("worker_id", str(exc).capitalize())
        except DomainError as exc:
            errors.add("kind", str(exc).capitalize())
    if errors:
        return _holds(request, who, 422, errors, fields)
    notice(request, "Hold placed: the file will not be destroyed until the hold is released.")
    return redirect("/retention/holds")


@router.post("/retention/holds/{hold_id}/release")
def release_hold(hold_id: UUID, request: Request, who: Principal = Depends(signed_in),
                 form: dict[str, str] = Depends(checked_form)) -> Response:
    reason = form.get("reason", "").strip()
    if not reason:
        return _holds(request, who, 422, FormErrors({f"release-{hold_id}": "Give the reason for releasing the hold"}))
    web_of(request).application.retention.release_hold(who, hold_id, reason=reason)
    notice(request, "Hold released.")
    return redirect("/retention/holds")


@router.get("/retention/certificates")
def certificates(request: Request, who: Principal = Depends(signed_in)) -> Response:
    app = web_of(request).application
    app.retention.destruction_proposals(who)  # the same people as the proposals
    key = app.integrity.verifier_key()
    shown = []
    for f in app.retention.retention_schedule(app.clock().date()):
        path = app.retention.certificate_path(f.worker_id)
        if f.state == "destroyed" and path.exists():
            report = verify_certificate(json.loads(path.read_text()), trusted_key=key)
            shown.append({"file": f, "verified": report.verified, "proves": report.proves,
                          "problems": report.problems})
    # Case supervision records (bcp, bury) are destroyed on their own schedule, each with its own certificate.
    case_records = []
    for r, path in app.case_records.case_record_certificates(who):
        report = verify_certificate(json.loads(path.read_text()), trusted_key=key)
        case_records.append({"record": r, "verified": report.verified, "proves": report.proves,
                             "problems": report.problems})
    return page(request, "certificates.html", who=who, certificates=shown, case_records=case_records,
                keeps_case_records=any(c.name == CASE_RECORD_CLASS for c in app.case_records.record_classes()))


@router.get("/retention/certificates/case-supervision/{record_id}.json")
def case_record_certificate_file(record_id: UUID, request: Request, who: Principal = Depends(signed_in)) -> Response:
    return _certificate(request, who, CASE_RECORD_CLASS, record_id)


@router.get("/retention/certificates/{worker_id}.json")
def certificate_file(worker_id: UUID, request: Request, who: Principal = Depends(signed_in)) -> Response:
    return _certificate(request, who, PERSONAL.name, worker_id)


def _certificate(request: Request, who: Principal, record_class: str, item_id: UUID) -> Response:
    name, text = web_of(request).application.retention.destruction_certificate(who, record_class, item_id)
    return PlainTextResponse(text, media_type="application/json", headers={
        "Content-Disposition": f'attachment; filename="{name}"'})


@router.post("/retention/sar")
def subject_access(request: Request, who: Principal = Depends(signed_in),
                   form: dict[str, str] = Depends(checked_form)) -> Response:
    """The export as one JSON file (as POST /api/v1/sar): every record read in it is logged first."""
    app = web_of(request).application
    worker_id = form.get("worker_id", "").strip()
    problem = None if is_id(worker_id) else "Choose whose data was requested" + (" from the list" if worker_id
                                                                                 else "")
    if problem is None:
        try:
            export = commands.subject_access(app, who, via(request, form.get("purpose", "subject access request")),
                                             UUID(worker_id), app.clock().date())
        except Destroyed:
            raise  # its own page: nothing is held about them any more
        except NotFound:  # no such member of staff (nothing was read, so nothing is logged)
            problem = "Choose whose data was requested from the list"
    if problem is not None:
        return _schedule(request, who, 422, [{"text": problem, "href": "#sar-worker_id"}],
                         {"sar_worker_id": worker_id})
    body = json.dumps({**export.document, "bundles": export.bundles}, indent=2, default=str)
    return PlainTextResponse(body, media_type="application/json", headers={
        "Content-Disposition": f'attachment; filename="subject-access-{worker_id}.json"'})


def _names(app: SupervisionApplication, files: list[ScheduledFile], actors: Iterable[str | None]) -> dict[str, str]:
    """The page's one look-up of names (they live only in the sealed events): each file's worker, but for a file
    destroyed or being destroyed, whose name went with its key, and whoever acted on the page's lists."""
    return commands.actor_names(app, [*(f.worker_id for f in files if f.state not in GONE), *actors])


def _people(files: list[ScheduledFile], names: dict[str, str]) -> list[dict]:
    """Whom the forms offer, by name from A to Z: every member of staff and leaver whose file is not destroyed.
    The id is each choice's value; it is shown only beside a name two people share, to tell them apart."""
    kept = [f for f in files if f.state not in GONE]
    shared = Counter(names[f.worker_id] for f in kept)
    return sorted(({"worker_id": f.worker_id, "name": names[f.worker_id] + (f" ({f.worker_id[:8]})"
                                                                            if shared[names[f.worker_id]] > 1 else "")}
                   for f in kept), key=lambda p: (p["name"].casefold(), p["worker_id"]))



def _as_of(form: dict[str, str], today: date) -> tuple[date, list[dict]]:
    text = form.get("as_of", "").strip()
    if not text:
        return today, []
    try:
        return date.fromisoformat(text), []
    except ValueError:
        return today, [{"text": "The date must be a real date, like 2026-11-30", "href": "#as_of"}]
