"""The HTTP API (FastAPI). For now: health. The API issue adds the versioned endpoints."""

from fastapi import FastAPI

from infrastructure.settings import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    from api.application import open_ledger

    settings = settings or Settings.from_env()
    ledger = open_ledger(settings)
    api = FastAPI(title="Supervision Ledger", version="0.1.0",
                  description="Event-sourced, audit-first supervision records.")
    api.state.ledger = ledger

    @api.get("/health", tags=["health"])
    def health() -> dict:
        return {"status": "ok", "database": "sqlite" if settings.is_sqlite else "postgresql",
                "events": ledger.recorder.max_notification_id() or 0,
                "projected_to": ledger.read_models.position()}

    @api.on_event("shutdown")
    def close() -> None:
        ledger.close()

    return api
