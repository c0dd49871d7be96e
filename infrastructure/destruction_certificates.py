"""Destruction certificates: the organisation's signed statement that a worker's file was destroyed,
with the ledger checkpoints before and after and the consistency proof between them.
`svl-verify CERTIFICATE` checks one offline (infrastructure/svl_verify.py)."""

import base64
import hashlib
import json
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import BigInteger, Column, Date, Engine, LargeBinary, String, Table, select

from infrastructure.checkpoints import SigningKey, write_atomically
from infrastructure.database import metadata, reader
from infrastructure.ledger_verify import Purge
from infrastructure.note_signing import certificate_statement, sign_note
from infrastructure.svl_verify import (CERTIFICATE_FORMAT, RECORD_CERTIFICATE_FORMAT, RECORD_CERTIFICATE_HEADER,
                                      parse_checkpoint)

# The digest of each purged event's ciphertext, kept when the ciphertext is emptied, so `svl verify`
# still recomputes that event's leaf exactly (and can tell a lawful purge from tampering).
purged_events = Table(
    "purged_events",
    metadata,
    Column("notification_id", BigInteger, primary_key=True, autoincrement=False),
    Column("originator_id", String(36), nullable=False),
    Column("state_sha256", LargeBinary(32), nullable=False),
    Column("rule", String(400), nullable=False),
    Column("purged_on", Date, nullable=False),
)


def lawful_purges(engine: Engine) -> list[Purge]:
    """For `svl verify`: each purged event with its ciphertext's digest, so its leaf is still rechecked."""
    with reader(engine).connect() as conn:
        rows = conn.execute(select(purged_events)).all()
    return [Purge(rule=r.rule, on=r.purged_on.isoformat(), notification_id=r.notification_id,
                  state_sha256=bytes(r.state_sha256)) for r in rows]


def checkpoint_summary(note: str) -> dict:
    cp = parse_checkpoint(note)
    return {"tree_size": cp.tree_size, "root_hash": base64.b64encode(cp.root_hash).decode(), "note": note}


def write_certificate(*, directory: Path, key: SigningKey, origin: str, destruction: Any, destroyed_at: datetime,
                      checkpoint_before: dict, checkpoint_after: dict, consistency_proof: list[str],
                      destruction_event: dict) -> tuple[Path, str]:
    """Signs and writes the certificate of a worker's file or of one record of a class kept apart (its statement
    says which); returns its path and SHA-256 (recorded in the ledger after)."""
    checkpoints = [("checkpoint-before", f"{checkpoint_before['tree_size']} {checkpoint_before['root_hash']}"),
                   ("checkpoint-after", f"{checkpoint_after['tree_size']} {checkpoint_after['root_hash']}")]
    record_class = getattr(destruction, "record_class", None)
    if record_class is None:
        certificate_format, statement = CERTIFICATE_FORMAT, certificate_statement([
            ("origin", origin),
            ("worker", destruction.worker_id),
            ("records", " ".join([str(len(destruction.record_ids)), *destruction.record_ids])),
            ("events", str(destruction.event_count)),
            ("key", destruction.key_id),
            ("rule", " ".join(destruction.rule.split())),
            ("pack", destruction.pack),
            ("left", _iso(destruction.leaving_date)),
            ("due", _iso(destruction.destruction_date)),
            ("destroyed", destroyed_at.isoformat()),
            ("by", destruction.started_by),
            *checkpoints,
            *review_lines(destruction.approval),
        ])
    else:
        certificate_format, statement = RECORD_CERTIFICATE_FORMAT, certificate_statement([
            ("origin", origin),
            ("class", record_class),
            ("record", destruction.record_id),
            ("worker", destruction.worker_id),
            ("events", str(destruction.event_count)),
            ("key", destruction.key_id),
            ("rule", " ".join(destruction.rule.split())),
            ("pack", destruction.pack),
            ("discussed", _iso(destruction.discussed_on)),
            ("due", _iso(destruction.destruction_date)),
            ("destroyed", destroyed_at.isoformat()),
            ("by", destruction.started_by),
            *checkpoints,
            *review_lines(destruction.approval),
        ], header=RECORD_CERTIFICATE_HEADER)
    certificate = {
        "format": certificate_format,
        "statement": sign_note(statement, key.private_key, key.name),
        "checkpoint_before": checkpoint_before["note"],
        "checkpoint_after": checkpoint_after["note"],
        "consistency_proof": consistency_proof,
        "destruction_event": destruction_event,
        "verifier_key": key.vkey,
    }
    text = json.dumps(certificate, indent=2) + "\n"
    path = directory / certificate_name(destruction)
    write_atomically(path, text)  # a full disk leaves no certificate, or the old one: never a truncated one
    return path, hashlib.sha256(text.encode()).hexdigest()


def certificate_name(destruction: Any) -> str:
    """A worker's file: destruction-<worker>.json; a record of a class kept apart: destruction-<class>-<record>.json."""
    record_class = getattr(destruction, "record_class", None)
    if record_class is None:
        return f"destruction-{destruction.worker_id}.json"
    return record_certificate_name(record_class, destruction.record_id)


def record_certificate_name(record_class: str, record_id: str) -> str:
    return f"destruction-{record_class.replace('_', '-')}-{record_id}.json"


def destruction_event(event: Any, leaf_index: int, inclusion_proof: list[bytes]) -> dict:
    """This file's `DestructionStarted` (or this record's start of destruction) as the ledger holds it (the digest of its sealed bytes, not the bytes), with
    its inclusion proof in the checkpoint after: each certificate proves its own destruction was recorded."""
    return {"notification_id": event.notification_id, "leaf_index": leaf_index,
            "originator_id": event.originator_id, "originator_version": event.version, "topic": event.topic,
            "state_sha256": base64.b64encode(event.state_sha256).decode(),
            "inclusion_proof": [base64.b64encode(p).decode() for p in inclusion_proof]}


def review_lines(approval: dict | None) -> list[tuple[str, str]]:
    """The disposition review the file was destroyed under: the list, who proposed it, who else approved it,
    when, and the approver's rationale on one line."""
    if not approval:
        raise ValueError("a destruction is certified only with the approval it was made under")
    return [("proposal", approval["proposal"]), ("proposed-by", approval["proposed_by"]),
            ("approved-by", approval["approved_by"]), ("approved", approval["approved_at"]),
            ("approval", " ".join(approval["rationale"].split()))]


def _iso(value: date | str) -> str:
    return value.isoformat() if isinstance(value, date) else str(value)
