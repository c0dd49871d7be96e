"""The rule register: every rule of the five policies, where it is enforced, or why it is not.

Built from the packs (one row per rule key) and ``policies/register/rules.toml`` (rules that are no pack key),
with each quote's line found in the seed policy. ``python -m infrastructure.rule_register [SEEDS_DIR]``
rewrites ``policies/RULES.md``; ``tests/test_rule_register.py`` fails when the file is stale, a pack key
is missing, a named function or test does not exist, or a quote is not word for word in its seed.
"""

from __future__ import annotations

import re
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

from domain.policy import PolicyPack, Rule, rules, sets_a_value
from infrastructure.policy_packs import default_directory, load_all_histories

SEEDS_DIR = Path("/work/shared/seeds")
SEED_FILES = {
    "bcp": "000_0d1501c5e581e68e.txt",
    "hull": "001_a6b3eaa35062f640.txt",
    "darlington": "002_b3ce3b1f49eee0c2.txt",
    "bury": "003_799dae82a184f74f.txt",
    "school-trust": "004_ce8352d8d6ec510b.txt",
}
STATUTORY = "UK GDPR"

# Where each pack key is enforced: the first matching prefix wins.
_ENFORCED: tuple[tuple[str, str, str, str], ...] = (
    # prefix, kind, domain function, test
    ("retention", "retention", "domain.schedule_rules.destruction_date",
     "tests/test_register_examples.py::test_retention_worked_example"),
    ("archival", "deadline", "domain.schedule_rules.archival_deadline",
     "tests/test_register_examples.py::test_archival_worked_example"),
    ("completion.record_ends", "deadline", "domain.compliance.evaluate",
     "tests/test_register_examples.py::test_record_deadline_end_worked_example"),
    ("completion.record", "deadline", "domain.schedule_rules.completion_deadline",
     "tests/test_register_examples.py::test_record_completion_worked_example"),
    ("completion.case_decisions", "deadline", "domain.case_supervision_record.case_decision_status",
     "tests/test_record_classes.py::test_bcp_case_decision_on_the_childs_record_within_one_week_worked_example"),
    ("record_classes.case_supervision.retention", "retention",
     "domain.case_supervision_record.case_record_destruction_date",
     "tests/test_record_classes.py::test_case_record_retention_worked_example"),
    ("record_classes.case_supervision", "record classes", "domain.case_supervision_record.CaseSupervisionRecord.record",
     "tests/test_record_classes.py::test_bcp_and_bury_keep_case_supervision_apart_as_a_record_class_worked_example"),
    ("rebooking", "deadline", "domain.schedule_rules.rebooking_deadline",
     "tests/test_schedule_rules.py::test_rebooking_hull_within_5_working_days"),
    ("agreement", "agreement", "domain.schedule_rules.agreement_review_due",
     "tests/test_register_examples.py::test_agreement_review_worked_example"),
    ("observation", "observation", "domain.observations.observations_due",
     "tests/test_observation_examples.py::test_observation_cycle_worked_example"),
    ("review", "review", "domain.employee_reviews.reviews_due",
     "tests/test_observation_examples.py::test_review_cycle_worked_example"),
    ("frequency.default", "frequency", "domain.policy.Frequency.for_category",
     "tests/test_register_examples.py::test_default_frequency_worked_example"),
    ("frequency", "frequency", "domain.schedule_rules.next_due_date",
     "tests/test_register_examples.py::test_frequency_worked_example"),
    ("minimum_session_minutes.short_session", "length", "domain.session_length.judge_length",
     "tests/test_register_examples.py::test_short_session_worked_example"),
    ("minimum_session_minutes.maximum", "length", "domain.session_length.judge_length",
     "tests/test_register_examples.py::test_session_maximum_worked_example"),
    ("minimum_session_minutes", "length", "domain.compliance.evaluate",
     "tests/test_register_examples.py::test_session_length_worked_example"),
    ("case_supervision.ratings.green", "review", "domain.case_supervision.CaseSupervision.rate",
     "tests/test_sessions_domain.py::test_darlington_green_approval_by_anyone_but_the_head_of_service_is_refused"),
    ("case_supervision.ratings.settled", "agreement", "domain.case_supervision.CaseSupervision.rate",
     "tests/test_sessions_domain.py::test_bury_settled_rating_is_agreed_by_the_supervisee_not_a_third_person"),
    ("case_supervision", "review", "domain.schedule_rules.case_review_due",
     "tests/test_register_examples.py::test_case_rating_worked_example"),
    ("sar_response", "deadline", "domain.schedule_rules.sar_deadline",
     "tests/test_schedule_rules.py::test_sar_deadline"),
    ("closure_days", "deadline", "domain.schedule_rules.calendar_for",
     "tests/test_schedule_rules.py::test_completion_uses_the_pack_closure_days_by_default"),
    ("archive_access", "access", "domain.authorisation.decide_read",
     "tests/test_register_examples.py::test_archive_access_worked_example"),
    ("legal_holds", "access", "domain.authorisation.decide_pack_role",
     "tests/test_commands_decide.py::test_grants_holds_and_retention_runs_are_decided_by_role_in_the_application"),
    ("destruction_approval", "access", "domain.authorisation.decide_destruction_review",
     "tests/test_destruction_approval.py::test_the_proposer_may_not_approve_their_own_list"),
    ("record_template", "record classes", "domain.record_template.join_sections",
     "tests/test_record_template.py::test_bcp_appendix_1_worked_example"),
    ("anonymisation", "access", "domain.anonymisation.screen",
     "tests/test_anonymisation.py::test_bcp_refuses_a_name_or_a_date_of_birth_in_any_free_text_field"),
    ("second_supervisor", "allocation", "domain.allocation.next_supervisor",
     "tests/test_allocation_rules.py::test_second_supervisor_worked_example"),
    ("allocation.supervisor_level", "allocation", "domain.allocation.allocation_breaches",
     "tests/test_allocation_rules.py::test_supervisor_level_worked_example"),
    ("allocation.registration", "allocation", "domain.allocation.allocation_breaches",
     "tests/test_allocation_rules.py::test_registration_worked_example"),
    ("allocation.experience", "allocation", "domain.allocation.allocation_breaches",
     "tests/test_allocation_rules.py::test_experience_worked_example"),
    ("allocation.ratio", "allocation", "domain.allocation.ratio_breach",
     "tests/test_allocation_rules.py::test_ratio_worked_example"),
    ("allocation", "allocation", "domain.allocation.check_exception",
     "tests/test_allocation_rules.py::test_allocation_exception_worked_example"),
)
# Keys enforced by what they are, wherever they sit (a frequency's step_down), before the prefixes above.
_BY_SUFFIX: dict[str, tuple[tuple[str, str, str, str], ...]] = {
    "step_down": (("frequency", "observation", "domain.observations.check_step_down",
                   "tests/test_observation_examples.py::test_step_down_worked_example"),),
}
# Pack keys that load but change nothing yet, and why.
_NOT_ENFORCED = {
    "access_log_retention": ("retention", "no access-log purge exists, so the period changes nothing (issue 13: "
                                          "'Settings that change nothing')"),
}

