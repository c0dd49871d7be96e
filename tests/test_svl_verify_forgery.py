"""Forgeries made from genuine artefacts of a real application (a real SQLite file, real keys, a real
destruction): the outsider's verifier (`svl-verify`) must reject every one, or say plainly that it proves
less, and never report a fact that was changed as VERIFIED."""

from __future__ import annotations

import base64
import copy
import json
import secrets
from datetime import date
from pathlib import Path
from uuid import UUID

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from infrastructure import svl_verify
from infrastructure.checkpoints import SigningKey, create_signing_key_file
from infrastructure.note_signing import certificate_statement, format_verifier_key, sign_checkpoint, sign_note
from infrastructure.settings import Settings
from infrastructure.svl_verify import (
    RESULT_SELF_SIGNED,
    parse_certificate_statement,
    parse_checkpoint,
    parse_note,
    verify_bundle,
    verify_certificate,
    verify_note,
)
from tests.conftest import SteppingClock
from tests.test_retention import leaver_with_a_signed_record, record_of


class Genuine:
    """Everything an organisation hands out, made once by a real application."""

    def __init__(self, root: Path) -> None:
        from api.application import Storage, SupervisionLedger

        settings = Settings(database_url=f"sqlite:///{root}/svl.db", master_key_file=root / "master.key",
                            signing_key_file=root / "signing.key", certificate_dir=root / "certificates")
        create_signing_key_file(settings.signing_key_file, settings.organisation_origin)
        storage = Storage.open(settings, master_key=secrets.token_bytes(32))
        app = SupervisionLedger(storage, SteppingClock())
        try:
            _, leaver, stayer = leaver_with_a_signed_record(app)
            leaver_record, stayer_record = record_of(app, leaver), record_of(app, stayer)
            app.archive_leaver(leaver, actor="hr")
            app.run_retention(as_of=date(2026, 3, 1), actor="dpo", purge_ciphertext=True)
            app.integrity.checkpoint()
            self.key = app.integrity.verifier_key()
            self.live = app.integrity.export_bundle(UUID(stayer_record))  # a surviving record's bundle
            self.destroyed = app.integrity.export_bundle(UUID(leaver_record))  # its events purged
            self.certificate = json.loads(app.certificate_path(leaver).read_text())
            self.checkpoint = self.live["checkpoint"]
            self.leaver, self.stayer = leaver, stayer
            self.signing = SigningKey.parse(settings.signing_key_file.read_text())
            after = parse_checkpoint(self.certificate["checkpoint_after"]).tree_size
            newest = parse_checkpoint(self.checkpoint).tree_size
            self.link = app.integrity.consistency(after, newest)  # what `svl ledger consistency A --to N` prints
        finally:
            app.close()
            storage.engine.dispose()


@pytest.fixture(scope="module")
def genuine(tmp_path_factory) -> Genuine:
    return Genuine(tmp_path_factory.mktemp("genuine"))


def test_the_genuine_artefacts_verify_with_the_key_and_checkpoint_the_user_holds(genuine) -> None:
    for bundle in (genuine.live, genuine.destroyed):
        report = verify_bundle(bundle, trusted_key=genuine.key, trusted_checkpoint=genuine.checkpoint)
        assert report.verified, report.problems
    assert all("state_sha256" in e and e["purged"] for e in genuine.destroyed["events"])
    assert verify_certificate(genuine.certificate, trusted_key=genuine.key).verified


def _purged_stand_in(event: dict, donor: dict) -> dict:
    """The issue's forgery: an event of one record replaced by a 'destroyed' entry carrying the leaf hash,
    leaf index and inclusion proof of an event of another record, and no digest of its own."""
    forged = {k: v for k, v in event.items() if k != "state_sha256"}
    forged.update(state="", purged={"rule": "bcp: retention", "on": "2026-03-01"}, leaf_hash=donor["leaf_hash"],
                  leaf_index=donor["leaf_index"], inclusion_proof=donor["inclusion_proof"])
    return forged


def test_a_purged_entry_carrying_another_records_leaf_is_rejected(genuine) -> None:
    forged = copy.deepcopy(genuine.live)
    forged["events"][1] = _purged_stand_in(forged["events"][1], genuine.destroyed["events"][1])
    report = verify_bundle(forged, trusted_key=genuine.key, trusted_checkpoint=genuine.checkpoint)
    assert not report.verified
    assert any("event" in p and str(forged["events"][1]["notification_id"]) in p for p in report.problems)
    assert not any("destroyed under bcp: retention" in line for line in report.checked)


