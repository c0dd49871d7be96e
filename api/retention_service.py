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

from sqlalchemy import bindparam, insert, select, text

from api.errors import NotFound
from domain.authorisation import Decision, Role, decide_destruction_review, decide_pack_role, decide_role
from domain.destruction_proposal import DestructionProposal
from domain.errors import DomainError, OutOfOrder
from domain.policy import PolicyPack
from domain.retention import FileDestruction, LegalHold, destruction_id, retention_status
from domain.schedule_rules import archival_deadline, destruction_date
from infrastructure.backup import scrub_key_bytes
from infrastructure.checkpoints import SigningKeyMissing
from infrastructure.destruction_certificates import checkpoint_summary, purged_events, write_certificate
from infrastructure.key_tombstones import Tombstone
from infrastructure.ledger_verify import Purge
from infrastructure.users import Principal
from infrastructure.policy_packs import load_pack_by_name
from projections.retention_schedule import destruction_proposals, legal_holds, retention_files
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
    status: str  # would_destroy | destroyed | resumed_and_destroyed | skipped_on_hold | skipped_<schedule status>

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
        self.read_models.catch_up()
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

    # -- disposition review: propose, then a second person approves or rejects ----------------------------

    def propose_destruction(self, user: Principal, *, as_of: date | None = None) -> DestructionProposal:
        """Fixes the list of files due on `as_of` (default today) and not on hold, for a second person to review."""
        review = self.policy_pack.destruction_approval
        self.require(user, decide_pack_role(user.reader, review.propose, "propose files for destruction"))
        self.policy_pack.retention_years_required()  # refuses under a pack with no retention period
        as_of = as_of or self.clock().date()
        due = [f for f in self.retention_schedule(as_of) if f.status == "due"]
        proposal = DestructionProposal.propose(
            as_of=as_of, files=[{"worker_id": f.worker_id, "destruction_date": f.destruction_date.isoformat(),
                                 "rule": f.rule or self._rule_text(self.policy_pack)} for f in due],
            pack=self.policy_pack.short_name, actor=user.actor, proposer_user=user.user_id, timestamp=self.clock())
        self.save_and_project(proposal, keys=self.storage.keyring.stage_assignment(proposal.id, "organisation"))
        return proposal

    def approve_destruction(self, user: Principal, proposal_id: UUID | str, *, rationale: str) -> DestructionProposal:
        return self._review(user, proposal_id, rationale, approve=True)

    def reject_destruction(self, user: Principal, proposal_id: UUID | str, *, rationale: str) -> DestructionProposal:
        return self._review(user, proposal_id, rationale, approve=False)

    def _review(self, user: Principal, proposal_id: UUID | str, rationale: str, *, approve: bool) -> DestructionProposal:
        review = self.policy_pack.destruction_approval
        step = "approve a destruction proposal" if approve else "reject a destruction proposal"
        self.require(user, decide_pack_role(user.reader, review.approve, step))
        proposal = self.get_proposal(proposal_id)
        self.require(user, decide_destruction_review(user.reader, review.approve, proposal.proposer_user, step))
        decide = proposal.approve if approve else proposal.reject
        decide(rationale, actor=user.actor, user=user.user_id, timestamp=self.clock())
        self.save_and_project(proposal)
        return proposal

    def get_proposal(self, proposal_id: UUID | str) -> DestructionProposal:
        try:
            proposal = self.repository.get(UUID(str(proposal_id)))
        except (ValueError, AggregateNotFoundError):
            raise NotFound(f"no destruction proposal {proposal_id}") from None
        if not isinstance(proposal, DestructionProposal):
            raise NotFound(f"no destruction proposal {proposal_id}")
        return proposal

    def destruction_proposals(self, user: Principal) -> list[dict]:
        """Every proposal, newest first (ids, dates, counts and who decided; the lists are in each proposal)."""
        review = self.policy_pack.destruction_approval
        self.require(user, decide_pack_role(user.reader, (*review.propose, *review.approve),
                                            "see destruction proposals"))
        self.read_models.catch_up()
        with self.storage.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(
                select(destruction_proposals).order_by(destruction_proposals.c.proposed_at.desc()))]

    def read_proposal(self, user: Principal, proposal_id: UUID | str) -> DestructionProposal:
        review = self.policy_pack.destruction_approval
        self.require(user, decide_pack_role(user.reader, (*review.propose, *review.approve),
                                            "see destruction proposals"))
        return self.get_proposal(proposal_id)

    def _latest_approved_proposal(self) -> str | None:
        self.read_models.catch_up()
        with self.storage.engine.connect() as conn:
            return conn.execute(select(destruction_proposals.c.proposal_id)
                                .where(destruction_proposals.c.status == "approved")
                                .order_by(destruction_proposals.c.decided_at.desc()).limit(1)).scalar()

    # -- the run ---------------------------------------------------------------------------------------------

    def run_retention(self, user: Principal, proposal_id: UUID | str | None = None, *, as_of: date | None = None,
                      dry_run: bool = False, purge_ciphertext: bool = False,
                      progress: Any = None) -> list[DestructionOutcome]:
        """Destroys the files of an approved proposal (default: the latest approved one not yet run) that are still
        due and not on hold, and finishes any destruction a crash interrupted. A dry run lists what is due on
        `as_of` (default today) and needs no proposal."""
        self.require(user, decide_role(user.reader, RETENTION_ROLES, "run retention"))
        self.policy_pack.retention_years_required()  # refuses under a pack with no retention period
        if dry_run:
            due = [f for f in self.retention_schedule(as_of or self.clock().date())
                   if f.status in ("due", "destruction_incomplete")]
            return self._report([self._plan(item) for item in due], progress)
        self.integrity.require_writable()
        if as_of is not None:
            raise DomainError("a run destroys an approved proposal's list, judged on the proposal's day: "
                              "as_of is for a dry run only")
        proposal_id = proposal_id or self._latest_approved_proposal()
        proposal = self.get_proposal(proposal_id) if proposal_id else None
        try:
            self.integrity.signing_key()
        except SigningKeyMissing as exc:
            raise DomainError(f"every destruction is certified with the organisation's signing key: {exc}") from None
        schedule = self.retention_schedule(proposal.as_of if proposal else self.clock().date())
        unfinished = [f for f in schedule if f.status == "destruction_incomplete"]
        if proposal is None:
            if not unfinished:
                raise OutOfOrder("no approved destruction proposal to run: propose the files due "
                                 "(`svl retention propose`), and have a second authorised person approve the list")
            return self._report([self._destroy(item, item.destruction_date, user.actor, purge_ciphertext, None)
                                 for item in unfinished], progress)
        proposal.require_approved()
        approved = set(proposal.worker_ids)
        outcomes, skipped = [], []
        for item in schedule:
            if item.status == "destruction_incomplete":
                outcomes.append(self._destroy(item, proposal.as_of, user.actor, purge_ciphertext, proposal))
            elif item.worker_id not in approved:
                continue
            elif item.status == "due":
                outcomes.append(self._destroy(item, proposal.as_of, user.actor, purge_ciphertext, proposal))
            else:  # a hold placed since the proposal, or destroyed already: never destroyed by this run
                skipped.append({"worker_id": item.worker_id, "status": item.status})
                outcomes.append(self._skipped(item))
            if progress:
                progress(outcomes[-1])
        destroyed = [o.worker_id for o in outcomes if o.status.endswith("destroyed") and o.worker_id in approved]
        proposal.record_execution(destroyed=destroyed, skipped=skipped, actor=user.actor, timestamp=self.clock())
        self.save_and_project(proposal)
        return outcomes

    @staticmethod
    def _report(outcomes: list[DestructionOutcome], progress: Any) -> list[DestructionOutcome]:
        for outcome in outcomes:
            if progress:
                progress(outcome)
        return outcomes

    @staticmethod
    def _skipped(item: ScheduledFile) -> DestructionOutcome:
        return DestructionOutcome(item.worker_id, [], 0, item.rule or "", item.destruction_date or date.min,
                                  "skipped_on_hold" if item.status == "held" else f"skipped_{item.status}")

    # -- destruction steps -----------------------------------------------------------------------------

    def _plan(self, item: ScheduledFile) -> DestructionOutcome:
        key_id = self.storage.keyring.key_id_for(item.worker_id)
        return DestructionOutcome(item.worker_id, self._record_ids(item.worker_id), self._count_events(key_id),
                                  item.rule or "", item.destruction_date or date.min, "would_destroy")

    def _destroy(self, item: ScheduledFile, as_of: date, actor: str, purge_ciphertext: bool,
                 proposal: DestructionProposal | None) -> DestructionOutcome:
        destruction, resumed = self._started_destruction(item, as_of, actor, proposal)
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
        with self.storage.engine.connect() as conn:
            rows = conn.execute(select(purged_events)).all()
        return [Purge(rule=r.rule, on=r.purged_on.isoformat(), notification_id=r.notification_id,
                      state_sha256=bytes(r.state_sha256)) for r in rows]

    def _started_destruction(self, item: ScheduledFile, as_of: date, actor: str,
                             proposal: DestructionProposal | None) -> tuple[FileDestruction, bool]:
        try:
            existing = self.repository.get(destruction_id(item.worker_id))
        except AggregateNotFoundError:
            existing = None
        if existing is not None:
            return existing, True
        if item.active_holds:
            raise DomainError(f"the file of worker {item.worker_id} is on legal hold")
        if proposal is None:
            raise OutOfOrder(f"the file of worker {item.worker_id} is on no approved destruction proposal")
        key_id = self.storage.keyring.key_id_for(item.worker_id)
        destruction = FileDestruction.start(
            worker_id=item.worker_id, key_id=key_id, record_ids=self._record_ids(item.worker_id),
            event_count=self._count_events(key_id), rule=item.rule or self._rule_text(self.policy_pack),
            pack=self.policy_pack.short_name, leaving_date=item.leaving_date, destruction_date=item.destruction_date,
            as_of=as_of, checkpoint_before=checkpoint_summary(self.integrity.checkpoint().note),
            actor=actor, timestamp=self.clock(), approval=approval_of(proposal))
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
        self.read_models.catch_up()
        with self.storage.engine.connect() as conn:
            return conn.execute(select(retention_files.c.state)
                                .where(retention_files.c.worker_id == worker_id)).scalar()

    @staticmethod
    def _rule_text(pack: PolicyPack) -> str:
        years = pack.retention_years_required()
        return (f"{pack.short_name}: retention.years_after_employment_ends = {years} "
                f"({pack.retention.source or pack.retention.note})")


def approval_of(proposal: DestructionProposal) -> dict:
    """What a destruction records of the review it was approved in (and its certificate states)."""
    return {"proposal": str(proposal.id), "proposed_by": proposal.proposed_by,
            "proposed_at": proposal.created_on.isoformat(), "approved_by": proposal.decided_by,
            "approved_at": proposal.decided_at.isoformat() if proposal.decided_at else None,
            "rationale": proposal.rationale}


def _drill_pause(step: str) -> None:
    """For the kill drill only: with SVL_DRILL_PAUSE_AT=<step> the run announces the step and waits to be
    killed, so a test can SIGKILL it at a known point. Unset in normal use: nothing happens."""
    if os.environ.get("SVL_DRILL_PAUSE_AT") == step:
        print(f"drill: paused after {step}", file=sys.stderr, flush=True)
        time.sleep(120)


__all__ = ["RetentionService", "ScheduledFile", "DestructionOutcome"]
