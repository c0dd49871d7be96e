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

from infrastructure import svl_verify
from infrastructure.checkpoints import create_signing_key_file
from infrastructure.settings import Settings
from infrastructure.svl_verify import verify_bundle, verify_certificate
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
