"""Destruction as the rules require it: one authorised person proposes the files due, a second approves."""

from datetime import date
from typing import Any

from tests.support.acting import acting


def destroy_due(app: Any, as_of: date, *, purge_ciphertext: bool = False, proposer: str = "dpo",
                approver: str = "hr") -> list:
    """Proposes what is due on `as_of` (as the DPO), approves it (as HR, a second person) and runs it."""
    proposal = app.propose_destruction(acting(proposer), as_of=as_of)
    app.approve_destruction(acting(approver), proposal.id, rationale="checked against the retention schedule")
    return app.run_retention(acting(proposer), proposal.id, purge_ciphertext=purge_ciphertext)
