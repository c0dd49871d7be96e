"""Signed checkpoints: the organisation's Ed25519 signing key, the checkpoints table, and publishing.

A checkpoint is a C2SP tlog-checkpoint inside a C2SP signed note (origin, tree size, root hash, and
a `time` extension line), signed with the organisation's key. The key lives in a file outside the
database, in the format of golang.org/x/mod/sumdb/note signer keys
(`PRIVATE+KEY+<name>+<key id hex>+<base64(0x01 || 32-byte seed)>`), so existing transparency-log
tools can sign and verify with it too. Published checkpoints are plain files an organisation can
hand to a third party: `<dir>/<tree size>.checkpoint`, `<dir>/checkpoint` (the latest) and
`<dir>/verifier.vkey` (the public verifier key).
"""

import base64
import functools
import os
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Connection, Engine, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError

from infrastructure.database import reader, writer
from infrastructure.ledger_tables import ledger_checkpoints
from infrastructure.note_signing import format_verifier_key
from infrastructure.settings import LATEST_FILE
from infrastructure.svl_verify import (
    ALG_ED25519,
    Checkpoint,
    MalformedError,
    VerificationError,
    parse_checkpoint,
    parse_verifier_key,
)

SIGNER_PREFIX = "PRIVATE+KEY+"
VERIFIER_FILE = "verifier.vkey"
# Beside the checkpoints: each signing-key hand-over, `<tree size>.transition` (see svl_verify.KeyTransition).
TRANSITIONS_DIR = "key-transitions"
TRANSITION_SUFFIX = ".transition"
SUFFIX = ".checkpoint"


class SigningKeyMissing(Exception):
    """No usable signing key: checkpoints cannot be signed."""


@dataclass(frozen=True)
class SigningKey:
    name: str
    private_key: Ed25519PrivateKey

    @functools.cached_property
    def vkey(self) -> str:
        """Computed once: every proof served names it."""
        return format_verifier_key(self.name, self.private_key.public_key())

    def to_text(self) -> str:
        seed = self.private_key.private_bytes_raw()
        key_id = parse_verifier_key(self.vkey).key_id
        return f"{SIGNER_PREFIX}{self.name}+{key_id:08x}+{base64.b64encode(bytes([ALG_ED25519]) + seed).decode()}"

    @classmethod
    def parse(cls, text: str) -> "SigningKey":
        parts = text.strip().split("+", 4)
        if len(parts) != 5 or "+".join(parts[:2]) + "+" != SIGNER_PREFIX:
            raise SigningKeyMissing("the signing key file is not a note signer key (PRIVATE+KEY+name+id+key)")
        _, _, name, key_id_hex, key_b64 = parts
        try:
            typed = base64.b64decode(key_b64, validate=True)
        except ValueError:
            raise SigningKeyMissing("the signing key file's key is not valid base64") from None
        if len(typed) != 33 or typed[0] != ALG_ED25519:
            raise SigningKeyMissing("the signing key file does not hold an Ed25519 key")
        key = cls(name, Ed25519PrivateKey.from_private_bytes(typed[1:]))
        if f"{parse_verifier_key(key.vkey).key_id:08x}" != key_id_hex.lower():
            raise SigningKeyMissing("the signing key file's key id does not match its key")
        return key


def create_signing_key_file(path: Path, name: str) -> bool:
    """Creates the organisation's signing key (mode 0600) if there is none. Returns True if created."""
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    key = SigningKey(name, Ed25519PrivateKey.generate())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, stat.S_IRUSR | stat.S_IWUSR)
    with os.fdopen(fd, "w") as f:
        f.write(key.to_text() + "\n")
    return True


def load_signing_key(path: Path) -> SigningKey:
    if not path.exists():
        raise SigningKeyMissing(
            f"signing key file {path} not found: run `svl init` to create one, or set SVL_SIGNING_KEY_FILE")
    return SigningKey.parse(path.read_text())


# --- the checkpoints table ---

@dataclass(frozen=True)
class StoredCheckpoint:
    tree_size: int
    note: str

    @property
    def checkpoint(self) -> Checkpoint:
        return _parsed(self.note)


@functools.lru_cache(maxsize=64)
def _parsed(note: str) -> Checkpoint:
    """A stored note never changes (a new signature makes a new text), and every proof parses the latest one."""
    return parse_checkpoint(note)


