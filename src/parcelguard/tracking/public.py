"""Tracking by waybill number: a parcel's journey as anyone with the number may see it (time, city and
what happened), and the staff's masked record of it.

The public lookup never answers a name, a phone or an address. The last four digits of the recipient's
phone unlock a masked recipient line (张*, the city and district), as the large carriers do; a wrong
tail is answered exactly as an unknown number. An unknown number, a well-formed one of no carrier and a
real one are answered in the same shape and status, after the same queries (promise 4); a malformed one
or one whose check digit is wrong is refused before anything is looked up: that says nothing of what
exists. There is no lookup by phone number: it would turn four digits into a list of parcels.
"""

from __future__ import annotations

import hmac
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from parcelguard.accounts import service as accounts
from parcelguard.core.errors import Invalid
from parcelguard.identity.regions import city_of
from parcelguard.shipments import honeytokens
from parcelguard.shipments import service as shipments
from parcelguard.shipments.models import Shipment
from parcelguard.tracking import service
from parcelguard.tracking.service import ACCEPTED, Event
from parcelguard.waybills import numbers

NO_RECORD = "no_record"  # the status of a number that names no parcel (or whose phone tail is wrong)
_NOBODY = uuid.UUID(int=0)  # looked up in place of a missing carrier or parcel, so every answer costs the same
_TAIL = re.compile(r"[0-9]{4}")
# The scan events a member of the public sees, by the name they see them under: scanning the label to
# deliver it is going out for delivery.
PUBLIC_EVENT = {Event.DELIVERY.value: Event.OUT_FOR_DELIVERY.value}


@dataclass(frozen=True)
class JourneyEvent:
    at: datetime
    event: str  # accepted, arrived, departed, out_for_delivery, attempted, delivered, exception
    reason: str | None
    city: str
    station_id: uuid.UUID | None
    actor_id: uuid.UUID | None  # None for the pickup, which is no scan


@dataclass(frozen=True)
class PublicRecipient:
    name: str  # masked: the surname only
    city: str
    district: str


@dataclass(frozen=True)
class Tracked:
    waybill_no: str
    status: str  # the parcel's status, or NO_RECORD
    events: list[JourneyEvent]
    recipient: PublicRecipient | None  # only with the right phone tail
    # (carrier, shipment) when the number is a honeytoken's: the lookup's count raises its alert
    decoy: tuple[uuid.UUID, uuid.UUID] | None = field(default=None, repr=False, compare=False)


def check_number(waybill_no: str) -> str:
    """The number as stored, or 422 (`waybill_format`, `waybill_check_digit`) before any lookup."""
    try:
        return numbers.parse(waybill_no).value
    except numbers.BadWaybillNumber as exc:
        raise Invalid(exc.detail, code=exc.code, field="/waybill_no") from None


def check_tail(phone_tail: str | None) -> str | None:
    if phone_tail is not None and not _TAIL.fullmatch(phone_tail):
        raise Invalid("The phone tail is the last four digits of the recipient's phone.", code="phone_tail_format",
                      field="/phone_tail")
    return phone_tail


def track(*, db_session: Session, waybill_no: str, phone_tail: str | None = None) -> Tracked:
    """The public answer for a waybill number (see the module docstring)."""
    number, tail = check_number(waybill_no), check_tail(phone_tail)
    carrier = accounts.get_carrier_by_prefix(db_session=db_session, prefix=number[:-13])
    shipment = shipments.by_waybill(db_session=db_session, carrier_id=carrier.id if carrier else _NOBODY,
                                    waybill_no=number)
    events = journey(db_session=db_session, shipment=shipment)
    # compare_digest on equal-length strings: a wrong tail costs what a right one does
    tail_ok = tail is None or hmac.compare_digest((shipment.recipient_phone_tail if shipment else "").rjust(4, "-"),
                                                  tail)
    # every found number costs this read, so a decoy answers in the time a real parcel does
    decoy = (shipment.carrier_id, shipment.id) if shipment is not None and honeytokens.among(
        db_session=db_session, carrier_id=shipment.carrier_id, shipment_ids=[shipment.id]) else None
    if shipment is None or not tail_ok:
        return Tracked(waybill_no=number, status=NO_RECORD, events=[], recipient=None, decoy=decoy)
    recipient = None
    if tail is not None:
        recipient = PublicRecipient(name=shipment.recipient_name_masked, city=shipment.recipient_city,
                                    district=shipment.recipient_district)
    return Tracked(waybill_no=number, status=shipment.status, events=events, recipient=recipient, decoy=decoy)


def journey(*, db_session: Session, shipment: Shipment | None, public: bool = True) -> list[JourneyEvent]:
    """The parcel's journey, oldest first: its pickup (from its own row), then its scans (as the public
    names them, unless `public` is False), each with the city of the station where it happened. Runs the
    same queries for None."""
    rows = service.events_of(db_session=db_session, shipment_id=shipment.id if shipment else _NOBODY)
    origin = shipment.origin_station_id if shipment else _NOBODY
    regions = accounts.station_regions(db_session=db_session,
                                       station_ids=[origin, *{r.station_id for r in rows if r.station_id}])
    if shipment is None:
        return []
    events = [JourneyEvent(at=shipment.created_at, event=ACCEPTED, reason=None,
                           city=city_of(regions.get(origin, "")), station_id=origin, actor_id=None)]
    for row in rows:
        name = PUBLIC_EVENT.get(row.event, row.event) if public else row.event
        if public and name == events[-1].event == Event.OUT_FOR_DELIVERY.value:
            continue  # out for delivery, then the label scanned at the door: one step to the public
        events.append(JourneyEvent(at=row.at, event=name, reason=row.reason,
                                   city=city_of(regions.get(row.station_id, "")) if row.station_id else "",
                                   station_id=row.station_id, actor_id=row.actor_id))
    return events
