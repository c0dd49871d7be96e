"""The Supervision Ledger application: commands and queries over the domain, stored sealed and ledgered.

Like the library's own examples, each method is one command or one query. Every command takes the acting
user (a `Principal`: identity and role) and decides through the pure rules in domain/authorisation.py on
the very copies it changes; the edges (HTTP, CLI, demo loaders) only say who is calling.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError, JSONTranscoder, Transcoding
from sqlalchemy import Engine, select

from domain.access_log import AccessAttempt
from domain.anonymisation import Screening
from domain.authorisation import (Decision, RecordParties, Refusal, Relationships, Role, SupervisorCandidate,
                                  decide_allocation, decide_draft, decide_either_party, decide_role, decide_write)
from domain.errors import DomainError, OutOfOrder, StaleVersion
from domain.supervision_record import SupervisionRecord
from domain.workers import Worker
from infrastructure.backup import scrub_key_bytes
from infrastructure.database import create_schema, make_engine, reader, start_up_turn, writer
from infrastructure.event_store import eventsourcing_env
from infrastructure.ledger import AutomaticCheckpoints, IntegrityLedger
from infrastructure.name_lexicon import default_lexicon
from infrastructure.key_holders import forget_holder, note_holder
from infrastructure.key_rotation import finish_interrupted_rotation, pending_file
from infrastructure.key_tombstones import KeyTombstones
from infrastructure.keys import (ORGANISATION_KEY_ID, KeyError_, KeyRing, StagedKeys, load_master_key,
                                 reconcile_destroyed_keys)
from infrastructure.sealed_mapper import EventDestroyed, SealedMapper
from infrastructure.settings import Settings, key_placement_problems
from api.access_service import AccessDenied, AccessService, Via
from api.allocation_service import AllocationService
from api.case_record_service import CaseRecordService
from api.errors import Conflict, Destroyed, NotFound, OutOfOrderConflict, StaleConflict
from api.ids import as_uuid
from api.ledger_service import LedgerService
from api.practice_service import PracticeService
from api.retention_service import RetentionService
from api.scheduling_service import SchedulingService
from infrastructure.users import Principal
from projections.leadership import Leadership
from projections.runner import ProjectionRunner
from projections.schema import workers

Clock = Callable[[], datetime]
log = logging.getLogger(__name__)


class DateAsISO(Transcoding):
    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


class KeysBesideData(KeyError_):
    """Refused at start-up: a key file sits where a backup of the database would copy it."""


@dataclass(frozen=True)
class Storage:
    """The SQLAlchemy engine and keyring the application shares with projections and the ledger."""

    settings: Settings
    engine: Engine
    keyring: KeyRing
    tombstones: KeyTombstones

    @property
    def reads(self) -> Engine:
        """The engine for queries: on SQLite their transactions wait for no writer (no write turn, no lock)."""
        return reader(self.engine)

    @classmethod
    def open(cls, settings: Settings, master_key: bytes | None = None) -> "Storage":
        problems = key_placement_problems(settings)
        if problems:
            raise KeysBesideData("; ".join(problems))
        engine = make_engine(settings)
        if (master_key is None and os.environ.get("SVL_MASTER_KEY") is None
                and pending_file(settings.master_key_file).exists()):
            with start_up_turn(engine, settings):
                create_schema(engine, settings)
                done = finish_interrupted_rotation(engine, settings.master_key_file, settings.tombstones_file)
            if done:
                log.warning("a master-key rotation had stopped part-way: %s it before serving", done)
        key = master_key if master_key is not None else load_master_key(settings.master_key_file)
        note_holder(settings)
        keyring = KeyRing(engine, key)
        with start_up_turn(engine, settings):
            create_schema(engine, settings)
            keyring.ensure_organisation_key()
        keyring.aead(ORGANISATION_KEY_ID)  # a wrong master key is named here, before anything else reads
        tombstones = KeyTombstones(settings.tombstones_file, key)
        resurrected = reconcile_destroyed_keys(keyring, tombstones)
        if resurrected:
            scrub_key_bytes(engine, settings)
            log.warning("a restored backup held %d destroyed data keys: destroyed and scrubbed them before serving",
                        len(resurrected))
        return cls(settings, engine, keyring, tombstones)


# The newest event as first seen by this request, per application (a test process may hold several): set around
# each HTTP request by api/http.py, so that the several queries of one page ask the database for it once.
_REQUEST_NEWEST: ContextVar[dict[int, int] | None] = ContextVar("svl_request_newest", default=None)


@contextmanager
def one_look_at_the_newest() -> Iterator[None]:
    """Within this block (one HTTP request) `see_own_writes` asks for the newest event once per application.
    The thread pool that runs a request's handlers copies the context, and with it this one dictionary."""
    token = _REQUEST_NEWEST.set({})
    try:
        yield
    finally:
        _REQUEST_NEWEST.reset(token)


