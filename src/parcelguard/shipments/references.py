"""A contract customer's own ids for its parcels (`IntakeIn.reference`, its order numbers): a parcel sent again
with a reference the customer used before is answered with the parcel taken in then, so a retry after a lost
answer never sends a second parcel. The database's unique index (carrier, customer, reference) is the guarantee;
this module finds the ones taken before so a batch can answer them. No HTTP."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from parcelguard.identity.masked import masked_senders
from parcelguard.shipments.models import Shipment


@dataclass(frozen=True)
class Earlier:
    """A parcel taken in before under a reference, as an intake's answer shows it (masked only)."""

    shipment: Shipment
    doc_type: str
    doc_masked: str


def earlier(*, db_session: Session, carrier_id: uuid.UUID, customer_id: uuid.UUID, references: Sequence[str]
            ) -> dict[str, Earlier]:
    """`{reference: the parcel taken in under it}` for those the customer used before."""
    if not references:
        return {}
    found = list(db_session.scalars(select(Shipment).where(
        Shipment.carrier_id == carrier_id, Shipment.customer_id == customer_id,
        Shipment.customer_reference.in_(list(set(references))))))
    senders = masked_senders(db_session=db_session, carrier_id=carrier_id, shipment_ids=[s.id for s in found])
    return {s.customer_reference: Earlier(s, *senders.get(s.id, ("", ""))) for s in found
            if s.customer_reference is not None}