# Decisions about how an enforced rule is applied, written into its rows (after the organisation's-setting note).
_RETENTION_IN_FORCE = (
    "a pack change of the period applies to records already held: a proposal and a run judge what is due under the "
    "version in force today (a file approved under a shorter period that is no longer due is left), and the "
    "schedule as of a past day shows what was due under the version in force that day "
    "(`tests/test_pack_history_app.py::{test}`)")
_NOTES = {
    "retention": _RETENTION_IN_FORCE.format(
        test="test_retention_is_judged_by_the_version_in_force_on_the_day_and_a_run_by_todays"),
    "record_classes.case_supervision.retention": _RETENTION_IN_FORCE.format(
        test="test_case_records_retention_is_judged_by_the_version_in_force_on_the_day"),
}

# Where one pack's row has its own worked example.
_TESTS = {
    ("bury", "anonymisation"): "tests/test_anonymisation.py::test_bury_accepts_initials_pseudonyms_and_case_numbers",
    ("darlington", "anonymisation"):
        "tests/test_anonymisation.py::test_under_confirm_a_name_stands_only_on_the_supervisors_recorded_confirmation",
    ("hull", "anonymisation"): "tests/test_register_examples.py::test_anonymisation_confirm_worked_example",
    ("school-trust", "anonymisation"): "tests/test_register_examples.py::test_anonymisation_confirm_worked_example",
    ("hull", "frequency.trainee"): "tests/test_register_examples.py::test_trainee_weekly_minutes_worked_example",
    ("hull", "rebooking.after_sickness"):
        "tests/test_schedule_rules.py::test_rebooking_hull_after_sickness_runs_from_the_return",
}



@dataclass(frozen=True)
class Row:
    pack: str
    key: str  # pack key, or "" for a rule that is no pack key
    kind: str
    quote: str  # "" when no policy sentence backs the value
    line: int | None
    basis: str  # "policy", "organisation" or "statute"
    function: str = ""
    test: str = ""
    why: str = ""

    @property
    def status(self) -> str:
        return "enforced" if self.function else "explained"


def normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("**", "")).strip()


def quote_line(seed_lines: list[str], quote: str) -> int | None:
    """The 1-based line of the seed where the quote's first fragment starts (None: not in the seed)."""
    first = normalise(quote.split("...")[0])
    if not first:
        return None
    for span in (1, 2, 3):  # a sentence may run over a line break in the seed
        for number in range(1, len(seed_lines) + 1):
            if first in normalise(" ".join(seed_lines[number - 1:number - 1 + span])):
                return number
    return None


