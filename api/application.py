"""The Supervision Ledger application: commands and queries over the domain, stored sealed and ledgered.

Like the library's own examples, each method is one command or one query. The edges (HTTP, CLI)
decide who is calling; the domain decides whether the step is allowed.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError, JSONTranscoder, Transcoding
from sqlalchemy import Engine

from domain.errors import DomainError
from domain.supervision_record import SupervisionRecord
from domain.workers import Worker
from infrastructure.database import create_schema, make_engine, writer
from infrastructure.event_store import eventsourcing_env
from infrastructure.ledger import AutomaticCheckpoints, IntegrityLedger
from infrastructure.key_tombstones import KeyTombstones
from infrastructure.keys import ORGANISATION_KEY_ID, KeyRing, StagedKeys, load_master_key, reconcile_destroyed_keys
from infrastructure.sealed_mapper import EventDestroyed, SealedMapper
from infrastructure.settings import Settings
from api.access_service import AccessService
from api.errors import Conflict, Destroyed, NotFound
from api.retention_service import RetentionService
from api.scheduling_service import SchedulingService
from projections.runner import ProjectionRunner

Clock = Callable[[], datetime]
log = logging.getLogger(__name__)


class DateAsISO(Transcoding):
    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


def as_uuid(value: UUID | str, noun: str) -> UUID:
    if isinstance(value, UUID):
        return value
    try:
        return UUID(str(value))
    except ValueError:
        raise NotFound(f"no {noun} {value!r}: not a valid id") from None


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class Storage:
    """The SQLAlchemy engine and keyring the application shares with projections and the ledger."""

    settings: Settings
    engine: Engine
    keyring: KeyRing
    tombstones: KeyTombstones

    @classmethod
    def open(cls, settings: Settings, master_key: bytes | None = None) -> "Storage":
        engine = make_engine(settings)
        create_schema(engine, settings)
        key = master_key if master_key is not None else load_master_key(settings.master_key_file)
        keyring = KeyRing(engine, key)
        keyring.ensure_organisation_key()
        tombstones = KeyTombstones(settings.tombstones_file, key)
        resurrected = reconcile_destroyed_keys(keyring, tombstones)
        if resurrected:
            log.warning("a restored backup held %d destroyed data keys: destroyed them again before serving",
                        len(resurrected))
        return cls(settings, engine, keyring, tombstones)


class SupervisionLedger(AccessService, RetentionService, SchedulingService, Application):
    name = "SupervisionLedger"

    def __init__(self, storage: Storage, clock: Clock = utc_now, background_projections: bool = False,
                 automatic_checkpoints: bool = True) -> None:
        self.storage = storage
        self.clock = clock
        self.background_projections = background_projections
        # Called with the recordings after every successful save (e.g. automatic ledger checkpoints).
        self.after_save: list[Callable[[list[Any]], None]] = []
        super().__init__(env={**eventsourcing_env(storage.settings), "AGGREGATE_CACHE_MAXSIZE": "1000"})
        self.read_models = ProjectionRunner(
            writer(storage.engine),
            read=lambda start, limit: self.recorder.select_notifications(start, limit),
            decode=self._decode_or_none,
        )
        self.read_models.create_tables()
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
        self.after_save.append(self.auto_checkpoints)
        self.auto_checkpoints.start()
        storage.keyring.on_keys_destroyed.append(self._forget_decrypted_aggregates)
        if background_projections:
            self.read_models.start_background()
            self.auto_checkpoints.start_background()

    # -- wiring ------------------------------------------------------------------------------------

    def construct_mapper(self) -> SealedMapper:
        return SealedMapper(self.construct_transcoder(), self.storage.keyring)

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())

    def _forget_decrypted_aggregates(self) -> None:
        """A key was destroyed: no decrypted copy of what it sealed may stay in memory."""
        cache = self.repository.cache
        if cache is not None:
            with cache.lock:  # the library's LRUCache.clear() resets its queue but keeps the entries
                cache.cache.clear()
                cache.clear()
                cache.full = False

    def close(self) -> None:
        self.read_models.stop()
        self.auto_checkpoints.close()  # signs what is pending: a clean shutdown leaves no unsigned tail
        super().close()

    def save(self, *objs: Any, **kwargs: Any) -> Any:
        self.integrity.require_writable()  # a database behind a published checkpoint must not fork the log
        return super().save(*objs, **kwargs)

    def _decode_or_none(self, notification: Any) -> Any | None:
        try:
            return self.mapper.to_domain_event(notification)
        except EventDestroyed:
            return None

    def save_and_project(self, *aggregates: Any, keys: StagedKeys | None = None) -> None:
        """Stores the events, their ledger leaves and any new key rows in one transaction, then updates
        the read models."""
        try:
            recordings = self.save(*aggregates, svl_keys=keys)
        except IntegrityError:
            self._forget(keys)
            raise Conflict("someone else changed this first: reload and try again",
                           self._current_version(aggregates)) from None
        except Exception:
            self._forget(keys)
            raise
        if self.background_projections:
            self.read_models.poke()
        else:
            self.read_models.catch_up()
        for hook in self.after_save:
            hook(recordings)

    def _forget(self, keys: StagedKeys | None) -> None:
        if keys is not None:
            self.storage.keyring.unstage(keys)

    def _current_version(self, aggregates: tuple[Any, ...]) -> int | None:
        if not aggregates:
            return None
        try:
            return self.repository.get(aggregates[0].id).version
        except AggregateNotFoundError:
            return None

    # -- workers -------------------------------------------------------------------------------------

    def join_worker(self, *, name: str, role: str, category: str, start_date: date, actor: str,
                    organisation: str | None = None) -> UUID:
        worker = Worker.join(name=name, role=role, category=category, start_date=start_date,
                             organisation=organisation or self.storage.settings.policy_pack,
                             actor=actor, timestamp=self.clock())
        self.save_and_project(worker, keys=self.storage.keyring.stage_new_key(worker.id))
        return worker.id

    def allocate_supervisor(self, worker_id: UUID, supervisor_id: UUID, *, actor: str,
                            expected_version: int | None = None) -> None:
        worker = self.get_worker(worker_id, expected_version)
        self._require_active_worker(supervisor_id, "supervisor")
        worker.allocate_supervisor(str(supervisor_id), actor=actor, timestamp=self.clock())
        self.save_and_project(worker)

    def transfer_worker(self, worker_id: UUID, new_supervisor_id: UUID, reason: str, *, actor: str,
                        expected_version: int | None = None) -> None:
        worker = self.get_worker(worker_id, expected_version)
        self._require_active_worker(new_supervisor_id, "new supervisor")
        worker.transfer(str(new_supervisor_id), reason, actor=actor, timestamp=self.clock())
        self.save_and_project(worker)

    def record_leaving(self, worker_id: UUID, leaving_date: date, *, actor: str,
                       expected_version: int | None = None) -> None:
        worker = self.get_worker(worker_id, expected_version)
        worker.leave(leaving_date, actor=actor, timestamp=self.clock())
        self.save_and_project(worker)

    def get_worker(self, worker_id: UUID, expected_version: int | None = None) -> Worker:
        return self._get(Worker, worker_id, expected_version)

    # -- records -----------------------------------------------------------------------------------------

    def draft_record(self, *, supervisee_id: UUID, content: dict, actor: str) -> UUID:
        """The supervisee's current supervisor drafts; the record is sealed with the supervisee's key."""
        supervisee = self.get_worker(supervisee_id)
        if supervisee.supervisor_id != actor:
            raise DomainError("only the supervisee's current supervisor can draft their supervision record")
        if supervisee.state != "active":
            raise DomainError(f"cannot draft a record for a worker who is {supervisee.state}")
        record = SupervisionRecord.draft(supervisee_id=str(supervisee_id), supervisor_id=actor,
                                         content=content, actor=actor, timestamp=self.clock())
        keys = self.storage.keyring.stage_assignment(record.id, self.storage.keyring.key_id_for(supervisee_id))
        self.save_and_project(record, keys=keys)
        return record.id

    def share_record(self, record_id: UUID, *, actor: str, expected_version: int | None = None) -> None:
        self._record_step(record_id, expected_version, lambda r, t: r.share(actor=actor, timestamp=t))

    def request_amendment(self, record_id: UUID, text: str, *, based_on_version: int, actor: str,
                          expected_version: int | None = None) -> None:
        self._record_step(record_id, expected_version, lambda r, t: r.request_amendment(
            text, based_on_version=based_on_version, actor=actor, timestamp=t))

    def amend_record(self, record_id: UUID, content: dict, *, based_on_version: int, actor: str,
                     expected_version: int | None = None) -> None:
        self._record_step(record_id, expected_version, lambda r, t: r.amend(
            content, based_on_version=based_on_version, actor=actor, timestamp=t))

    def decline_amendment(self, record_id: UUID, rationale: str, *, actor: str,
                          expected_version: int | None = None) -> None:
        self._record_step(record_id, expected_version,
                          lambda r, t: r.decline_amendment(rationale, actor=actor, timestamp=t))

    def sign_record(self, record_id: UUID, content_sha256: str, *, actor: str,
                    expected_version: int | None = None) -> None:
        self._record_step(record_id, expected_version,
                          lambda r, t: r.sign(content_sha256, actor=actor, timestamp=t))

    def add_addendum(self, record_id: UUID, text: str, reason: str, *, actor: str,
                     expected_version: int | None = None) -> None:
        self._record_step(record_id, expected_version,
                          lambda r, t: r.add_addendum(text, reason, actor=actor, timestamp=t))

    def countersign_addendum(self, record_id: UUID, number: int, sha256: str, *, actor: str,
                             expected_version: int | None = None) -> None:
        self._record_step(record_id, expected_version,
                          lambda r, t: r.countersign_addendum(number, sha256, actor=actor, timestamp=t))

    def get_record(self, record_id: UUID, version: int | None = None) -> SupervisionRecord:
        try:
            record = self.repository.get(as_uuid(record_id, "supervision record"), version=version)
        except EventDestroyed:
            raise Destroyed(f"supervision record {record_id} was destroyed under the retention schedule") from None
        except AggregateNotFoundError:
            raise NotFound(f"no supervision record {record_id}") from None
        if not isinstance(record, SupervisionRecord):
            raise NotFound(f"no supervision record {record_id}")
        return record

    def record_events(self, record_id: UUID) -> list[Any]:
        try:
            events = list(self.events.get(as_uuid(record_id, "supervision record")))
        except EventDestroyed:
            raise Destroyed(f"supervision record {record_id} was destroyed under the retention schedule") from None
        if not events:
            raise NotFound(f"no supervision record {record_id}")
        return events

    # -- helpers ---------------------------------------------------------------------------------------------

    def _record_step(self, record_id: UUID, expected_version: int | None,
                     step: Callable[[SupervisionRecord, datetime], None]) -> None:
        record = self._get(SupervisionRecord, record_id, expected_version)
        step(record, self.clock())
        self.save_and_project(record)

    def _get(self, cls: type, aggregate_id: UUID, expected_version: int | None) -> Any:
        noun = "worker" if cls is Worker else "supervision record"
        try:
            aggregate = self.repository.get(as_uuid(aggregate_id, noun))
        except EventDestroyed:
            raise Destroyed(f"{noun} {aggregate_id} was destroyed under the retention schedule") from None
        except AggregateNotFoundError:
            raise NotFound(f"no {noun} {aggregate_id}") from None
        if not isinstance(aggregate, cls):
            raise NotFound(f"no {noun} {aggregate_id}")
        if expected_version is not None and aggregate.version != expected_version:
            raise Conflict(f"the {noun} is at version {aggregate.version}, not {expected_version}: "
                           "reload and try again", aggregate.version)
        return aggregate

    def _require_active_worker(self, worker_id: UUID, what: str) -> None:
        worker = self.get_worker(worker_id)
        if worker.state != "active":
            raise DomainError(f"the {what} is {worker.state}, not active")


def open_ledger(settings: Settings | None = None, clock: Clock = utc_now,
                automatic_checkpoints: bool = True) -> SupervisionLedger:
    return SupervisionLedger(Storage.open(settings or Settings.from_env()), clock,
                             automatic_checkpoints=automatic_checkpoints)


__all__ = ["Conflict", "Destroyed", "NotFound", "Storage", "SupervisionLedger", "open_ledger", "ORGANISATION_KEY_ID"]
