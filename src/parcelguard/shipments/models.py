"""Shipments, their items, and their assignments to couriers.

The personal fields of a shipment are stored only as AES-GCM ciphertexts under the carrier's keys,
bound to (table, column, row): nothing but the gate (`audit.service.reveal`) turns them back into text.
What may be shown stays beside them in masked form (张*), and the recipient's province, city and
district stay in clear because sorting needs them. The sender's document is not here at all: it is
sealed for the regulator (`identity.models.RealNameRecord`).

On PostgreSQL `shipments` is partitioned by month of its UUIDv7 id (issue 17, `PARTITIONS`; migration 0023), so
the primary key is the id alone and every foreign key to it stays. A partitioned table holds no unique index that
leaves out the id, so: a waybill number is unique by how it is issued (`waybills.service.allocate`: a keyed
permutation of a counter that never repeats), a label subject by its 122 random bits, and a customer's reference by
`ShipmentReference`, whose primary key the database checks on every insert.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, LargeBinary, String, Text, false, text
from sqlalchemy.orm import Mapped, mapped_column

from parcelguard.core.clock import now
from parcelguard.core.db import Base
from parcelguard.core.ids import uuid7
from parcelguard.core.partitions import Partitioned

# Not `movable`: ten tables' foreign keys point at a shipment, so a row in the DEFAULT partition stays there.
PARTITIONS = Partitioned("shipments", "id", kind="uuid7", movable=False)


class Shipment(Base):
    __tablename__ = "shipments"
    __table_args__ = (
        Index(None, "carrier_id", "origin_station_id"),
        Index(None, "carrier_id", "destination_station_id"),
        Index(None, "carrier_id", "customer_id"),
        Index(None, "carrier_id", "waybill_no"),  # unique by issue (`waybills.service.allocate`)
        Index(None, "carrier_id", "created_at"),  # retention deletes a carrier's parcels by the month taken in
        # An enterprise's own id for the parcel (its order number): a repeat of the same one answers the parcel
        # taken in before, so a retry after a lost answer never sends a second parcel. Unique by
        # `ShipmentReference` (a trigger fills it); this index finds them.
        Index("ix_shipments_customer_reference", "carrier_id", "customer_id", "customer_reference",
              sqlite_where=text("customer_reference IS NOT NULL"),
              postgresql_where=text("customer_reference IS NOT NULL")),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)  # its month is its partition
    carrier_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("carriers.id"))
    # Prefix + 12 digits + check digit (`waybills.numbers`); None only for shipments made before intake.
    waybill_no: Mapped[str | None] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(16), default="accepted", server_default=text("'accepted'"))
    # walk_in: verified per parcel; contract: a 协议客户 verified once in its agreement
    sender_kind: Mapped[str] = mapped_column(String(16), default="walk_in", server_default=text("'walk_in'"))
    taken_in_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    # The courier opened and checked the parcel (开箱验视); restricted items need it.
    inspected: Mapped[bool] = mapped_column(default=False, server_default=false())
    inspected_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    inspected_at: Mapped[datetime | None]
    # A contract customer's parcel drawn for inspection at pickup, and why: `random` (the agreement's
    # share) or `restricted` (an item the catalogue restricts); None when no draw applies.
    inspection_draw: Mapped[str | None] = mapped_column(String(16))
    # The agreement (协议客户) a contract parcel was sent under: it verified the sender once.
    agreement_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("customer_agreements.id"))
    sender_name_masked: Mapped[str] = mapped_column(String(64), server_default=text("''"))
    recipient_name_masked: Mapped[str] = mapped_column(String(64), server_default=text("''"))
    # The last four digits of the recipient's phone: a masked view, for a label whose policy shows them and
    # for the public lookup's check (DESIGN: tracking). Never more digits than these four.
    recipient_phone_tail: Mapped[str] = mapped_column(String(4), server_default=text("''"))
    recipient_province: Mapped[str] = mapped_column(String(32), server_default=text("''"))
    recipient_city: Mapped[str] = mapped_column(String(32), server_default=text("''"))
    recipient_district: Mapped[str] = mapped_column(String(32), server_default=text("''"))
    origin_station_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("stations.id"))
    destination_station_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("stations.id"))
    # The enterprise account that shipped it, when one did, and its own id for the parcel (`IntakeIn.reference`).
    customer_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    customer_reference: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=now)
    delivered_at: Mapped[datetime | None]
    # The opaque subject of the signed token in the label's QR code (`crypto.tokens`, kind `label`):
    # random, so the token carries neither the waybill number nor this row's id.
    label_subject: Mapped[uuid.UUID | None] = mapped_column(index=True)

    sender_name: Mapped[bytes] = mapped_column(LargeBinary)
    sender_phone: Mapped[bytes] = mapped_column(LargeBinary)
    sender_address: Mapped[bytes] = mapped_column(LargeBinary)
    recipient_name: Mapped[bytes] = mapped_column(LargeBinary)
    recipient_phone: Mapped[bytes] = mapped_column(LargeBinary)
    recipient_address: Mapped[bytes] = mapped_column(LargeBinary)


class Assignment(Base):
    """A task given to a courier: pick a shipment up, or deliver it. Open until `closed_at`."""

    __tablename__ = "shipment_assignments"
    __table_args__ = (
        Index(None, "carrier_id", "courier_id", "opened_at"),
        Index(None, "shipment_id", "courier_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    carrier_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("carriers.id"))
    shipment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("shipments.id"))
    courier_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    task: Mapped[str] = mapped_column(String(16))
    opened_at: Mapped[datetime] = mapped_column(default=now)
    closed_at: Mapped[datetime | None]


class ShipmentItem(Base):
    """What is inside. The description is user information too (2014 rules), so it is encrypted; the
    category stays in clear for the prohibited-items rules and statistics."""

    __tablename__ = "shipment_items"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    shipment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("shipments.id"), index=True)
    category: Mapped[str] = mapped_column(String(32))
    description: Mapped[bytes] = mapped_column(LargeBinary)
    quantity: Mapped[int]
    declared_value_cents: Mapped[int] = mapped_column(BigInteger, default=0)


class InspectionPhoto(Base):
    """A photo taken at the inspection (开箱验视): it may show what is inside and whose it is, so the
    image is stored only encrypted under the carrier's keys, bound to its row."""

    __tablename__ = "inspection_photos"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    carrier_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("carriers.id"))
    shipment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("shipments.id"), index=True)
    content_type: Mapped[str] = mapped_column(String(32))  # as sniffed from the bytes, not as declared
    size: Mapped[int]
    image: Mapped[bytes] = mapped_column(LargeBinary)  # encrypted
    taken_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=now)


