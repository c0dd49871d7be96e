"""`svl init / checkpoint / verify / export-bundle / ledger ...` and `svl-verify`, end to end through typer's
CliRunner against the fixture's database (SQLite and PostgreSQL), configured only by environment."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from infrastructure import svl_verify
from tests.support.cli import cli, populated  # noqa: F401  (fixtures)
from tests.support.storage import event_rows, nid_column, sql, table


def test_init_creates_a_private_signing_key_and_says_so(cli, settings) -> None:
    assert settings.signing_key_file.exists()
    assert oct(settings.signing_key_file.stat().st_mode & 0o777) == "0o600"
    assert settings.signing_key_file.read_text().startswith("PRIVATE+KEY+supervision-ledger.example/bcp+")
    key = settings.signing_key_file.read_text()
    assert "SIGNING" not in cli("init")  # idempotent: the key is kept, and not announced again
    assert settings.signing_key_file.read_text() == key


def test_checkpoint_verify_export_and_check_offline(cli, populated, tmp_path) -> None:
    app, rid = populated
    out = json.loads(cli("checkpoint", "--json"))
    assert out["created"] and out["tree_size"] == 7
    assert Path(out["published"]) == tmp_path / "published" / "7.checkpoint"
    assert (tmp_path / "published" / "verifier.vkey").read_text().strip() == out["verifier_key"]

    assert "intact" in cli("verify", "--checkpoints", str(tmp_path / "published"))
    report = json.loads(cli("verify", "--json", "--checkpoints", str(tmp_path / "published")))
    assert report["intact"] and report["published_checked"] == 1 and report["checkpoints_checked"] == 1

    bundle_file = tmp_path / "bundle.json"
    cli("export-bundle", str(rid)[:8], "-o", str(bundle_file))
    key_file = tmp_path / "published" / "verifier.vkey"
    assert svl_verify.main([str(bundle_file), "--key", str(key_file),
                            "--checkpoint", str(tmp_path / "published" / "7.checkpoint")]) == 0

    proof = json.loads(cli("ledger", "proof", "6"))
    cp = svl_verify.verify_checkpoint(proof["checkpoint"], out["verifier_key"])
    leaf = base64.b64decode(proof["leaf_hash"])
    assert svl_verify.verify_inclusion(leaf, proof["leaf_index"], cp.tree_size,
                                       [base64.b64decode(p) for p in proof["proof"]], cp.root_hash)
    assert json.loads(cli("ledger", "consistency", "3"))["to_size"] == 7
    assert cli("ledger", "key").strip() == out["verifier_key"]


def test_export_with_content_needs_a_reader_and_proves_the_plaintext(cli, populated, tmp_path, capsys) -> None:
    app, rid = populated
    bundle_file = tmp_path / "bundle.json"
    assert "say who you are" in cli("export-bundle", str(rid), "-o", str(bundle_file), "--with-content", code=2)
    cli("export-bundle", str(rid), "-o", str(bundle_file), "--with-content", "--as", "sam")
    capsys.readouterr()
    assert svl_verify.main([str(bundle_file), "--show-content"]) == svl_verify.EXIT_SELF_SIGNED  # key from the file
    printed = capsys.readouterr().out
    assert "Zarquon household" in printed and "RESULT: CONSISTENT, BUT SIGNED BY A KEY YOU DID NOT SUPPLY" in printed
    assert svl_verify.main([str(bundle_file), "--show-content", "--key", app.integrity.verifier_key()]) == 0
    printed = capsys.readouterr().out
    assert "Zarquon household" in printed and "RESULT: VERIFIED" in printed
    assert "Drafted" in printed and "SharedWithSupervisee" in printed


def test_verify_names_the_first_divergence_and_exits_1(cli, populated) -> None:
    app, _ = populated
    nid, oid, version, _, state = event_rows(app)[6]
    sql(app, f"UPDATE {table(app)} SET state = :s WHERE {nid_column(app)} = :n", s=state[::-1], n=nid)
    out = cli("verify", code=1)
    assert f"notification id {nid}" in out and oid in out and "altered" in out
    report = json.loads(cli("verify", "--json", code=1))
    assert report["first_divergence"]["kind"] == "altered"
    assert report["first_divergence"]["notification_id"] == nid


def test_clear_errors_instead_of_tracebacks(cli, populated, settings, tmp_path) -> None:
    assert "no checkpoint has been signed yet" in cli("ledger", "proof", "1", code=2)
    assert "not a directory" in cli("verify", "--checkpoints", str(tmp_path / "nowhere"), code=2)
    assert "no single record matches" in cli("export-bundle", "ffffffff", "-o", str(tmp_path / "b.json"), code=2)
    settings.signing_key_file.unlink()
    assert "run `svl init`" in cli("checkpoint", code=2)
