"""A transparency-log witness (C2SP tlog-witness, cosignatures per C2SP tlog-cosignature).

An outside body (another council, the inspectorate, an auditor) runs one to vouch that the
organisation's ledger only ever grows: it cosigns a checkpoint only after verifying the log's
signature and a consistency proof from the size it last cosigned, never cosigns a smaller tree or a
second root for one size, and records its new state durably before answering. Its state is its own
SQLite file, so it survives restarts; a witness whose state is lost must get a new key, not restart.

`Witness.add_checkpoint` answers the body of a `POST <prefix>/add-checkpoint` request with the status,
content type and body the spec prescribes; `infrastructure.witness_http` serves it.
"""

import base64
import os
import sqlite3
import stat
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from infrastructure.svl_verify import (
    ALG_COSIGNATURE_V1,
    HASH_SIZE,
    Checkpoint,
    CosignerKey,
    MalformedError,
    NoteSignature,
    VerificationError,
    VerifierKey,
    cosigned_message,
    format_cosigner_key,
    parse_checkpoint,
    parse_cosigner_key,
    parse_verifier_key,
    verify_checkpoint,
    verify_consistency,
)

SIGNER_PREFIX = "PRIVATE+KEY+"
# The spec lets a client send at most 63 proof lines; a checkpoint note is a few hundred bytes.
MAX_PROOF_LINES = 63
MAX_REQUEST_BYTES = 64 * 1024
SIZE_CONTENT_TYPE = "text/x.tlog.size"
TEXT = "text/plain; charset=utf-8"


class WitnessKeyError(Exception):
    """The witness key file is missing or not a cosignature/v1 signer key."""


@dataclass(frozen=True)
class WitnessKey:
    """The witness's Ed25519 key; its public half is a cosignature/v1 (type 0x04) verifier key."""

    name: str
    private_key: Ed25519PrivateKey

    @property
    def vkey(self) -> str:
        return format_cosigner_key(self.name, self.private_key.public_key())

    @property
    def cosigner(self) -> CosignerKey:
        return parse_cosigner_key(self.vkey)

    def to_text(self) -> str:
        seed = self.private_key.private_bytes_raw()
        typed = base64.b64encode(bytes([ALG_COSIGNATURE_V1]) + seed).decode()
        return f"{SIGNER_PREFIX}{self.name}+{self.cosigner.key_id:08x}+{typed}"

    @classmethod
    def parse(cls, text: str) -> "WitnessKey":
        parts = text.strip().split("+", 4)
        if len(parts) != 5 or f"{parts[0]}+{parts[1]}+" != SIGNER_PREFIX:
            raise WitnessKeyError("the witness key file is not a signer key (PRIVATE+KEY+name+id+key)")
        _, _, name, key_id_hex, key_b64 = parts
        try:
            typed = base64.b64decode(key_b64, validate=True)
        except ValueError:
            raise WitnessKeyError("the witness key file's key is not valid base64") from None
        if len(typed) != 33 or typed[0] != ALG_COSIGNATURE_V1:
            raise WitnessKeyError("the witness key file does not hold an Ed25519 cosignature/v1 key")
        key = cls(name, Ed25519PrivateKey.from_private_bytes(typed[1:]))
        if f"{key.cosigner.key_id:08x}" != key_id_hex.lower():
            raise WitnessKeyError("the witness key file's key id does not match its key")
        return key

    def cosign(self, checkpoint_body: str, timestamp: int) -> str:
        """A cosignature/v1 note signature line over the checkpoint's text."""
        signature = self.private_key.sign(cosigned_message(checkpoint_body, timestamp))
        blob = timestamp.to_bytes(8, "big") + signature
        return NoteSignature(self.name, self.cosigner.key_id, blob).line()


def create_witness_key_file(path: Path, name: str) -> WitnessKey:
    """Creates a witness key (mode 0600); refuses to overwrite one."""
    key = WitnessKey(name, Ed25519PrivateKey.generate())
    key.vkey  # noqa: B018 - validates the name before anything is written
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, stat.S_IRUSR | stat.S_IWUSR)
    with os.fdopen(fd, "w") as f:
        f.write(key.to_text() + "\n")
        f.flush()
        os.fsync(f.fileno())
    return key


def load_witness_key(path: Path) -> WitnessKey:
    if not path.is_file():
        raise WitnessKeyError(f"witness key file {path} not found: create one with `svl witness init`")
    return WitnessKey.parse(path.read_text())


