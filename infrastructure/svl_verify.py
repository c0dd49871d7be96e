"""Supervision Ledger offline verifier.

This file is deliberately self-contained: it imports only the Python standard
library and ``cryptography``, so that anyone holding an exported bundle can copy
this one file, read it, and check the ledger without trusting the rest of our
code.

What it checks:

* Merkle tree hashing, inclusion and consistency proofs exactly as RFC 9162
  (Certificate Transparency v2), section 2.1: leaf = SHA-256(0x00 || data),
  interior node = SHA-256(0x01 || left || right), empty tree = SHA-256("").
* Checkpoints (signed tree heads) in the C2SP ``tlog-checkpoint`` format, inside
  a C2SP ``signed-note`` with Ed25519 signatures (signature type 0x01)::

      <origin>
      <tree size, decimal>
      <root hash, base64>
      time 2025-11-24T23:26:00Z        <- optional extension line, see below
                                       <- blank line
      — <key name> <base64(4-byte key ID || 64-byte Ed25519 signature)>

  Extension line ``time <RFC 3339 UTC>``: the log's own claim of when it signed
  the checkpoint. Always UTC, always the ``Z`` suffix, whole seconds, i.e. the
  exact shape ``YYYY-MM-DDTHH:MM:SSZ``, so each instant has exactly one spelling
  (the signature covers bytes, so two spellings of one time would be two
  different notes). It is covered by the log's signature but, as the C2SP spec
  warns about every extension line, witnesses do not vouch for it; treat it as
  an assertion by the signer, not as a trusted timestamp.

Verification functions return ``False`` (proofs) or raise ``VerificationError``
(notes, checkpoints, keys); they never raise anything else on hostile input.

Bundles and destruction certificates (``verify_bundle``, ``verify_certificate``, ``main``): every
leaf is recomputed from what the file shows, never read from it; the result says whose key it rests
on: ``RESULT: VERIFIED`` (exit 0) only with the key the user supplied, ``RESULT: CONSISTENT, BUT
SIGNED BY A KEY YOU DID NOT SUPPLY`` (exit 3) with the file's own, ``RESULT: NOT VERIFIED`` (exit 1)
otherwise. Files are read bounded in size and nesting.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import json
import re
import struct
import sys
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

__all__ = [
    "BUNDLE_FORMAT",
    "EMPTY_ROOT",
    "BundleReport",
    "HASH_SIZE",
    "Checkpoint",
    "MalformedError",
    "Note",
    "NoteSignature",
    "SignatureError",
    "VerificationError",
    "VerifierKey",
    "encode_leaf",
    "encode_leaf_from_digest",
    "event_leaf_hash",
    "leaf_hash",
    "node_hash",
    "parse_checkpoint",
    "parse_note",
    "parse_verifier_key",
    "root_from_leaf_hashes",
    "verify_bundle",
    "verify_checkpoint",
    "verify_consistency",
    "verify_inclusion",
    "verify_note",
    # witness cosignatures
    "CosignerKey",
    "Cosignature",
    "check_witnesses",
    "cosigned_message",
    "format_cosigner_key",
    "parse_cosigner_key",
    "verify_cosignatures",
]

# --- Merkle tree hashing (RFC 9162 section 2.1.1) ---

HASH_SIZE = 32
# RFC 9162 carries tree sizes and indices as uint64.
_MAX_TREE_SIZE = 1 << 64


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


EMPTY_ROOT = _sha256(b"")


def leaf_hash(data: bytes) -> bytes:
    """MTH of a one-leaf tree: the 0x00 prefix keeps leaves and nodes apart."""
    return _sha256(b"\x00" + data)


def node_hash(left: bytes, right: bytes) -> bytes:
    return _sha256(b"\x01" + left + right)


# --- the leaf: what the log commits to for each stored event ---

LEAF_DOMAIN = b"svl-event-v1\x00"
_LEAF_HEAD = struct.Struct(">QI")  # notification id, length of the originator id
_LEAF_MID = struct.Struct(">QI")  # originator version, length of the stored topic


def encode_leaf_from_digest(
    notification_id: int, originator_id: object, version: int, topic: str, state_sha256: bytes
) -> bytes:
    """The leaf data: a domain tag, the event's place and identity, and the hash of its stored bytes.

    Layout (big-endian): "svl-event-v1\\0" || u64 notification id || u32 n || originator id
    (n bytes, UTF-8, canonical UUID text) || u64 version || u32 m || stored topic (m bytes) ||
    SHA-256(stored state). Only the digest of the state is needed, so a leaf stays checkable
    when the ciphertext itself is later purged, as long as its digest is kept.
    """
    oid = str(originator_id).encode("utf-8")
    top = topic.encode("utf-8")
    return b"".join((
        LEAF_DOMAIN, _LEAF_HEAD.pack(notification_id, len(oid)), oid,
        _LEAF_MID.pack(version, len(top)), top, state_sha256,
    ))


def encode_leaf(notification_id: int, originator_id: object, version: int, topic: str, state: bytes) -> bytes:
    """The leaf data of a stored event, from its stored (sealed) bytes."""
    return encode_leaf_from_digest(notification_id, originator_id, version, topic, _sha256(state))


def event_leaf_hash(notification_id: int, originator_id: object, version: int, topic: str, state: bytes) -> bytes:
    return leaf_hash(encode_leaf(notification_id, originator_id, version, topic, state))


def _split_point(size: int) -> int:
    """RFC 9162's k: the largest power of two smaller than size (size >= 2)."""
    return 1 << ((size - 1).bit_length() - 1)


def root_from_leaf_hashes(hashes: Sequence[bytes]) -> bytes:
    """Reference MTH, written as the RFC's recursion so it can be read against it."""
    if not hashes:
        return EMPTY_ROOT
    return _mth(hashes, 0, len(hashes))


def _mth(hashes: Sequence[bytes], start: int, end: int) -> bytes:
    if end - start == 1:
        return hashes[start]
    mid = start + _split_point(end - start)
    return node_hash(_mth(hashes, start, mid), _mth(hashes, mid, end))


# --- proof verification (RFC 9162 sections 2.1.3.2 and 2.1.4.2) ---


def _is_hash(value: object) -> bool:
    return isinstance(value, (bytes, bytearray)) and len(value) == HASH_SIZE


def _is_size(value: object) -> bool:
    # bool is an int subclass; True as a tree size is a caller bug, not a size.
    return type(value) is int and 0 <= value < _MAX_TREE_SIZE


def _is_proof(proof: object) -> bool:
    # 64 levels cover any uint64 tree; anything longer cannot be a valid proof.
    return (
        isinstance(proof, (list, tuple))
        and len(proof) <= 2 * 64
        and all(_is_hash(p) for p in proof)
    )


def verify_inclusion(
    leaf_hash: bytes, index: int, tree_size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """True iff proof shows leaf_hash at index in the tree of tree_size with root."""
    if not (_is_size(index) and _is_size(tree_size) and index < tree_size):
        return False
    if not (_is_hash(leaf_hash) and _is_hash(root) and _is_proof(proof)):
        return False
    fn, sn = index, tree_size - 1
    r = bytes(leaf_hash)
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while fn and not fn & 1:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root


def verify_consistency(
    size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes
) -> bool:
    """True iff proof shows the tree (size1, root1) is a prefix of (size2, root2).

    Edge cases the RFC leaves to the caller (it assumes 0 < size1 < size2):
    equal sizes are consistent iff the roots are equal and the proof is empty;
    the empty tree is a prefix of every tree, with an empty proof, but only if
    root1 really is the empty-tree hash (a size-0 head with any other root is
    a false head, so we do not wave it through).
    """
    if not (_is_size(size1) and _is_size(size2) and _is_proof(proof)):
        return False
    if not (_is_hash(root1) and _is_hash(root2)):
        return False
    if size1 > size2:
        return False
    if size1 == 0 and root1 != EMPTY_ROOT:
        return False
    if size1 == size2:
        return not proof and root1 == root2
    if size1 == 0:
        return not proof
    return _verify_consistency_rfc(size1, size2, list(proof), bytes(root1), bytes(root2))


def _verify_consistency_rfc(
    first: int, second: int, path: list[bytes], first_hash: bytes, second_hash: bytes
) -> bool:
    if not path:
        return False
    if first & (first - 1) == 0:
        path.insert(0, first_hash)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while fn and not fn & 1:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return fr == first_hash and sr == second_hash and sn == 0


# --- errors ---


class VerificationError(Exception):
    """The input is not a well-formed, correctly signed artefact."""


class MalformedError(VerificationError):
    """The text does not follow the note, checkpoint or verifier-key format."""


class SignatureError(VerificationError):
    """No valid signature by the expected key, or a signature by it is invalid."""


# --- signed notes (C2SP signed-note) ---

ALG_ED25519 = 0x01
_SIGNATURE_PREFIX = "\u2014 "  # em dash, space
# The spec asks verifiers to cap signatures and accept at least 16; Go's note
# package caps at 100, and so do we, so a note Go accepts is one we accept.
_MAX_SIGNATURES = 100
_HEX8 = re.compile(r"[0-9a-fA-F]{8}")


def _b64decode_strict(text: str) -> bytes:
    """Standard base64, padded, and only in its canonical spelling.

    Non-canonical spellings (stray bits in the padding) would let one signature
    or root be written several ways; refusing them keeps every artefact unique.
    """
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError) as exc:
        raise MalformedError(f"invalid base64: {text!r}") from exc
    if base64.b64encode(raw).decode("ascii") != text:
        raise MalformedError(f"non-canonical base64: {text!r}")
    return raw


