"""Orders through the enterprise console (issue 16), on both engines, against two carrier platforms, each its own
process and database: an employee ships with the carrier the quote found, gets its label and tracking, cancels;
a refused parcel is kept as failed with the carrier's codes; a carrier that does not answer leaves the order
waiting; and the company finds its own orders by phone, name or waybill number through blind indexes, every search
and reveal in a hash-chained access log, no other company's orders ever."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text, update

from parcelguard.core import db
from parcelguard.core.clock import now
from parcelguard.enterprise.platform.migrations import MIGRATIONS_DIR
from parcelguard.enterprise.platform.models import AccessEntry
from parcelguard.enterprise.rates.model import beijing_date
from parcelguard.web.enterprise_app import create_enterprise_app
from tests.enterprise.carriers import CarrierPlatform
from tests.enterprise.conftest import Company, console_settings, make_company
from tests.servers import app_in_thread, free_port
from tests.support import empty_database

TABLE = ("始发省,目的省,目的市,首重(kg),首重价格(元),续重单位(kg),续重价格(元),最大重量(kg),最快时效(天),最慢时效(天)\n"
         "北京,上海,,1,{price},1,2,30,1,{days}\n")
RECIPIENT = {"name": "司马收件人", "phone": "13744445555", "province": "上海", "city": "上海市", "district": "浦东新区",
             "detail": "收件大道7号 1202室"}
SENDER = {"name": "仓库联系人", "phone": "13922223333", "address": "北京市朝阳区仓储路1号", "province": "北京"}
CANARIES = ["司马收件人", "13744445555", "收件大道", "仓库联系人", "13922223333", "仓储路"]


@pytest.fixture(scope="session")
def order_console(carriers: list[CarrierPlatform], tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """A console on the carriers' engine, served in this process: (its URL, its database URL)."""
    kind = "postgresql" if carriers[0].database_url.startswith("postgresql") else "sqlite"
    with empty_database(kind, tmp_path_factory.mktemp("orders")) as url:
        db.upgrade(url, script_location=MIGRATIONS_DIR)
        with app_in_thread(create_enterprise_app(console_settings(url))) as console:
            yield console, url


def connect(http: httpx.Client, admin: dict[str, str], code: str, carrier: CarrierPlatform | None, price: int,
            days: int) -> str:
    base = carrier.url if carrier is not None else f"http://127.0.0.1:{free_port()}"  # nothing listens there
    r = http.post("/api/v1/connections", headers=admin, json={
        "code": code, "name": code, "base_url": base, "credentials": {
            "username": carrier.username if carrier else "nobody", "password": carrier.password if carrier else "x"}})
    assert r.status_code == 201, r.text
    connection = str(r.json()["id"])
    table = TABLE.format(price=price, days=days).encode()
    r = http.post(f"/api/v1/connections/{connection}/rate-tables", headers=admin, files={"file": ("t.csv", table)},
                  data={"version": "v1", "effective_from": (beijing_date(now()) - timedelta(days=1)).isoformat()})
    assert r.status_code == 201, r.text
    return connection


def order(connection: str, **changes: object) -> dict:
    body = {"connection_id": connection, "sender": SENDER, "recipient": RECIPIENT, "weight_kg": "1.2",
            "items": [{"category": "clothing", "description": "羽绒服", "declared_value_fen": 59900}]}
    return {**body, **changes}


