"""What every service of the application shares: the storage, the clock, the repository, saving, the read models.

api/application.py builds one `Core` and hands it to each per-area service (api/*_service.py); a service's
constructor names the other services it calls, so what each one uses is declared and nothing is circular.
`Service` gives a service the core's attributes under their usual names, and the loads every area makes
(a worker, a record, a refusal by role).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from copy import deepcopy
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from sqlalchemy import Engine

from api.errors import AccessDenied, Conflict, Destroyed, NotFound
from api.ids import as_uuid
from domain.authorisation import Decision
from domain.errors import DomainError
from domain.supervision_record import SupervisionRecord
from domain.workers import Worker
from infrastructure.backup import scrub_key_bytes
from infrastructure.database import Reads, create_schema, make_engine, reader, start_up_turn
from infrastructure.keys import ORGANISATION_KEY_ID, KeyError_, KeyRing, StagedKeys, load_master_key, \
    reconcile_destroyed_keys
from infrastructure.key_holders import note_holder
from infrastructure.key_rotation import finish_interrupted_rotation, pending_file
from infrastructure.key_tombstones import KeyTombstones
from infrastructure.master_key import master_key_from_environment
from infrastructure.ledger import IntegrityLedger
from infrastructure.sealed_mapper import EventDestroyed
from infrastructure.settings import Settings, key_placement_problems
from infrastructure.users import Principal, UserDirectory
from projections.runner import ProjectionRunner

Clock = Callable[[], datetime]
log = logging.getLogger(__name__)


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


# Values that never change in place: a copy shares them, as `deepcopy` does.
_UNCHANGING = frozenset({str, int, float, bool, type(None), bytes, datetime, date, UUID, Decimal})


def copy_of(aggregate: Any) -> Any:
    """A copy of an aggregate for a command to change, the same as `deepcopy` makes (containers shared within
    the state stay shared in the copy) in a fraction of its time: an aggregate's state is JSON-shaped (dicts,
    lists, strings, numbers, dates), walked here directly; anything else in it is deep-copied. Every command
    takes one or two copies out of the aggregate cache, and `deepcopy` was the largest Python cost of a write."""
    kind = type(aggregate)
    copied = kind.__new__(kind)
    copied.__dict__.update(_copied(vars(aggregate), {}))
    return copied


def _copied(value: Any, memo: dict[int, Any]) -> Any:
    kind = type(value)
    if kind in _UNCHANGING:
        return value
    if kind is not dict and kind is not list:
        return deepcopy(value, memo)  # its memo is ours: what it copied, and where, stays one
    seen = memo.get(id(value))
    if seen is not None:
        return seen
    # Unchanging items are taken as they are, without a call each (most of what a state holds).
    if kind is list:
        items: list[Any] = []
        memo[id(value)] = items
        items.extend(item if type(item) in _UNCHANGING else _copied(item, memo) for item in value)
        return items
    mapping: dict[Any, Any] = {}
    memo[id(value)] = mapping
    for key, item in value.items():
        mapping[key if type(key) in _UNCHANGING else _copied(key, memo)] = (
            item if type(item) in _UNCHANGING else _copied(item, memo))
    return mapping


class KeysBesideData(KeyError_):
    """Refused at start-up: a key file sits where a backup of the database would copy it."""


@dataclass(frozen=True)
class Storage:
    """The SQLAlchemy engine and keyring the application shares with projections and the integrity ledger."""

    settings: Settings
    engine: Engine
    keyring: KeyRing
    tombstones: KeyTombstones

    @property
    def reads(self) -> Reads:
        """The engine for queries: on SQLite their transactions wait for no writer (no write turn, no lock)."""
        return reader(self.engine)

    @classmethod
    def open(cls, settings: Settings, master_key: bytes | None = None) -> "Storage":
        problems = key_placement_problems(settings)
        if problems:
            raise KeysBesideData("; ".join(problems))
        engine = make_engine(settings)
        if (master_key is None and not master_key_from_environment()
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


@dataclass
class Core:
    """The application's shared parts, as the library's Application built them (api/application.py)."""

    storage: Storage
    clock: Clock  # replaced while demo loaders replay history (the application's `clock` sets it here)
    repository: Any
    recorder: Any
    mapper: Any  # seals and opens stored events (infrastructure/sealed_mapper.py)
    events: Any
    read_models: ProjectionRunner
    integrity: IntegrityLedger
    save: Callable[..., Any]  # stores events (and key rows, ledger leaves) without projecting them
    save_and_project: Callable[..., None]
    see_own_writes: Callable[[], None]
    after_save: list[Callable[[list[Any]], None]]
    background_projections: bool


class Service:
    """The base of each per-area service: the core's attributes under their usual names, and shared loads."""

    def __init__(self, core: Core) -> None:
        self.core = core

    @property
    def storage(self) -> Storage:
        return self.core.storage

    @property
    def clock(self) -> Clock:
        return self.core.clock

    @property
    def repository(self) -> Any:
        return self.core.repository

    @property
    def recorder(self) -> Any:
        return self.core.recorder

    @property
    def mapper(self) -> Any:
        return self.core.mapper

    @property
    def events(self) -> Any:
        return self.core.events

    @property
    def read_models(self) -> ProjectionRunner:
        return self.core.read_models

    @property
    def integrity(self) -> IntegrityLedger:
        return self.core.integrity

    @property
    def after_save(self) -> list[Callable[[list[Any]], None]]:
        return self.core.after_save

    @property
    def background_projections(self) -> bool:
        return self.core.background_projections

    def save(self, *objs: Any, **kwargs: Any) -> Any:
        return self.core.save(*objs, **kwargs)

    def save_and_project(self, *aggregates: Any, keys: StagedKeys | None = None,
                         unchanged: Sequence[Any] = (), absent: Sequence[UUID] = ()) -> None:
        self.core.save_and_project(*aggregates, keys=keys, unchanged=unchanged, absent=absent)

    def see_own_writes(self) -> None:
        self.core.see_own_writes()

    @property
    def users(self) -> UserDirectory:
        return UserDirectory(self.storage.engine, self.clock)

    def require(self, user: Principal, decision: Decision) -> None:
        """Refusals by role need no log entry: nothing of a file was touched."""
        if not decision.allowed:
            raise AccessDenied(decision)

    # -- loads ---------------------------------------------------------------------------------------------

    @contextmanager
    def loads_of_one_command(self, *aggregate_ids: UUID) -> Iterator[None]:
        """The loads of one command, as one moment: destroyed keys are looked for once (`KeyRing.one_look`). The key
        epoch and the events stored since each named aggregate was cached (all of them, for one not cached) are
        read together before the first load (the recorder's `read_ahead`: on PostgreSQL one query, one round trip
        instead of a ping, the epoch and one query per load; on SQLite one read transaction instead of three), the
        epoch is compared, and then the loads fast-forward (or reconstruct) from what was read. A load of anything
        else, or of an aggregate that changed in this process meanwhile, queries as usual."""
        keyring = self.storage.keyring
        with keyring.one_look():
            versions = [(aggregate_id, getattr(self._cached(aggregate_id), "version", None))
                        for aggregate_id in aggregate_ids]
            with self.recorder.read_ahead(versions) as epoch:
                keyring.notice_destructions(epoch)
                yield

    def cache_as_stored(self, aggregate: Any, key_id: str) -> None:
        """An aggregate this command has just created and stored (sealed with `key_id`): a copy is cached at the
        version stored, so the next command on it fast-forwards from there (and reads it ahead with the others
        it loads) instead of reading it whole. Any version the log holds is a sound start: a fast-forward finds
        whatever is stored after it. Dropped again at once if the key is destroyed meanwhile, in case the
        destruction's own eviction came before this copy was cached."""
        cache = self.repository.cache
        if cache is None:
            return
        cache.put(aggregate.id, copy_of(aggregate))
        if self.storage.keyring.seen_destroyed(key_id):
            try:
                cache.get(aggregate.id, evict=True)
            except KeyError:
                pass

    def _cached(self, aggregate_id: UUID) -> Any | None:
        """The aggregate as this process's cache holds it (not a copy: only for reading), or None."""
        cache = self.repository.cache
        try:
            return cache.get(aggregate_id) if cache is not None else None
        except KeyError:
            return None

    def get_worker(self, worker_id: UUID | str, expected_version: int | None = None) -> Worker:
        return self._get(Worker, worker_id, expected_version)

    def worker_name(self, worker_id: UUID | str) -> str:
        """The worker's name as it stands now, for display. The cached aggregate is read, not copied: a copy
        protects an aggregate a command goes on to change, and nothing here changes it (a page names many)."""
        return self._get(Worker, worker_id, None, copy=False).name

    def worker_names(self, worker_ids: Iterable[str]) -> dict[str, str]:
        """Names live only in the sealed events: decrypted here, for display. One query finds each worker's
        newest version; a worker whose decrypted copy in the cache is that version is named from it, the
        others are read (as get_worker reads them)."""
        worker_ids = list(worker_ids)
        wanted = {}
        for wid in set(worker_ids):
            try:
                wanted[wid] = as_uuid(wid, "worker")
            except DomainError:
                pass  # not an id: named below as before, by its first characters
        self.storage.keyring.notice_destructions()  # a key destroyed meanwhile evicts what it sealed first
        newest = self.recorder.latest_versions(list(wanted.values()))
        cache = self.repository.cache
        names = {}
        for wid in worker_ids:
            try:
                cached = cache.get(wanted[wid]) if cache is not None and wid in wanted else None
            except KeyError:
                cached = None
            if isinstance(cached, Worker) and cached.version == newest.get(wanted[wid]):
                names[wid] = cached.name
                continue
            try:
                names[wid] = self.worker_name(wid)
            except DomainError:
                names[wid] = wid[:8]
        return names

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
        require_version(aggregate, expected_version, noun)
        return aggregate

    def _get_aggregate(self, cls: type, aggregate_id: UUID | str, noun: str) -> Any:
        try:
            aggregate = self.repository.get(as_uuid(aggregate_id, noun))
        except AggregateNotFoundError:
            raise NotFound(f"no {noun} {aggregate_id}") from None
        if not isinstance(aggregate, cls):
            raise NotFound(f"no {noun} {aggregate_id}")
        return aggregate

    def _worker_key(self, aggregate_id: UUID, worker_id: UUID | str) -> StagedKeys:
        # Sealed with the worker's own key, so destroying their file destroys this too.
        keyring = self.storage.keyring
        return keyring.stage_assignment(aggregate_id, keyring.key_id_for(worker_id))


def require_version(aggregate: Any, expected_version: int | None, noun: str) -> None:
    if expected_version is not None and aggregate.version != expected_version:
        raise Conflict(f"the {noun} is at version {aggregate.version}, not {expected_version}: "
                       "reload and try again", aggregate.version, getattr(aggregate, "content_version", None),
                       getattr(aggregate, "content_sha256", None))
