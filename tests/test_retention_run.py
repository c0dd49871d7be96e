"""A retention run destroys its files together: one checkpoint before and one after for the whole run, yet each
file's certificate proves its own destruction (its event's inclusion proof between the two checkpoints); the
destroyed-key list outside the database is appended to, never rewritten."""

import copy
import json
from datetime import date, datetime, timezone

import pytest
from sqlalchemy import func, select

from domain.retention import destruction_id
from infrastructure.checkpoints import create_signing_key_file
from infrastructure.key_tombstones import KeyTombstones, Tombstone
from infrastructure.ledger_tables import ledger_checkpoints
from infrastructure.svl_verify import destruction_aggregate_id, verify_certificate
from tests.support.acting import acting
from tests.support.retention import destroy_due
from tests.support.retention import leaver_with_a_signed_record

DAY = date(2026, 3, 1)


@pytest.fixture(autouse=True)
def signing_key(settings):
    create_signing_key_file(settings.signing_key_file, settings.organisation_origin)


def leavers_due(app, count: int) -> list[str]:
    found = []
    for n in range(count):
        _, leaver, _ = leaver_with_a_signed_record(app, leaving=date(2019, 1 + n, 28))
        app.retention.archive_leaver(acting("hr"), leaver)
        found.append(leaver)
    return found


def checkpoints_signed(app) -> int:
    with app.storage.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(ledger_checkpoints)).scalar_one()


def test_a_run_signs_one_checkpoint_pair_and_each_certificate_proves_its_own_file(application):
    leavers = leavers_due(application, 4)
    proposal = application.retention.propose_destruction(acting("dpo"), as_of=DAY)
    application.retention.approve_destruction(acting("hr"), proposal.id, rationale="Checked")
    signed_before = checkpoints_signed(application)
    outcomes = application.retention.run_retention(acting("dpo"), proposal.id)
    assert sorted(o.worker_id for o in outcomes) == sorted(leavers)
    assert checkpoints_signed(application) - signed_before == 2

    certificates = [json.loads(application.retention.certificate_path(w).read_text()) for w in leavers]
    assert len({c["checkpoint_before"] for c in certificates}) == 1  # the run's pair, shared
    assert len({c["checkpoint_after"] for c in certificates}) == 1
    assert len({c["destruction_event"]["leaf_index"] for c in certificates}) == 4  # each its own event
    key = application.integrity.verifier_key()
    for worker, certificate in zip(leavers, certificates, strict=True):
        assert certificate["destruction_event"]["originator_id"] == str(destruction_id(worker)) \
            == destruction_aggregate_id(worker)
        report = verify_certificate(certificate, trusted_key=key)
        assert report.verified, report.problems
        assert any("This file's destruction was recorded at leaf" in line for line in report.checked)

    swapped = copy.deepcopy(certificates[0])
    swapped["destruction_event"] = certificates[1]["destruction_event"]  # another file's (genuine) proof
    report = verify_certificate(swapped, trusted_key=key)
    assert not report.verified and "not the start of this worker's file destruction" in report.problems[0]
    moved = copy.deepcopy(certificates[0])
    moved["destruction_event"]["leaf_index"] += 1
    report = verify_certificate(moved, trusted_key=key)
    assert not report.verified and "inclusion proof does not verify" in report.problems[0]
    missing = copy.deepcopy(certificates[0])
    del missing["destruction_event"]
    assert "lacks 'destruction_event'" in verify_certificate(missing, trusted_key=key).problems[0]


def test_the_destroyed_key_list_is_appended_to_and_every_run_leaves_it_whole(application, settings):
    first, second = leavers_due(application, 2)
    keys = [application.storage.keyring.key_id_for(w) for w in (first, second)]
    destroy_due(application, DAY)
    lines = settings.tombstones_file.read_text().splitlines()
    assert [json.loads(line)["key_id"] for line in lines] == keys  # one line a key, in the order destroyed
    assert {s.key_id for s in application.storage.tombstones.read()} == set(keys)


def test_a_torn_last_line_and_the_first_format_are_read(tmp_path):
    master = bytes(32)
    path = tmp_path / "destroyed-keys.json"
    stones = KeyTombstones(path, master)
    at = datetime(2026, 3, 1, tzinfo=timezone.utc).isoformat()
    stones.add([Tombstone("k1", at, "rule"), Tombstone("k2", at, "rule")])
    stones.add([Tombstone("k2", at, "rule")])  # listed already: nothing appended
    assert len(path.read_text().splitlines()) == 2
    with open(path, "a") as f:
        f.write('{"key_id": "k3", "destroyed_at"')  # a crash mid-append, before k3's key was destroyed
    assert [s.key_id for s in stones.read()] == ["k1", "k2"]
    stones.add([Tombstone("k3", at, "rule")])  # the rerun lists it on a line of its own
    assert [s.key_id for s in stones.read()] == ["k1", "k2", "k3"]

    old = tmp_path / "old.json"
    entries = [json.loads(line) for line in path.read_text().splitlines() if line.startswith("{") and
               line.endswith("}") and '"mac"' in line]
    old.write_text(json.dumps(entries, indent=1))  # the first format: one JSON array, rewritten whole
    legacy = KeyTombstones(old, master)
    assert [s.key_id for s in legacy.read()] == ["k1", "k2", "k3"]
    legacy.add([Tombstone("k4", at, "rule")])
    assert [s.key_id for s in legacy.read()] == ["k1", "k2", "k3", "k4"]
    assert not old.read_text().startswith("[")
    forged = old.read_text().replace('"rule"', '"other rule"', 1)
    old.write_text(forged)
    with pytest.raises(Exception, match="altered"):
        legacy.read()