def test_an_employee_ships_with_the_cheapest_carrier_and_finds_the_order_by_phone(
    carriers: list[CarrierPlatform], order_console: tuple[str, str]
) -> None:
    url, database_url = order_console
    company: Company = make_company(database_url)
    with httpx.Client(base_url=url, timeout=30) as http:
        admin, shipper = company.login(http, company.admin), company.login(http, company.shipper)
        cheap = connect(http, admin, "ZTO", carriers[0], price=8, days=3)
        fast = connect(http, admin, "SF", carriers[1], price=20, days=1)
        quotes = http.post("/api/v1/quotes", headers=shipper, json={
            "origin_province": "北京", "destination_province": "上海", "weight_kg": "1.2"}).json()["quotes"]
        assert [(q["connection_id"], q["cheapest"], q["fastest"]) for q in quotes] == [(cheap, True, False),
                                                                                       (fast, False, True)]
        before = [c.shipments() for c in carriers]
        r = http.post("/api/v1/orders", headers=shipper, json=order(cheap))
        assert r.status_code == 201, r.text
        placed = r.json()
        assert placed["status"] == "created" and placed["waybill_no"].startswith(carriers[0].waybill_prefix)
        assert (placed["price_fen"], placed["recipient_name"], placed["recipient_phone_tail"]) == (1000, "司马***",
                                                                                                   "5555")
        assert [c.shipments() for c in carriers] == [before[0] + 1, before[1]]

        # the label and the tracking come from the carrier
        label = http.get(f"/api/v1/orders/{placed['id']}/label", headers=shipper)
        assert label.status_code == 200 and label.content.startswith(b"%PDF")
        track = http.get(f"/api/v1/orders/{placed['id']}/tracking", headers=shipper).json()
        assert (track["waybill_no"], track["status"]) == (placed["waybill_no"], "accepted")

        # the waybill number is lost: found again by the recipient's phone (another shape of it), logged first
        found = http.get("/api/v1/orders:search", headers=shipper,
                         params={"q": "+86 137-4444-5555", "purpose": "lost_waybill"})
        assert found.status_code == 200 and found.headers["cache-control"] == "no-store"
        assert [o["waybill_no"] for o in found.json()["orders"]] == [placed["waybill_no"]]
        by_name = http.get("/api/v1/orders:search", headers=shipper, params={"q": "司马收件人", "purpose": "claim"})
        by_waybill = http.get("/api/v1/orders:search", headers=shipper,
                              params={"q": placed["waybill_no"], "purpose": "customer_service"})
        assert [o["id"] for o in by_name.json()["orders"]] == [o["id"] for o in by_waybill.json()["orders"]] == [
            placed["id"]]
        assert http.get("/api/v1/orders:search", headers=shipper, params={"q": "司马收件"}).status_code == 422
        revealed = http.get(f"/api/v1/orders/{placed['id']}/parties", headers=shipper,
                            params={"purpose": "customer_service"}).json()
        assert revealed["parties"]["recipient_phone"] == "+8613744445555"

        # another company finds nothing of it, and cannot open it
        other = make_company(database_url)
        stranger = other.login(http, other.admin)
        assert http.get("/api/v1/orders:search", headers=stranger, params={
            "q": "13744445555", "purpose": "audit"}).json()["orders"] == []
        assert http.get(f"/api/v1/orders/{placed['id']}/parties", headers=stranger,
                        params={"purpose": "audit"}).status_code == 404

        log = http.get("/api/v1/access-log", headers=admin).json()
        assert (log["verified"], log["entries"]) == (True, 4)
        assert [(e["action"], e["kind"], e["found"]) for e in reversed(log["latest"])] == [
            ("search", "phone", 1), ("search", "name", 1), ("search", "waybill", 1), ("reveal", "order", 1)]
        assert not [c for c in CANARIES if c in json.dumps(log, ensure_ascii=False)]
        assert http.get("/api/v1/access-log", headers=shipper).status_code == 403

        # cancel at the carrier
        cancelled = http.post(f"/api/v1/orders/{placed['id']}:cancel", headers=shipper)
        assert (cancelled.status_code, cancelled.json()["status"]) == (200, "cancelled")
        again = http.post(f"/api/v1/orders/{placed['id']}:cancel", headers=shipper)
        assert (again.status_code, again.json()["code"]) == (409, "already_cancelled")

    # nothing of the parties is in the console's database in clear, and a changed log entry is found
    engine = create_engine(database_url)
    try:
        with engine.begin() as conn:
            dumped = " ".join(str(row) for row in conn.execute(text("SELECT * FROM orders")))
            assert not [c for c in CANARIES if c in dumped]
            conn.execute(update(AccessEntry).where(AccessEntry.company_id == company.id, AccessEntry.seq == 2)
                         .values(found=0))
    finally:
        engine.dispose()
    with httpx.Client(base_url=url, timeout=30) as http:
        log = http.get("/api/v1/access-log", headers=company.login(http, company.admin)).json()
        assert (log["verified"], log["broken_at"]) == (False, 2)


