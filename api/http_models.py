"""Request and response bodies of the HTTP API (pydantic): what the OpenAPI document shows."""

from datetime import date, datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, Field

from api.http_support import Moment, text
from domain.access import GrantCategory
from domain.authorisation import ScopeKind
from domain.workers import Absence, WorkerCategory

Name = text(200)
Short = text(2000)
Long = text(20000)
Version = Field(default=None, ge=1, le=10**9, description="The version you acted on; 409 if it moved on.")


class Person(BaseModel):
    id: str
    name: str


class AccessNote(BaseModel):
    """On what basis the caller was allowed to read; the same is in the access log."""

    basis: str
    purpose: str
    grant_id: str | None = None


# -- workers -------------------------------------------------------------------------------------------------

class JoinIn(BaseModel):
    name: Name  # type: ignore[valid-type]
    role: Name  # type: ignore[valid-type]
    category: WorkerCategory
    start_date: date


class AllocateIn(BaseModel):
    supervisor_id: UUID
    expected_version: int | None = Version


class TransferIn(BaseModel):
    new_supervisor_id: UUID
    reason: Short  # type: ignore[valid-type]
    expected_version: int | None = Version


class RoleChangeIn(BaseModel):
    role: Name  # type: ignore[valid-type]
    effective_on: date
    major_change: bool = Field(description="A major change of role: starts the pack's role-changer regime "
                                           "(hull: fortnightly for the first 3 months).")
    category: WorkerCategory | None = Field(default=None, description="A new category (not with major_change).")
    reason: Name  # type: ignore[valid-type]
    expected_version: int | None = Version


class ReturnIn(BaseModel):
    returned_on: date
    absence: Absence
    expected_version: int | None = Version


class LeaveIn(BaseModel):
    leaving_date: date
    expected_version: int | None = Version


class WorkerOut(BaseModel):
    worker_id: str
    name: str
    role: str
    category: str
    start_date: date
    category_since: date = Field(description="The day the current category's frequency regime began.")
    state: str
    supervisor_id: str | None
    leaving_date: date | None
    destruction_date: date | None
    version: int


class FrozenRecord(BaseModel):
    record_id: str
    state: str
    session_date: date
    supervisor_id: str


class LeaveOut(WorkerOut):
    needs_a_supervisor: list[Person] = Field(
        description="Those this worker supervised: their supervision ended at the leaving; HR allocates someone.")
    access_ends_at: datetime = Field(description="From then on every token of the leaver's account is refused.")
    accounts_ended: list[str]


class DisabledOut(BaseModel):
    username: str
    disabled_at: datetime


class TransferOut(BaseModel):
    worker: WorkerOut
    frozen_records: list[FrozenRecord] = Field(
        description="Records not signed by both at the transfer: they stay as they are (see the README).")


class RecordSummary(BaseModel):
    record_id: str
    supervisee_id: str
    supervisor_id: str
    session_date: date
    state: str
    content_version: int
    content_sha256: str
    version: int
    open_amendment: bool
    disagreements: int
    addenda: int
    file_section: str


class PreviousSupervision(BaseModel):
    supervisor: Person
    from_: datetime = Field(alias="from")
    until: datetime | None
    records: list[RecordSummary]

    model_config = {"populate_by_name": True}


class WorkerFileOut(BaseModel):
    worker: WorkerOut
    current_supervisor: Person | None
    current: list[RecordSummary]
    previous_supervision: list[PreviousSupervision]
    access: AccessNote


# -- records -------------------------------------------------------------------------------------------------

class ActionIn(BaseModel):
    description: Short  # type: ignore[valid-type]
    owner: Name  # type: ignore[valid-type]
    due: date


class CaseDiscussionIn(BaseModel):
    case_reference: text(40)  # type: ignore[valid-type]
    summary: Long = ""  # type: ignore[valid-type]
    decision: Long = ""  # type: ignore[valid-type]


class ContentIn(BaseModel):
    """Cases are referenced by initials or a case number, never by name (bury, bcp)."""

    session_date: date
    attendees: list[Name] = Field(min_length=1, max_length=20)  # type: ignore[valid-type]
    agenda: list[Short] = Field(default_factory=list, max_length=50)  # type: ignore[valid-type]
    discussion: text(50000)  # type: ignore[valid-type]
    actions: list[ActionIn] = Field(default_factory=list, max_length=50)
    case_discussions: list[CaseDiscussionIn] = Field(default_factory=list, max_length=50)


