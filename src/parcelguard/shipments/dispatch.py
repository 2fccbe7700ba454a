"""A station's dispatch board: the parcels waiting for a courier, the open tasks and the late ones, and
assigning deliveries one at a time or a whole district at once. Knows nothing of HTTP; shows no
personal field (waybill numbers, districts and statuses only)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import Session

from parcelguard.core.auth import Actor, Role
from parcelguard.core.clock import now
from parcelguard.core.errors import DomainError, Forbidden, Invalid
from parcelguard.shipments.models import Assignment, Shipment
from parcelguard.shipments.progress import FINAL
from parcelguard.shipments.service import Task, assign

MAX_ROWS = 500
MAX_DISTRICT_BATCH = 500


@dataclass(frozen=True)
class OpenTask:
    assignment_id: uuid.UUID
    shipment_id: uuid.UUID
    waybill_no: str | None
    district: str
    status: str
    task: str
    courier_id: uuid.UUID
    opened_at: datetime
    late: bool


@dataclass(frozen=True)
class Waiting:
    """A parcel for the station to deliver that no courier holds yet."""

    shipment_id: uuid.UUID
    waybill_no: str | None
    district: str
    status: str
    created_at: datetime


@dataclass(frozen=True)
class Board:
    waiting: list[Waiting]
    open_tasks: list[OpenTask]

    @property
    def late(self) -> list[OpenTask]:
        return [t for t in self.open_tasks if t.late]

    @property
    def districts(self) -> list[str]:
        return sorted({w.district for w in self.waiting if w.district})


def _station(actor: Actor) -> uuid.UUID:
    if actor.role != Role.STATION_MANAGER or actor.station_id is None or actor.carrier_id is None:
        raise Forbidden("The dispatch board is a station manager's.", code="role_not_allowed")
    return actor.station_id


def _waiting_query(carrier_id: uuid.UUID, station: uuid.UUID):  # type: ignore[no-untyped-def]
    held = exists().where(Assignment.shipment_id == Shipment.id, Assignment.task == Task.DELIVERY.value,
                          Assignment.closed_at.is_(None))
    return select(Shipment).where(Shipment.carrier_id == carrier_id, Shipment.destination_station_id == station,
                                  Shipment.status.not_in(FINAL), ~held)


def board(*, db_session: Session, actor: Actor, late_after: timedelta) -> Board:
    """The manager's station: parcels to deliver that no courier holds (oldest first), and every open task
    on the station's parcels with whether it is late (open longer than `late_after`)."""
    station = _station(actor)
    assert actor.carrier_id is not None
    waiting = [Waiting(s.id, s.waybill_no, s.recipient_district, s.status, s.created_at) for s in db_session.scalars(
        _waiting_query(actor.carrier_id, station).order_by(Shipment.created_at).limit(MAX_ROWS))]
    moment = now()
    rows = db_session.execute(
        select(Assignment, Shipment.waybill_no, Shipment.recipient_district, Shipment.status)
        .join(Shipment, Shipment.id == Assignment.shipment_id)
        .where(Assignment.carrier_id == actor.carrier_id, Assignment.closed_at.is_(None),
               or_(Shipment.origin_station_id == station, Shipment.destination_station_id == station))
        .order_by(Assignment.opened_at).limit(MAX_ROWS))
    tasks = [OpenTask(a.id, a.shipment_id, number, district, status, a.task, a.courier_id, a.opened_at,
                      late=moment - a.opened_at > late_after) for a, number, district, status in rows]
    return Board(waiting=waiting, open_tasks=tasks)


@dataclass(frozen=True)
class DistrictAssigned:
    assigned: int
    refused: list[tuple[uuid.UUID, DomainError]]


def assign_district(*, db_session: Session, actor: Actor, district: str, courier_id: uuid.UUID) -> DistrictAssigned:
    """Give one courier the delivery of every waiting parcel of a district (up to 500 at once), each by
    the same `assign` as one at a time; the courier is checked once, before any parcel."""
    station = _station(actor)
    assert actor.carrier_id is not None
    if not district.strip():
        raise Invalid("Name the district.", code="district_required", field="/district")
    waiting = list(db_session.scalars(_waiting_query(actor.carrier_id, station).where(
        and_(Shipment.recipient_district == district.strip())).order_by(Shipment.created_at)
        .limit(MAX_DISTRICT_BATCH)))
    done, refused = 0, []
    for shipment in waiting:
        try:
            assign(db_session=db_session, actor=actor, shipment_id=shipment.id, courier_id=courier_id,
                   task=Task.DELIVERY)
            done += 1
        except DomainError as exc:
            if exc.code in ("not_a_courier", "courier_of_other_station"):
                raise  # about the courier, not the parcel: nothing was assigned
            refused.append((shipment.id, exc))
    return DistrictAssigned(assigned=done, refused=refused)
