"""Parallel intakes over HTTP race for the last free (number, extension) pairs of a pool: each parcel
gets a pair of its own, and once the pool is full an intake fails whole (503) and leaves nothing."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
from sqlalchemy import Engine, func, select

from parcelguard.core import db
from parcelguard.core.clock import now
from parcelguard.crypto.keyring import Keyring
from parcelguard.privacy_numbers import service
from parcelguard.privacy_numbers.models import NumberBinding
from parcelguard.shipments.models import Shipment
from tests.privacy_numbers.pool import add_pool, live_pairs, make_shipments
from tests.servers import LiveServer
from tests.tenants import Tenant, writing
from tests.waybills.test_label_api import intake_body, terminal_login

FREE = 12


def test_parallel_intakes_take_the_last_free_pairs_once_each_then_the_pool_is_full(
    http: httpx.Client, server: LiveServer, engine: Engine, keyring: Keyring, tenant: Tenant
) -> None:
    [number] = add_pool(engine, tenant, 1)
    fillers = make_shipments(engine, keyring, tenant, service.EXTENSIONS - FREE)
    free = {f"{3 + i * (service.EXTENSIONS // FREE):04d}" for i in range(FREE)}
    assert len(free) == FREE
    taken = [f"{e:04d}" for e in range(service.EXTENSIONS) if f"{e:04d}" not in free]
    with writing(engine) as s:
        db.bulk_insert(s, NumberBinding, [
            {"id": uuid.uuid4(), "carrier_id": tenant.carrier_id, "shipment_id": sid, "number": number,
             "extension": ext, "bound_at": now()} for sid, ext in zip(fillers, taken, strict=True)])
    couriers = [terminal_login(http, tenant, n=n) for n in range(4)]

    def take_in(n: int) -> httpx.Response:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            return client.post("/api/v1/shipments", json=intake_body(), headers=couriers[n % len(couriers)])

    with ThreadPoolExecutor(max_workers=FREE) as pool:
        answers = list(pool.map(take_in, range(FREE)))
    assert [a.status_code for a in answers] == [201] * FREE, [a.text for a in answers if a.status_code != 201]
    mine = {uuid.UUID(a.json()["id"]) for a in answers}
    pairs = live_pairs(engine, [number])
    assert len(pairs) == service.EXTENSIONS and len({(n, e) for _, n, e in pairs}) == service.EXTENSIONS
    assert {e for sid, _, e in pairs if sid in mine} == free  # each of the last pairs went to one parcel

    def shipments() -> int:
        with engine.connect() as conn:
            return int(conn.scalar(select(func.count()).select_from(Shipment)
                                   .where(Shipment.carrier_id == tenant.carrier_id)) or 0)

    before = shipments()
    full = take_in(0)
    assert full.status_code == 503 and full.json()["code"] == "number_pool_exhausted"
    assert shipments() == before