class DraftIn(BaseModel):
    supervisee_id: UUID
    content: ContentIn


class StepIn(BaseModel):
    expected_version: int | None = Version


class AmendmentRequestIn(StepIn):
    text: Long  # type: ignore[valid-type]
    based_on_version: int = Field(ge=1, le=10**9)


class AmendIn(StepIn):
    content: ContentIn
    based_on_version: int = Field(ge=1, le=10**9)


class DeclineIn(StepIn):
    rationale: Long  # type: ignore[valid-type]


class SignIn(StepIn):
    content_sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="SHA-256 of the exact version you sign")


class AddendumIn(StepIn):
    text: Long  # type: ignore[valid-type]
    reason: Short  # type: ignore[valid-type]


class CountersignIn(StepIn):
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="The addendum's SHA-256")


class StepOut(BaseModel):
    """What changed, without the content (reading content is a logged read)."""

    record_id: str
    version: int
    state: str
    content_version: int
    content_sha256: str


class RecordOut(BaseModel):
    record_id: str
    version: int
    state: str
    supervisee: Person
    supervisor: Person
    content_version: int
    content_sha256: str
    content: dict[str, Any]
    signatures: list[dict[str, Any]]
    amendments: list[dict[str, Any]]
    open_amendment: dict[str, Any] | None
    areas_of_disagreement: list[dict[str, Any]]
    addenda: list[dict[str, Any]]
    last_changed: datetime
    as_of: datetime | None = None
    access: AccessNote


class HistoryEntryOut(BaseModel):
    version: int
    event: str
    actor: str
    actor_name: str
    at: datetime
    summary: str
    content_version: int
    diff: list[str]


class HistoryOut(BaseModel):
    record_id: str
    events: list[HistoryEntryOut]
    access: AccessNote


# -- grants and the access log -------------------------------------------------------------------------------

class ScopeIn(BaseModel):
    kind: ScopeKind
    id: UUID = Field(description="The record, the worker (whose file), or the supervisor (whose team)")


class GrantIn(BaseModel):
    grantee: text(64) = Field(description="Username of the person the grant is for")  # type: ignore[valid-type]
    purpose: Short  # type: ignore[valid-type]
    category: GrantCategory
    scope: ScopeIn
    expires_at: Moment


class RevokeIn(StepIn):
    reason: Short  # type: ignore[valid-type]


class GrantOut(BaseModel):
    grant_id: str
    version: int
    grantee_user_id: str
    grantee_username: str
    category: str
    purpose: str
    scope_kind: str
    scope_id: str
    expires_at: datetime
    granted_by: str
    granted_at: datetime
    revoked_at: datetime | None
    revocation_reason: str | None
    live: bool


class AccessLogEntryOut(BaseModel):
    entry_id: str
    at: datetime
    reader_user_id: str
    reader_username: str
    reader_role: str
    reader_worker_id: str | None
    action: str
    worker_id: str
    record_id: str | None
    record_version: int | None
    file_state: str
    outcome: str
    basis: str
    grant_id: str | None
    category: str | None
    purpose: str
    stated_purpose: str
    refusal: str | None
    reason: str
    channel: str
    client: str


class AccessLogPage(BaseModel):
    entries: list[AccessLogEntryOut]
    count: int
    limit: int
    offset: int


class FlagOut(BaseModel):
    kind: str = Field(description="outside_grant_scope | after_grant_expiry | after_grant_revocation | "
                                  "leaver_file_read | supervisor_after_transfer | many_reads")
    at: datetime
    reader_user_id: str
    reader_username: str
    record_id: str | None
    worker_id: str | None
    entry_id: str | None
    grant_id: str | None
    detail: str


class MeOut(BaseModel):
    user_id: str
    username: str
    role: str
    worker_id: str | None
    name: str | None
    grants: list[GrantOut]


class ReadModelOut(BaseModel):
    name: str
    position: int
    stuck_at: int | None = None  # the notification id of the event it failed on
    stuck_event: str | None = None
    stuck_error: str | None = None


class HealthOut(BaseModel):
    status: str  # "ok"; "degraded" while a read model is stuck; "read-only" when the database is behind a
    # published checkpoint
    database: str
    events: int
    projected_to: int
    read_models: list[ReadModelOut] = []
    schema_version: str | None = None  # the database's migration revision (`svl db version`)
    writes_refused: str | None = None  # why, when status is "read-only"
