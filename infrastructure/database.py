"""One SQLAlchemy engine for every table we own (keys, ledger, read models), beside the event store."""

from sqlalchemy import Engine, MetaData, create_engine, event, text
from sqlalchemy.engine import make_url

from infrastructure.settings import Settings

# Every table we own is declared on this one MetaData, so `create_all` makes the whole schema.
metadata = MetaData()


def make_engine(settings: Settings) -> Engine:
    if settings.is_sqlite:
        settings.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            f"sqlite:///{settings.sqlite_path}", connect_args={"timeout": 30}, pool_pre_ping=False
        )
        _configure_sqlite(engine)
        return engine
    url = make_url(settings.database_url)
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    return create_engine(
        url,
        connect_args={"options": f"-csearch_path={settings.database_schema}"},
        pool_size=5,
        max_overflow=10,
    )


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):  # type: ignore[no-untyped-def]
        # WAL lets readers run beside the event store's writer; busy_timeout waits instead of failing.
        dbapi_connection.execute("PRAGMA journal_mode=WAL")
        dbapi_connection.execute("PRAGMA busy_timeout=30000")
        dbapi_connection.execute("PRAGMA synchronous=NORMAL")
        # Deleted or overwritten content (a destroyed key, purged ciphertext) is zeroed, not left in free pages.
        dbapi_connection.execute("PRAGMA secure_delete=ON")
        # Let SQLAlchemy issue BEGIN itself, so a transaction that writes takes the lock up front.
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _on_begin(conn):  # type: ignore[no-untyped-def]
        # In WAL mode a deferred transaction that reads and then writes fails at once ("database is
        # locked") if another writer committed meanwhile; taking the write lock at BEGIN makes every
        # writer wait its turn instead. Pure readers opt out with `reader(engine)` and never block.
        deferred = conn.get_execution_options().get("svl_reader", False)
        conn.exec_driver_sql("BEGIN" if deferred else "BEGIN IMMEDIATE")


def reader(engine: Engine) -> Engine:
    """The same engine for read-only work: on SQLite its transactions do not take the write lock."""
    return engine.execution_options(svl_reader=True)


def writer(engine: Engine) -> Engine:
    """Kept for clarity at call sites that write: every transaction takes the write lock by default."""
    return engine


def create_schema(engine: Engine, settings: Settings) -> None:
    # The modules that declare our tables register them on `metadata` when imported.
    import infrastructure.destruction_certificates  # noqa: F401
    import infrastructure.keys  # noqa: F401
    import infrastructure.ledger_tables  # noqa: F401
    import infrastructure.users  # noqa: F401

    if not settings.is_sqlite:
        with engine.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{settings.database_schema}"'))
    metadata.create_all(engine)
