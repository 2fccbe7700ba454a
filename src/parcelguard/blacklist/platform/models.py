"""The blacklist's tables, on a declarative base of their own: its database holds only these.

Nothing here holds a document number, a name, or even the carriers' keyed hash of a document (`person` on the
wire): an entry keeps `person_index`, HMAC-SHA256 of that hash under a key derived from the platform's root
key, and the query log keeps a digest under another derived key (`keys.BlacklistKeys`).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, LargeBinary, MetaData, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from parcelguard.core.db import NAMING_CONVENTION, UTCDateTime

LISTED, REMOVED = "listed", "removed"  # an entry's status
OPEN, UPHELD = "open", "upheld"  # an appeal's status: open, then upheld or removed (the entry with it)


class BlacklistBase(DeclarativeBase):
    """The blacklist's own metadata (never the carrier's `core.db.Base`): its migrations see only these."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime()}  # noqa: RUF012  (SQLAlchemy reads it from the class)


class RegisteredCarrier(BlacklistBase):
    """A carrier that may report and query: `id` is the carrier's own UUID, `code` how its requests name it."""

    __tablename__ = "carriers"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    registered_at: Mapped[datetime]


class CarrierKey(BlacklistBase):
    """A carrier's Ed25519 key for signing reports and queries; several per carrier (rotation). A revoked key
    verifies nothing from then on; the entries it signed stay, and still verify against it on audit."""

    __tablename__ = "carrier_keys"

    carrier_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("carriers.id"), primary_key=True)
    key_id: Mapped[str] = mapped_column(String(16), primary_key=True)  # `crypto.signing.key_id(public_key)`
    public_key: Mapped[bytes] = mapped_column(LargeBinary(32))
    added_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    revoke_reason: Mapped[str | None] = mapped_column(String(200))


class Entry(BlacklistBase):
    """A person reported by a carrier, as the carrier signed it (`signature` over the report's wire body, whose
    `person` is recomputed from the person's document by any carrier): attributable on audit, and never a
    document number. Removed on appeal, never deleted: `status` says which, the appeal says why."""

    __tablename__ = "entries"
    __table_args__ = (Index(None, "person_index", "status"),)

    entry_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)  # the reporting carrier's id for it
    carrier_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("carriers.id"), index=True)
    key_id: Mapped[str] = mapped_column(String(16))
    person_index: Mapped[bytes] = mapped_column(LargeBinary(32))
    reason_code: Mapped[str] = mapped_column(String(32))
    evidence_ref: Mapped[str] = mapped_column(String(64))
    reported_at: Mapped[datetime]
    received_at: Mapped[datetime]
    signature: Mapped[bytes] = mapped_column(LargeBinary(64))
    status: Mapped[str] = mapped_column(String(8))  # listed | removed
    removed_at: Mapped[datetime | None]
    removed_by_appeal: Mapped[uuid.UUID | None]  # the appeal decided `removed` (no foreign key: appeals name entries)


class Appeal(BlacklistBase):
    """A listed person's appeal against an entry, opened through a carrier or the platform's operator and
    decided by the operator: `upheld` (the entry stays) or `removed` (the entry is marked removed). Kept."""

    __tablename__ = "appeals"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    entry_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("entries.entry_id"), index=True)
    opened_at: Mapped[datetime]
    via_carrier_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("carriers.id"))  # None: the operator
    grounds: Mapped[str] = mapped_column(String(500))  # what the appeal says, no personal data
    status: Mapped[str] = mapped_column(String(8))  # open | upheld | removed
    decided_at: Mapped[datetime | None]
    decision_reason: Mapped[str | None] = mapped_column(String(500))


class QueryLogEntry(BlacklistBase):
    """One query a carrier made, written before it is answered; no carrier is ever shown another's. The digest
    is keyed by the asking carrier too (`keys.BlacklistKeys.query_digest`): the log does not link one person's
    queries across carriers (where they applied), yet with the person's `person` the operator can still tell
    whether a carrier asked about them."""

    __tablename__ = "query_log"
    __table_args__ = (Index(None, "carrier_id", "at"),)

    carrier_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("carriers.id"), primary_key=True)
    query_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)  # a query sent twice is refused the second time
    key_id: Mapped[str] = mapped_column(String(16))
    sent_at: Mapped[datetime]
    at: Mapped[datetime]
    person_digest: Mapped[bytes] = mapped_column(LargeBinary(32))
    listed: Mapped[bool]