def test_a_fake_purged_version_is_not_added(genuine) -> None:
    forged = copy.deepcopy(genuine.live)
    last = forged["events"][-1]
    donor = genuine.destroyed["events"][0]
    fake = _purged_stand_in({**last, "originator_version": 7, "notification_id": donor["notification_id"]}, donor)
    forged["events"].append(fake)
    report = verify_bundle(forged, trusted_key=genuine.key, trusted_checkpoint=genuine.checkpoint)
    assert not report.verified and report.problems


def test_a_destroyed_events_digest_from_another_event_is_rejected(genuine) -> None:
    forged = copy.deepcopy(genuine.destroyed)
    forged["events"][0]["state_sha256"] = forged["events"][1]["state_sha256"]
    report = verify_bundle(forged, trusted_key=genuine.key)
    assert not report.verified


def test_a_destroyed_event_without_its_digest_is_not_proven(genuine) -> None:
    forged = copy.deepcopy(genuine.destroyed)
    del forged["events"][0]["state_sha256"]
    report = verify_bundle(forged, trusted_key=genuine.key)
    assert not report.verified
    assert any("digest" in p for p in report.problems)


def test_the_leaf_hash_given_in_a_bundle_is_never_used(genuine) -> None:
    for bundle in (genuine.live, genuine.destroyed):
        changed = copy.deepcopy(bundle)
        for event in changed["events"]:
            event["leaf_hash"] = base64.b64encode(bytes(32)).decode()
        assert verify_bundle(changed, trusted_key=genuine.key).verified


def test_the_forgery_through_the_command_line(genuine, tmp_path, capsys) -> None:
    forged = copy.deepcopy(genuine.live)
    forged["events"][1] = _purged_stand_in(forged["events"][1], genuine.destroyed["events"][1])
    (tmp_path / "forged.json").write_text(json.dumps(forged))
    (tmp_path / "cp").write_text(genuine.checkpoint)
    code = svl_verify.main([str(tmp_path / "forged.json"), "--key", genuine.key, "--checkpoint", str(tmp_path / "cp")])
    out = capsys.readouterr().out
    assert code == 1 and "RESULT: NOT VERIFIED" in out


# --- whose key? ---

def _resign_bundle(bundle: dict, key: Ed25519PrivateKey) -> dict:
    """The same bundle, its checkpoint re-signed by another key of the same name, carrying that key."""
    forged = copy.deepcopy(bundle)
    cp = parse_checkpoint(forged["checkpoint"])
    name = cp.signatures[0].name
    forged["checkpoint"] = sign_checkpoint(cp.origin, cp.tree_size, cp.root_hash, key, key_name=name, time=cp.time)
    forged["verifier_key"] = format_verifier_key(name, key.public_key())
    return forged


def test_a_bundle_vouched_for_only_by_its_own_key_is_never_reported_verified(genuine, tmp_path, capsys) -> None:
    forged = _resign_bundle(genuine.live, Ed25519PrivateKey.generate())
    (tmp_path / "b.json").write_text(json.dumps(forged))
    assert svl_verify.main([str(tmp_path / "b.json")]) == svl_verify.EXIT_SELF_SIGNED
    out = capsys.readouterr().out
    assert out.rstrip().endswith(RESULT_SELF_SIGNED) and "RESULT: VERIFIED" not in out
    assert svl_verify.main([str(tmp_path / "b.json"), "--key", genuine.key]) == svl_verify.EXIT_NOT_VERIFIED
    assert "RESULT: NOT VERIFIED" in capsys.readouterr().out


def _statement_fields(certificate: dict) -> list[tuple[str, str]]:
    return list(parse_certificate_statement(parse_note(certificate["statement"]).text).items())


def _resign_certificate(certificate: dict, fields: list[tuple[str, str]], key: SigningKey) -> dict:
    forged = copy.deepcopy(certificate)
    forged["statement"] = sign_note(certificate_statement(fields), key.private_key, key.name)
    return forged


def test_a_certificate_vouched_for_only_by_its_own_key_says_so(genuine, tmp_path, capsys) -> None:
    """The issue's case: re-signed with a fresh key of the same name, naming another worker, 'by hr'."""
    fresh = SigningKey(genuine.signing.name, Ed25519PrivateKey.generate())
    fields = [(n, genuine.stayer if n == "worker" else "hr" if n == "by" else v)
              for n, v in _statement_fields(genuine.certificate)]
    forged = _resign_certificate(genuine.certificate, fields, fresh)
    for label in ("checkpoint_before", "checkpoint_after"):
        cp = parse_checkpoint(forged[label])
        forged[label] = sign_checkpoint(cp.origin, cp.tree_size, cp.root_hash, fresh.private_key, time=cp.time)
    forged["verifier_key"] = fresh.vkey
    (tmp_path / "c.json").write_text(json.dumps(forged))
    assert svl_verify.main([str(tmp_path / "c.json")]) == svl_verify.EXIT_SELF_SIGNED
    out = capsys.readouterr().out
    assert out.rstrip().endswith(RESULT_SELF_SIGNED) and "came inside it" in out
    assert svl_verify.main([str(tmp_path / "c.json"), "--key", genuine.key]) == svl_verify.EXIT_NOT_VERIFIED


