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

from infrastructure import sealing
from infrastructure.keys import KeyDestroyed, KeyRing
from infrastructure.sealing import SEALED_TOPIC_PREFIX, associated_data, sealed_topic


class EventDestroyed(MapperDeserialisationError):
    """The event's data key was destroyed under a retention rule: its content is gone for good."""


def key_id_of(stored_topic: str) -> str:
    try:
        return sealing.key_id_of(stored_topic)
    except sealing.NotSealed as exc:
        raise MapperDeserialisationError(str(exc)) from None


class SealedMapper(Mapper[UUID]):
    def __init__(self, transcoder: Transcoder, keyring: KeyRing) -> None:
        super().__init__(transcoder)
        self.keyring = keyring

    def to_stored_event(self, domain_event: DomainEventProtocol[Any]) -> StoredEvent:
        event_state = dict(vars(domain_event))
        originator_id = event_state.pop("originator_id")
        originator_version = event_state.pop("originator_version")
        # As the library's Mapper does: a versioned event class's stored events say their version, so its
        # upcast_vN_vN+1 methods know what to bring up to date when they are read (domain.destruction_proposal).
        class_version = getattr(type(domain_event), "class_version", 1)
        if class_version > 1:
            event_state["class_version"] = class_version
        return self.seal(originator_id, originator_version, get_topic(type(domain_event)), event_state)

    def seal(self, originator_id: Any, originator_version: int, topic: str, event_state: dict) -> StoredEvent:
        """The stored event of a domain event's topic and state (also how the tests store events as code that
        no longer exists stored them)."""
        plaintext = topic.encode() + b"\n" + self.transcoder.encode(event_state)
        key_id = self.keyring.key_id_for(originator_id)
        nonce = os.urandom(sealing.NONCE_BYTES)
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
        try:
            topic, encoded_state = sealing.unseal(aead, stored_event.originator_id, stored_event.originator_version,
                                                  key_id, stored_event.state)
        except Exception as exc:
            raise MapperDeserialisationError(
                f"event {stored_event.originator_id} v{stored_event.originator_version} does not decrypt: "
                "altered, moved, or sealed with another key"
            ) from exc
        return super().to_domain_event(
            StoredEvent(
                originator_id=stored_event.originator_id,
                originator_version=stored_event.originator_version,
                topic=topic,
                state=encoded_state,
            )
        )


__all__ = ["SEALED_TOPIC_PREFIX", "EventDestroyed", "SealedMapper", "associated_data", "key_id_of", "sealed_topic"]
