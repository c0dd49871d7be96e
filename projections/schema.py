"""The read models' shared tables, on their own MetaData: rebuildable from the event log at any time.

`workers` and `supervision_periods` belong to the worker-files read model, `current_records` to the
current-records one; the other read models' queries join them (supervision compliance reads a team, a
leaving and a record's signatures from them, each with the moment it was recorded, so a past day can be
recomputed as it stood). They hold ids, states, dates and counts — never names or free text — so the database
holds no plaintext of a record; content is read from the sealed events, through the access checks.
"""

from typing import Any

from sqlalchemy import (
    BigInteger, Boolean, Column, ColumnElement, Date, DateTime, Index, Integer, MetaData, String, Table, Text, any_,
    bindparam,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.sqltypes import NULLTYPE
from sqlalchemy.sql.visitors import InternalTraversal

from domain.labels import ROLE_LENGTH

read_models = MetaData()

# One row per read model: how far it has projected, and where it stopped if an event failed in it.
read_model_positions = Table(
    "read_model_positions",
    read_models,
    Column("name", String(64), primary_key=True),
    Column("position", BigInteger, nullable=False),
    Column("fingerprint", String(64), nullable=False),  # of its tables: a changed schema is rebuilt from zero
    Column("stuck_at", BigInteger),  # the notification id it failed on
    Column("stuck_event", String(200)),  # that event's class, e.g. LegalHold.LegalHoldPlaced
    Column("stuck_error", Text),  # the error's kind and the database's message, never the values
)

current_records = Table(
    "current_records",
    read_models,
    Column("record_id", String(36), primary_key=True),
    Column("supervisee_id", String(36), nullable=False, index=True),
    Column("supervisor_id", String(36), nullable=False, index=True),  # who drafted it, and alone may sign it
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
)
# Nearly every record is signed: the unsigned ones are found by this index, not by reading them all.
Index("ix_current_records_supervisor_signed_at", current_records.c.supervisor_signed_at)

workers = Table(
    "workers",
    read_models,
    Column("worker_id", String(36), primary_key=True),
    Column("role", String(ROLE_LENGTH), nullable=False),
    Column("category", String(32), nullable=False, index=True),
    Column("start_date", Date, nullable=False),
    Column("organisation", String(ROLE_LENGTH), nullable=False),
    Column("supervisor_id", String(36), index=True),
    Column("state", String(16), nullable=False),
    Column("leaving_date", Date),
    Column("left_at", DateTime(timezone=True)),  # when the leaving was recorded: unknown to earlier days
    Column("destruction_date", Date),
    Column("joined_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# Who supervised whom, when: a team "as of" a day, and the day an agreement lapsed at a transfer.
supervision_periods = Table(
    "supervision_periods",
    read_models,
    # Keyed by the worker's event that began it, not a serial id: a rebuild after a destruction numbers the same.
    Column("worker_id", String(36), primary_key=True),
    Column("started_version", Integer, primary_key=True),
    Column("supervisor_id", String(36), nullable=False, index=True),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("ended_at", DateTime(timezone=True)),
    Column("ended_by", String(32)),  # "transfer" | "leaving"
)

# Each frequency regime a worker has been under: the category and the day it began, with when it was recorded (the
# joining, a change of role or category, a return after a long absence), so a past day is judged by the regime
# then in force as then known. `workers.category` and `workers.start_date` stay as joined.
worker_regimes = Table(
    "worker_regimes",
    read_models,
    Column("worker_id", String(36), primary_key=True),
    Column("started_version", Integer, primary_key=True),  # of the worker's event that began it
    Column("category", String(32), nullable=False),
    Column("category_since", Date, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
)


# Beyond this many workers a query reads every row and the caller keeps those of the workers asked about: binding
# thousands of ids (the whole organisation's due view) cost more to render than reading the rows they left out.
FEW_IDS = 500


class InList(ColumnElement[bool]):
    """`column IN` the list bound as `name`. On PostgreSQL `column = ANY(:name)`: one array parameter, so a
    statement about a run's hundreds of files stays short (psycopg keeps converted queries only up to 4 KB, and
    converting one with hundreds of placeholders cost more than running it); elsewhere an expanding IN."""

    inherit_cache = True
    type = NULLTYPE  # typed Boolean, it would be compared with 1 where booleans are not native (SQLite)
    _traverse_internals = [("column", InternalTraversal.dp_clauseelement), ("name", InternalTraversal.dp_string)]

    def __init__(self, column: Any, name: str) -> None:
        self.column = column
        self.name = name

    @property
    def _from_objects(self) -> list[Any]:
        return self.column._from_objects


@compiles(InList)
def _in_list(element: InList, compiler: Any, **kw: Any) -> str:
    return compiler.process(element.column.in_(bindparam(element.name, expanding=True)), **kw)


@compiles(InList, "postgresql")
def _in_array(element: InList, compiler: Any, **kw: Any) -> str:
    return compiler.process(element.column == any_(bindparam(element.name, type_=ARRAY(element.column.type))), **kw)
