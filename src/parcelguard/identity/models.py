"""Real-name records: what the carrier keeps of a sender's identity document.

The record itself (`{doc_type, doc_number, name}`) is sealed to the regulator's X25519 key at intake;
the carrier cannot open it (promise 2) and deletes the sealed copy once the regulator's signed
receipt names it. What stays is the masked view (张*, 1101**********002X) and a keyed blind index for
matching (the same document used again, a courier's own document).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from parcelguard.core.clock import now
from parcelguard.core.db import Base


class RealNameRecord(Base):
    __tablename__ = "realname_records"
    __table_args__ = (Index(None, "carrier_id", "blind_index", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    carrier_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("carriers.id"))
    shipment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("shipments.id"), unique=True)
    doc_type: Mapped[str] = mapped_column(String(32))
    doc_masked: Mapped[str] = mapped_column(String(40))
    name_masked: Mapped[str] = mapped_column(String(64))
    blind_index: Mapped[bytes] = mapped_column(LargeBinary(32))
    sealed: Mapped[bytes | None] = mapped_column(LargeBinary)  # gone once the regulator's receipt names it
    # The associated data the seal is bound to: the record's own, or the sender registration's whose
    # sealed document it carries (a real-name QR intake).
    seal_context: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=now)
    receipt_at: Mapped[datetime | None]


class SenderRegistration(Base):
    """A sender who registered once (real-name QR, like the public 安易递 app). The document is sealed
    to the regulator here as for a parcel; name and phone are encrypted under the carrier's keys and
    move to each shipment unread (`Keyring.rebind`). The QR carries a signed token naming this row."""

    __tablename__ = "realname_registrations"
    __table_args__ = (Index(None, "carrier_id", "blind_index"), Index(None, "carrier_id", "created_at"))

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    carrier_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("carriers.id"))
    doc_type: Mapped[str] = mapped_column(String(32))
    doc_masked: Mapped[str] = mapped_column(String(40))
    name_masked: Mapped[str] = mapped_column(String(64))
    blind_index: Mapped[bytes] = mapped_column(LargeBinary(32))
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    name: Mapped[bytes] = mapped_column(LargeBinary)  # encrypted
    phone: Mapped[bytes] = mapped_column(LargeBinary)  # encrypted
    # HMAC of the phone (E.164) bound to this row (identity/otp.py): another code goes only to the phone
    # registered, which the sender gives again; the number is never decrypted to send it.
    phone_mac: Mapped[bytes | None] = mapped_column(LargeBinary(32))
    # SHA-256 of the sender's refresh secret, made when the phone is proved; until then the registration
    # is unusable (no token, no refresh, no intake) and answers as an unknown one.
    refresh_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32))
    created_at: Mapped[datetime] = mapped_column(default=now)
    verified_at: Mapped[datetime | None]  # when the sender gave the code sent to the phone (identity/otp.py)


class RegistrationCode(Base):
    """A one-time code sent by SMS to prove a registration's phone (短信验证码): only its HMAC is kept. The
    newest row of a registration is its code; older rows, kept for an hour, count its sends."""

    __tablename__ = "realname_codes"
    __table_args__ = (Index(None, "registration_id", "sent_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    registration_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("realname_registrations.id"))
    code_mac: Mapped[bytes] = mapped_column(LargeBinary(32))
    sent_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    failures: Mapped[int] = mapped_column(default=0)


class StaffDocument(Base):
    """A staff member's own identity document, as a blind index only: an intake whose sender matches
    the courier taking it in is the cheat the rules were written against (`courier_own_id`)."""

    __tablename__ = "staff_documents"
    __table_args__ = (Index(None, "carrier_id", "blind_index"),)

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), primary_key=True)
    carrier_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("carriers.id"))
    blind_index: Mapped[bytes] = mapped_column(LargeBinary(32))
    registered_at: Mapped[datetime] = mapped_column(default=now)
    # The industry blacklist's keyed hash of the document (its shared key, not the carrier's; 0013), so the
    # carrier can report or look the person up without keeping the number.
    industry_index: Mapped[bytes | None] = mapped_column(LargeBinary(32))
