"""A pack's history, pure: which version is in force on a day, and due dates across a change of frequency.

The changed versions here are made up for the tests (no council has announced a change); they start from
hull's real pack so every other rule is a real one."""

from datetime import date as D

import pytest

from domain.compliance import WorkerFacts, evaluate
from domain.pack_history import PackHistory, PackHistoryError, PackVersion
from domain.policy import FrequencyPhase, FrequencyRule, Interval, PolicyPack
from typer.testing import CliRunner

from api.cli import app as svl
from infrastructure.policy_packs import (PolicyPackError, default_directory, load_history, load_history_by_name,
                                         load_pack_by_name)
from tests.support.pack_history import packs_with_history

HULL = load_pack_by_name("hull")


def with_experienced_every(pack: PolicyPack, version: int, **every: int) -> PolicyPack:
    rule = FrequencyRule(note="test version: a changed frequency", phases=(FrequencyPhase(every=Interval(**every)),))
    return pack.model_copy(update={"version": version,
                                   "frequency": pack.frequency.model_copy(update={"experienced": rule})})


MONTHLY = HULL
FORTNIGHTLY = with_experienced_every(HULL, 2, weeks=2)
MONTHLY_AGAIN = with_experienced_every(HULL, 3, months=1)


def history(*changes: tuple[D, PolicyPack], first: PolicyPack = MONTHLY) -> PackHistory:
    return PackHistory([PackVersion(None, first), *(PackVersion(day, pack) for day, pack in changes)])


def test_a_day_is_judged_by_the_version_in_force_on_it() -> None:
    h = history((D(2026, 3, 1), FORTNIGHTLY), (D(2026, 9, 1), MONTHLY_AGAIN))
    assert h.in_force_on(D(2000, 1, 1)) is MONTHLY  # the first version has been in force from the start
    assert h.in_force_on(D(2026, 2, 28)) is MONTHLY
    assert h.in_force_on(D(2026, 3, 1)) is FORTNIGHTLY  # the effective day itself is under the new version
    assert h.in_force_on(D(2026, 8, 31)) is FORTNIGHTLY
    assert h.in_force_on(D(2027, 1, 1)) is MONTHLY_AGAIN
    assert [v.effective_from for v in h.changes] == [D(2026, 3, 1), D(2026, 9, 1)]
    assert h.changes_between(D(2026, 3, 1), D(2026, 9, 1)) == (h.versions[2],)


def test_a_single_version_pack_is_the_same_every_day() -> None:
    h = PackHistory.single(HULL)
    assert h.in_force_on(D(1990, 1, 1)) is h.in_force_on(D(2090, 1, 1)) is HULL
    assert h.short_name == "hull"


@pytest.mark.parametrize(("versions", "message"), [
    ([], "at least one version"),
    ([PackVersion(D(2026, 1, 1), MONTHLY)], "from the beginning"),
    ([PackVersion(None, MONTHLY), PackVersion(None, FORTNIGHTLY)], "needs an effective_from"),
    ([PackVersion(None, MONTHLY), PackVersion(D(2026, 3, 1), FORTNIGHTLY), PackVersion(D(2026, 3, 1), MONTHLY_AGAIN)],
     "both take effect on 2026-03-01"),
    ([PackVersion(None, MONTHLY), PackVersion(D(2026, 9, 1), FORTNIGHTLY), PackVersion(D(2026, 3, 1), MONTHLY_AGAIN)],
     "before version 2"),
    ([PackVersion(None, MONTHLY), PackVersion(D(2026, 3, 1), load_pack_by_name("bury"))], "different organisations"),
])
def test_versions_that_make_no_history_are_refused(versions, message) -> None:
    with pytest.raises(PackHistoryError, match=message):
        PackHistory(versions)


# -- due dates across a change ---------------------------------------------------------------------------------


