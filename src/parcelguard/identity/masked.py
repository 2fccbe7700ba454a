"""The masked sender of parcels already taken in (document type and masked number), as their real-name records
keep them: what an answer about an existing parcel shows, never more."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from parcelguard.identity.models import RealNameRecord


def masked_senders(*, db_session: Session, carrier_id: uuid.UUID, shipment_ids: Sequence[uuid.UUID]
                   ) -> dict[uuid.UUID, tuple[str, str]]:
    """`{shipment id: (document type, masked document)}` for those with a real-name record."""
    if not shipment_ids:
        return {}
    rows = db_session.execute(select(RealNameRecord.shipment_id, RealNameRecord.doc_type, RealNameRecord.doc_masked)
                              .where(RealNameRecord.carrier_id == carrier_id,
                                     RealNameRecord.shipment_id.in_(list(shipment_ids))))
    return {shipment_id: (doc_type, doc_masked) for shipment_id, doc_type, doc_masked in rows}
