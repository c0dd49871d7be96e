"""What `/health` reports: whether the service and its database answer, how far the read models are, and which
schema version the database is at. Every query here is a read, so a held write lock never delays it."""

from sqlalchemy import select

from api.application import SupervisionLedger
from api.http_models import HealthOut
from infrastructure.database import reader, schema_version
from projections.runner import POSITION_NAME
from projections.schema import projection_positions


def health_report(ledger: SupervisionLedger) -> HealthOut:
    settings = ledger.storage.settings
    with reader(ledger.storage.engine).connect() as conn:
        projected_to = conn.execute(select(projection_positions.c.position)
                                    .where(projection_positions.c.name == POSITION_NAME)).scalar_one()
    return HealthOut(status="ok", database="sqlite" if settings.is_sqlite else "postgresql",
                     events=ledger.recorder.max_notification_id() or 0, projected_to=projected_to,
                     schema_version=schema_version(ledger.storage.engine))
