"""Addenda to a signed record: either party adds one with its reason (signing it as they add it), and the other
party countersigns it on a page that shows exactly what they sign and its fingerprint; nobody types a hash.
The application's commands (add_addendum, countersign_addendum) decide who may and when; a record that changed
first is the 409 page."""

from uuid import UUID

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import Response
from pydantic import ValidationError

import api.web.commands as commands
from api.errors import NotFound
from api.web.record_form import FormErrors
from api.web.record_pages import _int, _refusal, record_page_view
from api.web.site import checked_form, notice, page, redirect, signed_in, via, web_of
from domain.errors import DomainError
from infrastructure.users import Principal

router = APIRouter(include_in_schema=False)
FIELDS = ("reason", "text")


@router.get("/records/{record_id}/addenda/new")
def new_addendum(record_id: UUID, request: Request, who: Principal = Depends(signed_in)) -> Response:
    return _form(request, who, record_id)


@router.post("/records/{record_id}/addenda")
def add(record_id: UUID, request: Request, who: Principal = Depends(signed_in),
        form: dict[str, str] = Depends(checked_form)) -> Response:
    values = {k: form.get(k, "") for k in FIELDS}
    errors = FormErrors()
    if not values["reason"].strip():
        errors.add("reason", "Enter the reason for the addendum")
    if not values["text"].strip():
        errors.add("text", "Enter what the addendum says")
    if not errors:
        try:
            commands.add_addendum(web_of(request).application, who, via(request), str(record_id), values["text"],
                                  values["reason"], _int(form, "expected_version"))
        except ValidationError as exc:
            for e in exc.errors():
                head = str((e.get("loc") or ("text",))[0])
                errors.add(head if head in FIELDS else "text", f"{_label(head)}: {e.get('msg', 'not valid')}")
        except DomainError as exc:
            if not _refusal(exc):
                raise
            errors.add("text", str(exc))  # e.g. what looks like a child's full name
    if errors:
        return _form(request, who, record_id, 422, errors, values)
    notice(request, "You added and signed the addendum. The other party is asked to countersign it.")
    return redirect(f"/records/{record_id}")


@router.get("/records/{record_id}/addenda/{number}/countersign")
def countersign_page(record_id: UUID, request: Request, number: int = Path(ge=1, le=10**6),
                     who: Principal = Depends(signed_in)) -> Response:
    app = web_of(request).application
    record, _ = commands.read(app, who, via(request), record_id)
    view = record_page_view(request, record, who)
    return page(request, "countersign.html", who=who, addendum=_addendum(view, number), other=_other(view, who),
                **view)


@router.post("/records/{record_id}/addenda/{number}/countersign")
def countersign(record_id: UUID, request: Request, number: int = Path(ge=1, le=10**6),
                who: Principal = Depends(signed_in), form: dict[str, str] = Depends(checked_form)) -> Response:
    try:
        commands.countersign_addendum(web_of(request).application, who, via(request), str(record_id), number,
                                      form.get("sha256", ""), _int(form, "expected_version"))
    except ValidationError:
        raise DomainError("the countersigned fingerprint was not a SHA-256: go back to the record and "
                          "countersign again") from None
    notice(request, f"You countersigned addendum {number}.")
    return redirect(f"/records/{record_id}")


def _form(request: Request, who: Principal, record_id: UUID, status: int = 200, errors: FormErrors | None = None,
          values: dict | None = None) -> Response:
    app = web_of(request).application
    record, _ = commands.read(app, who, via(request), record_id)
    view = record_page_view(request, record, who)
    return page(request, "addendum_new.html", status, who=who, errors=errors or FormErrors(), values=values or {},
                other=_other(view, who), **view)


def _addendum(view: dict, number: int) -> dict:
    for a in view["record"]["addenda"]:
        if a["number"] == number:
            return a
    raise NotFound(f"there is no addendum {number} on this record")


def _other(view: dict, who: Principal) -> str:
    """The party asked to countersign, by name, so the page says who."""
    record = view["record"]
    return record["supervisor"]["name"] if view["party"] == "supervisee" else record["supervisee"]["name"]


def _label(field: str) -> str:
    return {"reason": "The reason", "text": "The addendum"}.get(field, field.replace("_", " ").capitalize())
