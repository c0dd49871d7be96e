"""The integrity ledger's own tables: one row per leaf, and the signed checkpoints.

A leaf row carries, besides its leaf hash, the hashes of the complete subtrees that this leaf
closes (`completed_nodes`: level 1 upward, 32 bytes each). Leaf i closes one node per trailing
1-bit of i, so a row holds 0 to 63 of them, one on average. Keeping them in the leaf's
own row means one insert per event, one table to stream when verifying, and still O(log n) rows
for any RFC 9162 proof: node (level L >= 1, index j) is in row ((j + 1) << L) - 1, at offset
(L - 1) * 32 (see `infrastructure.ledger_store`).
"""

from sqlalchemy import BigInteger, Column, DateTime, Integer, LargeBinary, Table, Text

from infrastructure.database import metadata

ledger_leaves = Table(
    "ledger_leaves",
    metadata,
    # On SQLite an INTEGER primary key is the rowid itself: one b-tree fewer to write per event.
    Column("leaf_index", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=False),
    Column("notification_id", BigInteger, nullable=False, unique=True),
    Column("leaf_hash", LargeBinary(32), nullable=False),
    Column("completed_nodes", LargeBinary, nullable=False),
)

ledger_checkpoints = Table(
    "ledger_checkpoints",
    metadata,
    # One checkpoint per tree size: a second one for the same size would only repeat it.
    Column("tree_size", BigInteger, primary_key=True, autoincrement=False),
    Column("root_hash", LargeBinary(32), nullable=False),
    Column("signed_at", DateTime(timezone=True), nullable=False),
    # The C2SP signed note, exactly as signed and published: the only column verification trusts.
    Column("note", Text, nullable=False),
)

# When the signing key was replaced: the statement both keys signed (svl_verify.parse_key_transition), one per
# tree size at which a key handed over. Verifiers grow their trust along these.
signing_key_transitions = Table(
    "signing_key_transitions",
    metadata,
    Column("tree_size", BigInteger, primary_key=True, autoincrement=False),
    Column("note", Text, nullable=False),
)
