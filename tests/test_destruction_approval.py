"""Disposition review: the files due are proposed by one authorised person and approved by another before any
key is destroyed; holds placed after the proposal still stop a file; the certificate names both and verifies."""

import base64
import json
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.access_service import AccessDenied
from api.application import Storage, SupervisionApplication
from api.errors import Destroyed
from api.cli import app as svl
from domain.errors import DomainError, OutOfOrder
from infrastructure.checkpoints import SigningKey, create_signing_key_file
from infrastructure.note_signing import certificate_statement, sign_note
from infrastructure.svl_verify import parse_certificate_statement, parse_note, verify_certificate
from tests.support.acting import acting
from tests.support.retention import SECRET, leaver_with_a_signed_record, record_of
from tests.support.environment import env_of

DAY = date(2026, 3, 1)


@pytest.fixture(autouse=True)
def signing_key(settings):
    create_signing_key_file(settings.signing_key_file, settings.organisation_origin)


def three_leavers_due(app: SupervisionApplication) -> list[str]:
    leavers = []
    for leaving in (date(2019, 6, 30), date(2019, 7, 31), date(2019, 8, 30)):
        _, leaver, _ = leaver_with_a_signed_record(app, leaving=leaving)
        app.retention.archive_leaver(acting("hr"), leaver)
        leavers.append(leaver)
    return leavers


def test_the_proposer_may_not_approve_their_own_list(application):
    """The story: propose -> the proposer cannot approve -> a second person approves -> the run destroys exactly
    the approved list, minus a file held since -> each certificate names proposer and approver, and verifies."""
    first, second, held = three_leavers_due(application)
    keys = {w: application.storage.keyring.key_id_for(w) for w in (first, second, held)}
    proposal = application.retention.propose_destruction(acting("dpo"), as_of=DAY)
    assert proposal.item_ids == [first, second, held] and proposal.proposed_by == "user:dpo"
    assert [f["destruction_date"] for f in proposal.items] == ["2025-06-30", "2025-07-31", "2025-08-30"]

    with pytest.raises(AccessDenied, match="you proposed this list"):
        application.retention.approve_destruction(acting("dpo"), proposal.id, rationale="Looks right to me")
    with pytest.raises(AccessDenied, match="you proposed this list"):
        application.retention.reject_destruction(acting("dpo"), proposal.id, rationale="Changed my mind")
    with pytest.raises(AccessDenied, match="destruction_approval|policy pack lets only"):
        application.retention.approve_destruction(acting("qa"), proposal.id, rationale="QA may not")
    with pytest.raises(OutOfOrder, match="not yet approved"):
        application.retention.run_retention(acting("dpo"), proposal.id)
    assert not any(application.storage.keyring.is_destroyed(k) for k in keys.values())

    application.retention.place_hold(acting("io:jones"), held, kind="investigation", reason="LADO referral",
                                reference="LADO-7")
    with pytest.raises(DomainError, match="rationale"):
        application.retention.approve_destruction(acting("hr"), proposal.id, rationale="   ")
    approved = application.retention.approve_destruction(acting("hr"), proposal.id,
                                                    rationale="Checked against the HR leavers list")
    assert (approved.decision, approved.decided_by) == ("approved", "user:hr")
    with pytest.raises(OutOfOrder, match="already approved"):
        application.retention.reject_destruction(acting("dpo-2", acting("dpo").role), proposal.id, rationale="too late")

    outcomes = application.retention.run_retention(acting("dpo"), proposal.id)

    assert {o.worker_id: o.status for o in outcomes} == {first: "destroyed", second: "destroyed",
                                                          held: "skipped_on_hold"}
    assert [application.storage.keyring.is_destroyed(keys[w]) for w in (first, second, held)] == [True, True, False]
    with pytest.raises(Destroyed):
        application.people.get_worker(first)
    assert application.records.get_record(record_of(application, held)).content["discussion"] == SECRET
    done = application.retention.get_proposal(proposal.id)
    assert done.status == "executed" and done.destroyed == sorted([first, second])
    assert done.skipped == [{"worker_id": held, "status": "held"}]
    [row] = application.retention.destruction_proposals(acting("hr"))
    assert (row["status"], row["files"], row["destroyed"], row["decided_by"]) == ("executed", 3, 2, "user:hr")

    key = application.integrity.verifier_key()
    for worker in (first, second):
        certificate = json.loads(application.retention.certificate_path(worker).read_text())
        fields = parse_certificate_statement(parse_note(certificate["statement"]).text)
        assert (fields["proposal"], fields["proposed-by"], fields["approved-by"], fields["by"]) == (
            str(proposal.id), "user:dpo", "user:hr", "user:dpo")
        assert fields["approval"] == "Checked against the HR leavers list"
        report = verify_certificate(certificate, trusted_key=key)
        assert report.verified, report.problems
        assert any("approved by a second person, user:hr" in line for line in report.proves)
    assert not application.retention.certificate_path(held).exists()


