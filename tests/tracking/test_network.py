"""A parcel's way through the network over HTTP, on both engines: hub sorters and couriers record scans
(one at a time and in a sorter's batch), the status moves on, staff see it masked with its events, and
every refused scan writes nothing."""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import Engine

from parcelguard.accounts import service as accounts
from parcelguard.core.auth import Role
from parcelguard.tracking.models import ScanEvent
from parcelguard.waybills.numbers import damm_check_digit
from tests.support import count_rows
from tests.tenants import Tenant, writing
from tests.tracking.test_scans import scanned_token
from tests.waybills.test_label_api import CANARY_DIGITS, CANARY_TEXT, take_in, terminal_login


def hub(engine: Engine, tenant: Tenant, region_code: str = "440305") -> int:
    """A third station of the tenant (a hub in Shenzhen by default); answers its index."""
    with writing(engine) as s:
        station = accounts.create_station(db_session=s, carrier_id=tenant.carrier_id,
                                          code=f"HUB-{uuid.uuid4().hex[:6].upper()}", name="Hub", region_code=region_code)
    tenant.stations.append(station.id)
    return len(tenant.stations) - 1


def unissued(tenant: Tenant) -> str:
    """A well-formed number of the tenant's that was never allocated (the counter space is 10**12)."""
    digits = f"{secrets.randbelow(10**12):012d}"
    return tenant.prefix + digits + damm_check_digit(digits)


def scans_of(database_url: str, shipment_id: str) -> int:
    return count_rows(database_url, ScanEvent, ScanEvent.shipment_id == uuid.UUID(shipment_id))


def test_a_parcel_goes_through_a_hub_out_for_delivery_and_is_attempted_then_delivered(
    http: httpx.Client, engine: Engine, database_url: str, tenant: Tenant
) -> None:
    courier = terminal_login(http, tenant)
    taken = take_in(http, courier, destination_station_id=str(tenant.stations[1]))
    sid, number = str(taken["id"]), str(taken["waybill_no"])
    sorter = tenant.login(http, Role.SORTER, station=hub(engine, tenant))
    for event in ("arrived", "departed"):
        r = http.post("/api/v1/scans", json={"waybill_no": number, "event": event}, headers=sorter)
        assert r.status_code == 201, r.text
        assert (r.json()["event"], r.json()["status"], r.json()["recipient"]) == (event, "in_transit", None)
    # The destination station's courier is given the delivery, takes it out, and finds nobody home.
    manager = tenant.login(http, Role.STATION_MANAGER, station=1)
    deliverer = terminal_login(http, tenant, station=1)
    courier_id = tenant.account(Role.COURIER, station=1).user_id
    assert http.post(f"/api/v1/shipments/{sid}/assign", json={"courier_id": str(courier_id)},
                     headers=manager).status_code == 201
    arrived = http.post("/api/v1/scans", json={"waybill_no": number.lower(), "event": "arrived"}, headers=deliverer)
    assert arrived.status_code == 201, arrived.text
    out = http.post("/api/v1/scans", json={"waybill_no": number, "event": "out_for_delivery"}, headers=deliverer)
    assert (out.status_code, out.json()["status"]) == (201, "out_for_delivery")
    tried = http.post("/api/v1/scans", json={"waybill_no": number, "event": "attempted", "reason": "not_home"},
                      headers=deliverer)
    assert (tried.status_code, tried.json()["status"], tried.json()["reason"]) == (201, "delivery_failed", "not_home")
    token = scanned_token(http, courier, sid)
    for event in ("delivery", "delivered"):
        r = http.post("/api/v1/scans", json={"token": token, "event": event}, headers=deliverer)
        assert r.status_code == 201, r.text
    assert r.json()["status"] == "delivered"
    # A delivered parcel takes no more scans, and the refusal writes nothing.
    before = scans_of(database_url, sid)
    late = http.post("/api/v1/scans", json={"waybill_no": number, "event": "arrived"}, headers=sorter)
    assert (late.status_code, late.json()["code"]) == (409, "shipment_closed")
    assert scans_of(database_url, sid) == before

    # Staff see the whole journey, masked; the station of another city is named by its city.
    officer = tenant.login(http, Role.HQ_SECURITY)
    seen = http.get(f"/api/v1/shipments/{sid}", headers=officer)
    assert seen.status_code == 200, seen.text
    body = seen.json()
    assert body["status"] == "delivered" and body["waybill_no"] == number
    assert [e["event"] for e in body["events"]] == [
        "accepted", "arrived", "departed", "arrived", "out_for_delivery", "attempted", "delivery", "delivered"]
    assert [e["city"] for e in body["events"][:3]] == ["北京市", "深圳市", "深圳市"]
    assert body["recipient"]["name"].startswith("司马") and len(body["recipient"]["phone_tail"]) == 4
    assert body["items"] == [{"category": "clothing", "quantity": 2}]
    for canary in CANARY_DIGITS + CANARY_TEXT:
        assert canary not in seen.text
    # The public sees the same journey by the number alone: no name, no phone, no address.
    tracked = http.get(f"/api/v1/public/track/{number}")
    assert tracked.status_code == 200
    # (the label scanned at the door after a failed attempt is the parcel going out again)
    assert [e["event"] for e in tracked.json()["events"]] == [
        "accepted", "arrived", "departed", "arrived", "out_for_delivery", "attempted", "out_for_delivery",
        "delivered"]
    assert tracked.json()["recipient"] is None
    for canary in CANARY_DIGITS + CANARY_TEXT + ["收件大道", "浦东新区"]:
        assert canary not in tracked.text


