"""Rotating the ledger's signing key (`svl keys rotate-signing`), on both backends: new checkpoints name the new
key; old checkpoints, bundles and the whole log still verify with the old verifier key; whoever holds only the
old key follows the hand-over statement (signed by both keys) to the new one; a statement the old key did not
sign extends no trust; a retired key vouches for no later history; a process that loaded the old key signs with
the new one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from domain.authorisation import Role
from infrastructure import svl_verify
from infrastructure.checkpoints import SigningKey, load_signing_key
from infrastructure.ledger import LedgerError
from infrastructure.note_signing import sign_checkpoint, sign_key_transition, sign_note
from tests.support.acting import acting
from tests.support.staff import content
from tests.support.cli import cli, populated  # noqa: F401  (fixtures)


def signers(note: str) -> set[int]:
    return {s.key_id for s in svl_verify.parse_checkpoint(note).signatures}


def test_a_rotated_key_signs_on_and_every_earlier_proof_still_holds(cli, populated, settings, tmp_path,
                                                                     capsys) -> None:  # noqa: F811
    app, rid = populated
    record = app.records.get_record(rid)
    app.records.sign_record(acting(record.supervisee_id, Role.SUPERVISEE), rid, record.content_sha256)
    published = tmp_path / "published"
    before = json.loads(cli("checkpoint", "--json"))
    old_vkey = before["verifier_key"]
    old_seed = load_signing_key(settings.signing_key_file).private_key.private_bytes_raw()
    old_bundle = tmp_path / "old-bundle.json"
    cli("export-bundle", str(rid), "-o", str(old_bundle))

    out = cli("keys", "rotate-signing")
    assert f"handed over at tree size {before['tree_size']}" in out and old_vkey in out
    new_key = load_signing_key(settings.signing_key_file)
    assert new_key.vkey != old_vkey and new_key.private_key.private_bytes_raw() != old_seed  # the old one is gone
    assert (published / "verifier.vkey").read_text().strip() == new_key.vkey
    statement = (published / "key-transitions" / f"{before['tree_size']}.transition").read_text()
    transition = svl_verify.parse_key_transition(statement)
    assert (str(transition.old), str(transition.new)) == (old_vkey, new_key.vkey)

    second = app.records.draft_record(acting(record.supervisor_id), supervisee_id=record.supervisee_id,
                                      content=content("After the rotation")).id
    after = json.loads(cli("checkpoint", "--json"))
    assert after["tree_size"] > before["tree_size"]
    assert signers(after["note"]) == {svl_verify.parse_verifier_key(new_key.vkey).key_id}

    # The whole log: old and new checkpoints, from our own key and from the old key an inspector holds.
    assert "intact" in cli("verify")
    report = json.loads(cli("verify", "--json", "--checkpoints", str(published), "--key", old_vkey))
    assert report["intact"] and report["checkpoints_checked"] == 2 and report["published_checked"] == 2, report

    new_bundle = tmp_path / "new-bundle.json"
    cli("export-bundle", str(second), "-o", str(new_bundle))
    capsys.readouterr()
    assert svl_verify.main([str(old_bundle), "--key", old_vkey]) == svl_verify.EXIT_VERIFIED
    assert svl_verify.main([str(new_bundle), "--key", old_vkey]) == svl_verify.EXIT_VERIFIED
    assert "took over from the key you trust" in capsys.readouterr().out
    assert svl_verify.main([str(new_bundle), "--key", new_key.vkey]) == svl_verify.EXIT_VERIFIED

    stripped = json.loads(new_bundle.read_text())
    del stripped["key_transitions"]
    new_bundle.write_text(json.dumps(stripped))
    assert svl_verify.main([str(new_bundle), "--key", old_vkey]) == svl_verify.EXIT_NOT_VERIFIED


def test_a_process_that_loaded_the_old_key_signs_with_the_new_one(cli, populated, settings) -> None:  # noqa: F811
    app, rid = populated
    app.integrity.checkpoint()
    retired = app.integrity.signing_key()
    cli("keys", "rotate-signing")
    record = app.records.get_record(rid)
    app.records.draft_record(acting(record.supervisor_id), supervisee_id=record.supervisee_id, content=content("More"))
    note = app.integrity.checkpoint().note
    assert signers(note) == {svl_verify.parse_verifier_key(load_signing_key(settings.signing_key_file).vkey).key_id}
    # A key file put back with the retired key signs nothing.
    settings.signing_key_file.write_text(retired.to_text() + "\n")
    app.integrity._signing_key = None
    app.records.draft_record(acting(record.supervisor_id), supervisee_id=record.supervisee_id, content=content("Again"))
    with pytest.raises(LedgerError, match="retired"):
        app.integrity.checkpoint()


ORIGIN = "supervision-ledger.example/test"
ROOT = bytes(32)


def key() -> SigningKey:
    return SigningKey(ORIGIN, Ed25519PrivateKey.generate())


def test_trust_follows_only_statements_both_keys_signed_and_holds_each_key_to_its_sizes() -> None:
    old, new, intruder = key(), key(), key()
    handover = sign_key_transition(ORIGIN, 10, (old.private_key, old.name), (new.private_key, new.name))
    trust = svl_verify.TrustedKeys([old.vkey], [handover], origin=ORIGIN)
    for size, signer in ((5, old), (10, old), (10, new), (20, new)):
        note = sign_checkpoint(ORIGIN, size, ROOT, signer.private_key, signer.name)
        assert svl_verify.verify_checkpoint(note, trust, origin=ORIGIN).tree_size == size
    # A retired key vouches for no later history, and the new key for no earlier one.
    for size, signer in ((11, old), (9, new)):
        with pytest.raises(svl_verify.SignatureError, match="trusted for a checkpoint of size"):
            svl_verify.verify_checkpoint(sign_checkpoint(ORIGIN, size, ROOT, signer.private_key, signer.name),
                                         trust, origin=ORIGIN)

    # An intruder's statement: claims a hand-over from the old key but only the intruder signed it.
    text = (f"{svl_verify.TRANSITION_HEADER}\norigin {ORIGIN}\nsize 10\nold {old.vkey}\n"
            f"new {intruder.vkey}\n")
    forged = sign_note(text, intruder.private_key, intruder.name)
    with pytest.raises(svl_verify.VerificationError):
        svl_verify.parse_key_transition(forged)
    trust = svl_verify.TrustedKeys([old.vkey], [forged], origin=ORIGIN)
    with pytest.raises(svl_verify.SignatureError):
        svl_verify.verify_checkpoint(sign_checkpoint(ORIGIN, 20, ROOT, intruder.private_key, intruder.name),
                                     trust, origin=ORIGIN)
    # And a statement for another log extends nothing here.
    elsewhere = sign_key_transition("another.example/log", 10, (old.private_key, old.name),
                                    (new.private_key, new.name))
    trust = svl_verify.TrustedKeys([old.vkey], [elsewhere], origin=ORIGIN)
    with pytest.raises(svl_verify.SignatureError):
        svl_verify.verify_checkpoint(sign_checkpoint(ORIGIN, 20, ROOT, new.private_key, new.name), trust,
                                     origin=ORIGIN)


def test_the_bundle_and_the_published_directory_say_where_the_history_is(cli, populated, tmp_path) -> None:  # noqa: F811
    app, rid = populated
    app.integrity.checkpoint()
    cli("keys", "rotate-signing")
    bundle = tmp_path / "b.json"
    app.close()
    cli("export-bundle", str(rid), "-o", str(bundle))
    carried = json.loads(bundle.read_text())["key_transitions"]
    assert len(carried) == 1 and carried[0] == next((tmp_path / "published" / "key-transitions").iterdir()).read_text()
    assert Path(tmp_path / "published" / "verifier.vkey").exists()
