"""What the application refuses beyond the domain's own rules; the edges map these to HTTP statuses."""

from domain.authorisation import Decision
from domain.errors import DomainError, NotPermitted, OutOfOrder, StaleVersion


class Conflict(DomainError):
    """Someone else changed the aggregate first; the caller should reload and retry."""

    def __init__(self, message: str, current_version: int | None = None, current_content_version: int | None = None,
                 current_content_sha256: str | None = None) -> None:
        super().__init__(message)
        self.current_version = current_version
        self.current_content_version = current_content_version
        self.current_content_sha256 = current_content_sha256


class NotFound(DomainError):
    pass


class Destroyed(NotFound):
    """The content existed but was destroyed under a retention rule (HTTP 410 Gone)."""


class OutOfOrderConflict(Conflict, OutOfOrder):
    """A step the record's state does not allow, answered with the record's current version."""


class StaleConflict(Conflict, StaleVersion):
    """A step on a version that is no longer current, answered with the record's current version."""


class AccessDenied(NotPermitted):
    """Refused by the access rules. `logged`: the refusal is already in the access log (a read, or a step on a
    worker's file); a refusal by role alone touched no file and is not logged (api/core.py Service.require)."""

    def __init__(self, decision: Decision, *, logged: bool = False) -> None:
        super().__init__(decision.reason)
        self.decision = decision
        self.logged = logged
