"""Events as code that no longer exists stored them, for the tests that the ledger's and old databases' events
still load: lists of case supervision records were stored by an aggregate of their own (CaseRecordDisposal) until
both record classes shared one reviewed list (domain/destruction_proposal.py); personal files' proposals stored
their list as `files`. Each is sealed and appended (with its ledger leaf) exactly as that code stored it."""

from datetime import date, datetime
from typing import Any
from uuid import UUID, uuid4

from tests.support.acting import acting

FORMER_LIST = "domain.case_record_disposal:CaseRecordDisposal"
PROPOSAL = "domain.destruction_proposal:DestructionProposal"


def store_former(app: Any, originator_id: UUID, events: list[tuple[str, dict]]) -> None:
    """Appends (topic, state) events of one aggregate, versions 1.., sealed with the organisation's key."""
    keys = app.storage.keyring.stage_assignment(originator_id, "organisation")
    stored = [app.mapper.seal(originator_id, version, topic, state)
              for version, (topic, state) in enumerate(events, start=1)]
    app.recorder.insert_events(stored, svl_keys=keys)


def former_case_record_list(app: Any, *, as_of: date, records: list[dict], rule: str, proposed: datetime,
                            decided: datetime | None = None, decision: str = "approved",
                            destroyed: datetime | None = None) -> UUID:
    """A list of case supervision records as CaseRecordDisposal stored it: proposed by the DPO,
    decided by HR with one event naming its decision, and optionally its records destroyed."""
    list_id = uuid4()
    events = [(f"{FORMER_LIST}.CaseRecordDestructionProposed",
               {"timestamp": proposed, "originator_topic": FORMER_LIST, "as_of": as_of, "records": records,
                "pack": "bcp", "rule": rule, "actor": acting("dpo").actor,
                "proposer_user": acting("dpo").user_id})]
    if decided is not None:
        events.append((f"{FORMER_LIST}.CaseRecordDestructionDecided",
                       {"timestamp": decided, "decision": decision, "rationale": "Checked the schedule",
                        "actor": acting("hr").actor}))
    if destroyed is not None:
        events.append((f"{FORMER_LIST}.CaseRecordsDestroyed",
                       {"timestamp": destroyed, "destroyed": sorted(r["record_id"] for r in records),
                        "actor": acting("dpo").actor}))
    store_former(app, list_id, events)
    return list_id


def former_proposal(app: Any, *, as_of: date, files: list[dict], proposed: datetime,
                    approved: datetime | None = None) -> UUID:
    """A proposal of personal files as stored before it had a record class (its list was `files`)."""
    proposal_id = uuid4()
    events = [(f"{PROPOSAL}.DestructionProposed",
               {"timestamp": proposed, "originator_topic": PROPOSAL, "as_of": as_of, "files": files, "pack": "bcp",
                "actor": acting("dpo").actor, "proposer_user": acting("dpo").user_id})]
    if approved is not None:
        events.append((f"{PROPOSAL}.DestructionApproved",
                       {"timestamp": approved, "rationale": "Checked against the leavers list",
                        "actor": acting("hr").actor}))
    store_former(app, proposal_id, events)
    return proposal_id
