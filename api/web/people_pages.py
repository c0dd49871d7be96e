"""HR's pages: every member of staff; a joiner; the first supervisor; a transfer (listing the records it
froze); a leaver. The same commands, with the same bodies, as /api/v1/workers."""

from uuid import UUID

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import ValidationError

from api.errors import Conflict, NotFound
import api.web.commands as commands
from api.web.site import checked_form, notice, page, redirect, signed_in, web_of
from domain.errors import DomainError, NotPermitted
from domain.policy import WorkerCategory
from infrastructure.users import Principal

router = APIRouter(include_in_schema=False)


@router.get("/people")
def people(request: Request, who: Principal = Depends(signed_in)) -> Response:
    staff = commands.staff(web_of(request).application, who)
    names = {str(w.id): w.name for w in staff}
    return page(request, "people.html", who=who, staff=staff, names=names)


@router.get("/people/new")
def new_person(request: Request, who: Principal = Depends(signed_in)) -> Response:
    commands.staff(web_of(request).application, who)  # refused here, before the form, to anyone but HR
    return page(request, "person_new.html", who=who, categories=list(WorkerCategory), values={}, errors=[])


@router.post("/people/new")
def join(request: Request, who: Principal = Depends(signed_in), form: dict[str, str] = Depends(checked_form)
         ) -> Response:
    fields = {k: form.get(k, "").strip() for k in ("name", "role", "category", "start_date")}
    try:
        worker_id = commands.join(web_of(request).application, who, fields)
    except ValidationError as exc:
        return page(request, "person_new.html", 422, who=who, categories=list(WorkerCategory), values=fields,
                    errors=_errors(exc))
    notice(request, f"{fields['name']} has joined. Allocate their supervisor now.")
    return redirect(f"/people/{worker_id}")


@router.get("/people/{worker_id}")
def person(worker_id: UUID, request: Request, who: Principal = Depends(signed_in)) -> Response:
    return _person(request, who, worker_id)


def _person(request: Request, who: Principal, worker_id: UUID, status: int = 200, errors: list | None = None,
            frozen: list | None = None) -> Response:
    app = web_of(request).application
    worker = commands.worker(app, who, worker_id)
    staff = commands.staff(app, who)
    names = {str(w.id): w.name for w in staff}
    supervisors = [w for w in staff if w.state == "active" and str(w.id) != str(worker_id)]
    return page(request, "person.html", status, who=who, worker=worker, names=names, supervisors=supervisors,
                errors=errors or [], frozen=frozen or [], second_title=commands.second_supervisor_rule(app).title)


@router.post("/people/{worker_id}/{step}")
def step(worker_id: UUID, step: str, request: Request, who: Principal = Depends(signed_in),
         form: dict[str, str] = Depends(checked_form)) -> Response:
    app = web_of(request).application
    fields = {k: v.strip() for k, v in form.items() if k != "csrf_token" and v.strip()}
    do = {"supervisor": commands.allocate, "transfer": commands.transfer, "leave": commands.leave}.get(step)
    if do is None:
        return page(request, "problem.html", 404, title="Page not found", message="There is no such step.")
    try:
        frozen = do(app, who, worker_id, fields)
    except ValidationError as exc:
        return _person(request, who, worker_id, 422, _errors(exc, step))
    except Conflict:
        return _person(request, who, worker_id, 409, [{"text": "Someone changed this person's details first: "
                                                                "check them below and try again", "href": f"#{step}"}])
    except DomainError as exc:
        if isinstance(exc, (NotPermitted, NotFound)):
            raise
        return _person(request, who, worker_id, 422, [{"text": str(exc), "href": f"#{step}"}])
    done = {"supervisor": "Supervisor allocated.", "transfer": "Transferred: the previous supervisor can no "
            "longer read their records.", "leave": "Leaving date recorded."}[step]
    notice(request, done)
    if frozen:
        return _person(request, who, worker_id, frozen=frozen)
    return redirect(f"/people/{worker_id}")


def _errors(exc: ValidationError, prefix: str = "") -> list[dict]:
    fields = {"supervisor_id": "supervisor_id", "new_supervisor_id": "new_supervisor_id", "reason": "reason",
              "leaving_date": "leaving_date", "name": "name", "role": "role", "category": "category",
              "start_date": "start_date", "expected_version": prefix or "name"}
    out = []
    for e in exc.errors():
        head = str(e.get("loc", ("",))[0])
        out.append({"text": f"{head.replace('_', ' ').capitalize()}: {e.get('msg', 'not valid')}",
                    "href": f"#{fields.get(head, prefix or 'name')}"})
    return out
