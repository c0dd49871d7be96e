"""Rotating the master key: every live data key rewrapped, the destroyed-key list rebound, the file replaced.

Why rotate at a retention run: a backup taken before the run still holds the destroyed worker's wrapped
data key. Once the master key is rotated (and the old one destroyed, or kept only in the organisation's
key escrow), that backup plus the current master key can no longer unwrap it.
"""

import secrets
from dataclasses import dataclass
from pathlib import Path

from infrastructure.key_tombstones import KeyTombstones
from infrastructure.keys import KeyError_, KeyRing, create_master_key_file


@dataclass(frozen=True)
class Rotation:
    rewrapped: int
    key_file: Path


def rotate_master_key(keyring: KeyRing, tombstones: KeyTombstones, key_file: Path) -> Rotation:
    """Stop every process serving the database first: each holds the old master key in memory.

    Crash-safe in this order: the new key is written beside the old (`<file>.next`), the data keys are
    rewrapped in one transaction, the destroyed-key list is rebound, and only then does the new file
    replace the old. If it stops between the transaction and the replace, `<file>.next` is the key."""
    pending = key_file.with_name(key_file.name + ".next")
    if pending.exists():
        raise KeyError_(f"{pending} exists: an earlier rotation did not finish. If the database was rewrapped, "
                        f"that file holds the current master key; move it to {key_file} and rotate again")
    new_key = secrets.token_bytes(32)
    create_master_key_file(pending, new_key)
    rewrapped = keyring.rewrap(new_key)
    tombstones.rekey(new_key)
    pending.replace(key_file)
    return Rotation(rewrapped, key_file)