class SupervisionLedger(AccessService, AllocationService, CaseRecordService, LedgerService, PracticeService,
                         RetentionService, SchedulingService, Application):
    name = "SupervisionLedger"

    def __init__(self, storage: Storage, clock: Clock = utc_now, background_projections: bool = False,
                 automatic_checkpoints: bool = True) -> None:
        self.storage = storage
        self.clock = clock
        self.background_projections = background_projections
        # Called with the recordings after every successful save (e.g. automatic ledger checkpoints).
        self.after_save: list[Callable[[list[Any]], None]] = []
        self.written_up_to = 0  # the notification id of this application's last stored event
        with start_up_turn(storage.engine, storage.settings):  # the library's tables and ours, one process at a time
            super().__init__(env={**eventsourcing_env(storage.settings), "AGGREGATE_CACHE_MAXSIZE": "1000"})
            self._open_projections_and_integrity(storage, background_projections, automatic_checkpoints)
        if background_projections:
            self.read_models.start_background()
            self.auto_checkpoints.start_background()

    def _open_projections_and_integrity(self, storage: Storage, background_projections: bool,
                                        automatic_checkpoints: bool) -> None:
        # A server projects only while it leads (projections/leadership.py); the CLI projects its own commands.
        self.read_models = ProjectionRunner(
            writer(storage.engine),
            read=lambda start, limit: self.recorder.select_notifications(start, limit),
            decode=self._decode_or_none,
            newest=lambda: self.recorder.max_notification_id() or 0,
            leadership=Leadership(storage.engine) if background_projections else None,
            wait_seconds=storage.settings.read_model_wait,
            reads=storage.reads,
        )
        self.rebuilt_read_models = self.read_models.create_tables()
        # The integrity ledger's checkpoints, proofs and verification; signs a checkpoint when one is due.
        self.integrity = IntegrityLedger.for_app(self)
        self.integrity.purge_sources.append(self.lawful_purges)
        # A database behind a published checkpoint (an old backup) is served read-only; otherwise what an
        # earlier process left unsigned is signed now, and a server signs every few seconds after that.
        self.integrity.check_published()
        settings = storage.settings
        self.auto_checkpoints = AutomaticCheckpoints(self.integrity, settings.checkpoint_every_events,
                                                     settings.checkpoint_every_seconds, inline_timer=False)
        self.auto_checkpoints.enabled &= automatic_checkpoints
        self.auto_checkpoints.leading = self.read_models.projects_here  # one signer among several processes
        self.after_save.append(self.auto_checkpoints)
        self.auto_checkpoints.start()
        storage.keyring.on_keys_destroyed.append(self._forget_decrypted_aggregates)

    # -- wiring ------------------------------------------------------------------------------------

    def construct_mapper(self) -> SealedMapper:
        return SealedMapper(self.construct_transcoder(), self.storage.keyring)

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())

    def construct_repository(self) -> Any:
        """Every aggregate handed out is checked first against keys other processes destroyed meanwhile."""
        repository = super().construct_repository()
        get = repository.get

        def checked_get(*args: Any, **kwargs: Any) -> Any:
            self.storage.keyring.notice_destructions()
            return get(*args, **kwargs)

        repository.get = checked_get  # type: ignore[method-assign]
        return repository

    def _forget_decrypted_aggregates(self, key_ids: set[str]) -> None:
        """Keys were destroyed: no decrypted copy of what they sealed may stay in memory (the rest stays)."""
        cache = self.repository.cache
        if cache is None:
            return
        for originator_id in self.storage.keyring.originators_sealed_by(key_ids):
            try:
                cache.get(UUID(originator_id), evict=True)
            except (KeyError, ValueError):
                pass

    def close(self) -> None:
        self.read_models.stop()
        self.auto_checkpoints.close()  # signs what is pending: a clean shutdown leaves no unsigned tail
        self.integrity.close()
        super().close()
        forget_holder(self.storage.settings)

    def save(self, *objs: Any, **kwargs: Any) -> Any:
        self.integrity.require_writable()  # a database behind a published checkpoint must not fork the log
        return super().save(*objs, **kwargs)

    def _decode_or_none(self, notification: Any) -> Any | None:
        try:
            return self.mapper.to_domain_event(notification)
        except EventDestroyed:
            return None

    def save_and_project(self, *aggregates: Any, keys: StagedKeys | None = None,
                         unchanged: Sequence[Any] = (), absent: Sequence[UUID] = ()) -> None:
        """Stores the events, their ledger leaves and any new key rows in one transaction, then updates
        the read models. `unchanged`: aggregates the command decided on without changing them; `absent`: ids of
        aggregates the command decided do not exist; if one of them changed (or came to exist) meanwhile,
        nothing is stored and the caller gets a Conflict."""
        try:
            recordings = self.save(*aggregates, svl_keys=keys,
                                   svl_unchanged=[*((a.id, a.version) for a in unchanged),
                                                  *((aggregate_id, None) for aggregate_id in absent)])
        except IntegrityError:
            self._forget(keys)
            current = self._current(aggregates)
            raise Conflict("someone else changed this first: reload and try again",
                           current.version if current else None, getattr(current, "content_version", None),
                           getattr(current, "content_sha256", None)) from None
        except Exception:
            self._forget(keys)
            raise
        self.written_up_to = max([self.written_up_to, *(r.notification.id for r in recordings)])
        if self.background_projections:
            self.read_models.poke()
        else:  # what was just stored needs no reading back and decrypting to be projected
            self.read_models.catch_up(fresh=[(r.notification.id, r.domain_event) for r in recordings])
        for hook in self.after_save:
            hook(recordings)

    def see_own_writes(self) -> None:
        """Queries call this first: a read model behind the last write catches up, so an answer given after a
        command has answered reflects it (e.g. the first read under a new grant). On PostgreSQL the command may
        have been answered by another process, so "the last write" is the newest event stored; on SQLite (one
        server process) it is this application's own. Within one HTTP request (`one_look_at_the_newest`) the
        newest event is asked for once: a page makes several queries, and what was answered before the request
        began is all it must reflect (besides this process's own writes since, which `written_up_to` carries)."""
        if not self.read_models.shared:
            self.read_models.refresh(self.written_up_to)
            return
        seen = _REQUEST_NEWEST.get()
        if seen is None:
            self.read_models.refresh(None)
            return
        if id(self) not in seen:
            seen[id(self)] = self.recorder.max_notification_id() or 0
        self.read_models.refresh(max(seen[id(self)], self.written_up_to))

    def _forget(self, keys: StagedKeys | None) -> None:
        if keys is not None:
            self.storage.keyring.unstage(keys)

    def _current(self, aggregates: tuple[Any, ...]) -> Any | None:
        """After a conflict: the aggregate as the other writer left it, for the answer."""
        if not aggregates:
            return None
        try:
            return self.repository.get(aggregates[0].id)
        except AggregateNotFoundError:
            return None

    # -- workers (HR) ----------------------------------------------------------------------------------

    def join_worker(self, user: Principal, *, name: str, role: str, category: str, start_date: date,
                    organisation: str | None = None) -> Worker:
        self.require(user, decide_role(user.reader, HR, "record a joiner"))
        worker = Worker.join(name=name, role=role, category=category, start_date=start_date,
                             organisation=organisation or self.storage.settings.policy_pack,
                             actor=user.actor, timestamp=self.clock())
        self.save_and_project(worker, keys=self.storage.keyring.stage_new_key(worker.id))
        return worker

    def allocate_supervisor(self, user: Principal, worker_id: UUID | str, supervisor_id: UUID | str, *,
                            expected_version: int | None = None) -> Worker:
        worker, supervisor = self._allocation(user, worker_id, supervisor_id, expected_version)
        worker.allocate_supervisor(str(supervisor.id), actor=user.actor, timestamp=self.clock())
        self.save_and_project(worker, unchanged=(supervisor,))
        return worker

    def transfer_worker(self, user: Principal, worker_id: UUID | str, new_supervisor_id: UUID | str, reason: str, *,
                        expected_version: int | None = None) -> Transfer:
        """The records not yet signed by both are frozen as they are (domain/authorisation.py); the answer
        lists them, read before the transfer is stored so that the answer needs no read after it."""
        worker, supervisor = self._allocation(user, worker_id, new_supervisor_id, expected_version)
        worker.transfer(str(supervisor.id), reason, actor=user.actor, timestamp=self.clock())
        frozen = self.unsigned_records_of(str(worker.id))
        self.save_and_project(worker, unchanged=(supervisor,))
        return Transfer(worker, frozen)

    def record_leaving(self, user: Principal, worker_id: UUID | str, leaving_date: date, *,
                       expected_version: int | None = None) -> Leaving:
        """The worker leaves: their account's access ends at the leaving date, and so does their supervision
        of others (those supervisees need a supervisor: HR allocates one)."""
        self.require(user, decide_role(user.reader, HR, "record a leaver"))
        worker = self.get_worker(worker_id, expected_version)
        now = self.clock()
        worker.leave(leaving_date, actor=user.actor, timestamp=now)
        supervisees = [self.get_worker(wid) for wid in self._supervisees_of(str(worker.id))]
        supervisees = [s for s in supervisees if s.supervisor_id == str(worker.id) and s.state == "active"]
        for supervisee in supervisees:
            supervisee.end_supervision(f"the supervisor left on {leaving_date.isoformat()}", actor=user.actor,
                                       timestamp=now)
        seconds = [self.get_worker(wid) for wid in self._second_supervisees_of(str(worker.id))]
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

    def get_worker(self, worker_id: UUID | str, expected_version: int | None = None) -> Worker:
        return self._get(Worker, worker_id, expected_version)

    def worker_name(self, worker_id: UUID | str) -> str:
        """The worker's name as it stands now, for display. The cached aggregate is read, not copied: a copy
        protects an aggregate a command goes on to change, and nothing here changes it (a page names many)."""
        return self._get(Worker, worker_id, None, copy=False).name

    def _allocation(self, user: Principal, worker_id: UUID | str, supervisor_id: UUID | str,
                    expected_version: int | None) -> tuple[Worker, Worker]:
        self.require(user, decide_role(user.reader, HR, "allocate or transfer supervisors"))
        worker = self.get_worker(worker_id, expected_version)
        supervisor = self.get_worker(supervisor_id)
        candidate = SupervisorCandidate(str(supervisor.id), supervisor.state, supervisor.supervisor_id,
                                        self.users.account_roles_of_worker(str(supervisor.id)))
        decision = decide_allocation(user.reader, str(worker.id), candidate)
        if not decision.allowed:
            raise DomainError(decision.reason) if decision.refusal is Refusal.ALLOCATION else AccessDenied(decision)
        self._check_allocation_rules(worker, supervisor)
        return worker, supervisor

    def _supervisees_of(self, supervisor_id: str) -> list[str]:
        self.read_models.refresh()
        with self.storage.reads.connect() as conn:
            return list(conn.execute(select(workers.c.worker_id).where(workers.c.supervisor_id == supervisor_id))
                        .scalars())

    # -- records -----------------------------------------------------------------------------------------

    def screening(self) -> Screening:
        """The anonymisation check under the organisation's pack (``anonymisation.names``)."""
        return Screening(default_lexicon(), self.compliance_pack().anonymisation.names)

    def draft_record(self, user: Principal, *, supervisee_id: UUID | str, content: dict,
                     via: Via | None = None, confirmed_anonymous: bool = False) -> SupervisionRecord:
        """The supervisee's current supervisor drafts; the record is sealed with the supervisee's key."""
        supervisee = self.get_worker(supervisee_id)
        decision = decide_draft(user.reader, relationships(supervisee))
        if not decision.allowed:
            self.log_access(user, AccessAttempt("draft", str(supervisee.id), None, None, supervisee.state,
                                                *_via(user, via)), decision)
            raise AccessDenied(decision, logged=self.log_reads)
        if supervisee.state != "active":
            raise DomainError(f"cannot draft a record for a worker who is {supervisee.state}")
        record = SupervisionRecord.draft(supervisee_id=str(supervisee.id), supervisor_id=user.actor,
                                         content=content, actor=user.actor, timestamp=self.clock(),
                                         screening=self.screening(), confirmed_anonymous=confirmed_anonymous)
        keys = self.storage.keyring.stage_assignment(record.id, self.storage.keyring.key_id_for(supervisee.id))
        self.save_and_project(record, keys=keys, unchanged=(supervisee,))
        return record

    def share_record(self, user: Principal, record_id: UUID | str, *, expected_version: int | None = None,
                     via: Via | None = None) -> SupervisionRecord:
        return self._record_step(user, record_id, expected_version, "supervisor", "share", via,
                                 lambda r, a, t: r.share(actor=a, timestamp=t))

    def request_amendment(self, user: Principal, record_id: UUID | str, text: str, *, based_on_version: int,
                          expected_version: int | None = None, via: Via | None = None,
                          confirmed_anonymous: bool = False) -> SupervisionRecord:
        return self._record_step(user, record_id, expected_version, "supervisee", "request_amendment", via,
                                 lambda r, a, t: r.request_amendment(
                                     text, based_on_version=based_on_version, actor=a, timestamp=t,
                                     screening=self.screening(), confirmed_anonymous=confirmed_anonymous))

    def amend_record(self, user: Principal, record_id: UUID | str, content: dict, *, based_on_version: int,
                     expected_version: int | None = None, via: Via | None = None,
                     confirmed_anonymous: bool = False) -> SupervisionRecord:
        return self._record_step(user, record_id, expected_version, "supervisor", "amend", via,
                                 lambda r, a, t: r.amend(
                                     content, based_on_version=based_on_version, actor=a, timestamp=t,
                                     screening=self.screening(), confirmed_anonymous=confirmed_anonymous))

    def decline_amendment(self, user: Principal, record_id: UUID | str, rationale: str, *,
                          expected_version: int | None = None, via: Via | None = None,
                          confirmed_anonymous: bool = False) -> SupervisionRecord:
        return self._record_step(user, record_id, expected_version, "supervisor", "decline", via,
                                 lambda r, a, t: r.decline_amendment(
                                     rationale, actor=a, timestamp=t, screening=self.screening(),
                                     confirmed_anonymous=confirmed_anonymous))

    def sign_record(self, user: Principal, record_id: UUID | str, content_sha256: str, *,
                    expected_version: int | None = None, via: Via | None = None) -> SupervisionRecord:
        return self._record_step(user, record_id, expected_version, None, "sign", via,
                                 lambda r, a, t: r.sign(content_sha256, actor=a, timestamp=t))

    def add_addendum(self, user: Principal, record_id: UUID | str, text: str, reason: str, *,
                     expected_version: int | None = None, via: Via | None = None,
                     confirmed_anonymous: bool = False) -> SupervisionRecord:
        return self._record_step(user, record_id, expected_version, None, "add_addendum", via,
                                 lambda r, a, t: r.add_addendum(text, reason, actor=a, timestamp=t,
                                                                screening=self.screening(),
                                                                confirmed_anonymous=confirmed_anonymous))

    def countersign_addendum(self, user: Principal, record_id: UUID | str, number: int, sha256: str, *,
                             expected_version: int | None = None, via: Via | None = None) -> SupervisionRecord:
        return self._record_step(user, record_id, expected_version, None, "countersign_addendum", via,
                                 lambda r, a, t: r.countersign_addendum(number, sha256, actor=a, timestamp=t))

    def get_record(self, record_id: UUID | str, version: int | None = None) -> SupervisionRecord:
        try:
            record = self.repository.get(as_uuid(record_id, "supervision record"), version=version)
        except EventDestroyed:
            raise Destroyed(f"supervision record {record_id} was destroyed under the retention schedule") from None
        except AggregateNotFoundError:
            raise NotFound(f"no supervision record {record_id}") from None
        if not isinstance(record, SupervisionRecord):
            raise NotFound(f"no supervision record {record_id}")
        return record

    def record_events(self, record_id: UUID | str) -> list[Any]:
        try:
            events = list(self.events.get(as_uuid(record_id, "supervision record")))
        except EventDestroyed:
            raise Destroyed(f"supervision record {record_id} was destroyed under the retention schedule") from None
        if not events:
            raise NotFound(f"no supervision record {record_id}")
        return events

    # -- helpers ---------------------------------------------------------------------------------------------

    def require(self, user: Principal, decision: Decision) -> None:
        """Refusals by role need no log entry: nothing of a file was touched."""
        if not decision.allowed:
            raise AccessDenied(decision)

    def _record_step(self, user: Principal, record_id: UUID | str, expected_version: int | None, party: str | None,
                     action: str, via: Via | None,
                     step: Callable[[SupervisionRecord, str, datetime], None]) -> SupervisionRecord:
        """One load of the record and of the supervisee's file; the decision and the step use those copies,
        and the save fails with a Conflict if the file changed in between (e.g. a transfer)."""
        record = self._get(SupervisionRecord, record_id, None)
        supervisee = self.get_worker(record.supervisee_id)
        rel = relationships(supervisee)
        parties = RecordParties(str(record.id), record.supervisee_id, record.supervisor_id)
        decision = (decide_either_party(user.reader, rel, parties) if party is None
                    else decide_write(user.reader, rel, parties, party))
        if not decision.allowed:
            self.log_access(user, AccessAttempt(action, record.supervisee_id, str(record.id), record.version,
                                                rel.file_state, *_via(user, via)), decision)
            raise AccessDenied(decision, logged=self.log_reads)
        _require_version(record, expected_version, "supervision record")
        try:
            step(record, user.actor, self.clock())
        except StaleVersion as exc:
            raise StaleConflict(str(exc), record.version, record.content_version, record.content_sha256) from None
        except OutOfOrder as exc:
            raise OutOfOrderConflict(str(exc), record.version, record.content_version,
                                     record.content_sha256) from None
        self.save_and_project(record, unchanged=(supervisee,))
        return record

    def _get(self, cls: type, aggregate_id: UUID | str, expected_version: int | None, copy: bool = True) -> Any:
        noun = "worker" if cls is Worker else "supervision record"
        try:
            aggregate = self.repository.get(as_uuid(aggregate_id, noun), deepcopy_from_cache=copy)
        except EventDestroyed:
            raise Destroyed(f"{noun} {aggregate_id} was destroyed under the retention schedule") from None
        except AggregateNotFoundError:
            raise NotFound(f"no {noun} {aggregate_id}") from None
        if not isinstance(aggregate, cls):
            raise NotFound(f"no {noun} {aggregate_id}")
        _require_version(aggregate, expected_version, noun)
        return aggregate


