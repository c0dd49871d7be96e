"""Synthetic stored events and their ledger leaves, for the verifier tests."""

from __future__ import annotations

import os
import uuid
from datetime import datetime, timezone

from infrastructure.merkle import Frontier
from infrastructure.svl_verify import event_leaf_hash


WHEN = datetime(2026, 3, 2, 9, tzinfo=timezone.utc)


def make_events(count: int, records: int = 3, first_nid: int = 1, gaps: tuple[int, ...] = ()) -> list[tuple]:
    """count events spread round-robin over a few records, versions counting up per record."""
    oids = [str(uuid.UUID(int=i + 1)) for i in range(records)]
    versions = dict.fromkeys(oids, 0)
    events, nid = [], first_nid
    for i in range(count):
        while nid in gaps:
            nid += 1
        oid = oids[i % records]
        versions[oid] += 1
        events.append((nid, oid, versions[oid], "svl:sealed:v1:k" + oid[-1], os.urandom(40)))
        nid += 1
    return events


def make_leaves(events: list[tuple]) -> list[tuple]:
    """The rows the recorder would have written for these events."""
    frontier, rows = Frontier(), []
    for nid, oid, version, topic, state in events:
        leaf = event_leaf_hash(nid, oid, version, topic, state)
        completed = frontier.append(leaf)
        rows.append((len(rows), nid, leaf, b"".join(h for _, _, h in completed[1:])))
    return rows
