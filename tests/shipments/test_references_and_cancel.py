"""A contract customer's own references and cancellations (issue 16, what the enterprise console's adapter needs)
on both engines: a parcel sent again under a reference it used is answered, not taken in twice; a repeat within a
batch is refused; a courier's parcel carries none; the customer cancels a parcel no courier has touched, and only
its own."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import Engine

from parcelguard.core.auth import Role
from tests.shipments.test_contract_intake import RESPONSIBLE_ID, counts, make_agreement, parcel
from tests.tenants import Tenant


def send(http: httpx.Client, headers: dict[str, str], *parcels: dict) -> list[dict]:
    r = http.post("/api/v1/shipments:batch", json={"shipments": list(parcels)}, headers=headers)
    assert r.status_code == 200, r.text
    return list(r.json()["results"])


def test_a_reference_used_before_answers_the_parcel_taken_in_then(
    http: httpx.Client, engine: Engine, tenant: Tenant
) -> None:
    make_agreement(http, tenant, inspection_permille=0)
    shop = tenant.login(http, Role.ENTERPRISE)
    reference = f"ORD-{uuid.uuid4().hex[:10]}"
    [first] = send(http, shop, parcel(reference=reference))
    assert (first["status"], first["shipment"]["reference"], first["shipment"]["status"]) == (201, reference,
                                                                                               "accepted")
    assert counts(engine, tenant.carrier_id) == (1, 1, 1)
    # the answer was lost; the customer sends it again, with another new one
    again, other = send(http, shop, parcel(reference=reference), parcel(reference=reference + "-2"))
    assert again["status"] == 200 and again["shipment"] == first["shipment"]
    assert other["status"] == 201 and other["shipment"]["id"] != first["shipment"]["id"]
    assert counts(engine, tenant.carrier_id) == (2, 2, 2)
    # the same reference twice in one batch: the second is refused, nothing of it written
    fresh = f"ORD-{uuid.uuid4().hex[:10]}"
    one, two = send(http, shop, parcel(reference=fresh), parcel(reference=fresh))
    assert (one["status"], two["status"], two["problem"]["code"]) == (201, 422, "reference_repeated")
    assert counts(engine, tenant.carrier_id) == (3, 3, 3)
    # not printable ASCII: refused like any bad field
    [bad] = send(http, shop, parcel(reference="订单 1"))
    assert bad["status"] == 422 and bad["problem"]["errors"][0]["pointer"] == "/reference"


def test_the_customer_cancels_its_own_untouched_parcel_only(
    http: httpx.Client, engine: Engine, tenant: Tenant
) -> None:
    make_agreement(http, tenant, inspection_permille=0)
    shop = tenant.login(http, Role.ENTERPRISE)
    [kept], [scanned], [cancelled] = (send(http, shop, parcel()) for _ in range(3))
    path = "/api/v1/shipments/{}:cancel"

    r = http.post(path.format(cancelled["shipment"]["id"]), headers=shop)
    assert (r.status_code, r.json()["status"]) == (200, "cancelled"), r.text
    again = http.post(path.format(cancelled["shipment"]["id"]), headers=shop)
    assert (again.status_code, again.json()["code"]) == (409, "already_cancelled")

    sorter = tenant.login(http, Role.SORTER)
    scan = http.post("/api/v1/scans:batch", headers=sorter, json={"scans": [
        {"waybill_no": scanned["shipment"]["waybill_no"], "event": "arrived"}]})
    assert scan.status_code in (200, 201), scan.text
    late = http.post(path.format(scanned["shipment"]["id"]), headers=shop)
    assert (late.status_code, late.json()["code"]) == (409, "shipment_not_cancellable")

    # another enterprise of the carrier cannot tell the parcel exists; a courier may not cancel
    other = tenant.login(http, Role.ENTERPRISE, n=1)
    assert http.post(path.format(kept["shipment"]["id"]), headers=other).status_code == 404
    assert http.post(path.format(kept["shipment"]["id"]), headers=tenant.login(http, Role.STATION_MANAGER)) \
        .status_code == 403
    track = http.get(f"/api/v1/public/track/{cancelled['shipment']['waybill_no']}")
    assert track.status_code == 200 and track.json()["status"] == "cancelled"


def test_a_couriers_parcel_carries_no_reference(http: httpx.Client, tenant: Tenant) -> None:
    manager = tenant.login(http, Role.STATION_MANAGER)
    terminal = http.post("/api/v1/terminals", headers=manager, json={"serial": f"PDA-{uuid.uuid4().hex[:8]}",
                                                                      "label": "handheld"}).json()["id"]
    courier = tenant.login(http, Role.COURIER, terminal_id=terminal)
    walk_in = {**parcel(), "sender": {"document": {"type": "resident_id", "number": RESPONSIBLE_ID, "name": "诸葛负责"},
                                      "phone": "13922223333", "address": "北京市朝阳区寄件路1号"}}
    r = http.post("/api/v1/shipments", headers=courier, json={**walk_in, "reference": "ORD-1"})
    assert (r.status_code, r.json()["code"]) == (422, "reference_contract_only")
    [batched] = send(http, courier, {**walk_in, "reference": "ORD-1"})
    assert (batched["status"], batched["problem"]["code"]) == (422, "reference_contract_only")
