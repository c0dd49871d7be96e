"""Witnesses (C2SP tlog-witness, tlog-cosignature): real `svl witness serve` processes on 127.0.0.1, real
HTTP, real Ed25519, the log on both backends. Drills: honest growth is cosigned; a split view (two roots
for one size, both signed with the organisation's real key) is refused with 409 and caught by svl-verify;
a restarted witness keeps its state; malformed and hostile requests get the spec's 4xx."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.application import Storage, SupervisionApplication
from api.cli import app as svl
from infrastructure import svl_verify
from infrastructure.checkpoints import LATEST_FILE, create_signing_key_file, load_signing_key
from infrastructure.note_signing import sign_checkpoint
from infrastructure.svl_verify import parse_checkpoint, parse_cosigner_key, verify_cosignatures
from infrastructure.witness import SIZE_CONTENT_TYPE, format_request
from tests.support.ports import free_port
from tests.support.acting import acting
from tests.support.staff import content, staff

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class WitnessProcess:
    """A witness served by `svl witness serve` in its own process."""

    state: Path
    key: Path
    log_key: str
    port: int = 0
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def vkey(self) -> str:
        return svl_cli("witness", "key", "--key", str(self.key)).strip()

    def start(self, same_port: bool = False) -> "WitnessProcess":
        self.port = self.port if same_port else free_port()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "api.cli", "witness", "serve", "--state", str(self.state), "--key", str(self.key),
             "--log-key", self.log_key, "--host", "127.0.0.1", "--port", str(self.port)],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ, "COLUMNS": "300"})
        while True:  # until it answers; the suite's timeout bounds a witness that never does
            if self.process.poll() is not None:
                raise RuntimeError(f"the witness exited: {self.process.stderr.read().decode()}")  # type: ignore[union-attr]
            try:
                with urllib.request.urlopen(f"{self.url}/", timeout=2) as answer:
                    if answer.status == 200:
                        return self
            except OSError:  # not listening yet: wait a little on the process itself, then ask again
                try:
                    self.process.wait(timeout=0.1)
                except subprocess.TimeoutExpired:
                    pass

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)
        self.process = None

    def identity(self) -> dict:
        with urllib.request.urlopen(f"{self.url}/", timeout=10) as answer:
            return json.loads(answer.read())

    def post(self, body: bytes) -> tuple[int, str, str]:
        request = urllib.request.Request(f"{self.url}/add-checkpoint", data=body, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                return answer.status, answer.headers.get("Content-Type", ""), answer.read().decode()
        except urllib.error.HTTPError as exc:
            with exc:
                return exc.code, exc.headers.get("Content-Type", ""), exc.read().decode()


def svl_cli(*args: str, code: int = 0) -> str:
    result = CliRunner().invoke(svl, list(args), env={"COLUMNS": "300"})
    assert result.exit_code == code, result.output + repr(result.exception)
    assert "Traceback" not in result.output
    return result.output


@pytest.fixture
def log_settings(settings, master_key, tmp_path):
    settings.master_key_file.write_text(base64.b64encode(master_key).decode() + "\n")
    create_signing_key_file(settings.signing_key_file, settings.organisation_origin)
    return replace(settings, checkpoint_dir=tmp_path / "published", destroyed_keys_file=tmp_path / "gone.json",
                   checkpoint_every_events=100_000)


@pytest.fixture
def witness(log_settings, tmp_path) -> Iterator[WitnessProcess]:
    key = tmp_path / "witness.key"
    vkey = svl_cli("witness", "init", "--key", str(key), "--name", "witness.inspectorate.example/w1").strip()
    assert parse_cosigner_key(vkey.splitlines()[-1])  # printed for the organisation to configure
    assert "svl-verify: cannot read the input" in subprocess.run(
        [sys.executable, "-m", "infrastructure.svl_verify", str(key), "--witness", "not-a-key"], cwd=ROOT,
        capture_output=True, text=True).stderr
    log_key = load_signing_key(log_settings.signing_key_file).vkey
    process = WitnessProcess(tmp_path / "witness-state.db", key, log_key).start()
    try:
        yield process
    finally:
        process.stop()


def witnessed(settings, *witnesses: WitnessProcess):
    spec = ",".join(f"w{i}={w.url}={w.vkey}" for i, w in enumerate(witnesses))
    return replace(settings, witnesses=spec)


def open_app(settings) -> SupervisionApplication:
    return SupervisionApplication(Storage.open(settings))


def closing(app: SupervisionApplication) -> None:
    app.close()
    app.storage.engine.dispose()


def cosigners_of(note: str, *witnesses: WitnessProcess) -> list[str]:
    found, problems = verify_cosignatures(note, [parse_cosigner_key(w.vkey) for w in witnesses])
    assert not problems
    return [c.witness for c in found]


def verify_offline(capsys, *args: str) -> tuple[int, str]:
    capsys.readouterr()
    code = svl_verify.main(list(args))
    return code, capsys.readouterr().out


# --- honest growth ---------------------------------------------------------------------------------------

def test_honest_growth_is_cosigned_and_svl_verify_reports_the_witness(log_settings, witness, tmp_path,
                                                                        capsys) -> None:
    settings = witnessed(log_settings, witness)
    app = open_app(settings)
    try:
        _, supervisor, worker = staff(app)
        first = app.integrity.checkpoint()
        assert [w.cosigned for w in first.witnesses] == [True]
        assert cosigners_of(first.note, witness) == ["witness.inspectorate.example/w1"]
        assert witness.identity()["logs"][0]["cosigned_size"] == 5

        rid = app.records.draft_record(acting(supervisor), supervisee_id=worker, content=content()).id
        app.records.share_record(acting(supervisor), rid)
        second = app.integrity.checkpoint()  # 7 events: the witness checks a consistency proof from 5
        assert second.checkpoint.tree_size == 7 and [w.cosigned for w in second.witnesses] == [True]
        assert witness.identity()["logs"][0]["cosigned_size"] == 7
        # Stored and published with the cosignature: the note an outsider gets carries it.
        assert cosigners_of(app.integrity.checkpoints.get(7).note, witness)  # type: ignore[union-attr]
        assert cosigners_of((settings.checkpoint_dir / "7.checkpoint").read_text(), witness)
        assert cosigners_of((settings.checkpoint_dir / LATEST_FILE).read_text(), witness)
        assert app.integrity.verify(published_dir=settings.checkpoint_dir).intact

        bundle = tmp_path / "bundle.json"
        bundle.write_text(json.dumps(app.integrity.export_bundle(rid)))
        vkey = tmp_path / "verifier.vkey"
        vkey.write_text(app.integrity.verifier_key())
    finally:
        closing(app)
    wkey = tmp_path / "witness.vkey"
    wkey.write_text(witness.vkey)
    code, out = verify_offline(capsys, str(bundle), "--key", str(vkey), "--witness", str(wkey))
    assert code == 0 and "cosigned by witness witness.inspectorate.example/w1" in out and "RESULT: VERIFIED" in out
    # A second witness the outsider trusts but the organisation never asked: below a threshold of 2.
    other = svl_cli("witness", "init", "--key", str(tmp_path / "other.key"), "--name", "auditor.example/w").splitlines()[-1]
    code, out = verify_offline(capsys, str(bundle), "--key", str(vkey), "--witness", str(wkey), "--witness", other,
                               "--witness-threshold", "2")
    assert code == 1 and "NOT cosigned by witness auditor.example/w" in out and "fewer than the threshold of 2" in out
    code, out = verify_offline(capsys, str(bundle), "--key", str(vkey), "--witness", str(wkey), "--witness", other,
                               "--witness-threshold", "1")
    assert code == 0 and "RESULT: VERIFIED" in out


def test_svl_checkpoint_asks_the_configured_witnesses_and_says_what_they_answered(log_settings, witness) -> None:
    settings = witnessed(log_settings, witness)
    app = open_app(settings)
    staff(app)
    closing(app)  # the shutdown checkpoint is cosigned too
    assert cosigners_of((settings.checkpoint_dir / LATEST_FILE).read_text(), witness)
    env = {"SVL_DATABASE_URL": settings.database_url, "SVL_DATABASE_SCHEMA": settings.database_schema,
           "SVL_MASTER_KEY_FILE": str(settings.master_key_file), "SVL_SIGNING_KEY_FILE": str(settings.signing_key_file),
           "SVL_CHECKPOINT_DIR": str(settings.checkpoint_dir or ""), "SVL_DESTROYED_KEYS_FILE": str(settings.tombstones_file),
           "SVL_WITNESSES": settings.witnesses, "COLUMNS": "300"}
    app = open_app(settings)
    app.people.join_worker(acting("hr"), name="New Starter", role="r", category="experienced",
                           start_date=date(2024, 1, 1))
    app.auto_checkpoints.enabled = False  # leave the signing to the command
    closing(app)
    result = CliRunner().invoke(svl, ["checkpoint", "--json"], env=env)
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["tree_size"] == 6 and out["witnesses"] == [{"witness": "w0", "cosigned": True, "message": "cosigned"}]
    assert cosigners_of(out["note"], witness)


def test_an_unreachable_witness_delays_nothing_but_its_own_line(log_settings, witness, caplog) -> None:
    gone = free_port()
    settings = replace(log_settings, witnesses=f"down=http://127.0.0.1:{gone}={witness.vkey}", witness_timeout=2)
    app = open_app(settings)
    try:
        staff(app)
        outcome = app.integrity.checkpoint()
        assert outcome.created and not outcome.witnesses[0].cosigned and "unreachable" in outcome.witnesses[0].message
        assert parse_checkpoint((settings.checkpoint_dir / LATEST_FILE).read_text()).tree_size == 5
        app.people.join_worker(acting("hr"), name="Next", role="r", category="experienced",
                               start_date=date(2024, 1, 1))
        again = app.integrity.checkpoint()  # within a minute: not asked again, so no timeout is waited
        assert again.created and "not asked" in again.witnesses[0].message
    finally:
        closing(app)
    assert any("did not cosign checkpoint 5" in r.message for r in caplog.records)


# --- a split view -------------------------------------------------------------------------------------------

def test_a_split_view_is_refused_by_the_witness_and_detected_by_svl_verify(log_settings, witness, tmp_path,
                                                                             capsys) -> None:
    """The organisation keeps a second database, signs its own history of the same size with its real key,
    and shows it to someone else. The witness, having cosigned the first, refuses the second."""
    honest_settings = witnessed(log_settings, witness)
    (tmp_path / "fork").mkdir()  # a folder of its own: the keys must not be inside the database's folder
    fork_settings = replace(honest_settings, database_url=f"sqlite:///{tmp_path}/fork/fork.db",
                            database_schema="public",
                            checkpoint_dir=tmp_path / "fork-published")
    honest, fork = open_app(honest_settings), open_app(fork_settings)
    try:
        for app, name in ((honest, "Sam Worker"), (fork, "Someone Else")):
            _, supervisor, worker = staff(app)
            app.people.join_worker(acting("hr"), name=name, role="r", category="experienced",
                                   start_date=date(2024, 1, 1))
        seen = honest.integrity.checkpoint()
        assert seen.witnesses[0].cosigned and seen.checkpoint.tree_size == 6
        rid = fork.records.draft_record(acting(supervisor), supervisee_id=worker, content=content()).id
        assert fork.integrity.store.size() == 7
        split = fork.integrity.checkpoint()
        assert split.checkpoint.tree_size == 7
        # 7 extends no tree the witness cosigned: its first 6 leaves are not the honest 6.
        assert not split.witnesses[0].cosigned and split.witnesses[0].conflict, split.witnesses
        assert "422" in split.witnesses[0].message

        # Same size, another root, both signed with the organisation's real key: 409.
        key = load_signing_key(log_settings.signing_key_file)
        fork_six = sign_checkpoint(key.name, 6, fork.integrity.store.root(6), key.private_key, key.name)
        status, content_type, body = witness.post(format_request(6, [], fork_six))
        assert status == 409 and content_type != SIZE_CONTENT_TYPE and "split view" in body
        assert honest.integrity.checkpoints.get(6) is not None  # the honest one stands at the witness
        assert witness.identity()["logs"][0]["cosigned_size"] == 6

        bundle = tmp_path / "fork-bundle.json"
        bundle.write_text(json.dumps(fork.integrity.export_bundle(rid)))
        # The forger also copies the witness's cosignature of the honest checkpoint onto the fork's note.
        stolen = [line for line in seen.note.splitlines(keepends=True) if line.startswith("\u2014 witness.")]
        forged = json.loads(bundle.read_text())
        forged["checkpoint"] += "".join(stolen)
        forged_file = tmp_path / "forged-bundle.json"
        forged_file.write_text(json.dumps(forged))
        vkey = key.vkey
    finally:
        closing(honest)
        fork.auto_checkpoints.enabled = False
        closing(fork)
    code, out = verify_offline(capsys, str(bundle), "--key", vkey)
    assert code == 0  # without witnesses, the fork is a validly signed log: only a witness can tell
    code, out = verify_offline(capsys, str(bundle), "--key", vkey, "--witness", witness.vkey)
    assert code == 1 and "NOT cosigned by witness witness.inspectorate.example/w1" in out
    assert "RESULT: NOT VERIFIED" in out
    code, out = verify_offline(capsys, str(forged_file), "--key", vkey, "--witness", witness.vkey)
    assert code == 1 and "does NOT verify" in out and "RESULT: NOT VERIFIED" in out

    shown = json.loads(svl_cli("witness", "show", "--state", str(witness.state), "--json"))
    assert shown["logs"][0]["tree_size"] == 6
    reasons = [r["reason"] for r in shown["refused"]]
    assert any("split view" in r for r in reasons) and any("consistency proof" in r for r in reasons)


# --- restart ------------------------------------------------------------------------------------------------

def test_a_restarted_witness_keeps_its_state_and_never_cosigns_a_smaller_tree(log_settings, witness) -> None:
    settings = witnessed(log_settings, witness)
    app = open_app(settings)
    try:
        staff(app)
        assert app.integrity.checkpoint().witnesses[0].cosigned
        small = sign_checkpoint(settings.organisation_origin, 3, app.integrity.store.root(3),
                                load_signing_key(settings.signing_key_file).private_key)
        witness.stop()
        witness.start(same_port=True)  # a new process, the same state file
        assert witness.identity()["logs"][0]["cosigned_size"] == 5
        status, content_type, body = witness.post(format_request(0, [], small))
        assert (status, content_type, body) == (409, SIZE_CONTENT_TYPE, "5\n")  # it says what it holds
        assert witness.identity()["logs"][0]["cosigned_size"] == 5  # and a refused request changes nothing
        status, _, body = witness.post(format_request(5, [], small))
        assert status == 400 and "larger than" in body  # old size above the checkpoint's
        # Growth after the restart is cosigned from the size it remembered.
        app.people.join_worker(acting("hr"), name="After Restart", role="r", category="experienced",
                               start_date=date(2024, 1, 1))
        assert app.integrity.checkpoint().witnesses[0].cosigned
        assert witness.identity()["logs"][0]["cosigned_size"] == 6
    finally:
        closing(app)


# --- the wire format, request by request ----------------------------------------------------------------------

def test_add_checkpoint_answers_as_the_spec_says(log_settings, witness, tmp_path) -> None:
    key = load_signing_key(log_settings.signing_key_file)
    app = open_app(log_settings)
    try:
        staff(app)
        store = app.integrity.store
        note5 = sign_checkpoint(key.name, 5, store.root(5), key.private_key)
        note3 = sign_checkpoint(key.name, 3, store.root(3), key.private_key)
        proof = store.consistency_proof(3, 5)
    finally:
        app.auto_checkpoints.enabled = False
        closing(app)
    assert witness.post(b"nonsense")[0] == 400
    assert witness.post(b"old 01\n\n" + note3.encode())[0] == 400  # leading zero
    assert witness.post(b"old 0\nnot-base64!\n\n" + note3.encode())[0] == 400
    stranger = tmp_path / "stranger.key"
    create_signing_key_file(stranger, "someone-else.example/log")
    other = load_signing_key(stranger)
    any_root = b"\x00" * 32
    assert witness.post(format_request(0, [], sign_checkpoint(other.name, 3, any_root, other.private_key)))[0] == 404
    impostor = sign_checkpoint(key.name, 3, any_root, other.private_key, key.name)  # the log's name, not its key
    assert witness.post(format_request(0, [], impostor))[0] == 403
    assert witness.post(format_request(0, [b"\x01" * 32], note3))[0] == 422  # a proof from size 0 must be empty

    status, content_type, body = witness.post(format_request(0, [], note3))
    assert status == 200 and content_type.startswith("text/plain")
    assert cosigners_of(note3 + body, witness)  # the answer is signature lines to append to the note
    assert witness.post(format_request(3, [b"\x02" * 32] * len(proof), note5))[0] == 422  # a wrong proof
    status, _, body = witness.post(format_request(3, proof, note5))
    assert status == 200 and cosigners_of(note5 + body, witness)
    status, _, body = witness.post(format_request(5, [], note5))  # the same tree again: cosigned again
    assert status == 200
    assert witness.post(format_request(3, proof, note5))[:2] == (409, SIZE_CONTENT_TYPE)
    assert witness.post(format_request(0, [], note3))[:3] == (409, SIZE_CONTENT_TYPE, "5\n")
    assert witness.identity()["logs"][0]["cosigned_size"] == 5  # never rolled back by a stale request
