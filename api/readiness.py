"""What `/ready` reports: whether this process can serve (its database answers, no read model is stuck), how far
behind the newest event each read model is, how old the newest signed checkpoint is, which witnesses cosigned
it, and whether this process is the one projecting. Positions and counts only: no names, no content."""

import os
from datetime import datetime, timezone
from typing import Any

from api.application import SupervisionApplication
from infrastructure.database import database_unavailable, reader


def readiness(application: SupervisionApplication, now: datetime | None = None) -> tuple[bool, dict[str, Any]]:
    """(ready, report). Not ready: the database does not answer, or a read model is stuck. A lag alone is not a
    reason to take a process out of service: every process shares the same read models."""
    report: dict[str, Any] = {"process": os.getpid(), "projects": application.read_models.projects_here(),
                              "database": "sqlite" if application.storage.settings.is_sqlite else "postgresql"}
    try:
        report.update(_database_facts(application, now or datetime.now(timezone.utc)))
    except Exception as exc:  # noqa: BLE001 - any failure here means: do not send traffic
        reason = "the database does not answer" if database_unavailable(exc) else f"{type(exc).__name__}"
        return False, {**report, "status": "not ready", "problems": [reason]}
    problems = [f"the {m['name']} read model is stuck at notification {m['stuck_at']}"
                for m in report["read_models"] if m["stuck_at"] is not None]
    if report["writes_refused"]:
        problems.append("writes are refused: the database is behind a published checkpoint")
    ready = not any(m["stuck_at"] is not None for m in report["read_models"])
    return ready, {**report, "status": "ready" if ready else "not ready", "problems": problems}


def _database_facts(application: SupervisionApplication, now: datetime) -> dict[str, Any]:
    with reader(application.storage.engine).connect() as conn:
        states = application.read_models.states(conn)
    newest = application.recorder.max_notification_id() or 0
    latest = application.integrity.checkpoints.latest()
    checkpoint = None
    witnesses = None
    if latest is not None:
        signed = latest.checkpoint
        age = (now - signed.time).total_seconds() if signed.time is not None else None
        checkpoint = {"tree_size": latest.tree_size, "signed_at": signed.time.isoformat() if signed.time else None,
                      "age_seconds": None if age is None else round(max(age, 0.0), 1),
                      "unsigned_leaves": max(0, application.integrity.store.size() - latest.tree_size)}
    cosigners = application.integrity.cosigners
    if cosigners is not None:
        witnesses = [{"name": e.name, "cosigned_latest": bool(latest and e.holds_cosignature(latest.note))}
                     for e in cosigners.endpoints]
    return {"events": newest,
            "read_models": [{"name": s.name, "position": s.position, "lag": max(0, newest - s.position),
                             "stuck_at": s.stuck_at} for s in states],
            "checkpoint": checkpoint, "witnesses": witnesses,
            "writes_refused": application.integrity.writes_refused}
