"""What `/health` reports: whether the service and its database answer, how far each read model is (and which
is stuck), which schema version the database is at, and whether writes are refused (the database is behind a
published checkpoint). Every query here is a read, so a held write lock never
delays it."""

from api.application import SupervisionApplication
from api.http_models import HealthOut, ReadModelOut
from infrastructure.database import reader, schema_version


def health_report(application: SupervisionApplication) -> HealthOut:
    settings = application.storage.settings
    with reader(application.storage.engine).connect() as conn:
        states = application.read_models.states(conn)
    refused = application.integrity.writes_refused
    status = "read-only" if refused is not None else "degraded" if any(s.stuck for s in states) else "ok"
    return HealthOut(status=status,
                     database="sqlite" if settings.is_sqlite else "postgresql",
                     events=application.recorder.max_notification_id() or 0,
                     projected_to=min(s.position for s in states),
                     read_models=[ReadModelOut(**s.as_dict()) for s in states],
                     schema_version=schema_version(application.storage.engine), writes_refused=refused)
