"""Record pages: my records and what needs me, a record (a logged read), the steps of its life as forms
(share, ask for an amendment, amend or decline, sign), drafting from the pack's template, my supervisees, who
read my records, and the signed copy as a PDF. Each page makes its application calls through api/web/commands.py
and turns refusals into the error pages of api/web/site.py."""

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import ValidationError

from api.access_service import AccessDenied
from api.errors import NotFound
from api.record_history import NameBook, record_view
import api.web.case_record_commands as case_records
import api.web.commands as commands
import api.web.scheduling_commands as scheduling
from api.web.record_form import FormErrors, RecordForm, error_field
from api.web.site import checked_form, notice, page, redirect, signed_in, via, web_of
from domain.errors import DomainError, NotPermitted
from domain.record_template import titled_sections
from domain.supervision_record import SupervisionRecord
from infrastructure.users import Principal

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50  # records listed per page, newest first
NEEDS_SHOWN = 20  # of the records waiting for the signed-in person, newest first
STATE_NAMES = {"draft": "Draft", "shared": "Shared with supervisee", "amendment_requested": "Amendment requested",
               "signed_by_supervisee": "Signed by supervisee", "locked": "Signed by both"}
STATE_COLOURS = {"draft": "grey", "shared": "blue", "amendment_requested": "orange",
                 "signed_by_supervisee": "turquoise", "locked": "green"}


# -- lists ------------------------------------------------------------------------------------------------

