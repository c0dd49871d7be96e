"""api/verification_service.py: who may see, verify and export from the integrity ledger as commands (the web's
Ledger page calls these), what a verification reports and how long it took, and a record read with its bundle
(the signed copy's attachment), decided and logged as any other read. Real storage, real signatures."""

from __future__ import annotations

import pytest

from api.access_service import AccessDenied, Via
from infrastructure.checkpoints import create_signing_key_file
from infrastructure.svl_verify import verify_bundle
from tests.support.world import World, world  # noqa: F401  (the shared fixture)

WEB = Via("web", "127.0.0.1", "")


def _signed(world: World) -> str:
    settings = world.app.storage.settings
    create_signing_key_file(settings.signing_key_file, settings.organisation_origin)
    world.app.integrity.checkpoint(publish_to=None)
    return world.app.integrity.verifier_key()


def test_only_administrators_see_verify_and_export_from_the_ledger(world: World) -> None:
    _signed(world)
    for username in ("alex", "sam", "ines", "dana", "quinn"):
        who = world.principal(username)
        for command in (lambda: world.app.verification.latest_checkpoint(who),
                        lambda: world.app.verification.verify_ledger(who),
                        lambda: world.app.verification.record_bundle(who, world.records["W"])):
            with pytest.raises(AccessDenied):
                command()
    assert world.app.verification.last_verification is None  # a refused verification ran nothing


def test_a_verification_is_reported_timed_and_kept_and_a_bundle_verifies(world: World) -> None:
    vkey = _signed(world)
    hana = world.principal("hana")
    latest = world.app.verification.latest_checkpoint(hana)
    assert latest is not None and latest.by_our_key and latest.checkpoint.tree_size > 0
    done = world.app.verification.verify_ledger(hana)
    assert done.report.intact and done.report.leaves == latest.checkpoint.tree_size and done.seconds >= 0
    assert done.by == "hana" and world.app.verification.last_verification is done
    bundle = world.app.verification.record_bundle(hana, world.records["W"])
    report = verify_bundle(bundle, trusted_key=vkey)
    assert report.verified and report.record_id == world.records["W"] and "content" not in bundle


def test_a_record_with_its_bundle_is_a_logged_read_refused_to_whoever_may_not_read_it(world: World) -> None:
    vkey = _signed(world)
    record = world.records["W"]
    read, _, bundle = world.app.verification.record_with_bundle(world.principal("sam"), record, action="download_copy",
                                                                via=WEB)
    assert str(read.id) == record and verify_bundle(bundle, trusted_key=vkey).verified
    with pytest.raises(AccessDenied):
        world.app.verification.record_with_bundle(world.principal("jo"), record, action="download_copy", via=WEB)
    entries = [(e["reader_username"], e["outcome"]) for e in world.log(record_id=record)
               if e["action"] == "download_copy" and e["channel"] == "web"]
    assert ("sam", "allowed") in entries and ("jo", "denied") in entries, entries
