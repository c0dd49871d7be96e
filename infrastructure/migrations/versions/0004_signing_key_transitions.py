"""Signing-key transitions: the statements, signed by the old and the new key, of each signing-key rotation.

Revision ID: 0004_signing_key_transitions
Revises: 0003_per_model_fingerprints
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_signing_key_transitions"
down_revision = "0003_per_model_fingerprints"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "signing_key_transitions",
        sa.Column("tree_size", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("tree_size"),
    )


def downgrade() -> None:
    op.drop_table("signing_key_transitions")
