"""Schema fingerprints: which definition of the read models (rebuilt from the log, not migrated) the database holds.

Revision ID: 0002_schema_fingerprints
Revises: 0001_baseline
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_schema_fingerprints"
down_revision = "0001_baseline"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "schema_fingerprints",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("schema_fingerprints")
