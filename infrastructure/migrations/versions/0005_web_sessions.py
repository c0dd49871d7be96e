"""Web sessions in the database, so that every server process knows every browser's session (infrastructure/users.py
declares the table, infrastructure/web_sessions.py uses it). Sessions were held in each process's memory before:
nothing to carry over, everyone signs in again once.

Revision ID: 0005_web_sessions
Revises: 0004_signing_key_transitions
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_web_sessions"
down_revision = "0004_signing_key_transitions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "web_sessions",
        sa.Column("session_sha256", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.LargeBinary(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.user_id"]),
        sa.PrimaryKeyConstraint("session_sha256"),
    )
    op.create_index("ix_web_sessions_user_id", "web_sessions", ["user_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_web_sessions_user_id", table_name="web_sessions")
    op.drop_table("web_sessions")
