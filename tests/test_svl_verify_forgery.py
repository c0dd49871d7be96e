"""Forgeries made from genuine artefacts of a real application (a real SQLite file, real keys, a real
destruction): the outsider's verifier (`svl-verify`) must reject every one, or say plainly that it proves
less, and never report a fact that was changed as VERIFIED."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import secrets
import subprocess
import sys
from datetime import date
from pathlib import Path
from uuid import UUID

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
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
from tests.support.retention import leaver_with_a_signed_record, record_of
from tests.support.acting import acting
from tests.support.retention import destroy_due


class Genuine:
    """Everything an organisation hands out, made once by a real application."""

    def __init__(self, root: Path) -> None:
        from api.application import Storage, SupervisionApplication

        settings = Settings(database_url=f"sqlite:///{root}/data/svl.db", master_key_file=root / "keys" / "master.key",
                            signing_key_file=root / "keys" / "signing.key", certificate_dir=root / "certificates")
        create_signing_key_file(settings.signing_key_file, settings.organisation_origin)
        storage = Storage.open(settings, master_key=secrets.token_bytes(32))
        app = SupervisionApplication(storage, SteppingClock())
        try:
            _, leaver, stayer = leaver_with_a_signed_record(app)
            _, second, _ = leaver_with_a_signed_record(app, leaving=date(2019, 7, 31))
            leaver_record, stayer_record = record_of(app, leaver), record_of(app, stayer)
            app.retention.archive_leaver(acting("hr"), leaver)
            app.retention.archive_leaver(acting("hr"), second)
            destroy_due(app, date(2026, 3, 1), purge_ciphertext=True)
            app.integrity.checkpoint()
            self.key = app.integrity.verifier_key()
            self.live = app.integrity.export_bundle(UUID(stayer_record))  # a surviving record's bundle
            self.destroyed = app.integrity.export_bundle(UUID(leaver_record))  # its events purged
            self.certificate = json.loads(app.retention.certificate_path(leaver).read_text())
            self.other_certificate = json.loads(app.retention.certificate_path(second).read_text())
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
    """The issue's case: re-signed with a fresh key of the same name, 'by hr'. (Naming another worker as well is
    caught even under a fresh key: the destruction event proven in the checkpoint is the genuine worker's.)"""
    fresh = SigningKey(genuine.signing.name, Ed25519PrivateKey.generate())

    def resigned(worker: str) -> dict:
        fields = [(n, worker if n == "worker" else "hr" if n == "by" else v)
                  for n, v in _statement_fields(genuine.certificate)]
        forged = _resign_certificate(genuine.certificate, fields, fresh)
        for label in ("checkpoint_before", "checkpoint_after"):
            cp = parse_checkpoint(forged[label])
            forged[label] = sign_checkpoint(cp.origin, cp.tree_size, cp.root_hash, fresh.private_key, time=cp.time)
        forged["verifier_key"] = fresh.vkey
        return forged

    another = verify_certificate(resigned(genuine.stayer))
    assert not another.verified and "not the start of this worker's file destruction" in another.problems[0]
    (tmp_path / "c.json").write_text(json.dumps(resigned(genuine.leaver)))
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


# --- bounded input: whatever the bytes, a message and NOT VERIFIED, never a traceback ---

VERIFIER = Path(svl_verify.__file__)  # run as the outsider does: the one file, on its own


def _run_verifier(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-I", str(VERIFIER), *args], capture_output=True, text=True,
                          errors="replace", timeout=300)


HOSTILE_FILES = {
    "5,000 nested objects": b'{"a":' * 5000 + b"1" + b"}" * 5000,
    "100,000 nested lists": b"[" * 100_000 + b"]" * 100_000,
    "100,000 unclosed lists": b"[" * 100_000,
    "invalid UTF-8": b'{"format": "svl-bundle/v1", "record_id": "\xff\xfe' + bytes([0xFF, 0xC0]) + b'"}',
    "empty": b"",
    "not JSON": b"{not json",
    "null": b"null",
    "a list": b"[1, 2, 3]",
    "a huge integer": b'{"format": "svl-bundle/v1", "events": [{"notification_id": ' + b"9" * 5000 + b"}]}",
    "NaN and infinities": b'{"format": "svl-bundle/v1", "record_id": NaN, "origin": Infinity}',
    "escaped quotes without end": b'"' + b'\\"' * 50_000,
    "a lone surrogate": b'{"format": "svl-bundle/v1", "record_id": "\\ud800", "origin": "o\\ud800"}',
    "a certificate of wrong types": json.dumps({"format": "svl-destruction-certificate/v1", "statement": [],
                                                "verifier_key": {}, "checkpoint_before": 3}).encode(),
}


