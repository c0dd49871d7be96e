"""Case supervision records through the application, on SQLite and PostgreSQL: a class of their own (bcp), sealed
with their own keys. A leaver's personal file destroyed under its retention leaves their case supervision records;
case supervision records destroyed under their own retention leave every personal file; the decision that has not
reached the child's record within a week becomes overdue."""

import copy
import dataclasses
import json
import subprocess
import sys
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import select

from api.access_service import AccessDenied, Via
from api.application import Storage, SupervisionApplication
from api.errors import Destroyed
from domain.authorisation import Role
from domain.errors import DomainError, NotPermitted
from domain.policy import PolicyIncomplete
from infrastructure.checkpoints import create_signing_key_file
from infrastructure.keys import data_keys
from projections.schema import current_records
from tests.support.acting import acting
from infrastructure.svl_verify import (RECORD_CERTIFICATE_FORMAT, main as svl_verify_main, parse_note,
                                      record_destruction_aggregate_id, verify_certificate)
from tests.support.retention import destroy_case_records_due, destroy_due, leaver_and_stayer

SECRET = "Discussed the Quillfeather allegation in confidence"
CASE_TEXT = "Worries about neglect; the school reports missed lunches"
DECISIONS = "Strategy discussion requested; home visit within five days"
VIA = Via("cli", "test", "")


@pytest.fixture(autouse=True)
def signing_key(settings):
    create_signing_key_file(settings.signing_key_file, settings.organisation_origin)


def at(day: date, hour: int = 12) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=timezone.utc)


def content(session_date: str) -> dict:
    return {"session_date": session_date, "attendees": ["S", "W"], "agenda": ["Wellbeing"], "discussion": SECRET}


def signed_record(app: SupervisionApplication, supervisor: str, worker: str, day: str) -> str:
    rid = str(app.records.draft_record(acting(supervisor), supervisee_id=worker, content=content(day)).id)
    app.records.share_record(acting(supervisor), rid)
    digest = app.records.get_record(rid).content_sha256
    app.records.sign_record(acting(worker), rid, digest)
    app.records.sign_record(acting(supervisor), rid, digest)
    return rid


def case_record(app: SupervisionApplication, supervisor: str, worker: str, discussed_on: date,
                reference: str = "LCS 55821") -> str:
    return str(app.case_records.record_case_supervision(acting(supervisor), worker_id=worker, case_reference=reference,
                                                        discussed_on=discussed_on, discussion=CASE_TEXT, decisions=DECISIONS).id)


def schedule(app: SupervisionApplication, on: date) -> dict[str, str]:
    return {r.record_id: r.status for r in app.case_records.case_record_schedule(acting("dpo"), as_of=on)}


