"""The delivery scan: the courier scans the label's QR code, the gate decides, the terminal gets the
address and a call action (virtual number + extension), never the recipient's phone.

Spans waybills (the token), shipments (the parcel, its task), the gate (purpose `delivery`), virtual
numbers (the call action, the grace period) and scan events.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from parcelguard.accounts import service as accounts
from parcelguard.audit import service as audit
from parcelguard.core.auth import Actor, Role
from parcelguard.core.errors import Forbidden
from parcelguard.crypto.keyring import Keyring
from parcelguard.privacy_numbers import service as numbers
from parcelguard.shipments import progress
from parcelguard.shipments import service as shipments
from parcelguard.tracking import network, public, service
from parcelguard.tracking.service import Event
from parcelguard.waybills import service as waybills


@dataclass(frozen=True)
class DeliveryScan:
    scan_id: uuid.UUID
    event: str
    at: datetime
    shipment_id: uuid.UUID
    waybill_no: str | None
    status: str
    recipient_name_masked: str
    region: shipments.Region
    address_detail: str | None  # through the gate; None for a `delivered` scan
    call: numbers.Binding | None  # the virtual number to call; None when none is bound
    calls: list[numbers.CallOutcome]
    log_index: int | None  # the gate's log entry of the reveal


def scan(*, db_session: Session, keyring: Keyring, actor: Actor, token: str, event: Event,
         grace: timedelta, request_id: str | None = None) -> DeliveryScan:
    """A courier on a registered terminal scans a label. `delivery`: the gate reveals the address detail if
    this courier holds the parcel's delivery task; otherwise it answers as for a label of no parcel (404
    `subject_unknown`, logged by the gate with the real reason). `delivered`: the parcel is handed over;
    the courier's task closes and the virtual number's grace period starts; a parcel whose delivery this
    courier was never given answers as a label of no parcel (404 `shipment_unknown`). Either way the scan
    is recorded."""
    if actor.role != Role.COURIER or actor.carrier_id is None:
        raise Forbidden("Couriers scan labels to deliver them.", code="role_not_allowed")
    if actor.terminal_id is None:
        raise Forbidden("Scanning runs on a registered terminal: sign in with X-Terminal-Id.",
                        code="terminal_required")
    subject = waybills.label_subject(db_session=db_session, keyring=keyring, carrier_id=actor.carrier_id,
                                     token=token)
    shipment = shipments.by_label_subject(db_session=db_session, carrier_id=actor.carrier_id, subject=subject)
    detail, log_index = None, None
    if event == Event.DELIVERY:
        if shipment is None:  # the gate answers it, as it answers a parcel this courier may not see
            audit.refuse_unknown(db_session, actor, f"label:{subject}", ["recipient_address"], "delivery",
                                 keyring=keyring, request_id=request_id)
        revealed = audit.reveal(db_session, actor, f"shipment:{shipment.id}", ["recipient_address"], "delivery",
                                keyring=keyring, request_id=request_id)
        detail, log_index = shipments.address_detail(shipment, revealed.fields["recipient_address"]), revealed.log_index
        before = shipment.status
        if shipment.status not in progress.FINAL:
            progress.advance(shipment, service.STATUS_AFTER[Event.DELIVERY])
    else:
        if shipment is None:
            raise shipments.unknown_shipment()
        before = shipment.status
        shipments.mark_delivered(db_session=db_session, actor=actor, shipment_id=shipment.id)
        assert shipment.delivered_at is not None
        numbers.start_grace(db_session=db_session, carrier_id=actor.carrier_id, shipment_id=shipment.id,
                            delivered_at=shipment.delivered_at, grace=grace)
    row = service.record(db_session=db_session, actor=actor, shipment_id=shipment.id, event=event)
    if shipment.status != before:
        network.notify(db_session=db_session, actor=actor, changed=[(shipment, row.event, None, row.at)])
    return DeliveryScan(
        scan_id=row.id, event=event.value, at=row.at, shipment_id=shipment.id, waybill_no=shipment.waybill_no,
        status=shipment.status, recipient_name_masked=shipment.recipient_name_masked,
        region=shipments.Region(shipment.recipient_province, shipment.recipient_city, shipment.recipient_district),
        address_detail=detail,
        call=numbers.binding_for(db_session=db_session, carrier_id=actor.carrier_id, shipment_id=shipment.id)
        if event == Event.DELIVERY else None,
        calls=numbers.call_outcomes(db_session=db_session, carrier_id=actor.carrier_id, shipment_id=shipment.id),
        log_index=log_index,
    )



@dataclass(frozen=True)
class StaffStation:
    id: uuid.UUID
    code: str
    name: str


@dataclass(frozen=True)
class StaffShipment:
    """A shipment as staff see it: masked fields, where it goes, what is in it, what happened to it."""

    shipment: shipments.Shipment
    origin: StaffStation
    destination: StaffStation | None
    items: list[tuple[str, int]]  # category, quantity: descriptions are user information
    events: list[public.JourneyEvent]


def staff_view(*, db_session: Session, actor: Actor, shipment_id: uuid.UUID) -> StaffShipment:
    """What `GET /shipments/{id}` answers: for staff who may see the shipment (`progress.visible`); to
    anyone else it is a shipment that does not exist. Nothing here is plaintext of a personal field."""
    shipment = progress.visible(db_session=db_session, actor=actor, shipment_id=shipment_id)
    assert actor.carrier_id is not None
    audit.trip_honeytokens(db_session=db_session, carrier_id=actor.carrier_id, actor_id=actor.user_id,
                           how="staff_lookup", touched={shipment.id: None})

    def station(station_id: uuid.UUID | None) -> StaffStation | None:
        if station_id is None:
            return None
        found = accounts.get_station(db_session=db_session, carrier_id=actor.carrier_id, station_id=station_id)
        return StaffStation(id=found.id, code=found.code, name=found.name)

    origin = station(shipment.origin_station_id)
    assert origin is not None
    return StaffShipment(
        shipment=shipment, origin=origin, destination=station(shipment.destination_station_id),
        items=shipments.item_summaries(db_session=db_session, shipment_ids=[shipment.id])[shipment.id],
        events=public.journey(db_session=db_session, shipment=shipment, public=False),
    )