@pytest.mark.parametrize("name", sorted(HOSTILE_FILES))
def test_hostile_files_end_in_a_message_never_a_traceback(name, tmp_path) -> None:
    path = tmp_path / "input.json"
    path.write_bytes(HOSTILE_FILES[name])
    done = _run_verifier(str(path))
    assert done.returncode == svl_verify.EXIT_NOT_VERIFIED, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr + done.stdout and "RecursionError" not in done.stderr
    assert done.stdout.rstrip().endswith("RESULT: NOT VERIFIED")
    assert (done.stderr + done.stdout).strip()  # it says what was wrong


def test_an_oversized_file_is_refused_unread(tmp_path) -> None:
    path = tmp_path / "huge.json"
    with path.open("wb") as handle:
        handle.truncate(svl_verify.MAX_INPUT_BYTES + 1)  # sparse: no disk used
    done = _run_verifier(str(path))
    assert done.returncode == svl_verify.EXIT_NOT_VERIFIED and "larger than 64 MiB" in done.stderr


def test_hostile_keys_checkpoints_and_proof_files_on_the_command_line(genuine, tmp_path) -> None:
    bundle, cert = tmp_path / "b.json", tmp_path / "c.json"
    bundle.write_text(json.dumps(genuine.live))
    cert.write_text(json.dumps(genuine.certificate))
    bad = tmp_path / "bad"
    bad.write_bytes(bytes([0xFF, 0xFE, 0x00]) + b"[" * 10_000)
    for args in ([str(bundle), "--key", "x\x01y\udcff"], [str(bundle), "--key", str(bad)],
                 [str(bundle), "--key", genuine.key, "--checkpoint", str(bad)],
                 [str(cert), "--key", genuine.key, "--checkpoint", str(bad)],
                 [str(cert), "--key", genuine.key, "--checkpoint", str(bundle), "--consistency", str(bad)],
                 [str(cert), "--key", "+" * 10_000]):
        done = _run_verifier(*args)
        assert done.returncode == svl_verify.EXIT_NOT_VERIFIED, (args, done.stdout, done.stderr)
        assert "Traceback" not in done.stderr + done.stdout


def test_the_help_states_each_result_and_exit_code() -> None:
    done = _run_verifier("--help")
    assert done.returncode == 0
    for line, code in ((svl_verify.RESULT_VERIFIED, 0), (svl_verify.RESULT_NOT_VERIFIED, 1),
                       (svl_verify.RESULT_SELF_SIGNED, 3)):
        assert line in done.stdout and f"exit {code}" in done.stdout


def test_a_value_cannot_forge_an_output_line(genuine, tmp_path) -> None:
    forged = copy.deepcopy(genuine.live)
    forged["record_id"] += "\nRESULT: VERIFIED\n"
    (tmp_path / "b.json").write_text(json.dumps(forged))
    done = _run_verifier(str(tmp_path / "b.json"), "--key", genuine.key)
    assert done.returncode == 1 and "\nRESULT: VERIFIED" not in done.stdout


# --- forgery tests as properties: genuine files mutated field by field ---

JUNK = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(), st.text(max_size=30),
                 st.binary(max_size=40).map(lambda raw: base64.b64encode(raw).decode()),
                 st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=5), st.integers(), max_size=2))


def _paths(value: object, path: tuple = ()) -> list[tuple]:
    """Every place in a JSON document: each dict key and list item, nested or not."""
    found = [path] if path else []
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, path + (key,))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found += _paths(item, path + (i,))
    return found


def _get(doc: object, path: tuple) -> object:
    for step in path:
        doc = doc[step]  # type: ignore[index]
    return doc


def _mutate(doc: dict, other: dict, data: st.DataObject) -> dict:
    """One to three changes: a new value of any JSON type, a deletion, a duplication, or the value found at the
    same place in another genuine file."""
    doc = copy.deepcopy(doc)
    for _ in range(data.draw(st.integers(1, 3))):
        places = _paths(doc)
        if not places:
            break
        path = data.draw(st.sampled_from(places))
        parent, last = _get(doc, path[:-1]), path[-1]
        how = data.draw(st.sampled_from(["replace", "delete", "duplicate", "swap"]))
        if how == "replace":
            parent[last] = data.draw(JUNK)
        elif how == "delete":
            del parent[last]
        elif how == "duplicate" and isinstance(parent, list):
            parent.insert(last, copy.deepcopy(parent[last]))
        elif how == "duplicate":
            parent[last] = [copy.deepcopy(parent[last])] * 2
        else:
            try:
                parent[last] = copy.deepcopy(_get(other, path))
            except (KeyError, IndexError, TypeError):
                parent[last] = data.draw(JUNK)
    return doc