def test_each_record_class_is_destroyed_by_its_own_schedule_and_leaves_the_other(application):
    app = application  # bcp: personal files 6 years after leaving; case supervision records 6 years after the discussion
    supervisor, leaver, stayer = leaver_and_stayer(app)
    leaver_personal = signed_record(app, supervisor, leaver, "2019-05-02")
    stayer_personal = signed_record(app, supervisor, stayer, "2019-05-02")
    leaver_case = case_record(app, supervisor, leaver, date(2023, 5, 2))  # due 2 May 2029, after the file
    stayer_old_case = case_record(app, supervisor, stayer, date(2019, 5, 2), "CN-10234")  # due 2 May 2025
    stayer_new_case = case_record(app, supervisor, stayer, date(2026, 2, 20))  # due 20 Feb 2032
    keyring = app.storage.keyring
    own_keys = {keyring.key_id_for(r) for r in (leaver_case, stayer_old_case, stayer_new_case)}
    assert len(own_keys) == 3 and not own_keys & {keyring.key_id_for(leaver), keyring.key_id_for(stayer)}

    # the leaver's personal file, destroyed under bcp's six years after leaving
    app.people.record_leaving(acting("hr"), leaver, date(2019, 6, 30))
    app.retention.archive_leaver(acting("hr"), leaver)
    [done] = destroy_due(app, date(2026, 3, 1))
    assert done.worker_id == leaver and done.record_ids == [leaver_personal]
    assert done.event_count == 4 + 4  # the personal record and the worker's own events: no case supervision event
    with pytest.raises(Destroyed):
        app.records.get_record(leaver_personal)
    with pytest.raises(Destroyed):
        app.people.get_worker(leaver)
    # ... and their case supervision record is still there, whole, and still on its own schedule
    kept = app.case_records.get_case_record(leaver_case)
    assert (kept.worker_id, kept.discussion, kept.decisions) == (leaver, CASE_TEXT, DECISIONS)
    assert schedule(app, date(2026, 3, 1))[leaver_case] == "retained"
    assert schedule(app, date(2029, 5, 2))[leaver_case] == "due"
    # no relationship reaches it now (the file it related to is gone): only a live grant that covers it would
    with pytest.raises(AccessDenied):
        app.case_records.read_case_record(acting(supervisor), leaver_case, via=VIA)

    # case supervision records due under their own retention: proposed, approved by a second person, destroyed
    assert schedule(app, date(2026, 3, 1)) == {leaver_case: "retained", stayer_old_case: "due",
                                               stayer_new_case: "retained"}
    # a legal hold on the worker's file holds their case supervision records too
    hold = app.retention.place_hold(acting("io-1"), stayer, kind="investigation", reason="complaint", reference="INV-7")
    assert schedule(app, date(2026, 3, 1))[stayer_old_case] == "held"
    with pytest.raises(DomainError, match="nothing to propose"):
        app.case_records.propose_case_record_destruction(acting("dpo"), as_of=date(2026, 3, 1))
    app.retention.release_hold(acting("dpo"), hold.id, reason="closed")
    disposal = app.case_records.propose_case_record_destruction(acting("dpo"), as_of=date(2026, 3, 1))
    assert disposal.item_ids == [stayer_old_case]
    assert "bcp's own setting" in disposal.rule
    with pytest.raises(AccessDenied):  # the proposer may not approve their own list
        app.case_records.review_case_record_destruction(acting("dpo"), disposal.id, approve=True, rationale="fine")
    with pytest.raises(DomainError, match="not yet approved"):
        app.case_records.destroy_case_records(acting("dpo"), disposal.id)
    app.case_records.review_case_record_destruction(acting("hr"), disposal.id, approve=True,
                                                    rationale="Checked the schedule")
    destroyed = app.case_records.destroy_case_records(acting("dpo"), disposal.id)
    assert destroyed.destroyed == [stayer_old_case]
    with pytest.raises(DomainError, match="already destroyed"):
        app.case_records.destroy_case_records(acting("dpo"), disposal.id)
    with pytest.raises(Destroyed):
        app.case_records.get_case_record(stayer_old_case)
    assert keyring.is_destroyed(keyring.key_id_for(stayer_old_case))
    # ... and the stayer's personal file and newer case record, and the leaver's case record, are untouched
    assert app.records.get_record(stayer_personal).content["discussion"] == SECRET
    assert app.people.get_worker(stayer).name == "Stella Stay"
    assert app.case_records.get_case_record(stayer_new_case).discussion == CASE_TEXT
    assert app.case_records.get_case_record(leaver_case).discussion == CASE_TEXT
    assert schedule(app, date(2026, 3, 1))[stayer_old_case] == "destroyed"
    with app.storage.engine.connect() as conn:
        assert conn.execute(select(current_records.c.record_id)
                            .where(current_records.c.supervisee_id == stayer)).scalar_one() == stayer_personal
        assert conn.execute(select(data_keys.c.wrapped_key)
                            .where(data_keys.c.key_id == keyring.key_id_for(stayer_new_case))).scalar() is not None

    # the read models, rebuilt from zero, say the same
    before = schedule(app, date(2026, 3, 1))
    app.read_models.rebuild()
    assert schedule(app, date(2026, 3, 1)) == before


