"""Principals for tests that call the application directly, as the edges would after authenticating."""

from uuid import NAMESPACE_URL, uuid5

from domain.authorisation import Role
from infrastructure.users import Principal

_ROLES = {"hr": Role.ADMINISTRATOR, "dpo": Role.DPO, "qa": Role.QA, "ofsted": Role.INSPECTOR}


def acting(actor: str | object, role: Role | None = None) -> Principal:
    """"hr", "dpo", "qa", "ofsted", "io…" act in those roles; anything else is a member of staff's worker id
    (a supervisor by default: the domain decides which party they are by that id)."""
    name = str(actor)
    if role is None:
        role = _ROLES.get(name) or (Role.INVESTIGATING_OFFICER if name.startswith("io") else Role.SUPERVISOR)
    worker_id = name if role in (Role.SUPERVISEE, Role.SUPERVISOR, Role.MANAGER) else None
    return Principal(str(uuid5(NAMESPACE_URL, f"test-user:{name}")), name[:64], role, worker_id, "test")
