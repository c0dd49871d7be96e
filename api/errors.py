"""What the application refuses beyond the domain's own rules; the edges map these to HTTP statuses."""

from domain.errors import DomainError


class Conflict(DomainError):
    """Someone else changed the aggregate first; the caller should reload and retry."""

    def __init__(self, message: str, current_version: int | None = None) -> None:
        super().__init__(message)
        self.current_version = current_version


class NotFound(DomainError):
    pass


class Destroyed(NotFound):
    """The content existed but was destroyed under a retention rule (HTTP 410 Gone)."""
