"""Scans through the network: a parcel arrives at and leaves hubs and stations, goes out for delivery, is
attempted or meets an exception. Recorded by couriers on their terminals and by hub sorters, one at a
time or in a sorter's batch; none of them reveals anything (the delivery scan, which does, is
`flows.scan`).

Who records what: arrivals, departures and exceptions any courier, sorter or station manager of the
carrier (parcels reach hubs unannounced); going out for delivery and a failed attempt only the courier
who holds the parcel's delivery, to whom any other parcel is as unknown as a missing one.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from parcelguard.accounts import service as accounts
from parcelguard.core.auth import Actor, Role
from parcelguard.core.clock import now
from parcelguard.core.errors import DomainError, Forbidden, Invalid
from parcelguard.crypto.keyring import Keyring
from parcelguard.identity.regions import city_of
from parcelguard.shipments import progress
from parcelguard.shipments import service as shipments
from parcelguard.shipments.models import Shipment
from parcelguard.tracking import service
from parcelguard.tracking.service import BY_LABEL_ONLY, REASONS, STATUS_AFTER, Event, Scan
from parcelguard.waybills import numbers
from parcelguard.waybills import service as waybills
from parcelguard.webhooks import service as webhooks

NETWORK_ROLES = frozenset({Role.COURIER, Role.SORTER, Role.STATION_MANAGER})
SCANNERS: dict[Event, frozenset[Role]] = {
    Event.ARRIVED: NETWORK_ROLES, Event.DEPARTED: NETWORK_ROLES, Event.EXCEPTION: NETWORK_ROLES,
    Event.OUT_FOR_DELIVERY: frozenset({Role.COURIER}), Event.ATTEMPTED: frozenset({Role.COURIER}),
}
HOLDER_ONLY = frozenset({Event.OUT_FOR_DELIVERY, Event.ATTEMPTED})
SCAN_LATE = timedelta(hours=72)  # a sorter's batch may carry scans this old
SCAN_EARLY = timedelta(minutes=5)  # a scanner's clock may run this far ahead
MAX_BATCH = 1000


@dataclass(frozen=True)
class Recorded:
    scan_id: uuid.UUID
    event: str
    reason: str | None
    at: datetime
    shipment_id: uuid.UUID
    waybill_no: str | None
    status: str


@dataclass(frozen=True)
class Wanted:
    """A scan as asked for: by the label's QR token or by the waybill number."""

    event: Event
    token: str | None = None
    waybill_no: str | None = None
    reason: str | None = None
    at: datetime | None = None


def check_actor(actor: Actor) -> None:
    """What the actor must be for any network scan, decided before any parcel is looked up."""
    if actor.carrier_id is None or actor.role not in NETWORK_ROLES:
        raise Forbidden("Couriers, sorters and station managers record scans.", code="role_not_allowed")
    if actor.role == Role.COURIER and actor.terminal_id is None:
        raise Forbidden("Scanning runs on a registered terminal: sign in with X-Terminal-Id.",
                        code="terminal_required")


def check_scan(actor: Actor, wanted: Wanted, prefix: str | None = None) -> str | None:
    """Everything about one scan that needs no parcel: the role for the event, the reason, the time and
    the number's shape. Answers the checked waybill number (None when it goes by token)."""
    if wanted.event in BY_LABEL_ONLY:
        raise Invalid("Delivering goes by the label's QR code: send `token`.", code="token_required",
                      field="/token")
    if actor.role not in SCANNERS[wanted.event]:
        raise Forbidden("Your role may not record this event.", code="role_not_allowed")
    allowed = REASONS.get(wanted.event)
    if allowed is None and wanted.reason is not None:
        raise Invalid("This event takes no reason.", code="reason_unexpected", field="/reason")
    if allowed is not None and wanted.reason not in allowed:
        raise Invalid(f"The reason must be one of: {', '.join(sorted(allowed))}.", code="reason_invalid",
                      field="/reason")
    if wanted.at is not None:
        moment = now()
        if not moment - SCAN_LATE <= wanted.at <= moment + SCAN_EARLY:
            raise Invalid("A scan's time lies within the last 72 hours and not in the future.", code="scan_time",
                          field="/at")
    if (wanted.token is None) == (wanted.waybill_no is None):
        raise Invalid("Send the label's QR `token` or the `waybill_no`, one of them.", code="scan_subject",
                      field="/waybill_no")
    if wanted.waybill_no is not None:
        try:
            return numbers.parse(wanted.waybill_no, prefix=prefix).value
        except numbers.BadWaybillNumber as exc:
            raise Invalid(exc.detail, code=exc.code, field="/waybill_no") from None
    return None


def _check_parcel(db_session: Session, actor: Actor, wanted: Wanted, shipment: Shipment | None) -> Shipment:
    if shipment is None:
        raise shipments.unknown_shipment()
    if wanted.event in HOLDER_ONLY and not progress.holds_task(db_session=db_session, actor=actor,
                                                              shipment_id=shipment.id, task=shipments.Task.DELIVERY):
        raise shipments.unknown_shipment()
    if shipment.status in progress.FINAL:
        raise progress.closed()
    if wanted.at is not None and wanted.at < shipment.created_at:
        raise Invalid("A scan cannot come before the parcel was taken in.", code="scan_time", field="/at")
    return shipment


