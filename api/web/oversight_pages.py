"""Pages for those who oversee: the grants I hold; the access log with filters, flags and a CSV download (DPO,
inspector); a record's history as a timeline with what changed between versions, and the record as it stood
on a chosen date. Each read of content is logged, as through the API."""

from datetime import date, datetime, time, timedelta, timezone
from uuid import UUID

from fastapi import APIRouter, Depends, Request
from fastapi.responses import PlainTextResponse, Response

from api.access_service import AccessLogFilter, to_csv
import api.web.commands as commands
from api.web.record_pages import record_page_view
from api.web.site import page, signed_in, via, web_of
from domain.errors import DomainError
from infrastructure.users import Principal

router = APIRouter(include_in_schema=False)
FILTERS = ("record_id", "worker_id", "reader", "outcome", "since", "until")


@router.get("/grants")
def grants(request: Request, who: Principal = Depends(signed_in)) -> Response:
    app = web_of(request).application
    held = commands.grants_held(app, who)
    names = commands.names(app, [g["scope_id"] for g in held if g["scope_kind"] != "record"])
    return page(request, "grants.html", who=who, grants=held, names=names)


@router.get("/access-log")
def access_log(request: Request, who: Principal = Depends(signed_in)) -> Response:
    values = {k: request.query_params.get(k, "").strip()[:100] for k in FILTERS}
    errors: list[dict] = []
    f = _filter(values, errors)
    app = web_of(request).application
    entries = commands.access_log(app, who, f) if not errors else []
    flags = commands.access_log_flags(app, who, f.since, f.until) if not errors else []
    query = "&".join(f"{k}={v}" for k, v in values.items() if v)
    return page(request, "access_log.html", 422 if errors else 200, who=who, entries=entries, flags=flags,
                values=values, errors=errors, query=query)


@router.get("/access-log.csv")
def access_log_csv(request: Request, who: Principal = Depends(signed_in)) -> Response:
    values = {k: request.query_params.get(k, "").strip()[:100] for k in FILTERS}
    errors: list[dict] = []
    f = _filter(values, errors)
    if errors:
        raise DomainError(errors[0]["text"])
    rows = commands.access_log(web_of(request).application, who, f)
    return PlainTextResponse(to_csv(rows), media_type="text/csv",
                             headers={"Content-Disposition": 'attachment; filename="access-log.csv"'})


def _filter(values: dict[str, str], errors: list[dict]) -> AccessLogFilter:
    days: dict[str, datetime | None] = {}
    for key in ("since", "until"):
        days[key] = None
        if values[key]:
            try:
                day = datetime.combine(date.fromisoformat(values[key]), time(), tzinfo=timezone.utc)
                days[key] = day + timedelta(days=1) if key == "until" else day
            except ValueError:
                errors.append({"text": f"The {'from' if key == 'since' else 'to'} date must be a real date, "
                                       "like 2026-11-30", "href": f"#{key}"})
    for key in ("record_id", "worker_id"):
        if values[key]:
            try:
                UUID(values[key])
            except ValueError:
                errors.append({"text": f"The {key.replace('_', ' ')} must be a full id", "href": f"#{key}"})
    if values["outcome"] not in ("", "allowed", "denied"):
        errors.append({"text": "Choose allowed or denied", "href": "#outcome"})
    return AccessLogFilter(record_id=values["record_id"] or None, worker_id=values["worker_id"] or None,
                           reader=values["reader"] or None, outcome=values["outcome"] or None,
                           since=days["since"], until=days["until"], limit=1000)


@router.get("/records/{record_id}/history")
def history(record_id: UUID, request: Request, who: Principal = Depends(signed_in)) -> Response:
    record, events = commands.history(web_of(request).application, who, via(request), record_id)
    names = commands.names(web_of(request).application, [record.supervisee_id, record.supervisor_id])
    return page(request, "history.html", who=who, record=record, events=list(events), names=names, errors=[])


@router.get("/records/{record_id}/as-of")
def as_of(record_id: UUID, request: Request, who: Principal = Depends(signed_in), on: str = "") -> Response:
    try:
        moment = datetime.combine(date.fromisoformat(on), time(23, 59, 59), tzinfo=timezone.utc)
    except ValueError:
        record, events = commands.history(web_of(request).application, who, via(request), record_id)
        names = commands.names(web_of(request).application, [record.supervisee_id, record.supervisor_id])
        return page(request, "history.html", 422, who=who, record=record, events=list(events), names=names,
                    errors=[{"text": "Enter a real date, like 2026-10-01", "href": "#on"}])
    record = commands.read_as_of(web_of(request).application, who, via(request), record_id, moment)
    return page(request, "as_of.html", who=who, on=on, **record_page_view(request, record, who))
