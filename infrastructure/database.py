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
        # Let SQLAlchemy issue BEGIN itself, so a transaction that writes takes the lock up front.
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _on_begin(conn):  # type: ignore[no-untyped-def]
        # A writer that reads first (e.g. a projection reading its position) takes the lock up front,
        # so it cannot deadlock on upgrade; plain readers stay deferred and never block anyone.
        immediate = conn.get_execution_options().get("svl_writer", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def writer(engine: Engine) -> Engine:
    """The same engine, but its transactions take the write lock at BEGIN on SQLite."""
    return engine.execution_options(svl_writer=True)


def create_schema(engine: Engine, settings: Settings) -> None:
    # The modules that declare our tables register them on `metadata` when imported.
    import infrastructure.keys  # noqa: F401
    import infrastructure.ledger_tables  # noqa: F401

    if not settings.is_sqlite:
        with engine.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{settings.database_schema}"'))
    metadata.create_all(engine)
