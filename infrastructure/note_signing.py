"""The organisation's side of what `svl_verify` checks: signing notes (checkpoints, destruction
certificates' statements) and spelling verifier keys. Kept out of `svl_verify.py` so that the outsider's
file holds only what verifying needs."""

from collections.abc import Sequence
from datetime import datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

# The verifier's own rules for key names, key ids and note text: one definition, on both sides.
from infrastructure.svl_verify import (  # noqa: PLC2701 - shared with the outsider's file on purpose
    _MAX_TREE_SIZE,
    _TIME_PREFIX,
    ALG_ED25519,
    CERTIFICATE_HEADER,
    TRANSITION_HEADER,
    HASH_SIZE,
    NoteSignature,
    _b64encode,
    _check_note_characters,
    _format_time,
    _is_valid_key_name,
    _key_id,
    _raw_public_key,
)

__all__ = ["certificate_statement", "format_checkpoint_body", "format_verifier_key", "sign_checkpoint",
           "sign_key_transition", "sign_note"]


def format_verifier_key(name: str, public_key_bytes: bytes | Ed25519PublicKey) -> str:
    """The vkey string ``<name>+<key ID hex>+<base64(0x01 || public key)>``."""
    if not _is_valid_key_name(name):
        raise ValueError(f"invalid key name {name!r}: empty, or has a space or '+'")
    raw = _raw_public_key(public_key_bytes)
    if len(raw) != 32:
        raise ValueError(f"Ed25519 public key must be 32 bytes, got {len(raw)}")
    typed = bytes([ALG_ED25519]) + raw
    return f"{name}+{_key_id(name, typed):08x}+{_b64encode(typed)}"


def sign_note(text: str, private_key: Ed25519PrivateKey, key_name: str) -> str:
    """The signed note: text, blank line, one Ed25519 signature line."""
    if not text.endswith("\n"):
        raise ValueError("note text must end with a newline")
    _check_note_characters(text)
    if not _is_valid_key_name(key_name):
        raise ValueError(f"invalid key name {key_name!r}: empty, or has a space or '+'")
    public = private_key.public_key().public_bytes_raw()
    key_id = _key_id(key_name, bytes([ALG_ED25519]) + public)
    signature = private_key.sign(text.encode("utf-8"))
    return text + "\n" + NoteSignature(key_name, key_id, signature).line()


def format_checkpoint_body(
    origin: str, tree_size: int, root: bytes, time: datetime | None = None
) -> str:
    """The checkpoint note text (what gets signed)."""
    if not origin or "\n" in origin or any(ord(c) < 0x20 for c in origin):
        raise ValueError(f"invalid checkpoint origin {origin!r}")
    if type(tree_size) is not int or not 0 <= tree_size < _MAX_TREE_SIZE:
        raise ValueError(f"invalid tree size {tree_size!r}")
    if not isinstance(root, (bytes, bytearray)) or len(root) != HASH_SIZE:
        raise ValueError("root hash must be 32 bytes")
    body = f"{origin}\n{tree_size}\n{_b64encode(bytes(root))}\n"
    if time is not None:
        body += f"{_TIME_PREFIX}{_format_time(time)}\n"
    return body


def sign_checkpoint(
    origin: str,
    tree_size: int,
    root: bytes,
    private_key: Ed25519PrivateKey,
    key_name: str | None = None,
    time: datetime | None = None,
) -> str:
    """The full signed checkpoint note. key_name defaults to the origin, as the
    spec recommends; time=None omits the time line (no clock is read here)."""
    body = format_checkpoint_body(origin, tree_size, root, time)
    return sign_note(body, private_key, origin if key_name is None else key_name)


def certificate_statement(fields: Sequence[tuple[str, str]], header: str = CERTIFICATE_HEADER) -> str:
    """The statement's text: a header line (the format's), then one `name value` line per field, in order."""
    lines = [header]
    for name, value in fields:
        if "\n" in value or " " in name:
            raise ValueError(f"certificate field {name!r} must be one line")
        lines.append(f"{name} {value}")
    return "\n".join(lines) + "\n"




def sign_key_transition(origin: str, tree_size: int, old: tuple[Ed25519PrivateKey, str],
                        new: tuple[Ed25519PrivateKey, str]) -> str:
    """The statement that the old key hands over to the new one at this tree size, signed by both
    (each given as the private key and its key name)."""
    old_vkey, new_vkey = (format_verifier_key(name, key.public_key()) for key, name in (old, new))
    text = f"{TRANSITION_HEADER}\norigin {origin}\nsize {tree_size}\nold {old_vkey}\nnew {new_vkey}\n"
    signed = sign_note(text, old[0], old[1])
    second = sign_note(text, new[0], new[1])
    return signed + second[len(text) + 1:]  # one note, both signature lines
