"""The rule register (policies/RULES.md) stays complete and true to the packs, the code and the seeds."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

from domain.policy import organisation_settings, rules
from infrastructure.policy_packs import default_directory, load_all_packs
from infrastructure.rule_register import SEED_FILES, SEEDS_DIR, build, counts, normalise, render

ROOT = Path(__file__).resolve().parent.parent
REGISTER = default_directory() / "RULES.md"
needs_seeds = pytest.mark.skipif(not SEEDS_DIR.is_dir(), reason="seed policies not present on this machine")


def _table_rows() -> list[dict[str, str]]:
    """Rows of the committed RULES.md, read as a reader would (not through the generator)."""
    rows, pack = [], None
    for line in REGISTER.read_text(encoding="utf-8").splitlines():
        heading = re.match(r"^## (\S+) \(", line)
        if heading:
            pack = heading.group(1)
            continue
        if pack and line.startswith("| ") and not line.startswith("| key |"):
            cells = [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line)[1:-1]]
            rows.append(dict(zip(["key", "kind", "line", "quote", "basis", "status", "where"], cells), pack=pack))
    return rows


@needs_seeds
def test_the_committed_register_is_what_the_packs_and_the_code_say() -> None:
    assert REGISTER.read_text(encoding="utf-8") == render(build()), (
        "policies/RULES.md is stale: run `uv run python -m infrastructure.rule_register`")


def test_every_pack_key_is_in_the_register() -> None:
    listed = {(r["pack"], r["key"]) for r in _table_rows()}
    for name, pack in load_all_packs().items():
        for key, _ in rules(pack):
            assert (name, key) in listed, f"{name}: pack key {key} is not in policies/RULES.md"


def test_every_row_is_enforced_or_explained() -> None:
    for row in _table_rows():
        assert row["status"] in ("enforced", "explained"), row
        if row["status"] == "enforced":
            assert "`tests/" in row["where"] and "`domain." in row["where"], row
        else:
            assert row["where"].strip(), f"{row['pack']} {row['key']}: explained without a reason"


def test_every_named_function_and_test_exists() -> None:
    for row in _table_rows():
        for function in re.findall(r"`(domain\.[\w.]+)`", row["where"]):
            parts = function.split(".")
            for split in range(len(parts) - 1, 0, -1):
                try:
                    target: object = importlib.import_module(".".join(parts[:split]))
                except ModuleNotFoundError:
                    continue
                for attribute in parts[split:]:
                    assert hasattr(target, attribute), f"{row['pack']} {row['key']}: {function} does not exist"
                    target = getattr(target, attribute)
                break
            else:
                pytest.fail(f"{row['pack']} {row['key']}: no module for {function}")
        for test in re.findall(r"`(tests/[\w/]+\.py)::(\w+)`", row["where"]):
            path, name = ROOT / test[0], test[1]
            assert path.is_file(), f"{row['pack']} {row['key']}: {test[0]} does not exist"
            assert re.search(rf"^def {name}\(", path.read_text(encoding="utf-8"), re.MULTILINE), (
                f"{row['pack']} {row['key']}: no test {name} in {test[0]}")


@needs_seeds
def test_every_quote_is_word_for_word_in_its_seed_at_the_line_given() -> None:
    for row in _table_rows():
        if row["quote"] == "-":
            assert row["basis"] in ("organisation", "statute") and row["line"] == "-", row
            continue
        lines = (SEEDS_DIR / SEED_FILES[row["pack"]]).read_text(encoding="utf-8").splitlines()
        whole = normalise("\n".join(lines))
        for fragment in row["quote"].split("..."):
            assert normalise(fragment) in whole, f"{row['pack']} {row['key']}: not in the seed: {fragment!r}"
        start = int(row["line"])
        near = normalise(" ".join(lines[start - 1:start + 2]))
        assert normalise(row["quote"].split("...")[0]) in near, f"{row['pack']}: quote not at line {start}: {row}"


def test_values_no_policy_sentence_backs_are_the_organisations_own() -> None:
    # e.g. darlington's "one week" to complete a record: no sentence of its policy says so.
    by_key = {(r["pack"], r["key"]): r for r in _table_rows()}
    packs = load_all_packs()
    for name, pack in packs.items():
        for key, _ in organisation_settings(pack):
            assert by_key[(name, key)]["basis"] == "organisation", (name, key)
            assert by_key[(name, key)]["quote"] == "-", (name, key)
    assert {k for k, _ in organisation_settings(packs["darlington"])} >= {"completion.record", "agreement"}
    assert {k for k, _ in organisation_settings(packs["hull"])} >= {"agreement"}
    assert "completion.record" in {k for k, _ in organisation_settings(packs["school-trust"])}


@needs_seeds
def test_the_counts_in_the_register_are_its_rows() -> None:
    text = REGISTER.read_text(encoding="utf-8")
    rows = _table_rows()
    for name in SEED_FILES:
        enforced = sum(r["pack"] == name and r["status"] == "enforced" for r in rows)
        explained = sum(r["pack"] == name and r["status"] == "explained" for r in rows)
        assert f"| {name} | {enforced} | {explained} |" in text
        assert counts(build())[name] == (enforced, explained)


def test_svl_policy_check_names_the_values_no_policy_sentence_backs() -> None:
    from typer.testing import CliRunner

    from api.cli import app as svl

    result = CliRunner().invoke(svl, ["policy", "check", str(default_directory() / "darlington.toml")],
                                env={"COLUMNS": "240"})
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("no policy sentence backs:")]
    named = {line.split(":")[1].split("(")[0].strip() for line in lines}
    assert named == {key for key, _ in organisation_settings(load_all_packs()["darlington"])}
    assert "completion.record" in named and "agreement" in named
    assert "frequency.nqsw_asye" not in named  # "As a minimum weekly for the first 6 weeks then fortnightly ..."
