"""Rotating the master key: every live data key rewrapped, the destroyed-key list rebound, the file replaced.

Why rotate at a retention run: a backup taken before the run still holds the destroyed worker's wrapped
data key. Once the master key is rotated (and the old one destroyed, or kept only in the organisation's
key escrow), that backup plus the current master key can no longer unwrap it. A key destroyed before the
rotation is never wrapped under the new key at all.
"""

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap
from sqlalchemy import Engine, select

from infrastructure.key_tombstones import KeyTombstones, TombstoneTampered
from infrastructure.keys import ORGANISATION_KEY_ID, KeyError_, KeyRing, create_master_key_file, data_keys
from infrastructure.master_key import MasterKeyMissing, load_master_key


@dataclass(frozen=True)
class Rotation:
    rewrapped: int
    key_file: Path


def pending_file(key_file: Path) -> Path:
    return key_file.with_name(key_file.name + ".next")


def rotate_master_key(keyring: KeyRing, tombstones: KeyTombstones, key_file: Path) -> Rotation:
    """No other process may hold the old master key meanwhile (infrastructure/key_holders.py).

    Crash-safe in this order: the new key is written beside the old (`<file>.next`), the data keys are
    rewrapped in one transaction, the destroyed-key list is rebound, the old file's bytes are overwritten, and
    only then does the new file replace it. A crash at any point is finished (or undone, if the transaction did
    not commit) when the database is next opened from the key file (`finish_interrupted_rotation`)."""
    pending = pending_file(key_file)
    if pending.exists():
        raise KeyError_(f"{pending} exists: an earlier rotation did not finish. Open the database once "
                        "(any `svl` command) to finish it, then rotate again")
    new_key = secrets.token_bytes(32)
    create_master_key_file(pending, new_key)
    _sync_folder(key_file.parent)
    rewrapped = keyring.rewrap(new_key)
    tombstones.rekey(new_key)
    _retire(key_file, pending)
    return Rotation(rewrapped, key_file)


def finish_interrupted_rotation(engine: Engine, key_file: Path, tombstones_file: Path) -> str | None:
    """Called before the master key is read from its file. If a rotation stopped part-way, finishes it when
    its transaction committed (the new key opens the organisation's data key), else forgets the new key, which
    wrapped nothing. Returns what was done, or None when there was nothing to do."""
    pending = pending_file(key_file)
    if not pending.exists():
        return None
    new_key = load_master_key(pending, env_value=None)
    with engine.connect() as conn:
        wrapped = conn.execute(select(data_keys.c.wrapped_key)
                               .where(data_keys.c.key_id == ORGANISATION_KEY_ID)).scalar()
    try:
        committed = wrapped is not None and bool(aes_key_unwrap(new_key, wrapped))
    except InvalidUnwrap:
        committed = False
    if not committed:
        pending.unlink()
        return "undone"
    rebound = KeyTombstones(tombstones_file, new_key)
    try:
        rebound.read()
    except TombstoneTampered:  # stopped before the list was rebound: the old key is still in its file
        KeyTombstones(tombstones_file, load_master_key(key_file, env_value=None)).rekey(new_key)
    _retire(key_file, pending)
    return "finished"


def _retire(key_file: Path, pending: Path) -> None:
    """The old key's bytes are overwritten in place and flushed before the new file takes its name, so the old
    key is not left in the file's blocks. (A copy-on-write or journalling file system, or an SSD, may still
    keep old blocks: hold production keys in a key store, not a file, if that matters.)"""
    try:
        old = key_file.read_bytes()
    except FileNotFoundError:
        old = b""
    if old.strip():
        try:
            load_master_key(key_file, env_value=None)
            holds_a_key = True
        except MasterKeyMissing:
            holds_a_key = False  # overwritten already by an interrupted retirement
        if holds_a_key:
            fd = os.open(key_file, os.O_WRONLY)
            try:
                os.write(fd, b"0" * len(old))
                os.fsync(fd)
            finally:
                os.close(fd)
    pending.replace(key_file)
    _sync_folder(key_file.parent)


def _sync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
