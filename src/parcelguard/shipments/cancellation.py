"""A contract customer cancels a parcel it sent that no courier has touched yet (撤单): not picked up, not
inspected, no scan. The parcel's status becomes `cancelled`, its open tasks close, and its virtual number stops
routing at once. The parcel's records stay (its real-name record was the regulator's from the intake). No HTTP.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from parcelguard.core.auth import Actor, Role
from parcelguard.core.clock import now
from parcelguard.core.errors import Conflict, Forbidden
from parcelguard.privacy_numbers import service as privacy_numbers
from parcelguard.shipments import service
from parcelguard.shipments.models import Assignment, Shipment
from parcelguard.tracking import service as tracking

CANCELLED = "cancelled"


def cancel(*, db_session: Session, actor: Actor, shipment_id: uuid.UUID) -> Shipment:
    """Cancel the enterprise's own parcel; 404 `shipment_unknown` for another's (as for none), 409
    `shipment_not_cancellable` once a courier has it (or it is cancelled already: 409 `already_cancelled`)."""
    if actor.role != Role.ENTERPRISE or actor.carrier_id is None:
        raise Forbidden("Only the contract customer that sent a parcel cancels it.", code="role_not_allowed")
    shipment = service.get(db_session=db_session, carrier_id=actor.carrier_id, shipment_id=shipment_id)
    if shipment.customer_id != actor.user_id:
        raise service.unknown_shipment()
    db_session.refresh(shipment, with_for_update=True)
    if shipment.status == CANCELLED:
        raise Conflict("This parcel is cancelled already.", code="already_cancelled")
    picked = db_session.scalar(select(Assignment.id).where(
        Assignment.shipment_id == shipment.id, Assignment.task == service.Task.PICKUP.value,
        Assignment.closed_at.is_not(None)).limit(1))
    if shipment.status != "accepted" or shipment.inspected_at is not None or picked is not None \
            or tracking.events_of(db_session=db_session, shipment_id=shipment.id):
        raise Conflict("A courier has this parcel already: it can no longer be cancelled.",
                       code="shipment_not_cancellable")
    moment = now()
    shipment.status = CANCELLED
    db_session.execute(update(Assignment).where(Assignment.shipment_id == shipment.id, Assignment.closed_at.is_(None))
                       .values(closed_at=moment))
    privacy_numbers.start_grace(db_session=db_session, carrier_id=actor.carrier_id, shipment_id=shipment.id,
                                delivered_at=moment, grace=timedelta(0))
    db_session.flush()
    return shipment
