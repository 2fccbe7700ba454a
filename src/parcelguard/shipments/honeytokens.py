"""Honeytoken parcels (诱饵件, issue 14): decoy shipments an admin plants, made exactly as real ones are (a
waybill number from the carrier's own sequence, encrypted parties, masked names, a virtual-number binding),
so no listing, label, lookup or API answer tells them apart. Which shipments are decoys is kept only in
`honeytokens`, which no listing joins. Anyone who reveals one (through the gate, for any purpose, allowed or
refused), prints its label or looks its number up in public tracking sets off an alert of kind `honeytoken`
at once: no one has a reason to touch a parcel that does not exist.

The decoys' parties are made up from common surnames, given names and street names, with phone numbers in
the 170/171 virtual-operator ranges, so they look like anyone's and are no one's. Planting is logged with
the count only: the log is read by auditors, and a decoy named there would be a decoy known.
"""

from __future__ import annotations

import random
import secrets
import uuid
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from parcelguard.accounts import service as accounts
from parcelguard.core.auth import Actor, Role
from parcelguard.core.errors import Forbidden, Invalid
from parcelguard.crypto.keyring import Keyring
from parcelguard.shipments import service
from parcelguard.shipments.models import Honeytoken
from parcelguard.waybills import service as waybills

PLANTERS = frozenset({Role.ADMIN})
READERS = frozenset({Role.ADMIN, Role.HQ_SECURITY})
MAX_PLANT = 50
ALERT = "honeytoken"


_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
_GIVEN = ("伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超",
          "秀兰", "霞", "平", "刚", "桂英", "建华", "文", "华", "红", "志强", "丹", "萍", "鑫", "宇", "浩", "婷")
_STREETS = ("建设路", "人民路", "解放路", "中山路", "和平路", "新华路", "胜利路", "光明路", "文化路", "长江路")
_PLACES = (("北京市", "北京市", "朝阳区"), ("上海市", "上海市", "浦东新区"), ("广东省", "广州市", "天河区"),
           ("浙江省", "杭州市", "西湖区"), ("四川省", "成都市", "武侯区"), ("湖北省", "武汉市", "洪山区"))


def _person(rng: random.Random) -> tuple[str, str]:
    name = rng.choice(_SURNAMES) + rng.choice(_GIVEN)
    phone = f"+86{rng.choice(('170', '171'))}{rng.randrange(10**8):08d}"
    return name, phone


def _address(rng: random.Random, place: tuple[str, str, str]) -> str:
    return f"{' '.join(place)} {rng.choice(_STREETS)}{rng.randrange(1, 400)}号 {rng.randrange(1, 9)}单元 " \
           f"{rng.randrange(1, 30)}{rng.randrange(1, 5):02d}室"


def plant(*, db_session: Session, keyring: Keyring, actor: Actor, origin_station_id: uuid.UUID,
          destination_station_id: uuid.UUID, count: int = 1) -> list[uuid.UUID]:
    """Plant `count` decoy shipments between two of the carrier's stations; answers their ids (the admin's
    to keep). Bound to virtual numbers as real parcels are. Not logged here: the caller logs the count."""
    if actor.role not in PLANTERS or actor.carrier_id is None:
        raise Forbidden("The carrier's admin plants honeytokens.", code="role_not_allowed")
    if not 1 <= count <= MAX_PLANT:
        raise Invalid(f"Plant 1 to {MAX_PLANT} at a time.", code="count_range", field="/count")
    carrier = accounts.get_carrier(db_session=db_session, carrier_id=actor.carrier_id)
    for station in (origin_station_id, destination_station_id):
        accounts.get_station(db_session=db_session, carrier_id=carrier.id, station_id=station)
    rng = random.Random(secrets.randbits(64))  # made-up names and numbers, not secrets
    numbers = waybills.allocate(db_session=db_session, keyring=keyring, carrier_id=carrier.id,
                                prefix=carrier.waybill_prefix, count=count)
    made = []
    for number in numbers:
        (sender, sender_phone), (recipient, recipient_phone) = _person(rng), _person(rng)
        origin, destination = rng.sample(_PLACES, 2)
        shipment = service.create(
            db_session=db_session, keyring=keyring, carrier_id=carrier.id, origin_station_id=origin_station_id,
            destination_station_id=destination_station_id, waybill_no=number,
            recipient_region=service.Region(*destination),
            parties=service.Parties(sender, sender_phone, _address(rng, origin), recipient, recipient_phone,
                                    _address(rng, destination)))
        db_session.add(Honeytoken(shipment_id=shipment.id, carrier_id=carrier.id, planted_by=actor.user_id))
        made.append(shipment.id)
    db_session.flush()
    return made


def planted(*, db_session: Session, actor: Actor) -> list[Honeytoken]:
    if actor.role not in READERS or actor.carrier_id is None:
        raise Forbidden("The admin and HQ security see the honeytokens.", code="role_not_allowed")
    return list(db_session.scalars(select(Honeytoken).where(Honeytoken.carrier_id == actor.carrier_id)
                                   .order_by(Honeytoken.planted_at)))


def among(*, db_session: Session, carrier_id: uuid.UUID, shipment_ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
    """Which of these shipments are decoys (one indexed read)."""
    wanted = list(set(shipment_ids))
    if not wanted:
        return set()
    return set(db_session.scalars(select(Honeytoken.shipment_id).where(Honeytoken.carrier_id == carrier_id,
                                                                       Honeytoken.shipment_id.in_(wanted))))
