"""Demo shipments for `parcelguard init --demo`: plainly fictitious people, so the tour can reveal."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from parcelguard.core.auth import Actor, Role
from parcelguard.crypto.keyring import Keyring
from parcelguard.shipments import service
from parcelguard.shipments.models import Shipment

# Names from no one's ID card; phone numbers in the 13800000xxx range the trade uses for examples.
_DEMO_PARTIES = (
    service.Parties("演示寄件人甲", "+8613800000001", "北京市朝阳区演示路1号", "演示收件人乙", "+8613800000002",
                    "上海市浦东新区示例路2号 1单元 101"),
    service.Parties("演示寄件人丙", "+8613800000003", "北京市朝阳区演示路3号", "欧阳演示", "+8613800000004",
                    "上海市浦东新区示例路4号 2单元 202"),
    service.Parties("演示商家", "+8613800000005", "北京市朝阳区演示路5号", "司马演示", "+8613800000006",
                    "北京市朝阳区示例路6号 3单元 303"),
)


def seed_demo_shipments(*, db_session: Session, keyring: Keyring, carrier_id: uuid.UUID, origin: uuid.UUID,
                        destination: uuid.UUID, courier: uuid.UUID, manager: Actor, shop: uuid.UUID) -> int:
    """Three shipments: two from `origin` for the courier to deliver at `destination`, and one the demo
    shop sends from `destination` for the courier to pick up. Idempotent: a carrier that has shipments
    gets none."""
    if db_session.scalar(select(Shipment.id).where(Shipment.carrier_id == carrier_id).limit(1)) is not None:
        return 0
    assert manager.role == Role.STATION_MANAGER
    made = [
        service.create(db_session=db_session, keyring=keyring, carrier_id=carrier_id, parties=parties,
                       origin_station_id=destination if n == 2 else origin,
                       destination_station_id=origin if n == 2 else destination, customer_id=shop if n == 2 else None)
        for n, parties in enumerate(_DEMO_PARTIES)
    ]
    for shipment, task in zip(made, (service.Task.DELIVERY, service.Task.DELIVERY, service.Task.PICKUP), strict=True):
        service.assign(db_session=db_session, actor=manager, shipment_id=shipment.id, courier_id=courier, task=task)
    return len(made)
