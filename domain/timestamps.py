"""Time is passed into the domain, never read from a clock here."""

from datetime import datetime, timedelta

from domain.errors import DomainError


def require_utc(timestamp: datetime) -> datetime:
    """Every event is stamped with a timezone-aware UTC time."""
    if not isinstance(timestamp, datetime):
        raise DomainError(f"timestamp must be a datetime, got {type(timestamp).__name__}")
    if timestamp.tzinfo is None or timestamp.utcoffset() != timedelta(0):
        raise DomainError(f"timestamp must be timezone-aware UTC, got {timestamp.isoformat()}")
    return timestamp


def require_not_before(timestamp: datetime, last: datetime) -> datetime:
    """A new event may not be stamped before the aggregate's last one: history only moves forward."""
    require_utc(timestamp)
    if timestamp < last:
        raise DomainError(
            f"timestamp {timestamp.isoformat()} is before the last recorded change {last.isoformat()}"
        )
    return timestamp
