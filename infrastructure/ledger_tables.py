"""The integrity ledger's own tables: one leaf per stored event, and every complete subtree hash.

Node (level L, index i) is the hash of the complete, aligned subtree over leaves [i*2^L, (i+1)*2^L);
level 0 lives in `ledger_leaves`. With these, any RFC 9162 proof needs O(log n) reads.
"""

from sqlalchemy import BigInteger, Column, LargeBinary, SmallInteger, Table

from infrastructure.database import metadata

ledger_leaves = Table(
    "ledger_leaves",
    metadata,
    Column("leaf_index", BigInteger, primary_key=True, autoincrement=False),
    Column("notification_id", BigInteger, nullable=False, unique=True),
    Column("leaf_hash", LargeBinary(32), nullable=False),
)

ledger_nodes = Table(
    "ledger_nodes",
    metadata,
    Column("level", SmallInteger, primary_key=True, autoincrement=False),
    Column("node_index", BigInteger, primary_key=True, autoincrement=False),
    Column("hash", LargeBinary(32), nullable=False),
)