def record(*, db_session: Session, keyring: Keyring, actor: Actor, wanted: Wanted) -> Recorded:
    """Record one network scan and move the parcel's status on."""
    check_actor(actor)
    assert actor.carrier_id is not None
    number = check_scan(actor, wanted, prefix=_prefix(db_session, actor))
    if number is not None:
        shipment = shipments.by_waybill(db_session=db_session, carrier_id=actor.carrier_id, waybill_no=number)
    else:
        assert wanted.token is not None
        subject = waybills.label_subject(db_session=db_session, keyring=keyring, carrier_id=actor.carrier_id,
                                         token=wanted.token)
        shipment = shipments.by_label_subject(db_session=db_session, carrier_id=actor.carrier_id, subject=subject)
    shipment = _check_parcel(db_session, actor, wanted, shipment)
    before = shipment.status
    progress.advance(shipment, STATUS_AFTER[wanted.event])
    row = service.record(db_session=db_session, actor=actor, shipment_id=shipment.id, event=wanted.event,
                         reason=wanted.reason, at=wanted.at)
    if shipment.status != before:
        notify(db_session=db_session, actor=actor, changed=[(shipment, row.event, row.reason, row.at)])
    return Recorded(scan_id=row.id, event=row.event, reason=row.reason, at=row.at, shipment_id=shipment.id,
                    waybill_no=shipment.waybill_no, status=shipment.status)


@dataclass(frozen=True)
class BatchResult:
    """Per scan, in order: what was recorded, or the problem that refused it."""

    results: list[Recorded | DomainError]

    @property
    def accepted(self) -> int:
        return sum(isinstance(r, Recorded) for r in self.results)


def record_batch(*, db_session: Session, actor: Actor, wanted: Sequence[Wanted]) -> BatchResult:
    """A hub sorter's batch, by waybill number: each scan checked on its own, every good one written in
    one statement; a parcel's scans apply in the order sent."""
    check_actor(actor)
    assert actor.carrier_id is not None
    if len(wanted) > MAX_BATCH:
        raise Invalid(f"A batch holds at most {MAX_BATCH} scans.", code="batch_too_large", field="/scans")
    prefix = _prefix(db_session, actor)
    results: list[Recorded | DomainError | None] = []
    checked: list[str | None] = []
    for scan in wanted:
        try:
            if scan.token is not None:
                raise Invalid("A batch goes by waybill number.", code="scan_subject", field="/waybill_no")
            checked.append(check_scan(actor, scan, prefix=prefix))
            results.append(None)
        except DomainError as exc:
            checked.append(None)
            results.append(exc)
    found = progress.by_waybills(db_session=db_session, carrier_id=actor.carrier_id,
                                 numbers=[n for n in checked if n is not None])
    good: list[tuple[int, Shipment, Wanted, str]] = []
    changed: list[tuple[int, Shipment]] = []
    for i, (scan, number) in enumerate(zip(wanted, checked, strict=True)):
        if results[i] is not None:
            continue
        try:
            shipment = _check_parcel(db_session, actor, scan, found.get(number or ""))
            before = shipment.status
            progress.advance(shipment, STATUS_AFTER[scan.event])
            good.append((i, shipment, scan, shipment.status))
            if shipment.status != before:
                changed.append((i, shipment))
        except DomainError as exc:
            results[i] = exc
    written = service.record_many(db_session=db_session, actor=actor, scans=[
        Scan(shipment_id=shipment.id, event=scan.event, reason=scan.reason, at=scan.at) for _, shipment, scan, _ in good])
    for (i, shipment, scan, status), (scan_id, at) in zip(good, written, strict=True):
        results[i] = Recorded(scan_id=scan_id, event=scan.event.value, reason=scan.reason, at=at,
                              shipment_id=shipment.id, waybill_no=shipment.waybill_no, status=status)
    notify(db_session=db_session, actor=actor, changed=[
        (shipment, wanted[i].event.value, wanted[i].reason, results[i].at)  # type: ignore[union-attr]
        for i, shipment in changed])
    db_session.flush()
    return BatchResult(results=[r for r in results if r is not None])


def notify(*, db_session: Session, actor: Actor,
           changed: Sequence[tuple[Shipment, str, str | None, datetime]]) -> None:
    """Queue the webhook notices of these status changes (shipment, event, reason, time), scanned at the
    actor's station, for the parcels' enterprise customers (in this transaction: an outbox)."""
    with_customer = [c for c in changed if c[0].customer_id is not None]
    if not with_customer:
        return
    assert actor.carrier_id is not None
    regions = accounts.station_regions(db_session=db_session, station_ids=[actor.station_id]) \
        if actor.station_id else {}
    city = city_of(regions.get(actor.station_id, "")) if actor.station_id else ""
    webhooks.enqueue(db_session=db_session, changes=[webhooks.StatusChange(
        carrier_id=actor.carrier_id, customer_id=shipment.customer_id, shipment_id=shipment.id,
        waybill_no=shipment.waybill_no, status=shipment.status, event=event, reason=reason, at=at, city=city)
        for shipment, event, reason, at in with_customer if shipment.customer_id is not None])


def _prefix(db_session: Session, actor: Actor) -> str:
    assert actor.carrier_id is not None
    return accounts.get_carrier(db_session=db_session, carrier_id=actor.carrier_id).waybill_prefix
