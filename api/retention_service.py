"""Retention: archiving leavers, legal holds, the schedule, and destruction by crypto-shredding.

Nothing is destroyed until one authorised person has proposed the list of files due and a second has approved
it. A run destroys the approved files together, in steps that are each safe to repeat, so a run killed at any
point is finished by the next one: (1) a checkpoint is signed and every `DestructionStarted` is stored (the read
models drop the files); (2) the keys are appended to the tombstones outside the database; (3) the data keys are
destroyed; (4) optionally the ciphertext is purged (the ledger keeps its leaf hashes); (5) the database's free
pages and WAL are scrubbed; (6) a second checkpoint is signed and each file's certificate written; (7) every
`DestructionCompleted` is stored.
"""

import os
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from sqlalchemy import insert, select

from api.core import Core, Service
from api.errors import Conflict, Destroyed, NotFound
from api.policy_service import PolicyService
from api.ids import as_uuid
from domain.authorisation import Role, decide_destruction_review, decide_pack_role, decide_role
from domain.destruction_proposal import PERSONAL, DestructionProposal, ListedClass, listed_class
from domain.errors import DomainError, OutOfOrder
from domain.policy import PolicyPack
from domain.retention import FileDestruction, LegalHold, destruction_id, retention_status
from domain.schedule_rules import archival_deadline, destruction_date
from infrastructure.backup import scrub_key_bytes
from infrastructure.checkpoints import SigningKeyMissing
from infrastructure.destruction_certificates import (
    checkpoint_summary, destruction_event, lawful_purges, purged_events, record_certificate_name,
    write_certificate,
)
from infrastructure.file_events import count_events, empty_states, originators_by_key, stored_events
from infrastructure.key_tombstones import Tombstone
from infrastructure.key_holders import other_holders
from infrastructure.key_rotation import rotate_master_key as rotate_key
from infrastructure.keys import KeyDestroyed, KeyError_, StagedKeys
from infrastructure.master_key import load_master_key, master_key_from_environment
from infrastructure.ledger_verify import Purge
from infrastructure.merkle import inclusion_proofs
from infrastructure.users import Principal
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
# A run whose files change while it starts (a hold placed at that moment) judges them again, this many times.
RUN_ATTEMPTS = 3


class FileChangedMeanwhile(Conflict):
    """A file the run decided to destroy changed before its destruction started: nothing was started."""


