"""A shipment's way through the network: its status as scans move it on, who among the staff may see it,
and finding many by waybill number at once (a hub sorter's batch). Knows nothing of HTTP; reads no
personal field.

Statuses: accepted (taken in) → in_transit (scanned at a hub or station) → out_for_delivery →
delivered; delivery_failed after an attempt that did not hand it over; exception when something went
wrong; refused when the inspection at pickup refused it. `delivered` and `refused` are final.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from parcelguard.core.auth import Actor, Role
from parcelguard.core.errors import Conflict
from parcelguard.shipments.models import Assignment, Shipment
from parcelguard.shipments.service import Task, get, unknown_shipment

STATUSES = ("accepted", "in_transit", "out_for_delivery", "delivery_failed", "delivered", "exception", "refused")
FINAL = frozenset({"delivered", "refused"})
# Roles that see a shipment's masked record and its events, and how far: the whole carrier, their own
# station's parcels (sent from or to it), the parcels they hold a task for, or their own shipments.
CARRIER_WIDE = frozenset({Role.ADMIN, Role.HQ_SECURITY, Role.AUDITOR})


def closed() -> Conflict:
    return Conflict("This parcel's journey is over (delivered, or refused at pickup): it takes no more scans.",
                    code="shipment_closed")


def advance(shipment: Shipment, status: str) -> None:
    """Move the shipment to `status` (a scan's consequence); a final status takes no more."""
    if shipment.status in FINAL:
        raise closed()
    shipment.status = status


def holds_task(*, db_session: Session, actor: Actor, shipment_id: uuid.UUID, task: Task | None = None,
               open_only: bool = True) -> bool:
    """Whether this courier holds (or, with `open_only=False`, ever held) a task on the shipment."""
    query = select(Assignment.id).where(Assignment.carrier_id == actor.carrier_id,
                                        Assignment.shipment_id == shipment_id,
                                        Assignment.courier_id == actor.user_id)
    if task is not None:
        query = query.where(Assignment.task == task.value)
    if open_only:
        query = query.where(Assignment.closed_at.is_(None))
    return db_session.scalar(query.limit(1)) is not None


def visible(*, db_session: Session, actor: Actor, shipment_id: uuid.UUID) -> Shipment:
    """The shipment, if this staff member may see its masked record: carrier-wide roles any of their
    carrier's; a station manager or sorter their station's; a courier one they hold or held a task for; an
    enterprise shipper its own. Anything else is answered as a shipment that does not exist."""
    if actor.carrier_id is None:
        raise unknown_shipment()
    shipment = get(db_session=db_session, carrier_id=actor.carrier_id, shipment_id=shipment_id)
    if actor.role in CARRIER_WIDE:
        return shipment
    if actor.role in (Role.STATION_MANAGER, Role.SORTER):
        allowed = actor.station_id in (shipment.origin_station_id, shipment.destination_station_id)
    elif actor.role == Role.COURIER:
        allowed = holds_task(db_session=db_session, actor=actor, shipment_id=shipment.id, open_only=False)
    elif actor.role == Role.ENTERPRISE:
        allowed = shipment.customer_id == actor.user_id
    else:
        allowed = False
    if not allowed:
        raise unknown_shipment()
    return shipment


def by_waybills(*, db_session: Session, carrier_id: uuid.UUID, numbers: Sequence[str]) -> dict[str, Shipment]:
    """The carrier's shipments among these (already checked) waybill numbers, by number."""
    found: dict[str, Shipment] = {}
    unique = list(dict.fromkeys(numbers))
    for start in range(0, len(unique), 500):
        rows = db_session.scalars(select(Shipment).where(Shipment.carrier_id == carrier_id,
                                                         Shipment.waybill_no.in_(unique[start:start + 500])))
        found.update((row.waybill_no, row) for row in rows if row.waybill_no is not None)
    return found
