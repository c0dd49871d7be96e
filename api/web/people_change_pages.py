"""HR's changes in a person's working life, from their page: a change of role or category, a return after a long
absence, their standing (level, registration, supervising since), a second supervisor where the pack names one;
and the allocation page, where the role the pack names agrees a departure from its allocation rules.

The same commands, with the same body models, as /api/v1/workers/{id}/role-change, /return, /standing,
/second-supervisor, /second-supervisor/ending and /allocation-exceptions: who may take each step and whether
it may be taken is decided there, never here.
"""

from collections.abc import Callable
from uuid import UUID

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import ValidationError

from api.errors import Conflict, NotFound
import api.web.commands as commands
from api.web.date_fields import day_from, values_of
from api.web.record_form import FormErrors
from api.web.site import checked_form, notice, page, redirect, signed_in, web_of
from domain.allocation import RULES
from domain.errors import DomainError, NotPermitted
from domain.policy import WorkerCategory
from domain.workers import Absence
from infrastructure.users import Principal

router = APIRouter(include_in_schema=False)

# Each change: its heading, the first field (where a refusal of the whole step is shown), what is said when done.
CHANGES = {
    "role": ("Record a change of role or category", "role", "Change of role recorded."),
    "return": ("Record a return after a long absence", "absence", "Return recorded."),
    "standing": ("Record level, registration and supervisor experience", "level", "Standing recorded."),
    "second-supervisor": ("Allocate a second supervisor", "supervisor_id", "Second supervisor allocated."),
    "second-supervisor-ending": ("End the second supervision", "reason", "Second supervision ended."),
}
ABSENCES = {"career_break": "A career break", "long_term_absence": "Another long term absence"}
RULE_NAMES = {"supervisor_level": "Supervisor's level", "registration": "Supervisor's registration",
              "experience": "Supervisor's experience", "ratio": "Supervisees per supervisor"}


@router.get("/people/{worker_id}/change/{change}")
def change_form(worker_id: UUID, change: str, request: Request, who: Principal = Depends(signed_in)) -> Response:
    if change not in CHANGES:
        return _no_such_page(request)
    return _form(request, who, worker_id, change, _current(request, who, worker_id, change), FormErrors())


@router.post("/people/{worker_id}/change/{change}")
def change(worker_id: UUID, change: str, request: Request, who: Principal = Depends(signed_in),
           form: dict[str, str] = Depends(checked_form)) -> Response:
    if change not in CHANGES:
        return _no_such_page(request)
    errors = FormErrors()
    fields = READ[change](form, errors)
    fields["expected_version"] = form.get("expected_version") or None
    first = CHANGES[change][1]
    if not errors:
        try:
            DO[change](web_of(request).application, who, worker_id, fields)
        except ValidationError as exc:
            for e in exc.errors():
                head = str(e.get("loc", ("",))[0])
                errors.add(FIELD_OF.get(head, first), _message(head, e.get("msg", "not valid")))
        except Conflict:
            errors.add(first, "Someone changed this person's details first: check them and try again")
        except DomainError as exc:
            if isinstance(exc, (NotPermitted, NotFound)):
                raise
            text = str(exc)
            errors.add(_field_of(text, first), text[:1].upper() + text[1:])
    if errors:
        return _form(request, who, worker_id, change, values_of(form, *PREFIXES), errors, 422)
    notice(request, CHANGES[change][2])
    return redirect(f"/people/{worker_id}")


@router.get("/allocation")
def allocation(request: Request, who: Principal = Depends(signed_in)) -> Response:
    return _allocation_page(request, who, FormErrors())


@router.post("/allocation/exception")
def agree_exception(request: Request, who: Principal = Depends(signed_in),
                    form: dict[str, str] = Depends(checked_form)) -> Response:
    n = form.get("n", "").strip()
    field = f"reason-{n}" if n.isdigit() else "breaches"
    errors = FormErrors()
    reason = form.get("reason", "").strip()
    body = {"supervisor_id": form.get("supervisor_id", ""), "rules": [form.get("rule", "")], "reason": reason,
            "expected_version": None}
    if not reason:
        errors.add(field, "Enter the reason for the departure: it is recorded in the worker's file")
    else:
        try:
            commands.agree_exception(web_of(request).application, who, UUID(form.get("worker_id", "")), body)
        except (ValueError, ValidationError):
            errors.add(field, "Choose a departure from the list and enter the reason (2,000 characters or fewer)")
        except NotPermitted as exc:  # the wrong role: the command's own words, on the page it was tried from
            text = str(exc)
            errors.add(field, text[:1].upper() + text[1:])
            return _allocation_page(request, who, errors, 403, {n: reason})
        except DomainError as exc:
            if isinstance(exc, NotFound):
                raise
            errors.add(field, str(exc)[:1].upper() + str(exc)[1:])
    if errors:
        return _allocation_page(request, who, errors, 422, {n: reason})
    notice(request, "Exception recorded in the worker's file.")
    return redirect("/allocation")


# -- reading each form --------------------------------------------------------------------------------------------

def _read_role(form: dict[str, str], errors: FormErrors) -> dict:
    """In the page's order, so that the error summary lists the fields as they are read."""
    role, reason, major = (form.get(k, "").strip() for k in ("role", "reason", "major_change"))
    if not role:
        errors.add("role", "Enter the new job title")
    effective_on = day_from(form, "effective", errors, "the day the new role begins")
    if major not in ("yes", "no"):
        errors.add("major_change", "Choose whether this is a major change of role")
    if not reason:
        errors.add("reason", "Enter why the role changes")
    return {"role": role, "effective_on": effective_on, "major_change": major == "yes",
            "category": form.get("category", "").strip() or None, "reason": reason}


