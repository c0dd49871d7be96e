"""A worker's practice in the browser, for their supervisor and those above them (and, read only, the worker):
the observations of their practice (who observed, when, the outcome, the feedback), the decisions to reduce
their supervision frequency, their employee reviews, the frequency in force and when each observation and review
next falls due under the pack; with the forms to record an observation, decide a step down and record a review.
The same commands as /api/v1 (api/http_practice.py); the page is a logged read (`practice_of`), and a refusal
the domain ties to one input (e.g. "no direct observation of practice is recorded for this decision") is shown
beside that input in the error summary."""

from collections.abc import Callable
from uuid import UUID

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import ValidationError

import api.web.commands as commands
import api.web.practice_commands as practice_commands
from api.access_service import AccessDenied
from api.application import SupervisionApplication
from api.errors import Conflict, NotFound
from api.web.date_fields import day_from
from api.web.record_form import FormErrors
from api.web.site import checked_form, notice, page, redirect, signed_in, via, web_of
from domain.errors import DomainError, NotPermitted, StaleVersion
from domain.policy import Interval
from infrastructure.users import Principal

router = APIRouter(include_in_schema=False)

# Each form's inputs: the name the command and the domain use -> the id of the input on the page, and its label.
OBSERVATION = {"observed": ("observed", "What was observed"), "observed_on": ("observed_on-day", "The day observed"),
               "outcome": ("outcome", "The outcome"), "feedback": ("feedback", "Feedback")}
STEP_DOWN = {"decided_on": ("decided_on-day", "The day of the decision"),
             "observation_id": ("observation_id", "The observation it rests on"),
             "rationale": ("rationale", "Why the worker meets the required standard")}
REVIEW = {"kind": ("kind", "Which review"), "reviewed_on": ("reviewed_on-day", "The day of the review"),
          "reason": ("reason", "Why someone above the line manager held it")}


CHOSEN = {"observed", "outcome", "observation_id", "kind"}  # picked from a list, never typed


def _path(worker_id: UUID) -> str:
    return f"/supervisees/{worker_id}/practice"


@router.get("/supervisees/{worker_id}/practice")
def practice_page(worker_id: UUID, request: Request, who: Principal = Depends(signed_in)) -> Response:
    return _practice(request, who, worker_id)


@router.post("/supervisees/{worker_id}/practice/observations")
def observe(worker_id: UUID, request: Request, who: Principal = Depends(signed_in),
            form: dict[str, str] = Depends(checked_form)) -> Response:
    errors = FormErrors()
    fields = {"observed": form.get("observed", "practice"), "outcome": form.get("outcome", ""),
              "observed_on": day_from(form, "observed_on", errors, "the day you observed the practice"),
              "feedback": form.get("feedback", ""), "confirmed_anonymous": form.get("confirmed_anonymous") == "yes"}
    return _send(request, who, worker_id, form, errors, OBSERVATION, "outcome",
                 lambda app: practice_commands.record_observation(app, who, worker_id, fields),
                 "You recorded the observation.")


@router.post("/supervisees/{worker_id}/practice/step-downs")
def step_down(worker_id: UUID, request: Request, who: Principal = Depends(signed_in),
              form: dict[str, str] = Depends(checked_form)) -> Response:
    errors = FormErrors()
    fields = {"decided_on": day_from(form, "decided_on", errors, "the day of the decision"),
              "observation_id": form.get("observation_id") or None, "rationale": form.get("rationale", ""),
              "confirmed_anonymous": form.get("step_confirmed_anonymous") == "yes"}
    return _send(request, who, worker_id, form, errors, STEP_DOWN, "observation_id",
                 lambda app: practice_commands.step_down(app, who, worker_id, fields),
                 "You recorded the decision to reduce the supervision frequency.")


@router.post("/supervisees/{worker_id}/practice/reviews")
def review(worker_id: UUID, request: Request, who: Principal = Depends(signed_in),
           form: dict[str, str] = Depends(checked_form)) -> Response:
    errors = FormErrors()
    fields = {"kind": form.get("kind", ""), "reason": form.get("reason", ""),
              "reviewed_on": day_from(form, "reviewed_on", errors, "the day of the review")}
    return _send(request, who, worker_id, form, errors, REVIEW, "kind",
                 lambda app: practice_commands.record_review(app, who, worker_id, fields),
                 "You recorded the review.")


def _send(request: Request, who: Principal, worker_id: UUID, form: dict[str, str], errors: FormErrors,
          inputs: dict[str, tuple[str, str]], first: str, do: Callable[[SupervisionApplication], None],
          done: str) -> Response:
    """The command, once the dates are real dates; what it refuses about one input is shown beside that input.
    A refusal of the person (not theirs to do) is the 403 page."""
    if not errors:
        try:
            do(web_of(request).application)
        except ValidationError as exc:
            for e in exc.errors():
                name = str(e.get("loc", ("",))[-1])
                input_id, label = inputs.get(name, inputs[first])
                errors.add(input_id, f"{label}: {_pydantic_words(e, chosen=name in CHOSEN)}")
        except (Conflict, StaleVersion) as exc:
            errors.add(inputs[first][0], f"Nothing was saved: {exc}. The page shows it as it is now.")
        except DomainError as exc:
            if isinstance(exc, (AccessDenied, NotFound)) or (isinstance(exc, NotPermitted) and exc.field is None):
                raise
            input_id = inputs.get(exc.field or "", inputs[first])[0]
            errors.add(input_id, str(exc)[:1].upper() + str(exc)[1:])
    if errors:
        return _practice(request, who, worker_id, errors, dict(form))
    notice(request, done)
    return redirect(_path(worker_id))


def _pydantic_words(error: dict, chosen: bool) -> str:
    kind = error.get("type", "")
    if kind in ("missing", "literal_error", "enum", "uuid_parsing", "uuid_type") or (
            chosen and kind == "string_pattern_mismatch"):
        return "choose one from the list"
    if kind == "string_too_short":
        return "enter it"
    if kind == "string_pattern_mismatch":
        return "it contains a character that cannot be stored (a null character)"
    return str(error.get("msg", "not valid"))


def _practice(request: Request, who: Principal, worker_id: UUID, errors: FormErrors | None = None,
              values: dict | None = None) -> Response:
    app = web_of(request).application
    found = practice_commands.practice(app, who, via(request), worker_id)
    people = [found.worker_id, found.supervisor_id, *(o["observer_id"] for o in found.observations),
              *(s["decided_by"] for s in found.step_downs), *(r["reviewer_id"] for r in found.reviews)]
    today = app.clock().date()
    defaults = {f"{prefix}-{part}": str(value) for prefix in ("observed_on", "decided_on", "reviewed_on")
                for part, value in (("day", today.day), ("month", today.month), ("year", today.year))}
    dated = {o["observation_id"]: o for o in found.observations}
    steps = [{**s, "from": _every(s["from_every"]), "to": _every(s["to_every"]),
              "observation": dated.get(s["observation_id"] or "")} for s in found.step_downs]
    return page(request, "practice.html", 422 if errors else 200, who=who, practice=found,
                names=commands.names(app, people), steps=steps, today=today,
                practice_observations=[o for o in found.observations if o["observed"] == "practice"],
                errors=errors or FormErrors(), values={**defaults, **(values or {})}, path_of=_path(worker_id))


def _every(interval: dict) -> str:
    return f"every {Interval(**interval)}"


__all__ = ["router"]