@router.get("/records")
def my_records(request: Request, who: Principal = Depends(signed_in), page_number: int = Query(1, alias="page",
               ge=1, le=10**6)) -> Response:
    app = web_of(request).application
    rows = commands.readable_records(app, who)
    needs = {r["record_id"]: n for r in rows if (n := _needs(r, who))}
    needs_me = [r for r in reversed(rows) if r["record_id"] in needs]
    pages = max(1, -(-len(rows) // PAGE_SIZE))
    number = min(page_number, pages)
    shown = list(reversed(rows))[(number - 1) * PAGE_SIZE: number * PAGE_SIZE]
    first_needs = needs_me[:NEEDS_SHOWN]
    next_session = scheduling.next_session(app, who)
    to_sign = scheduling.agreements_to_sign(app, who)
    # One look-up for every name the page shows (each is a worker's sealed events, read and decrypted), the
    # signed-in person's own for the header among them.
    names = commands.names(app, [who.worker_id, next_session["supervisor_id"] if next_session else None,
                                 *(r[p] for r in shown + first_needs for p in ("supervisee_id", "supervisor_id")),
                                 *(a[p] for a in to_sign for p in ("worker_id", "supervisor_id"))])
    case_decisions = _case_decisions_waiting(app, who)
    return page(request, "records.html", who=who, rows=shown, needs_me=first_needs, needing=len(needs_me),
                case_decisions=len(case_decisions),
                case_overdue=sum(1 for r in case_decisions if r.status == "overdue"),
                needs=needs, names=names, next_session=next_session, agreements_to_sign=to_sign,
                state_names=STATE_NAMES, state_colours=STATE_COLOURS, number=number, pages=pages, total=len(rows))


def _case_decisions_waiting(app: Any, who: Principal) -> list:
    """The case decisions still to go on the child's record that the application shows this person (none where
    the pack keeps no case supervision records, or to someone it does not show them to)."""
    if not who.worker_id or case_records.case_class(app) is None:
        return []
    try:
        return [r for r in case_records.decisions_due(app, who) if r.status in ("due", "overdue")]
    except AccessDenied:
        return []


def _needs(row: dict, who: Principal) -> str | None:
    """What the signed-in person is asked to do next (the domain still decides when they try)."""
    if row["supervisee_id"] == who.worker_id and row["state"] == "shared":
        return "Agree and sign, or ask for an amendment"
    if row["supervisor_id"] == who.worker_id:
        return {"draft": "Share with the supervisee", "amendment_requested": "Answer the amendment request",
                "signed_by_supervisee": "Sign"}.get(row["state"])
    return None


@router.get("/supervisees")
def supervisees(request: Request, who: Principal = Depends(signed_in)) -> Response:
    rows = commands.my_supervisees(web_of(request).application, who)
    return page(request, "supervisees.html", who=who, rows=rows)


@router.get("/reads")
def reads(request: Request, who: Principal = Depends(signed_in)) -> Response:
    entries = list(reversed(commands.reads_of_my_records(web_of(request).application, who)))
    return page(request, "reads.html", who=who, entries=entries)


# -- one record --------------------------------------------------------------------------------------------

@router.get("/records/{record_id}")
def record_page(record_id: UUID, request: Request, who: Principal = Depends(signed_in)) -> Response:
    return _record(request, who, record_id)


def _record(request: Request, who: Principal, record_id: UUID | str, status: int = 200,
            errors: FormErrors | None = None, values: dict | None = None) -> Response:
    app = web_of(request).application
    record, decision = commands.read(app, who, via(request), record_id)
    return page(request, "record.html", status, who=who, **record_page_view(request, record, who),
                basis=decision.basis, errors=errors or FormErrors(), values=values or {})


def record_page_view(request: Request, record: SupervisionRecord, who: Principal) -> dict[str, Any]:
    app = web_of(request).application
    names = NameBook(app)
    view = record_view(record, names)
    template = commands.record_template(app)
    other_text, sections = titled_sections(record.content["discussion"], template)
    return {"record": view, "party": record.party(who.worker_id) if who.worker_id else None,
            "sections": sections, "other_text": other_text, "name": names.name, "state_names": STATE_NAMES,
            "state_colours": STATE_COLOURS}


@router.post("/records/{record_id}/share")
def share(record_id: UUID, request: Request, who: Principal = Depends(signed_in),
          form: dict[str, str] = Depends(checked_form)) -> Response:
    commands.share(web_of(request).application, who, via(request), str(record_id), _int(form, "expected_version"))
    notice(request, "You shared the record with your supervisee. They can now agree and sign it, or ask for "
                    "an amendment.")
    return redirect(f"/records/{record_id}")


@router.post("/records/{record_id}/amendment-request")
def request_amendment(record_id: UUID, request: Request, who: Principal = Depends(signed_in),
                      form: dict[str, str] = Depends(checked_form)) -> Response:
    text = form.get("text", "")
    errors = FormErrors()
    if not text.strip():
        errors.add("text", "Enter what should change in the record")
    else:
        try:
            commands.request_amendment(web_of(request).application, who, via(request), str(record_id), text,
                                       _int(form, "based_on_version"), _int(form, "expected_version"))
        except ValidationError as exc:
            errors.add("text", _first(exc))
        except DomainError as exc:
            if not _refusal(exc):
                raise
            errors.add("text", str(exc))
    if errors:
        return _record(request, who, record_id, 422, errors, {"text": text})
    notice(request, "You asked for an amendment. Your supervisor will amend the record or record why not.")
    return redirect(f"/records/{record_id}")


@router.post("/records/{record_id}/decline")
def decline(record_id: UUID, request: Request, who: Principal = Depends(signed_in),
            form: dict[str, str] = Depends(checked_form)) -> Response:
    rationale = form.get("rationale", "")
    errors = FormErrors()
    if not rationale.strip():
        errors.add("rationale", "Enter why you are not making the amendment")
    else:
        try:
            commands.decline(web_of(request).application, who, via(request), str(record_id), rationale,
                             _int(form, "expected_version"))
        except ValidationError as exc:
            errors.add("rationale", _first(exc))
    if errors:
        return _record(request, who, record_id, 422, errors, {"rationale": rationale})
    notice(request, "You declined the amendment. It is kept on the record as an area of disagreement, with "
                    "your rationale.")
    return redirect(f"/records/{record_id}")


@router.get("/records/{record_id}/sign")
def sign_page(record_id: UUID, request: Request, who: Principal = Depends(signed_in)) -> Response:
    app = web_of(request).application
    record, _ = commands.read(app, who, via(request), record_id)
    return page(request, "sign.html", who=who, **record_page_view(request, record, who))


@router.post("/records/{record_id}/sign")
def sign(record_id: UUID, request: Request, who: Principal = Depends(signed_in),
         form: dict[str, str] = Depends(checked_form)) -> Response:
    try:
        commands.sign(web_of(request).application, who, via(request), str(record_id), form.get("content_sha256", ""),
                      _int(form, "expected_version"))
    except ValidationError:
        raise DomainError("the signed fingerprint was not a SHA-256: go back to the record and sign again") from None
    notice(request, "You signed the record.")
    return redirect(f"/records/{record_id}")


@router.get("/records/{record_id}/copy.pdf")
def copy(record_id: UUID, request: Request, who: Principal = Depends(signed_in)) -> Response:
    """The signed copy, with the record's ledger bundle attached: producing it is a logged read, like any other."""
    from api.web.copy import signed_copy  # fpdf2 takes seconds to import: only when a copy is asked for

    app = web_of(request).application
    record, bundle = commands.read_with_bundle(app, who, via(request), record_id, action="download_copy")
    view = record_page_view(request, record, who)
    pdf = signed_copy(view["record"], view["sections"], view["other_text"], view["name"],
                      app.storage.settings.organisation_origin, bundle)
    return Response(pdf, media_type="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="supervision-record-{record.id}.pdf"'})


# -- drafting and amending ---------------------------------------------------------------------------------

@router.get("/records/new/{supervisee_id}")
def new_record(supervisee_id: UUID, request: Request, who: Principal = Depends(signed_in)) -> Response:
    app = web_of(request).application
    names = commands.names(app, [str(supervisee_id), who.worker_id])
    form = RecordForm.blank([names.get(who.worker_id or "", ""), names.get(str(supervisee_id), "")])
    return _form_page(request, who, form, FormErrors(), supervisee=names.get(str(supervisee_id)),
                      action=f"/records/new/{supervisee_id}")


@router.post("/records/new/{supervisee_id}")
def draft(supervisee_id: UUID, request: Request, who: Principal = Depends(signed_in),
          form: dict[str, str] = Depends(checked_form)) -> Response:
    app = web_of(request).application
    template = commands.record_template(app)
    submitted = RecordForm.from_submitted(form, template)
    errors = FormErrors()
    content = submitted.content(template, errors)
    if not errors:
        try:
            record_id = commands.draft(app, who, via(request), str(supervisee_id), content)
        except ValidationError as exc:
            _field_errors(exc, errors, template, ("",))
        except DomainError as exc:
            if not _refusal(exc):
                raise
            errors.add(error_field(str(exc), submitted, template), str(exc))
    if errors:
        names = commands.names(app, [str(supervisee_id)])
        return _form_page(request, who, submitted.padded(), errors, 422, supervisee=names.get(str(supervisee_id)),
                          action=f"/records/new/{supervisee_id}")
    notice(request, "You drafted the record. Check it, then share it with your supervisee.")
    return redirect(f"/records/{record_id}")


@router.get("/records/{record_id}/amend")
def amend_page(record_id: UUID, request: Request, who: Principal = Depends(signed_in)) -> Response:
    app = web_of(request).application
    record, _ = commands.read(app, who, via(request), record_id)
    form = RecordForm.from_content(record.content, commands.record_template(app))
    return _form_page(request, who, form, FormErrors(), record=record_view(record, NameBook(app)),
                      action=f"/records/{record_id}/amend")


@router.post("/records/{record_id}/amend")
def amend(record_id: UUID, request: Request, who: Principal = Depends(signed_in),
          form: dict[str, str] = Depends(checked_form)) -> Response:
    app = web_of(request).application
    template = commands.record_template(app)
    submitted = RecordForm.from_submitted(form, template)
    errors = FormErrors()
    content = submitted.content(template, errors)
    if not errors:
        try:
            commands.amend(app, who, via(request), str(record_id), content, _int(form, "based_on_version"),
                           _int(form, "expected_version"))
        except ValidationError as exc:
            _field_errors(exc, errors, template, ("content",))
        except DomainError as exc:
            if not _refusal(exc):
                raise
            errors.add(error_field(str(exc), submitted, template), str(exc))
    if errors:
        record, _ = commands.read(app, who, via(request), record_id)
        return _form_page(request, who, submitted.padded(), errors, 422, record=record_view(record, NameBook(app)),
                          action=f"/records/{record_id}/amend")
    notice(request, "You amended the record. Your supervisee can now agree and sign it.")
    return redirect(f"/records/{record_id}")


def _form_page(request: Request, who: Principal, form: RecordForm, errors: FormErrors, status: int = 200,
               **context: Any) -> Response:
    return page(request, "record_form.html", status, who=who, form=form, errors=errors,
                pack_template=commands.record_template(web_of(request).application), **context)


# -- 409 ----------------------------------------------------------------------------------------------------

def conflict_page(request: Request, exc: commands.Stale) -> Response:
    """Someone changed the record first: the newer version is shown (a logged read, as any other)."""
    who = signed_in(request)
    record, _ = commands.read(web_of(request).application, who, via(request), exc.record_id)
    return page(request, "conflict.html", 409, who=who, message=str(exc), **record_page_view(request, record, who))


# -- helpers ------------------------------------------------------------------------------------------------

def _int(form: dict[str, str], name: str) -> int:
    try:
        return int(form.get(name, ""))
    except ValueError:
        raise DomainError(f"the form was missing its {name.replace('_', ' ')}: go back, reload and try again"
                          ) from None


def _refusal(exc: DomainError) -> bool:
    """A refusal of what was written (shown beside the field), not of who wrote it (the 403 page) or of an id
    that no longer answers (404, 410)."""
    return not isinstance(exc, (NotPermitted, NotFound))


def _first(exc: ValidationError) -> str:
    error = exc.errors()[0]
    return f"{error.get('msg', 'not valid')}"


def _field_errors(exc: ValidationError, errors: FormErrors, template: Any, prefix: tuple[str, ...]) -> None:
    for e in exc.errors():
        loc = [str(p) for p in e.get("loc", ())]
        if loc and loc[0] == "content":
            loc = loc[1:]
        head = loc[0] if loc else ""
        field = {"session_date": "session_date-day", "attendees": "attendees", "agenda": "agenda",
                 "discussion": f"section-{template.sections[0].key}"}.get(head)
        if head in ("actions", "case_discussions") and len(loc) >= 3:
            field = f"{'action' if head == 'actions' else 'case'}-{int(loc[1]) + 1}-{loc[2]}"
        what = head.replace("_", " ").capitalize() or "The record"
        if head in ("actions", "case_discussions") and len(loc) >= 3:
            what = f"{'Action' if head == 'actions' else 'Case'} {int(loc[1]) + 1}, {loc[2].replace('_', ' ')}"
        errors.add(field or f"section-{template.sections[0].key}", f"{what}: {e.get('msg', 'not valid')}")
