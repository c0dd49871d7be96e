"""A Mapper that seals each stored event, topic and state alike, with its aggregate's data key.

The library's own cipher encrypts the state only and with one key for everything; here the real
topic travels inside the ciphertext and the stored topic names only the (opaque) key id, so a
destroyed key leaves nothing readable, not even which kind of event it was.
"""

import os
from typing import Any
from uuid import UUID

from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import Mapper, MapperDeserialisationError, StoredEvent, Transcoder
from eventsourcing.utils import get_topic

from infrastructure.keys import KeyDestroyed, KeyRing

SEALED_TOPIC_PREFIX = "svl:sealed:v1:"
_NONCE_BYTES = 12


class EventDestroyed(MapperDeserialisationError):
    """The event's data key was destroyed under a retention rule: its content is gone for good."""


def sealed_topic(key_id: str) -> str:
    return SEALED_TOPIC_PREFIX + key_id


def key_id_of(stored_topic: str) -> str:
    if not stored_topic.startswith(SEALED_TOPIC_PREFIX):
        raise MapperDeserialisationError(f"stored event is not sealed (topic {stored_topic!r})")
    return stored_topic[len(SEALED_TOPIC_PREFIX):]


def associated_data(originator_id: UUID | str, version: int, key_id: str) -> bytes:
    # Binds the ciphertext to its place: moving it to another event makes decryption fail.
    return f"{originator_id}|{version}|{key_id}".encode()


class SealedMapper(Mapper[UUID]):
    def __init__(self, transcoder: Transcoder, keyring: KeyRing) -> None:
        super().__init__(transcoder)
        self.keyring = keyring

    def to_stored_event(self, domain_event: DomainEventProtocol[Any]) -> StoredEvent:
        event_state = dict(vars(domain_event))
        originator_id = event_state.pop("originator_id")
        originator_version = event_state.pop("originator_version")
        plaintext = get_topic(type(domain_event)).encode() + b"\n" + self.transcoder.encode(event_state)
        key_id = self.keyring.key_id_for(originator_id)
        nonce = os.urandom(_NONCE_BYTES)
        sealed = nonce + self.keyring.aead(key_id).encrypt(
            nonce, plaintext, associated_data(originator_id, originator_version, key_id)
        )
        return StoredEvent(
            originator_id=originator_id,
            originator_version=originator_version,
            topic=sealed_topic(key_id),
            state=sealed,
        )

    def to_domain_event(self, stored_event: StoredEvent) -> DomainEventProtocol[Any]:
        key_id = key_id_of(stored_event.topic)
        try:
            aead = self.keyring.aead(key_id)
        except KeyDestroyed as exc:
            raise EventDestroyed(
                f"event {stored_event.originator_id} v{stored_event.originator_version} was destroyed: {exc}"
            ) from None
        state = stored_event.state
        try:
            plaintext = aead.decrypt(
                state[:_NONCE_BYTES],
                state[_NONCE_BYTES:],
                associated_data(stored_event.originator_id, stored_event.originator_version, key_id),
            )
        except Exception as exc:
            raise MapperDeserialisationError(
                f"event {stored_event.originator_id} v{stored_event.originator_version} does not decrypt: "
                "altered, moved, or sealed with another key"
            ) from exc
        topic, _, encoded_state = plaintext.partition(b"\n")
        return super().to_domain_event(
            StoredEvent(
                originator_id=stored_event.originator_id,
                originator_version=stored_event.originator_version,
                topic=topic.decode(),
                state=encoded_state,
            )
        )
