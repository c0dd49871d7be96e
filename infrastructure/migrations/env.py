"""Alembic's environment: always the connection (and transaction) that infrastructure.migrations was given."""

from alembic import context

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `svl db upgrade` (infrastructure.migrations.upgrade), not alembic's CLI")
context.configure(connection=connection, target_metadata=None, render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
