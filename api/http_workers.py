"""/api/v1/workers: HR moves staff through joining, allocation, transfer and leaving; a worker's whole file."""

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Path

from api.http_models import (AccessNote, AllocateIn, DisabledOut, FrozenRecord, JoinIn, LeaveIn, LeaveOut, Person,
                             PreviousSupervision, RecordSummary, ReturnIn, RoleChangeIn, TransferIn, TransferOut,
                             WorkerFileOut, WorkerOut)
from api.http_support import ADMIN, ANYONE, RULES_DECIDE, Caller, From, App, allow
from api.record_history import NameBook
from domain.workers import Worker

router = APIRouter(tags=["workers"])


@router.get("/workers", response_model=list[WorkerOut], **allow(ADMIN))
def list_workers(app: App, who: Caller) -> list[WorkerOut]:
    """Every member of staff, for HR: no supervision records, no content."""
    return [worker_out(w) for w in app.people.staff(who)]


@router.post("/workers", status_code=201, response_model=WorkerOut, **allow(ADMIN))
def join(body: JoinIn, app: App, who: Caller) -> WorkerOut:
    """A member of staff joins. Their own data key is created: every event about them is sealed with it."""
    return worker_out(app.people.join_worker(who, name=body.name, role=body.role, category=body.category.value,
                                             start_date=body.start_date))


@router.post("/workers/{worker_id}/supervisor", response_model=WorkerOut, **allow(
        ADMIN, "The first supervisor (or a new one after the supervisor left). Later changes are transfers. "
               "Two people cannot be each other's supervisor, and a supervisee account cannot supervise."))
def allocate(worker_id: UUID, body: AllocateIn, app: App, who: Caller) -> WorkerOut:
    return worker_out(app.allocation.allocate_supervisor(who, worker_id, body.supervisor_id,
                                                         expected_version=body.expected_version))


@router.post("/workers/{worker_id}/transfer", response_model=TransferOut, **allow(
        ADMIN, "The previous supervisor loses access the moment this is recorded; records not yet signed by "
               "both are frozen as they are and listed in the answer."))
def transfer(worker_id: UUID, body: TransferIn, app: App, who: Caller) -> TransferOut:
    done = app.allocation.transfer_worker(who, worker_id, body.new_supervisor_id, body.reason,
                                          expected_version=body.expected_version)
    return TransferOut(worker=worker_out(done.worker), frozen_records=[FrozenRecord(**r) for r in done.frozen_records])


@router.post("/workers/{worker_id}/role-change", response_model=WorkerOut, **allow(
        ADMIN, "A new role or category from a day. A major change of role starts the policy pack's role-changer "
               "regime (frequency.role_changer); a new category its own; a new role title alone changes nothing due."))
def change_role(worker_id: UUID, body: RoleChangeIn, app: App, who: Caller) -> WorkerOut:
    return worker_out(app.people.change_role(who, worker_id, role=body.role, effective_on=body.effective_on,
                                             major_change=body.major_change,
                                             category=body.category.value if body.category else None, reason=body.reason,
                                             expected_version=body.expected_version))


@router.post("/workers/{worker_id}/return", response_model=WorkerOut, **allow(
        ADMIN, "Back after a career break or other long term absence: the policy pack's returner regime "
               "(frequency.returner) starts on the day back."))
def record_return(worker_id: UUID, body: ReturnIn, app: App, who: Caller) -> WorkerOut:
    return worker_out(app.people.record_return(who, worker_id, returned_on=body.returned_on, absence=body.absence.value,
                                               expected_version=body.expected_version))


@router.post("/workers/{worker_id}/leave", response_model=LeaveOut, **allow(
        ADMIN, "Ends the leaver's account access at the leaving date and their supervision of others; the answer "
               "names those who now need a supervisor."))
def leave(worker_id: UUID, body: LeaveIn, app: App, who: Caller) -> LeaveOut:
    left = app.people.record_leaving(who, worker_id, body.leaving_date, expected_version=body.expected_version)
    names = NameBook(app)
    return LeaveOut(**worker_out(left.worker).model_dump(),
                    needs_a_supervisor=[person(names, w) for w in left.needs_a_supervisor],
                    access_ends_at=left.access_ends_at, accounts_ended=left.accounts_ended)


@router.post("/users/{username}/disable", response_model=DisabledOut, **allow(
        ADMIN, "Ends the account's access at once: every token of it is refused from now on."))
def disable_user(username: Annotated[str, Path(min_length=1, max_length=64)], app: App,
                 who: Caller) -> DisabledOut:
    user = app.people.disable_user(who, username)
    return DisabledOut(username=user["username"], disabled_at=user["disabled_at"])


@router.get("/workers/{worker_id}/file", response_model=WorkerFileOut, **allow(
        ANYONE, "HR (administrator) may see the file's index. " + RULES_DECIDE))
def worker_file(worker_id: UUID, app: App, who: Caller, via: From) -> WorkerFileOut:
    """The worker's whole file: records under their current supervisor, and each earlier supervisor's as
    "Previous Supervision" naming that supervisor (hull). Dates and states only: read a record for its text."""
    opened = app.access.open_worker_file(who, worker_id, via=via)
    names = NameBook(app)
    worker = opened["worker"]
    records = [summary(r) for r in opened["records"]]
    current = [r for r in records if r.supervisor_id == worker.supervisor_id]
    return WorkerFileOut(
        worker=worker_out(worker),
        current_supervisor=person(names, worker.supervisor_id) if worker.supervisor_id else None,
        current=current,
        previous_supervision=_previous(opened["periods"], records, worker, names),
        access=AccessNote(basis=opened["decision"].basis, purpose=opened["decision"].purpose,
                          grant_id=opened["decision"].grant_id),
    )


def _previous(periods: list[dict], records: list[RecordSummary], worker: Worker,
              names: NameBook) -> list[PreviousSupervision]:
    sections: dict[str, PreviousSupervision] = {}
    for p in periods:
        if p["supervisor_id"] == worker.supervisor_id and p["ended_at"] is None:
            continue
        section = sections.setdefault(p["supervisor_id"], PreviousSupervision(
            supervisor=person(names, p["supervisor_id"]), from_=p["started_at"], until=p["ended_at"], records=[]))
        section.until = p["ended_at"]
    for r in records:
        if r.supervisor_id != worker.supervisor_id and r.supervisor_id in sections:
            sections[r.supervisor_id].records.append(r)
    return list(sections.values())


def worker_out(w: Worker) -> WorkerOut:
    return WorkerOut(worker_id=str(w.id), name=w.name, role=w.role, category=w.category, start_date=w.start_date,
                     category_since=w.category_since, state=w.state, supervisor_id=w.supervisor_id,
                     leaving_date=w.leaving_date,
                     destruction_date=w.destruction_date, version=w.version)


def person(names: NameBook, worker_id: str) -> Person:
    return Person(id=worker_id, name=names.name(worker_id))


def summary(row: dict[str, Any]) -> RecordSummary:
    return RecordSummary(version=row["aggregate_version"], **{k: v for k, v in row.items()
                                                             if k in RecordSummary.model_fields})

