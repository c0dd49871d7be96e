"""The Supervision Ledger application: one class keeping the library's Application, composed of per-area services.

Each service (api/*_service.py) holds one area's commands and queries and names what it uses: the shared core
(api/core.py: storage, clock, repository, saving) and the services it calls. Callers reach them as
`app.records.sign_record(...)`, `app.access.read_record_content(...)`, and so on. Every command takes the acting
user (a `Principal`: identity and role) and decides through the pure rules in domain/authorisation.py on the very
copies it changes; the edges (HTTP, CLI, web pages, demo loaders) only say who is calling.

The services, and what each uses besides the core:
    policy        the organisation's pack (versions, the one in force, the anonymisation check)
    access        policy: grants, reads of content and the access log
    records       access, policy: drafting, sharing, amending and signing supervision records
    allocation    access, policy: supervisors, transfers, second supervisors, exceptions
    people        allocation: joiners, leavers, roles, returns, accounts (HR)
    scheduling    access, policy: sessions, agreements, cases, the due view
    practice      access, policy: observations, step-downs, reviews
    retention     policy: holds, the schedule, destruction
    case_records  access, retention, policy: case supervision records and their destruction
    verification  access: the integrity ledger's checkpoints, verification and bundles
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError, JSONTranscoder, Transcoding

from api.access_service import AccessService
from api.allocation_service import AllocationService
from api.case_record_service import CaseRecordService
from api.core import Clock, Core, KeysBesideData, Storage, copy_of, utc_now
from api.errors import Conflict
from api.people_service import PeopleService
from api.policy_service import PolicyService
from api.practice_service import PracticeService
from api.record_service import RecordService
from api.retention_service import RetentionService
from api.scheduling_service import SchedulingService
from api.verification_service import VerificationService
from infrastructure.database import make_engine, shared_reads, start_up_turn, writer
from infrastructure.event_store import eventsourcing_env
from infrastructure.key_holders import forget_holder
from infrastructure.keys import ORGANISATION_KEY_ID, StagedKeys
from infrastructure.ledger import AutomaticCheckpoints, IntegrityLedger
from infrastructure.sealed_mapper import EventDestroyed, SealedMapper
from infrastructure.settings import Settings
from projections.leadership import Leadership
from projections.runner import ProjectionRunner

log = logging.getLogger(__name__)


class DateAsISO(Transcoding):
    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


# The newest event as first seen by this request, per application (a test process may hold several): set around
# each HTTP request by api/http.py, so that the several queries of one page ask the database for it once.
_REQUEST_NEWEST: ContextVar[dict[int, int] | None] = ContextVar("svl_request_newest", default=None)


@contextmanager
def one_look_at_the_newest() -> Iterator[None]:
    """Within this block (one HTTP request) `see_own_writes` asks for the newest event once per application, and
    the request's reads share one connection (infrastructure/database.py `shared_reads`).
    The thread pool that runs a request's handlers copies the context, and with it this one dictionary."""
    token = _REQUEST_NEWEST.set({})
    try:
        with shared_reads():
            yield
    finally:
        _REQUEST_NEWEST.reset(token)


