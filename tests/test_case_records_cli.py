"""`svl case-record ...` on both backends, through typer's CliRunner against the fixture's database: the same
application calls as over HTTP, acting as the named user."""

import json
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from infrastructure.checkpoints import create_signing_key_file

from tests.support.acting import acting
from tests.support.cli import invoker, run  # noqa: F401  (fixture)
from tests.support.environment import env_of
from tests.support.retention import leaver_and_stayer
from tests.support.scheduling import new_worker, supervisors

D = date


@pytest.fixture(autouse=True)
def signing_key(settings):
    create_signing_key_file(settings.signing_key_file, settings.organisation_origin)


def test_case_records_from_the_command_line(application, clock, run, settings, tmp_path):
    app = application
    _, supervisor = supervisors(app, clock)
    worker = new_worker(app, clock, supervisor, "experienced", D(2025, 6, 2), name="Sam Worker")
    app.people.users.add_user("alex", "supervisor", worker_id=supervisor, created_by="test")
    app.people.users.add_user("sam", "supervisee", worker_id=worker, created_by="test")
    app.people.users.add_user("dana", "dpo", created_by="test")

    listed = run("case-record", "classes")
    assert "Case supervision: kept 6 years after the discussion (bcp's own setting)" in listed
    assert "decision on the child's record within 7 calendar days of the discussion (bcp)" in listed

    assert "not the number of the child's case record" in run(
        "case-record", "record", "Sam Worker", "--as", "alex", "--case", "J.S.", "--on", "2026-01-08",
        "--discussion", "Worries about attendance", "--decisions", "Visit within five days", code=2)
    out = run("case-record", "record", "Sam Worker", "--as", "alex", "--case", "LCS 55821", "--on", "2026-01-08",
              "--discussion", "Worries about attendance", "--decisions", "Visit within five days")
    assert "on the child's record by 2026-01-15" in out
    rid = out.split()[3]
    [row] = json.loads(run("case-record", "due", "--as", "alex", "--as-of", "2026-01-16", "--json"))
    assert (row["record_id"], row["status"]) == (rid, "overdue")
    assert "overdue" in run("case-record", "due", "--as", "sam", "--as-of", "2026-01-16")
    run("case-record", "on-childs-record", rid[:8], "--as", "sam", "--reference", "Case note 88123",
        "--on", "2026-01-14")
    [row] = json.loads(run("case-record", "due", "--as", "alex", "--as-of", "2026-01-16", "--json"))
    assert row["status"] == "recorded" and row["on_childs_record_on"] == "2026-01-14"
    [scheduled] = json.loads(run("case-record", "schedule", "--as", "dana", "--json"))
    assert (scheduled["record_id"], scheduled["destruction_date"], scheduled["status"]) == \
        (rid, "2032-01-08", "retained")
    assert "may not" in run("case-record", "schedule", "--as", "alex", code=2)

    # The lists proposed for destruction, as the DPO's web page shows them (ids, dates, counts, who decided).
    app.people.users.add_user("hana", "administrator", created_by="test")
    supervisor_then, colleague, _ = leaver_and_stayer(app)  # a discussion of 2019: six years on, due today
    old = str(app.case_records.record_case_supervision(acting(supervisor_then), worker_id=colleague,
                                                       case_reference="LCS 1021",
                                                       discussed_on=D(2019, 5,
                                                                      2), discussion="Worries about attendance",
                                                       decisions="Visit within five days").id)
    proposed = run("case-record", "propose", "--as", "dana")
    disposal = proposed.split()[1].rstrip(":")
    [listed] = json.loads(run("case-record", "lists", "--as", "hana", "--json"))
    assert (listed["disposal_id"], listed["records"], listed["status"], listed["proposed_by"]) == \
        (disposal, 1, "proposed", "user:dana")
    assert disposal in run("case-record", "lists", "--as", "dana")
    one = json.loads(run("case-record", "list", disposal, "--as", "dana", "--json"))
    assert (one["record_ids"], one["decision"], one["destroyed"]) == ([old], None, [])
    shown = run("case-record", "list", disposal, "--as", "hana")
    assert f"list {disposal}: 1 case supervision record(s) due on {date.today()}" in shown and old in shown
    refused = "the policy pack lets only dpo, hr see lists of case supervision records proposed for destruction"
    assert refused in run("case-record", "lists", "--as", "alex", code=2)
    assert refused in run("case-record", "list", disposal, "--as", "sam", code=2)

    # approved by a second person and destroyed; its certificate downloaded, and checked by `svl-verify` (with
    # the fixture's files: the certificates' folder, the signing key and its origin)
    run = invoker({**env_of(settings), "SVL_CHECKPOINT_DIR": ""})
    assert "no destruction certificate for case supervision record" in run(
        "case-record", "certificate", old, "--as", "dana", code=2)  # not destroyed yet
    assert f"list {disposal} approved by user:hana" in run("case-record", "approve", disposal, "--as", "hana",
                                                           "--rationale", "Checked the schedule")
    assert "1 case supervision record(s) destroyed" in run("case-record", "destroy", disposal, "--as", "dana")
    printed = run("case-record", "certificate", old[:8], "--as", "hana")
    assert printed == app.case_records.case_record_certificate_path(old).read_text()
    assert json.loads(printed)["format"] == "svl-destruction-certificate/v3"
    written = tmp_path / "certificate.json"
    assert "svl-verify" in run("case-record", "certificate", old, "--as", "dana", "-o", str(written))
    key_file = tmp_path / "verifier.vkey"
    key_file.write_text(app.integrity.verifier_key() + "\n")
    verified = subprocess.run([str(Path(sys.executable).with_name("svl-verify")), str(written), "--key",
                               str(key_file)], capture_output=True, text=True, check=False)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert f"case supervision record {old} (record class case_supervision)" in verified.stdout
    assert "the policy pack lets only dpo, hr download destruction certificates" in run(
        "case-record", "certificate", old, "--as", "alex", code=2)
