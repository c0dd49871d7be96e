"""Retention: archiving leavers, legal holds, the schedule, and destruction by crypto-shredding.

A destruction runs in steps that are each safe to repeat, so a run killed at any point is finished by
the next one: (1) `DestructionStarted` is stored (the read models drop the file); (2) the key is listed
in the tombstones outside the database; (3) the data key is destroyed; (4) optionally the ciphertext is
purged (the ledger keeps its leaf hashes); (5) the database's free pages and WAL are scrubbed;
(6) `DestructionCompleted` is stored.
"""

import os
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import date
from functools import cached_property
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
import hashlib

from sqlalchemy import insert, select, text

from api.errors import NotFound
from domain.authorisation import Decision, Role, decide_pack_role, decide_role
from domain.errors import DomainError, OutOfOrder
from domain.policy import PolicyPack
from domain.retention import FileDestruction, LegalHold, destruction_id, retention_status
from domain.schedule_rules import archival_deadline, destruction_date
from infrastructure.backup import scrub_key_bytes
from infrastructure.checkpoints import SigningKeyMissing
from infrastructure.destruction_certificates import checkpoint_summary, lawful_purges, purged_events, write_certificate
from infrastructure.key_tombstones import Tombstone
from infrastructure.ledger_verify import Purge
from infrastructure.users import Principal
from infrastructure.policy_packs import load_pack_by_name
from projections.retention_schedule import legal_holds, retention_files
from projections.schema import current_records


@dataclass(frozen=True)
class ScheduledFile:
    worker_id: str
    state: str
    status: str
    leaving_date: date | None
    archival_deadline: date | None
    destruction_date: date | None
    rule: str | None
    active_holds: int
    destroyed_at: str | None

    def to_dict(self) -> dict:
        return {k: (v.isoformat() if isinstance(v, date) else v) for k, v in asdict(self).items()}


@dataclass(frozen=True)
class DestructionOutcome:
    worker_id: str
    record_ids: list[str]
    event_count: int
    rule: str
    destruction_date: date
    status: str  # would_destroy | destroyed | resumed_and_destroyed

    def to_dict(self) -> dict:
        return {**asdict(self), "destruction_date": self.destruction_date.isoformat()}


RETENTION_ROLES = frozenset({Role.DPO, Role.ADMINISTRATOR})


