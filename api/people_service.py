"""Commands of HR: joiners, leavers, changes of role and returns, and the accounts people sign in with.

Part of the application (api/application.py): uses the core (api/core.py) and allocation, to end a leaver's
supervision of others.
"""

from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any
from uuid import UUID

from sqlalchemy import select

from api.allocation_service import AllocationService
from api.core import Core, Service
from api.errors import AccessDenied
from domain.authorisation import Decision, Refusal, Role, decide_role
from domain.workers import Worker
from infrastructure.users import Principal
from projections.schema import workers

HR = frozenset({Role.ADMINISTRATOR})


@dataclass(frozen=True)
class Leaving:
    """What recording a leaver changed: their file, whom they no longer supervise, whose access ends when."""

    worker: Worker
    needs_a_supervisor: list[str]
    accounts_ended: list[str]
    access_ends_at: datetime


class PeopleService(Service):
    """HR: joiners, leavers, changes of role, returns and accounts. Uses the core and allocation (a leaver stops
    supervising others)."""

    def __init__(self, core: Core, allocation: AllocationService) -> None:
        super().__init__(core)
        self.allocation = allocation

    def join_worker(self, user: Principal, *, name: str, role: str, category: str, start_date: date,
                    organisation: str | None = None) -> Worker:
        self.require(user, decide_role(user.reader, HR, "record a joiner"))
        worker = Worker.join(name=name, role=role, category=category, start_date=start_date,
                             organisation=organisation or self.storage.settings.policy_pack,
                             actor=user.actor, timestamp=self.clock())
        self.save_and_project(worker, keys=self.storage.keyring.stage_new_key(worker.id))
        return worker
    def record_leaving(self, user: Principal, worker_id: UUID | str, leaving_date: date, *,
                       expected_version: int | None = None) -> Leaving:
        """The worker leaves: their account's access ends at the leaving date, and so does their supervision
        of others (those supervisees need a supervisor: HR allocates one)."""
        self.require(user, decide_role(user.reader, HR, "record a leaver"))
        worker = self.get_worker(worker_id, expected_version)
        now = self.clock()
        worker.leave(leaving_date, actor=user.actor, timestamp=now)
        supervisees = [self.get_worker(wid) for wid in self.allocation.supervisees_of(str(worker.id))]
        supervisees = [s for s in supervisees if s.supervisor_id == str(worker.id) and s.state == "active"]
        for supervisee in supervisees:
            supervisee.end_supervision(f"the supervisor left on {leaving_date.isoformat()}", actor=user.actor,
                                       timestamp=now)
        seconds = [self.get_worker(wid) for wid in self.allocation.second_supervisees_of(str(worker.id))]
        seconds = [s for s in seconds if s.second_supervisor_id == str(worker.id) and s.state == "active"]
        for supervisee in seconds:
            supervisee.end_second_supervision(f"the second supervisor left on {leaving_date.isoformat()}",
                                              actor=user.actor, timestamp=now)
        self.save_and_project(worker, *supervisees, *seconds)
        ends = datetime.combine(leaving_date, datetime.min.time(), tzinfo=timezone.utc)
        accounts = self.users.end_access_of_worker(str(worker.id), ends)
        return Leaving(worker, [str(s.id) for s in supervisees], accounts, ends)

    def change_role(self, user: Principal, worker_id: UUID | str, *, role: str, effective_on: date,
                    major_change: bool, category: str | None = None, reason: str,
                    expected_version: int | None = None) -> Worker:
        """HR records a new role or category; a major change of role starts the pack's role-changer regime."""
        self.require(user, decide_role(user.reader, HR, "record a change of role"))
        worker = self.get_worker(worker_id, expected_version)
        worker.change_role(role, effective_on=effective_on, major_change=major_change, category=category,
                           reason=reason, actor=user.actor, timestamp=self.clock())
        self.save_and_project(worker)
        return worker

    def record_return(self, user: Principal, worker_id: UUID | str, *, returned_on: date, absence: str,
                      expected_version: int | None = None) -> Worker:
        """HR records a return after a career break or other long term absence: the returner regime starts."""
        self.require(user, decide_role(user.reader, HR, "record a return after a long absence"))
        worker = self.get_worker(worker_id, expected_version)
        worker.record_return(returned_on, absence=absence, actor=user.actor, timestamp=self.clock())
        self.save_and_project(worker)
        return worker

    # -- accounts (HR) --------------------------------------------------------------------------------

    def add_account(self, user: Principal | None, username: str, role: str, *, worker_id: str | None = None) -> str:
        """HR creates accounts; only the very first administrator is created by no one (user=None)."""
        if user is None:
            if any(u["role"] == Role.ADMINISTRATOR.value for u in self.users.list_users()):
                raise AccessDenied(Decision.refuse(Refusal.ROLE, "an administrator exists: act as one (--as)"))
            if role != Role.ADMINISTRATOR.value:
                raise AccessDenied(Decision.refuse(Refusal.ROLE, "the first account must be an administrator"))
            return self.users.add_user(username, role, worker_id=worker_id, created_by="bootstrap")
        self.require(user, decide_role(user.reader, HR, "create accounts"))
        if worker_id is not None:
            worker_id = str(self.get_worker(worker_id).id)
        return self.users.add_user(username, role, worker_id=worker_id, created_by=user.actor)

    def accounts(self, user: Principal) -> list[dict]:
        self.require(user, decide_role(user.reader, HR, "list accounts"))
        return self.users.list_users()

    def issue_token(self, user: Principal, username_or_id: str, *, days: float = 30, label: str = "cli") -> Any:
        self.require(user, decide_role(user.reader, HR, "issue tokens"))
        return self.users.issue_token(username_or_id, days=days, label=label)

    def revoke_token(self, user: Principal, token_id_or_token: str) -> str:
        self.require(user, decide_role(user.reader, HR, "revoke tokens"))
        return self.users.revoke_token(token_id_or_token)

    def tokens(self, user: Principal, username_or_id: str | None = None) -> list[dict]:
        self.require(user, decide_role(user.reader, HR, "list tokens"))
        return self.users.list_tokens(username_or_id)

    def disable_user(self, user: Principal, username_or_id: str) -> dict:
        """HR ends any account at once (its tokens are refused from now on)."""
        self.require(user, decide_role(user.reader, HR, "disable an account"))
        return self.users.disable(username_or_id)

    def link_account(self, user: Principal, username_or_id: str, subject: str | None) -> dict:
        """HR links an account to the person's identity at the organisation's provider (`issuer#subject`), or
        unlinks it (None); signing in through the provider finds the account only this way."""
        self.require(user, decide_role(user.reader, HR, "link accounts to the identity provider"))
        return self.users.link_subject(username_or_id, subject)

    def staff(self, user: Principal) -> list[Worker]:
        """Every member of staff (names, roles, dates: no supervision records), for HR."""
        self.require(user, decide_role(user.reader, HR, "list the staff"))
        self.see_own_writes()
        with self.storage.reads.connect() as conn:
            ids = conn.execute(select(workers.c.worker_id).order_by(workers.c.joined_at)).scalars().all()
        return [self.get_worker(wid) for wid in ids]
