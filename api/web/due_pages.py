"""The managers' pages: the morning view (who is overdue for supervision, and why; as `svl due`) with filters,
and the monthly frequency report. Scoped by the API's own rule: your team, or the team of a supervisor you
supervise; QA and HR see the organisation."""

from datetime import date
from uuid import UUID

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

import api.web.commands as commands
from api.web.site import page, signed_in, web_of
from domain.errors import DomainError
from infrastructure.users import Principal

router = APIRouter(include_in_schema=False)


@router.get("/due")
def due(request: Request, who: Principal = Depends(signed_in), team: str = "", attention: str = "",
        as_of: str = "") -> Response:
    app = web_of(request).application
    errors = []
    day = None
    if as_of:
        try:
            day = date.fromisoformat(as_of)
        except ValueError:
            errors.append({"text": "The date must be a real date, like 2026-11-30", "href": "#as_of"})
    scope, rows = commands.due(app, who, _team(team), day)
    lines = _lines(app, who)
    shown = [r for r in rows if r["needs_attention"]] if attention else rows
    return page(request, "due.html", 422 if errors else 200, who=who, rows=shown, total=len(rows), scope=scope,
                lines=lines, team=team, attention=bool(attention), as_of=as_of, errors=errors,
                this_month=(day or date.today()).strftime("%Y-%m"))


@router.get("/due/frequency")
def frequency(request: Request, who: Principal = Depends(signed_in), month: str = "", team: str = "") -> Response:
    app = web_of(request).application
    month = month or date.today().strftime("%Y-%m")
    try:
        scope, report = commands.frequency(app, who, month, _team(team))
    except DomainError as exc:
        return page(request, "frequency.html", 422, who=who, report=None, month=month, team=team,
                    lines=_lines(app, who), errors=[{"text": str(exc), "href": "#month"}])
    return page(request, "frequency.html", who=who, report=report, rows=report.as_dicts(), month=month,
                team=team, lines=_lines(app, who), errors=[])


def _team(team: str) -> UUID | None:
    try:
        return UUID(team) if team else None
    except ValueError:
        raise DomainError("choose a team from the list") from None


def _lines(app, who: Principal) -> list[dict]:  # noqa: ANN001
    """The teams a supervisor or manager may choose from: their own, and those of the people they supervise."""
    if not who.worker_id:
        return []
    rows = commands.my_supervisees(app, who)
    return [{"id": who.worker_id, "name": "My team"}] + [{"id": r["worker_id"], "name": f"{r['name']}'s team"}
                                                        for r in rows]
