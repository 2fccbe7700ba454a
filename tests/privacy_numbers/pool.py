"""Helpers for virtual-number tests: pools with numbers no other test uses, shipments in bulk, and
requests signed as the carrier's telephony provider would sign them."""

from __future__ import annotations

import json
import secrets
import time
import uuid
from typing import Any

import httpx
from sqlalchemy import Engine, select

from parcelguard.core import db
from parcelguard.crypto.keyring import Keyring
from parcelguard.privacy_numbers import service
from parcelguard.privacy_numbers.models import NumberBinding
from parcelguard.shipments import service as shipments
from tests.tenants import CANARY, Tenant, writing


def new_number() -> str:
    """A mobile-shaped virtual number (+86 171 ...) that no other test holds (the pool key is global)."""
    return f"+86171{secrets.randbelow(10**8):08d}"


def add_pool(engine: Engine, tenant: Tenant, count: int = 1) -> list[str]:
    numbers = [new_number() for _ in range(count)]
    with writing(engine) as s:
        added = service.add_numbers(db_session=s, carrier_id=tenant.carrier_id, numbers=numbers)
    assert added == numbers
    return numbers


def make_shipments(engine: Engine, keyring: Keyring, tenant: Tenant, count: int) -> list[uuid.UUID]:
    """`count` shipments of the tenant (canary data), in one bulk insert per 2,000."""
    ids: list[uuid.UUID] = []
    for start in range(0, count, 2000):
        with writing(engine) as s:
            ids += shipments.create_many(db_session=s, keyring=keyring, carrier_id=tenant.carrier_id, shipments=[
                shipments.NewShipment(parties=CANARY, origin_station_id=tenant.stations[0],
                                      destination_station_id=tenant.stations[1])
                for _ in range(min(2000, count - start))])
    return ids


def bind(engine: Engine, tenant: Tenant, shipment_ids: list[uuid.UUID]) -> dict[uuid.UUID, service.Binding]:
    with writing(engine) as s:
        return service.bind_many(db_session=s, carrier_id=tenant.carrier_id, shipment_ids=shipment_ids)


def live_pairs(engine: Engine, numbers: list[str]) -> list[tuple[uuid.UUID, str, str]]:
    """(shipment, number, extension) of every live binding on these numbers."""
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(  # type: ignore[misc]
            select(NumberBinding.shipment_id, NumberBinding.number, NumberBinding.extension)
            .where(NumberBinding.number.in_(numbers), NumberBinding.released_at.is_(None)))]


def secret_of(engine: Engine, keyring: Keyring, tenant: Tenant) -> str:
    with db.make_sessionmaker(engine)() as s:
        return service.provider_secret(db_session=s, keyring=keyring, carrier_id=tenant.carrier_id)


def post_signed(http: httpx.Client, path: str, body: dict[str, Any], secret: str | None, *,
                timestamp: int | None = None, signed_body: bytes | None = None) -> httpx.Response:
    """POST `body` as the provider does: the exact bytes, signed with `secret` (no header when None);
    `signed_body` signs other bytes than those sent (a tampered body)."""
    raw = json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers[service.SIGNATURE_HEADER] = service.signature_header(
            secret, raw if signed_body is None else signed_body, timestamp=int(time.time()) if timestamp is None
            else timestamp)
    return http.post(path, content=raw, headers=headers)