class RetentionService(Service):
    """Archiving leavers, legal holds, the schedule, destruction and its certificates. Uses the core and policy."""

    def __init__(self, core: Core, policy: PolicyService) -> None:
        super().__init__(core)
        self.policy = policy

    # -- leavers -----------------------------------------------------------------------------------

    def archive_leaver(self, user: Principal, worker_id: UUID | str) -> date:
        """Archives a leaver's file read-only with its stated destruction date (leaving date + the pack's years)."""
        self.require(user, decide_role(user.reader, RETENTION_ROLES, "archive a leaver's file"))
        actor = user.actor
        worker = self.get_worker(worker_id)
        if worker.leaving_date is None:
            raise OutOfOrder("only a leaver's file can be archived: record the leaving date first")
        pack = self.policy.policy_pack
        due = destruction_date(pack, worker.leaving_date)
        worker.archive(due, self._rule_text(pack), actor=actor, timestamp=self.clock())
        self.save_and_project(worker)
        return due

    # -- legal holds ---------------------------------------------------------------------------------

    def place_hold(self, user: Principal, worker_id: UUID | str, *, kind: str, reason: str,
                   reference: str) -> LegalHold:
        self.require(user, decide_pack_role(user.reader, self.policy.policy_pack.legal_holds.place, "place a legal hold"))
        actor = user.actor
        state = self._file_state(str(worker_id))
        if state is None:
            raise NotFound(f"no worker {worker_id}")
        if state in ("destroying", "destroyed"):
            raise OutOfOrder(f"the file of worker {worker_id} is {state}: it can no longer be held")
        try:
            worker = self.get_worker(worker_id)
        except Destroyed:
            raise OutOfOrder(f"the file of worker {worker_id} is destroyed: it can no longer be held") from None
        at = self.clock()
        hold = LegalHold.place(worker_id=str(worker_id), kind=kind, reason=reason, reference=reference, actor=actor,
                               timestamp=at)
        worker.note_hold(str(hold.id), actor=actor, timestamp=at)
        keys = self.storage.keyring.stage_assignment(hold.id, "organisation")
        # Stored only if no destruction of the file has started meanwhile; a run that decided on the file before
        # this hold conflicts on the file's new version instead (run_retention).
        try:
            self.save_and_project(hold, worker, keys=keys, absent=(destruction_id(str(worker.id)),))
        except (Conflict, KeyDestroyed):  # the file's key went before the hold's note on the file could be sealed
            if self._destruction_started(str(worker.id)):
                raise OutOfOrder(f"the file of worker {worker_id} is being destroyed: it can no longer be held") \
                    from None
            raise
        return hold

    def release_hold(self, user: Principal, hold_id: UUID | str, *, reason: str) -> LegalHold:
        self.require(user, decide_pack_role(user.reader, self.policy.policy_pack.legal_holds.release,
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
        pack = self.policy.policy_pack.legal_holds
        self.require(user, decide_pack_role(user.reader, (*pack.place, *pack.release), "see legal holds"))
        return self.holds(worker_id)

    def holds(self, worker_id: UUID | str | None = None) -> list[dict]:
        self.see_own_writes()
        query = select(legal_holds).order_by(legal_holds.c.placed_at)
        if worker_id is not None:
            query = query.where(legal_holds.c.worker_id == str(worker_id))
        with self.storage.reads.connect() as conn:
            rows = [dict(r._mapping) for r in conn.execute(query)]
        for row in rows:
            hold = self.repository.get(UUID(row["hold_id"]))
            row.update(reason=hold.reason, reference=hold.reference, release_reason=hold.release_reason)
        return rows

    # -- the schedule ----------------------------------------------------------------------------------

    def retention_schedule(self, as_of: date, *, rules_on: date | None = None) -> list[ScheduledFile]:
        """Every file with its status on `as_of`. An archived file's destruction date is its leaving date plus the
        years of the pack version in force on `rules_on` (default `as_of`): a past day's schedule shows what was
        due under the version in force that day. Proposals and runs pass today: a destruction acts under the
        rule in force when it is done (the date stated at archiving is superseded by a later change of period)."""
        self.read_models.refresh()
        pack = self.policy.compliance_pack(on=rules_on or as_of)
        years = pack.retention.years_after_employment_ends
        rule = self._rule_text(pack) if years else None
        with self.storage.reads.connect() as conn:
            rows = conn.execute(select(retention_files).order_by(retention_files.c.destruction_date,
                                                                 retention_files.c.worker_id)).all()
        files = []
        for r in rows:
            deadline = archival_deadline(pack, r.leaving_date) if r.leaving_date else None
            due_on, why = r.destruction_date, r.rule
            if r.state == "archived" and r.leaving_date is not None and years:
                due_on, why = destruction_date(pack, r.leaving_date), rule
            status = retention_status(state=r.state, leaving_date=r.leaving_date, destruction_date=due_on,
                                      archival_deadline=deadline, active_holds=r.active_holds,
                                      destroyed=r.state == "destroyed", as_of=as_of)
            if r.state == "destroying":
                status = "destruction_incomplete"
            files.append(ScheduledFile(r.worker_id, r.state, status, r.leaving_date, deadline, due_on,
                                       why, r.active_holds, r.destroyed_at.isoformat() if r.destroyed_at else None))
        return files

    # -- disposition review: propose, then a second person approves or rejects ----------------------------

    def propose_destruction(self, user: Principal, *, as_of: date | None = None) -> DestructionProposal:
        """Fixes the list of files due on `as_of` (default today) and not on hold, for a second person to review."""
        self.require(user, decide_pack_role(user.reader, self.policy.policy_pack.destruction_approval.propose,
                                            "propose files for destruction"))
        self.policy.policy_pack.retention_years_required()  # refuses under a pack with no retention period
        today = self.clock().date()
        as_of = as_of or today
        # Due by `as_of` under the rule in force today: the rule the run will destroy them under.
        due = [f for f in self.retention_schedule(as_of, rules_on=today) if f.status == "due"]
        return self.propose_list(user, PERSONAL, as_of, [
            {"worker_id": f.worker_id, "destruction_date": f.destruction_date.isoformat(),
             "rule": f.rule or self._rule_text(self.policy.policy_pack)} for f in due])

    def approve_destruction(self, user: Principal, proposal_id: UUID | str, *, rationale: str) -> DestructionProposal:
        return self.review_list(user, PERSONAL, proposal_id, rationale, approve=True,
                                 step="approve a destruction proposal")

    def reject_destruction(self, user: Principal, proposal_id: UUID | str, *, rationale: str) -> DestructionProposal:
        return self.review_list(user, PERSONAL, proposal_id, rationale, approve=False,
                                 step="reject a destruction proposal")

    def get_proposal(self, proposal_id: UUID | str) -> DestructionProposal:
        return self.list_of(PERSONAL, proposal_id)

    def destruction_proposals(self, user: Principal) -> list[dict]:
        """Every proposal, newest first (ids, dates, counts and who decided; the lists are in each proposal)."""
        self.require_list_reader(user, "see destruction proposals")
        return [{"proposal_id": r["proposal_id"], "as_of": r["as_of"], "files": r["items"], "status": r["status"],
                 "proposed_at": r["proposed_at"], "proposed_by": r["proposed_by"], "decided_at": r["decided_at"],
                 "decided_by": r["decided_by"], "executed_at": r["executed_at"], "destroyed": r["destroyed"]}
                for r in self.lists(PERSONAL)]

    def read_proposal(self, user: Principal, proposal_id: UUID | str) -> DestructionProposal:
        self.require_list_reader(user, "see destruction proposals")
        return self.get_proposal(proposal_id)

    def _latest_approved_proposal(self) -> str | None:
        self.read_models.catch_up()
        with self.storage.reads.connect() as conn:
            return conn.execute(select(destruction_proposals.c.proposal_id)
                                .where(destruction_proposals.c.record_class == PERSONAL.name,
                                       destruction_proposals.c.status == "approved")
                                .order_by(destruction_proposals.c.decided_at.desc()).limit(1)).scalar()

    # -- the reviewed list, whatever its record class (personal files here; case supervision records in
    #    api/case_record_service.py): proposed by one authorised person, approved or rejected by another --------

    def propose_list(self, user: Principal, kind: ListedClass, as_of: date, items: list[dict],
                      rule: str | None = None) -> DestructionProposal:
        """The caller decided who may propose and drew up the items due; the domain checks the list."""
        proposal = DestructionProposal.propose(
            record_class=kind.name, as_of=as_of, items=items, pack=self.policy.policy_pack.short_name, rule=rule,
            actor=user.actor, proposer_user=user.user_id, timestamp=self.clock())
        self.save_and_project(proposal, keys=self.storage.keyring.stage_assignment(proposal.id, "organisation"))
        return proposal

    def review_list(self, user: Principal, kind: ListedClass, proposal_id: UUID | str, rationale: str, *,
                     approve: bool, step: str) -> DestructionProposal:
        """A role `destruction_approval.approve` names, never the person who proposed the list, with a reason."""
        review = self.policy.policy_pack.destruction_approval
        self.require(user, decide_pack_role(user.reader, review.approve, step))
        proposal = self.list_of(kind, proposal_id)
        self.require(user, decide_destruction_review(user.reader, review.approve, proposal.proposer_user, step))
        decide = proposal.approve if approve else proposal.reject
        decide(rationale, actor=user.actor, user=user.user_id, timestamp=self.clock())
        self.save_and_project(proposal)
        return proposal

    def require_list_reader(self, user: Principal, step: str) -> None:
        """The people the pack lets propose or approve a list see the lists (and the certificates)."""
        review = self.policy.policy_pack.destruction_approval
        self.require(user, decide_pack_role(user.reader, tuple(dict.fromkeys((*review.propose, *review.approve))),
                                            step))

    def list_of(self, kind: ListedClass, proposal_id: UUID | str) -> DestructionProposal:
        try:
            proposal = self.repository.get(UUID(str(proposal_id)))
        except (ValueError, AggregateNotFoundError):
            raise NotFound(f"no {kind.noun} {proposal_id}") from None
        if not isinstance(proposal, DestructionProposal) or proposal.record_class != kind.name:
            raise NotFound(f"no {kind.noun} {proposal_id}")
        return proposal

    def lists(self, kind: ListedClass) -> list[dict]:
        """Every list of the class, newest first, as the read model has it."""
        self.read_models.catch_up()
        with self.storage.reads.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(
                select(destruction_proposals).where(destruction_proposals.c.record_class == kind.name)
                .order_by(destruction_proposals.c.proposed_at.desc()))]

    # -- the run ---------------------------------------------------------------------------------------------

    def run_retention(self, user: Principal, proposal_id: UUID | str | None = None, *, as_of: date | None = None,
                      dry_run: bool = False, purge_ciphertext: bool = False,
                      rotate_master_key: bool | None = None, progress: Any = None) -> list[DestructionOutcome]:
        """Destroys the files of an approved proposal (default: the latest approved one not yet run) that are still
        due and not on hold, and finishes any destruction a crash interrupted. A dry run lists what is due on
        `as_of` (default today) and needs no proposal. With `rotate_master_key` (default: the deployment's
        SVL_RETENTION_ROTATES_MASTER_KEY) the master key is rotated after the keys are destroyed and before any
        destruction is completed, so a run that stops in between is finished, rotation included, by the next."""
        self.require(user, decide_role(user.reader, RETENTION_ROLES, "run retention"))
        self.policy.policy_pack.retention_years_required()  # refuses under a pack with no retention period
        if dry_run:
            today = self.clock().date()
            due = [f for f in self.retention_schedule(as_of or today, rules_on=today)
                   if f.status in ("due", "destruction_incomplete")]
            return self._report([self._plan(item) for item in due], progress)
        self.integrity.require_writable()
        rotate = self.storage.settings.retention_rotates_master_key if rotate_master_key is None \
            else rotate_master_key
        if rotate:
            self._require_rotatable()
        if as_of is not None:
            raise DomainError("a run destroys an approved proposal's list, judged on the proposal's day: "
                              "as_of is for a dry run only")
        proposal_id = proposal_id or self._latest_approved_proposal()
        proposal = self.get_proposal(proposal_id) if proposal_id else None
        self.require_certifying_key()
        # Judged today, under the version in force today: a period lengthened since the list was approved keeps
        # a file that is no longer due (left, "skipped_retained"); one placed on hold since is left too.
        schedule = self.retention_schedule(self.clock().date())
        unfinished = [f for f in schedule if f.status == "destruction_incomplete"]
        if proposal is None:
            if not unfinished:
                raise OutOfOrder("no approved destruction proposal to run: propose the files due "
                                 "(`svl retention propose`), and have a second authorised person approve the list")
            return self._report(self._destroy_all(unfinished, user.actor, purge_ciphertext, None, rotate=rotate),
                                progress)
        proposal.require_runnable()
        approved = set(proposal.item_ids)
        for attempt in range(1, RUN_ATTEMPTS + 1):
            unfinished, due, left, files = self._run_plan(proposal, approved, schedule)
            try:
                outcomes = self._destroy_all(unfinished + due, user.actor, purge_ciphertext, proposal, files,
                                             rotate=rotate)
                break
            except FileChangedMeanwhile:
                if attempt == RUN_ATTEMPTS:
                    raise
                schedule = self.retention_schedule(proposal.as_of)  # a hold was placed meanwhile: judge again
        outcomes += [self._skipped(item) for item in left]
        destroyed = [o.worker_id for o in outcomes if o.status.endswith("destroyed") and o.worker_id in approved]
        proposal.record_execution(destroyed=destroyed, skipped=[{"worker_id": f.worker_id, "status": f.status}
                                                                for f in left],
                                  actor=user.actor, timestamp=self.clock())
        self.save_and_project(proposal)
        return self._report(outcomes, progress)

    def _run_plan(self, proposal: DestructionProposal, approved: set[str], schedule: list[ScheduledFile]
                  ) -> tuple[list[ScheduledFile], list[ScheduledFile], list[ScheduledFile], list[Any]]:
        """What the run destroys and leaves, and the files it decides on. Each file due is read from the event
        store between two readings of the schedule: a hold stored before that read (a hold is stored together
        with its note on the file) is in the second reading, so the file is left; one stored after it changes
        the file's version, which the transaction that starts the destruction checks (FileChangedMeanwhile)."""
        # The run's loads of its files are one command's: destroyed keys looked for once, not once a file.
        with self.storage.keyring.one_look():
            files = {f.worker_id: self.get_worker(f.worker_id) for f in schedule
                     if f.worker_id in approved and f.status == "due"}
        first = {f.worker_id: f for f in schedule}
        again = self.retention_schedule(proposal.as_of)
        unfinished = [f for f in again if f.status == "destruction_incomplete"]
        due = [f for f in again if f.worker_id in files and f.status == "due"]
        # A hold placed since the proposal (or a file destroyed already) keeps the file out of this run; so does
        # a hold released between the two readings (the file was not read as due: the next run destroys it).
        left = [f if f.status != "due" else first[f.worker_id] for f in again
                if f.worker_id in approved and f.status != "destruction_incomplete"
                and not (f.status == "due" and f.worker_id in files)]
        return unfinished, due, left, [files[f.worker_id] for f in due]

    def _destruction_started(self, worker_id: str) -> bool:
        try:
            self.repository.get(destruction_id(worker_id))
        except AggregateNotFoundError:
            return False
        return True

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
        return DestructionOutcome(item.worker_id, self._record_ids([item.worker_id]).get(item.worker_id, []),
                                  self.event_counts([key_id])[key_id], item.rule or "",
                                  item.destruction_date or date.min, "would_destroy")

    def _destroy_all(self, items: list[ScheduledFile], actor: str, purge_ciphertext: bool,
                     proposal: DestructionProposal | None, files: Sequence[Any] = (), *,
                     rotate: bool = False) -> list[DestructionOutcome]:
        """Every file of the run together, each step once for all: one checkpoint before and one after, the
        destructions started in one transaction, one append to the tombstones, the keys destroyed in one
        transaction, one scrub; then a certificate per file, proving its own destruction event between the two
        checkpoints."""
        if not items:
            return []
        destructions, resumed = self._start_all(items, actor, proposal, files)
        _drill_pause("started")
        self.shred_and_certify(destructions, actor, purge_ciphertext, rotate=rotate)
        return [DestructionOutcome(d.worker_id, d.record_ids, d.event_count, d.rule, d.destruction_date,
                                   "resumed_and_destroyed" if d.worker_id in resumed else "destroyed")
                for d in destructions]

    def shred_and_certify(self, destructions: list[Any], actor: str, purge_ciphertext: bool, *,
                           rotate: bool = False) -> None:
        """The steps every destruction of a run shares, whatever its record class (a worker's file, a case
        supervision record): each one already started after the run's checkpoint before, its key is appended to
        the tombstones, then destroyed, with the rest of the run's in one transaction; optionally its ciphertext
        purged; the storage scrubbed once; the ledger signed once after; then each certificate written and each
        destruction completed with its certificate's digest."""
        at = self.clock()
        self.storage.tombstones.add([Tombstone(d.key_id, at.isoformat(), d.rule) for d in destructions])
        self.storage.keyring.destroy_many([d.key_id for d in destructions], at)
        _drill_pause("key_destroyed")
        if purge_ciphertext:
            self._purge_ciphertext(destructions, at.date())
        if rotate:  # before the scrub, which then also clears the data keys' rows wrapped under the old key
            self._rotate_master_key()
            _drill_pause("rotated")
        self._scrub_storage()
        digests = self._certify(destructions, at)
        for destruction in destructions:
            destruction.complete(ciphertext_purged=purge_ciphertext, checkpoint_after=None,
                                 certificate_sha256=digests[str(destruction.id)], actor=actor,
                                 timestamp=self.clock())
        self.save_and_project(*destructions)

    def _require_rotatable(self) -> None:
        """Checked before anything is destroyed, and again at the rotation: the key is one this service keeps
        in its file, and no other process holds it (each would go on wrapping and unwrapping with the old key)."""
        settings, keyring = self.storage.settings, self.storage.keyring
        if master_key_from_environment():
            raise DomainError("the master key comes from SVL_MASTER_KEY: rotate it in your key store, not in a run")
        try:
            in_file = load_master_key(settings.master_key_file, env_value=None)
        except KeyError_:
            in_file = None
        if in_file != keyring.master_key:
            raise DomainError(f"the master key is not the one in {settings.master_key_file}: a run rotates only "
                              "a key this service keeps in its file")
        others = other_holders(self.storage.engine, settings)
        if others:
            raise DomainError(f"{others} other process(es) have this database open and hold the master key: "
                              "stop them (or run with the service stopped) to rotate it, or run without rotating "
                              "and rotate later with `svl keys rotate-master`")

    def _rotate_master_key(self) -> None:
        self._require_rotatable()
        storage = self.storage
        rotate_key(storage.keyring, storage.tombstones, storage.settings.master_key_file)

    def checkpoint_before(self) -> dict:
        """The run's checkpoint before: signed once, before any destruction of the run is started."""
        return checkpoint_summary(self.integrity.checkpoint().note)

    def require_certifying_key(self) -> None:
        try:
            self.integrity.signing_key()
        except SigningKeyMissing as exc:
            raise DomainError(f"every destruction is certified with the organisation's signing key: {exc}") from None

    def _start_all(self, items: list[ScheduledFile], actor: str, proposal: DestructionProposal | None,
                   files: Sequence[Any]) -> tuple[list[FileDestruction], set[str]]:
        """`DestructionStarted` for every file not started yet, in one transaction after one checkpoint, stored
        only if none of `files` (the workers, as the run decided on them) changed meanwhile; the destructions a
        killed run started are found again and finished."""
        resumed = [self.repository.get(destruction_id(i.worker_id)) for i in items
                   if i.status == "destruction_incomplete"]
        fresh = [i for i in items if i.status != "destruction_incomplete"]
        if fresh and proposal is None:
            raise OutOfOrder("these files are on no approved destruction proposal")
        held = [i.worker_id for i in fresh if i.active_holds]
        if held:
            raise DomainError(f"the file of worker {held[0]} is on legal hold")
        started: list[FileDestruction] = []
        if fresh and proposal is not None:
            keyring, pack = self.storage.keyring, self.policy.policy_pack
            key_ids = {i.worker_id: keyring.key_id_for(i.worker_id) for i in fresh}
            counts = self.event_counts(list(key_ids.values()))
            records = self._record_ids([i.worker_id for i in fresh])
            before = self.checkpoint_before()
            approval = approval_of(proposal)
            for item in fresh:
                started.append(FileDestruction.start(
                    worker_id=item.worker_id, key_id=key_ids[item.worker_id],
                    record_ids=records.get(item.worker_id, []), event_count=counts[key_ids[item.worker_id]],
                    rule=item.rule or self._rule_text(pack), pack=pack.short_name, leaving_date=item.leaving_date,
                    destruction_date=item.destruction_date, as_of=self.clock().date(), checkpoint_before=before,
                    actor=actor, timestamp=self.clock(), approval=approval))
            staged = [keyring.stage_assignment(d.id, "organisation") for d in started]
            try:
                self.save_and_project(*started, keys=StagedKeys(new_keys=[], assignments=[
                    assignment for one in staged for assignment in one.assignments]), unchanged=files)
            except Conflict:
                if any(self._destruction_started(d.worker_id) for d in started):
                    raise  # another run started these files first
                raise FileChangedMeanwhile("a file of this run changed after it was judged due") from None
        return resumed + started, {d.worker_id for d in resumed}

    def _certify(self, destructions: list[Any], destroyed_at: Any) -> dict[str, str]:
        """Signs the ledger once, after every key is gone, and writes each file's (or record's) certificate: the
        checkpoints before and after, the proof that the ledger only grew in between, and the proof that its own
        destruction start is in the checkpoint after. Returns each certificate's SHA-256 by destruction id."""
        integrity = self.integrity
        after = checkpoint_summary(integrity.checkpoint().note)
        size = after["tree_size"]
        with self.storage.reads.connect() as conn:
            started = {e.originator_id: e for e in stored_events(conn, integrity.events,
                                                                 [str(d.id) for d in destructions], version=1)}
        leaves = integrity.store.leaves_for([e.notification_id for e in started.values()])
        indexes = sorted(index for index, _ in leaves.values())
        proofs: dict[int, list[bytes]] = {}
        for chunk in range(0, len(indexes), 50):
            proofs.update(inclusion_proofs(integrity.store, indexes[chunk:chunk + 50], size))
        growth: dict[int, list] = {}
        key = integrity.current_signing_key()
        certificates = []
        for destruction in destructions:
            before = destruction.checkpoint_before
            if before["tree_size"] not in growth:
                growth[before["tree_size"]] = integrity.consistency(before["tree_size"], size)["proof"]
            event = started[str(destruction.id)]
            index = leaves[event.notification_id][0]
            certificates.append(dict(
                directory=self.storage.settings.certificate_dir, key=key, origin=integrity.origin,
                destruction=destruction, destroyed_at=destroyed_at, checkpoint_before=before,
                checkpoint_after=after, consistency_proof=growth[before["tree_size"]],
                destruction_event=destruction_event(event, index, proofs[index])))
        # Each file is flushed to disk before its hash is recorded; flushed side by side, the file system
        # commits them together instead of one after another.
        with ThreadPoolExecutor(max_workers=8) as pool:
            written = list(pool.map(lambda kwargs: write_certificate(**kwargs), certificates))
        return {str(d.id): digest for d, (_, digest) in zip(destructions, written, strict=True)}

    def certificate_path(self, worker_id: str) -> Any:
        return self.storage.settings.certificate_dir / f"destruction-{worker_id}.json"

    def destruction_certificate(self, user: Principal, record_class: str, item_id: UUID | str) -> tuple[str, str]:
        """A destroyed item's signed certificate, as written (its file name and its text), for the people who see
        the lists: the organisation's proof of that destruction, which anyone checks offline with `svl-verify`."""
        kind = listed_class(record_class)
        self.require_list_reader(user, "download destruction certificates")
        subject = "worker" if kind is PERSONAL else kind.item
        item = str(as_uuid(item_id, subject))
        path = (self.certificate_path(item) if kind is PERSONAL else
                self.storage.settings.certificate_dir / record_certificate_name(kind.name, item))
        try:
            return path.name, path.read_text()
        except FileNotFoundError:
            raise NotFound(f"no destruction certificate for {subject} {item_id}") from None

    def lawful_purges(self) -> list[Purge]:
        """For `svl verify`: each purged event with its ciphertext's digest, so its leaf is still rechecked."""
        return lawful_purges(self.storage.engine)

    def _purge_ciphertext(self, destructions: list[Any], on: date) -> None:
        """Empties the stored bytes of every event sealed with the destroyed keys. Each row, its ledger leaf
        and the digest of what it held stay, so `svl verify` still recomputes the leaf exactly."""
        events = self.integrity.events
        with self.storage.engine.begin() as conn:
            by_key = originators_by_key(conn, [d.key_id for d in destructions])
            rule_of = {oid: d.rule for d in destructions for oid in by_key[d.key_id]}
            emptied = [e for e in stored_events(conn, events, list(rule_of)) if e.state]
            if emptied:
                conn.execute(insert(purged_events), [
                    {"notification_id": e.notification_id, "originator_id": e.originator_id,
                     "state_sha256": e.state_sha256, "rule": rule_of[e.originator_id], "purged_on": on}
                    for e in emptied])
                empty_states(conn, events, list(rule_of))

    def _scrub_storage(self) -> None:
        """Overwritten key bytes must not linger in SQLite's WAL or PostgreSQL's dead tuples."""
        scrub_key_bytes(self.storage.engine, self.storage.settings)
        if not self.storage.settings.is_sqlite:
            # Purged ciphertext, likewise.
            with self.storage.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql(f"VACUUM {self.recorder.events_table_name}")

    # -- lookups -----------------------------------------------------------------------------------------

    def _record_ids(self, worker_ids: list[str]) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        with self.storage.reads.connect() as conn:
            for chunk in range(0, len(worker_ids), 500):
                for worker_id, record_id in conn.execute(
                        select(current_records.c.supervisee_id, current_records.c.record_id)
                        .where(current_records.c.supervisee_id.in_(worker_ids[chunk:chunk + 500]))):
                    found.setdefault(worker_id, []).append(record_id)
        return {worker: sorted(records) for worker, records in found.items()}

    def event_counts(self, key_ids: list[str]) -> dict[str, int]:
        """Every stored event sealed with each key: the worker's file, records, sessions, agreements, cases."""
        with self.storage.reads.connect() as conn:
            by_key = originators_by_key(conn, key_ids)
            counts = count_events(conn, self.integrity.events, [o for oids in by_key.values() for o in oids])
        return {key_id: sum(counts.get(o, 0) for o in oids) for key_id, oids in by_key.items()}

    def _file_state(self, worker_id: str) -> str | None:
        self.read_models.refresh()
        with self.storage.reads.connect() as conn:
            return conn.execute(select(retention_files.c.state)
                                .where(retention_files.c.worker_id == worker_id)).scalar()

    @staticmethod
    def _rule_text(pack: PolicyPack) -> str:
        years = pack.retention_years_required()
        return (f"{pack.short_name}: retention.years_after_employment_ends = {years} "
                f"({pack.retention.source or pack.retention.note})")


def approval_of(proposal: DestructionProposal) -> dict:
    """What a destruction records of the review it was approved in (and its certificate states), whatever the
    record class of the list."""
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
