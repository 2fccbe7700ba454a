"""Routes for scans. Thin: parse, call, shape."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Request

from parcelguard.core.auth import Actor, Role, require
from parcelguard.core.db import SessionDep
from parcelguard.tracking import flows
from parcelguard.tracking.schemas import CallActionOut, CallOutcomeOut, ScanIn, ScanOut, ScanRecipientOut

router = APIRouter(tags=["delivery"])

Courier = Annotated[Actor, require(Role.COURIER)]


@router.post("/scans", response_model=ScanOut, status_code=201,
             summary="Scan a label to deliver it: the address and a virtual number to call, through the gate")
def scan(body: ScanIn, actor: Courier, request: Request, db_session: SessionDep) -> ScanOut:
    """A courier on a registered terminal scans the label's QR code. The token's signature and expiry are
    checked (422 with the token's reason code: `token_expired`, `token_signature`, ...). For `delivery`,
    the courier who holds the parcel's delivery task gets the address detail (the gate logs it, purpose
    `delivery`) and the call action; for anyone else the label is answered as one of no parcel (404
    `subject_unknown`), and the attempt is logged with its real reason. `delivered` closes the task and
    starts the virtual number's grace period (404 `shipment_unknown` for a parcel whose delivery the
    courier was never given)."""
    settings = request.app.state.settings
    done = flows.scan(db_session=db_session, keyring=request.app.state.keyring, actor=actor, token=body.token,
                      event=body.event, grace=timedelta(hours=settings.binding_grace_hours),
                      request_id=getattr(request.state, "request_id", None))
    call = done.call
    return ScanOut(
        scan_id=done.scan_id, event=done.event, at=done.at, shipment_id=done.shipment_id,
        waybill_no=done.waybill_no, status=done.status,
        recipient=ScanRecipientOut(name=done.recipient_name_masked, province=done.region.province,
                                   city=done.region.city, district=done.region.district,
                                   address_detail=done.address_detail),
        call=None if call is None else CallActionOut(number=call.number, extension=call.extension, dial=call.dial,
                                                     expires_at=call.expires_at),
        calls=[CallOutcomeOut(started_at=c.started_at, ended_at=c.ended_at, duration_s=c.duration_s,
                              outcome=c.outcome) for c in done.calls],
        log_index=done.log_index,
    )
