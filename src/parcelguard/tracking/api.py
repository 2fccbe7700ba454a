"""Routes for scans, the staff's view of a shipment and the public tracking lookup. Thin: parse, call,
shape."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from parcelguard.core.auth import Actor, CurrentActor, Role, require
from parcelguard.core.db import SessionDep
from parcelguard.core.errors import DomainError, Invalid
from parcelguard.core.ratelimit import Rule, client_address, limiter_of, per_address, rate_limit
from parcelguard.shipments.schemas import ItemProblemOut
from parcelguard.tracking import flows, network, public, service
from parcelguard.tracking.schemas import (
    CallActionOut,
    CallOutcomeOut,
    ItemSummaryOut,
    JourneyEventOut,
    PublicRecipientOut,
    ScanBatchIn,
    ScanBatchOut,
    ScanIn,
    ScanOut,
    ScanRecipientOut,
    ScanResultOut,
    ShipmentOut,
    StaffEventOut,
    StaffRecipientOut,
    StationOut,
    TrackOut,
)
from parcelguard.tracking.service import BY_LABEL_ONLY, Event

router = APIRouter(tags=["delivery"])

Scanner = Annotated[Actor, require(Role.COURIER, Role.SORTER, Role.STATION_MANAGER)]
# Counted before the lookup's session begins (core/ratelimit): a refused request reads nothing.
TRACK_LIMITS = rate_limit(Rule("track/address", "rate_limit_track_per_address", per_address),
                          Rule("track/address-hour", "rate_limit_track_per_address_hourly", per_address))


@router.post("/scans", response_model=ScanOut, status_code=201,
             summary="Record a scan: deliver by the label's QR code, or a parcel's way through the network")
def scan(body: ScanIn, actor: Scanner, request: Request, db_session: SessionDep) -> ScanOut:
    """`delivery` and `delivered` (couriers, by the label's QR code): a courier on a registered terminal
    scans the label. The token's signature and expiry are checked (422 with the token's reason code:
    `token_expired`, `token_signature`, ...). For `delivery`, the courier who holds the parcel's delivery
    task gets the address detail (the gate logs it, purpose `delivery`) and the call action; for anyone
    else the label is answered as one of no parcel (404 `subject_unknown`), and the attempt is logged with
    its real reason. `delivered` closes the task and starts the virtual number's grace period (404
    `shipment_unknown` for a parcel whose delivery the courier was never given).

    The network's scans, by QR code or waybill number: `arrived`, `departed` and `exception` (with a
    reason) by any courier, sorter or station manager of the carrier; `out_for_delivery` and `attempted`
    (with a reason) by the courier who holds the delivery, to whom any other parcel is unknown (404). A
    delivered parcel takes no more scans (409 `shipment_closed`). None of them reveals anything."""
    keyring = request.app.state.keyring
    if body.event not in BY_LABEL_ONLY:
        done = network.record(db_session=db_session, keyring=keyring, actor=actor, wanted=network.Wanted(
            event=body.event, token=body.token, waybill_no=body.waybill_no, reason=body.reason, at=body.at))
        return _recorded(done)
    if body.token is None or body.waybill_no is not None or body.reason is not None or body.at is not None:
        raise Invalid("`delivery` and `delivered` go by the label's QR code alone: send `token` and no "
                      "`waybill_no`, `reason` or `at`.", code="token_required", field="/token")
    settings = request.app.state.settings
    assert body.token is not None
    done_scan = flows.scan(db_session=db_session, keyring=keyring, actor=actor, token=body.token,
                           event=body.event, grace=timedelta(hours=settings.binding_grace_hours),
                           request_id=getattr(request.state, "request_id", None))
    call = done_scan.call
    return ScanOut(
        scan_id=done_scan.scan_id, event=done_scan.event, at=done_scan.at, shipment_id=done_scan.shipment_id,
        waybill_no=done_scan.waybill_no, status=done_scan.status,
        recipient=ScanRecipientOut(name=done_scan.recipient_name_masked, province=done_scan.region.province,
                                   city=done_scan.region.city, district=done_scan.region.district,
                                   address_detail=done_scan.address_detail),
        call=None if call is None else CallActionOut(number=call.number, extension=call.extension, dial=call.dial,
                                                     expires_at=call.expires_at),
        calls=[CallOutcomeOut(started_at=c.started_at, ended_at=c.ended_at, duration_s=c.duration_s,
                              outcome=c.outcome) for c in done_scan.calls],
        log_index=done_scan.log_index,
    )


def _recorded(done: network.Recorded) -> ScanOut:
    return ScanOut(scan_id=done.scan_id, event=Event(done.event), reason=done.reason, at=done.at,
                   shipment_id=done.shipment_id, waybill_no=done.waybill_no, status=done.status)


@router.post("/scans:batch", response_model=ScanBatchOut,
             summary="Record up to 1,000 network scans by waybill number (a hub sorter's batch)")
def scan_batch(body: ScanBatchIn, actor: Scanner, db_session: SessionDep) -> ScanBatchOut:
    """Each scan is checked on its own and answered in `results` with its index; the good ones are
    written together in one transaction. `delivery` and `delivered` go by the label's QR code, one at a
    time (`POST /scans`)."""
    done = network.record_batch(db_session=db_session, actor=actor, wanted=[
        network.Wanted(event=s.event, waybill_no=s.waybill_no, reason=s.reason, at=s.at) for s in body.scans])
    results = []
    for i, result in enumerate(done.results):
        if isinstance(result, DomainError):
            results.append(ScanResultOut(index=i, status=result.status, problem=ItemProblemOut(
                code=result.code, detail=result.detail, errors=[e.as_dict() for e in result.errors])))
        else:
            results.append(ScanResultOut(index=i, status=201, scan=_recorded(result)))
    return ScanBatchOut(recorded=done.accepted, refused=len(results) - done.accepted, results=results)


@router.get("/shipments/{shipment_id}", response_model=ShipmentOut, tags=["intake"],
            summary="A shipment as staff see it: status, events, masked fields")
def get_shipment(shipment_id: uuid.UUID, actor: CurrentActor, db_session: SessionDep) -> ShipmentOut:
    """Carrier-wide roles (HQ security, auditor, admin) see any of their carrier's shipments; a station
    manager or sorter their station's (sent from or to it); a courier one they hold or held a task for; an
    enterprise shipper its own. Any other is answered as one that does not exist (404
    `shipment_unknown`). Masked only: plaintext goes through the gate (`POST /reveals`)."""
    view = flows.staff_view(db_session=db_session, actor=actor, shipment_id=shipment_id)
    s = view.shipment
    return ShipmentOut(
        id=s.id, waybill_no=s.waybill_no, status=s.status, sender_kind=s.sender_kind, sender_name=s.sender_name_masked,
        recipient=StaffRecipientOut(name=s.recipient_name_masked, phone_tail=s.recipient_phone_tail,
                                    province=s.recipient_province, city=s.recipient_city,
                                    district=s.recipient_district),
        origin_station=StationOut(id=view.origin.id, code=view.origin.code, name=view.origin.name),
        destination_station=None if view.destination is None else StationOut(
            id=view.destination.id, code=view.destination.code, name=view.destination.name),
        items=[ItemSummaryOut(category=c, quantity=q) for c, q in view.items],
        inspection_draw=s.inspection_draw, inspected=s.inspected, created_at=s.created_at,
        delivered_at=s.delivered_at,
        events=[StaffEventOut(at=e.at, event=e.event, reason=e.reason, city=e.city, station_id=e.station_id,
                              actor_id=e.actor_id) for e in view.events],
    )


@router.get("/public/track/{waybill_no}", response_model=TrackOut, dependencies=[TRACK_LIMITS],
            tags=["tracking"], summary="Track a parcel by its waybill number (public: events only)")
def track(waybill_no: str, request: Request, response: Response, db_session: SessionDep,
          phone_tail: Annotated[str | None, Query(max_length=8, description="The last four digits of the "
                                                  "recipient's phone: unlocks a masked recipient line.")] = None,
          ) -> TrackOut:
    """Time, city and what happened: never a name, a phone or an address. An unknown number, a
    well-formed one of no carrier and a real one answer in the same shape and status (an unknown one with
    status `no_record` and no events); a wrong `phone_tail` answers exactly as an unknown number. A
    malformed number or a wrong check digit is refused first (422 `waybill_format`,
    `waybill_check_digit`). There is no lookup by phone number (docs/api.md says why). Each client's
    lookups and misses are counted for detection; a client over its limit gets 429 `rate_limited`."""
    found = public.track(db_session=db_session, waybill_no=waybill_no, phone_tail=phone_tail)
    db_session.rollback()  # it read only; the count below is a transaction of its own
    limiter = limiter_of(request.app)
    address = client_address(request, request.app.state.settings.trusted_proxies)
    service.count_lookup(request.app.state.engine, limiter.key("track/lookups", address),
                         miss=found.status == public.NO_RECORD, decoy=found.decoy)
    response.headers["Cache-Control"] = "no-store"
    return TrackOut(
        waybill_no=found.waybill_no, status=found.status,
        events=[JourneyEventOut(at=e.at, event=e.event, reason=e.reason, city=e.city) for e in found.events],
        recipient=None if found.recipient is None else PublicRecipientOut(
            name=found.recipient.name, city=found.recipient.city, district=found.recipient.district),
    )

