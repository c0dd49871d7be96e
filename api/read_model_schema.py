"""Read models are rebuilt, not migrated. They are derived from the event log: a change to a projection usually
changes what its rows mean, which no ALTER TABLE can recompute, and replaying the log is always correct. So the
definition of every read-model table is fingerprinted; when the code's fingerprint differs from the one the
database holds (or it holds none), the read-model tables are dropped, created from the code and replayed from
the log (lazily, by the next catch-up). Tables a newer projection no longer defines are left alone."""

import hashlib

from sqlalchemy import Connection, Engine, inspect, select, text
from sqlalchemy.schema import CreateIndex, CreateTable

from infrastructure.database import schema_fingerprints, writer
from projections.schema import read_model_positions, read_models

NAME = "read_models"


def read_model_fingerprint(engine: Engine | Connection) -> str:
    """SHA-256 of the DDL of every read-model table and index, as this code would create them."""
    dialect = engine.dialect
    digest = hashlib.sha256()
    for table in sorted(read_models.tables.values(), key=lambda t: t.name):
        digest.update(str(CreateTable(table).compile(dialect=dialect)).encode())
        for index in sorted(table.indexes, key=lambda i: i.name or ""):
            digest.update(str(CreateIndex(index).compile(dialect=dialect)).encode())
    return digest.hexdigest()


def ensure_read_model_tables(engine: Engine) -> str:
    """Recreates the read-model tables if their definition changed. Returns "current", "created" (a new database)
    or "rebuilt" (they replay from zero at the next catch-up)."""
    fingerprint = read_model_fingerprint(engine)
    with writer(engine).begin() as conn:
        if conn.dialect.name == "postgresql":  # one process recreates; the others then find the new fingerprint
            conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('svl-read-models:' || current_schema()))"))
        stored = conn.execute(select(schema_fingerprints.c.fingerprint)
                              .where(schema_fingerprints.c.name == NAME)).scalar_one_or_none()
        if stored == fingerprint:
            return "current"
        # Positions (today's table, or the one before per-read-model positions) mean there was something to rebuild.
        existing = inspect(conn)
        outcome = "rebuilt" if any(existing.has_table(name) for name in (read_model_positions.name,
                                                                         "projection_positions")) else "created"
        read_models.drop_all(conn)
        read_models.create_all(conn)
        if stored is None:
            conn.execute(schema_fingerprints.insert().values(name=NAME, fingerprint=fingerprint))
        else:
            conn.execute(schema_fingerprints.update().where(schema_fingerprints.c.name == NAME)
                         .values(fingerprint=fingerprint))
    return outcome
