"""The integrity ledger as the application uses it: checkpoints, proofs, verification, bundles.

`IntegrityLedger` wires the SQL adapters (`ledger_store`, `checkpoints`) to the pure parts
(`merkle`, `ledger_verify`, `svl_verify`). `AutomaticCheckpoints` keeps the unsigned tail short: it
signs when N events are pending, every T seconds in a server, and at start-up and clean shutdown,
counting what is pending from the database, so a restart neither forgets nor resets it.
"""

import base64
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from uuid import UUID

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Connection, Engine, text

from infrastructure import merkle
from infrastructure.checkpoints import (
    LATEST_FILE,
    TRANSITION_SUFFIX,
    TRANSITIONS_DIR,
    VERIFIER_FILE,
    CheckpointTable,
    SigningKey,
    SigningKeyMissing,
    StoredCheckpoint,
    load_signing_key,
    publish,
    published_verifier_key,
    read_published,
    write_atomically,
)
from infrastructure.database import database_errors, make_engine, reader
from infrastructure.destruction_certificates import lawful_purges
from infrastructure.keys import KeyDestroyed, KeyRing
from infrastructure.ledger_append import LedgerDamaged
from infrastructure.ledger_store import EventsTable, SqlLedgerStore, canonical_originator_id, snapshot
from infrastructure.ledger_verify import AuditReport, CheckpointSource, Purge, Purges, audit
from infrastructure.sealed_mapper import associated_data, key_id_of
from infrastructure.settings import Settings
from infrastructure.note_signing import sign_checkpoint, sign_key_transition
from infrastructure.ledger_tables import signing_key_transitions
from infrastructure.witness_client import Cosigners, WitnessConfigError, WitnessResult, merge_signatures, \
    parse_witness_list
from infrastructure.svl_verify import (
    BUNDLE_FORMAT,
    Checkpoint,
    KeyTransition,
    TrustedKeys,
    parse_checkpoint,
    parse_key_transition,
    VerificationError,
    encode_leaf_from_digest,
    event_leaf_hash,
    leaf_hash,
    parse_verifier_key,
    verify_checkpoint,
    verify_consistency,
)

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]
# How many earlier checkpoints a bundle links to by default (an outsider's pinned checkpoint is
# usually a recent one); more on request with `consistency_from`.
BUNDLE_CONSISTENCY_DEFAULT = 64
_DEFAULT = object()


class LedgerError(Exception):
    """A request the ledger cannot answer (unknown event, no checkpoint yet...); the message says why."""


class NotInLedger(LedgerError):
    """No such event, or no such checkpoint."""


class NotYetCheckpointed(LedgerError):
    """The event is newer than the checkpoint asked for: sign a newer one first."""


class BadProofRequest(LedgerError):
    """The sizes asked for cannot have a proof."""


class LedgerTampered(LedgerError):
    """The ledger contradicts a signed checkpoint or its own events: nothing is signed or exported."""


class LedgerBehind(LedgerError):
    """The database is behind (or forked from) a checkpoint already published: restored from an older
    backup, or its newest events removed. A write would fork the signed log, so writes are refused."""


def b64(raw: bytes) -> str:
    return base64.b64encode(bytes(raw)).decode("ascii")


@dataclass(frozen=True)
class CheckpointOutcome:
    note: str  # as published: the organisation's signature and any witness cosignatures
    checkpoint: Checkpoint
    created: bool
    published: Path | None
    witnesses: tuple[WitnessResult, ...] = ()


