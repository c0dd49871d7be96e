"""The list of destroyed data keys, kept OUTSIDE the database beside the master key.

A database backup taken before a destruction still holds the wrapped key. When such a backup is
restored, the list says the key was destroyed, and the key is destroyed again at start-up before
anything is served: a restore cannot resurrect what retention destroyed. Each entry is bound to the
master key with an HMAC, so entries cannot be forged or edited without it (removing the whole file
is detected at the next start-up too: the database's own destroyed keys are written back to it).
"""

import hashlib
import hmac
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


@dataclass(frozen=True)
class Tombstone:
    key_id: str
    destroyed_at: str
    reason: str


class TombstoneTampered(Exception):
    pass


class KeyTombstones:
    def __init__(self, path: Path, master_key: bytes) -> None:
        self.path = path
        self._mac_key = _mac_key(master_key)

    def read(self) -> list[Tombstone]:
        if not self.path.exists():
            return []
        entries = json.loads(self.path.read_text())
        stones = []
        for entry in entries:
            stone = Tombstone(entry["key_id"], entry["destroyed_at"], entry["reason"])
            if not hmac.compare_digest(entry["mac"], self._mac(stone)):
                raise TombstoneTampered(f"{self.path}: the entry for key {stone.key_id} was altered")
            stones.append(stone)
        return stones

    def add(self, stones: list[Tombstone]) -> None:
        """Appends (idempotently) and replaces the file atomically, so a crash leaves the old or new list."""
        known = {s.key_id: s for s in self.read()}
        for stone in stones:
            known.setdefault(stone.key_id, stone)
        self._write(list(known.values()))

    def rekey(self, new_master_key: bytes) -> None:
        """The master key was rotated: bind every entry to the new one (checked under the old one first)."""
        stones = self.read()
        self._mac_key = _mac_key(new_master_key)
        self._write(stones)

    def _write(self, stones: list[Tombstone]) -> None:
        entries = [{"key_id": s.key_id, "destroyed_at": s.destroyed_at, "reason": s.reason, "mac": self._mac(s)}
                   for s in stones]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".tombstones-")
        with os.fdopen(fd, "w") as f:
            json.dump(entries, f, indent=1)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)

    def _mac(self, stone: Tombstone) -> str:
        message = f"{stone.key_id}|{stone.destroyed_at}|{stone.reason}".encode()
        return hmac.new(self._mac_key, message, hashlib.sha256).hexdigest()


def _mac_key(master_key: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"svl destroyed-key tombstones v1").derive(master_key)
