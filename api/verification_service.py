"""The integrity ledger as commands for a signed-in person: its latest checkpoint, a full verification (the same
code path as `svl verify`), and one record's bundle for `svl-verify` (as `svl export-bundle`, without content).

These are for administrators: a verification reads every event as stored, and a bundle names a record's events
and their times. Neither shows content (the events in a bundle stay sealed).
"""

import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from api.access_service import AccessService
from api.core import Core, Service
from domain.authorisation import Role, decide_role
from infrastructure.ledger_verify import AuditReport
from infrastructure.svl_verify import Checkpoint, parse_verifier_key
from infrastructure.users import Principal

LEDGER_KEEPERS = frozenset({Role.ADMINISTRATOR})


@dataclass(frozen=True)
class LatestCheckpoint:
    note: str
    checkpoint: Checkpoint
    verifier_key: str | None  # this server's verifier key, when it holds the signing key
    signed_by: list[str]  # "<key name>+<key id>" of each signature line

    @property
    def by_our_key(self) -> bool:
        if self.verifier_key is None:
            return False
        ours = parse_verifier_key(self.verifier_key)
        return f"{ours.name}+{ours.key_id:08x}" in self.signed_by


@dataclass(frozen=True)
class LedgerVerification:
    report: AuditReport
    at: datetime
    seconds: float
    published_dir: str | None  # the published checkpoints it compared with (SVL_CHECKPOINT_DIR)
    by: str


class VerificationService(Service):
    """The integrity ledger for a signed-in administrator: checkpoint, verification, bundles. Uses the core and
    access (a bundle with content is a logged read)."""

    # The last verification this process ran (a restart forgets it; `svl verify` reports to its own caller).
    last_verification: LedgerVerification | None = None

    def __init__(self, core: Core, access: AccessService) -> None:
        super().__init__(core)
        self.access = access


    def latest_checkpoint(self, who: Principal) -> LatestCheckpoint | None:
        self.require(who, decide_role(who.reader, LEDGER_KEEPERS, "see the integrity ledger"))
        latest = self.integrity.latest_checkpoint(check_signature=False)  # the verification checks it
        if latest is None:
            return None
        note, cp = latest
        return LatestCheckpoint(note, cp, self.integrity.verifier_key_or_none(),
                                [f"{s.name}+{s.key_id:08x}" for s in cp.signatures])

    def verify_ledger(self, who: Principal) -> LedgerVerification:
        """As `svl verify --checkpoints SVL_CHECKPOINT_DIR`: every leaf and the tree recomputed from the events
        as stored, every stored and published checkpoint's signature and root checked."""
        self.require(who, decide_role(who.reader, LEDGER_KEEPERS, "verify the integrity ledger"))
        directory = self.storage.settings.checkpoint_dir
        published = Path(directory) if directory and Path(directory).is_dir() else None
        started = time.perf_counter()
        report = self.integrity.verify(published_dir=published)
        done = LedgerVerification(report, self.clock(), time.perf_counter() - started,
                                  str(published) if published else None, who.username)
        self.last_verification = done
        return done

    def record_bundle(self, who: Principal, record_id: UUID | str) -> dict:
        """As `svl export-bundle RECORD` (no content): the record's events as stored, their inclusion proofs in
        the latest checkpoint (one is signed first if they came after it) and the verifier key."""
        self.require(who, decide_role(who.reader, LEDGER_KEEPERS, "export a record's ledger bundle"))
        record = self.get_record(record_id)
        return self.integrity.export_bundle(UUID(str(record.id)))

    def record_with_bundle(self, who: Principal, record_id: UUID | str, *, action: str, via: Any
                           ) -> tuple[Any, Any, dict]:
        """A record read (decided and logged as any other, e.g. for its signed copy) with its bundle: whoever may
        read the record may keep the proof of it."""
        record, decision = self.access.read_record_content(who, record_id, action=action, via=via)
        return record, decision, self.integrity.export_bundle(UUID(str(record.id)))
