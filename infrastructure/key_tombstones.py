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
        text = self.path.read_text()
        stones = []
        for entry in self._entries(text):
            stone = Tombstone(entry["key_id"], entry["destroyed_at"], entry["reason"])
            if not hmac.compare_digest(entry["mac"], self._mac(stone)):
                raise TombstoneTampered(f"{self.path}: the entry for key {stone.key_id} was altered")
            stones.append(stone)
        return stones

    def _entries(self, text: str) -> list[dict]:
        """One JSON object a line, appended. A file of the first format (one JSON array) is read as it was. A line
        that is not JSON is a crash mid-append, before its key was destroyed (a key is destroyed only after the
        append returns): it is skipped, and that key is listed again by whoever destroys it. Skipping hides
        nothing an editor could not do by deleting a line, which start-up repairs from the database."""
        if text.lstrip().startswith("["):
            return json.loads(text)
        entries = []
        for line in text.split("\n"):
            if line.strip():
                try:
                    entries.append(json.loads(line))
                except json.JSONDecodeError:
                    continue
        return entries

    def add(self, stones: list[Tombstone]) -> None:
        """Appends what is not listed yet, one line each, in one write flushed to disk: the cost of a destruction no
        longer grows with the number listed before it."""
        text = self.path.read_text() if self.path.exists() else ""
        if text.lstrip().startswith("["):  # the first format: rewritten once as lines, then appended to
            self._write(self.read())
            text = self.path.read_text()
        listed = {entry["key_id"] for entry in self._entries(text)}
        new: dict[str, Tombstone] = {}
        for stone in stones:
            if stone.key_id not in listed:
                new.setdefault(stone.key_id, stone)
        if not new:
            return
        lines = "".join(self._line(s) for s in new.values())
        if text and not text.endswith("\n"):
            lines = "\n" + lines  # after a torn last line, start on a line of its own
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(lines)
            f.flush()
            os.fsync(f.fileno())

    def rekey(self, new_master_key: bytes) -> None:
        """The master key was rotated: bind every entry to the new one (checked under the old one first)."""
        stones = self.read()
        self._mac_key = _mac_key(new_master_key)
        self._write(stones)

    def _line(self, s: Tombstone) -> str:
        return json.dumps({"key_id": s.key_id, "destroyed_at": s.destroyed_at, "reason": s.reason,
                           "mac": self._mac(s)}) + "\n"

    def _write(self, stones: list[Tombstone]) -> None:
        """Replaces the whole list atomically (a crash leaves the old or the new one)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".tombstones-")
        with os.fdopen(fd, "w") as f:
            f.write("".join(self._line(s) for s in stones))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)

    def _mac(self, stone: Tombstone) -> str:
        message = f"{stone.key_id}|{stone.destroyed_at}|{stone.reason}".encode()
        return hmac.new(self._mac_key, message, hashlib.sha256).hexdigest()


def _mac_key(master_key: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"svl destroyed-key tombstones v1").derive(master_key)
