"""Key tables. Every key here is stored wrapped (AES-256-GCM) under a key above it; the root key
itself never touches the database. `carrier_id` names the key's owner (no foreign key: crypto/
stands apart from the domains and also serves the regulator's own database)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from parcelguard.core.clock import now
from parcelguard.core.db import Base


class KeyEncryptionKey(Base):
    """A carrier's key-encryption key, one row per version, wrapped by the root key.

    state: `primary` (wraps new data keys; one per carrier), `active` (unwraps only),
    `disabled`, `destroyed`.
    """

    __tablename__ = "crypto_keks"
    __table_args__ = (UniqueConstraint("carrier_id", "version"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    carrier_id: Mapped[uuid.UUID] = mapped_column(index=True)
    version: Mapped[int]
    state: Mapped[str] = mapped_column(String(16))
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=now)


class DataKey(Base):
    """A data key: encrypts field values of one data class in one period; wrapped by a KEK.

    Its id is the key id in every ciphertext header, so `rewrap` changes only this row. Destroying
    it (crypto-shredding) makes every value under it unreadable.
    """

    __tablename__ = "crypto_data_keys"
    __table_args__ = (Index(None, "carrier_id", "data_class", "period"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    carrier_id: Mapped[uuid.UUID]
    kek_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("crypto_keks.id"), index=True)
    data_class: Mapped[str] = mapped_column(String(64))
    period: Mapped[str] = mapped_column(String(16))
    wrapped_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=now)
    destroyed_at: Mapped[datetime | None]
    # The shredding key of its class and month that takes part in wrapping it (`crypto.keystore`); None for a
    # data key made before migration 0017, wrapped by its KEK alone.
    shred_key_id: Mapped[int | None] = mapped_column(BigInteger)


class IndexKey(Base):
    """A carrier's blind-index root key, wrapped by the root key. Per-field keys derive from it.

    It does not rotate with the KEKs: a new index key would need every blind index recomputed.
    """

    __tablename__ = "crypto_index_keys"
    __table_args__ = (UniqueConstraint("carrier_id", "version"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    carrier_id: Mapped[uuid.UUID]
    version: Mapped[int]
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=now)


class SigningKey(Base):
    """An Ed25519 key pair for one purpose (tree heads, receipts, tokens); private half wrapped."""

    __tablename__ = "crypto_signing_keys"
    __table_args__ = (UniqueConstraint("carrier_id", "purpose", "version"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    carrier_id: Mapped[uuid.UUID]
    purpose: Mapped[str] = mapped_column(String(32))
    version: Mapped[int]
    state: Mapped[str] = mapped_column(String(16))
    public_key: Mapped[bytes] = mapped_column(LargeBinary(32))
    wrapped_private_key: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=now)


class ShredKey(Base):
    """A shredding key, one per (carrier, data class, UTC month), when the key store is the database itself
    (`crypto.keystore.InDatabase`). It takes part in wrapping each data key of its class and month, so deleting
    it destroys them all (crypto-shredding). Wrapped by the root key. A key store of its own
    (`crypto.keystore.Separate`) keeps the same rows in another database, out of this one's backups."""

    __tablename__ = "crypto_shred_keys"
    # Not unique: two transactions may each make one for a new month; shredding the month destroys all of them.
    __table_args__ = (Index(None, "carrier_id", "data_class", "period"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    carrier_id: Mapped[uuid.UUID]
    data_class: Mapped[str] = mapped_column(String(64))
    period: Mapped[str] = mapped_column(String(16))
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=now)
