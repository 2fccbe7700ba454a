"""The audit log's tables: entries, the hashes of its perfect subtrees, and signed tree heads.

One Merkle tree per carrier. `audit_logs` holds its size; appending reserves indices by updating that
row, which also serialises appenders of one carrier on both engines.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from parcelguard.core.clock import now
from parcelguard.core.db import Base


class AuditLog(Base):
    __tablename__ = "audit_logs"

    carrier_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("carriers.id"), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger, default=0)


class AuditEntry(Base):
    """One logged decision. `entry` (canonical JSON) is what the tree hashes; the other columns are
    copies for searching and are never trusted by verification."""

    __tablename__ = "audit_entries"
    __table_args__ = (
        Index(None, "carrier_id", "actor_id"),
        Index(None, "carrier_id", "subject"),
        Index(None, "carrier_id", "logged_at"),
    )

    carrier_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("carriers.id"), primary_key=True)
    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    logged_at: Mapped[datetime] = mapped_column(default=now)
    actor_id: Mapped[uuid.UUID | None]
    subject: Mapped[str] = mapped_column(String(200))
    purpose: Mapped[str] = mapped_column(String(64))
    decision: Mapped[str] = mapped_column(String(16))
    entry: Mapped[bytes] = mapped_column(LargeBinary)


class AuditNode(Base):
    """The hash of a perfect subtree: leaves [idx * 2^level, (idx + 1) * 2^level). Level 0: leaf hashes."""

    __tablename__ = "audit_nodes"

    carrier_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("carriers.id"), primary_key=True)
    level: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class TreeHead(Base):
    """A signed tree head: the carrier's Ed25519 signature over {tree_size, root_hash, timestamp}."""

    __tablename__ = "audit_tree_heads"
    __table_args__ = (Index(None, "carrier_id", "tree_size"),)

    # BIGINT on PostgreSQL; SQLite numbers rows only for a column declared INTEGER.
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                    autoincrement=True)
    carrier_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("carriers.id"))
    tree_size: Mapped[int] = mapped_column(BigInteger)
    root_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    timestamp_ms: Mapped[int] = mapped_column(BigInteger)
    signature: Mapped[bytes] = mapped_column(LargeBinary(64))
    key_id: Mapped[int] = mapped_column(BigInteger)