@dataclass(frozen=True)
class Answer:
    """An HTTP answer to add-checkpoint: status, content type, body."""

    status: int
    content_type: str
    body: str


@dataclass(frozen=True)
class Cosigned:
    origin: str
    tree_size: int
    root_hash: bytes
    timestamp: int


_SCHEMA = """
CREATE TABLE IF NOT EXISTS cosigned (
    origin TEXT PRIMARY KEY,
    tree_size INTEGER NOT NULL,
    root_hash BLOB NOT NULL,
    checkpoint TEXT NOT NULL,
    cosigned_at INTEGER NOT NULL
);
-- Log-signed checkpoints the witness refused: evidence of a split view or a rewritten history.
CREATE TABLE IF NOT EXISTS refused (
    id INTEGER PRIMARY KEY,
    origin TEXT NOT NULL,
    tree_size INTEGER NOT NULL,
    old_size INTEGER NOT NULL,
    reason TEXT NOT NULL,
    checkpoint TEXT NOT NULL,
    received_at INTEGER NOT NULL
);
"""


class WitnessState:
    """The latest checkpoint cosigned for each log, in the witness's own SQLite file.

    Checking a request against the stored size and storing the new one happen in one write transaction
    (BEGIN IMMEDIATE), so two concurrent requests cannot roll the state back; the commit is durable
    (synchronous=FULL) before the cosignature leaves."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.executescript(_SCHEMA)
        self._lock = threading.Lock()

    def close(self) -> None:
        self._conn.close()

    def latest(self, origin: str) -> Cosigned | None:
        with self._lock:
            row = self._conn.execute("SELECT tree_size, root_hash, cosigned_at FROM cosigned WHERE origin = ?",
                                     (origin,)).fetchone()
        return None if row is None else Cosigned(origin, row[0], bytes(row[1]), row[2])

    def logs(self) -> list[Cosigned]:
        with self._lock:
            rows = self._conn.execute("SELECT origin, tree_size, root_hash, cosigned_at FROM cosigned "
                                      "ORDER BY origin").fetchall()
        return [Cosigned(r[0], r[1], bytes(r[2]), r[3]) for r in rows]

    def refusals(self) -> list[tuple[str, int, int, str, str, int]]:
        """(origin, tree size, old size, reason, checkpoint, received at) of every refused log-signed request."""
        with self._lock:
            return [tuple(r) for r in self._conn.execute(  # type: ignore[misc]
                "SELECT origin, tree_size, old_size, reason, checkpoint, received_at FROM refused ORDER BY id")]

    def advance(self, cp: Checkpoint, note: str, old_size: int, check: Callable[[Cosigned | None], Answer | None],
                now: int) -> Answer | None:
        """Under the write lock: `check` sees the stored state and returns a refusal, or None to store cp."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                row = self._conn.execute("SELECT tree_size, root_hash, cosigned_at FROM cosigned WHERE origin = ?",
                                         (cp.origin,)).fetchone()
                held = None if row is None else Cosigned(cp.origin, row[0], bytes(row[1]), row[2])
                refusal = check(held)
                if refusal is not None:
                    if refusal.content_type != SIZE_CONTENT_TYPE:  # evidence; a mere stale old size is not
                        self._conn.execute("INSERT INTO refused (origin, tree_size, old_size, reason, checkpoint, "
                                           "received_at) VALUES (?, ?, ?, ?, ?, ?)",
                                           (cp.origin, cp.tree_size, old_size, refusal.body.strip(), note, now))
                else:
                    self._conn.execute(
                        "INSERT INTO cosigned (origin, tree_size, root_hash, checkpoint, cosigned_at) "
                        "VALUES (?, ?, ?, ?, ?) ON CONFLICT (origin) DO UPDATE SET tree_size = excluded.tree_size, "
                        "root_hash = excluded.root_hash, checkpoint = excluded.checkpoint, "
                        "cosigned_at = excluded.cosigned_at", (cp.origin, cp.tree_size, cp.root_hash, note, now))
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
        return refusal


@dataclass(frozen=True)
class AddCheckpoint:
    """A parsed add-checkpoint request body."""

    old_size: int
    proof: list[bytes]
    note: str


