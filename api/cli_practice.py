"""`svl observation record`, `svl frequency step-down`, `svl review record`: judgements recorded as decisions by
the named person who took them; `svl practice show`: a worker's practice as the web page shows it (a logged
read). Each acts as `--as USER` (or SVL_USER) through the same application call as over HTTP; people are named
by id, a unique id prefix, or their full name.
"""

import typer

from api.cli_scheduling import _resolve, parse_day, resolve_worker
from api.cli_support import ACTING, acting_user, cli_via, console, opened_application, print_json
from domain.policy import Interval
from projections.practice_cycles import cycle_observations

observation_app = typer.Typer(help="Direct observations of practice and of supervision.", no_args_is_help=True)
frequency_app = typer.Typer(help="Decisions to reduce a worker's supervision frequency.", no_args_is_help=True)
review_app = typer.Typer(help="Employee reviews the policy names (e.g. bury: annual and six-monthly).",
                         no_args_is_help=True)
practice_app = typer.Typer(help="A worker's practice: observations, step-downs, reviews and what falls due.",
                           no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(observation_app, name="observation")
    app.add_typer(frequency_app, name="frequency")
    app.add_typer(review_app, name="review")
    app.add_typer(practice_app, name="practice")


@practice_app.command("show")
def practice_show(worker: str = typer.Argument(..., help="the worker"), acting: str = ACTING,
                  as_json: bool = typer.Option(False, "--json")) -> None:
    """A worker's observations (with feedback), step-down decisions, reviews, the frequency in force and each
    cycle's next due date: decided and written to the access log (read_practice) before it is shown."""
    from api.http_practice import practice_out  # the API's answer, field for field

    with opened_application() as app:
        found = practice_out(app.practice.practice_of(acting_user(app, acting), resolve_worker(app, worker),
                                                      via=cli_via()))
    if as_json:
        print_json(found.model_dump(mode="json"))
        return
    console.print(f"worker {found.worker_id} ({found.category}, {found.state}); {found.pack}; you read this as: "
                  f"{found.basis}")
    if found.regime:
        console.print(f"frequency in force: {found.regime}")
    if found.frequency:
        console.print(f"next supervision due {found.frequency.due} ({found.frequency.status.replace('_', ' ')})")
    for c in found.cycles:
        console.print(f"due {c.due}: {c.text}" + (f" ({c.days_overdue} days overdue)" if c.days_overdue > 0 else ""))
    console.print(f"observations: {len(found.observations)}")
    for o in found.observations:
        console.print(f"  {o.observed_on} {o.observed} by {o.observer_id} ({o.relation}): {o.outcome}"
                      + (f"; feedback: {o.feedback}" if o.feedback else ""))
    console.print(f"decisions to reduce the frequency: {len(found.step_downs)}")
    for step in found.step_downs:
        console.print(f"  {step.decided_on}: every {_every(step.from_every)} -> every {_every(step.to_every)}"
                      f" (observation {step.observation_id or '-'})")
    console.print(f"reviews: {len(found.reviews)}" + ("" if found.review_kinds else " (the pack names none)"))
    for r in found.reviews:
        console.print(f"  {r.reviewed_on} {r.kind} by {r.reviewer_id} ({r.relation})"
                      + (f": {r.reason}" if r.reason else ""))


@observation_app.command("record")
def observation_record(worker: str = typer.Argument(..., help="the worker observed"), acting: str = ACTING,
                       of: str = typer.Option("practice", "--of", help="practice, or supervision (a supervisor's)"),
                       on: str = typer.Option(..., "--on", help="the day observed, e.g. 2026-08-20"),
                       outcome: str = typer.Option(..., "--outcome", help="meets_standard or below_standard"),
                       feedback: str = typer.Option("", "--feedback", help="the feedback given"),
                       confirmed_anonymous: bool = typer.Option(False, "--confirmed-anonymous")) -> None:
    """Record a direct observation you made (as the observer)."""
    with opened_application() as app:
        observation = app.practice.record_observation(acting_user(app, acting), subject_id=resolve_worker(app, worker),
                                                      observed=of, observed_on=parse_day(on, "--on"), outcome=outcome,
                                                      feedback=feedback, confirmed_anonymous=confirmed_anonymous)
    console.print(f"observation {observation.id} recorded ({observation.relation}, {observation.outcome})")


@frequency_app.command("step-down")
def frequency_step_down(worker: str = typer.Argument(...), acting: str = ACTING,
                        on: str = typer.Option(..., "--on", help="the day of the decision"),
                        observation: str = typer.Option(None, "--observation",
                                                        help="the observation of practice it rests on (id or prefix)"),
                        rationale: str = typer.Option(..., "--rationale",
                                                      help="why the worker meets the required standard"),
                        confirmed_anonymous: bool = typer.Option(False, "--confirmed-anonymous")) -> None:
    """Decide to reduce the worker's supervision frequency one step (their supervisor)."""
    with opened_application() as app:
        observed = _resolve(app, cycle_observations, "observation_id", observation, "observation") \
            if observation else None
        steps = app.practice.step_down_frequency(acting_user(app, acting), resolve_worker(app, worker),
                                                 decided_on=parse_day(on, "--on"), observation_id=observed,
                                                 rationale=rationale, confirmed_anonymous=confirmed_anonymous)
    last = steps.steps[-1]
    console.print(f"frequency reduced from {last['decided_on']}: every {_every(last['from_every'])} -> every "
                  f"{_every(last['to_every'])}")


@review_app.command("record")
def review_record(worker: str = typer.Argument(...), acting: str = ACTING,
                  kind: str = typer.Option(..., "--kind", help="the pack's review, e.g. employee_review, six_monthly"),
                  on: str = typer.Option(..., "--on", help="the day of the review"),
                  reason: str = typer.Option("", "--reason",
                                             help="the exceptional circumstances, when not the line manager")) -> None:
    """Record a review you held of a worker (their line manager, or above with a reason)."""
    with opened_application() as app:
        review = app.practice.record_employee_review(acting_user(app, acting), resolve_worker(app, worker), kind=kind,
                                                     reviewed_on=parse_day(on, "--on"), reason=reason)
    console.print(f"review {review.id} recorded: {review.kind} on {review.reviewed_on}")


def _every(interval: dict) -> str:
    return str(Interval(**interval))


__all__ = ["register"]
