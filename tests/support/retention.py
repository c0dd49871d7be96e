"""A leaver with a signed record, and destruction as the rules require it: one authorised person proposes the
files due, a second approves."""

from datetime import date
from typing import Any

from sqlalchemy import select

from projections.schema import current_records
from tests.support.acting import acting

SECRET = "Discussed the Quillfeather allegation in confidence"


def destroy_due(app: Any, as_of: date, *, purge_ciphertext: bool = False, proposer: str = "dpo",
                approver: str = "hr") -> list:
    """Proposes what is due on `as_of` (as the DPO), approves it (as HR, a second person) and runs it."""
    proposal = app.retention.propose_destruction(acting(proposer), as_of=as_of)
    app.retention.approve_destruction(acting(approver), proposal.id, rationale="checked against the retention schedule")
    return app.retention.run_retention(acting(proposer), proposal.id, purge_ciphertext=purge_ciphertext)


def content(session_date: str) -> dict:
    return {"session_date": session_date, "attendees": ["S", "W"], "agenda": ["Caseload"], "discussion": SECRET,
            "case_discussions": [{"case_reference": "Q.F.", "summary": "Reviewed"}]}


def leaver_and_stayer(app: Any) -> tuple[str, str, str]:
    """A supervisor, a worker who will leave and a colleague who stays, both supervised by the first."""
    supervisor = str(app.people.join_worker(acting("hr"), name="Sue Visor", role="Team manager", category="manager",
                                            start_date=date(2010, 1, 4)).id)
    leaver = str(app.people.join_worker(acting("hr"), name="Lee Vaughan", role="Social worker", category="experienced",
                                        start_date=date(2012, 5, 1)).id)
    stayer = str(app.people.join_worker(acting("hr"), name="Stella Stay", role="Social worker", category="experienced",
                                        start_date=date(2015, 5, 1)).id)
    for worker in (leaver, stayer):
        app.allocation.allocate_supervisor(acting("hr"), worker, supervisor)
    return supervisor, leaver, stayer


def leaver_with_a_signed_record(app: Any, leaving: date = date(2019, 6, 30)) -> tuple[str, str, str]:
    """A worker whose records were migrated in, who left in 2019; plus a colleague who stays."""
    supervisor, leaver, stayer = leaver_and_stayer(app)
    for worker in (leaver, stayer):
        rid = app.records.draft_record(acting(supervisor), supervisee_id=worker, content=content("2019-05-02")).id
        app.records.share_record(acting(supervisor), rid)
        digest = app.records.get_record(rid).content_sha256
        app.records.sign_record(acting(worker), rid, digest)
        app.records.sign_record(acting(supervisor), rid, digest)
    app.people.record_leaving(acting("hr"), leaver, leaving)
    return supervisor, leaver, stayer


def record_of(app: Any, worker: str) -> str:
    with app.storage.engine.connect() as conn:
        return conn.execute(select(current_records.c.record_id)
                            .where(current_records.c.supervisee_id == worker)).scalar_one()


def destroy_case_records_due(app: Any, as_of: date, *, proposer: str = "dpo", approver: str = "hr") -> Any:
    """Case supervision records due on `as_of`: proposed (as the DPO), approved (as HR, a second person), destroyed."""
    disposal = app.case_records.propose_case_record_destruction(acting(proposer), as_of=as_of)
    app.case_records.review_case_record_destruction(acting(approver), disposal.id, approve=True,
                                                    rationale="checked against the case records' schedule")
    return app.case_records.destroy_case_records(acting(proposer), disposal.id)
