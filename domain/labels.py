"""Short labels that events carry and read models store whole: who acted, a username, a role, an id.

Each has a bound, checked by the command that records it, and every read-model column that holds one is at
least that wide, so an event the domain accepted always fits where it is projected.
"""

from domain.errors import DomainError

USERNAME_LENGTH = 64
ACTOR_LENGTH = 128  # "user:" + a username, a worker id, or a loader's name such as "hr:demo-loader"
ROLE_LENGTH = 200  # a job title, an organisation's name
ID_LENGTH = 36  # a UUID as text


def bounded(value: str, limit: int, what: str) -> str:
    """`value` stripped, refused when empty or longer than `limit` characters."""
    text = value.strip()
    if not text:
        raise DomainError(f"{what} must not be empty")
    if len(text) > limit:
        raise DomainError(f"{what} must be at most {limit} characters, got {len(text)}")
    return text
