"""Read models: the access log an inspector filters and exports, and the index of access grants.

Both hold ids, outcomes, reasons and stated purposes, never record content. The grant index only helps
find a reader's grants quickly; whether a grant is live is checked on the grant aggregate itself.
"""

from collections.abc import Callable
from typing import Any

from sqlalchemy import Column, Connection, DateTime, Integer, String, Table, Text, insert, update

from domain.access import AccessGrant
from domain.access_log import AccessLogEntry
from domain.labels import USERNAME_LENGTH
from projections.schema import read_models

access_log = Table(
    "access_log",
    read_models,
    Column("entry_id", String(36), primary_key=True),
    Column("at", DateTime(timezone=True), nullable=False, index=True),
    Column("reader_user_id", String(36), nullable=False, index=True),
    Column("reader_username", String(USERNAME_LENGTH), nullable=False),
    Column("reader_role", String(32), nullable=False),
    Column("reader_worker_id", String(36)),
    Column("action", String(32), nullable=False),
    Column("worker_id", String(36), nullable=False, index=True),
    Column("record_id", String(36), index=True),
    Column("record_version", Integer),
    Column("file_state", String(16), nullable=False),
    Column("outcome", String(8), nullable=False),
    Column("basis", String(64), nullable=False),
    Column("grant_id", String(36), index=True),
    Column("category", String(32)),
    Column("purpose", Text, nullable=False),
    Column("stated_purpose", Text, nullable=False),
    Column("refusal", String(32)),
    Column("reason", Text, nullable=False),
    Column("channel", String(8), nullable=False),
    Column("client", String(128), nullable=False),
)

access_grants = Table(
    "access_grants",
    read_models,
    Column("grant_id", String(36), primary_key=True),
    Column("grantee_user_id", String(36), nullable=False, index=True),
    Column("grantee_username", String(USERNAME_LENGTH), nullable=False),
    Column("category", String(32), nullable=False),
    Column("purpose", Text, nullable=False),
    Column("scope_kind", String(16), nullable=False),
    Column("scope_id", String(36), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("granted_by", String(36), nullable=False),
    Column("granted_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True)),
    Column("revocation_reason", Text),
)

TABLES = (access_log, access_grants)
# Built once and reused: constructing statements per event cost more than executing them.
_INSERT_ENTRY = insert(access_log)
_INSERT_GRANT = insert(access_grants)


def _logged(conn: Connection, e: Any) -> None:
    conn.execute(_INSERT_ENTRY, {
        "entry_id": str(e.originator_id), "at": e.timestamp, "reader_user_id": e.reader_user_id,
        "reader_username": e.reader_username, "reader_role": e.reader_role, "reader_worker_id": e.reader_worker_id,
        "action": e.action, "worker_id": e.worker_id, "record_id": e.record_id, "record_version": e.record_version,
        "file_state": e.file_state, "outcome": e.outcome, "basis": e.basis, "grant_id": e.grant_id,
        "category": e.category, "purpose": e.purpose, "stated_purpose": e.stated_purpose, "refusal": e.refusal,
        "reason": e.reason, "channel": e.channel, "client": e.client[:128]})


def _granted(conn: Connection, e: Any) -> None:
    conn.execute(_INSERT_GRANT, {
        "grant_id": str(e.originator_id), "grantee_user_id": e.grantee_user_id,
        "grantee_username": e.grantee_username, "category": e.category, "purpose": e.purpose,
        "scope_kind": e.scope_kind, "scope_id": e.scope_id, "expires_at": e.expires_at, "granted_by": e.actor,
        "granted_at": e.timestamp, "revoked_at": None, "revocation_reason": None})


def _revoked(conn: Connection, e: Any) -> None:
    conn.execute(update(access_grants).where(access_grants.c.grant_id == str(e.originator_id))
                 .values(revoked_at=e.timestamp, revocation_reason=e.reason))


HANDLERS: dict[type, Callable[[Any, Any], None]] = {
    AccessLogEntry.AccessLogged: _logged,
    AccessGrant.Granted: _granted,
    AccessGrant.Revoked: _revoked,
}