def test_worked_example_monthly_to_fortnightly_mid_period() -> None:
    # Last session 1 Jan under monthly: due 1 Feb. Fortnightly from 15 Jan: from the same session the new
    # rule wants 15 Jan, the change's own day, so the worker is due on 15 Jan, never before it.
    h = history((D(2026, 1, 15), FORTNIGHTLY))
    assert h.next_due_across("experienced", D(2020, 1, 1), D(2026, 1, 1)) == D(2026, 1, 15)
    # Fortnightly from 10 Jan: the new rule wants 15 Jan, after the change: due 15 Jan.
    h = history((D(2026, 1, 10), FORTNIGHTLY))
    assert h.next_due_across("experienced", D(2020, 1, 1), D(2026, 1, 1)) == D(2026, 1, 15)
    # Fortnightly from 20 Jan, last session 1 Jan: 15 Jan has already passed when the rule starts; the
    # worker is due on the change's day, 20 Jan, not overdue from 15 Jan.
    h = history((D(2026, 1, 20), FORTNIGHTLY))
    assert h.next_due_across("experienced", D(2020, 1, 1), D(2026, 1, 1)) == D(2026, 1, 20)


def test_worked_example_a_change_after_the_due_date_changes_nothing() -> None:
    # Monthly, last session 1 Jan: due 1 Feb; fortnightly only from 2 Feb: the old rule decided.
    h = history((D(2026, 2, 2), FORTNIGHTLY))
    assert h.next_due_across("experienced", D(2020, 1, 1), D(2026, 1, 1)) == D(2026, 2, 1)
    # A change before the last session: the session itself was under the new rule.
    h = history((D(2025, 12, 1), FORTNIGHTLY))
    assert h.next_due_across("experienced", D(2020, 1, 1), D(2026, 1, 1)) == D(2026, 1, 15)


def test_worked_example_fortnightly_to_monthly_eases_the_period_running() -> None:
    # Fortnightly, last session 1 Jan: due 15 Jan; monthly from 10 Jan: due 1 Feb.
    h = history((D(2026, 1, 10), MONTHLY_AGAIN), first=FORTNIGHTLY)
    assert h.next_due_across("experienced", D(2020, 1, 1), D(2026, 1, 1)) == D(2026, 2, 1)


def test_worked_example_two_changes_in_one_period() -> None:
    # Monthly; fortnightly from 10 Jan (due 15 Jan); monthly again from 12 Jan (due 1 Feb).
    h = history((D(2026, 1, 10), FORTNIGHTLY), (D(2026, 1, 12), MONTHLY_AGAIN))
    assert h.next_due_across("experienced", D(2020, 1, 1), D(2026, 1, 1)) == D(2026, 2, 1)


def test_the_categories_a_version_leaves_alone_keep_their_due_dates() -> None:
    h = history((D(2026, 1, 10), FORTNIGHTLY))
    assert h.next_due_across("family_support", D(2020, 1, 1), D(2026, 1, 1)) == D(2026, 2, 1)


def test_evaluate_with_the_history_names_the_rule_that_sets_the_due_date() -> None:
    h = history((D(2026, 1, 20), FORTNIGHTLY))
    facts = WorkerFacts(worker_id="w", category="experienced", supervisor_id="s", start_date=D(2020, 1, 1),
                        joined_on=D(2020, 1, 1), last_session=D(2026, 1, 1))
    before = evaluate(h.in_force_on(D(2026, 1, 19)), facts, D(2026, 1, 19), history=h)
    assert before.frequency.due == D(2026, 1, 20)  # the announced change already shortens the period
    after = evaluate(h.in_force_on(D(2026, 1, 25)), facts, D(2026, 1, 25), history=h)
    assert (after.frequency.status, after.frequency.due, after.frequency.days_overdue) == ("overdue", D(2026, 1, 20), 5)
    assert "fortnight" in after.frequency.rule
    without = evaluate(MONTHLY, facts, D(2026, 1, 25))
    assert (without.frequency.status, without.frequency.due) == ("due_soon", D(2026, 2, 1))  # today's rule alone


# -- the pack file ------------------------------------------------------------------------------------------------


def test_a_file_without_versions_is_a_history_of_one(tmp_path) -> None:
    h = load_history(default_directory() / "hull.toml")
    assert len(h.versions) == 1 and h.versions[0].pack == load_pack_by_name("hull")


