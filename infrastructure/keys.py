"""Per-worker data keys, wrapped by a master key that never enters the database.

Each worker gets their own AES-256-GCM data key; every event about them is sealed with it, so that
destroying that one key makes all of it unreadable (crypto-shredding). Non-personal events (the
organisation's own) use the organisation key. The wrapped keys live in `data_keys`; which key seals
which aggregate lives in `key_assignments`.
"""

import base64
import os
import secrets
import stat
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING
from datetime import datetime, timezone
from pathlib import Path
from uuid import UUID

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap, aes_key_wrap
from sqlalchemy import Column, DateTime, Engine, Integer, LargeBinary, String, Table, insert, select, update

from infrastructure.database import metadata, reader, sharing_reads
from infrastructure.master_key import KeyError_, MasterKeyMissing, load_master_key

if TYPE_CHECKING:
    from infrastructure.key_tombstones import KeyTombstones

ORGANISATION_KEY_ID = "organisation"

data_keys = Table(
    "data_keys",
    metadata,
    Column("key_id", String(64), primary_key=True),
    Column("wrapped_key", LargeBinary, nullable=True),  # NULL once destroyed
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("destroyed_at", DateTime(timezone=True), nullable=True),
)

# Bumped by every destruction: a process that sees it move drops the keys destroyed since (and only those),
# with the aggregates they decrypted.
key_epochs = Table(
    "key_epochs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("epoch", Integer, nullable=False),
)

key_assignments = Table(
    "key_assignments",
    metadata,
    Column("originator_id", String(36), primary_key=True),
    Column("key_id", String(64), nullable=False, index=True),
)


@dataclass(frozen=True)
class StagedKeys:
    """Key rows the event store writes in the same transaction as the events they seal."""

    new_keys: list[dict]
    assignments: list[tuple[str, str]]


class KeyDestroyed(KeyError_):
    """The data key was destroyed: what it sealed is gone for good."""


class UnknownKey(KeyError_):
    pass


def create_master_key_file(path: Path, key: bytes | None = None) -> bool:
    """Creates a master key file (mode 0600) if there is none. Returns True if one was created."""
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, stat.S_IRUSR | stat.S_IWUSR)
    with os.fdopen(fd, "w") as f:
        f.write(base64.b64encode(key if key is not None else secrets.token_bytes(32)).decode() + "\n")
        f.flush()
        os.fsync(f.fileno())
    return True


# The keyrings (by id) that have looked for destroyed keys within the current `KeyRing.one_look` block.
_ONE_LOOK: ContextVar[set[int] | None] = ContextVar("svl_one_look_for_destroyed_keys", default=None)