class IntegrityLedger:
    def __init__(self, settings: Settings, engine: Engine, events: EventsTable, clock: Clock,
                 keyring: KeyRing | None = None,
                 latest_inclusion_rows: Callable[[int], list[Any]] | None = None) -> None:
        self.settings = settings
        self.engine = engine
        self.events = events
        self.clock = clock
        self.keyring = keyring
        self.store = SqlLedgerStore(engine, latest_inclusion_rows)
        self.checkpoints = CheckpointTable(engine)
        # The retention issue registers here what it lawfully purged, so `verify` reports it as such.
        self.purge_sources: list[Callable[[], Iterable[Purge]]] = []
        self._signing_key: SigningKey | None = None
        # Why this process refuses to write (the database is behind a published checkpoint), or None.
        self.writes_refused: str | None = None
        self._cosigners: Cosigners | None = None
        # Where proofs are read: a hot standby first, when configured (its copy of the leaves and checkpoints
        # is the primary's, byte for byte); the primary when the standby is away or has not replayed enough.
        self.standby: tuple[SqlLedgerStore, CheckpointTable] | None = None
        self.served_from_standby = 0
        if settings.standby_database_url:
            standby = make_engine(replace(settings, database_url=settings.standby_database_url))
            self.standby = (SqlLedgerStore(standby), CheckpointTable(standby))

    def close(self) -> None:
        """Lets go of the standby's connections (the primary's engine is the application's to dispose of)."""
        if self.standby is not None:
            self.standby[0].engine.dispose()

    @classmethod
    def for_app(cls, app: Any) -> "IntegrityLedger":
        storage = app.storage
        # On PostgreSQL a proof against the latest checkpoint is read on the event store's pool (see
        # `LedgeredPostgresRecorder.inclusion_in_latest_rows`): one round trip, where the engine's ping makes two.
        return cls(storage.settings, storage.engine, EventsTable(app.recorder.events_table_name, storage.settings),
                   app.clock, storage.keyring, getattr(app.recorder, "inclusion_in_latest_rows", None))

    @classmethod
    def for_verification(cls, settings: Settings, clock: Clock) -> "IntegrityLedger":
        """Reads and nothing else: no schema check, no key, no read model, no lock. So `svl verify` runs against
        a hot standby (which refuses every write) or a copy an inspector was given, and changes nothing it checks."""
        engine = make_engine(settings)
        ledger = cls(settings, engine, EventsTable.of(settings), clock)
        ledger.purge_sources.append(lambda: lawful_purges(engine))
        return ledger

    @property
    def origin(self) -> str:
        return self.settings.organisation_origin

    # -- keys --------------------------------------------------------------------------------------------

    def signing_key(self) -> SigningKey:
        if self._signing_key is None:
            self._signing_key = load_signing_key(self.settings.signing_key_file)
        return self._signing_key

    def verifier_key(self) -> str:
        return self.signing_key().vkey

    def verifier_key_or_none(self) -> str | None:
        """For serving proofs: the client verifies them, so a server without the key file still answers."""
        try:
            return self.verifier_key()
        except SigningKeyMissing:
            return None

    # -- signing-key history -----------------------------------------------------------------------------

    def key_transitions(self, published_dir: Path | None = None) -> list[str]:
        """Every signing-key transition statement: the database's, and any published beside checkpoints."""
        with reader(self.engine).connect() as conn:
            notes = [r.note for r in conn.execute(signing_key_transitions.select()
                                                  .order_by(signing_key_transitions.c.tree_size))]
        if published_dir is not None:
            folder = Path(published_dir) / TRANSITIONS_DIR
            if folder.is_dir():
                notes += [f.read_text(encoding="utf-8") for f in sorted(folder.glob(f"*{TRANSITION_SUFFIX}"))]
        return list(dict.fromkeys(notes))

    def trust(self, anchor: str | None = None, published_dir: Path | None = None) -> TrustedKeys | None:
        """The keys a checkpoint of ours may be signed by: the anchor (default our own key, else the published
        one), grown along the transition statements."""
        anchor = anchor or self.verifier_key_or_none() or (
            published_verifier_key(Path(published_dir)) if published_dir is not None else None)
        if anchor is None:
            return None
        return TrustedKeys([anchor], self.key_transitions(published_dir), origin=self.origin)

    def rotate_signing_key(self, publish_to: Path | None | object = _DEFAULT) -> KeyTransition:
        """Replaces the signing key. The old key signs the tree as it stands, both keys sign the statement
        that the new key takes over at that size, and the new key replaces the old one in its file, so the old
        private key is gone. A server still holding the old key reads the new one before it next signs."""
        self.require_writable()
        old = self.current_signing_key()
        directory = self._directory(publish_to)
        size = self.checkpoint(publish_to).checkpoint.tree_size
        new = SigningKey(old.name, Ed25519PrivateKey.generate())
        note = sign_key_transition(self.origin, size, (old.private_key, old.name), (new.private_key, new.name))
        transition = parse_key_transition(note)
        with self.engine.begin() as conn:
            conn.execute(signing_key_transitions.insert().values(tree_size=size, note=note))
        write_atomically(self.settings.signing_key_file, new.to_text() + "\n", mode=0o600)
        self._signing_key = new
        if directory is not None:
            folder = directory / TRANSITIONS_DIR
            folder.mkdir(parents=True, exist_ok=True)
            write_atomically(folder / f"{size}{TRANSITION_SUFFIX}", note)
            write_atomically(directory / VERIFIER_FILE, new.vkey + "\n")
        return transition

    def current_signing_key(self) -> SigningKey:
        return self._signer()[0]

    def _signer(self) -> tuple[SigningKey, TrustedKeys]:
        """Our signing key, unless a rotation retired it: then the key file's (new) key, read again. A key the
        statements retired would sign checkpoints nobody should accept, so none is signed with it. With it, the
        keys our earlier checkpoints may be signed by (the statements read once for both)."""
        key = self.signing_key()
        transitions = self.key_transitions()
        trust = TrustedKeys([key.vkey], transitions, self.origin)
        retired = {str(t.old) for t in trust.transitions}
        if key.vkey in retired:
            self._signing_key = None
            key = self.signing_key()
            if key.vkey in retired:
                raise LedgerError(f"the signing key in {self.settings.signing_key_file} was retired by `svl keys "
                                  "rotate-signing`: put the current key there before signing")
            trust = TrustedKeys([key.vkey], transitions, self.origin)
        return key, trust

    # -- a database behind what was published --------------------------------------------------------

    def check_published(self) -> str | None:
        """Compares the database with the newest checkpoint in SVL_CHECKPOINT_DIR. If the ledger is smaller,
        or holds another root at that size, this process refuses writes from now on; returns why (or None)."""
        directory = self.settings.checkpoint_dir
        latest = None if directory is None else Path(directory) / LATEST_FILE
        if latest is None or not latest.is_file():
            return self.writes_refused
        trust = self.trust(published_dir=Path(directory))  # type: ignore[arg-type]
        try:
            published = verify_checkpoint(latest.read_text(encoding="utf-8"), trust or "", origin=self.origin)
        except (OSError, UnicodeDecodeError, VerificationError) as exc:
            log.error("LEDGER INTEGRITY: the published checkpoint %s cannot be checked: %s", latest, exc)
            return self.writes_refused
        size = self.store.size()
        if size < published.tree_size:
            why = (f"the database holds {size} ledger leaves, but the checkpoint of {published.tree_size} published "
                   f"in {latest} was signed: the database was restored from a backup older than that checkpoint, "
                   "or its newest events were removed")
        else:
            try:
                root = self.store.root(published.tree_size)
            except (merkle.MissingNodeError, LedgerDamaged):
                root = None
            if root == published.root_hash:
                return self.writes_refused
            why = (f"the database's first {published.tree_size} ledger leaves do not have the root of the checkpoint "
                   f"published in {latest}: it holds another history (a restored backup written to since, or an "
                   "edited ledger)")
        self.writes_refused = (f"{why}. Writes are refused, so that the signed log is not forked; reads go on. Restore "
                               "the newest backup (taken after that checkpoint) and run `svl verify --checkpoints DIR`")
        log.error("LEDGER INTEGRITY: %s", self.writes_refused)
        return self.writes_refused

    def require_writable(self) -> None:
        if self.writes_refused is not None:
            raise LedgerBehind(f"writes refused: {self.writes_refused}")

    def published_size(self, directory: Path) -> int | None:
        """The size of the newest validly signed checkpoint in a published directory (None: none there)."""
        trust = self.trust(published_dir=directory)
        sizes = []
        for _, note in read_published(directory):
            try:
                sizes.append(verify_checkpoint(note, trust or "", origin=self.origin).tree_size)
            except VerificationError:
                continue  # `svl verify` names it; here only the newest good one counts
        return max(sizes, default=None)

    # -- checkpoints -------------------------------------------------------------------------------------

    def checkpoint(self, publish_to: Path | None | object = _DEFAULT) -> CheckpointOutcome:
        """Signs the tree as it stands, after proving it consistent with the previous checkpoint."""
        self.require_writable()
        key, trust = self._signer()
        directory = self._directory(publish_to)
        # The previous checkpoint as stored, and as last published: rewriting the ledger and deleting
        # the stored checkpoints must not let the next signature bless the rewritten tree. Read before
        # the tree, so that a checkpoint another process signs meanwhile is never larger than our tree.
        latest = self.checkpoints.latest()
        previous_notes = self._previous_notes(latest, directory)
        frontier = self.store.frontier()
        size, root = frontier.size, frontier.root()
        for where, note in previous_notes:
            previous = self._trusted(note, trust)
            if previous.tree_size > size:
                raise LedgerTampered(
                    f"the ledger holds {size} leaves but a checkpoint of size {previous.tree_size} ({where}) was "
                    "signed: its tail was removed; run `svl verify`. Nothing was signed.")
            proof = self.store.consistency_proof(previous.tree_size, size)
            if not verify_consistency(previous.tree_size, size, proof, previous.root_hash, root):
                raise LedgerTampered(
                    f"the ledger is not an extension of checkpoint {previous.tree_size} ({where}): its first "
                    f"{previous.tree_size} leaves were changed; run `svl verify`. Nothing was signed.")
        if latest is not None and latest.tree_size == size:
            note, witnessed = self._witnessed(latest.note, None)
            return self._publish(CheckpointOutcome(note, latest.checkpoint, False, None, witnessed), directory, key)
        note = sign_checkpoint(self.origin, size, root, key.private_key, key.name, time=self.clock())
        created = self.checkpoints.add(note)
        if not created:  # another process signed this size a moment ago: theirs stands
            existing = self.checkpoints.get(size)
            assert existing is not None
            note = existing.note
        # Stored first, then cosigned: a witness that is down delays nothing but its own line.
        note, witnessed = self._witnessed(note, None if latest is None else latest.note)
        outcome = CheckpointOutcome(note, self._trusted(note, trust), created, None, witnessed)
        return self._publish(outcome, directory, key)

    # -- witnesses ---------------------------------------------------------------------------------------

    @property
    def cosigners(self) -> Cosigners | None:
        if self._cosigners is None and self.settings.witnesses.strip():
            try:
                endpoints = parse_witness_list(self.settings.witnesses)
            except WitnessConfigError as exc:
                raise LedgerError(str(exc)) from None
            self._cosigners = Cosigners(endpoints, self.settings.witness_timeout)
        return self._cosigners

    def _witnessed(self, note: str, previous: str | None) -> tuple[str, tuple[WitnessResult, ...]]:
        """Asks each configured witness that has not cosigned this checkpoint yet; stores the lines it gets."""
        cosigners = self.cosigners
        if cosigners is None:
            return note, ()
        missing = [e for e in cosigners.endpoints if not e.holds_cosignature(note)]
        results = tuple(cosigners.request(note, self.store.consistency_proof, previous, only=missing))
        cp = parse_checkpoint(note)
        for result in results:
            if result.conflict:
                log.error("LEDGER INTEGRITY: witness %s refused checkpoint %d: %s", result.witness, cp.tree_size,
                          result.message)
            elif not result.cosigned:
                log.warning("witness %s did not cosign checkpoint %d: %s", result.witness, cp.tree_size,
                            result.message)
        lines = [r.line for r in results if r.line is not None]
        if not lines:
            return note, results
        for _ in range(3):  # another process may add its own witnesses' lines meanwhile: merge, never drop
            stored = self.checkpoints.get(cp.tree_size)
            base = stored.note if stored is not None and parse_checkpoint(stored.note).body == cp.body else note
            merged = merge_signatures(base, lines)
            if stored is None or merged == stored.note or self.checkpoints.add_signatures(cp.tree_size, merged):
                return merged, results
        return merged, results

    def _directory(self, publish_to: Path | None | object) -> Path | None:
        chosen = self.settings.checkpoint_dir if publish_to is _DEFAULT else publish_to
        return None if chosen is None else Path(chosen)  # type: ignore[arg-type]

    @staticmethod
    def _previous_notes(latest: StoredCheckpoint | None, directory: Path | None) -> list[tuple[str, str]]:
        notes = [] if latest is None else [("database", latest.note)]
        published = None if directory is None else directory / LATEST_FILE
        if published is not None and published.is_file():
            text = published.read_text(encoding="utf-8")
            if latest is None or text != latest.note:
                notes.append((str(published), text))
        return notes

    @staticmethod
    def _publish(outcome: CheckpointOutcome, directory: Path | None, key: SigningKey) -> CheckpointOutcome:
        if directory is None:
            return outcome
        path = publish(directory, outcome.note, key.vkey)
        return replace(outcome, published=path)

    def _trusted(self, note: str, vkey: str | TrustedKeys) -> Checkpoint:
        try:
            return verify_checkpoint(note, vkey, origin=self.origin)
        except VerificationError as exc:
            raise LedgerTampered(f"a stored checkpoint does not verify ({exc}): run `svl verify`") from None

    def latest_checkpoint(self, *, check_signature: bool = True) -> tuple[str, Checkpoint] | None:
        latest = self.checkpoints.latest()
        if latest is None:
            return None
        if not check_signature:
            return latest.note, latest.checkpoint
        return latest.note, self._trusted(latest.note, self.trust() or self.verifier_key())

    def _checkpoint_of_size(self, tree_size: int | None, checkpoints: CheckpointTable | None = None,
                            conn: Connection | None = None) -> tuple[str, Checkpoint]:
        """A stored checkpoint to prove against. Its signature is the client's to check, so it is only parsed."""
        checkpoints = checkpoints or self.checkpoints
        if tree_size is None:
            latest = checkpoints.latest(conn)
            if latest is None:
                raise NotInLedger("no checkpoint has been signed yet: run `svl checkpoint`")
            return latest.note, latest.checkpoint
        stored = checkpoints.get(tree_size, conn)
        if stored is None:
            raise NotInLedger(f"there is no checkpoint of size {tree_size}")
        return stored.note, stored.checkpoint

    # -- proofs ------------------------------------------------------------------------------------------

    def _proved(self, answer: Callable[[SqlLedgerStore, CheckpointTable], dict]) -> dict:
        """The standby's answer when it has what the proof needs, else the primary's (the same bytes either way:
        the client checks the proof against the signed checkpoint, wherever it was read)."""
        if self.standby is not None:
            try:
                result = answer(*self.standby)
            except (NotInLedger, NotYetCheckpointed):
                pass  # not replayed there yet: the primary has it, or says so
            except database_errors() as exc:
                log.warning("the standby could not serve a proof (%s): the primary does", type(exc).__name__)
            else:
                self.served_from_standby += 1
                return result
        return answer(self.store, self.checkpoints)

    def _latest_on_the_primary(self, tree_size: int | None) -> int | None:
        """"The latest" means the primary's: a standby a moment behind would otherwise answer for an older one."""
        return tree_size if tree_size is not None or self.standby is None else self.checkpoints.latest_size()

    def inclusion(self, notification_id: int, tree_size: int | None = None) -> dict:
        """Proof that the event with this notification id is in a signed checkpoint (default: the latest)."""
        tree_size = self._latest_on_the_primary(tree_size)

        def answer(store: SqlLedgerStore, checkpoints: CheckpointTable) -> dict:
            if tree_size is None:  # the usual request: the leaf, the latest checkpoint and the nodes in one query
                read = store.inclusion_in_latest(notification_id)
                found = read.leaf
                if found is None:
                    raise NotInLedger(f"notification id {notification_id} is not in the ledger")
                if read.latest is None:
                    raise NotInLedger("no checkpoint has been signed yet: run `svl checkpoint`")
                stored = StoredCheckpoint(*read.latest)
                return proved(found, stored.note, stored.checkpoint, read.nodes)
            with store.one_connection() as store:
                found = store.leaves_for([notification_id]).get(notification_id)
                if found is None:
                    raise NotInLedger(f"notification id {notification_id} is not in the ledger")
                note, cp = self._checkpoint_of_size(tree_size, checkpoints, store.connection)
                return proved(found, note, cp, store)

        def proved(found: tuple[int, bytes], note: str, cp: Checkpoint, nodes: merkle.BulkSubtreeStore) -> dict:
            leaf_index, leaf = found
            if leaf_index >= cp.tree_size:
                raise NotYetCheckpointed(f"notification id {notification_id} (leaf {leaf_index}) came after "
                                         f"checkpoint {cp.tree_size}: sign a newer checkpoint first "
                                         "(`svl checkpoint`)")
            proof = merkle.inclusion_proof(nodes, leaf_index, cp.tree_size)
            return {"notification_id": notification_id, "leaf_index": leaf_index, "tree_size": cp.tree_size,
                    "leaf_hash": b64(leaf), "proof": [b64(p) for p in proof], "checkpoint": note,
                    "verifier_key": self.verifier_key_or_none()}
        return self._proved(answer)

    def consistency(self, old_size: int, new_size: int | None = None) -> dict:
        """Proof that the tree of old_size is a prefix of the checkpoint of new_size (default: the latest)."""
        new_size = self._latest_on_the_primary(new_size)

        def answer(store: SqlLedgerStore, checkpoints: CheckpointTable) -> dict:
            note, cp = self._checkpoint_of_size(new_size, checkpoints)
            if not 0 <= old_size <= cp.tree_size:
                raise BadProofRequest(f"no consistency proof from size {old_size} to {cp.tree_size}: "
                                      f"the first size must be between 0 and {cp.tree_size}")
            proof = store.consistency_proof(old_size, cp.tree_size)
            older = checkpoints.get(old_size)
            return {"from_size": old_size, "to_size": cp.tree_size, "proof": [b64(p) for p in proof],
                    "checkpoint": note, "from_checkpoint": older.note if older else None,
                    "verifier_key": self.verifier_key_or_none()}
        return self._proved(answer)

    # -- verification ------------------------------------------------------------------------------------

    def resolve_verifier_key(self, given: str | None, published_dir: Path | None) -> str | None:
        """--key, else our own signing key's public half, else the published directory's key file."""
        if given:
            candidate = Path(given)
            vkey = candidate.read_text().strip() if candidate.is_file() else given.strip()
            parse_verifier_key(vkey)
            return vkey
        try:
            return self.verifier_key()
        except SigningKeyMissing:
            pass
        if published_dir is not None:
            return published_verifier_key(published_dir)
        return None

    def verify(self, *, published_dir: Path | None = None, verifier_key: str | None = None,
               on_start: Callable[[int], None] | None = None,
               progress: Callable[[int], None] | None = None) -> AuditReport:
        """Recomputes every leaf and the tree from the events as stored; checks every checkpoint."""
        vkey = self.resolve_verifier_key(verifier_key, published_dir)
        trust = None if vkey is None else TrustedKeys([vkey], self.key_transitions(published_dir), self.origin)
        published: list[CheckpointSource] = []
        if published_dir is not None:
            seen: set[str] = set()
            for where, note in read_published(published_dir):
                if note not in seen:  # `checkpoint` repeats the latest `<size>.checkpoint`
                    seen.add(note)
                    published.append(CheckpointSource(note, where))
        purges = [purge for source in self.purge_sources for purge in source()]
        with snapshot(self.engine, self.events) as snap:
            sources = [CheckpointSource(note, "database") for note in snap.checkpoint_notes] + published
            if sources and vkey is None:
                raise LedgerError("there are checkpoints to check but no verifier key: pass --key, "
                                  "or set SVL_SIGNING_KEY_FILE")
            if on_start is not None:
                on_start(snap.leaf_count)
            return audit(snap.events, snap.leaves, sources, verifier_key=trust, origin=self.origin,
                         purges=purges, progress=progress, versions_checked=snap.versions_checked)

    # -- bundles -----------------------------------------------------------------------------------------

    def export_bundle(self, record_id: UUID, *, with_content: bool = False,
                      consistency_from: Sequence[int] = ()) -> dict:
        """A record's events as stored, with inclusion proofs in the latest checkpoint and its key."""
        rows = self._record_rows(record_id)
        if not rows:
            raise NotInLedger(f"no events for record {record_id}")
        leaves = self.store.leaves_for([row[0] for row in rows])
        purges = Purges(purge for source in self.purge_sources for purge in source())
        for nid, oid, version, topic, state in rows:
            found = leaves.get(nid)
            if found is None or found[1] != self._expected_leaf(nid, oid, version, topic, state, purges, found[1]):
                raise LedgerTampered(f"event {nid} (record {oid} version {version}) does not match the ledger: "
                                     "run `svl verify`. Nothing was exported.")
        newest = max(index for index, _ in leaves.values())
        latest = self.latest_checkpoint()
        if latest is None or newest >= latest[1].tree_size:
            outcome = self.checkpoint()
            latest = (outcome.note, outcome.checkpoint)
        note, cp = latest
        events = []
        for nid, oid, version, topic, state in rows:
            index, leaf = leaves[nid]
            event = {
                "notification_id": nid, "leaf_index": index, "originator_id": oid, "originator_version": version,
                "topic": topic, "state": b64(state), "leaf_hash": b64(leaf),
                "inclusion_proof": [b64(p) for p in self.store.inclusion_proof(index, cp.tree_size)],
            }
            purge = purges.get(nid, oid) if not state else None
            if purge is not None:
                event["purged"] = {"rule": purge.rule, "on": purge.on}
                if purge.state_sha256 is not None:
                    event["state_sha256"] = b64(purge.state_sha256)
            events.append(event)
        earlier = [s for s in self.checkpoints.sizes() if s < cp.tree_size][-BUNDLE_CONSISTENCY_DEFAULT:]
        sizes = sorted(set(earlier) | {s for s in consistency_from if 0 < s < cp.tree_size})
        bundle: dict[str, Any] = {
            "format": BUNDLE_FORMAT,
            "origin": self.origin,
            "record_id": str(record_id),
            "exported_at": self.clock().astimezone(timezone.utc).isoformat(),
            "verifier_key": self.verifier_key(),
            "checkpoint": note,
            "events": events,
            "consistency_proofs": [{"from_size": s, "proof": [b64(p) for p in self.store.consistency_proof(
                s, cp.tree_size)]} for s in sizes],
        }
        transitions = self.key_transitions()
        if transitions:  # so that whoever holds an earlier key of ours can follow it to today's
            bundle["key_transitions"] = transitions
        if with_content:
            bundle["content"] = self._content(rows)
        return bundle

    @staticmethod
    def _expected_leaf(nid: int, oid: str, version: int, topic: str, state: bytes, purges: Purges,
                       stored: bytes) -> bytes:
        purge = purges.get(nid, oid) if not state else None
        if purge is None:
            return event_leaf_hash(nid, oid, version, topic, state)
        if purge.state_sha256 is None:
            return stored  # lawfully purged, digest not kept: the leaf stands on the destruction record
        return leaf_hash(encode_leaf_from_digest(nid, oid, version, topic, purge.state_sha256))

    def _record_rows(self, record_id: UUID) -> list[tuple[int, str, int, str, bytes]]:
        ev = self.events
        if self.settings.is_sqlite:
            sql = (f"SELECT rowid AS nid, originator_id, originator_version, topic, state FROM {ev.qualified} "
                   "WHERE originator_id = :oid ORDER BY originator_version")
            oid: Any = record_id.hex
        else:
            sql = (f"SELECT notification_id AS nid, originator_id::text AS originator_id, originator_version, topic, "
                   f"state FROM {ev.qualified} WHERE originator_id = :oid ORDER BY originator_version")
            oid = record_id
        with reader(self.engine).connect() as conn:
            return [(r.nid, canonical_originator_id(r.originator_id), r.originator_version, r.topic,
                     bytes(r.state or b"")) for r in conn.execute(text(sql), {"oid": oid})]

    def _content(self, rows: list[tuple[int, str, int, str, bytes]]) -> dict:
        """The decrypted events and the data key(s) that prove them: the outsider decrypts and compares."""
        if self.keyring is None:
            raise LedgerError("exporting content needs the application's keyring")
        keys: dict[str, str] = {}
        events = []
        for nid, oid, version, topic, state in rows:
            key_id = key_id_of(topic)
            if key_id not in keys:
                keys[key_id] = b64(self._data_key(key_id))
            aead = self.keyring.aead(key_id)
            plaintext = aead.decrypt(state[:12], state[12:], associated_data(oid, version, key_id))
            event_type, _, state_json = plaintext.partition(b"\n")
            events.append({"notification_id": nid, "originator_version": version,
                           "event_type": event_type.decode(), "state": state_json.decode("utf-8")})
        return {"data_keys": keys, "events": events,
                "warning": "a data key opens every event sealed with it (all of that worker's records): "
                           "give this bundle only to someone entitled to read them"}

    def _data_key(self, key_id: str) -> bytes:
        assert self.keyring is not None
        try:
            return self.keyring.export_data_key(key_id)
        except KeyDestroyed as exc:
            raise LedgerError(f"the data key of this record was destroyed ({exc}): its content can no longer be "
                              "exported (the events as stored and their proofs still can)") from None


