"""The web interface's calls into the application for case supervision records, in the same sequence as the HTTP
API's handlers (api/http_case_records.py), with the same request models (so the same limits apply). As in
api/web/commands.py, the rules are the application's and the domain's: every call takes the acting Principal."""

from datetime import date
from uuid import UUID

from api.access_service import Via
from api.application import SupervisionApplication
from api.case_record_service import CaseDecisionDue, ScheduledCaseRecord
from api.http_case_records import CaseRecordIn, DisposalReviewIn, OnChildsRecordIn
from domain.destruction_proposal import DestructionProposal
from domain.case_supervision_record import CaseSupervisionRecord
from domain.record_classes import RecordClass
from infrastructure.users import Principal


def case_class(app: SupervisionApplication) -> RecordClass | None:
    """As GET /api/v1/record-classes: the case supervision class, where the pack keeps one (bcp, bury)."""
    return next((c for c in app.case_records.record_classes() if c.name == "case_supervision"), None)


def record(app: SupervisionApplication, who: Principal, supervisee_id: UUID, fields: dict) -> CaseSupervisionRecord:
    """As POST /api/v1/case-records."""
    body = CaseRecordIn.model_validate({**fields, "worker_id": str(supervisee_id)})
    return app.case_records.record_case_supervision(who, worker_id=body.worker_id, case_reference=body.case_reference,
                                                    discussed_on=body.discussed_on, discussion=body.discussion,
                                                    decisions=body.decisions, confirmed_anonymous=body.confirmed_anonymous)


def decisions_due(app: SupervisionApplication, who: Principal) -> list[CaseDecisionDue]:
    """As GET /api/v1/case-records/due (today)."""
    return app.case_records.case_decisions_due(who)


def read(app: SupervisionApplication, who: Principal, via: Via, record_id: UUID) -> CaseSupervisionRecord:
    """As GET /api/v1/case-records/{id}: decided and written to the access log before anything is shown."""
    return app.case_records.read_case_record(who, record_id, via=via)


def confirm(app: SupervisionApplication, who: Principal, record_id: UUID, fields: dict) -> CaseSupervisionRecord:
    """As POST /api/v1/case-records/{id}/on-childs-record."""
    body = OnChildsRecordIn.model_validate(fields)
    return app.case_records.confirm_case_decision(who, record_id, childs_record_reference=body.childs_record_reference,
                                                  recorded_on=body.recorded_on)


# -- their own retention (as /api/v1/retention/case-records) -------------------------------------------------

def schedule(app: SupervisionApplication, who: Principal) -> list[ScheduledCaseRecord]:
    return app.case_records.case_record_schedule(who)


def disposals(app: SupervisionApplication, who: Principal) -> list[dict]:
    return app.case_records.case_record_disposals(who)


def propose(app: SupervisionApplication, who: Principal, as_of: date | None) -> DestructionProposal:
    return app.case_records.propose_case_record_destruction(who, as_of=as_of)


def disposal(app: SupervisionApplication, who: Principal, disposal_id: UUID) -> DestructionProposal:
    return app.case_records.read_case_record_disposal(who, disposal_id)


def review(app: SupervisionApplication, who: Principal, disposal_id: UUID, approve: bool,
           rationale: str) -> DestructionProposal:
    body = DisposalReviewIn(rationale=rationale)
    return app.case_records.review_case_record_destruction(who, disposal_id, approve=approve, rationale=body.rationale)


def destroy(app: SupervisionApplication, who: Principal, disposal_id: UUID) -> DestructionProposal:
    return app.case_records.destroy_case_records(who, disposal_id)