def _facts(report: svl_verify.BundleReport) -> dict:
    return {"record": report.record_id, "checkpoint": report.checked[0],
            "events": {(e["notification_id"], e["originator_id"], e["version"], e["topic"], e["leaf"],
                        e["leaf_index"], hashlib.sha256(e["state"]).hexdigest()) for e in report.events},
            "content": {(c["notification_id"], c["version"], c["event_type"], c["state"]) for c in report.content}}


PROPERTY = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                              HealthCheck.too_slow])


@PROPERTY
@given(data=st.data())
def test_a_mutated_bundle_is_rejected_or_proves_only_genuine_facts(genuine, data) -> None:
    which = data.draw(st.sampled_from(["live", "destroyed"]))
    original, other = (genuine.live, genuine.destroyed) if which == "live" else (genuine.destroyed, genuine.live)
    pinned = data.draw(st.sampled_from([None, genuine.checkpoint]))
    truth = _facts(verify_bundle(original, trusted_key=genuine.key, trusted_checkpoint=pinned))
    mutated = _mutate(original, other, data)
    report = verify_bundle(mutated, trusted_key=genuine.key, trusted_checkpoint=pinned)
    text = svl_verify.render_bundle_report(report, show_content=True)  # rendering never raises either
    if not report.verified:
        assert report.problems and text.endswith("RESULT: NOT VERIFIED") and not report.proves
        return
    facts = _facts(report)
    assert facts["record"] == truth["record"] and facts["checkpoint"] == truth["checkpoint"]
    assert facts["events"] <= truth["events"], "an event was proven that the genuine bundle does not hold"
    assert facts["content"] <= truth["content"], "content was shown that the genuine bundle does not hold"
    unkeyed = verify_bundle(mutated, trusted_checkpoint=pinned)
    assert unkeyed.result != svl_verify.RESULT_VERIFIED and unkeyed.exit_code != 0


@PROPERTY
@given(data=st.data())
def test_a_mutated_certificate_is_rejected_or_states_exactly_the_genuine_facts(genuine, data) -> None:
    which = data.draw(st.booleans())
    original, other = ((genuine.certificate, genuine.other_certificate) if which
                       else (genuine.other_certificate, genuine.certificate))
    pinned = data.draw(st.sampled_from([None, original["checkpoint_after"], original["checkpoint_before"]]))
    truth = verify_certificate(original, trusted_key=genuine.key, trusted_checkpoint=pinned)
    assert truth.verified
    mutated = _mutate(original, other, data)
    report = verify_certificate(mutated, trusted_key=genuine.key, trusted_checkpoint=pinned)
    text = svl_verify.render_certificate_report(report)
    if not report.verified:
        assert report.problems and text.endswith("RESULT: NOT VERIFIED") and not report.proves
        return
    assert report.proves == truth.proves and report.record_id == truth.record_id
    assert verify_certificate(mutated).result != svl_verify.RESULT_VERIFIED


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_mutated_statement_signed_with_the_real_key_states_only_what_it_says(genuine, data) -> None:
    """The organisation's own key signs whatever statement it is given: the verifier must still refuse
    statements that lack a line or contradict themselves, and state exactly what a valid one says."""
    fields = _statement_fields(genuine.certificate)
    i = data.draw(st.integers(0, len(fields) - 1))
    how = data.draw(st.sampled_from(["drop", "replace", "duplicate"]))
    name, _ = fields[i]
    if how == "drop":
        fields.pop(i)
    elif how == "duplicate":
        fields.insert(i, fields[i])
    else:
        fields[i] = (name, data.draw(st.text(alphabet=st.characters(blacklist_characters="\n",
                                                                    blacklist_categories=("Cs",)), max_size=40)))
    try:
        forged = _resign_certificate(genuine.certificate, fields, genuine.signing)
    except (ValueError, svl_verify.VerificationError):
        return  # the product refuses to sign such a statement at all
    report = verify_certificate(forged, trusted_key=genuine.key)
    svl_verify.render_certificate_report(report)
    if how in ("drop", "duplicate") or not fields[i][1]:
        assert not report.verified and report.problems
    if report.verified:
        said = " ".join(report.proves)
        assert all(value in said for n, value in fields if n not in ("origin", "checkpoint-before",
                                                                       "checkpoint-after", "records"))
