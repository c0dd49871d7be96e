"""Time is passed into the domain, never read from a clock here."""

from datetime import date, datetime, timedelta

from domain.errors import DomainError

# The calendar the domain reasons about: every deadline it derives (a destruction date years after leaving, a
# cut-off a day after an as-of date) must stay a date, so inputs are bounded well inside date.max.
EARLIEST_DAY = date(1900, 1, 1)
LATEST_DAY = date(9000, 12, 31)


class ImplausibleDate(DomainError):
    """A date outside the calendar the domain reasons about; `field` names the input it came from."""

    def __init__(self, field: str, value: date) -> None:
        super().__init__(f"{field}: {value.isoformat()} is outside the supported dates "
                         f"({EARLIEST_DAY.isoformat()} to {LATEST_DAY.isoformat()})", field=field)


def require_plausible_day(value: date, field: str) -> date:
    day = value.date() if isinstance(value, datetime) else value
    if not EARLIEST_DAY <= day <= LATEST_DAY:
        raise ImplausibleDate(field, day)
    return value


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