def _b64encode(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _is_valid_key_name(name: str) -> bool:
    return bool(name) and "+" not in name and not any(c.isspace() for c in name)


def _check_note_characters(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise MalformedError("note is not valid UTF-8") from exc
    if any(ord(c) < 0x20 and c != "\n" for c in text):
        raise MalformedError("note contains a control character other than newline")


def _key_id(name: str, typed_public_key: bytes) -> int:
    digest = _sha256(name.encode("utf-8") + b"\n" + typed_public_key)
    return int.from_bytes(digest[:4], "big")


@dataclass(frozen=True)
class NoteSignature:
    """One signature line: who (name, key ID) and the raw signature bytes."""

    name: str
    key_id: int
    signature: bytes

    def line(self) -> str:
        blob = self.key_id.to_bytes(4, "big") + self.signature
        return f"{_SIGNATURE_PREFIX}{self.name} {_b64encode(blob)}\n"


@dataclass(frozen=True)
class Note:
    """A parsed signed note. text is exactly what the signatures cover."""

    text: str
    signatures: tuple[NoteSignature, ...]


@dataclass(frozen=True)
class VerifierKey:
    """An Ed25519 note verifier key, as in golang.org/x/mod/sumdb/note."""

    name: str
    key_id: int
    public_key: bytes  # 32 raw bytes

    def __str__(self) -> str:
        return f"{self.name}+{self.key_id:08x}+{_b64encode(bytes([ALG_ED25519]) + self.public_key)}"

    def verify(self, message: bytes, signature: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, message)
        except (InvalidSignature, ValueError):
            return False
        return True


def parse_verifier_key(vkey: str) -> VerifierKey:
    if not isinstance(vkey, str):
        raise MalformedError("verifier key must be a string")
    parts = vkey.split("+", 2)
    if len(parts) != 3:
        raise MalformedError(f"malformed verifier key {vkey!r}")
    name, key_id_hex, key_b64 = parts
    if not _is_valid_key_name(name) or not _HEX8.fullmatch(key_id_hex):
        raise MalformedError(f"malformed verifier key {vkey!r}")
    typed = _b64decode_strict(key_b64)
    if not typed or typed[0] != ALG_ED25519:
        raise MalformedError(f"verifier key {name!r} is not an Ed25519 (0x01) key")
    if len(typed) != 33:
        raise MalformedError(f"verifier key {name!r} has a {len(typed) - 1}-byte key")
    key_id = int(key_id_hex, 16)
    if _key_id(name, typed) != key_id:
        raise MalformedError(f"verifier key {name!r}: key ID does not match the key")
    return VerifierKey(name=name, key_id=key_id, public_key=typed[1:])


def _as_verifier_key(vkey: str | VerifierKey) -> VerifierKey:
    return vkey if isinstance(vkey, VerifierKey) else parse_verifier_key(vkey)


def _as_text(note: str | bytes) -> str:
    if isinstance(note, (bytes, bytearray)):
        try:
            return bytes(note).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MalformedError("note is not valid UTF-8") from exc
    if not isinstance(note, str):
        raise MalformedError("note must be str or bytes")
    return note


def parse_note(note: str | bytes) -> Note:
    """Split a signed note into its text and signature lines; checks no signature."""
    text = _as_text(note)
    _check_note_characters(text)
    split = text.rfind("\n\n")
    if split < 0:
        raise MalformedError("note has no blank line before its signatures")
    body, sig_block = text[: split + 1], text[split + 2 :]
    if not sig_block or not sig_block.endswith("\n"):
        raise MalformedError("note has no signature lines, or misses the final newline")
    lines = sig_block[:-1].split("\n")
    if len(lines) > _MAX_SIGNATURES:
        raise MalformedError(f"note has more than {_MAX_SIGNATURES} signatures")
    return Note(text=body, signatures=tuple(_parse_signature_line(line) for line in lines))


def _parse_signature_line(line: str) -> NoteSignature:
    if not line.startswith(_SIGNATURE_PREFIX):
        raise MalformedError(f"not a signature line: {line!r}")
    name, _, b64 = line[len(_SIGNATURE_PREFIX) :].partition(" ")
    if not _is_valid_key_name(name) or not b64:
        raise MalformedError(f"malformed signature line: {line!r}")
    blob = _b64decode_strict(b64)
    if len(blob) < 5:
        raise MalformedError(f"signature too short: {line!r}")
    return NoteSignature(name=name, key_id=int.from_bytes(blob[:4], "big"), signature=blob[4:])


def verify_note(note: str | bytes, vkey: str | VerifierKey) -> Note:
    """Parse the note and require a valid signature from vkey.

    Per the signed-note spec, signatures from other keys (e.g. witnesses) are
    ignored, and a signature that claims to be from vkey but does not verify
    rejects the whole note.
    """
    key = _as_verifier_key(vkey)
    parsed = parse_note(note)
    ours = [s for s in parsed.signatures if (s.name, s.key_id) == (key.name, key.key_id)]
    if not ours:
        raise SignatureError(f"no signature from key {key.name}+{key.key_id:08x}")
    message = parsed.text.encode("utf-8")
    for sig in ours:
        if not key.verify(message, sig.signature):
            raise SignatureError(f"invalid signature from key {key.name}+{key.key_id:08x}")
    return parsed


# --- checkpoints (C2SP tlog-checkpoint) ---

_TIME_PREFIX = "time "
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
_TIME_SHAPE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")
_DECIMAL = re.compile(r"0|[1-9][0-9]*")


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    tree_size: int
    root_hash: bytes
    time: datetime | None  # from our "time" extension line; None if absent
    body: str  # the note text the signatures cover, byte for byte
    signatures: tuple[NoteSignature, ...]
    extensions: tuple[str, ...] = ()  # every line after the root hash, verbatim


def _format_time(moment: datetime) -> str:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("checkpoint time must be timezone-aware")
    # Sub-second precision is dropped so the line has one canonical spelling;
    # formatted by hand because strftime does not zero-pad years below 1000.
    t = moment.astimezone(timezone.utc)
    return (
        f"{t.year:04d}-{t.month:02d}-{t.day:02d}"
        f"T{t.hour:02d}:{t.minute:02d}:{t.second:02d}Z"
    )


def _parse_time(value: str) -> datetime:
    if not _TIME_SHAPE.fullmatch(value):
        raise MalformedError(f"time extension is not YYYY-MM-DDTHH:MM:SSZ: {value!r}")
    try:
        return datetime.strptime(value, _TIME_FORMAT).replace(tzinfo=timezone.utc)
    except ValueError as exc:
        raise MalformedError(f"time extension is not a real instant: {value!r}") from exc


def parse_checkpoint(text: str | bytes) -> Checkpoint:
    """Parse a checkpoint note WITHOUT checking any signature."""
    note = parse_note(text)
    return _checkpoint_from_note(note)


def _checkpoint_from_note(note: Note) -> Checkpoint:
    lines = note.text[:-1].split("\n")
    if len(lines) < 3 or any(not line for line in lines):
        raise MalformedError("checkpoint needs origin, size and root lines, none empty")
    origin, size_text, root_text, *extensions = lines
    if not _DECIMAL.fullmatch(size_text) or int(size_text) >= _MAX_TREE_SIZE:
        raise MalformedError(f"invalid tree size {size_text!r}")
    root = _b64decode_strict(root_text)
    if len(root) != HASH_SIZE:
        raise MalformedError(f"root hash is {len(root)} bytes, not {HASH_SIZE}")
    return Checkpoint(
        origin=origin,
        tree_size=int(size_text),
        root_hash=root,
        time=_time_from_extensions(extensions),
        body=note.text,
        signatures=note.signatures,
        extensions=tuple(extensions),
    )


def _time_from_extensions(extensions: list[str]) -> datetime | None:
    times = [line[len(_TIME_PREFIX) :] for line in extensions if line.startswith(_TIME_PREFIX)]
    if len(times) > 1:
        raise MalformedError("checkpoint has more than one time line")
    return _parse_time(times[0]) if times else None


def verify_checkpoint(
    text: str | bytes, vkey: "str | VerifierKey | TrustedKeys", *, origin: str | None = None
) -> Checkpoint:
    """Parse a checkpoint and require a valid signature by vkey (or, given TrustedKeys, by the key
    trusted for the checkpoint's size).

    Pass origin to also pin which log this must be: a key that signs for two
    logs would otherwise let one log's checkpoint stand in for the other's.
    """
    if isinstance(vkey, TrustedKeys):
        vkey = vkey.key_for(parse_checkpoint(text))
    checkpoint = _checkpoint_from_note(verify_note(text, vkey))
    if origin is not None and checkpoint.origin != origin:
        raise VerificationError(f"checkpoint origin {checkpoint.origin!r}, expected {origin!r}")
    return checkpoint


# --- signing-key transitions ---

# When the organisation replaces its signing key, both keys sign one statement: the old key hands over to
# the new one from a tree size on. The old key then vouches for no checkpoint larger than that size, and the
# new one for none smaller: a retired key that leaks cannot sign a later history. Trust follows statements
# signed by both from a key you already trust, in either direction, so old checkpoints still verify with the
# key you held then, and new ones with the old key plus the statements.

TRANSITION_HEADER = "svl-key-transition/v1"


@dataclass(frozen=True)
class KeyTransition:
    origin: str
    tree_size: int  # the old key signs checkpoints of at most this size; the new key of at least this size
    old: VerifierKey
    new: VerifierKey
    note: str


def parse_key_transition(text: str | bytes) -> KeyTransition:
    """Parse a transition statement and require valid signatures by both keys it names."""
    note = parse_note(text)
    lines = note.text[:-1].split("\n")
    if len(lines) != 5 or lines[0] != TRANSITION_HEADER:
        raise MalformedError(f"not a {TRANSITION_HEADER} statement")
    fields = dict(line.partition(" ")[::2] for line in lines[1:])
    if set(fields) != {"origin", "size", "old", "new"} or not _DECIMAL.fullmatch(fields["size"]):
        raise MalformedError("a key transition needs origin, size, old and new lines")
    old, new = parse_verifier_key(fields["old"]), parse_verifier_key(fields["new"])
    if (old.key_id, old.public_key) == (new.key_id, new.public_key):
        raise MalformedError("a key transition must name two different keys")
    verify_note(text, old)
    verify_note(text, new)
    return KeyTransition(fields["origin"], int(fields["size"]), old, new, _as_text(text))


def _identity(key: VerifierKey) -> tuple[str, int, bytes]:
    return key.name, key.key_id, key.public_key


class TrustedKeys:
    """The keys you trust (anchors), grown along transition statements signed by both keys, each key
    limited to the tree sizes its transitions give it. Statements that do not verify, or are for another
    log, are ignored: they can only fail to extend trust, never widen it."""

    def __init__(self, anchors: Sequence[str | VerifierKey], transitions: Sequence[str | bytes] = (),
                 origin: str | None = None) -> None:
        valid: list[KeyTransition] = []
        for text in transitions:
            try:
                t = parse_key_transition(text)
            except VerificationError:
                continue
            if origin is None or t.origin == origin:
                valid.append(t)
        self.transitions = sorted(valid, key=lambda t: t.tree_size)
        ident = _identity
        trusted = {ident(k): k for k in map(_as_verifier_key, anchors)}
        grown = True
        while grown:
            grown = False
            for t in self.transitions:
                ends = {ident(t.old), ident(t.new)}
                if ends & set(trusted) and not ends <= set(trusted):
                    trusted.update({ident(t.old): t.old, ident(t.new): t.new})
                    grown = True
        self.keys = list(trusted.values())
        self._ranges: dict[tuple[str, int, bytes], tuple[int, int | None]] = {}
        for key in self.keys:
            low = max((t.tree_size for t in self.transitions if ident(t.new) == ident(key)), default=0)
            high = min((t.tree_size for t in self.transitions if ident(t.old) == ident(key)), default=None)
            self._ranges[ident(key)] = (low, high)

    def range_of(self, key: VerifierKey) -> tuple[int, int | None]:
        return self._ranges[_identity(key)]

    def key_for(self, checkpoint: Checkpoint) -> VerifierKey:
        """The trusted key that signed this checkpoint and may sign one of its size."""
        signed = {(s.name, s.key_id) for s in checkpoint.signatures}
        for key in self.keys:
            low, high = self.range_of(key)
            if (key.name, key.key_id) in signed and low <= checkpoint.tree_size and (
                    high is None or checkpoint.tree_size <= high):
                return key
        names = ", ".join(f"{k.name}+{k.key_id:08x}" for k in self.keys)
        raise SignatureError(f"no signature from a key trusted for a checkpoint of size {checkpoint.tree_size} "
                             f"(trusted: {names})")


# --- bundle verification ---

# A bundle is one JSON file: a record's events as stored, their inclusion proofs in a signed
# checkpoint, the checkpoint, the verifier key, optional consistency proofs from earlier checkpoints
# and, optionally, the decrypted content with the data key that proves it. `svl export-bundle`
# writes it; `verify_bundle` (and `svl-verify FILE`) checks it with nothing but this file.

BUNDLE_FORMAT = "svl-bundle/v1"
SEALED_TOPIC_PREFIX = "svl:sealed:v1:"
_NONCE_BYTES = 12


# What `svl-verify` concludes, and its exit code. A result reached with a key that came inside the file
# only shows the file is consistent with itself: anyone can make such a file with a fresh key.
RESULT_VERIFIED = "RESULT: VERIFIED"
RESULT_SELF_SIGNED = "RESULT: CONSISTENT, BUT SIGNED BY A KEY YOU DID NOT SUPPLY"
RESULT_NOT_VERIFIED = "RESULT: NOT VERIFIED"
EXIT_VERIFIED, EXIT_NOT_VERIFIED, EXIT_USAGE, EXIT_SELF_SIGNED = 0, 1, 2, 3


@dataclass
class BundleReport:
    """What a bundle or certificate proves, in plain words. verified: every check passed (with whichever
    key); key_supplied: the key was the caller's, not the file's. Only both together are VERIFIED."""

    record_id: str = ""
    checked: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    proves: list[str] = field(default_factory=list)
    does_not_prove: list[str] = field(default_factory=list)
    content: list[dict] = field(default_factory=list)
    key_supplied: bool = False
    events: list[dict] = field(default_factory=list)  # the events proven, as recomputed (bundles)

    @property
    def verified(self) -> bool:
        return not self.problems and bool(self.checked)

    @property
    def result(self) -> str:
        if not self.verified:
            return RESULT_NOT_VERIFIED
        return RESULT_VERIFIED if self.key_supplied else RESULT_SELF_SIGNED

    @property
    def exit_code(self) -> int:
        if not self.verified:
            return EXIT_NOT_VERIFIED
        return EXIT_VERIFIED if self.key_supplied else EXIT_SELF_SIGNED


def _need(mapping: object, name: str, kind: type | tuple[type, ...], what: str = "bundle") -> object:
    if not isinstance(mapping, dict) or name not in mapping:
        raise MalformedError(f"the {what} lacks {name!r}")
    value = mapping[name]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise MalformedError(f"the {what}'s {name!r} has the wrong type")
    return value


def _u64_field(mapping: object, name: str) -> int:
    value = int(_need(mapping, name, int))  # type: ignore[arg-type]
    if not 0 <= value < _MAX_TREE_SIZE:
        raise MalformedError(f"the bundle's {name!r} is out of range")
    return value


def _b64_field(mapping: object, name: str) -> bytes:
    return _b64decode_strict(_need(mapping, name, str))  # type: ignore[arg-type]


def _proof_field(mapping: object, name: str, what: str = "bundle") -> list[bytes]:
    items = _need(mapping, name, list, what)
    if len(items) > 2 * 64:  # type: ignore[arg-type]
        raise MalformedError(f"the {what}'s {name!r} is longer than any proof can be")
    return [_b64decode_strict(item) if isinstance(item, str) else b"" for item in items]  # type: ignore[union-attr]


def verify_bundle(
    bundle: object, *, trusted_key: str | None = None, trusted_checkpoint: str | None = None
) -> BundleReport:
    """Checks a bundle offline. Never raises on hostile input: problems are reported instead."""
    report = BundleReport()
    try:
        _verify_bundle(bundle, trusted_key, trusted_checkpoint, report)
    except VerificationError as exc:
        report.problems.append(str(exc))
    except (ValueError, TypeError, KeyError, AttributeError, struct.error) as exc:  # hostile shapes: a problem
        report.problems.append(f"the bundle is malformed: {exc}")
    if report.problems:
        report.proves.clear()
    return report


def _verify_bundle(bundle: object, trusted_key: str | None, trusted_checkpoint: str | None,
                   report: BundleReport) -> None:
    if not isinstance(bundle, dict) or bundle.get("format") != BUNDLE_FORMAT:
        raise MalformedError(f"this is not a Supervision Ledger bundle (format {BUNDLE_FORMAT})")
    report.record_id = str(_need(bundle, "record_id", str))
    origin = str(_need(bundle, "origin", str))
    trust = _bundle_key(bundle, trusted_key, report, origin)
    report.key_supplied = trusted_key is not None
    try:
        cp = verify_checkpoint(str(_need(bundle, "checkpoint", str)), trust, origin=origin)
    except VerificationError as exc:
        raise VerificationError(f"the checkpoint in the bundle does not verify: {exc}") from None
    key = trust.key_for(cp) if isinstance(trust, TrustedKeys) else trust
    when = f"at {_format_time(cp.time)} (the organisation's own clock)" if cp.time else "(no time given)"
    report.checked.append(
        f"The checkpoint is validly signed by {key.name}+{key.key_id:08x}: the log {cp.origin!r} held "
        f"{cp.tree_size} events with root {_b64encode(cp.root_hash)} {when}.")
    if trusted_checkpoint is not None:
        _link_to_pinned(bundle, cp, trust, trusted_checkpoint, report)
    events = report.events = _check_events(bundle, cp, report)
    if "content" in bundle:
        _check_content(bundle["content"], events, report)
    _summarise(cp, events, report, pinned=trusted_checkpoint is not None, pinned_key=trusted_key is not None)


def _bundle_key(bundle: dict, trusted_key: str | None, report: BundleReport,
                origin: str) -> VerifierKey | TrustedKeys:
    carried = parse_verifier_key(str(_need(bundle, "verifier_key", str)))
    if trusted_key is None:
        report.does_not_prove.append(
            f"that the organisation made this bundle: the key came inside it. Compare its name and ID, "
            f"{carried.name}+{carried.key_id:08x}, with the verifier key the organisation published "
            "(e.g. verifier.vkey beside its published checkpoints), or run again with --key.")
        return carried
    trusted = parse_verifier_key(trusted_key)
    if _identity(trusted) != _identity(carried):
        transitions = bundle.get("key_transitions", [])
        if not isinstance(transitions, list) or not all(isinstance(t, str) for t in transitions):
            raise MalformedError("key_transitions must be a list of statements")
        trust = TrustedKeys([trusted], transitions, origin=origin)
        if _identity(carried) in {_identity(k) for k in trust.keys}:
            report.checked.append(
                f"The bundle's key {carried.name}+{carried.key_id:08x} took over from the key you trust, "
                f"{trusted.name}+{trusted.key_id:08x}, by transition statement(s) signed by both keys; each key "
                "is held to the tree sizes those statements give it.")
            return trust
        report.checked.append(f"The bundle names the key {carried.name}+{carried.key_id:08x}; it is checked "
                              f"against the key you trust, {trusted.name}+{trusted.key_id:08x}, instead.")
    return trusted


def _link_to_pinned(bundle: dict, cp: Checkpoint, key: VerifierKey | TrustedKeys, pinned_text: str,
                    report: BundleReport) -> None:
    try:
        pinned = verify_checkpoint(pinned_text, key, origin=cp.origin)
    except VerificationError as exc:
        raise VerificationError(f"the checkpoint you trust does not verify with the key: {exc}") from None
    if pinned.tree_size == cp.tree_size:
        if pinned.root_hash != cp.root_hash:
            raise VerificationError(
                f"the bundle's checkpoint and yours both claim {cp.tree_size} events but disagree about the "
                "root: the organisation signed two different histories")
        report.checked.append(f"The bundle's checkpoint is the one you hold (size {cp.tree_size}).")
        return
    if pinned.tree_size > cp.tree_size:
        raise VerificationError(
            f"your checkpoint (size {pinned.tree_size}) is newer than the bundle's (size {cp.tree_size}): "
            "ask for a bundle exported now, which will link to yours")
    proofs = [p for p in _need(bundle, "consistency_proofs", list)  # type: ignore[union-attr]
              if isinstance(p, dict) and p.get("from_size") == pinned.tree_size]
    if not proofs:
        raise VerificationError(
            f"the bundle carries no consistency proof from your checkpoint's size {pinned.tree_size}: ask for "
            f"one exported with --consistency-from {pinned.tree_size}")
    if not verify_consistency(pinned.tree_size, cp.tree_size, _proof_field(proofs[0], "proof"),
                              pinned.root_hash, cp.root_hash):
        raise VerificationError(
            f"the bundle's checkpoint does NOT extend the checkpoint you hold (size {pinned.tree_size}): "
            "the log was rewritten after you received yours")
    report.checked.append(
        f"The bundle's checkpoint extends the one you hold (size {pinned.tree_size}): the first "
        f"{pinned.tree_size} events of the log are unchanged since you received it.")


def _check_events(bundle: dict, cp: Checkpoint, report: BundleReport) -> list[dict]:
    events = _need(bundle, "events", list)
    if not events:
        raise MalformedError("the bundle holds no events")
    checked = []
    for raw in events:  # type: ignore[union-attr]
        nid = _u64_field(raw, "notification_id")
        index = _u64_field(raw, "leaf_index")
        oid = str(_need(raw, "originator_id", str))
        version = _u64_field(raw, "originator_version")
        topic = str(_need(raw, "topic", str))
        state = _b64_field(raw, "state")
        leaf = _leaf_of(raw, nid, oid, version, topic, state, report)
        if oid != report.record_id:
            report.problems.append(f"event {nid} belongs to record {oid}, not to {report.record_id}")
        if not verify_inclusion(leaf, index, cp.tree_size, _proof_field(raw, "inclusion_proof"), cp.root_hash):
            report.problems.append(
                f"event {nid} (version {version}) is NOT in the signed log as given: its bytes, its place or "
                "its proof were changed")
            continue
        checked.append({"notification_id": nid, "version": version, "topic": topic, "state": state,
                        "originator_id": oid, "leaf": leaf, "leaf_index": index})
    versions = sorted(e["version"] for e in checked)
    if checked:
        report.checked.append(
            f"{len(checked)} event(s) of record {report.record_id} (versions {_ranges(versions)}) are in that "
            "checkpoint exactly as stored: their inclusion proofs verify.")
    return checked


def _leaf_of(raw: dict, nid: int, oid: str, version: int, topic: str, state: bytes, report: BundleReport) -> bytes:
    """The event's leaf, always recomputed from what the bundle shows: its place and identity and its
    stored bytes, or, for an event whose bytes were destroyed, the digest they had. A leaf hash given in
    the bundle is never used: it would tie nothing shown to the log."""
    purged = raw.get("purged")
    if state or purged is None:
        return event_leaf_hash(nid, oid, version, topic, state)
    if not isinstance(purged, dict):
        raise MalformedError(f"event {nid}'s 'purged' is not an object")
    digest = _b64_field(raw, "state_sha256") if "state_sha256" in raw else None
    if digest is None or len(digest) != HASH_SIZE:
        raise VerificationError(f"event {nid} is marked destroyed but the bundle gives no 32-byte digest of what it "
                                "held ('state_sha256'), so its leaf cannot be recomputed: the event is not proven")
    rule, on = _text_or_unknown(purged.get("rule")), _text_or_unknown(purged.get("on"))
    report.checked.append(f"event {nid}'s stored bytes are not in the bundle; its leaf is recomputed from its place, "
                          "record, version, topic and the digest of what it held.")
    report.does_not_prove.append(f"what event {nid} contained, nor why it is gone: the bundle says it was destroyed "
                                 f"under {rule} on {on}, an unsigned claim (a destruction certificate proves that).")
    return leaf_hash(encode_leaf_from_digest(nid, oid, version, topic, digest))


def _text_or_unknown(value: object) -> str:
    return value if isinstance(value, str) else "(not given)"


def _check_content(content: object, events: list[dict], report: BundleReport) -> None:
    # Imported here so that checking proofs alone needs nothing beyond Ed25519.
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    keys = {name: _b64decode_strict(value) for name, value in
            _need(content, "data_keys", dict).items() if isinstance(value, str)}  # type: ignore[union-attr]
    by_nid = {e["notification_id"]: e for e in events}
    shown = _need(content, "events", list)
    matched = 0
    for item in shown:  # type: ignore[union-attr]
        nid = int(_need(item, "notification_id", int))  # type: ignore[arg-type]
        event_type, state_json = str(_need(item, "event_type", str)), str(_need(item, "state", str))
        event = by_nid.get(nid)
        if event is None:
            report.problems.append(f"content is shown for event {nid}, which the bundle does not prove")
            continue
        key_id = event["topic"][len(SEALED_TOPIC_PREFIX):] if event["topic"].startswith(SEALED_TOPIC_PREFIX) else ""
        key = keys.get(key_id)
        if key is None or len(key) not in (16, 24, 32):
            report.problems.append(f"no usable data key for event {nid} (key id {key_id!r})")
            continue
        aad = f"{event['originator_id']}|{event['version']}|{key_id}".encode()
        try:
            plaintext = AESGCM(key).decrypt(event["state"][:_NONCE_BYTES], event["state"][_NONCE_BYTES:], aad)
        except (InvalidTag, ValueError):
            report.problems.append(f"event {nid}'s ciphertext does not decrypt with the data key given")
            continue
        if plaintext != event_type.encode() + b"\n" + state_json.encode("utf-8"):
            report.problems.append(f"the content shown for event {nid} is NOT what its ciphertext holds")
            continue
        matched += 1
        report.content.append({"notification_id": nid, "version": event["version"], "event_type": event_type,
                               "state": state_json})
    if matched:
        report.checked.append(f"The content shown for {matched} event(s) is exactly what their stored ciphertext "
                              "decrypts to with the data key in the bundle.")


def _summarise(cp: Checkpoint, events: list[dict], report: BundleReport, pinned: bool, pinned_key: bool) -> None:
    if not events:
        return
    versions = sorted(e["version"] for e in events)
    report.proves.append(
        f"These events of record {report.record_id} were recorded, byte for byte as they are shown here, "
        f"among the first {cp.tree_size} events of the organisation's log, and in this order. Changing, "
        "removing or re-ordering any of them afterwards would change the signed root; the organisation could "
        "only hide that by signing a second, conflicting checkpoint, which anyone holding both would expose.")
    if report.content:
        report.proves.append("The readable content shown is what those events held when they were recorded.")
    if pinned:
        report.proves.append("The log has only grown since the checkpoint you held: nothing before it was "
                             "rewritten.")
    if versions == list(range(1, len(versions) + 1)):
        report.does_not_prove.append(
            f"that the record has no events beyond these {len(versions)} (versions 1–{versions[-1]} run without "
            "gaps, but a bundle shows what is included, not what was left out).")
    else:
        report.does_not_prove.append(f"that the record is complete: the versions shown ({_ranges(versions)}) "
                                     "have gaps or do not start at 1.")
    report.does_not_prove.append("that the content is true, or when exactly each event happened: only that it is "
                                 "what was recorded, before the checkpoint was signed.")
    if not pinned_key and not pinned:
        report.does_not_prove.append("that this is the same history the organisation shows everyone else: compare "
                                     "the checkpoint with one you got from the organisation directly "
                                     "(--checkpoint FILE).")


def _ranges(numbers: list[int]) -> str:
    if not numbers:
        return "none"
    parts, start, prev = [], numbers[0], numbers[0]
    for n in numbers[1:] + [None]:  # type: ignore[list-item]
        if n is not None and n == prev + 1:
            prev = n
            continue
        parts.append(f"{start}" if start == prev else f"{start}–{prev}")
        if n is not None:
            start = prev = n
    return ", ".join(parts)


def render_bundle_report(report: BundleReport, show_content: bool = False) -> str:
    lines = [f"Supervision Ledger bundle for record {report.record_id or '(unknown)'}", ""]
    lines += ["Checked:"] + [f"  OK    {line}" for line in report.checked]
    if report.problems:
        lines += ["", "Problems:"] + [f"  FAIL  {line}" for line in report.problems]
    if report.proves:
        lines += ["", "What this proves:"] + [f"  - {line}" for line in report.proves]
    if report.does_not_prove:
        lines += ["", "What it does not prove:"] + [f"  - {line}" for line in report.does_not_prove]
    if report.content:
        lines += ["", "Content (decrypted, checked against the ciphertext):"]
        for item in report.content:
            lines.append(f"  v{item['version']} {item['event_type'].rsplit('.', 1)[-1]}")
            if show_content:
                try:
                    pretty = json.dumps(load_json(item["state"]), indent=2, ensure_ascii=False)
                except VerificationError:
                    pretty = item["state"]
                lines += ["      " + line for line in pretty.splitlines()]
    return _finish(lines, report)


def _finish(lines: list[str], report: BundleReport) -> str:
    if report.verified and not report.key_supplied:
        lines += ["", "The key that checks this file came inside it: anyone can make a file that checks out with a key",
                  "of their own. Run again with --key and the verifier key the organisation published."]
    lines += ["", report.result]
    return "\n".join(map(_printable, lines))


_CONTROL = {c: f"\\x{c:02x}" for c in [*range(0x20), 0x7F]}
_LINE_LIMIT = 2000


def _printable(line: str) -> str:
    """One output line as the file gave it, but unable to forge another line (no control characters) or
    to stop the output (lone surrogates are escaped); very long values are cut."""
    text = line.encode("utf-8", "backslashreplace").decode("utf-8").translate(_CONTROL)
    return text if len(text) <= _LINE_LIMIT else text[:_LINE_LIMIT] + f"… ({len(text) - _LINE_LIMIT} more characters)"


# --- destruction certificates ---

# A certificate is one JSON file written when retention destroys a worker's file: a statement signed
# by the organisation (a signed note: what was destroyed, under which rule, when, by whom), the signed
# checkpoints taken before and after, and the consistency proof between them, which shows that the
# ledger only grew meanwhile: no other event was altered, removed or re-ordered by the destruction.

# v2 adds the disposition review (who proposed the list, who else approved it, when and why); v1 certificates,
# written before reviews existed, still verify as what they are.
# v3 certifies the destruction of one record of a record class kept apart from the personal file (bcp's and bury's
# case supervision records, each sealed with a key of its own): the statement names the class, the record, the
# worker it is about and the day its own retention runs from (the discussion), with the same review and proofs.
CERTIFICATE_FORMAT = "svl-destruction-certificate/v2"
CERTIFICATE_FORMAT_V1 = "svl-destruction-certificate/v1"
RECORD_CERTIFICATE_FORMAT = "svl-destruction-certificate/v3"
CERTIFICATE_HEADER = "svl destruction certificate v2"
RECORD_CERTIFICATE_HEADER = "svl destruction certificate v3"
_CERTIFICATE_HEADERS = {CERTIFICATE_FORMAT: CERTIFICATE_HEADER, CERTIFICATE_FORMAT_V1: "svl destruction certificate v1",
                        RECORD_CERTIFICATE_FORMAT: RECORD_CERTIFICATE_HEADER}
# Every line the statement must have, in the order the organisation writes them.
CERTIFICATE_FIELDS_V1 = ("origin", "worker", "records", "events", "key", "rule", "pack", "left", "due", "destroyed",
                         "by", "checkpoint-before", "checkpoint-after")
_REVIEW_FIELDS = ("proposal", "proposed-by", "approved-by", "approved", "approval")
CERTIFICATE_FIELDS = (*CERTIFICATE_FIELDS_V1, *_REVIEW_FIELDS)
RECORD_CERTIFICATE_FIELDS = ("origin", "class", "record", "worker", "events", "key", "rule", "pack", "discussed", "due",
                             "destroyed", "by", "checkpoint-before", "checkpoint-after", *_REVIEW_FIELDS)
_FIELDS_OF = {CERTIFICATE_FORMAT: CERTIFICATE_FIELDS, CERTIFICATE_FORMAT_V1: CERTIFICATE_FIELDS_V1,
              RECORD_CERTIFICATE_FORMAT: RECORD_CERTIFICATE_FIELDS}
# The record classes a v3 certificate may name, in words.
RECORD_CLASSES = {"case_supervision": "case supervision record"}
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def parse_certificate_statement(text: str, certificate_format: str = CERTIFICATE_FORMAT) -> dict[str, str]:
    """The statement's fields; every one of the format's fields must be there, once, and make sense."""
    lines = text.rstrip("\n").split("\n")
    if not lines or lines[0] != _CERTIFICATE_HEADERS.get(certificate_format):
        raise MalformedError("the statement is not a Supervision Ledger destruction certificate of its format")
    fields: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(" ")
        if name in fields:
            raise MalformedError(f"the statement names {name!r} twice")
        fields[name] = value
    missing = [name for name in _FIELDS_OF[certificate_format] if not fields.get(name)]
    if missing:
        raise MalformedError(f"the certificate's statement lacks {', '.join(missing)}: it does not say everything a "
                             "destruction certificate must, so it proves nothing")
    if certificate_format == RECORD_CERTIFICATE_FORMAT:
        _check_record_statement(fields)
    else:
        _check_statement(fields)
    return fields


def _check_record_statement(fields: dict[str, str]) -> None:
    if fields["class"] not in RECORD_CLASSES:
        raise MalformedError(f"the certificate's statement names no record class this verifier knows "
                             f"({', '.join(RECORD_CLASSES)})")
    for name in ("record", "worker"):
        if not _UUID.fullmatch(fields[name]):
            raise MalformedError(f"the certificate's statement does not name the {name} by id")
    if not _DECIMAL.fullmatch(fields["events"]):
        raise MalformedError("the certificate's statement gives no event count")
    discussed, due = _statement_date(fields, "discussed"), _statement_date(fields, "due")
    destroyed = _statement_time(fields, "destroyed", "destruction")
    if due < discussed:
        raise VerificationError(f"the statement says the record was due on {due}, before it was discussed on "
                                f"{discussed}")
    if destroyed.date() < due:
        raise VerificationError(f"the statement says the record was destroyed on {destroyed.date()}, before its "
                                f"destruction date {due}")
    _check_review(fields, destroyed)


def _check_statement(fields: dict[str, str]) -> None:
    if not _UUID.fullmatch(fields["worker"]):
        raise MalformedError("the certificate's statement does not name the worker by id")
    count, *records = fields["records"].split(" ")
    if not _DECIMAL.fullmatch(count) or int(count) != len(records) or not all(map(_UUID.fullmatch, records)):
        raise MalformedError("the certificate's statement gives a record count that does not match its record ids")
    if not _DECIMAL.fullmatch(fields["events"]):
        raise MalformedError("the certificate's statement gives no event count")
    left, due = _statement_date(fields, "left"), _statement_date(fields, "due")
    destroyed = _statement_time(fields, "destroyed", "destruction")
    if due < left:
        raise VerificationError(f"the statement says the file was due on {due}, before the worker left on {left}")
    if destroyed.date() < due:
        raise VerificationError(f"the statement says the file was destroyed on {destroyed.date()}, before its "
                                f"destruction date {due}")
    if "approved-by" in fields:
        _check_review(fields, destroyed)


def _check_review(fields: dict[str, str], destroyed: datetime) -> None:
    if not _UUID.fullmatch(fields["proposal"]):
        raise MalformedError("the certificate's statement does not name the destruction proposal by id")
    if fields["proposed-by"] == fields["approved-by"]:
        raise VerificationError("the statement says the list was approved by the person who proposed it: "
                                "a destruction needs a second person's approval")
    approved = _statement_time(fields, "approved", "approval")
    if approved > destroyed:
        raise VerificationError(f"the statement says the list was approved at {approved}, after the file was "
                                f"destroyed at {destroyed}")


def _statement_time(fields: dict[str, str], name: str, what: str) -> datetime:
    try:
        moment = datetime.fromisoformat(fields[name])
    except ValueError:
        raise MalformedError(f"the certificate's statement gives no time of {what}") from None
    if moment.tzinfo is None:
        raise MalformedError(f"the certificate's statement gives the time of {what} without a time zone")
    return moment


def _statement_date(fields: dict[str, str], name: str) -> date:
    try:
        if _DATE.fullmatch(fields[name]):
            return date.fromisoformat(fields[name])
    except ValueError:
        pass
    raise MalformedError(f"the certificate's statement gives no valid date for {name!r}")


def verify_certificate(certificate: object, *, trusted_key: str | None = None,
                       trusted_checkpoint: str | None = None, link: object = None) -> BundleReport:
    """Checks a destruction certificate offline. Never raises on hostile input: problems are reported.

    trusted_checkpoint: a checkpoint the caller holds; it must be one of the certificate's two, or be linked
    to one of them by `link` (what `svl ledger consistency` prints: from_size, to_size, proof)."""
    report = BundleReport()
    try:
        _verify_certificate(certificate, trusted_key, trusted_checkpoint, link, report)
    except VerificationError as exc:
        report.problems.append(str(exc))
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        report.problems.append(f"the certificate is malformed: {exc}")
    if report.problems:
        report.proves.clear()
    return report


def _verify_certificate(cert: object, trusted_key: str | None, trusted_checkpoint: str | None, link: object,
                        report: BundleReport) -> None:
    certificate_format = _need(cert, "format", str, "certificate")
    if certificate_format not in _CERTIFICATE_HEADERS:
        raise MalformedError(f"not a {CERTIFICATE_FORMAT} (or v1) file")
    carried = str(_need(cert, "verifier_key", str, "certificate"))
    vkey = _as_verifier_key(trusted_key if trusted_key is not None else carried)
    report.key_supplied = trusted_key is not None
    if trusted_key is not None and carried != trusted_key:
        report.checked.append("The certificate names another key than the one you trust; only yours is used.")
    note = verify_note(str(_need(cert, "statement", str, "certificate")), vkey)
    fields = parse_certificate_statement(note.text, str(certificate_format))
    of_record = certificate_format == RECORD_CERTIFICATE_FORMAT
    report.record_id = fields["record"] if of_record else fields["worker"]
    report.checked.append(f"The statement is validly signed by {vkey.name} (key id {vkey.key_id:08x}).")
    before = verify_checkpoint(str(_need(cert, "checkpoint_before", str, "certificate")), vkey, origin=fields["origin"])
    after = verify_checkpoint(str(_need(cert, "checkpoint_after", str, "certificate")), vkey, origin=fields["origin"])
    for label, cp in (("before", before), ("after", after)):
        if fields[f"checkpoint-{label}"] != f"{cp.tree_size} {_b64encode(cp.root_hash)}":
            raise VerificationError(f"the statement's checkpoint-{label} does not match the signed checkpoint")
    report.checked.append(f"Both checkpoints are validly signed: {before.tree_size} events before, "
                          f"{after.tree_size} after.")
    proof = _proof_field(cert, "consistency_proof", "certificate")
    if not verify_consistency(before.tree_size, after.tree_size, proof, before.root_hash, after.root_hash):
        raise VerificationError("the consistency proof between the two checkpoints does not verify: the ledger "
                                "did not simply grow between them")
    report.checked.append("The consistency proof verifies: the ledger after is the ledger before plus new events.")
    if of_record:
        _check_destruction_event(cert, record_destruction_aggregate_id(fields["class"], fields["record"]), before,
                                 after, report, "record")
    elif certificate_format == CERTIFICATE_FORMAT:
        _check_destruction_event(cert, destruction_aggregate_id(fields["worker"]), before, after, report)
    if trusted_checkpoint is not None:
        _link_certificate(before, after, vkey, trusted_checkpoint, link, report)
    if of_record:
        _record_proves(fields, vkey, before, after, report)
    else:
        _file_proves(fields, vkey, before, after, report)
    report.does_not_prove.extend([
        "That no copy of the data key survives outside the organisation's systems: destruction is the "
        "organisation's signed statement.",
        "Anything about events after the later checkpoint: check a newer checkpoint with `svl-verify` on a bundle.",
    ])
    if trusted_checkpoint is None:
        report.does_not_prove.append("that these checkpoints are the history the organisation shows everyone else: "
                                     "run again with --checkpoint FILE, a checkpoint you got from it directly.")


def _record_proves(fields: dict[str, str], vkey: VerifierKey, before: Checkpoint, after: Checkpoint,
                   report: BundleReport) -> None:
    what = RECORD_CLASSES[fields["class"]]
    report.proves.extend([
        f"{vkey.name} states that it destroyed {what} {fields['record']} (record class {fields['class']}) about "
        f"worker {fields['worker']}: {fields['events']} stored event(s), sealed with its own data key {fields['key']}, "
        f"on {fields['destroyed']} by {fields['by']}.",
        f"It did so under: {fields['rule']} (pack {fields['pack']}); the case was discussed on {fields['discussed']}, "
        f"so the record was due on {fields['due']}, and it was not destroyed before that date.",
        f"Between its checkpoints of {before.tree_size} and {after.tree_size} events the ledger only grew: no event "
        "recorded before the destruction was altered, removed or re-ordered by it.",
        f"The record was on destruction list {fields['proposal']}, proposed by {fields['proposed-by']} and approved "
        f"by a second person, {fields['approved-by']}, at {fields['approved']}, before it was destroyed; the "
        f"approver's rationale: {fields['approval']}",
    ])


def _file_proves(fields: dict[str, str], vkey: VerifierKey, before: Checkpoint, after: Checkpoint,
                 report: BundleReport) -> None:
    count = fields["records"].split(" ")[0]
    report.proves.extend([
        f"{vkey.name} states that it destroyed the supervision file of worker {fields['worker']}: "
        f"{count} record(s), {fields['events']} stored event(s), sealed with data key {fields['key']}, on "
        f"{fields['destroyed']} by {fields['by']}.",
        f"It did so under: {fields['rule']} (pack {fields['pack']}); the worker left on {fields['left']}, so the "
        f"file was due on {fields['due']}, and it was not destroyed before that date.",
        f"Between its checkpoints of {before.tree_size} and {after.tree_size} events the ledger only grew: no event "
        "recorded before the destruction was altered, removed or re-ordered by it.",
    ])
    if "approved-by" in fields:
        report.proves.append(
            f"The file was on destruction list {fields['proposal']}, proposed by {fields['proposed-by']} and approved "
            f"by a second person, {fields['approved-by']}, at {fields['approved']}, before it was destroyed; the "
            f"approver's rationale: {fields['approval']}")
    else:
        report.does_not_prove.append("who reviewed the list it was destroyed on: a v1 certificate, written before "
                                     "destruction lists were approved by a second person, does not say.")


def destruction_aggregate_id(worker_id: str) -> str:
    """The id of a worker's file destruction: one per file, derived from the worker's id alone (so the verifier
    needs nothing from the organisation to know which event is this file's)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"svl:file-destruction:{worker_id}"))


def record_destruction_aggregate_id(record_class: str, record_id: str) -> str:
    """The id of one record's destruction under its class's own retention, derived from the record's id alone."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"svl:{record_class.replace('_', '-')}-destruction:{record_id}"))


def _check_destruction_event(cert: object, expected_id: str, before: Checkpoint, after: Checkpoint,
                             report: BundleReport, what: str = "file") -> None:
    """This file's (or record's) own destruction start is in the checkpoint after, recorded after the checkpoint
    before."""
    raw = _need(cert, "destruction_event", dict, "certificate")
    numbers = {}
    for name in ("notification_id", "leaf_index", "originator_version"):
        numbers[name] = int(_need(raw, name, int, "certificate's destruction event"))  # type: ignore[arg-type]
        if not 0 <= numbers[name] < _MAX_TREE_SIZE:
            raise MalformedError(f"the certificate's destruction event's {name!r} is out of range")
    oid = str(_need(raw, "originator_id", str, "certificate's destruction event"))
    topic = str(_need(raw, "topic", str, "certificate's destruction event"))
    digest = _b64decode_strict(str(_need(raw, "state_sha256", str, "certificate's destruction event")))
    if oid != expected_id or numbers["originator_version"] != 1:
        whose = "this record's" if what == "record" else "this worker's file"
        raise VerificationError(f"the certificate's destruction event is not the start of {whose} destruction")
    if len(digest) != HASH_SIZE:
        raise MalformedError("the certificate's destruction event gives no 32-byte digest")
    index = numbers["leaf_index"]
    leaf = leaf_hash(encode_leaf_from_digest(numbers["notification_id"], oid, 1, topic, digest))
    proof = _proof_field(raw, "inclusion_proof", "certificate's destruction event")
    if not verify_inclusion(leaf, index, after.tree_size, proof, after.root_hash):
        raise VerificationError(f"this {what}'s destruction event is NOT in the checkpoint after as given: its "
                                "inclusion proof does not verify")
    if index < before.tree_size:
        raise VerificationError(f"this {what}'s destruction event (leaf {index}) was recorded before the checkpoint "
                                f"before ({before.tree_size} events)")
    report.checked.append(f"This {what}'s destruction was recorded at leaf {index}, between the two checkpoints: its "
                          "inclusion proof in the checkpoint after verifies.")


def _link_certificate(before: Checkpoint, after: Checkpoint, key: VerifierKey, pinned_text: str, link: object,
                      report: BundleReport) -> None:
    """The caller's own checkpoint is one of the certificate's, or a consistency proof links the two."""
    try:
        pinned = verify_checkpoint(pinned_text, key, origin=after.origin)
    except VerificationError as exc:
        raise VerificationError(f"the checkpoint you trust does not verify with the key: {exc}") from None
    for label, cp in (("before", before), ("after", after)):
        if pinned.tree_size == cp.tree_size:
            if pinned.root_hash != cp.root_hash:
                raise VerificationError(f"the certificate's checkpoint {label} and yours both claim {cp.tree_size} "
                                        "events but disagree about the root: the organisation signed two different "
                                        "histories")
            report.checked.append(f"The certificate's checkpoint {label} is the one you hold (size {cp.tree_size}).")
            return
    if link is None:
        near = after if pinned.tree_size > after.tree_size else before
        low, high = sorted((pinned.tree_size, near.tree_size))
        raise VerificationError(
            f"your checkpoint (size {pinned.tree_size}) is neither of the certificate's ({before.tree_size}, "
            f"{after.tree_size}), and no consistency proof links them: ask the organisation for "
            f"`svl ledger consistency {low} --to {high}` and pass it with --consistency FILE")
    low_size = _u64_field_of(link, "from_size")
    high_size = _u64_field_of(link, "to_size")
    proof = _proof_field(link, "proof", "consistency proof")
    for cp in (before, after):
        if {low_size, high_size} == {pinned.tree_size, cp.tree_size} and low_size < high_size:
            old, new = (pinned, cp) if pinned.tree_size < cp.tree_size else (cp, pinned)
            if not verify_consistency(old.tree_size, new.tree_size, proof, old.root_hash, new.root_hash):
                raise VerificationError(f"the consistency proof does NOT link your checkpoint (size "
                                        f"{pinned.tree_size}) with the certificate's (size {cp.tree_size}): the log "
                                        "was rewritten")
            report.checked.append(f"Your checkpoint (size {pinned.tree_size}) and the certificate's (size "
                                  f"{cp.tree_size}) are one history: the consistency proof between them verifies.")
            return
    raise VerificationError(f"the consistency proof given runs from size {low_size} to {high_size}: it does not "
                            f"link your checkpoint (size {pinned.tree_size}) with either of the certificate's")


def _u64_field_of(mapping: object, name: str) -> int:
    value = int(_need(mapping, name, int, "consistency proof"))  # type: ignore[arg-type]
    if not 0 <= value < _MAX_TREE_SIZE:
        raise MalformedError(f"the consistency proof's {name!r} is out of range")
    return value


def render_certificate_report(report: BundleReport) -> str:
    whose = "record" if any("(record class " in p for p in report.proves) else "worker"
    lines = [f"Supervision Ledger destruction certificate for {whose} {report.record_id or '(unknown)'}", ""]
    lines += ["Checked:"] + [f"  OK    {line}" for line in report.checked]
    lines += [f"  FAIL  {problem}" for problem in report.problems]
    if report.proves:
        lines += ["What this proves:"] + [f"  - {p}" for p in report.proves]
        lines += ["What it does not prove:"] + [f"  - {p}" for p in report.does_not_prove]
    return _finish(lines, report)


# --- reading the files ---

# Genuine bundles and certificates are a few levels deep and, with content, a few megabytes.
MAX_INPUT_BYTES = 64 * 1024 * 1024
MAX_NESTING = 64
# A string (to the end of the text, if unterminated: so every match ends the scan's work there) or a bracket.
_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*(?:"|\\?\Z)|[\[\]{}]', re.S)


def load_json(text: str, what: str = "the input") -> object:
    """JSON text, refused with a message (never a RecursionError) when nested deeper than MAX_NESTING."""
    depth = 0
    for match in _JSON_TOKEN.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            if depth > MAX_NESTING:
                raise MalformedError(f"{what} nests objects or lists more than {MAX_NESTING} deep: not a bundle or "
                                     "certificate")
        elif token in "]}":
            depth -= 1
    try:
        return json.loads(text)
    except ValueError as exc:
        raise MalformedError(f"{what} is not JSON: {exc}") from None
    except RecursionError:  # not reached with MAX_NESTING well below the interpreter's limit; kept as a bound
        raise MalformedError(f"{what} nests too deep to read") from None


def read_json_file(path: str, what: str) -> object:
    """A JSON file, bounded in size and nesting; MalformedError (or OSError) with a message otherwise."""
    with open(path, "rb") as handle:
        raw = handle.read(MAX_INPUT_BYTES + 1)
    if len(raw) > MAX_INPUT_BYTES:
        raise MalformedError(f"{what} {path} is larger than {MAX_INPUT_BYTES // (1024 * 1024)} MiB: not a bundle or "
                             "certificate")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedError(f"{what} {path} is not UTF-8 text (byte {exc.start})") from None
    return load_json(text, f"{what} {path}")


def _read_text_file(path: str, what: str) -> str:
    with open(path, "rb") as handle:
        raw = handle.read(MAX_INPUT_BYTES + 1)
    if len(raw) > MAX_INPUT_BYTES:
        raise MalformedError(f"{what} {path} is too large")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedError(f"{what} {path} is not UTF-8 text (byte {exc.start})") from None


_EPILOG = f"""\
results (the last line printed) and exit codes:
  {RESULT_VERIFIED:<62} exit {EXIT_VERIFIED}
      every check passed with the key you gave (--key)
  {RESULT_SELF_SIGNED:<62} exit {EXIT_SELF_SIGNED}
      every check passed, but with the key the file carries: anyone can make
      such a file; run again with --key
  {RESULT_NOT_VERIFIED:<62} exit {EXIT_NOT_VERIFIED}
      something does not check out (the lines marked FAIL say what), or the
      input could not be read
  (usage errors)                                                 exit {EXIT_USAGE}
"""


# --- witness cosignatures (C2SP tlog-cosignature, cosignature/v1, Ed25519) ---
#
# A witness run by another body (a council, the inspectorate, an auditor) adds its own signature line
# to a checkpoint once it has verified the log's signature and that the tree only grew since the
# last one it cosigned. A checkpoint cosigned by witnesses you trust cannot be one of two histories
# shown to different people, unless those witnesses, too, signed both. The line is a signed-note
# signature whose key id uses algorithm byte 0x04, and whose signature is a big-endian u64 POSIX
# timestamp followed by an Ed25519 signature over:
#     "cosignature/v1\n" "time <timestamp>\n" <checkpoint body>
# Kept apart from the rest of this file: it only reads a checkpoint's extra signature lines.

ALG_COSIGNATURE_V1 = 0x04
COSIGNATURE_HEADER = "cosignature/v1\n"
_TIMESTAMP = struct.Struct(">Q")


@dataclass(frozen=True)
class CosignerKey:
    """A witness's verifier key: ``<name>+<key ID hex>+<base64(0x04 || Ed25519 public key)>``."""

    name: str
    key_id: int
    public_key: bytes

    def __str__(self) -> str:
        return format_cosigner_key(self.name, self.public_key)


@dataclass(frozen=True)
class Cosignature:
    witness: str  # the witness key's name
    timestamp: int  # POSIX seconds: when the witness says it cosigned


def _raw_public_key(public_key: bytes | Ed25519PublicKey) -> bytes:
    if isinstance(public_key, Ed25519PublicKey):
        return public_key.public_bytes_raw()
    return bytes(public_key)


def format_cosigner_key(name: str, public_key: bytes | Ed25519PublicKey) -> str:
    if not _is_valid_key_name(name):
        raise ValueError(f"invalid witness name {name!r}: empty, or has a space or '+'")
    raw = _raw_public_key(public_key)
    if len(raw) != 32:
        raise ValueError(f"Ed25519 public key must be 32 bytes, got {len(raw)}")
    typed = bytes([ALG_COSIGNATURE_V1]) + raw
    return f"{name}+{_key_id(name, typed):08x}+{_b64encode(typed)}"


def parse_cosigner_key(vkey: str) -> CosignerKey:
    parts = vkey.strip().split("+", 2) if isinstance(vkey, str) else []
    if len(parts) != 3 or not _is_valid_key_name(parts[0]) or not _HEX8.fullmatch(parts[1]):
        raise MalformedError(f"malformed witness key {vkey!r}: expected name+keyid+base64")
    name, key_id_hex, key_b64 = parts
    typed = _b64decode_strict(key_b64)
    if len(typed) != 33 or typed[0] != ALG_COSIGNATURE_V1:
        raise MalformedError(f"witness key {name!r} is not an Ed25519 cosignature/v1 (0x04) key")
    key_id = int(key_id_hex, 16)
    if _key_id(name, typed) != key_id:
        raise MalformedError(f"witness key {name!r}: key ID does not match the key")
    return CosignerKey(name=name, key_id=key_id, public_key=typed[1:])


def cosigned_message(checkpoint_body: str, timestamp: int) -> bytes:
    """What a cosignature/v1 signs: the header, the time line, then the checkpoint body as signed."""
    if not 0 <= timestamp < 1 << 63:
        raise ValueError("cosignature timestamp out of range")
    return f"{COSIGNATURE_HEADER}time {timestamp}\n{checkpoint_body}".encode("utf-8")


def verify_cosignatures(note: str | bytes, witnesses: Sequence[CosignerKey]) -> tuple[list[Cosignature], list[str]]:
    """(valid cosignatures by these witnesses, problems). Lines by other keys are ignored, as the spec
    says; a line that claims to be a listed witness but does not verify is a problem."""
    parsed = parse_note(note)
    found: list[Cosignature] = []
    problems: list[str] = []
    for witness in witnesses:
        lines = [s for s in parsed.signatures if (s.name, s.key_id) == (witness.name, witness.key_id)]
        valid = None
        for line in lines:
            blob = line.signature
            if len(blob) != _TIMESTAMP.size + 64:
                problems.append(f"the cosignature line of witness {witness.name} is not a cosignature/v1 signature")
                continue
            (timestamp,) = _TIMESTAMP.unpack(blob[:_TIMESTAMP.size])
            try:
                Ed25519PublicKey.from_public_bytes(witness.public_key).verify(
                    blob[_TIMESTAMP.size:], cosigned_message(parsed.text, timestamp))
            except (InvalidSignature, ValueError):
                problems.append(f"the cosignature of witness {witness.name} does NOT verify: it was made for another "
                                "checkpoint, or altered")
                continue
            valid = Cosignature(witness.name, timestamp)
        if valid is not None:
            found.append(valid)
    return found, problems


def check_witnesses(report: BundleReport, label: str, note: object, witnesses: Sequence[CosignerKey],
                    threshold: int) -> None:
    """Adds to the report which of the witnesses you trust cosigned this checkpoint; a problem below the
    threshold, or for any cosignature that claims to be theirs and does not verify."""
    if not witnesses:
        return
    if not isinstance(note, str):
        report.problems.append(f"{label}: no checkpoint to look for witness cosignatures in")
        return
    try:
        found, problems = verify_cosignatures(note, witnesses)
    except VerificationError as exc:
        report.problems.append(f"{label}: {exc}")
        return
    report.problems.extend(f"{label}: {p}" for p in problems)
    by_name = {c.witness: c for c in found}
    for witness in witnesses:
        c = by_name.get(witness.name)
        if c is None:
            report.checked.append(f"{label}: NOT cosigned by witness {witness.name}+{witness.key_id:08x}.")
        else:
            moment = datetime.fromtimestamp(c.timestamp, tz=timezone.utc) if c.timestamp < 253402300800 else None
            when = _format_time(moment) if moment else str(c.timestamp)
            report.checked.append(f"{label}: cosigned by witness {witness.name}+{witness.key_id:08x} at {when}: it "
                                  "verified that this tree extends every earlier one it cosigned.")
    if len(found) < threshold:
        report.problems.append(
            f"{label}: cosigned by {len(found)} of the {len(witnesses)} witness(es) you trust, fewer than the "
            f"threshold of {threshold}: this checkpoint may not be the history the organisation shows everyone")
    elif found:
        report.proves.append(
            f"{label}: {len(found)} independent witness(es) you trust ({', '.join(sorted(by_name))}) cosigned it: "
            "the organisation cannot show anyone a different history of the same size without them noticing.")
    if report.problems:
        report.proves.clear()


def main(argv: Sequence[str] | None = None) -> int:
    """`svl-verify FILE [--key VKEY] [--checkpoint FILE] [--consistency FILE] [--show-content] [--witness VKEY…
    [--witness-threshold N]]`."""
    parser = argparse.ArgumentParser(
        prog="svl-verify", epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Check a Supervision Ledger bundle or destruction certificate offline and say what it proves.")
    parser.add_argument("bundle", help="a bundle (from `svl export-bundle`) or a destruction certificate (JSON)")
    parser.add_argument("--key", help="the organisation's verifier key you trust (the key text, or a file with it)")
    parser.add_argument("--checkpoint", help="a checkpoint file you got from the organisation separately")
    parser.add_argument("--consistency", help="for a certificate: a consistency proof (from `svl ledger consistency`) "
                        "linking your --checkpoint with one of the certificate's")
    parser.add_argument("--show-content", action="store_true", help="print the decrypted content, if carried")
    parser.add_argument("--witness", action="append", default=[], metavar="VKEY",
                        help="a witness's verifier key you trust (text or file; repeatable): report whether it "
                             "cosigned the checkpoint(s)")
    parser.add_argument("--witness-threshold", type=int, default=None, metavar="N",
                        help="how many of the --witness keys must have cosigned (default: all of them)")
    args = parser.parse_args(argv)
    stdout = getattr(sys.stdout, "reconfigure", None)
    if stdout is not None:
        stdout(errors="backslashreplace")
    try:
        document = read_json_file(args.bundle, "the file")
        key = _read_key_argument(args.key) if args.key else None
        pinned = _read_text_file(args.checkpoint, "the checkpoint") if args.checkpoint else None
        link = read_json_file(args.consistency, "the consistency proof") if args.consistency else None
        witnesses = [parse_cosigner_key(_read_key_argument(w)) for w in args.witness]
    except (OSError, ValueError, VerificationError) as exc:
        print(_printable(f"svl-verify: cannot read the input: {exc}"), file=sys.stderr)
        print(RESULT_NOT_VERIFIED)
        return EXIT_NOT_VERIFIED
    threshold = len(witnesses) if args.witness_threshold is None else args.witness_threshold
    if not 0 <= threshold <= len(witnesses):
        print(f"svl-verify: --witness-threshold must be between 0 and the {len(witnesses)} --witness key(s) given",
              file=sys.stderr)
        return EXIT_USAGE
    if isinstance(document, dict) and document.get("format") in _CERTIFICATE_HEADERS:
        report = verify_certificate(document, trusted_key=key, trusted_checkpoint=pinned, link=link)
        for label in ("checkpoint_before", "checkpoint_after"):
            check_witnesses(report, f"the {label.replace('_', ' ')}", document.get(label), witnesses, threshold)
        print(render_certificate_report(report))
        return report.exit_code
    if link is not None:
        print("svl-verify: --consistency is for certificates; a bundle carries its own consistency proofs",
              file=sys.stderr)
        return EXIT_USAGE
    report = verify_bundle(document, trusted_key=key, trusted_checkpoint=pinned)
    check_witnesses(report, "the bundle's checkpoint", document.get("checkpoint") if isinstance(document, dict)
                    else None, witnesses, threshold)
    print(render_bundle_report(report, show_content=args.show_content))
    return report.exit_code


def _read_key_argument(value: str) -> str:
    try:
        is_file = len(value) < 4096 and Path(value).is_file()
    except (OSError, ValueError):  # not a usable path (a NUL byte, say): the key text itself
        is_file = False
    return _read_text_file(value, "the key file").strip() if is_file else value.strip()


if __name__ == "__main__":
    sys.exit(main())
