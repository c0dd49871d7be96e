"""/api/v1/ledger: the latest signed checkpoint and RFC 9162 proofs against it.

Hashes and signed notes only, never content: anyone signed in may fetch them, and anyone holding the
organisation's verifier key can check them with `svl-verify`'s functions (`verify_inclusion`,
`verify_consistency`, `verify_checkpoint`). Hashes are base64, as in the checkpoint itself.
"""

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query
from pydantic import BaseModel

from api.http_support import ANYONE, App, allow
from infrastructure.ledger import BadProofRequest, NotInLedger, NotYetCheckpointed, b64

router = APIRouter(prefix="/ledger", tags=["ledger"])

MAX_ID = 2**63 - 1
RULE = "Hashes and signed checkpoints only: no record content."


class CheckpointOut(BaseModel):
    tree_size: int
    root_hash: str
    time: str | None
    note: str
    verifier_key: str | None


class InclusionOut(BaseModel):
    notification_id: int
    leaf_index: int
    tree_size: int
    leaf_hash: str
    proof: list[str]
    checkpoint: str
    verifier_key: str | None


class ConsistencyOut(BaseModel):
    from_size: int
    to_size: int
    proof: list[str]
    checkpoint: str
    from_checkpoint: str | None
    verifier_key: str | None


@router.get("/checkpoint", response_model=CheckpointOut, **allow(ANYONE, RULE))
def latest_checkpoint(app: App) -> CheckpointOut:
    """The latest signed checkpoint (C2SP signed note): tree size, root hash, time."""
    latest = app.integrity.latest_checkpoint(check_signature=False)
    if latest is None:
        raise HTTPException(404, "no checkpoint has been signed yet")
    note, cp = latest
    return CheckpointOut(tree_size=cp.tree_size, root_hash=b64(cp.root_hash), note=note,
                         time=cp.time.strftime("%Y-%m-%dT%H:%M:%SZ") if cp.time else None,
                         verifier_key=app.integrity.verifier_key_or_none())


@router.get("/proof/inclusion/{notification_id}", response_model=InclusionOut, **allow(ANYONE, RULE))
def inclusion_proof(app: App, notification_id: Annotated[int, Path(ge=1, le=MAX_ID)],
                    tree_size: Annotated[int | None, Query(ge=1, le=MAX_ID,
                                                           description="a checkpoint's size; default: the latest")]
                    = None) -> InclusionOut:
    """Proof that the event with this notification id is in a signed checkpoint."""
    try:
        return InclusionOut(**app.integrity.inclusion(notification_id, tree_size))
    except NotInLedger as exc:
        raise HTTPException(404, str(exc)) from None
    except NotYetCheckpointed as exc:
        raise HTTPException(409, str(exc)) from None


@router.get("/proof/consistency", response_model=ConsistencyOut, **allow(ANYONE, RULE))
def consistency_proof(app: App,
                      from_size: Annotated[int, Query(alias="from", ge=0, le=MAX_ID,
                                                      description="the size of the tree you hold")],
                      to_size: Annotated[int | None, Query(alias="to", ge=0, le=MAX_ID,
                                                           description="a checkpoint's size; default: the latest")]
                      = None) -> ConsistencyOut:
    """Proof that the tree of size `from` is a prefix of the checkpoint of size `to`."""
    try:
        return ConsistencyOut(**app.integrity.consistency(from_size, to_size))
    except NotInLedger as exc:
        raise HTTPException(404, str(exc)) from None
    except BadProofRequest as exc:
        raise HTTPException(422, str(exc)) from None
