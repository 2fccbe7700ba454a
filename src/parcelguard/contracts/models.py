"""Agreements with contract customers (协议客户).

An agreement names the enterprise account that ships under it, the organisation (its name and unified
social credit code: both public, on its business licence) and the person responsible for it, whose
document is handled like a sender's at intake: sealed to the regulator together with the organisation,
kept here only as a masked view and a blind index. Each parcel sent under the agreement carries this
seal in its real-name record, and a share of them (`inspection_permille`) is drawn for inspection.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, LargeBinary, String, text
from sqlalchemy.orm import Mapped, mapped_column

from parcelguard.core.clock import now
from parcelguard.core.db import Base


class Agreement(Base):
    __tablename__ = "customer_agreements"
    __table_args__ = (
        # At most one agreement in force per enterprise account.
        Index("uq_customer_agreements_active_customer", "customer_id", unique=True,
              sqlite_where=text("revoked_at IS NULL"), postgresql_where=text("revoked_at IS NULL")),
        Index(None, "carrier_id", "station_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    carrier_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("carriers.id"))
    customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))  # the enterprise account
    station_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("stations.id"))  # where its parcels are picked up
    organisation_name: Mapped[str] = mapped_column(String(200))
    uscc: Mapped[str] = mapped_column(String(18))
    uscc_index: Mapped[bytes] = mapped_column(LargeBinary(32))
    responsible_doc_type: Mapped[str] = mapped_column(String(32))
    responsible_doc_masked: Mapped[str] = mapped_column(String(40))
    responsible_name_masked: Mapped[str] = mapped_column(String(64))
    responsible_index: Mapped[bytes] = mapped_column(LargeBinary(32))
    # {organisation, responsible person's document} sealed to the regulator, bound to this agreement.
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    inspection_permille: Mapped[int]  # share of parcels drawn for inspection, in thousandths
    verified_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=now)
    revoked_at: Mapped[datetime | None]
    revoked_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
