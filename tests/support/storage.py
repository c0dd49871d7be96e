"""Reading and editing the stored events underneath the application, as tamper tests do."""

from __future__ import annotations

from sqlalchemy import text

from api.application import SupervisionApplication
from infrastructure.ledger_store import canonical_originator_id, snapshot


def nid_column(app: SupervisionApplication) -> str:
    return "rowid" if app.storage.settings.is_sqlite else "notification_id"


def table(app: SupervisionApplication) -> str:
    return app.recorder.events_table_name


def sql(app: SupervisionApplication, statement: str, **params: object) -> list:
    with app.storage.engine.begin() as conn:
        result = conn.execute(text(statement), params)
        return list(result) if result.returns_rows else []


def event_rows(app: SupervisionApplication) -> list[tuple]:
    """(nid, originator id, version, topic, state) as stored, in notification order."""
    with snapshot(app.storage.engine, app.integrity.events) as snap:
        return [(nid, canonical_originator_id(oid), *rest) for nid, oid, *rest in snap.events]
