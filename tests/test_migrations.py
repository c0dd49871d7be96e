"""Migrations (Alembic), on both backends: a database at the previous schema — stamped at the baseline revision, or
made before migrations existed (as `metadata.create_all` made it, with no version table) — holding signed
records is upgraded with `svl db upgrade`, and every record is still there, readable and verifiable (`svl verify`
intact); the upgraded schema is exactly what the code declares; `/health` names the revision."""

import json

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from fastapi.testclient import TestClient
from sqlalchemy import inspect, select, text

import infrastructure.destruction_certificates  # noqa: F401  (each declares its tables on `metadata`)
import infrastructure.keys  # noqa: F401
import infrastructure.ledger_tables  # noqa: F401
import infrastructure.users  # noqa: F401
from api.application import Storage, SupervisionApplication
from api.http import create_app
from domain.authorisation import Role
from infrastructure import migrations
from infrastructure.database import make_engine, metadata, reader
from projections.schema import current_records, read_model_positions
from tests.support.acting import acting
from tests.support.staff import content
from tests.support.cli import cli, populated  # noqa: F401  (fixtures)

# Tables a revision after the baseline adds (0004, 0005); the baseline had all the others.
BASELINE_TABLES = set(metadata.tables) - {"signing_key_transitions", "web_sessions"}


def tables_of(engine) -> set[str]:  # noqa: ANN001
    with reader(engine).connect() as conn:
        return set(inspect(conn).get_table_names())


@pytest.mark.parametrize("stamped", [True, False], ids=["at-baseline", "before-migrations"])
def test_an_upgrade_from_the_previous_schema_keeps_every_record_verifiable(
        cli, populated, settings, master_key, stamped: bool) -> None:  # noqa: ANN001, F811
    app, rid = populated
    record = app.records.get_record(rid)
    app.records.sign_record(acting(record.supervisee_id, Role.SUPERVISEE), rid, record.content_sha256)
    second = app.records.draft_record(acting(record.supervisor_id), supervisee_id=record.supervisee_id,
                                      content=content("A second session")).id
    app.integrity.checkpoint()
    kept = {str(r): app.records.get_record(r).content for r in (rid, second)}
    events = app.recorder.max_notification_id()
    app.close()
    app.storage.engine.dispose()

    # Take the database back to the previous schema, records and all.
    engine = make_engine(settings)
    with engine.begin() as conn:
        migrations.downgrade(conn, migrations.BASELINE)
        if not stamped:
            conn.execute(text("DROP TABLE alembic_version"))
        # As if this code's current_records projection were newer than the one that built the table.
        conn.execute(read_model_positions.update().where(read_model_positions.c.name == "current_records")
                     .values(fingerprint="0" * 64))
    with reader(engine).connect() as conn:
        assert migrations.revision_of(conn) == (migrations.BASELINE if stamped else None)
    ours = tables_of(engine) & set(metadata.tables)
    assert ours == BASELINE_TABLES, ours
    engine.dispose()

    out = cli("db", "upgrade")
    assert f"schema: {migrations.BASELINE} -> {migrations.head()}" in out, out
    assert "rebuilt from the event log: current_records (" in out, out  # only the changed one is replayed
    assert "at " + migrations.head() in cli("db", "upgrade")  # safe to repeat
    assert "intact" in cli("verify")
    report = json.loads(cli("verify", "--json"))
    assert report["intact"] and report["events"] == events, report

    app = SupervisionApplication(Storage.open(settings, master_key=master_key))
    try:
        assert {r: app.records.get_record(r).content for r in kept} == kept
        app.read_models.catch_up()
        with reader(app.storage.engine).connect() as conn:
            listed = set(conn.execute(select(current_records.c.record_id)).scalars())
        assert set(kept) <= listed
        app.records.draft_record(acting(record.supervisor_id), supervisee_id=record.supervisee_id,
                                 content=content("After the upgrade"))  # and it goes on working
    finally:
        app.close()
        app.storage.engine.dispose()
    assert "intact" in cli("verify")


def test_the_migrated_schema_is_exactly_what_the_code_declares(application) -> None:  # noqa: ANN001
    """Catches a table or column added to the code without a revision (see README: Changing the schema)."""
    with reader(application.storage.engine).connect() as conn:
        assert migrations.revision_of(conn) == migrations.head()
        # Only our migrated tables: the event store's are the library's, the read models are rebuilt.
        context = MigrationContext.configure(conn, opts={
            "include_name": lambda name, kind, _: kind != "table" or name in metadata.tables})
        drift = compare_metadata(context, metadata)
    assert drift == [], f"the code's tables differ from the migrated schema; add a revision: {drift}"


def test_the_head_the_code_names_is_the_newest_revision() -> None:
    assert migrations.scripted_head() == migrations.HEAD


def test_health_names_the_schema_revision(settings, master_key) -> None:  # noqa: ANN001
    api = create_app(settings, master_key)
    try:
        assert TestClient(api).get("/health").json()["schema_version"] == migrations.head()
    finally:
        api.state.application.close()
        api.state.application.storage.engine.dispose()
