"""The offline verifier's bundle checks (`svl-verify FILE`): what verifies, what does not and why, and that it
never crashes on hostile input nor imports anything beyond the standard library and `cryptography`."""

from __future__ import annotations

import ast
import base64
import copy
import hashlib
import json
import os
import sys
import uuid
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given, settings
from hypothesis import strategies as st

from infrastructure import merkle, svl_verify
from infrastructure.note_signing import format_verifier_key, sign_checkpoint
from infrastructure.svl_verify import BUNDLE_FORMAT, verify_bundle
from tests.support.ledger_events import WHEN, make_events, make_leaves

ORIGIN = "org.example/ledger"
KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))
VKEY = format_verifier_key(ORIGIN, KEY.public_key())
RECORD = str(uuid.UUID(int=0xABC))
DATA_KEY = bytes(range(32))
KEY_ID = "feedface"
TOPIC = "svl:sealed:v1:" + KEY_ID


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def sealed(version: int, event_type: str, state_json: str) -> bytes:
    nonce = os.urandom(12)
    aad = f"{RECORD}|{version}|{KEY_ID}".encode()
    return nonce + AESGCM(DATA_KEY).encrypt(nonce, event_type.encode() + b"\n" + state_json.encode(), aad)


def build(log_events: list[tuple] | None = None) -> tuple[dict, list[tuple], merkle.MemorySubtreeStore]:
    """A log of 12 events, 3 of them our record's (versions 1-3), and a bundle for that record."""
    noise = make_events(9, records=2)
    states = [("d.x:Record.Drafted", '{"discussion":"kept safe"}'), ("d.x:Record.Shared", "{}"),
              ("d.x:Record.Signed", '{"by":"sam"}')]
    events = log_events or (noise[:3] + [(4, RECORD, 1, TOPIC, sealed(1, *states[0]))] + noise[3:6]
                            + [(8, RECORD, 2, TOPIC, sealed(2, *states[1]))] + noise[6:]
                            + [(12, RECORD, 3, TOPIC, sealed(3, *states[2]))])
    events = [(i + 1, *e[1:]) for i, e in enumerate(events)]
    leaves = make_leaves(events)
    store = merkle.MemorySubtreeStore.from_leaf_hashes(row[2] for row in leaves)
    size = len(leaves)
    note = sign_checkpoint(ORIGIN, size, merkle.root_hash(store, size), KEY, time=WHEN)
    ours = [(i, e) for i, e in enumerate(events) if e[1] == RECORD]
    bundle = {
        "format": BUNDLE_FORMAT, "origin": ORIGIN, "record_id": RECORD, "exported_at": WHEN.isoformat(),
        "verifier_key": VKEY, "checkpoint": note,
        "events": [{"notification_id": e[0], "leaf_index": i, "originator_id": e[1], "originator_version": e[2],
                    "topic": e[3], "state": b64(e[4]), "leaf_hash": b64(leaves[i][2]),
                    "inclusion_proof": [b64(p) for p in merkle.inclusion_proof(store, i, size)]} for i, e in ours],
        "consistency_proofs": [{"from_size": 5, "proof": [b64(p) for p in merkle.consistency_proof(store, 5, size)]}],
        "content": {"data_keys": {KEY_ID: b64(DATA_KEY)},
                    "events": [{"notification_id": e[0], "originator_version": e[2], "event_type": t, "state": j}
                               for (_, e), (t, j) in zip(ours, states)]},
    }
    return bundle, events, store


def checkpoint_at(store: merkle.MemorySubtreeStore, size: int, key: Ed25519PrivateKey = KEY) -> str:
    return sign_checkpoint(ORIGIN, size, merkle.root_hash(store, size), key, time=WHEN)


@pytest.fixture
def bundle() -> tuple[dict, list[tuple], merkle.MemorySubtreeStore]:
    return build()


def test_a_sound_bundle_verifies_and_says_what_it_proves(bundle) -> None:
    data, _, _ = bundle
    report = verify_bundle(data)
    assert report.verified, report.problems
    text = svl_verify.render_bundle_report(report, show_content=True)
    assert "3 event(s) of record" in text and "versions 1–3" in text and "kept safe" in text
    assert "the key came inside it" in text  # unpinned: says what it cannot know...
    assert text.endswith("RESULT: CONSISTENT, BUT SIGNED BY A KEY YOU DID NOT SUPPLY")  # ...and never says VERIFIED
    assert report.exit_code == svl_verify.EXIT_SELF_SIGNED == 3
    pinned = verify_bundle(data, trusted_key=VKEY)
    text = svl_verify.render_bundle_report(pinned, show_content=True)
    assert text.endswith("RESULT: VERIFIED") and pinned.exit_code == 0


def test_pinning_the_key_and_an_earlier_checkpoint(bundle) -> None:
    data, _, store = bundle
    report = verify_bundle(data, trusted_key=VKEY, trusted_checkpoint=checkpoint_at(store, 5))
    assert report.verified, report.problems
    assert any("first 5 events of the log are unchanged" in line for line in report.checked)
    assert not any("key came inside" in line for line in report.does_not_prove)
    same = verify_bundle(data, trusted_key=VKEY, trusted_checkpoint=data["checkpoint"])
    assert same.verified


