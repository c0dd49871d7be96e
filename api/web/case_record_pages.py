"""Case supervision records in the browser, where the pack keeps them apart from personal supervision (bcp, bury):
a supervisor records one for a supervisee; the decisions to put on the child's record, with their deadlines, each
confirmed with the reference of the entry there; a case record (a logged read); and for the DPO their own
retention: the schedule, a proposed list, its review by a second authorised person, and the destruction, confirmed.
The same commands, with the same request models, as /api/v1/case-records (api/http_case_records.py): who may, what
the text may say and when a step may be taken are the application's and the domain's decisions."""

from datetime import date
from uuid import UUID

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import ValidationError

from api.errors import NotFound
import api.web.case_record_commands as case_records
import api.web.commands as commands
from api.web.date_fields import day_from, values_of
from api.web.record_form import FormErrors
from api.web.site import checked_form, notice, page, redirect, signed_in, via, web_of
from domain.anonymisation import NotAnonymous, OnNames
from domain.errors import DomainError, NotPermitted
from infrastructure.users import Principal

router = APIRouter(include_in_schema=False)
CONFIRM = "confirmed"
# Which form field a request model's or the domain's complaint is shown beside.
RECORD_FIELDS = {"case_reference": "case_reference", "discussed_on": "discussed_on-day", "discussion": "discussion",
                 "decisions": "decisions", "confirmed_anonymous": "confirmed_anonymous"}
LABELS = {"case_reference": "The child's case record number", "discussed_on": "The date of the discussion",
          "discussion": "What was discussed", "decisions": "What was decided",
          "childs_record_reference": "The entry on the child's record", "recorded_on": "The date it was recorded"}
STATUS = {"due": ("Due", "blue"), "overdue": ("Overdue", "red"), "no_deadline": ("No deadline", "grey"),
          "recorded": ("On the child's record", "green"), "recorded_late": ("On the child's record, late", "orange"),
          "retained": ("Retained", "green"), "held": ("On legal hold", "purple"), "no_period": ("No period set", "grey"),
          "destroyed": ("Destroyed", "grey"), "proposed": ("Proposed", "yellow"), "approved": ("Approved", "blue"),
          "rejected": ("Rejected", "grey"), "destruction_incomplete": ("Destruction to finish", "red")}
STATUS_OF_DUE = {**STATUS, "due": ("Due for destruction", "yellow")}


# -- recording ------------------------------------------------------------------------------------------------

@router.get("/case-records/new/{supervisee_id}")
def new_case_record(supervisee_id: UUID, request: Request, who: Principal = Depends(signed_in)) -> Response:
    today = web_of(request).application.clock().date()
    return _form(request, who, supervisee_id, {"discussed_on-day": str(today.day),
                                               "discussed_on-month": str(today.month),
                                               "discussed_on-year": str(today.year)})


@router.post("/case-records/new/{supervisee_id}")
def record(supervisee_id: UUID, request: Request, who: Principal = Depends(signed_in),
           form: dict[str, str] = Depends(checked_form)) -> Response:
    app = web_of(request).application
    errors = FormErrors()
    fields = {k: form.get(k, "") for k in ("case_reference", "discussion", "decisions")}
    if not fields["case_reference"].strip():
        errors.add("case_reference", "Enter the number of the child's case record, for example LCS 55821")
    discussed_on = day_from(form, "discussed_on", errors, "the date of the discussion")
    for name, text in (("discussion", "Enter what was discussed"),
                       ("decisions", "Enter what was decided, and why: it goes on the child's record")):
        if not fields[name].strip():
            errors.add(name, text)
    if not errors:
        try:
            made = case_records.record(app, who, supervisee_id, {
                **fields, "discussed_on": discussed_on, "confirmed_anonymous": form.get("confirmed_anonymous") == "yes"})
        except ValidationError as exc:
            _model_errors(exc, errors, RECORD_FIELDS)
        except DomainError as exc:
            if isinstance(exc, (NotPermitted, NotFound)):
                raise
            _record_refusal(exc, errors)
    if errors:
        return _form(request, who, supervisee_id, {**fields, **values_of(form, "discussed_on-"),
                                                   "confirmed_anonymous": form.get("confirmed_anonymous", "")},
                     errors)
    due = f" by {made.decision_due.strftime('%-d %B %Y')}" if made.decision_due else ""
    notice(request, f"You recorded the case supervision. Put the decision on the child's record{due}, then "
                    "confirm it here with the reference of the entry there.")
    return redirect(f"/case-records/{made.id}")


