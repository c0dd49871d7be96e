"""A refusal at the level of a route's roles (an HR account calling `/sign`) is written to the access log like
every other refusal: an inspector sees who tried what, whatever stopped them."""

from collections.abc import Sequence

from fastapi import Request

from api.access_service import Via
from api.application import SupervisionApplication
from domain.access_log import AccessAttempt
from domain.authorisation import Decision, Refusal
from domain.errors import DomainError
from infrastructure.keys import KeyDestroyed
from infrastructure.sealed_mapper import EventDestroyed
from infrastructure.users import Principal

ACTION_LENGTH = 32  # the access log's action column


def log_route_refusal(request: Request, who: Principal, roles: Sequence[str]) -> None:
    """Logs the refusal (raising AccessLogUnavailable if it cannot be written: then nothing is served)."""
    app: SupervisionApplication = request.app.state.application
    route = request.scope.get("route")
    path = getattr(route, "path", request.url.path)
    worker_id, record_id, version, file_state = "", None, None, "none"
    params = request.path_params
    try:
        if "record_id" in params:
            record = app.records.get_record(params["record_id"])
            record_id, worker_id, version = str(record.id), record.supervisee_id, record.version
        elif "worker_id" in params:
            worker_id = str(app.people.get_worker(params["worker_id"]).id)
        if worker_id:
            file_state = app.access.relationships_of(worker_id).file_state
    except (DomainError, KeyDestroyed, EventDestroyed):
        pass  # an unknown or destroyed target: the attempt is still logged, without its file
    reason = f"a {who.role.value} may not call {request.method} {path}; " + (
        f"it is for: {', '.join(roles)}" if roles else "it declares no roles (deny by default)")
    client = request.client.host if request.client else "unknown"
    purpose = request.headers.get("x-access-purpose", "")[:300]
    via = Via("http", client, purpose.strip())
    action = (getattr(route, "name", None) or request.method.lower())[:ACTION_LENGTH]
    app.access.log_access(who, AccessAttempt(action, worker_id, record_id, version, file_state, via.channel, via.client,
                                             via.stated_purpose), Decision.refuse(Refusal.ROLE, reason))
