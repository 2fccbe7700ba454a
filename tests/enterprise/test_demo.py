"""The enterprise console in `make run`'s demo (`init --demo`, then `run-all`): the demo shop's company is there,
connected to the demo carrier as its contract customer, with the carrier's table; a clerk quotes, ships a parcel
that the demo carrier takes in, and finds it again by the recipient's phone."""

from __future__ import annotations

from pathlib import Path

import httpx

from parcelguard.accounts.flows import DEMO_PASSWORD
from tests.servers import free_port
from tests.support import demo_chain


def test_the_demo_shop_quotes_ships_with_the_demo_carrier_and_finds_the_parcel(tmp_path: Path) -> None:
    port = free_port()
    with demo_chain(tmp_path / "var", enterprise_port=port), \
            httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
        token = http.post("/api/v1/auth/token", data={"username": "shop-clerk", "password": DEMO_PASSWORD})
        assert token.status_code == 200, token.text
        clerk = {"Authorization": f"Bearer {token.json()['access_token']}"}
        [demo] = http.get("/api/v1/connections", headers=clerk).json()
        [quote] = http.post("/api/v1/quotes", headers=clerk, json={
            "origin_province": "北京", "destination_province": "上海", "weight_kg": "2.5"}).json()["quotes"]
        assert (quote["carrier"], quote["total_fen"], quote["cheapest"]) == ("DEMO", 1600, True)
        placed = http.post("/api/v1/orders", headers=clerk, json={
            "connection_id": demo["id"],
            "sender": {"name": "仓库", "phone": "13922223333", "address": "北京市朝阳区仓储路1号", "province": "北京"},
            "recipient": {"name": "司马收件人", "phone": "13744445555", "province": "上海", "city": "上海市",
                          "district": "浦东新区", "detail": "收件大道7号"},
            "weight_kg": "2.5", "items": [{"category": "clothing", "description": "羽绒服"}]})
        assert placed.status_code == 201, placed.text
        assert placed.json()["waybill_no"].startswith("DE")
        found = http.get("/api/v1/orders:search", headers=clerk,
                         params={"q": "13744445555", "purpose": "lost_waybill"}).json()["orders"]
        assert [o["waybill_no"] for o in found] == [placed.json()["waybill_no"]]