def test_a_refused_parcel_is_kept_failed_and_a_silent_carrier_leaves_the_order_waiting(
    carriers: list[CarrierPlatform], order_console: tuple[str, str]
) -> None:
    url, database_url = order_console
    company = make_company(database_url)
    with httpx.Client(base_url=url, timeout=30) as http:
        admin, shipper = company.login(http, company.admin), company.login(http, company.shipper)
        good = connect(http, admin, "ZTO", carriers[0], price=8, days=3)
        down = connect(http, admin, "DOWN", None, price=5, days=2)
        before = carriers[0].shipments()
        refused = http.post("/api/v1/orders", headers=shipper, json=order(good, items=[
            {"category": "household", "description": "烟花", "quantity": 1}]))
        assert (refused.status_code, refused.json()["code"]) == (422, "carrier_refused"), refused.text
        assert [e["pointer"] for e in refused.json()["errors"]] == ["/items/0/description"]
        assert carriers[0].shipments() == before
        invalid = http.post("/api/v1/orders", headers=shipper, json=order(good, recipient={**RECIPIENT,
                                                                                         "phone": "call me"}))
        assert (invalid.status_code, invalid.json()["errors"][0]["pointer"]) == (422, "/recipient/phone")

        waiting = http.post("/api/v1/orders", headers=shipper, json=order(down))
        assert (waiting.status_code, waiting.json()["code"]) == (503, "carrier_unreachable")
        listed = http.get("/api/v1/orders", headers=shipper).json()
        assert sorted(o["status"] for o in listed) == ["failed", "pending"]
        pending = next(o for o in listed if o["status"] == "pending")
        assert waiting.json()["order_id"] == pending["id"]  # the answer names the order that waits
        assert http.post(f"/api/v1/orders/{pending['id']}:submit", headers=shipper).status_code == 503
        assert not [c for c in CANARIES if c in refused.text + waiting.text]


def test_an_order_sent_again_after_a_lost_answer_is_one_parcel(
    carriers: list[CarrierPlatform], order_console: tuple[str, str], tmp_path: Path
) -> None:
    """The console keeps the order before it calls; were the answer lost, `submit` would send it again under the
    same reference, and the carrier answers the parcel it took then (checked here by sending twice)."""
    url, database_url = order_console
    company = make_company(database_url)
    with httpx.Client(base_url=url, timeout=30) as http:
        admin, shipper = company.login(http, company.admin), company.login(http, company.shipper)
        good = connect(http, admin, "ZTO", carriers[0], price=8, days=3)
        placed = http.post("/api/v1/orders", headers=shipper, json=order(good)).json()
    engine = create_engine(database_url)
    try:
        with engine.begin() as conn:  # as if the process died before writing the carrier's answer
            conn.execute(text("UPDATE orders SET status = 'pending', waybill_no = NULL WHERE id = :id"),
                         {"id": uuid.UUID(placed["id"]).hex if database_url.startswith("sqlite") else placed["id"]})
    finally:
        engine.dispose()
    before = carriers[0].shipments()
    with httpx.Client(base_url=url, timeout=30) as http:
        again = http.post(f"/api/v1/orders/{placed['id']}:submit", headers=company.login(http, company.shipper))
    assert again.status_code == 200, again.text
    assert again.json()["waybill_no"] == placed["waybill_no"] and carriers[0].shipments() == before