class KeyRing:
    """Creates, unwraps, assigns and destroys data keys. Unwrapped keys are cached in memory only."""

    # How stale another process's view of destroyed keys may be, at most.
    EPOCH_CHECK_SECONDS = 1.0

    def __init__(self, engine: Engine, master_key: bytes) -> None:
        self._engine = engine
        # Lookups never take the SQLite write lock: they may run inside another writer's transaction.
        self._reader = reader(engine)
        self._master_key = master_key
        self._aeads: dict[str, AESGCM] = {}
        self._assignments: dict[str, str] = {}
        self._lock = threading.Lock()
        self._epoch = 0
        self._epoch_checked = 0.0
        self._destroyed: set[str] = set()  # as this process last read them
        # Told which keys were destroyed (here or elsewhere): e.g. the application drops their aggregates.
        self.on_keys_destroyed: list[Callable[[set[str]], None]] = []

    @property
    def master_key(self) -> bytes:
        return self._master_key

    def ensure_organisation_key(self) -> None:
        with self._engine.begin() as conn:
            exists = conn.execute(select(data_keys.c.key_id).where(data_keys.c.key_id == ORGANISATION_KEY_ID)).first()
            if exists is None:
                conn.execute(insert(data_keys).values(self._new_key_row(ORGANISATION_KEY_ID)))
            if conn.execute(select(key_epochs.c.epoch).where(key_epochs.c.id == 1)).first() is None:
                conn.execute(insert(key_epochs).values(id=1, epoch=0))
        self._epoch = self._read_epoch()
        self._destroyed = self._read_destroyed()
        self._epoch_checked = time.monotonic()

    def create_key(self) -> str:
        key_id = secrets.token_hex(16)
        with self._engine.begin() as conn:
            conn.execute(insert(data_keys).values(self._new_key_row(key_id)))
        return key_id

    def stage_new_key(self, originator_id: UUID | str) -> "StagedKeys":
        """A new data key for a new aggregate (a joining worker), written with its first events."""
        key_id = secrets.token_hex(16)
        data_key = AESGCM.generate_key(bit_length=256)
        row = {"key_id": key_id, "wrapped_key": aes_key_wrap(self._master_key, data_key),
               "created_at": datetime.now(timezone.utc)}
        with self._lock:
            self._aeads[key_id] = AESGCM(data_key)
            self._assignments[str(originator_id)] = key_id
        return StagedKeys(new_keys=[row], assignments=[(str(originator_id), key_id)])

    def stage_assignment(self, originator_id: UUID | str, key_id: str) -> "StagedKeys":
        """Seals a new aggregate with an existing key; the assignment row is written with its first events."""
        with self._lock:
            self._assignments[str(originator_id)] = key_id
        return StagedKeys(new_keys=[], assignments=[(str(originator_id), key_id)])

    def unstage(self, staged: "StagedKeys") -> None:
        """The save failed: forget what was staged, so nothing refers to keys that were never stored."""
        with self._lock:
            for originator_id, _ in staged.assignments:
                self._assignments.pop(originator_id, None)
            for row in staged.new_keys:
                self._aeads.pop(row["key_id"], None)

    def assign(self, originator_id: UUID | str, key_id: str) -> None:
        """Binds an aggregate to the key that seals its events, before its first event is stored."""
        oid = str(originator_id)
        with self._engine.begin() as conn:
            current = conn.execute(
                select(key_assignments.c.key_id).where(key_assignments.c.originator_id == oid)
            ).scalar()
            if current is None:
                conn.execute(insert(key_assignments).values(originator_id=oid, key_id=key_id))
            elif current != key_id:
                raise UnknownKey(f"aggregate {oid} is already sealed with another key")
        with self._lock:
            self._assignments[oid] = key_id

    def key_id_for(self, originator_id: UUID | str) -> str:
        oid = str(originator_id)
        with self._lock:
            cached = self._assignments.get(oid)
        if cached is not None:
            return cached
        with self._reader.connect() as conn:
            key_id = conn.execute(
                select(key_assignments.c.key_id).where(key_assignments.c.originator_id == oid)
            ).scalar()
        if key_id is None:
            raise UnknownKey(f"no data key is assigned to aggregate {oid}: refusing to store it unsealed")
        with self._lock:
            self._assignments[oid] = key_id
        return key_id

    def aead(self, key_id: str) -> AESGCM:
        if time.monotonic() - self._epoch_checked >= self.EPOCH_CHECK_SECONDS:
            self.notice_destructions()
        with self._lock:
            cached = self._aeads.get(key_id)
        if cached is not None:
            return cached
        with self._reader.connect() as conn:
            row = conn.execute(
                select(data_keys.c.wrapped_key, data_keys.c.destroyed_at).where(data_keys.c.key_id == key_id)
            ).first()
        if row is None:
            raise UnknownKey(f"data key {key_id} does not exist")
        if row.wrapped_key is None:
            raise KeyDestroyed(f"data key {key_id} was destroyed on {row.destroyed_at}")
        try:
            aead = AESGCM(aes_key_unwrap(self._master_key, row.wrapped_key))
        except InvalidUnwrap:
            raise KeyError_(f"data key {key_id} cannot be unwrapped: wrong master key?") from None
        with self._lock:
            self._aeads[key_id] = aead
        return aead

    def destroy(self, key_id: str, at: datetime) -> None:
        self.destroy_many([key_id], at)

    def destroy_many(self, key_ids: list[str], at: datetime) -> None:
        """Overwrites the wrapped keys in one transaction, tells other processes (one epoch) and forgets every
        cached copy. A key destroyed already stays as it was."""
        if ORGANISATION_KEY_ID in key_ids:
            raise KeyError_("the organisation key is never destroyed by retention")
        with self._engine.begin() as conn:
            for chunk in range(0, len(key_ids), 500):
                conn.execute(
                    update(data_keys).where(data_keys.c.key_id.in_(key_ids[chunk:chunk + 500]),
                                            data_keys.c.wrapped_key.is_not(None))
                    .values(wrapped_key=None, destroyed_at=at)
                )
            conn.execute(update(key_epochs).where(key_epochs.c.id == 1).values(epoch=key_epochs.c.epoch + 1))
        # The epoch is left as it was: reading it now could skip a destruction another process made meanwhile.
        self._drop(set(key_ids))

    def export_data_key(self, key_id: str) -> bytes:
        """The raw data key, for a bundle that proves decrypted content matches its ciphertext. The one
        deliberate way a key leaves the keyring; callers authorise and log the read first."""
        with self._reader.connect() as conn:
            row = conn.execute(select(data_keys.c.wrapped_key, data_keys.c.destroyed_at)
                               .where(data_keys.c.key_id == key_id)).first()
        if row is None:
            raise UnknownKey(f"data key {key_id} does not exist")
        if row.wrapped_key is None:
            raise KeyDestroyed(f"data key {key_id} was destroyed on {row.destroyed_at}")
        return aes_key_unwrap(self._master_key, row.wrapped_key)

    def is_destroyed(self, key_id: str) -> bool:
        with self._reader.connect() as conn:
            row = conn.execute(select(data_keys.c.wrapped_key).where(data_keys.c.key_id == key_id)).first()
        return row is not None and row.wrapped_key is None

    def wrapped(self, key_id: str) -> bytes | None:
        with self._reader.connect() as conn:
            return conn.execute(select(data_keys.c.wrapped_key).where(data_keys.c.key_id == key_id)).scalar()

    def rewrap(self, new_master_key: bytes) -> int:
        """Wraps every live data key under a new master key, in one transaction. Destroyed keys stay
        destroyed; a backup taken before this can no longer be unwrapped with the new key. Every process
        serving this database must be stopped first: each holds the old master key in memory."""
        if len(new_master_key) != 32:
            raise MasterKeyMissing("a master key must be 32 bytes (AES-256)")
        with self._engine.begin() as conn:
            rows = conn.execute(select(data_keys.c.key_id, data_keys.c.wrapped_key)
                                .where(data_keys.c.wrapped_key.is_not(None))).all()
            for row in rows:
                try:
                    data_key = aes_key_unwrap(self._master_key, row.wrapped_key)
                except InvalidUnwrap:
                    raise KeyError_(f"data key {row.key_id} cannot be unwrapped with the current master key: "
                                    "nothing was rewrapped") from None
                conn.execute(update(data_keys).where(data_keys.c.key_id == row.key_id)
                             .values(wrapped_key=aes_key_wrap(new_master_key, data_key)))
        self._master_key = new_master_key
        return len(rows)

    @contextmanager
    def one_look(self) -> Iterator[None]:
        """Within this block (the loads of one command) destroyed keys are looked for once, at the first load,
        not again at each: a command's loads are one moment, as a destruction just after its last load would be
        no different from one just before it. A command that loads the record and the supervisee's file reads
        the epoch once (on PostgreSQL a checkout, its ping and the SELECT fewer)."""
        token = _ONE_LOOK.set(set())
        try:
            yield
        finally:
            _ONE_LOOK.reset(token)

    def notice_destructions(self, epoch: int | None = None) -> set[str]:
        """One small read: if any process destroyed keys since this one last looked, drops those keys (and
        only those) from the cache and tells the listeners. Called before every aggregate is handed out, so a
        file destroyed by another process is never decrypted here from a cached key (within `one_look`, once
        for the block). `epoch`: the epoch as the caller has just read it (in the same query as the events it is
        about to hand out), instead of reading it here. Returns the keys dropped."""
        looked = _ONE_LOOK.get()
        if looked is not None:
            if id(self) in looked:
                return set()
            looked.add(id(self))
        self._epoch_checked = time.monotonic()
        if epoch is None:
            epoch = self._read_epoch()
        if epoch == self._epoch:
            return set()
        destroyed = self._read_destroyed()
        self._epoch = epoch
        fresh = destroyed - self._destroyed
        self._drop(fresh)
        return fresh

    def seen_destroyed(self, key_id: str) -> bool:
        """Whether this process has seen the key destroyed (here, or noticed from another process)."""
        with self._lock:
            return key_id in self._destroyed

    def originators_sealed_by(self, key_ids: set[str]) -> list[str]:
        """The aggregates this process knows to be sealed with these keys."""
        with self._lock:
            return [oid for oid, kid in self._assignments.items() if kid in key_ids]

    def _drop(self, key_ids: set[str]) -> None:
        if not key_ids:
            return
        with self._lock:
            self._destroyed |= key_ids
            for key_id in key_ids:
                self._aeads.pop(key_id, None)
        for listener in self.on_keys_destroyed:
            listener(key_ids)

    def _read_epoch(self) -> int:
        """Runs before every aggregate is handed out, so it is the cheapest read there is: one SELECT on a pooled
        connection (pinged first on PostgreSQL, as every checkout is), outside any transaction, which one row
        needs none of. Through SQLAlchemy's Connection it took ~8x the time, and on PostgreSQL a BEGIN and a
        ROLLBACK besides, each a round trip. Within a request on PostgreSQL it is read on the connection the
        request's reads share (autocommit there: no BEGIN, no ROLLBACK), saving a checkout and its ping."""
        postgres = self._engine.dialect.name == "postgresql"
        if postgres and sharing_reads():
            with self._reader.connect() as shared:
                return shared.exec_driver_sql("SELECT epoch FROM key_epochs WHERE id = 1").scalar() or 0
        connection = self._engine.raw_connection()
        try:
            # SQLite's connections already run a lone statement outside a transaction (isolation_level None).
            if postgres:
                connection.driver_connection.autocommit = True
            try:
                cursor = connection.cursor()
                cursor.execute("SELECT epoch FROM key_epochs WHERE id = 1")
                row = cursor.fetchone()
                cursor.close()
            finally:
                if postgres:
                    connection.driver_connection.autocommit = False
        finally:
            connection.close()
        return (row[0] if row else 0) or 0

    def _read_destroyed(self) -> set[str]:
        with self._reader.connect() as conn:
            return set(conn.execute(select(data_keys.c.key_id).where(data_keys.c.wrapped_key.is_(None))).scalars())

    def forget(self, key_id: str) -> None:
        with self._lock:
            self._aeads.pop(key_id, None)

    def _new_key_row(self, key_id: str) -> dict:
        return {
            "key_id": key_id,
            "wrapped_key": aes_key_wrap(self._master_key, AESGCM.generate_key(bit_length=256)),
            "created_at": datetime.now(timezone.utc),
        }


def reconcile_destroyed_keys(keyring: KeyRing, tombstones: "KeyTombstones") -> list[str]:
    """At start-up: destroy again any key the tombstones list but the database still holds (a restored
    backup), and list any key the database destroyed that the tombstones lack. Returns re-destroyed ids."""
    from infrastructure.key_tombstones import Tombstone

    listed = {stone.key_id: stone for stone in tombstones.read()}
    with keyring._reader.connect() as conn:
        rows = conn.execute(select(data_keys.c.key_id, data_keys.c.wrapped_key, data_keys.c.destroyed_at)).all()
    resurrected = [r.key_id for r in rows if r.key_id in listed and r.wrapped_key is not None]
    for key_id in resurrected:
        keyring.destroy(key_id, datetime.fromisoformat(listed[key_id].destroyed_at))
    missing = [Tombstone(r.key_id, _iso(r.destroyed_at), "destroyed in the database")
               for r in rows if r.wrapped_key is None and r.key_id not in listed]
    if missing:
        tombstones.add(missing)
    return resurrected


def _iso(moment: datetime | None) -> str:
    if moment is None:
        return datetime.now(timezone.utc).isoformat()
    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).isoformat()