@pytest.mark.parametrize("dropped", ["due", "left", "worker", "destroyed", "checkpoint-after", "rule"])
def test_a_certificate_signed_with_the_real_key_but_missing_a_line_is_rejected(genuine, dropped) -> None:
    fields = [(n, v) for n, v in _statement_fields(genuine.certificate) if n != dropped]
    report = verify_certificate(_resign_certificate(genuine.certificate, fields, genuine.signing),
                                trusted_key=genuine.key)
    assert not report.verified and f"lacks {dropped}" in report.problems[0], report.problems
    assert "so the file was due on ," not in " ".join(report.proves)


@pytest.mark.parametrize("field_name, value, problem", [
    ("due", "2099-01-01", "before its destruction date"),
    ("due", "2010-01-01", "before the worker left"),
    ("due", "01/01/2020", "no valid date for 'due'"),
    ("records", "3 7e0c2a2e-1b7e-4b59-9a59-000000000001", "record count"),
    ("destroyed", "yesterday", "no time of destruction"),
    ("origin", "another.example/log", "origin"),
])
def test_a_certificate_whose_statement_contradicts_itself_is_rejected(genuine, field_name, value, problem) -> None:
    fields = [(n, value if n == field_name else v) for n, v in _statement_fields(genuine.certificate)]
    report = verify_certificate(_resign_certificate(genuine.certificate, fields, genuine.signing),
                                trusted_key=genuine.key)
    assert not report.verified and problem in report.problems[0], report.problems


def test_certificate_messages_say_certificate(genuine) -> None:
    forged = copy.deepcopy(genuine.certificate)
    del forged["consistency_proof"]
    report = verify_certificate(forged, trusted_key=genuine.key)
    assert report.problems == ["the certificate lacks 'consistency_proof'"]


def test_the_checkpoint_the_user_holds_is_honoured_for_a_certificate(genuine, tmp_path, capsys) -> None:
    cert, key = genuine.certificate, genuine.key
    after = parse_checkpoint(cert["checkpoint_after"])
    held = verify_certificate(cert, trusted_key=key, trusted_checkpoint=cert["checkpoint_after"])
    assert held.verified and any("is the one you hold" in line for line in held.checked)
    fork = sign_checkpoint(after.origin, after.tree_size, bytes(32), genuine.signing.private_key, time=after.time)
    split = verify_certificate(cert, trusted_key=key, trusted_checkpoint=fork)
    assert not split.verified and "two different histories" in split.problems[0]
    newer = verify_certificate(cert, trusted_key=key, trusted_checkpoint=genuine.checkpoint)
    assert not newer.verified and "svl ledger consistency" in newer.problems[0]
    linked = verify_certificate(cert, trusted_key=key, trusted_checkpoint=genuine.checkpoint, link=genuine.link)
    assert linked.verified, linked.problems
    bad_link = {**genuine.link, "proof": genuine.link["proof"][::-1]}
    if len(bad_link["proof"]) > 1:
        assert not verify_certificate(cert, trusted_key=key, trusted_checkpoint=genuine.checkpoint,
                                      link=bad_link).verified
    wrong_sizes = {**genuine.link, "from_size": 1}
    assert not verify_certificate(cert, trusted_key=key, trusted_checkpoint=genuine.checkpoint,
                                  link=wrong_sizes).verified
    # Through the command line, with the files the user holds.
    (tmp_path / "cert.json").write_text(json.dumps(cert))
    (tmp_path / "held").write_text(genuine.checkpoint)
    (tmp_path / "link.json").write_text(json.dumps(genuine.link))
    args = [str(tmp_path / "cert.json"), "--key", key, "--checkpoint", str(tmp_path / "held")]
    assert svl_verify.main(args) == svl_verify.EXIT_NOT_VERIFIED
    assert svl_verify.main(args + ["--consistency", str(tmp_path / "link.json")]) == svl_verify.EXIT_VERIFIED
    assert capsys.readouterr().out.rstrip().endswith("RESULT: VERIFIED")
    assert verify_note(cert["statement"], key)  # the genuine statement itself is untouched by all this
