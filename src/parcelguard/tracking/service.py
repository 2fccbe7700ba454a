"""Scan events: record them, read a parcel's, and count the public lookup's traffic. Knows nothing of
HTTP; holds no personal data (an event is a code, a time, a station and who scanned)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import Engine, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from parcelguard.audit import service as audit
from parcelguard.core import db
from parcelguard.core.auth import Actor
from parcelguard.core.clock import now
from parcelguard.tracking.models import LookupCounter, ScanEvent


class Event(StrEnum):
    ARRIVED = "arrived"  # 到件: scanned in at a hub or station
    DEPARTED = "departed"  # 发件: scanned out of a hub or station
    OUT_FOR_DELIVERY = "out_for_delivery"  # 派件: the courier took it out to deliver
    DELIVERY = "delivery"  # the courier scanned the label to deliver it (the address is revealed)
    ATTEMPTED = "attempted"  # a delivery attempt that did not hand it over; the reason says why
    DELIVERED = "delivered"  # 签收: handed over; the virtual number's grace period starts
    EXCEPTION = "exception"  # 异常: the reason says what


# The pickup is no scan: the shipment's own row says when and where it was taken in.
ACCEPTED = "accepted"
# Events that go by the label's QR code (they reveal or end something); the others go by either the
# QR code or the waybill number, as a hub's barcode reader sends it.
BY_LABEL_ONLY = frozenset({Event.DELIVERY, Event.DELIVERED})
REASONS: dict[Event, frozenset[str]] = {
    Event.ATTEMPTED: frozenset({"not_home", "refused", "address_wrong", "unreachable"}),
    Event.EXCEPTION: frozenset({"damaged", "lost", "held", "address_unknown", "weather", "other"}),
}
# The shipment's status after each event.
STATUS_AFTER: dict[Event, str] = {
    Event.ARRIVED: "in_transit", Event.DEPARTED: "in_transit", Event.OUT_FOR_DELIVERY: "out_for_delivery",
    Event.DELIVERY: "out_for_delivery", Event.ATTEMPTED: "delivery_failed", Event.DELIVERED: "delivered",
    Event.EXCEPTION: "exception",
}


@dataclass(frozen=True)
class Scan:
    """One event to record."""

    shipment_id: uuid.UUID
    event: Event
    reason: str | None = None
    at: datetime | None = None  # when the scanner saw it (a hub uploads after the fact); now if None


@dataclass(frozen=True)
class EventRow:
    at: datetime
    event: str
    reason: str | None
    station_id: uuid.UUID | None
    actor_id: uuid.UUID


def record(*, db_session: Session, actor: Actor, shipment_id: uuid.UUID, event: Event,
           reason: str | None = None, at: datetime | None = None) -> ScanEvent:
    assert actor.carrier_id is not None
    row = ScanEvent(id=uuid.uuid4(), carrier_id=actor.carrier_id, shipment_id=shipment_id, event=event.value,
                    reason=reason, actor_id=actor.user_id, terminal_id=actor.terminal_id,
                    station_id=actor.station_id, at=at or now())
    db_session.add(row)
    db_session.flush()
    return row


def record_many(*, db_session: Session, actor: Actor, scans: Sequence[Scan]) -> list[tuple[uuid.UUID, datetime]]:
    """Record scans in one statement (a hub's batch): each one's id and time, in order. Scans sent without
    a time get now, a microsecond apart, so a parcel's scans in one batch keep the order they were sent in."""
    assert actor.carrier_id is not None
    moment = now()
    rows = [{"id": uuid.uuid4(), "carrier_id": actor.carrier_id, "shipment_id": scan.shipment_id,
             "event": scan.event.value, "reason": scan.reason, "actor_id": actor.user_id,
             "terminal_id": actor.terminal_id, "station_id": actor.station_id,
             "at": scan.at or moment + timedelta(microseconds=i)}
            for i, scan in enumerate(scans)]
    db.bulk_insert(db_session, ScanEvent, rows)
    return [(row["id"], row["at"]) for row in rows]


def events_of(*, db_session: Session, shipment_id: uuid.UUID) -> list[EventRow]:
    """The parcel's scans, oldest first."""
    rows = db_session.execute(select(ScanEvent.at, ScanEvent.event, ScanEvent.reason, ScanEvent.station_id,
                                     ScanEvent.actor_id)
                              .where(ScanEvent.shipment_id == shipment_id).order_by(ScanEvent.at, ScanEvent.id))
    return [EventRow(*row) for row in rows]


# -- the public lookup's counters ------------------------------------------------------------------------

LOOKUP_WINDOW_SECONDS = 3600
LOOKUP_KEEP_SECONDS = 30 * 86400  # what the detection of enumeration looks back over


def count_lookup(engine: Engine, key: str, *, miss: bool, moment: float | None = None,
                 decoy: tuple[uuid.UUID, uuid.UUID] | None = None) -> None:
    """Count one public lookup of the client `key` (an HMAC of its address) in its hour, and whether it
    missed, in a short transaction of its own: the lookup itself writes nothing. A new hour also drops the
    client's hours past `LOOKUP_KEEP_SECONDS`. A lookup of a honeytoken (`decoy`: carrier and shipment)
    raises its alert in the same transaction."""
    moment = now().timestamp() if moment is None else moment
    start = int(moment // LOOKUP_WINDOW_SECONDS) * LOOKUP_WINDOW_SECONDS
    table = LookupCounter.__table__
    insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
    with Session(bind=engine) as session:
        db.begin_write(session)
        stmt = insert(table).values(key=key, window_start=start, lookups=1, misses=int(miss))
        stmt = stmt.on_conflict_do_update(index_elements=[table.c.key, table.c.window_start],
                                          set_={"lookups": table.c.lookups + 1, "misses": table.c.misses + int(miss)})
        if session.execute(stmt.returning(table.c.lookups)).scalar_one() == 1:
            session.execute(delete(table).where(table.c.key == key,
                                                table.c.window_start < start - LOOKUP_KEEP_SECONDS))
        if decoy is not None:
            audit.trip_honeytokens(db_session=session, carrier_id=decoy[0], actor_id=None, how="public_lookup",
                                   touched={decoy[1]: None}, client=key[:16])
        session.commit()


@dataclass(frozen=True)
class LookupCount:
    key: str
    window_start: int
    lookups: int
    misses: int


def lookup_counts(*, db_session: Session, since: float) -> list[LookupCount]:
    """Every client's hourly counts since `since` (POSIX seconds), busiest first: what detection reads."""
    rows = db_session.execute(select(LookupCounter.key, LookupCounter.window_start, LookupCounter.lookups,
                                     LookupCounter.misses)
                              .where(LookupCounter.window_start >= int(since))
                              .order_by(LookupCounter.lookups.desc()))
    return [LookupCount(*row) for row in rows]