HR = frozenset({Role.ADMINISTRATOR})


@dataclass(frozen=True)
class Transfer:
    worker: Worker
    frozen_records: list[dict]


@dataclass(frozen=True)
class Leaving:
    """What recording a leaver changed: their file, whom they no longer supervise, whose access ends when."""

    worker: Worker
    needs_a_supervisor: list[str]
    accounts_ended: list[str]
    access_ends_at: datetime


def _require_version(aggregate: Any, expected_version: int | None, noun: str) -> None:
    if expected_version is not None and aggregate.version != expected_version:
        raise Conflict(f"the {noun} is at version {aggregate.version}, not {expected_version}: "
                       "reload and try again", aggregate.version, getattr(aggregate, "content_version", None),
                       getattr(aggregate, "content_sha256", None))


def relationships(supervisee: Worker, line_manager_id: str | None = None) -> Relationships:
    previous = tuple(p["supervisor_id"] for p in supervisee.previous_supervisors)
    return Relationships(str(supervisee.id), supervisee.supervisor_id, line_manager_id, previous, supervisee.state,
                         supervisee.second_supervisor_id)


def _via(user: Principal, via: Via | None) -> tuple[str, str, str]:
    via = via or Via(user.via, "local")
    return via.channel, via.client, via.stated_purpose


def open_ledger(settings: Settings | None = None, clock: Clock = utc_now,
                automatic_checkpoints: bool = True) -> SupervisionLedger:
    return SupervisionLedger(Storage.open(settings or Settings.from_env()), clock,
                             automatic_checkpoints=automatic_checkpoints)


__all__ = ["Conflict", "Destroyed", "NotFound", "Storage", "SupervisionLedger", "open_ledger", "ORGANISATION_KEY_ID"]