class CheckpointTable:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._latest_sql = (select(ledger_checkpoints.c.tree_size, ledger_checkpoints.c.note)
                            .order_by(ledger_checkpoints.c.tree_size.desc()).limit(1))
        self._get_sql = select(ledger_checkpoints.c.note).where(ledger_checkpoints.c.tree_size == bindparam("size"))

    def latest(self, conn: Connection | None = None) -> StoredCheckpoint | None:
        with self._connection(conn) as conn:
            row = conn.execute(self._latest_sql).first()
        return None if row is None else StoredCheckpoint(row.tree_size, row.note)

    @contextmanager
    def _connection(self, given: Connection | None) -> Iterator[Connection]:
        if given is not None:
            yield given
            return
        with reader(self._engine).connect() as conn:
            yield conn

    def at_most(self, tree_size: int) -> StoredCheckpoint | None:
        with reader(self._engine).connect() as conn:
            row = conn.execute(select(ledger_checkpoints.c.tree_size, ledger_checkpoints.c.note)
                               .where(ledger_checkpoints.c.tree_size <= tree_size)
                               .order_by(ledger_checkpoints.c.tree_size.desc()).limit(1)).first()
        return None if row is None else StoredCheckpoint(row.tree_size, row.note)

    def sizes(self) -> list[int]:
        with reader(self._engine).connect() as conn:
            return list(conn.execute(select(ledger_checkpoints.c.tree_size)
                                     .order_by(ledger_checkpoints.c.tree_size)).scalars())

    def get(self, tree_size: int, conn: Connection | None = None) -> StoredCheckpoint | None:
        with self._connection(conn) as conn:
            note = conn.execute(self._get_sql, {"size": tree_size}).scalar()
        return None if note is None else StoredCheckpoint(tree_size, note)

    def latest_size(self) -> int | None:
        with reader(self._engine).connect() as conn:
            return conn.execute(select(ledger_checkpoints.c.tree_size)
                                .order_by(ledger_checkpoints.c.tree_size.desc()).limit(1)).scalar()

    def add_signatures(self, tree_size: int, note: str) -> bool:
        """Replaces a stored checkpoint's note by the same text with more signature lines (witness
        cosignatures); False if the stored note says something else, or already has them all."""
        stored = self.get(tree_size)
        if stored is None:
            return False
        held, offered = parse_checkpoint(stored.note), parse_checkpoint(note)
        if held.body != offered.body or set(offered.signatures) <= set(held.signatures):
            return False
        with writer(self._engine).begin() as conn:
            done = conn.execute(update(ledger_checkpoints).where(
                ledger_checkpoints.c.tree_size == tree_size, ledger_checkpoints.c.note == stored.note)
                .values(note=note))
        return done.rowcount == 1

    def add(self, note: str) -> bool:
        """Stores a signed checkpoint; False if one of that size is already there (made concurrently)."""
        cp = parse_checkpoint(note)
        try:
            with writer(self._engine).begin() as conn:
                conn.execute(insert(ledger_checkpoints).values(
                    tree_size=cp.tree_size, root_hash=cp.root_hash, signed_at=cp.time, note=note))
        except IntegrityError:
            return False
        return True


# --- publishing ---

def write_atomically(path: Path, content: str, mode: int = 0o644) -> None:
    """Replaces the file whole or not at all: a full disk or a crash leaves the old file (or none), never
    a truncated one. Written to a temporary file in the same directory, flushed to disk, then renamed over
    the target, and the rename itself made durable."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(content)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)  # published files are meant to be read by anyone
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _sync_directory(path.parent)


def _sync_directory(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # not every platform opens directories
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def publish(directory: Path, note: str, vkey: str) -> Path:
    """Writes the checkpoint and the verifier key into the directory handed to outsiders."""
    directory.mkdir(parents=True, exist_ok=True)
    key_file = directory / VERIFIER_FILE
    if key_file.exists() and key_file.read_text().strip() != vkey:
        raise VerificationError(f"{key_file} holds a different verifier key: is this another log's directory?")
    if not key_file.exists():
        write_atomically(key_file, vkey + "\n")
    cp = parse_checkpoint(note)
    path = directory / f"{cp.tree_size}{SUFFIX}"
    if _replaceable(path, cp):
        write_atomically(path, note)
    latest = directory / LATEST_FILE
    if not latest.exists() or _size_of(latest) < cp.tree_size or _replaceable(latest, cp):
        write_atomically(latest, note)
    return path


def _replaceable(path: Path, cp: Checkpoint) -> bool:
    """A checkpoint file is written once; rewritten only to carry more signatures on the very same text
    (witness cosignatures that came later), never to change what it says."""
    if not path.exists():
        return True
    try:
        held = parse_checkpoint(path.read_text(encoding="utf-8"))
    except (VerificationError, OSError, UnicodeDecodeError):
        return False
    return held.body == cp.body and set(held.signatures) < set(cp.signatures)


def _size_of(path: Path) -> int:
    try:
        return parse_checkpoint(path.read_text(encoding="utf-8")).tree_size
    except (VerificationError, OSError, UnicodeDecodeError):
        return -1


def read_published(directory: Path) -> list[tuple[str, str]]:
    """(where, note text) for every checkpoint file in the directory, smallest size first."""
    if not directory.is_dir():
        raise FileNotFoundError(f"{directory} is not a directory of published checkpoints")
    found = []
    for path in sorted(directory.iterdir()):
        if path.name == LATEST_FILE or path.name.endswith(SUFFIX):
            try:
                found.append((str(path), path.read_text(encoding="utf-8")))
            except (OSError, UnicodeDecodeError) as exc:
                found.append((str(path), f"unreadable: {exc}"))
    return sorted(found, key=lambda item: (_safe_size(item[1]), item[0]))


def _safe_size(note: str) -> int:
    try:
        return parse_checkpoint(note).tree_size
    except MalformedError:
        return -1


def published_verifier_key(directory: Path) -> str | None:
    path = directory / VERIFIER_FILE
    return path.read_text().strip() if path.exists() else None