def test_a_version_changes_only_the_settings_it_names(tmp_path) -> None:
    folder = packs_with_history(tmp_path / "packs")
    h = load_history_by_name("bcp", folder)
    old, new = (v.pack for v in h.versions)
    assert h.versions[1].effective_from == D(2026, 3, 1)
    assert (old.version, new.version) == (old.version, old.version + 1)  # numbered on, unless the version says
    assert new.frequency.experienced.phases[0].every == Interval(weeks=2)
    assert new.frequency.experienced.source is not None  # merged into the table: the earlier quote stays...
    assert new.frequency.experienced.note == "test version: fortnightly from 1 March 2026"  # ...beside the new note
    assert new.model_copy(update={"version": old.version, "frequency": old.frequency}) == old  # nothing else moved
    assert load_pack_by_name("bcp", folder) == old  # the file's top level is still the first version


def _versions_error(tmp_path, versions: str) -> str:
    folder = packs_with_history(tmp_path / "packs", versions=versions)
    with pytest.raises(PolicyPackError) as caught:
        load_history(folder / "bcp.toml")
    assert str(folder / "bcp.toml") in str(caught.value)  # the message names the file...
    return str(caught.value)


@pytest.mark.parametrize(("versions", "key", "reason"), [
    ('[[versions]]\n[versions.frequency.experienced]\nphases = [{ every = { weeks = 2 } }]\n',
     "versions.1.effective_from", "required key is missing"),
    ('[[versions]]\neffective_from = "2026-03-01"\n[versions.retention]\nyears_after_employment_ends = 8\n',
     "versions.1.effective_from", "without quotes"),
    ('[[versions]]\neffective_from = 2026-09-01\n[versions.retention]\nyears_after_employment_ends = 8\n'
     '[[versions]]\neffective_from = 2026-03-01\n[versions.retention]\nyears_after_employment_ends = 9\n',
     "versions.2.effective_from", "before version 1's 2026-09-01"),
    ('[[versions]]\neffective_from = 2026-03-01\n[versions.retention]\nyears_after_employment_ends = 8\n'
     '[[versions]]\neffective_from = 2026-03-01\n[versions.retention]\nyears_after_employment_ends = 9\n',
     "versions.2.effective_from", "also the day of version 1"),
    ('[[versions]]\neffective_from = 2026-03-01\n[versions.frequency.experienced]\nphasez = []\n',
     "versions.1.frequency.experienced.phasez", "unknown key"),
    ('[[versions]]\neffective_from = 2026-03-01\n[versions.retentoin]\nyears_after_employment_ends = 8\n',
     "versions.1.retentoin", "unknown key"),
    ('[[versions]]\neffective_from = 2026-03-01\n[versions.retention]\nyears_after_employment_ends = -1\n',
     "versions.1.retention.years_after_employment_ends", "at least 1 year"),
    ('[[versions]]\neffective_from = 2026-03-01\n[versions.organisation]\nshort_name = "hull"\n',
     "versions.1.organisation", "new pack"),
    ('[[versions]]\neffective_from = 2026-03-01\n', "versions.1", "changes nothing"),
    ('[[versions]]\neffective_from = 2026-03-01\nversion = 1\n[versions.retention]\nyears_after_employment_ends = 8\n',
     "versions.1.version", "must be above"),
])
def test_an_invalid_history_names_the_file_and_the_key(tmp_path, versions, key, reason) -> None:
    message = _versions_error(tmp_path, versions)
    assert f"{key}: " in message and reason in message, message  # ...and the key, with the reason


def test_policy_check_lists_each_version_and_its_date(tmp_path) -> None:
    folder = packs_with_history(tmp_path / "packs")
    result = CliRunner().invoke(svl, ["policy", "check", str(folder / "bcp.toml")], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    version = load_pack_by_name("bcp").version
    assert f"version {version}: in force from the start" in result.output
    assert f"version {version + 1}: in force from 2026-03-01" in result.output
    bad = packs_with_history(tmp_path / "bad", versions='[[versions]]\neffective_from = 2026-03-01\n'
                                                         '[versions.frequency.experienced]\nphasez = []\n')
    result = CliRunner().invoke(svl, ["policy", "check", str(bad / "bcp.toml")], env={"COLUMNS": "200"})
    assert result.exit_code != 0
    assert "versions.1.frequency.experienced.phasez: unknown key" in result.output
