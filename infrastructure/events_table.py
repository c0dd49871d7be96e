"""The event store's table, as the eventsourcing library names it on each backend; apart from the ledger store so
that a reader with the database driver alone (api/record_index.py) finds it too."""

from dataclasses import dataclass

from infrastructure.settings import Settings


@dataclass(frozen=True)
class EventsTable:
    """Where the event store keeps its rows, and how this backend names the notification id."""

    name: str
    settings: Settings

    @property
    def qualified(self) -> str:
        if self.settings.is_sqlite:
            return self.name
        return f'"{self.settings.database_schema}"."{self.name}"'

    @property
    def nid(self) -> str:
        return "rowid" if self.settings.is_sqlite else "notification_id"

    @classmethod
    def of(cls, settings: Settings) -> "EventsTable":
        """As the eventsourcing library names it for our application on each backend (a test checks it)."""
        return cls("stored_events" if settings.is_sqlite else "supervisionledger_events", settings)