class RetentionService:
    """Mixed into SupervisionLedger."""

    # What this service uses of the application it is part of (api/application.py).
    storage: Any
    clock: Callable[[], Any]
    read_models: Any
    repository: Any
    integrity: Any
    recorder: Any
    get_worker: Callable[..., Any]
    save_and_project: Callable[..., None]
    require: Callable[[Principal, Decision], None]
    see_own_writes: Callable[[], None]

    @cached_property
    def policy_pack(self) -> PolicyPack:
        return load_pack_by_name(self.storage.settings.policy_pack)

    # -- leavers -----------------------------------------------------------------------------------

    def archive_leaver(self, user: Principal, worker_id: UUID | str) -> date:
        """Archives a leaver's file read-only with its stated destruction date (leaving date + the pack's years)."""
        self.require(user, decide_role(user.reader, RETENTION_ROLES, "archive a leaver's file"))
        actor = user.actor
        worker = self.get_worker(worker_id)
        if worker.leaving_date is None:
            raise OutOfOrder("only a leaver's file can be archived: record the leaving date first")
        pack = self.policy_pack
        due = destruction_date(pack, worker.leaving_date)
        worker.archive(due, self._rule_text(pack), actor=actor, timestamp=self.clock())
        self.save_and_project(worker)
        return due

    # -- legal holds ---------------------------------------------------------------------------------

    def place_hold(self, user: Principal, worker_id: UUID | str, *, kind: str, reason: str,
                   reference: str) -> LegalHold:
        self.require(user, decide_pack_role(user.reader, self.policy_pack.legal_holds.place, "place a legal hold"))
        actor = user.actor
        state = self._file_state(str(worker_id))
        if state is None:
            raise NotFound(f"no worker {worker_id}")
        if state in ("destroying", "destroyed"):
            raise OutOfOrder(f"the file of worker {worker_id} is {state}: it can no longer be held")
        hold = LegalHold.place(worker_id=str(worker_id), kind=kind, reason=reason, reference=reference, actor=actor,
                               timestamp=self.clock())
        keys = self.storage.keyring.stage_assignment(hold.id, "organisation")
        self.save_and_project(hold, keys=keys)
        return hold

    def release_hold(self, user: Principal, hold_id: UUID | str, *, reason: str) -> LegalHold:
        self.require(user, decide_pack_role(user.reader, self.policy_pack.legal_holds.release,
                                            "release a legal hold"))
        hold = self.get_hold(hold_id)
        hold.release(reason, actor=user.actor, timestamp=self.clock())
        self.save_and_project(hold)
        return hold

    def get_hold(self, hold_id: UUID | str) -> LegalHold:
        try:
            hold = self.repository.get(UUID(str(hold_id)))
        except (ValueError, AggregateNotFoundError):
            raise NotFound(f"no legal hold {hold_id}") from None
        if not isinstance(hold, LegalHold):
            raise NotFound(f"no legal hold {hold_id}")
        return hold

    def list_holds(self, user: Principal, worker_id: UUID | str | None = None) -> list[dict]:
        pack = self.policy_pack.legal_holds
        self.require(user, decide_pack_role(user.reader, (*pack.place, *pack.release), "see legal holds"))
        return self.holds(worker_id)

    def holds(self, worker_id: UUID | str | None = None) -> list[dict]:
        self.see_own_writes()
        query = select(legal_holds).order_by(legal_holds.c.placed_at)
        if worker_id is not None:
            query = query.where(legal_holds.c.worker_id == str(worker_id))
        with self.storage.engine.connect() as conn:
            rows = [dict(r._mapping) for r in conn.execute(query)]
        for row in rows:
            hold = self.repository.get(UUID(row["hold_id"]))
            row.update(reason=hold.reason, reference=hold.reference, release_reason=hold.release_reason)
        return rows

    # -- the schedule ----------------------------------------------------------------------------------

    def retention_schedule(self, as_of: date) -> list[ScheduledFile]:
        self.read_models.refresh()
        pack = self.policy_pack
        with self.storage.engine.connect() as conn:
            rows = conn.execute(select(retention_files).order_by(retention_files.c.destruction_date,
                                                                 retention_files.c.worker_id)).all()
        files = []
        for r in rows:
            deadline = archival_deadline(pack, r.leaving_date) if r.leaving_date else None
            status = retention_status(state=r.state, leaving_date=r.leaving_date, destruction_date=r.destruction_date,
                                      archival_deadline=deadline, active_holds=r.active_holds,
                                      destroyed=r.state == "destroyed", as_of=as_of)
            if r.state == "destroying":
                status = "destruction_incomplete"
            files.append(ScheduledFile(r.worker_id, r.state, status, r.leaving_date, deadline, r.destruction_date,
                                       r.rule, r.active_holds, r.destroyed_at.isoformat() if r.destroyed_at else None))
        return files

    def run_retention(self, user: Principal, *, as_of: date, dry_run: bool = False, purge_ciphertext: bool = False,
                      progress: Any = None) -> list[DestructionOutcome]:
        """Destroys every file due on `as_of` and not on hold; finishes any destruction a crash interrupted."""
        self.require(user, decide_role(user.reader, RETENTION_ROLES, "run retention"))
        actor = user.actor
        today = self.clock().date()
        if as_of > today and not dry_run:
            raise DomainError(f"--as-of {as_of} is in the future: only a dry run may look ahead (today is {today})")
        self.policy_pack.retention_years_required()  # refuses under a pack with no retention period
        if not dry_run:
            try:
                self.integrity.signing_key()
            except SigningKeyMissing as exc:
                raise DomainError(f"every destruction is certified with the organisation's signing key: {exc}") from None
        due = [f for f in self.retention_schedule(as_of) if f.status in ("due", "destruction_incomplete")]
        outcomes = []
        for item in due:
            outcome = self._plan(item) if dry_run else self._destroy(item, as_of, actor, purge_ciphertext)
            outcomes.append(outcome)
            if progress:
                progress(outcome)
        return outcomes

    # -- destruction steps -----------------------------------------------------------------------------

    def _plan(self, item: ScheduledFile) -> DestructionOutcome:
        key_id = self.storage.keyring.key_id_for(item.worker_id)
        return DestructionOutcome(item.worker_id, self._record_ids(item.worker_id), self._count_events(key_id),
                                  item.rule or "", item.destruction_date or date.min, "would_destroy")

    def _destroy(self, item: ScheduledFile, as_of: date, actor: str, purge_ciphertext: bool) -> DestructionOutcome:
        destruction, resumed = self._started_destruction(item, as_of, actor)
        _drill_pause("started")
        keyring = self.storage.keyring
        at = self.clock()
        self.storage.tombstones.add([Tombstone(destruction.key_id, at.isoformat(), destruction.rule)])
        keyring.destroy(destruction.key_id, at)
        _drill_pause("key_destroyed")
        if purge_ciphertext:
            self._purge_ciphertext(destruction.key_id, destruction.rule, at.date())
        self._scrub_storage()
        certificate_sha256 = self._certify(destruction, at)
        destruction.complete(ciphertext_purged=purge_ciphertext, checkpoint_after=None,
                             certificate_sha256=certificate_sha256, actor=actor,
                             timestamp=self.clock())
        self.save_and_project(destruction)
        return DestructionOutcome(destruction.worker_id, destruction.record_ids, destruction.event_count,
                                  destruction.rule, destruction.destruction_date,
                                  "resumed_and_destroyed" if resumed else "destroyed")

    def _certify(self, destruction: FileDestruction, destroyed_at: Any) -> str:
        """Signs the ledger after the key is gone and writes the certificate: before, after, and the proof
        that the ledger only grew in between."""
        integrity = self.integrity
        before = destruction.checkpoint_before
        after = checkpoint_summary(integrity.checkpoint().note)
        proof = integrity.consistency(before["tree_size"], after["tree_size"])["proof"]
        _, digest = write_certificate(
            directory=self.storage.settings.certificate_dir, key=integrity.signing_key(),
            origin=integrity.origin, destruction=destruction, destroyed_at=destroyed_at,
            checkpoint_before=before, checkpoint_after=after, consistency_proof=proof)
        return digest

    def certificate_path(self, worker_id: str) -> Any:
        return self.storage.settings.certificate_dir / f"destruction-{worker_id}.json"

    def lawful_purges(self) -> list[Purge]:
        """For `svl verify`: each purged event with its ciphertext's digest, so its leaf is still rechecked."""
        return lawful_purges(self.storage.engine)

    def _started_destruction(self, item: ScheduledFile, as_of: date, actor: str) -> tuple[FileDestruction, bool]:
        try:
            existing = self.repository.get(destruction_id(item.worker_id))
        except AggregateNotFoundError:
            existing = None
        if existing is not None:
            return existing, True
        if item.active_holds:
            raise DomainError(f"the file of worker {item.worker_id} is on legal hold")
        key_id = self.storage.keyring.key_id_for(item.worker_id)
        destruction = FileDestruction.start(
            worker_id=item.worker_id, key_id=key_id, record_ids=self._record_ids(item.worker_id),
            event_count=self._count_events(key_id), rule=item.rule or self._rule_text(self.policy_pack),
            pack=self.policy_pack.short_name, leaving_date=item.leaving_date, destruction_date=item.destruction_date,
            as_of=as_of, checkpoint_before=checkpoint_summary(self.integrity.checkpoint().note),
            actor=actor, timestamp=self.clock())
        keys = self.storage.keyring.stage_assignment(destruction.id, "organisation")
        self.save_and_project(destruction, keys=keys)
        return destruction, False

    def _purge_ciphertext(self, key_id: str, rule: str, on: date) -> None:
        """Empties the stored bytes of every event sealed with the destroyed key. Each row, its ledger leaf
        and the digest of what it held stay, so `svl verify` still recomputes the leaf exactly."""
        events = self.integrity.events
        topic = f"svl:sealed:v1:{key_id}"
        with self.storage.engine.begin() as conn:
            rows = conn.execute(text(f"SELECT {events.nid} AS nid, originator_id, state FROM {events.qualified} "
                                     "WHERE topic = :topic"), {"topic": topic}).all()
            emptied = [r for r in rows if bytes(r.state)]
            if emptied:
                conn.execute(insert(purged_events), [
                    {"notification_id": r.nid, "originator_id": str(UUID(str(r.originator_id))),
                     "state_sha256": hashlib.sha256(bytes(r.state)).digest(), "rule": rule, "purged_on": on}
                    for r in emptied])
                conn.execute(text(f"UPDATE {events.qualified} SET state = :empty WHERE topic = :topic"),
                             {"empty": b"", "topic": topic})

    def _scrub_storage(self) -> None:
        """Overwritten key bytes must not linger in SQLite's WAL or PostgreSQL's dead tuples."""
        scrub_key_bytes(self.storage.engine, self.storage.settings)
        if not self.storage.settings.is_sqlite:
            # Purged ciphertext, likewise.
            with self.storage.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql(f"VACUUM {self.recorder.events_table_name}")

    # -- lookups -----------------------------------------------------------------------------------------

    def _record_ids(self, worker_id: str) -> list[str]:
        with self.storage.engine.connect() as conn:
            return sorted(conn.execute(select(current_records.c.record_id)
                                       .where(current_records.c.supervisee_id == worker_id)).scalars())

    def _count_events(self, key_id: str) -> int:
        """Every stored event sealed with the worker's key: their file, their records, their sessions."""
        events = self.integrity.events
        with self.storage.engine.connect() as conn:
            return conn.execute(text(f"SELECT COUNT(*) FROM {events.qualified} WHERE topic = :topic"),
                                {"topic": f"svl:sealed:v1:{key_id}"}).scalar_one()

    def _file_state(self, worker_id: str) -> str | None:
        self.read_models.refresh()
        with self.storage.engine.connect() as conn:
            return conn.execute(select(retention_files.c.state)
                                .where(retention_files.c.worker_id == worker_id)).scalar()

    @staticmethod
    def _rule_text(pack: PolicyPack) -> str:
        years = pack.retention_years_required()
        return (f"{pack.short_name}: retention.years_after_employment_ends = {years} "
                f"({pack.retention.source or pack.retention.note})")


def _drill_pause(step: str) -> None:
    """For the kill drill only: with SVL_DRILL_PAUSE_AT=<step> the run announces the step and waits to be
    killed, so a test can SIGKILL it at a known point. Unset in normal use: nothing happens."""
    if os.environ.get("SVL_DRILL_PAUSE_AT") == step:
        print(f"drill: paused after {step}", file=sys.stderr, flush=True)
        time.sleep(120)


__all__ = ["RetentionService", "ScheduledFile", "DestructionOutcome"]
