"""The stored form of a sealed event (infrastructure/sealed_mapper.py): a nonce and the AES-256-GCM ciphertext of
its topic and state, bound to its place by the associated data; the stored topic names only the key id.

Kept apart from the mapper so that a reader without the event-sourcing library (`svl records`, naming the workers
it lists) opens events exactly as the application does; it imports only `cryptography`'s AES-GCM.
"""

from typing import Protocol
from uuid import UUID

SEALED_TOPIC_PREFIX = "svl:sealed:v1:"
NONCE_BYTES = 12


class NotSealed(ValueError):
    """A stored topic that is not one of ours."""


class Aead(Protocol):
    def decrypt(self, nonce: bytes, data: bytes, associated_data: bytes | None) -> bytes: ...


def sealed_topic(key_id: str) -> str:
    return SEALED_TOPIC_PREFIX + key_id


def key_id_of(stored_topic: str) -> str:
    if not stored_topic.startswith(SEALED_TOPIC_PREFIX):
        raise NotSealed(f"stored event is not sealed (topic {stored_topic!r})")
    return stored_topic[len(SEALED_TOPIC_PREFIX):]


def associated_data(originator_id: UUID | str, version: int, key_id: str) -> bytes:
    # Binds the ciphertext to its place: moving it to another event makes decryption fail.
    return f"{originator_id}|{version}|{key_id}".encode()


def unseal(aead: Aead, originator_id: UUID | str, version: int, key_id: str, state: bytes) -> tuple[str, bytes]:
    """The event's real topic and its encoded state; raises (cryptography's InvalidTag) if it was altered, moved
    or sealed with another key."""
    plaintext = aead.decrypt(state[:NONCE_BYTES], state[NONCE_BYTES:],
                             associated_data(originator_id, version, key_id))
    topic, _, encoded_state = plaintext.partition(b"\n")
    return topic.decode(), encoded_state
