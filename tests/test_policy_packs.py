"""Policy packs load, stay faithful to their policies, and fail with actionable messages."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from pydantic import BaseModel

from domain.policy import PolicyIncomplete, PolicyPack, WorkerCategory
from domain.schedule_rules import destruction_date, incomplete_rules
from infrastructure.policy_packs import (
    PolicyPackError,
    available_packs,
    default_directory,
    load_all_packs,
    load_pack,
    load_pack_by_name,
)

PACKS = ["bcp", "bury", "darlington", "hull", "school-trust"]
SEEDS_DIR = Path("/work/shared/seeds")
SEED_FILES = {  # from DOMAIN.md
    "bcp": "000_0d1501c5e581e68e.txt",
    "hull": "001_a6b3eaa35062f640.txt",
    "darlington": "002_b3ce3b1f49eee0c2.txt",
    "bury": "003_799dae82a184f74f.txt",
    "school-trust": "004_ce8352d8d6ec510b.txt",
}


@pytest.fixture(scope="module")
def packs() -> dict[str, PolicyPack]:
    return load_all_packs()


def _sources(model: object, path: str = "") -> list[tuple[str, str]]:
    """(key path, source) for every rule in a pack."""
    found: list[tuple[str, str]] = []
    if isinstance(model, BaseModel):
        source = getattr(model, "source", None)
        if isinstance(source, str):
            found.append((path, source))
        for name in type(model).model_fields:
            found += _sources(getattr(model, name), f"{path}.{name}".lstrip("."))
    elif isinstance(model, dict):
        for key, value in model.items():
            found += _sources(value, f"{path}.{key}")
    elif isinstance(model, tuple):
        for i, value in enumerate(model):
            found += _sources(value, f"{path}.{i}")
    return found


def _normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("**", "")).strip()


# --- the five packs ------------------------------------------------------------


def test_all_five_packs_are_available() -> None:
    assert available_packs() == PACKS


@pytest.mark.parametrize("name", PACKS)
def test_pack_loads_and_names_itself(name: str) -> None:
    pack = load_pack_by_name(name)
    assert pack.short_name == name
    assert pack.organisation.name


@pytest.mark.parametrize("name", PACKS)
def test_every_category_is_stated_explicitly(packs: dict[str, PolicyPack], name: str) -> None:
    # Each pack says, per category, either the policy's rule or "policy silent: baseline".
    frequency = packs[name].frequency
    for category in WorkerCategory:
        assert getattr(frequency, category.value) is not None, f"{name}: {category} missing"


@pytest.mark.parametrize("name", PACKS)
def test_every_source_is_quoted_verbatim_from_the_seed(packs: dict[str, PolicyPack], name: str) -> None:
    seed = SEEDS_DIR / SEED_FILES[name]
    if not seed.exists():
        pytest.skip("seed policies not present on this machine")
    text = _normalise(seed.read_text(encoding="utf-8"))
    for key, source in _sources(packs[name]):
        if source.startswith("UK GDPR"):
            continue  # statutory, not from the organisation's policy
        for fragment in source.split("..."):
            assert _normalise(fragment) in text, f"{name}: {key}: not verbatim in {seed.name}: {fragment!r}"


@pytest.mark.parametrize(
    ("name", "years"),
    [("bcp", 6), ("hull", 7), ("bury", 2), ("darlington", None), ("school-trust", None)],
)
def test_retention_periods_match_the_policies(packs: dict[str, PolicyPack], name: str, years: int | None) -> None:
    assert packs[name].retention.years_after_employment_ends == years


@pytest.mark.parametrize("name", ["darlington", "school-trust"])
def test_packs_without_a_retention_period_refuse_destruction(packs: dict[str, PolicyPack], name: str) -> None:
    pack = packs[name]
    with pytest.raises(PolicyIncomplete, match=r"retention\.years_after_employment_ends") as caught:
        destruction_date(pack, date(2026, 3, 31))
    assert name in str(caught.value)
    assert incomplete_rules(pack) == ["retention.years_after_employment_ends"]
    with pytest.raises(PolicyIncomplete):
        pack.retention_years_required()


def test_complete_packs_report_nothing_missing(packs: dict[str, PolicyPack]) -> None:
    assert {n for n, p in packs.items() if not incomplete_rules(p)} == {"bcp", "hull", "bury"}


def test_hull_specific_values(packs: dict[str, PolicyPack]) -> None:
    hull = packs["hull"]
    assert hull.minimum_session_minutes.minutes == 60
    assert hull.completion.record.counting == "working_days"
    assert hull.rebooking.after_cancellation is not None and hull.rebooking.after_sickness is not None
    assert hull.archival.deadline_after_leaving is not None
    assert packs["bury"].minimum_session_minutes.minutes == 90
    assert packs["darlington"].case_supervision.ratings["green"].approval_by == "head_of_service"


# --- error messages: file, key path, reason -----------------------------------------


def _broken_copy(tmp_path: Path, name: str, old: str, new: str) -> Path:
    text = (default_directory() / f"{name}.toml").read_text(encoding="utf-8")
    assert old in text, "test fixture out of date: text to break not found"
    path = tmp_path / f"{name}.toml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("old", "new", "key", "reason"),
    [
        ("years_after_employment_ends = 7", "years_after_employment_ends = -1",
         "retention.years_after_employment_ends", "at least 1 year after employment ends, got -1"),
        ("years_after_employment_ends = 7", "years_after_employment_ends = true",
         "retention.years_after_employment_ends", "valid integer"),
        ('short_name = "hull"\n', "",
         "organisation.short_name", "required key is missing"),
        ("days = 5\ncounting = \"working_days\"\nsource = \"It is advised",
         "counting = \"working_days\"\nsource = \"It is advised",
         "completion.record.days", "required key is missing"),
        ("  { every = { weeks = 2 }, until = { months = 6 } },",
         "  { every = { weeks = 2 }, until = { weeks = 4 } },",
         "frequency.nqsw_asye.phases", "phase 2's `until` must be later than phase 1's"),
        ("  { every = { weeks = 2 }, until = { months = 6 } },",
         "  { every = { days = 3 }, until = { months = 6 } },",
         "frequency.nqsw_asye.phases", "phases must ease, not tighten"),
        ("phases = [\n  { every = { weeks = 2 }, until = { months = 3 } },\n  { every = { months = 1 } },\n]\n\n[frequency.role_changer]",
         "phases = []\n\n[frequency.role_changer]",
         "frequency.returner.phases", "at least one phase is required"),
        ("[frequency.volunteer]", "[frequency.volunteers]",
         "frequency.volunteers", "unknown key"),
        ("review_every = { months = 12 }", "review_every = { months = 0 }",
         "agreement.review_every", "at least one of months, weeks or days above 0"),
        ('source = "it will be retained for seven years after employment has ceased, following this time the file will be destroyed."\n',
         "",
         "retention", "give a `source` quoting the policy, or a `note`"),
    ],
)
def test_broken_pack_names_file_key_and_reason(tmp_path: Path, old: str, new: str, key: str, reason: str) -> None:
    path = _broken_copy(tmp_path, "hull", old, new)
    with pytest.raises(PolicyPackError) as caught:
        load_pack(path)
    message = str(caught.value)
    assert str(path) in message
    assert f"{key}: " in message, message
    assert reason in message, message
    assert any(k == key for k, _ in caught.value.problems)


def test_toml_syntax_error_gives_the_line(tmp_path: Path) -> None:
    path = _broken_copy(tmp_path, "bury", 'short_name = "bury"', 'short_name = "bury')
    with pytest.raises(PolicyPackError) as caught:
        load_pack(path)
    message = str(caught.value)
    assert str(path) in message and "TOML syntax error" in message
    line = next(i for i, text in enumerate(path.read_text().splitlines(), 1) if text.startswith("short_name"))
    assert f"line {line}" in message


def test_missing_file_is_a_pack_error(tmp_path: Path) -> None:
    with pytest.raises(PolicyPackError, match="cannot read"):
        load_pack(tmp_path / "absent.toml")


def test_unknown_pack_name_lists_what_exists() -> None:
    with pytest.raises(PolicyPackError, match="available: bcp, bury, darlington, hull, school-trust"):
        load_pack_by_name("leeds")


@pytest.mark.parametrize("name", ["../hull", "", ".hidden"])
def test_pack_names_cannot_escape_the_directory(name: str) -> None:
    with pytest.raises(PolicyPackError, match="not a policy pack name"):
        load_pack_by_name(name)


def test_file_name_must_match_short_name(tmp_path: Path) -> None:
    text = (default_directory() / "bury.toml").read_text(encoding="utf-8")
    (tmp_path / "wigan.toml").write_text(text, encoding="utf-8")
    with pytest.raises(PolicyPackError, match="organisation.short_name: is 'bury' but the file is named 'wigan'"):
        load_pack_by_name("wigan", tmp_path)


def test_directory_comes_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = (default_directory() / "hull.toml").read_text(encoding="utf-8")
    (tmp_path / "hull.toml").write_text(text, encoding="utf-8")
    monkeypatch.setenv("SVL_POLICY_DIR", str(tmp_path))
    assert available_packs() == ["hull"]
    assert load_pack_by_name("hull").short_name == "hull"


def test_closure_days_load_as_dates(tmp_path: Path) -> None:
    path = _broken_copy(tmp_path, "hull", "dates = []", "dates = [2026-12-29, 2026-12-30]")
    assert load_pack(path).closure_dates == {date(2026, 12, 29), date(2026, 12, 30)}


def test_packs_are_immutable(packs: dict[str, PolicyPack]) -> None:
    with pytest.raises(Exception):
        packs["hull"].retention.years_after_employment_ends = 1  # type: ignore[misc]


def test_every_pack_category_can_join_and_others_are_refused(packs: dict[str, PolicyPack]) -> None:
    # Packs are keyed by the same category names a Worker joins with.
    from datetime import datetime, timezone

    from domain.errors import DomainError
    from domain.workers import Worker

    joined = dict(name="A", role="Social worker", start_date=date(2026, 1, 5), organisation="hull", actor="hr",
                  timestamp=datetime(2026, 1, 5, tzinfo=timezone.utc))
    for category in type(packs["hull"].frequency).model_fields:
        if category != "default":
            assert Worker.join(category=category, **joined).category == category
    with pytest.raises(DomainError, match="is not one of"):
        Worker.join(category="student", **joined)