def test_a_destroyed_case_record_has_its_own_certificate_that_svl_verify_checks(application, tmp_path):
    app = application  # bcp: case supervision records six years after the discussion
    supervisor, leaver, stayer = leaver_and_stayer(app)
    first = case_record(app, supervisor, stayer, date(2019, 5, 2), "CN-10234")  # due 2 May 2025
    second = case_record(app, supervisor, leaver, date(2019, 9, 3), "CN-10377")  # due 3 Sep 2025
    kept = case_record(app, supervisor, stayer, date(2026, 2, 20))  # due 20 Feb 2032
    personal = signed_record(app, supervisor, stayer, "2019-05-02")
    done = destroy_case_records_due(app, date(2026, 3, 1))
    assert sorted(done.destroyed) == sorted([first, second])
    certificates = {rid: json.loads(app.case_records.case_record_certificate_path(rid).read_text()) for rid in (first,
                                                                                                                second)}
    assert not app.case_records.case_record_certificate_path(kept).exists()

    # one checkpoint pair for the run: both certificates name the same two checkpoints
    assert {c["checkpoint_before"] for c in certificates.values()} == {certificates[first]["checkpoint_before"]}
    assert {c["checkpoint_after"] for c in certificates.values()} == {certificates[first]["checkpoint_after"]}
    # the certificate names the record class, the record, the worker it is about and the review
    statement = parse_note(certificates[first]["statement"]).text
    assert certificates[first]["format"] == RECORD_CERTIFICATE_FORMAT
    for line in ("class case_supervision", f"record {first}", f"worker {stayer}", "discussed 2019-05-02",
                 "due 2025-05-02", "proposed-by user:dpo", "approved-by user:hr"):
        assert f"\n{line}\n" in statement
    assert certificates[first]["destruction_event"]["originator_id"] == record_destruction_aggregate_id(
        "case_supervision", first)

    # `svl-verify CERTIFICATE --key verifier.vkey`, the command a third party runs
    key = app.integrity.verifier_key()
    key_file = tmp_path / "verifier.vkey"
    key_file.write_text(key + "\n")
    cli = Path(sys.executable).with_name("svl-verify")
    out = subprocess.run([str(cli), str(app.case_records.case_record_certificate_path(first)), "--key", str(key_file)],
                         capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"destruction certificate for record {first}" in out.stdout
    assert f"case supervision record {first} (record class case_supervision) about worker {stayer}" in out.stdout
    assert "approved by a second person, user:hr" in out.stdout

    # tampered: the statement's rule changed (its signature breaks), or another record's event put in its place
    forged = copy.deepcopy(certificates[first])
    forged["statement"] = forged["statement"].replace("due 2025-05-02", "due 2024-05-02")
    assert not verify_certificate(forged, trusted_key=key).verified
    forged_file = tmp_path / "forged.json"
    forged_file.write_text(json.dumps(forged))
    assert svl_verify_main([str(forged_file), "--key", str(key_file)]) != 0
    swapped = copy.deepcopy(certificates[first])
    swapped["destruction_event"] = certificates[second]["destruction_event"]
    report = verify_certificate(swapped, trusted_key=key)
    assert not report.verified and "not the start of this record's destruction" in report.problems[0]

    # the worker's personal file and the record not due are untouched; the personal file has no certificate
    assert app.records.get_record(personal).content["discussion"] == SECRET
    assert app.case_records.get_case_record(kept).discussion == CASE_TEXT
    assert not app.retention.certificate_path(stayer).exists()
    # the DPO finds both certificates through the application, also after the read models are rebuilt
    listed = {r.record_id for r, _ in app.case_records.case_record_certificates(acting("dpo"))}
    app.read_models.rebuild()
    assert {r.record_id for r, _ in app.case_records.case_record_certificates(acting("dpo"))} == listed == {first,
                                                                                                            second}
    with pytest.raises(AccessDenied):
        app.case_records.case_record_certificates(acting(supervisor))


def test_the_decision_not_on_the_childs_record_within_a_week_becomes_overdue(application, clock):
    app = application
    supervisor, worker, other = leaver_and_stayer(app)
    other_supervisor = str(app.people.join_worker(acting("hr"), name="Otto Other", role="Team manager",
                                                  category="manager",
                                                  start_date=date(2011, 1, 3)).id)
    app.allocation.transfer_worker(acting("hr"), other, other_supervisor, "team change")

    clock.set(at(date(2026, 4, 2), 15))  # Thursday
    # only the worker's current supervisor records it; HR, another supervisor, the worker themselves are refused
    for who in (acting("hr"), acting(other_supervisor), acting(worker, Role.SUPERVISEE)):
        with pytest.raises((AccessDenied, NotPermitted)):
            app.case_records.record_case_supervision(who, worker_id=worker, case_reference="LCS 55821",
                                                     discussed_on=date(2026, 4,
                                                                       2), discussion=CASE_TEXT, decisions=DECISIONS)
    with pytest.raises(DomainError, match="not the number"):  # initials do not find the child's record
        case_record(app, supervisor, worker, date(2026, 4, 2), "J.S.")
    rid = case_record(app, supervisor, worker, date(2026, 4, 2))

    def due(on: date, who=None) -> dict[str, str]:
        return {d.record_id: d.status for d in app.case_records.case_decisions_due(who or acting(supervisor), as_of=on)}

    # bcp: "All case work discussions, decisions and actions must be recorded on the child's record within a
    # maximum of one week."
    assert due(date(2026, 4, 9)) == {rid: "due"}
    assert due(date(2026, 4, 10)) == {rid: "overdue"}
    assert [d.decision_due for d in app.case_records.case_decisions_due(acting(supervisor),
                                                                        as_of=date(2026, 4, 10))] == \
        [date(2026, 4, 9)]
    # the worker sees their own, QA the organisation's; the other supervisor has nothing of it
    assert due(date(2026, 4, 10), acting(worker, Role.SUPERVISEE)) == {rid: "overdue"}
    assert due(date(2026, 4, 10), acting("qa")) == {rid: "overdue"}
    assert due(date(2026, 4, 10), acting(other_supervisor)) == {}
    with pytest.raises(AccessDenied):
        app.case_records.case_decisions_due(acting("ofsted"), as_of=date(2026, 4, 10))

    # the worker the recording was delegated to confirms it, a day late
    clock.set(at(date(2026, 4, 10), 16))
    with pytest.raises(NotPermitted):
        app.case_records.confirm_case_decision(acting(other_supervisor), rid, childs_record_reference="Case note 88123",
                                               recorded_on=date(2026, 4, 10))
    app.case_records.confirm_case_decision(acting(worker, Role.SUPERVISEE), rid,
                                           childs_record_reference="Case note 88123",
                                           recorded_on=date(2026, 4, 10))
    assert due(date(2026, 4, 10)) == {rid: "recorded_late"}
    assert due(date(2026, 4, 9)) == {rid: "due"}  # as it stood the day before
    assert app.case_records.case_decisions_due(acting(supervisor), as_of=date(2026, 4, 10), only_attention=True) == []

    # the content is read only by those the access rules allow, and each read is logged
    assert app.case_records.read_case_record(acting(supervisor), rid,
                                             via=VIA).on_childs_record["reference"] == "Case note 88123"
    with pytest.raises(AccessDenied):
        app.case_records.read_case_record(acting(other_supervisor), rid, via=VIA)
    log = [e for e in app.access._log_entries(_every()) if e["action"] == "read_case_record"]
    assert sorted(e["outcome"] for e in log) == ["allowed", "denied"]


def _every():
    from api.access_service import AccessLogFilter
    return AccessLogFilter()


def test_without_a_period_no_case_supervision_record_is_destroyed(settings, master_key, clock):
    # bury: "...retained as per the specific council policy on confidential data and records retention": not in
    # the seed, so the pack sets no period
    bury = dataclasses.replace(settings, policy_pack="bury")
    app = SupervisionApplication(Storage.open(bury, master_key=master_key), clock)
    try:
        supervisor, worker, _ = leaver_and_stayer(app)
        rid = case_record(app, supervisor, worker, date(2019, 5, 2))
        assert schedule(app, date(2099, 1, 1)) == {rid: "no_period"}
        with pytest.raises(PolicyIncomplete, match="years_after_discussion"):
            app.case_records.propose_case_record_destruction(acting("dpo"), as_of=date(2026, 3, 1))
        # and bury's case notes on LCS have no timescale
        assert [d.status for d in app.case_records.case_decisions_due(acting(supervisor), as_of=date(2026, 3, 1))] == \
            ["no_deadline"]
    finally:
        app.close()
        app.storage.engine.dispose()


def test_where_the_pack_keeps_case_discussions_in_the_personal_record_none_is_recorded_apart(settings, master_key,
                                                                                             clock):
    hull = dataclasses.replace(settings, policy_pack="hull")
    app = SupervisionApplication(Storage.open(hull, master_key=master_key), clock)
    try:
        supervisor, worker, _ = leaver_and_stayer(app)
        with pytest.raises(DomainError, match="keeps no separate case supervision records"):
            case_record(app, supervisor, worker, date(2026, 3, 1))
    finally:
        app.close()
        app.storage.engine.dispose()
