"""The two parties to supervision: which one an actor is, for records and agreements alike."""


def party_of(actor: str, *, supervisor_id: str, supervisee_id: str) -> str | None:
    """"supervisor", "supervisee", or None for anyone else."""
    if actor == supervisor_id:
        return "supervisor"
    if actor == supervisee_id:
        return "supervisee"
    return None
