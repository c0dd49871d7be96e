"""The event store: eventsourcing's own SQLite and PostgreSQL recorders, with the ledger leaf written
in the same transaction as the events it covers.
"""

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import InterfaceError, OperationalError, StoredEvent
from eventsourcing.postgres import PostgresAggregateRecorder, PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteCursor
from eventsourcing.utils import get_topic, retry
from sqlalchemy.engine import make_url

from infrastructure.key_rows import KeyRowWriter
from infrastructure.ledger_append import LedgerAppender
from infrastructure.settings import Settings


class LedgeredSQLiteRecorder(SQLiteApplicationRecorder):
    _keys = KeyRowWriter("qmark")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._ledger = LedgerAppender("qmark")

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        notification_ids = super().insert_events(stored_events, **kwargs)
        self._ledger.committed()  # only now may the appender trust the edge it computed
        return notification_ids

    def _insert_events(self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int]:
        self._keys.write(c, kwargs.get("svl_keys"))
        notification_ids = super()._insert_events(c, stored_events, **kwargs)
        assert notification_ids is not None
        self._ledger.append(c, notification_ids, stored_events)
        return notification_ids


class LedgeredPostgresRecorder(PostgresApplicationRecorder):
    """One transaction: take the table lock, insert the events, append their leaves, commit.

    The lock serialises writers, so notification ids and leaves are committed in the same order;
    a rolled-back writer may leave a gap in notification ids but never in the ledger's leaf indexes.
    (No NOTIFY: nothing here subscribes, and it would add a global lock at every commit.)
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._ledger = LedgerAppender("format", self.datastore.schema)
        self._keys = KeyRowWriter("format", self.datastore.schema)

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        if not stored_events:
            return []
        with self.datastore.transaction(commit=True) as curs:
            self._lock_table(curs)
            self._keys.write(curs, kwargs.get("svl_keys"))
            PostgresAggregateRecorder._insert_stored_events(self, curs, stored_events)
            notification_ids = self._fetch_ids_after_insert_events(curs, stored_events)
            assert notification_ids is not None
            self._ledger.append(curs, notification_ids, stored_events)
        self._ledger.committed()
        return notification_ids


def eventsourcing_env(settings: Settings) -> dict[str, str]:
    """The library's own configuration, derived from SVL_DATABASE_URL."""
    if settings.is_sqlite:
        return {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(settings.sqlite_path),
            "SQLITE_LOCK_TIMEOUT": "30",
            "APPLICATION_RECORDER_TOPIC": get_topic(LedgeredSQLiteRecorder),
        }
    url = make_url(settings.database_url)
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": url.database or "",
        "POSTGRES_HOST": url.host or "127.0.0.1",
        "POSTGRES_PORT": str(url.port or 5432),
        "POSTGRES_USER": url.username or "postgres",
        "POSTGRES_PASSWORD": url.password or "",
        "POSTGRES_SCHEMA": settings.database_schema,
        "POSTGRES_LOCK_TIMEOUT": "30",
        "POSTGRES_POOL_SIZE": "2",
        "POSTGRES_MAX_OVERFLOW": "8",
        "APPLICATION_RECORDER_TOPIC": get_topic(LedgeredPostgresRecorder),
    }
