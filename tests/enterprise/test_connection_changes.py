"""A company's admin changes a carrier connection (issue 16), on both engines, against the real carrier platforms:
the carrier's new address and the company's new account there are used by the next call (the console's adapter for
the connection is made again), a bad change names each field and changes nothing, and a paused connection quotes
nothing and takes no order until it is resumed. Only the admin changes it, only their company's."""

from __future__ import annotations

import httpx

from tests.enterprise.carriers import CarrierPlatform
from tests.enterprise.conftest import make_company
from tests.enterprise.test_bulk_orders import FORM, csv_file, row
from tests.enterprise.test_orders import connect, order, order_console  # noqa: F401 - the console fixture

QUOTE = {"origin_province": "北京", "destination_province": "上海", "weight_kg": "1.2"}


def test_a_connection_moved_to_another_address_and_account_ships_there_next(
    carriers: list[CarrierPlatform], order_console: tuple[str, str]  # noqa: F811
) -> None:
    url, database_url = order_console
    company = make_company(database_url)
    with httpx.Client(base_url=url, timeout=30) as http:
        admin, shipper = company.login(http, company.admin), company.login(http, company.shipper)
        connection = connect(http, admin, "ZTO", carriers[0], price=8, days=3)
        first = http.post("/api/v1/orders", headers=shipper, json=order(connection)).json()
        assert first["waybill_no"].startswith(carriers[0].waybill_prefix)

        before = [c.shipments() for c in carriers]
        moved = http.patch(f"/api/v1/connections/{connection}", headers=admin, json={
            "base_url": carriers[1].url + "/", "name": "ZTO (新网关)",
            "credentials": {"username": carriers[1].username, "password": carriers[1].password}})
        assert moved.status_code == 200, moved.text
        assert (moved.json()["base_url"], moved.json()["name"]) == (carriers[1].url, "ZTO (新网关)")
        assert carriers[1].password not in moved.text
        second = http.post("/api/v1/orders", headers=shipper, json=order(connection)).json()
        assert second["status"] == "created" and second["waybill_no"].startswith(carriers[1].waybill_prefix)
        assert [c.shipments() for c in carriers] == [before[0], before[1] + 1]
        # the first order's tracking now asks the second carrier, which does not know it: said, not hidden
        lost = http.get(f"/api/v1/orders/{first['id']}/tracking", headers=shipper)
        assert lost.status_code in (404, 502), lost.text


def test_a_bad_change_names_each_field_and_changes_nothing(
    carriers: list[CarrierPlatform], order_console: tuple[str, str]  # noqa: F811
) -> None:
    url, database_url = order_console
    company, other = make_company(database_url), make_company(database_url)
    with httpx.Client(base_url=url, timeout=30) as http:
        admin, shipper = company.login(http, company.admin), company.login(http, company.shipper)
        connection = connect(http, admin, "ZTO", carriers[0], price=8, days=3)
        listed = http.get("/api/v1/connections", headers=admin).json()

        bad = http.patch(f"/api/v1/connections/{connection}", headers=admin, json={
            "base_url": "ftp://carrier", "name": " ", "credentials": {"username": "", "password": "x"}})
        assert (bad.status_code, bad.json()["code"]) == (422, "connection_invalid")
        assert sorted(e["pointer"] for e in bad.json()["errors"]) == ["/base_url", "/credentials", "/name"]
        assert http.patch(f"/api/v1/connections/{connection}", headers=shipper,
                          json={"active": False}).status_code == 403
        stranger = other.login(http, other.admin)
        refused = http.patch(f"/api/v1/connections/{connection}", headers=stranger, json={"active": False})
        assert (refused.status_code, refused.json()["code"]) == (404, "connection_unknown")
        assert http.get("/api/v1/connections", headers=admin).json() == listed
        # and the account there is still the one it was: an order goes through
        assert http.post("/api/v1/orders", headers=shipper, json=order(connection)).json()["status"] == "created"


def test_a_paused_connection_quotes_nothing_and_takes_no_order_until_resumed(
    carriers: list[CarrierPlatform], order_console: tuple[str, str]  # noqa: F811
) -> None:
    url, database_url = order_console
    company = make_company(database_url)
    with httpx.Client(base_url=url, timeout=30) as http:
        admin, shipper = company.login(http, company.admin), company.login(http, company.shipper)
        connection = connect(http, admin, "ZTO", carriers[0], price=8, days=3)
        paused = http.patch(f"/api/v1/connections/{connection}", headers=admin, json={"active": False})
        assert (paused.status_code, paused.json()["active"]) == (200, False)
        before = carriers[0].shipments()
        assert http.post("/api/v1/quotes", headers=shipper, json=QUOTE).json()["quotes"] == []
        single = http.post("/api/v1/orders", headers=shipper, json=order(connection))
        assert (single.status_code, single.json()["code"], single.json()["errors"][0]["pointer"]) == (
            409, "connection_paused", "/connection_id")
        bulk = http.post("/api/v1/orders:import", headers=shipper, files={"file": ("o.csv", csv_file([row(1)]))},
                         data={**FORM, "connection_id": connection})
        assert (bulk.status_code, bulk.json()["code"]) == (409, "connection_paused")
        assert http.get("/api/v1/orders", headers=shipper).json() == []
        assert carriers[0].shipments() == before

        assert http.patch(f"/api/v1/connections/{connection}", headers=admin, json={"active": True}).json()["active"]
        assert [q["connection_id"] for q in http.post("/api/v1/quotes", headers=shipper,
                                                      json=QUOTE).json()["quotes"]] == [connection]
        assert http.post("/api/v1/orders", headers=shipper, json=order(connection)).status_code == 201
        assert carriers[0].shipments() == before + 1