def _form(request: Request, who: Principal, supervisee_id: UUID, values: dict,
          errors: FormErrors | None = None) -> Response:
    app = web_of(request).application
    supervisees = {r["worker_id"]: r["name"] for r in commands.my_supervisees(app, who)}  # refused with no team
    if str(supervisee_id) not in supervisees:  # the form is not offered; recording is decided by the application
        raise NotPermitted("only the worker's current supervisor records their case supervision, and this person "
                           "is not one of your supervisees")
    kept = case_records.case_class(app)
    if kept is None:
        raise DomainError(f"{app.policy.policy_pack.short_name} keeps no separate case supervision records: record case "
                          "discussions in the personal supervision record")
    pack = app.policy.policy_pack
    return page(request, "case_record_new.html", 422 if errors else 200, who=who, values=values,
                errors=errors or FormErrors(), supervisee=supervisees[str(supervisee_id)], supervisee_id=supervisee_id,
                case_class=kept, anonymisation=pack.anonymisation, anonymisation_whose=pack.cite(pack.anonymisation),
                confirm_names=pack.anonymisation.names is OnNames.CONFIRM)


def _record_refusal(exc: DomainError, errors: FormErrors) -> None:
    """The domain's refusal beside the field it is about (its words, not ours)."""
    message = str(exc)[:1].upper() + str(exc)[1:]
    if isinstance(exc, NotAnonymous):
        for field in dict.fromkeys(f.field for f in exc.findings):
            errors.add(RECORD_FIELDS.get(field, "discussion"), f"{LABELS.get(field, 'The text')}: {exc}")
        return
    lowered = message.lower()
    if "case reference" in lowered:
        field = "case_reference"
    elif "discussion date" in lowered or "discussed_on" in lowered:
        field = "discussed_on-day"
    elif lowered.startswith("decisions"):
        field = "decisions"
    elif lowered.startswith("discussion"):
        field = "discussion"
    elif "confirm" in lowered:
        field = "confirmed_anonymous"
    else:
        field = "case_reference"
    errors.add(field, message)


# -- the decisions to put on the child's record -----------------------------------------------------------------

@router.get("/case-records")
def decisions(request: Request, who: Principal = Depends(signed_in)) -> Response:
    return _decisions(request, who)


def _decisions(request: Request, who: Principal, errors: FormErrors | None = None, values: dict | None = None,
               open_id: str | None = None) -> Response:
    app = web_of(request).application
    rows = case_records.decisions_due(app, who)
    names = commands.names(app, [p for r in rows for p in (r.worker_id, r.supervisor_id)])
    return page(request, "case_decisions.html", 422 if errors else 200, who=who, names=names, tags=STATUS,
                waiting=[r for r in rows if r.status in ("due", "overdue", "no_deadline")],
                done=[r for r in rows if r.status in ("recorded", "recorded_late")],
                today=app.clock().date(), errors=errors or FormErrors(), values=values or {}, open_id=open_id)


@router.get("/case-records/{record_id}")
def case_record(record_id: UUID, request: Request, who: Principal = Depends(signed_in)) -> Response:
    return _record(request, who, record_id)


def _record(request: Request, who: Principal, record_id: UUID, errors: FormErrors | None = None,
            values: dict | None = None) -> Response:
    app = web_of(request).application
    found = case_records.read(app, who, via(request), record_id)  # logged before anything is shown
    names = commands.names(app, [found.worker_id, found.supervisor_id])
    today = app.clock().date()
    return page(request, "case_record.html", 422 if errors else 200, who=who, record=found, names=names,
                tag=STATUS[found.status(today)], today=today, case_class=case_records.case_class(app),
                errors=errors or FormErrors(), values=values or {})


@router.post("/case-records/{record_id}/on-childs-record")
def confirm(record_id: UUID, request: Request, who: Principal = Depends(signed_in),
            form: dict[str, str] = Depends(checked_form)) -> Response:
    app = web_of(request).application
    prefix = f"c-{record_id}"
    errors = FormErrors()
    reference = form.get("childs_record_reference", "")
    if not reference.strip():
        errors.add(f"{prefix}-reference", "Enter the reference of the entry on the child's record, for example "
                                          "Case note 88123")
    recorded_on = day_from(form, f"{prefix}-recorded_on", errors, "the date it was recorded on the child's record")
    if not errors:
        try:
            case_records.confirm(app, who, record_id, {"childs_record_reference": reference,
                                                       "recorded_on": recorded_on})
        except ValidationError as exc:
            _model_errors(exc, errors, {"childs_record_reference": f"{prefix}-reference",
                                        "recorded_on": f"{prefix}-recorded_on-day"})
        except DomainError as exc:
            if isinstance(exc, (NotPermitted, NotFound)):
                raise
            message = str(exc)[:1].upper() + str(exc)[1:]
            dated = "date it was recorded" in message or "recorded_on" in message or "before the discussion" in message
            errors.add(f"{prefix}-recorded_on-day" if dated else f"{prefix}-reference", message)
    if errors:
        values = {"childs_record_reference": reference, **values_of(form, f"{prefix}-recorded_on-")}
        if form.get("from") == "record":
            return _record(request, who, record_id, errors, values)
        return _decisions(request, who, errors, values, open_id=str(record_id))
    notice(request, "You confirmed the decision is on the child's record.")
    return redirect(f"/case-records/{record_id}" if form.get("from") == "record" else "/case-records")


# -- their own retention --------------------------------------------------------------------------------------

