"""Read models are SQL tables on their own MetaData: rebuildable from the event log at any time.

They hold ids, states, dates and counts — never names or free text — so the database file holds
no plaintext of a record; content is read from the sealed events, through the access checks.
"""

from sqlalchemy import BigInteger, Boolean, Column, Date, DateTime, Integer, MetaData, String, Table

read_models = MetaData()

projection_positions = Table(
    "projection_positions",
    read_models,
    Column("name", String(64), primary_key=True),
    Column("position", BigInteger, nullable=False),
)

current_records = Table(
    "current_records",
    read_models,
    Column("record_id", String(36), primary_key=True),
    Column("supervisee_id", String(36), nullable=False, index=True),
    Column("supervisor_id", String(36), nullable=False, index=True),
    Column("state", String(32), nullable=False, index=True),
    Column("session_date", Date, nullable=False),
    Column("content_version", Integer, nullable=False),
    Column("content_sha256", String(64), nullable=False),
    Column("aggregate_version", Integer, nullable=False),
    Column("open_amendment", Boolean, nullable=False, default=False),
    Column("disagreements", Integer, nullable=False, default=0),
    Column("addenda", Integer, nullable=False, default=0),
    Column("supervisee_signed_at", DateTime(timezone=True)),
    Column("supervisor_signed_at", DateTime(timezone=True)),
    Column("drafted_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("file_section", String(16), nullable=False, default="current"),  # "current" | "previous"
    Column("destroyed", Boolean, nullable=False, default=False),
)

workers = Table(
    "workers",
    read_models,
    Column("worker_id", String(36), primary_key=True),
    Column("role", String(200), nullable=False),
    Column("category", String(32), nullable=False, index=True),
    Column("start_date", Date, nullable=False),
    Column("organisation", String(64), nullable=False),
    Column("supervisor_id", String(36), index=True),
    Column("state", String(16), nullable=False),
    Column("leaving_date", Date),
    Column("destruction_date", Date),
    Column("joined_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

supervision_periods = Table(
    "supervision_periods",
    read_models,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("worker_id", String(36), nullable=False, index=True),
    Column("supervisor_id", String(36), nullable=False, index=True),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("ended_at", DateTime(timezone=True)),
    Column("ended_by", String(32)),  # "transfer" | "leaving"
)
