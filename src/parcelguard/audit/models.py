"""The audit domain's tables.

The log: entries, the hashes of its perfect subtrees, and signed tree heads. One Merkle tree per
carrier; `audit_logs` holds its size, and appending reserves indices by updating that row, which also
serialises appenders of one carrier on both engines.

The gate: reveal policies and rate ceilings (data, not code), per-actor reveal counters, the
investigation cases that unlock HQ security's reveals, and alerts.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from parcelguard.core.clock import now
from parcelguard.core.db import Base
from parcelguard.core.partitions import Partitioned

PARTITIONS = Partitioned("audit_entries", "logged_at")


class AuditLog(Base):
    __tablename__ = "audit_logs"

    carrier_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("carriers.id"), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    # The keyed record of the signed heads (audit.head_chain): how many, and the last head's `chain`.
    heads: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    heads_mac: Mapped[bytes | None] = mapped_column(LargeBinary(32))


class AuditEntry(Base):
    """One logged decision. `entry` (canonical JSON) is what the tree hashes; the other columns are
    copies for searching: `parcelguard audit verify` checks each against the entry, and a search
    re-checks every entry it returns (`log.find_entries`).

    On PostgreSQL partitioned by UTC month of `logged_at` (issue 17, `PARTITIONS`; migration 0023), for size and
    for detection's time windows; never dropped (the log is kept whole). The primary key holds `logged_at` because
    a partitioned table's must. (carrier, idx) stays unique: appending reserves indices by updating the carrier's
    `audit_logs` row, which serialises appenders (`log.append`), and the database refuses a second entry at an
    index through the entry's leaf, `AuditNode` (carrier, level 0, idx), written in the same transaction."""

    __tablename__ = "audit_entries"
    __table_args__ = (
        Index(None, "carrier_id", "actor_id"),
        Index(None, "carrier_id", "subject"),
        Index(None, "carrier_id", "logged_at"),
    )

    carrier_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("carriers.id"), primary_key=True)
    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    logged_at: Mapped[datetime] = mapped_column(primary_key=True, default=now)
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
    chain: Mapped[bytes | None] = mapped_column(LargeBinary(32))  # audit.head_chain: HMAC over the heads so far


# -- the gate -------------------------------------------------------------------------------------

class RevealPolicy(Base):
    """One grant: `role` may reveal `fields` for `purpose` on subjects within `scope`.

    Rows with no carrier are the platform's defaults (seeded by a migration); a carrier that has rows
    of its own uses those instead (its admin replaces the whole set). No row, no reveal.
    Scopes: `assigned` (an assignment of the task named by the purpose, open or closed less than
    `grace_seconds` ago), `station` (the actor's station is the shipment's origin or destination),
    `carrier` (any shipment of the actor's carrier), `own_customer` (the actor shipped it).
    """

    __tablename__ = "reveal_policies"
    __table_args__ = (UniqueConstraint("carrier_id", "role", "purpose"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    carrier_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("carriers.id"))
    role: Mapped[str] = mapped_column(String(32))
    purpose: Mapped[str] = mapped_column(String(64))
    scope: Mapped[str] = mapped_column(String(32))
    fields: Mapped[list[str]] = mapped_column(JSON)
    requires_case: Mapped[bool] = mapped_column(default=False)
    grace_seconds: Mapped[int] = mapped_column(default=0)


class RevealLimit(Base):
    """A role's ceiling on reveals per period: `base + per_assignment * tasks open in the period`."""

    __tablename__ = "reveal_limits"
    __table_args__ = (UniqueConstraint("carrier_id", "role", "period"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    carrier_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("carriers.id"))
    role: Mapped[str] = mapped_column(String(32))
    period: Mapped[str] = mapped_column(String(8))  # hour | day
    base: Mapped[int]
    per_assignment: Mapped[int] = mapped_column(default=0)


class RevealCounter(Base):
    """How many reveals an actor was granted in one period (an hour or a day, UTC)."""

    __tablename__ = "reveal_counters"

    actor_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), primary_key=True)
    period: Mapped[str] = mapped_column(String(8), primary_key=True)
    period_start: Mapped[datetime] = mapped_column(primary_key=True)
    carrier_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("carriers.id"), index=True)
    count: Mapped[int] = mapped_column(default=0)


class Case(Base):
    """An investigation HQ security opened; its reveals name it, and it stops unlocking when closed."""

    __tablename__ = "investigation_cases"
    __table_args__ = (UniqueConstraint("carrier_id", "reference"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    carrier_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("carriers.id"))
    reference: Mapped[str] = mapped_column(String(64))
    summary: Mapped[str] = mapped_column(String(500))
    opened_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    opened_at: Mapped[datetime] = mapped_column(default=now)
    closed_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    closed_at: Mapped[datetime | None]


class Alert(Base):
    """Something HQ security must look at. `dedupe_key` makes one alert per cause and period."""

    __tablename__ = "alerts"
    __table_args__ = (UniqueConstraint("carrier_id", "dedupe_key"), Index(None, "carrier_id", "raised_at"))

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    carrier_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("carriers.id"))
    kind: Mapped[str] = mapped_column(String(64))
    dedupe_key: Mapped[str] = mapped_column(String(200))
    actor_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    raised_at: Mapped[datetime] = mapped_column(default=now)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)  # never personal data
    audit_index: Mapped[int | None] = mapped_column(BigInteger)
    acknowledged_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    acknowledged_at: Mapped[datetime | None]