class SupervisionApplication(Application):
    # The library names the event tables after this (supervisionledger_events): databases made before the
    # class was renamed must open, so the name stays.
    name = "SupervisionLedger"

    def __init__(self, storage: Storage, clock: Clock = utc_now, background_projections: bool = False,
                 automatic_checkpoints: bool = True) -> None:
        self.storage = storage
        self._clock = clock
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
        # On PostgreSQL the read models commit on connections of their own, without waiting for the WAL flush:
        # they are rebuilt from the log, which is flushed at every commit (see make_engine). Its connections are
        # not pinged at checkout: a catch-up that finds one dead is done once more on a fresh one.
        self._projection_engine = None if storage.settings.is_sqlite else make_engine(
            storage.settings, durable_commits=False, pinged=False)
        self.read_models = ProjectionRunner(
            writer(storage.engine),
            read=lambda start, limit: self.recorder.select_notifications(start, limit),
            decode=self._decode_or_none,
            newest=lambda: self.recorder.max_notification_id() or 0,
            leadership=Leadership(storage.engine) if background_projections else None,
            wait_seconds=storage.settings.read_model_wait,
            reads=storage.reads,
            projecting=self._projection_engine,
        )
        self.rebuilt_read_models = self.read_models.create_tables()
        # The integrity ledger's checkpoints, proofs and verification; signs a checkpoint when one is due.
        self.integrity = IntegrityLedger.for_app(self)
        self._compose_services()
        self.integrity.purge_sources.append(self.retention.lawful_purges)
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

    def _compose_services(self) -> None:
        """Each service gets the core and the services it calls, in an order with no cycle."""
        self.core = Core(self.storage, self._clock, self.repository, self.recorder, self.mapper, self.events, self.read_models,
                         self.integrity, self.save, self.save_and_project, self.see_own_writes, self.after_save,
                         self.background_projections)
        core = self.core
        self.policy = PolicyService(core)
        self.access = AccessService(core, self.policy)
        self.records = RecordService(core, self.access, self.policy)
        self.allocation = AllocationService(core, self.access, self.policy)
        self.people = PeopleService(core, self.allocation)
        self.scheduling = SchedulingService(core, self.access, self.policy)
        self.practice = PracticeService(core, self.access, self.policy)
        self.retention = RetentionService(core, self.policy)
        self.case_records = CaseRecordService(core, self.access, self.retention, self.policy)
        self.verification = VerificationService(core, self.access)

    @property
    def clock(self) -> Clock:
        return self._clock

    @clock.setter
    def clock(self, clock: Clock) -> None:
        """Demo loaders replay history under their own clock: every service reads the time from the core."""
        self._clock = clock
        if hasattr(self, "core"):
            self.core.clock = clock

    # -- wiring ------------------------------------------------------------------------------------

    def construct_mapper(self) -> SealedMapper:
        return SealedMapper(self.construct_transcoder(), self.storage.keyring)

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())

    def construct_repository(self) -> Any:
        """Every aggregate handed out is checked first against keys other processes destroyed meanwhile. One
        taken from the cache for a command is copied by `copy_of`, where the library would deep-copy it."""
        repository = super().construct_repository()
        get = repository.get

        def checked_get(aggregate_id: Any, *, version: int | None = None, deepcopy_from_cache: bool = True,
                        **kwargs: Any) -> Any:
            self.storage.keyring.notice_destructions()
            aggregate = get(aggregate_id, version=version, deepcopy_from_cache=False, **kwargs)
            if deepcopy_from_cache and version is None and repository.cache is not None \
                    and repository.deepcopy_from_cache:
                return copy_of(aggregate)
            return aggregate

        repository.get = checked_get  # type: ignore[method-assign]
        return repository

    def _forget_decrypted_aggregates(self, key_ids: set[str]) -> None:
        """Keys were destroyed: no decrypted copy of what they sealed may stay in memory (the rest stays)."""
        self.read_models.forget_held()
        cache = self.repository.cache
        if cache is None:
            return
        for originator_id in self.storage.keyring.originators_sealed_by(key_ids):
            try:
                cache.get(UUID(originator_id), evict=True)
            except (KeyError, ValueError):
                pass

    def close(self) -> None:
        self.access.close()  # access-log entries queued are written first
        self.read_models.stop()
        self.auto_checkpoints.close()  # signs what is pending: a clean shutdown leaves no unsigned tail
        self.integrity.close()
        super().close()
        if self._projection_engine is not None:
            self._projection_engine.dispose()
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
        # What was just stored needs no reading back and decrypting to be projected, here or by the projector.
        fresh = [(r.notification.id, r.domain_event) for r in recordings]
        if self.background_projections:
            self.read_models.poke(fresh)
        else:
            self.read_models.catch_up(fresh=fresh)
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


def open_application(settings: Settings | None = None, clock: Clock = utc_now,
                     automatic_checkpoints: bool = True) -> SupervisionApplication:
    return SupervisionApplication(Storage.open(settings or Settings.from_env()), clock,
                                  automatic_checkpoints=automatic_checkpoints)


__all__ = ["KeysBesideData", "ORGANISATION_KEY_ID", "Storage", "SupervisionApplication", "open_application",
           "utc_now"]
