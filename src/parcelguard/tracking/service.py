"""Scan events: record one. Knows nothing of HTTP; holds no personal data."""

from __future__ import annotations

import uuid
from enum import StrEnum

from sqlalchemy.orm import Session

from parcelguard.core.auth import Actor
from parcelguard.core.clock import now
from parcelguard.tracking.models import ScanEvent


class Event(StrEnum):
    DELIVERY = "delivery"  # the courier scanned the label to deliver it (the address is revealed)
    DELIVERED = "delivered"  # handed over: the virtual number's grace period starts


def record(*, db_session: Session, actor: Actor, shipment_id: uuid.UUID, event: Event) -> ScanEvent:
    assert actor.carrier_id is not None
    row = ScanEvent(id=uuid.uuid4(), carrier_id=actor.carrier_id, shipment_id=shipment_id, event=event.value,
                    actor_id=actor.user_id, terminal_id=actor.terminal_id, station_id=actor.station_id, at=now())
    db_session.add(row)
    db_session.flush()
    return row

