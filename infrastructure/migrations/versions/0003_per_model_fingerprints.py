"""Drops schema_fingerprints: each read model now keeps its own fingerprint beside its position
(read_model_positions), so a changed projection rebuilds only itself.

Revision ID: 0003_per_model_fingerprints
Revises: 0002_schema_fingerprints
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_per_model_fingerprints"
down_revision = "0002_schema_fingerprints"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_table("schema_fingerprints")


def downgrade() -> None:
    op.create_table(
        "schema_fingerprints",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