class CatalogueVersion(Base):
    """A carrier's prohibited and restricted items catalogue, as an admin last saved it: every save is a
    new version, so what intake checked a parcel against can be found again. `data` is the catalogue
    as JSON (the shape of `data/prohibited.toml`); None means the catalogue shipped with parcelguard."""

    __tablename__ = "catalogue_versions"

    carrier_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("carriers.id"), primary_key=True)
    version: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    data: Mapped[str | None] = mapped_column(Text)
    saved_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    saved_at: Mapped[datetime] = mapped_column(default=now)


class Honeytoken(Base):
    """A decoy shipment an admin planted (`honeytokens`; 0015): only this table says it is one, and no
    listing joins it."""

    __tablename__ = "honeytokens"

    shipment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("shipments.id"), primary_key=True)
    carrier_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("carriers.id"), index=True)
    planted_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    planted_at: Mapped[datetime] = mapped_column(default=now)


class ShipmentReference(Base):
    """A contract customer's reference, once per carrier and customer (issue 16): the database's guarantee that two
    concurrent intakes under one reference store one parcel (the second fails on this primary key). A trigger made
    by migration 0023 writes the row in the same statement as the shipment's, on both engines; retention deletes it
    with the parcel."""

    __tablename__ = "shipment_references"

    carrier_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    customer_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(64), primary_key=True)
    shipment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("shipments.id"), index=True)