@router.get("/retention/case-records")
def schedule(request: Request, who: Principal = Depends(signed_in)) -> Response:
    return _schedule(request, who)


def _schedule(request: Request, who: Principal, errors: list | None = None, values: dict | None = None) -> Response:
    app = web_of(request).application
    rows = case_records.schedule(app, who)  # refused to anyone but the DPO and HR
    lists = case_records.disposals(app, who)
    return page(request, "case_retention.html", 422 if errors else 200, who=who, rows=rows, lists=lists,
                tags=STATUS_OF_DUE, case_class=case_records.case_class(app), today=app.clock().date(),
                errors=errors or [], values=values or {})


@router.post("/retention/case-records/proposals")
def propose(request: Request, who: Principal = Depends(signed_in),
            form: dict[str, str] = Depends(checked_form)) -> Response:
    app = web_of(request).application
    text, as_of, errors = form.get("as_of", "").strip(), None, []
    if text:
        try:
            as_of = date.fromisoformat(text)
        except ValueError:
            errors = [{"text": "The date must be a real date, like 2026-11-30", "href": "#as_of"}]
    if not errors:
        try:
            made = case_records.propose(app, who, as_of)
        except (NotPermitted, NotFound):
            raise
        except DomainError as exc:
            errors = [{"text": str(exc)[:1].upper() + str(exc)[1:], "href": "#as_of"}]
    if errors:
        return _schedule(request, who, errors, form)
    notice(request, f"{len(made.item_ids)} case supervision record(s) proposed for destruction. A second "
                    "authorised person must now approve the list.")
    return redirect(f"/retention/case-records/proposals/{made.id}")


@router.get("/retention/case-records/proposals/{disposal_id}")
def disposal_page(disposal_id: UUID, request: Request, who: Principal = Depends(signed_in)) -> Response:
    return _disposal(request, who, disposal_id)


def _disposal(request: Request, who: Principal, disposal_id: UUID, errors: list | None = None,
              values: dict | None = None) -> Response:
    app = web_of(request).application
    found = case_records.disposal(app, who, disposal_id)
    now = {r.record_id: r.status for r in case_records.schedule(app, who)}
    state = found.status
    return page(request, "case_disposal.html", 422 if errors else 200, who=who, disposal=found, now=now,
                state=state, tags=STATUS_OF_DUE, mine=found.proposer_user == who.user_id,
                errors=errors or [], values=values or {})


@router.post("/retention/case-records/proposals/{disposal_id}/{step}")
def review(disposal_id: UUID, step: str, request: Request, who: Principal = Depends(signed_in),
           form: dict[str, str] = Depends(checked_form)) -> Response:
    if step not in ("approve", "reject", "run"):
        return page(request, "problem.html", 404, title="Page not found", message="There is no such step.")
    app = web_of(request).application
    errors = []  # in the order the fields are on the page
    rationale = form.get("rationale", "").strip()
    if step != "run" and not rationale:
        errors.append({"text": "Give your reason, for the record", "href": f"#{step}-rationale"})
    if form.get(CONFIRM) != "yes":
        what = {"approve": "you have checked the list", "reject": "you want to reject the list",
                "run": "you want these case supervision records destroyed now"}[step]
        errors.append({"text": f"Confirm that {what}", "href": f"#{step}-{CONFIRM}"})
    if not errors:
        try:
            if step == "run":
                done = case_records.destroy(app, who, disposal_id)
            else:
                case_records.review(app, who, disposal_id, step == "approve", rationale)
        except ValidationError as exc:
            errors = [{"text": f"Your reason: {exc.errors()[0].get('msg', 'not valid')}", "href": f"#{step}-rationale"}]
        except (NotPermitted, NotFound):
            raise  # the proposer reviewing their own list: the application's refusal, on the 403 page
        except DomainError as exc:
            errors = [{"text": str(exc)[:1].upper() + str(exc)[1:],
                       "href": f"#{step}-rationale" if step != "run" else f"#{step}-{CONFIRM}"}]
    if errors:
        return _disposal(request, who, disposal_id, errors, {**form, "step": step})
    if step == "run":
        notice(request, f"{len(done.destroyed)} case supervision record(s) destroyed; "
                        f"{len(done.item_ids) - len(done.destroyed)} left (on hold since the proposal, or "
                        "destroyed already). Personal supervision files are untouched. Each destroyed record has "
                        "its certificate on the destruction certificates page.")
        return redirect("/retention/case-records")
    notice(request, "List approved: it may now be destroyed." if step == "approve" else "List rejected: nothing "
                    "on it will be destroyed.")
    return redirect(f"/retention/case-records/proposals/{disposal_id}")


def _model_errors(exc: ValidationError, errors: FormErrors, fields: dict[str, str]) -> None:
    for e in exc.errors():
        head = str((e.get("loc") or ("",))[0])
        errors.add(fields.get(head, next(iter(fields.values()))),
                   f"{LABELS.get(head, head.replace('_', ' ').capitalize())}: {e.get('msg', 'not valid')}")
