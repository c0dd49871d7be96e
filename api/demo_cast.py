"""Who the demo loaders act as: they call the same commands as any user, so the same rules decide."""

from uuid import NAMESPACE_URL, uuid5

from domain.authorisation import Role
from infrastructure.users import Principal

# HR and the DPO of the demo organisation, as the loaders act (their accounts are created after the load).
HR = Principal("demo-loader-hr", "hr:demo-loader", Role.ADMINISTRATOR, None, "demo")
DPO = Principal("demo-loader-dpo", "dpo:demo", Role.DPO, None, "demo")
IO = Principal("demo-loader-io", "io:demo", Role.INVESTIGATING_OFFICER, None, "demo")  # benchmarks/retention.py


def supervisor(worker_id: str) -> Principal:
    """A member of staff acting as a supervisor (they are also someone's supervisee)."""
    return Principal(_user_id(worker_id), f"staff:{str(worker_id)[:8]}", Role.SUPERVISOR, str(worker_id), "demo")


def supervisee(worker_id: str) -> Principal:
    return Principal(_user_id(worker_id), f"staff:{str(worker_id)[:8]}", Role.SUPERVISEE, str(worker_id), "demo")


def _user_id(worker_id: str) -> str:
    # A stable id of user-id length for the member of staff the loader acts as (their account may not exist).
    return str(uuid5(NAMESPACE_URL, f"svl-demo-staff:{worker_id}"))