def test_refused_scans_say_why_and_write_nothing(
    http: httpx.Client, engine: Engine, database_url: str, tenant: Tenant
) -> None:
    courier = terminal_login(http, tenant)
    taken = take_in(http, courier, destination_station_id=str(tenant.stations[1]))
    sid, number = str(taken["id"]), str(taken["waybill_no"])
    sorter = tenant.login(http, Role.SORTER)
    other = terminal_login(http, tenant, station=1)  # holds no task for it
    shop = tenant.login(http, Role.ENTERPRISE)
    wrong_digit = number[:-1] + str((int(number[-1]) + 1) % 10)
    cases = [
        (sorter, {"waybill_no": number, "event": "arrived", "reason": "not_home"}, 422, "reason_unexpected"),
        (sorter, {"waybill_no": number, "event": "exception"}, 422, "reason_invalid"),
        (sorter, {"waybill_no": number, "event": "exception", "reason": "stolen-by-me"}, 422, "reason_invalid"),
        (sorter, {"waybill_no": number, "event": "out_for_delivery"}, 403, "role_not_allowed"),
        (sorter, {"waybill_no": number, "event": "delivered"}, 422, "token_required"),
        (sorter, {"waybill_no": wrong_digit, "event": "arrived"}, 422, "waybill_check_digit"),
        (sorter, {"waybill_no": "ZZ" + number[len(tenant.prefix):], "event": "arrived"}, 422, "waybill_prefix"),
        (sorter, {"waybill_no": unissued(tenant), "event": "arrived"}, 404, "shipment_unknown"),
        (sorter, {"event": "arrived"}, 422, "scan_subject"),
        (sorter, {"waybill_no": number, "event": "arrived",
                  "at": (datetime.now(UTC) + timedelta(hours=1)).isoformat()}, 422, "scan_time"),
        (sorter, {"waybill_no": number, "event": "arrived",
                  "at": (datetime.now(UTC) - timedelta(days=4)).isoformat()}, 422, "scan_time"),
        (other, {"waybill_no": number, "event": "out_for_delivery"}, 404, "shipment_unknown"),
        (other, {"waybill_no": number, "event": "attempted", "reason": "not_home"}, 404, "shipment_unknown"),
        (shop, {"waybill_no": number, "event": "arrived"}, 403, "role_not_allowed"),
    ]
    for headers, body, status, code in cases:
        r = http.post("/api/v1/scans", json=body, headers=headers)
        assert (r.status_code, r.json()["code"]) == (status, code), (body, r.text)
        assert "application/problem+json" in r.headers["content-type"]
    # A parcel the courier may not see answers exactly as one that does not exist.
    unknown = http.post("/api/v1/scans", json={"waybill_no": unissued(tenant), "event": "out_for_delivery"},
                        headers=other).json()
    hidden = http.post("/api/v1/scans", json={"waybill_no": number, "event": "out_for_delivery"},
                       headers=other).json()
    assert {k: v for k, v in unknown.items() if k != "instance"} == {k: v for k, v in hidden.items() if k != "instance"}
    assert scans_of(database_url, sid) == 0
    assert http.get(f"/api/v1/shipments/{sid}", headers=tenant.login(http, Role.HQ_SECURITY)).json()["status"] == "accepted"


