"""/api/v1/records: the record's life (draft → share → amend or decline → sign → addenda) and logged reads."""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, HTTPException, Path, Query, Response

from api.http_models import (AccessNote, AddendumIn, AmendIn, AmendmentRequestIn, CountersignIn, DeclineIn,
                             DraftIn, HistoryEntryOut, HistoryOut, RecordOut, RecordSummary, SignIn, StepIn,
                             StepOut)
from api.http_support import ANYONE, RULES_DECIDE, STAFF, SUPERVISING, Caller, From, App, Moment, allow
from api.http_workers import summary
from api.record_history import NameBook, record_history, record_view
from domain.authorisation import Decision
from domain.supervision_record import SupervisionRecord

router = APIRouter(tags=["records"])
RecordId = Annotated[UUID, Path(description="The record's id")]


# -- reads ---------------------------------------------------------------------------------------------------

@router.get("/records", response_model=list[RecordSummary], **allow(
        ANYONE, "Lists only the records the caller may read now; dates and states, no content."))
def list_records(app: App, who: Caller) -> list[RecordSummary]:
    return [summary(r) for r in app.access.readable_records(who)]


@router.get("/records/{record_id}", response_model=RecordOut, **allow(ANYONE, RULES_DECIDE))
def read_record(record_id: RecordId, app: App, who: Caller, via: From,
                version: Annotated[int | None, Query(ge=1, le=10**9, description="an earlier version")] = None,
                as_of: Annotated[Moment | None, Query(description="the record as it stood then")] = None
                ) -> Response:
    """The record's content, signatures, amendments and areas of disagreement: now, at a version, or as of a
    moment."""
    if version is not None and as_of is not None:
        raise HTTPException(422, "give version or as_of, not both")
    names = NameBook(app)
    # The body is made while the read's access-log entry is written, and handed out once it is durable.
    body = app.access.read_record_content(
        who, record_id, action="read_as_of" if as_of or version else "read_record", via=via, version=version,
        as_of=as_of, render=lambda record, decision: RecordOut(
            **record_view(record, names), as_of=as_of, access=_note(decision)).model_dump_json().encode())
    return Response(body, media_type="application/json")


@router.get("/records/{record_id}/history", response_model=HistoryOut, **allow(ANYONE, RULES_DECIDE))
def history(record_id: RecordId, app: App, who: Caller, via: From) -> HistoryOut:
    """Every version: who did what and when, and what changed between versions (diffs)."""
    record, decision = app.access.read_record_content(who, record_id, action="read_history", via=via)
    events = [HistoryEntryOut(**e.to_dict()) for e in record_history(app, record.id)]
    return HistoryOut(record_id=str(record.id), events=events, access=_note(decision))


# -- the record's life ---------------------------------------------------------------------------------------

@router.post("/records", status_code=201, response_model=StepOut, **allow(
        SUPERVISING, "Only the supervisee's current supervisor."))
def draft(body: DraftIn, app: App, who: Caller, via: From) -> StepOut:
    return _out(app.records.draft_record(who, supervisee_id=body.supervisee_id,
                                         content=body.content.model_dump(mode="json"),
                                         via=via))


@router.post("/records/{record_id}/share", response_model=StepOut, **allow(SUPERVISING, "The record's supervisor."))
def share(record_id: RecordId, body: StepIn, app: App, who: Caller, via: From) -> StepOut:
    return _out(app.records.share_record(who, record_id, expected_version=body.expected_version, via=via))


@router.post("/records/{record_id}/amendment-requests", response_model=StepOut, **allow(
        STAFF, "The record's supervisee."))
def request_amendment(record_id: RecordId, body: AmendmentRequestIn, app: App, who: Caller,
                      via: From) -> StepOut:
    return _out(app.records.request_amendment(who, record_id, body.text, based_on_version=body.based_on_version,
                                              expected_version=body.expected_version, via=via))


@router.post("/records/{record_id}/amend", response_model=StepOut, **allow(
        SUPERVISING, "The record's supervisor; accepts an open amendment request."))
def amend(record_id: RecordId, body: AmendIn, app: App, who: Caller, via: From) -> StepOut:
    return _out(app.records.amend_record(who, record_id, body.content.model_dump(mode="json"),
                                         based_on_version=body.based_on_version, expected_version=body.expected_version,
                                         via=via))


@router.post("/records/{record_id}/decline", response_model=StepOut, **allow(
        SUPERVISING, "The record's supervisor; kept as an area of disagreement with the rationale."))
def decline(record_id: RecordId, body: DeclineIn, app: App, who: Caller, via: From) -> StepOut:
    return _out(app.records.decline_amendment(who, record_id, body.rationale, expected_version=body.expected_version,
                                              via=via))


@router.post("/records/{record_id}/sign", response_model=StepOut, **allow(
        STAFF, "The supervisee first, then the supervisor; each signs the SHA-256 of the exact version."))
def sign(record_id: RecordId, body: SignIn, app: App, who: Caller, via: From) -> StepOut:
    return _out(app.records.sign_record(who, record_id, body.content_sha256, expected_version=body.expected_version,
                                        via=via))


@router.post("/records/{record_id}/addenda", status_code=201, response_model=StepOut, **allow(
        STAFF, "Either party, after both have signed: a correction is a new entry."))
def add_addendum(record_id: RecordId, body: AddendumIn, app: App, who: Caller, via: From) -> StepOut:
    return _out(app.records.add_addendum(who, record_id, body.text, body.reason, expected_version=body.expected_version,
                                         via=via))


@router.post("/records/{record_id}/addenda/{number}/countersign", response_model=StepOut, **allow(
        STAFF, "The other party."))
def countersign(record_id: RecordId, number: Annotated[int, Path(ge=1, le=10**6)], body: CountersignIn,
                app: App, who: Caller, via: From) -> StepOut:
    return _out(app.records.countersign_addendum(who, record_id, number, body.sha256,
                                                 expected_version=body.expected_version,
                                                 via=via))


# -- answers: built from the command's own result ------------------------------------------------------------

def _out(record: SupervisionRecord) -> StepOut:
    return StepOut(record_id=str(record.id), version=record.version, state=record.state,
                   content_version=record.content_version, content_sha256=record.content_sha256)


def _note(decision: Decision) -> AccessNote:
    return AccessNote(basis=decision.basis, purpose=decision.purpose, grant_id=decision.grant_id)
