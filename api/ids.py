"""Ids as callers type them: a malformed one is an unknown one (404), never a server error."""

from uuid import UUID

from api.errors import NotFound


def as_uuid(value: UUID | str, noun: str) -> UUID:
    if isinstance(value, UUID):
        return value
    try:
        return UUID(str(value))
    except ValueError:
        raise NotFound(f"no {noun} {value!r}: not a valid id") from None


def is_id(text: str) -> bool:
    """Whether `text` is an id at all (a form's choice, an actor named in an event), without raising."""
    try:
        UUID(text)
    except ValueError:
        return False
    return True
