"""GET /api/v1/ledger/...: the latest checkpoint and proofs, checked with the standalone verifier."""

from __future__ import annotations

import base64
from datetime import date

from infrastructure.checkpoints import create_signing_key_file
from infrastructure.svl_verify import verify_checkpoint, verify_consistency, verify_inclusion
from tests.support.world import World, world  # noqa: F401  (the shared fixture)
from tests.support.acting import acting


def b(values: list[str]) -> list[bytes]:
    return [base64.b64decode(v) for v in values]


def sign(world: World) -> dict:
    settings = world.app.storage.settings
    create_signing_key_file(settings.signing_key_file, settings.organisation_origin)
    world.app.integrity.checkpoint(publish_to=None)
    response = world.get("quinn", "/ledger/checkpoint")
    assert response.status_code == 200, response.text
    return response.json()


def test_the_latest_checkpoint_is_served_signed(world: World) -> None:
    assert world.get("quinn", "/ledger/checkpoint").status_code == 404
    body = sign(world)
    cp = verify_checkpoint(body["note"], body["verifier_key"], origin=world.app.storage.settings.organisation_origin)
    assert (cp.tree_size, base64.b64encode(cp.root_hash).decode()) == (body["tree_size"], body["root_hash"])
    assert world.client.get("/api/v1/ledger/checkpoint").status_code == 401


def test_inclusion_proofs_verify_and_unknown_or_newer_events_are_refused(world: World) -> None:
    body = sign(world)
    cp = verify_checkpoint(body["note"], body["verifier_key"])
    for nid in (1, body["tree_size"] // 2, body["tree_size"]):
        proof = world.get("sam", f"/ledger/proof/inclusion/{nid}").json()
        assert verify_inclusion(base64.b64decode(proof["leaf_hash"]), proof["leaf_index"], cp.tree_size,
                                b(proof["proof"]), cp.root_hash)
    assert world.get("sam", "/ledger/proof/inclusion/999999").status_code == 404
    assert world.get("sam", "/ledger/proof/inclusion/0").status_code == 422
    world.app.people.join_worker(acting("hr"), name="New", role="r", category="experienced",
                                 start_date=date(2024, 1, 1))
    newest = world.app.recorder.max_notification_id()
    refused = world.get("sam", f"/ledger/proof/inclusion/{newest}")
    assert refused.status_code == 409 and "svl checkpoint" in refused.json()["detail"]


def test_consistency_proofs_link_two_checkpoints(world: World) -> None:
    older = sign(world)
    world.app.people.join_worker(acting("hr"), name="New", role="r", category="experienced",
                                 start_date=date(2024, 1, 1))
    world.app.integrity.checkpoint(publish_to=None)
    newer = world.get("ines", "/ledger/checkpoint").json()
    proof = world.get("ines", f"/ledger/proof/consistency?from={older['tree_size']}").json()
    assert (proof["from_size"], proof["to_size"]) == (older["tree_size"], newer["tree_size"])
    assert proof["from_checkpoint"] == older["note"]
    assert verify_consistency(older["tree_size"], newer["tree_size"], b(proof["proof"]),
                              base64.b64decode(older["root_hash"]), base64.b64decode(newer["root_hash"]))
    assert world.get("ines", f"/ledger/proof/consistency?from={newer['tree_size'] + 1}").status_code == 422
    assert world.get("ines", "/ledger/proof/consistency?from=1&to=3").status_code == 404


def test_a_proof_against_an_older_checkpoint_verifies_against_that_checkpoint_not_the_latest(world: World) -> None:
    older = sign(world)
    world.app.people.join_worker(acting("hr"), name="Later", role="r", category="experienced",
                                 start_date=date(2024, 1, 1))
    newer = sign(world)
    assert newer["tree_size"] > older["tree_size"]
    old_cp = verify_checkpoint(older["note"], older["verifier_key"])
    nid = older["tree_size"] // 2
    against_old = world.get("sam", f"/ledger/proof/inclusion/{nid}?tree_size={older['tree_size']}").json()
    against_latest = world.get("sam", f"/ledger/proof/inclusion/{nid}").json()
    assert (against_old["tree_size"], against_latest["tree_size"]) == (older["tree_size"], newer["tree_size"])
    leaf = base64.b64decode(against_old["leaf_hash"])
    assert verify_inclusion(leaf, against_old["leaf_index"], old_cp.tree_size, b(against_old["proof"]),
                            old_cp.root_hash)
    assert not verify_inclusion(leaf, against_latest["leaf_index"], old_cp.tree_size, b(against_latest["proof"]),
                                old_cp.root_hash)
    assert world.get("sam", f"/ledger/proof/inclusion/{nid}?tree_size={newer['tree_size'] + 1}").status_code == 404
