"""`svl observation record`, `svl frequency step-down`, `svl review record`: judgements recorded as decisions by
the named person who took them. Each acts as `--as USER` (or SVL_USER) through the same application call as
over HTTP; people are named by id, a unique id prefix, or their full name.
"""

import typer

from api.cli_scheduling import _resolve, parse_day, resolve_worker
from api.cli_support import ACTING, acting_user, console, opened_ledger
from domain.policy import Interval
from projections.practice_cycles import cycle_observations

observation_app = typer.Typer(help="Direct observations of practice and of supervision.", no_args_is_help=True)
frequency_app = typer.Typer(help="Decisions to reduce a worker's supervision frequency.", no_args_is_help=True)
review_app = typer.Typer(help="Employee reviews the policy names (e.g. bury: annual and six-monthly).",
                         no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(observation_app, name="observation")
    app.add_typer(frequency_app, name="frequency")
    app.add_typer(review_app, name="review")


@observation_app.command("record")
def observation_record(worker: str = typer.Argument(..., help="the worker observed"), acting: str = ACTING,
                       of: str = typer.Option("practice", "--of", help="practice, or supervision (a supervisor's)"),
                       on: str = typer.Option(..., "--on", help="the day observed, e.g. 2026-08-20"),
                       outcome: str = typer.Option(..., "--outcome", help="meets_standard or below_standard"),
                       feedback: str = typer.Option("", "--feedback", help="the feedback given"),
                       confirmed_anonymous: bool = typer.Option(False, "--confirmed-anonymous")) -> None:
    """Record a direct observation you made (as the observer)."""
    with opened_ledger() as app:
        observation = app.record_observation(acting_user(app, acting), subject_id=resolve_worker(app, worker),
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
    with opened_ledger() as app:
        observed = _resolve(app, cycle_observations, "observation_id", observation, "observation") \
            if observation else None
        steps = app.step_down_frequency(acting_user(app, acting), resolve_worker(app, worker),
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
    with opened_ledger() as app:
        review = app.record_employee_review(acting_user(app, acting), resolve_worker(app, worker), kind=kind,
                                            reviewed_on=parse_day(on, "--on"), reason=reason)
    console.print(f"review {review.id} recorded: {review.kind} on {review.reviewed_on}")


def _every(interval: dict) -> str:
    return str(Interval(**interval))


__all__ = ["register"]