def test_a_hub_sorter_sends_a_batch_and_each_scan_is_answered_on_its_own(
    http: httpx.Client, engine: Engine, database_url: str, tenant: Tenant
) -> None:
    courier = terminal_login(http, tenant)
    taken = [take_in(http, courier) for _ in range(3)]
    sorter = tenant.login(http, Role.SORTER, station=hub(engine, tenant, "310115"))
    scans = [{"waybill_no": str(t["waybill_no"]), "event": "arrived"} for t in taken]
    scans += [{"waybill_no": unissued(tenant), "event": "arrived"},
              {"waybill_no": "NOT-A-NUMBER", "event": "departed"},
              {"waybill_no": str(taken[0]["waybill_no"]), "event": "exception", "reason": "damaged"}]
    r = http.post("/api/v1/scans:batch", json={"scans": scans}, headers=sorter)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["recorded"], body["refused"]) == (4, 2)
    assert [x["status"] for x in body["results"]] == [201, 201, 201, 404, 422, 201]
    assert body["results"][3]["problem"]["code"] == "shipment_unknown"
    assert body["results"][4]["problem"]["code"] == "waybill_format"
    assert body["results"][5]["scan"]["status"] == "exception"
    assert [scans_of(database_url, str(t["id"])) for t in taken] == [2, 1, 1]
    tracked = http.get(f"/api/v1/public/track/{taken[0]['waybill_no']}").json()
    assert [(e["event"], e["city"], e["reason"]) for e in tracked["events"][1:]] == [
        ("arrived", "上海市", None), ("exception", "上海市", "damaged")]
    assert tracked["status"] == "exception"
    # A batch is for network scans by number; a courier's delivery goes one at a time by the QR code.
    refused = http.post("/api/v1/scans:batch", json={"scans": [{"waybill_no": str(taken[1]["waybill_no"]),
                                                                 "event": "delivered"}]}, headers=sorter)
    assert refused.json()["results"][0]["problem"]["code"] == "token_required"
    too_many = http.post("/api/v1/scans:batch", json={"scans": scans * 200}, headers=sorter)
    assert too_many.status_code == 422
    assert [scans_of(database_url, str(t["id"])) for t in taken] == [2, 1, 1]


def test_staff_see_a_shipment_only_within_their_reach_and_anything_else_is_unknown(
    http: httpx.Client, engine: Engine, tenant: Tenant, other_tenant: Tenant
) -> None:
    courier = terminal_login(http, tenant)
    sid = str(take_in(http, courier, destination_station_id=str(tenant.stations[1]))["id"])
    third = hub(engine, tenant)
    allowed = [courier, tenant.login(http, Role.STATION_MANAGER), tenant.login(http, Role.STATION_MANAGER, station=1),
               tenant.login(http, Role.HQ_SECURITY), tenant.login(http, Role.AUDITOR)]
    refused = [terminal_login(http, tenant, station=1), tenant.login(http, Role.STATION_MANAGER, station=third),
               tenant.login(http, Role.SORTER, station=third), tenant.login(http, Role.ENTERPRISE),
               other_tenant.login(http, Role.HQ_SECURITY)]
    for headers in allowed:
        r = http.get(f"/api/v1/shipments/{sid}", headers=headers)
        assert r.status_code == 200, r.text
        assert r.json()["id"] == sid
    unknown = http.get(f"/api/v1/shipments/{uuid.uuid4()}", headers=refused[0]).json()
    for headers in refused:
        r = http.get(f"/api/v1/shipments/{sid}", headers=headers)
        assert (r.status_code, r.json()["code"]) == (404, "shipment_unknown"), r.text
        assert r.json()["detail"] == unknown["detail"]
    assert http.get(f"/api/v1/shipments/{sid}").status_code == 401