def _read_return(form: dict[str, str], errors: FormErrors) -> dict:
    absence = form.get("absence", "")
    if absence not in ABSENCES:
        errors.add("absence", "Choose what they are returning from")
    return {"absence": absence, "returned_on": day_from(form, "returned", errors, "the day they are back at work")}


def _read_standing(form: dict[str, str], errors: FormErrors) -> dict:
    registered = {"yes": True, "no": False}.get(form.get("registered", ""))
    return {"level": form.get("level", "").strip() or None, "registered": registered,
            "supervising_since": day_from(form, "supervising", errors, "the day they began supervising",
                                          required=False)}


def _read_second(form: dict[str, str], errors: FormErrors) -> dict:
    if not form.get("supervisor_id"):
        errors.add("supervisor_id", "Choose the second supervisor")
    return {"supervisor_id": form.get("supervisor_id", "")}


def _read_ending(form: dict[str, str], errors: FormErrors) -> dict:
    reason = form.get("reason", "").strip()
    if not reason:
        errors.add("reason", "Enter why the second supervision ends")
    return {"reason": reason}


READ: dict[str, Callable[[dict[str, str], FormErrors], dict]] = {
    "role": _read_role, "return": _read_return, "standing": _read_standing, "second-supervisor": _read_second,
    "second-supervisor-ending": _read_ending}
DO = {"role": commands.change_role, "return": commands.record_return, "standing": commands.record_standing,
      "second-supervisor": commands.allocate_second, "second-supervisor-ending": commands.end_second}
FIELD_OF = {"role": "role", "effective_on": "effective-day", "major_change": "major_change", "category": "category",
            "reason": "reason", "returned_on": "returned-day", "absence": "absence", "level": "level",
            "registered": "registered", "supervising_since": "supervising-day", "supervisor_id": "supervisor_id"}
PREFIXES = ("role", "effective-", "major_change", "category", "reason", "returned-", "absence", "level",
            "registered", "supervising-", "supervisor_id")
WHAT = {"role": "Enter the new job title", "reason": "Enter the reason", "level": "Enter the level as a whole number "
        "from 1 (the front line) to 20", "category": "Choose a category from the list",
        "supervisor_id": "Choose the second supervisor"}


def _message(field: str, msg: str) -> str:
    what = WHAT.get(field, field.replace("_", " ").capitalize())
    return what if field in ("level", "category", "supervisor_id") or "at least" in msg else f"{what}: {msg}"


def _field_of(message: str, first: str) -> str:
    """The field a refusal by the domain is about (domain/workers.py names what it refuses)."""
    for start, field in (("the change (", "effective-day"), ("the return (", "returned-day"),
                         ("give no other category", "category"), ("is not one of", "category")):
        if start in message:
            return field
    return first


# -- the pages ----------------------------------------------------------------------------------------------------

def _current(request: Request, who: Principal, worker_id: UUID, change: str) -> dict[str, str]:
    """The form as the person's file stands (standing is recorded whole: what is not shown again is cleared)."""
    worker = commands.worker(web_of(request).application, who, worker_id)
    if change == "role":
        return {"role": worker.role}
    if change == "standing":
        since = worker.supervising_since
        return {"level": "" if worker.level is None else str(worker.level),
                "registered": {True: "yes", False: "no"}.get(worker.registered, ""),
                **({"supervising-day": str(since.day), "supervising-month": str(since.month),
                    "supervising-year": str(since.year)} if since else {})}
    return {}


def _form(request: Request, who: Principal, worker_id: UUID, change: str, values: dict[str, str],
          errors: FormErrors, status: int = 200) -> Response:
    app = web_of(request).application
    worker = commands.worker(app, who, worker_id)
    staff = commands.staff(app, who)
    candidates = [w for w in staff if w.state == "active" and str(w.id) not in (str(worker_id), worker.supervisor_id)]
    names = {str(w.id): w.name for w in staff}
    return page(request, "person_change.html", status, who=who, worker=worker, change=change,
                title=CHANGES[change][0], values=values, errors=errors, candidates=candidates, names=names,
                categories=list(WorkerCategory), absences=[(a.value, ABSENCES.get(a.value, a.value)) for a in Absence],
                second=commands.second_supervisor_rule(app))


def _allocation_page(request: Request, who: Principal, errors: FormErrors, status: int = 200,
                     reasons: dict[str, str] | None = None) -> Response:
    app = web_of(request).application
    breaches = commands.allocation_breaches(app, who)
    agreed = commands.agreed_exceptions(app, who)
    names = commands.names(app, [who.worker_id, *(p for b in breaches for p in (b.supervisee_id, b.supervisor_id)),
                                 *(p for e in agreed for p in (e.worker_id, e.supervisor_id, e.agreed_by))])
    rules = commands.allocation_rules(app)
    return page(request, "allocation.html", status, who=who, breaches=breaches, agreed=agreed, names=names,
                rules_of=lambda keys: ", ".join(RULE_NAMES.get(k, k.replace("_", " ")) for k in keys),
                errors=errors,
                reasons=reasons or {}, rule_names=RULE_NAMES, agreed_by=(rules.exception_agreed_by or "")
                .replace("_", " "), source=rules.source, rules=[r for r in RULES if getattr(rules, r) is not None],
                pack=app.policy.compliance_pack())


def _no_such_page(request: Request) -> Response:
    return page(request, "problem.html", 404, title="Page not found", message="There is no such change.")