def test_a_changed_byte_of_an_event_fails(bundle) -> None:
    data, _, _ = bundle
    state = bytearray(base64.b64decode(data["events"][1]["state"]))
    state[20] ^= 1
    data["events"][1]["state"] = b64(bytes(state))
    report = verify_bundle(data)
    assert not report.verified and "event 8 (version 2) is NOT in the signed log" in report.problems[0]
    assert not report.proves


def test_content_that_is_not_what_the_ciphertext_holds_fails(bundle) -> None:
    data, _, _ = bundle
    data["content"]["events"][0]["state"] = '{"discussion":"something nicer"}'
    report = verify_bundle(data)
    assert not report.verified and any("NOT what its ciphertext holds" in p for p in report.problems)


def test_a_bundle_signed_by_another_key_fails_against_the_trusted_key(bundle) -> None:
    other = Ed25519PrivateKey.generate()
    data, events, store = bundle
    data["checkpoint"] = sign_checkpoint(ORIGIN, len(events), merkle.root_hash(store, len(events)), other, time=WHEN)
    data["verifier_key"] = format_verifier_key(ORIGIN, other.public_key())
    assert verify_bundle(data).verified  # consistent with itself...
    report = verify_bundle(data, trusted_key=VKEY)  # ...but not made by the organisation
    assert not report.verified and "does not verify" in report.problems[0]


def test_a_split_view_newer_pin_missing_link_and_forked_history_all_fail(bundle) -> None:
    data, events, store = bundle
    forked_events = [(e[0], e[1], e[2], e[3], b"other" + e[4]) if e[0] == 2 else e for e in events]
    fork = merkle.MemorySubtreeStore.from_leaf_hashes(row[2] for row in make_leaves(forked_events))
    cases = {
        checkpoint_at(fork, len(events)): "disagree about the root",
        checkpoint_at(merkle.MemorySubtreeStore.from_leaf_hashes(
            row[2] for row in make_leaves(events + [(13, RECORD, 4, TOPIC, b"x")])), 13): "newer than the bundle",
        checkpoint_at(store, 6): "--consistency-from 6",
        checkpoint_at(fork, 5): "does NOT extend",
    }
    for pinned, problem in cases.items():
        report = verify_bundle(data, trusted_key=VKEY, trusted_checkpoint=pinned)
        assert not report.verified and problem in report.problems[0], (problem, report.problems)


def test_a_purged_event_is_proved_in_place_but_its_content_is_not(bundle) -> None:
    data, _, _ = bundle
    del data["content"]
    held = base64.b64decode(data["events"][0]["state"])
    data["events"][0]["state"] = ""
    data["events"][0]["purged"] = {"rule": "bcp: 6 years after leaving", "on": "2032-06-01"}
    data["events"][0]["state_sha256"] = b64(hashlib.sha256(held).digest())
    report = verify_bundle(data)
    assert report.verified, report.problems
    assert any("destroyed under bcp: 6 years after leaving" in line for line in report.does_not_prove)
    # Without the digest of what it held, the leaf cannot be recomputed: the leaf hash given is never used.
    del data["events"][0]["state_sha256"]
    report = verify_bundle(data)
    assert not report.verified and "cannot be recomputed" in report.problems[0]


def test_main_exit_codes(bundle, tmp_path, capsys) -> None:
    data, _, _ = bundle
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    good.write_text(json.dumps(data))
    bad.write_text("{not json")
    key = tmp_path / "org.vkey"
    key.write_text(VKEY + "\n")
    assert svl_verify.main([str(good), "--key", str(key)]) == 0
    assert svl_verify.main([str(bad)]) == 1
    assert svl_verify.main([str(tmp_path / "missing.json")]) == 1
    assert "cannot read the input" in capsys.readouterr().err


def _mutations(data: dict) -> st.SearchStrategy:
    leaf_paths = []

    def walk(value, path):
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, path + [k])
        elif isinstance(value, list):
            for i, v in enumerate(value):
                walk(v, path + [i])
        else:
            leaf_paths.append(path)

    walk(data, [])
    junk = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.text(max_size=40),
                     st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=5), st.integers(), max_size=2))
    return st.lists(st.tuples(st.sampled_from(leaf_paths), junk), min_size=1, max_size=4)


BASE = build()[0]


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_hostile_bundles_are_reported_never_raised(data) -> None:
    hostile = copy.deepcopy(BASE)
    for path, value in data.draw(_mutations(hostile)):
        target = hostile
        for step in path[:-1]:
            target = target[step]
        target[path[-1]] = value
    report = verify_bundle(hostile)
    assert isinstance(report.verified, bool)
    if hostile != BASE:
        svl_verify.render_bundle_report(report)


@pytest.mark.parametrize("value", [None, [], "text", 3, {"format": BUNDLE_FORMAT}, {"format": "other"}])
def test_not_a_bundle_at_all(value) -> None:
    report = verify_bundle(value)
    assert not report.verified and report.problems


def test_the_offline_verifier_imports_only_the_standard_library_and_cryptography() -> None:
    tree = ast.parse(Path(svl_verify.__file__).read_text())
    modules = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
               for alias in node.names}
    modules |= {node.module.split(".")[0] for node in ast.walk(tree)
                if isinstance(node, ast.ImportFrom) and node.module and node.level == 0}
    assert modules - {"__future__", "cryptography"} <= set(sys.stdlib_module_names)