def _pack_row(name: str, key: str, rule: Rule, seed_lines: list[str]) -> Row:
    statute = bool(rule.source and rule.source.startswith(STATUTORY))
    quote = rule.source if rule.source and rule.backed_by_policy and not statute else ""
    basis = "statute" if statute else ("policy" if rule.backed_by_policy and rule.source else "organisation")
    line = quote_line(seed_lines, quote) if quote else None
    top = key.split(".")[0]
    if top in _NOT_ENFORCED or key in _NOT_ENFORCED:
        kind, why = _NOT_ENFORCED.get(key) or _NOT_ENFORCED[top]
        return Row(name, key, kind, quote, line, basis, why=why)
    if not sets_a_value(rule):
        kind = next(k for prefix, k, _, _ in _ENFORCED if key.startswith(prefix))
        return Row(name, key, kind, quote, line, basis,
                   why=f"no value: {rule.note or 'policy silent'}" + (
                       "; destruction is refused until it is set" if top == "retention" else ""))
    for prefix, kind, function, test in (*_BY_SUFFIX.get(key.rsplit(".", 1)[-1], ()), *_ENFORCED):
        if key == prefix or key.startswith(prefix + "."):
            test = _TESTS.get((name, key), test)
            why = "" if basis != "organisation" else f"organisation's setting: {rule.note or 'policy silent'}"
            why = "; ".join(part for part in (why, _NOTES.get(prefix, "")) if part)
            return Row(name, key, kind, quote, line, basis, function, test, why)
    raise KeyError(f"{name}: pack key {key} has no entry in the register's enforcement map")


def _rebooking_row(name: str, pack: PolicyPack, seed_lines: list[str]) -> Row | None:
    if pack.rebooking.after_cancellation or pack.rebooking.after_sickness:
        return None
    return Row(name, "rebooking", "deadline", "", None, "organisation",
               why=f"no value: {pack.rebooking.note or 'policy silent'}")


def build(packs: dict[str, PolicyPack] | None = None, seeds: Path = SEEDS_DIR,
          extra: Path | None = None) -> list[Row]:
    # A pack with a history is registered as its latest version: the rules the organisation last wrote down
    # (the same on any day the register is regenerated, unlike the version in force today).
    packs = packs if packs is not None else {n: h.versions[-1].pack for n, h in load_all_histories().items()}
    extra = extra or default_directory() / "register" / "rules.toml"
    listed = tomllib.loads(extra.read_text(encoding="utf-8")).get("rule", [])
    rows: list[Row] = []
    for name in sorted(packs):
        seed_lines = (seeds / SEED_FILES[name]).read_text(encoding="utf-8").splitlines()
        pack = packs[name]
        rebooking = _rebooking_row(name, pack, seed_lines)
        rows += [rebooking] if rebooking else []
        rows += [_pack_row(name, key, rule, seed_lines) for key, rule in rules(pack)]
        for item in listed:
            if item["pack"] == name:
                rows.append(Row(name, "", item["kind"], item["quote"], quote_line(seed_lines, item["quote"]),
                                "policy", item.get("function", ""), item.get("test", ""), item.get("why", "")))
    return rows


def counts(rows: list[Row]) -> dict[str, tuple[int, int]]:
    """(enforced, explained) per policy."""
    out: dict[str, tuple[int, int]] = {}
    for row in rows:
        enforced, explained = out.get(row.pack, (0, 0))
        out[row.pack] = (enforced + (row.status == "enforced"), explained + (row.status == "explained"))
    return out


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render(rows: list[Row]) -> str:
    lines = [
        "# Rule register",
        "",
        "Every machine-checkable rule of the five policies: the pack key that holds it (blank: no pack key),",
        "its words and the seed line they are on, and where it is enforced (domain function, test) or why it",
        "is not. `basis` says who sets the value: `policy` (the quoted sentence gives it), `organisation` (the",
        "policy is silent: the organisation's own configured choice, never shown under the council's name),",
        "`statute` (UK GDPR). Generated by `uv run python -m infrastructure.rule_register` from the packs and",
        "`policies/register/rules.toml`; `tests/test_rule_register.py` keeps it true. Seeds: `/work/shared/seeds/`.",
        "",
        "| policy | enforced | explained |",
        "|---|---|---|",
    ]
    for name, (enforced, explained) in sorted(counts(rows).items()):
        lines.append(f"| {name} | {enforced} | {explained} |")
    for name in sorted({r.pack for r in rows}):
        lines += ["", f"## {name} ({SEED_FILES[name]})", "",
                  "| key | kind | line | quote | basis | status | enforced by / why |", "|---|---|---|---|---|---|---|"]
        for r in (r for r in rows if r.pack == name):
            where = f"`{r.function}`; `{r.test}`" if r.function else ""
            if r.why:
                where = f"{where}; {r.why}" if where else r.why
            lines.append(f"| {r.key or '-'} | {r.kind} | {r.line or '-'} | {_cell(r.quote) or '-'} | {r.basis} "
                         f"| {r.status} | {_cell(where)} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    seeds = Path(args[0]) if args else SEEDS_DIR
    target = default_directory() / "RULES.md"
    target.write_text(render(build(seeds=seeds)), encoding="utf-8")
    for name, (enforced, explained) in sorted(counts(build(seeds=seeds)).items()):
        print(f"{name}: {enforced} enforced, {explained} explained")
    print(f"written: {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