def parse_request(body: bytes) -> AddCheckpoint:
    """`old <size>\\n`, up to 63 base64 proof lines, an empty line, then the checkpoint note."""
    if len(body) > MAX_REQUEST_BYTES:
        raise MalformedError(f"the request is larger than {MAX_REQUEST_BYTES} bytes")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedError("the request is not UTF-8") from None
    head, sep, note = text.partition("\n\n")
    if not sep:
        raise MalformedError("the request has no empty line between the proof and the checkpoint")
    lines = head.split("\n")
    first = lines[0]
    if not first.startswith("old ") or not _is_decimal(first[4:]):
        raise MalformedError("the request's first line must be `old <size>` (decimal, no leading zeroes)")
    proof_lines = lines[1:]
    if len(proof_lines) > MAX_PROOF_LINES:
        raise MalformedError(f"the request has more than {MAX_PROOF_LINES} consistency proof lines")
    proof = []
    for line in proof_lines:
        try:
            raw = base64.b64decode(line.encode("ascii"), validate=True)
        except (ValueError, UnicodeEncodeError):
            raise MalformedError(f"a consistency proof line is not base64: {line[:60]!r}") from None
        if len(raw) != HASH_SIZE or base64.b64encode(raw).decode() != line:
            raise MalformedError(f"a consistency proof line is not one {HASH_SIZE}-byte hash: {line[:60]!r}")
        proof.append(raw)
    return AddCheckpoint(int(first[4:]), proof, note)


def _is_decimal(text: str) -> bool:
    return text.isascii() and text.isdigit() and (text == "0" or not text.startswith("0")) and len(text) <= 20


def format_request(old_size: int, proof: Iterable[bytes], note: str) -> bytes:
    lines = [f"old {old_size}"] + [base64.b64encode(p).decode() for p in proof]
    return ("\n".join(lines) + "\n\n" + note).encode("utf-8")


class Witness:
    """Cosigns checkpoints of the logs it knows (origin -> the log's verifier key)."""

    def __init__(self, key: WitnessKey, state: WitnessState, log_keys: Iterable[str],
                 clock: Callable[[], float] = time.time) -> None:
        self.key = key
        self.state = state
        self.clock = clock
        self.logs: dict[str, VerifierKey] = {}
        for text in log_keys:
            vkey = parse_verifier_key(text.strip())
            self.logs[vkey.name] = vkey  # a log's origin is its key's name, as the checkpoint spec recommends

    def add_checkpoint(self, body: bytes) -> Answer:
        try:
            request = parse_request(body)
            cp = parse_checkpoint(request.note)
        except VerificationError as exc:
            return Answer(400, TEXT, f"bad request: {exc}\n")
        log_key = self.logs.get(cp.origin)
        if log_key is None:
            return Answer(404, TEXT, f"unknown log {cp.origin!r}: this witness does not witness it\n")
        try:
            verify_checkpoint(request.note, log_key, origin=cp.origin)
        except VerificationError as exc:
            return Answer(403, TEXT, f"the checkpoint is not signed by the log's key {log_key.name}: {exc}\n")
        if request.old_size > cp.tree_size:
            return Answer(400, TEXT, f"old size {request.old_size} is larger than the checkpoint's "
                                     f"{cp.tree_size}\n")
        now = int(self.clock())

        def check(held: Cosigned | None) -> Answer | None:
            held_size = 0 if held is None else held.tree_size
            if request.old_size != held_size:
                return Answer(409, SIZE_CONTENT_TYPE, f"{held_size}\n")
            if held is not None and held.tree_size == cp.tree_size:
                if held.root_hash != cp.root_hash:
                    return Answer(409, TEXT, f"this witness cosigned another root for size {cp.tree_size}: "
                                             "the log shows two histories (a split view); refused\n")
                return None  # the same tree again: cosigned again
            if held is None:
                if request.proof:
                    return Answer(422, TEXT, "the consistency proof must be empty when the old size is 0\n")
                return None
            if not verify_consistency(held.tree_size, cp.tree_size, request.proof, held.root_hash, cp.root_hash):
                return Answer(422, TEXT, f"the consistency proof from size {held.tree_size} to {cp.tree_size} does "
                                         "not verify: this tree does not extend the one this witness cosigned\n")
            return None

        refusal = self.state.advance(cp, request.note, request.old_size, check, now)
        if refusal is not None:
            return refusal
        return Answer(200, TEXT, self.key.cosign(cp.body, now))