def test_a_rejected_list_destroys_nothing_and_the_next_proposal_is_reviewed_afresh(application):
    leavers = three_leavers_due(application)
    rejected = application.retention.propose_destruction(acting("hr"), as_of=DAY)
    application.retention.reject_destruction(acting("dpo"), rejected.id, rationale="Awaiting the legal team's advice")
    with pytest.raises(OutOfOrder, match="rejected"):
        application.retention.run_retention(acting("dpo"), rejected.id)
    with pytest.raises(OutOfOrder, match="no approved destruction proposal"):
        application.retention.run_retention(acting("dpo"))  # the latest approved one: there is none
    assert not any(application.storage.keyring.is_destroyed(application.storage.keyring.key_id_for(w)) for w in leavers)

    again = application.retention.propose_destruction(acting("hr"), as_of=DAY)
    second_dpo = acting("dpo-2", acting("dpo").role)
    application.retention.approve_destruction(second_dpo, again.id, rationale="Advice received: no claim pending")
    assert {o.status for o in application.retention.run_retention(acting("hr"))} == {"destroyed"}
    assert [r["status"] for r in application.retention.destruction_proposals(acting("dpo"))] == ["executed", "rejected"]


def test_a_certificate_claiming_the_proposer_approved_does_not_verify(application):
    [first, *_] = three_leavers_due(application)
    proposal = application.retention.propose_destruction(acting("dpo"), as_of=DAY)
    application.retention.approve_destruction(acting("hr"), proposal.id, rationale="ok")
    application.retention.run_retention(acting("dpo"), proposal.id)
    certificate = json.loads(application.retention.certificate_path(first).read_text())
    fields = parse_certificate_statement(parse_note(certificate["statement"]).text)
    signing = SigningKey.parse(application.storage.settings.signing_key_file.read_text())
    for forged_fields, problem in (({**fields, "approved-by": fields["proposed-by"]}, "approved by the person who"),
                                   ({**fields, "approved": "2099-01-01T00:00:00+00:00"}, "after the file was")):
        forged = {**certificate, "statement": sign_note(certificate_statement(list(forged_fields.items())),
                                                         signing.private_key, signing.name)}
        report = verify_certificate(forged, trusted_key=application.integrity.verifier_key())
        assert not report.verified and problem in report.problems[0], report.problems
    dropped = {k: v for k, v in fields.items() if k != "approved-by"}
    forged = {**certificate, "statement": sign_note(certificate_statement(list(dropped.items())),
                                                     signing.private_key, signing.name)}
    report = verify_certificate(forged, trusted_key=application.integrity.verifier_key())
    assert not report.verified and "lacks approved-by" in report.problems[0]


def test_the_cli_proposes_refuses_the_proposer_approves_as_another_and_runs(application, settings, master_key):
    [first, *_] = three_leavers_due(application)
    kept = str(application.people.join_worker(acting("hr"), name="Kim Kept", role="Social worker", category="experienced",
                                         start_date=date(2020, 1, 6)).id)
    application.people.users.add_user("dana", "dpo", created_by="test")
    application.people.users.add_user("hana", "administrator", created_by="test")
    application.people.users.add_user("quinn", "qa", created_by="test")
    verifier_key = application.integrity.verifier_key()
    application.close()
    settings.master_key_file.write_text(base64.b64encode(master_key).decode())
    env = {**env_of(settings), "SVL_CHECKPOINT_DIR": ""}

    def cli(*args: str, code: int = 0) -> str:
        result = CliRunner().invoke(svl, list(args), env=env)
        assert result.exit_code == code, result.output + repr(result.exception)
        assert "Traceback" not in result.output
        return result.output

    proposed = json.loads(cli("retention", "propose", "--as-of", DAY.isoformat(), "--as", "dana", "--json"))
    assert len(proposed["files"]) == 3 and proposed["proposed_by"] == "user:dana"
    pid = proposed["proposal_id"]
    refused = cli("retention", "approve", pid, "--rationale", "mine", "--as", "dana", code=2)
    assert "you proposed this list" in refused
    cli("retention", "run", "--as", "dana", code=2)  # nothing approved yet
    assert "approved by user:hana" in cli("retention", "approve", pid, "--rationale", "Checked", "--as", "hana")
    assert "3 file(s) destroyed" in cli("retention", "run", pid, "--as", "dana")
    assert "executed" in cli("retention", "proposals", "--as", "hana")
    # the destroyed file's certificate, printed as written or written to a file, checked by `svl-verify`
    printed = cli("retention", "certificate", first[:8], "--as", "hana")
    written = settings.certificate_dir.parent / "first.json"
    assert "svl-verify" in cli("retention", "certificate", first, "-o", str(written), "--as", "dana")
    assert printed == written.read_text() == (settings.certificate_dir / f"destruction-{first}.json").read_text()
    assert json.loads(printed)["format"] == "svl-destruction-certificate/v2"
    key_file = settings.certificate_dir.parent / "verifier.vkey"
    key_file.write_text(verifier_key + "\n")
    verified = subprocess.run([str(Path(sys.executable).with_name("svl-verify")), str(written), "--key",
                               str(key_file)], capture_output=True, text=True, check=False)
    assert verified.returncode == 0 and f"certificate for worker {first}" in verified.stdout, verified.stdout
    assert "the policy pack lets only dpo, hr download destruction certificates" in cli(
        "retention", "certificate", first, "--as", "quinn", code=2)
    assert f"no destruction certificate for worker {kept}" in cli("retention", "certificate", kept, "--as", "hana",
                                                                  code=2)
    reopened = SupervisionApplication(Storage.open(settings, master_key=master_key))
    try:
        with pytest.raises(Destroyed):
            reopened.people.get_worker(first)
    finally:
        reopened.close()
        reopened.storage.engine.dispose()
