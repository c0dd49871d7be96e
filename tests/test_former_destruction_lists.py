"""Lists stored before both record classes shared one reviewed list still load, on SQLite and PostgreSQL: a list
of case supervision records stored by its former aggregate (CaseRecordDisposal: its own topics, one event for
the decision, one for the destruction) and a personal files' proposal stored with its list as `files` are read as
DestructionProposals of their class, listed, rebuilt from the events alike, and carried on by today's commands
(approved, run, certified); the ledger still verifies every event."""

from datetime import date, datetime, timezone
from uuid import uuid4

import pytest
from sqlalchemy import Column, MetaData, String, Table, inspect

from api.errors import NotFound
from domain.destruction_proposal import DestructionProposal
from infrastructure.checkpoints import create_signing_key_file
from projections.schema import read_model_positions
from tests.support.acting import acting
from tests.support.former_events import former_case_record_list, former_proposal
from tests.support.retention import leaver_and_stayer

BEFORE = datetime(2026, 3, 1, 12, tzinfo=timezone.utc)  # the ledger's clock starts on 2 March


@pytest.fixture(autouse=True)
def signing_key(settings):
    create_signing_key_file(settings.signing_key_file, settings.organisation_origin)


def case_record(app, supervisor: str, worker: str, discussed_on: date) -> str:  # noqa: ANN001
    return str(app.case_records.record_case_supervision(acting(supervisor), worker_id=worker,
                                                        case_reference="LCS 55821",
                                                        discussed_on=discussed_on, discussion="Reviewed the plan",
                                                        decisions="Visit within five days").id)


def test_lists_stored_by_the_former_aggregates_load_list_rebuild_and_run(application):
    app = application  # bcp: case supervision records six years after the discussion; personal files six after leaving
    supervisor, leaver, stayer = leaver_and_stayer(app)
    first = case_record(app, supervisor, stayer, date(2019, 5, 2))  # due 2 May 2025
    second = case_record(app, supervisor, leaver, date(2019, 9, 3))  # due 3 Sep 2025
    rule = "bcp's own setting: record_classes.case_supervision.retention.years_after_discussion = 6"
    approved = former_case_record_list(app, as_of=date(2026, 3, 1), rule=rule, proposed=BEFORE,
                                       decided=BEFORE.replace(hour=13),
                                       records=[{"record_id": first, "destruction_date": "2025-05-02"}])
    rejected = former_case_record_list(app, as_of=date(2026, 3, 1), rule=rule, proposed=BEFORE.replace(hour=10),
                                       decided=BEFORE.replace(hour=11), decision="rejected",
                                       records=[{"record_id": second, "destruction_date": "2025-09-03"}])
    files = [{"worker_id": leaver, "destruction_date": "2025-06-30", "rule": "bcp: six years"}]
    proposal = former_proposal(app, as_of=date(2026, 3, 1), files=files, proposed=BEFORE.replace(hour=9))

    # each is read as today's aggregate, of its own record class
    old = app.case_records.read_case_record_disposal(acting("hr"), approved)
    assert isinstance(old, DestructionProposal) and old.record_class == "case_supervision"
    assert (old.item_ids, old.rule, old.status, old.decided_by) == ([first], rule, "approved", "user:hr")
    assert app.case_records.read_case_record_disposal(acting("hr"), rejected).status == "rejected"
    personal = app.retention.read_proposal(acting("hr"), proposal)
    assert (personal.record_class, personal.items, personal.rule, personal.status) == (
        "personal_supervision", files, None, "proposed")
    # ... and only as a list of its own class
    with pytest.raises(NotFound, match="no destruction proposal"):
        app.retention.get_proposal(approved)
    with pytest.raises(NotFound, match="no list of case supervision records"):
        app.case_records.get_case_record_disposal(proposal)

    def listed() -> tuple[list, list]:
        return ([(r["disposal_id"], r["records"],
                  r["status"]) for r in app.case_records.case_record_disposals(acting("hr"))],
                [(r["proposal_id"], r["files"],
                  r["status"]) for r in app.retention.destruction_proposals(acting("hr"))])

    assert listed() == ([(str(approved), 1, "approved"), (str(rejected), 1, "rejected")],
                        [(str(proposal), 1, "proposed")])

    # today's commands carry them on: HR approves the former proposal (the DPO proposed it), the approved former
    # list is destroyed, with a certificate naming the review stored by the former aggregate
    app.retention.approve_destruction(acting("hr"), proposal, rationale="Checked against the leavers list")
    done = app.case_records.destroy_case_records(acting("dpo"), approved)
    assert (done.destroyed, done.status) == ([first], "destroyed")
    certificate = app.case_records.case_record_certificate_path(first).read_text()
    assert "approved-by user:hr" in certificate and str(approved) in certificate
    with pytest.raises(Exception, match="already destroyed"):
        app.case_records.destroy_case_records(acting("dpo"), approved)

    # a list whose records the former aggregate destroyed loads as destroyed, and its record's row says so
    elsewhere = str(uuid4())  # a record of another database: this list is about loading, not this one's records
    gone = former_case_record_list(app, as_of=date(2026, 3, 1), rule=rule, proposed=BEFORE.replace(hour=14),
                                   decided=BEFORE.replace(hour=15), destroyed=BEFORE.replace(hour=16),
                                   records=[{"record_id": elsewhere, "destruction_date": "2025-09-03"}])
    assert app.case_records.get_case_record_disposal(gone).status == "destroyed"
    assert app.case_records.get_case_record_disposal(gone).skipped == []

    # the read models rebuilt from zero say the same as those projected as the events came
    before = listed(), sorted((r.record_id, r.status) for r in app.case_records.case_record_schedule(acting("dpo")))
    app.read_models.rebuild()
    assert (listed(),
            sorted((r.record_id, r.status) for r in app.case_records.case_record_schedule(acting("dpo")))) == before
    assert app.integrity.verify().intact


def test_a_database_with_the_former_read_model_tables_rebuilds_them(application):
    """Read models are rebuilt, not migrated: where the previous code's tables are (the lists of case supervision
    records in a table of their own, the proposals' without a record class), both read models are rebuilt from
    the events at start-up and the former table is dropped."""
    app = application
    supervisor, _, stayer = leaver_and_stayer(app)
    record = case_record(app, supervisor, stayer, date(2019, 5, 2))
    listed = former_case_record_list(app, as_of=date(2026, 3, 1), proposed=BEFORE, decided=BEFORE.replace(hour=13),
                                     rule="bcp's own setting", records=[{"record_id": record,
                                                                         "destruction_date": "2025-05-02"}])
    app.read_models.catch_up()
    former = Table("case_record_disposals", MetaData(), Column("disposal_id", String(36), primary_key=True))
    with app.storage.engine.begin() as conn:
        former.create(conn)
        conn.execute(read_model_positions.update()
                     .where(read_model_positions.c.name.in_(["retention_schedule", "case_records"]))
                     .values(fingerprint="0" * 64))
    assert sorted(app.read_models.create_tables()) == ["case_records", "retention_schedule"]
    with app.storage.engine.connect() as conn:
        assert "case_record_disposals" not in inspect(conn).get_table_names()
    assert [(r["disposal_id"], r["status"]) for r in app.case_records.case_record_disposals(acting("hr"))] == [
        (str(listed), "approved")]
    assert [(r.record_id, r.status) for r in app.case_records.case_record_schedule(acting("dpo"),
                                                                                   as_of=date(2026, 3, 1))] == [
        (record, "due")]