class AutomaticCheckpoints:
    """Keeps the unsigned tail short. Signs a checkpoint when events are pending (ledger leaves after the
    newest stored checkpoint, read from the database) and:

    * N of them were saved (after a save; in a server the background thread signs, off the request path);
    * T seconds passed: the background thread of a server wakes every T seconds (`start_background`),
      and a hook built with `inline_timer` checks the time after each save;
    * the process starts (`start`), or closes cleanly (`close`): the window never outlives a process.

    Cheap when not due (a counter and a clock reading). A failure never fails the command that was
    already stored; it is logged (and a missing signing key turns the hook off with one warning).
    """

    def __init__(self, ledger: IntegrityLedger, every_events: int, every_seconds: float,
                 monotonic: Callable[[], float] = time.monotonic, inline_timer: bool = True) -> None:
        self.ledger = ledger
        self.every_events = every_events
        self.every_seconds = every_seconds
        self.inline_timer = inline_timer
        self.enabled = every_events > 0 or every_seconds > 0
        # Several processes: only the one that leads signs as it goes (each still signs at start and close).
        self.leading: Callable[[], bool] = lambda: True
        self._monotonic = monotonic
        self._pending = 0  # saved since the last checkpoint this process knows of: a hint between readings
        self._last = monotonic()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def pending(self) -> int:
        """Ledger leaves after the newest stored checkpoint, as the database holds them now."""
        signed = self.ledger.checkpoints.latest_size() or 0
        return max(0, self.ledger.store.size() - signed)

    def due(self) -> bool:
        if self.every_events > 0 and self._pending >= self.every_events:
            return True
        return (self.inline_timer and self.every_seconds > 0 and self._pending > 0
                and self._monotonic() - self._last >= self.every_seconds)

    def __call__(self, recordings: Sequence[Any]) -> None:
        if not self.enabled:
            return
        self._pending += len(recordings)
        if not self.due() or not self.leading():
            return
        if self._thread is not None:
            self._wake.set()  # the background thread signs; the request goes on
            return
        if self._lock.acquire(blocking=False):
            try:
                self._sign()
            finally:
                self._lock.release()

    def start(self) -> None:
        """At start-up: sign what an earlier process left unsigned (it may have been killed)."""
        if self._usable():
            self.sign_pending()

    def start_background(self) -> None:
        """A server's thread: every T seconds (or when woken after N events) signs what is pending."""
        if self._thread is not None or not self._usable():
            return
        self._thread = threading.Thread(target=self._run, name="svl-checkpoints", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """At a clean shutdown: stop the thread, then sign what is pending. Once: the library closes an
        application again when it is garbage-collected, maybe long after its database was replaced."""
        thread, self._thread = self._thread, None
        if thread is not None:
            self._stopping.set()
            self._wake.set()
            thread.join()
        enabled, self.enabled = self.enabled, False
        if enabled:
            self.sign_pending()

    def sign_pending(self) -> None:
        with self._lock:
            try:
                pending = self.pending()
            except Exception:  # the database is away: the next occasion signs
                log.exception("automatic ledger checkpoint: could not read what is pending")
                return
            self._pending = pending
            if pending and self.ledger.writes_refused is None:
                self._sign()
            else:
                self._last = self._monotonic()

    def _run(self) -> None:
        interval = self.every_seconds if self.every_seconds > 0 else None
        while not self._stopping.is_set():
            self._wake.wait(interval)
            self._wake.clear()
            if self._stopping.is_set():
                return
            if self.leading():
                self.sign_pending()

    def _usable(self) -> bool:
        if not self.enabled:
            return False
        try:
            self.ledger.signing_key()
        except SigningKeyMissing as exc:
            self.enabled = False
            log.warning("automatic ledger checkpoints are off: %s", exc)
        return self.enabled

    def _sign(self) -> None:
        """Signs now; the caller holds the lock."""
        try:
            self.ledger.checkpoint()
            self._pending, self._last = 0, self._monotonic()
        except SigningKeyMissing as exc:
            self.enabled = False
            log.warning("automatic ledger checkpoints are off: %s", exc)
        except LedgerBehind as exc:
            self._pending, self._last = 0, self._monotonic()
            log.error("LEDGER INTEGRITY: no automatic checkpoint: %s", exc)
        except LedgerTampered as exc:
            log.error("LEDGER INTEGRITY: automatic checkpoint refused: %s", exc)
            self._pending, self._last = 0, self._monotonic()
            self.ledger.check_published()  # a database restored under a running process: stop writing too
        except Exception:  # the events are stored; a checkpoint can be made later
            log.exception("automatic ledger checkpoint failed; it will be retried")
