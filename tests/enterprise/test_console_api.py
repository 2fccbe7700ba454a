"""The enterprise console over HTTP on both engines (issue 16): a company's admin connects carriers and imports
their rate tables (CSV and XLSX, every error named by sheet, row and column, nothing written); an employee
compares carriers for a parcel, cheapest and fastest marked; another company sees none of it."""

from __future__ import annotations

import io
import uuid
from datetime import date, timedelta

import httpx
import openpyxl
from sqlalchemy import create_engine, func, select

from parcelguard.core.clock import now
from parcelguard.enterprise.platform.models import CarrierConnection, RateTableVersion
from parcelguard.enterprise.rates.model import beijing_date
from tests.enterprise.conftest import Company, make_company

HEADER = "始发省,目的省,目的市,首重(kg),首重价格(元),续重单位(kg),续重价格(元),最大重量(kg),最快时效(天),最慢时效(天)\n"
# SF: dearer and faster; ZTO: cheaper and slower, with a dearer city lane for Shenzhen
SF = HEADER + "广东,北京,,1,18,1,6,30,1,2\n广东,上海,,1,16,1,5,30,1,2\n"
ZTO = HEADER + "广东,北京,,1,10,1,3,30,2,4\n广东,上海,,1,9,1,2,30,2,3\n广东,广东,深圳,1,12,1,2,30,1,1\n"


def connect(http: httpx.Client, admin: dict[str, str], code: str) -> str:
    r = http.post("/api/v1/connections", headers=admin, json={
        "code": code, "name": f"{code} 快递", "adapter": "parcelguard", "base_url": "http://127.0.0.1:9/",
        "credentials": {"username": f"acct-{code.lower()}", "password": "carrier password 1"}})
    assert r.status_code == 201, r.text
    assert "credentials" not in r.json() and "password" not in r.text
    return str(r.json()["id"])


def upload(http: httpx.Client, admin: dict[str, str], connection: str, data: bytes, name: str,
           effective_from: date, version: str = "2027 协议价") -> httpx.Response:
    return http.post(f"/api/v1/connections/{connection}/rate-tables", headers=admin,
                     data={"version": version, "effective_from": effective_from.isoformat()},
                     files={"file": (name, data)})


def versions_in(url: str, connection: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.scalar(select(func.count()).select_from(RateTableVersion)
                                   .where(RateTableVersion.connection_id == uuid.UUID(connection))) or 0)
    finally:
        engine.dispose()


def xlsx(rows: list[list[object]], surcharges: list[list[object]] | None = None) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "价格表"
    for row in rows:
        sheet.append(row)
    if surcharges is not None:
        extra = book.create_sheet("附加费")
        for row in surcharges:
            extra.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_an_admin_imports_two_carriers_tables_and_an_employee_compares_them(
    ehttp: httpx.Client, company: Company
) -> None:
    admin, shipper = company.login(ehttp, company.admin), company.login(ehttp, company.shipper)
    today = beijing_date(now())  # what the console calls today
    sf, zto = connect(ehttp, admin, "SF"), connect(ehttp, admin, "ZTO")
    assert upload(ehttp, admin, sf, SF.encode(), "sf.csv", today - timedelta(days=30)).status_code == 201
    book = xlsx([line.split(",") for line in ZTO.strip().splitlines()],
                [["名称", "类型", "金额"], ["燃油附加费", "percent", "10%"]])
    imported = upload(ehttp, admin, zto, book, "zto.xlsx", today - timedelta(days=30))
    assert imported.status_code == 201, imported.text
    assert (imported.json()["lanes"], imported.json()["surcharges"]) == (3, 1)

    # 2.3 kg from Guangdong to Beijing: SF 18 + 2 x 6 = 30.00; ZTO (10 + 2 x 3) + 10% = 17.60
    r = ehttp.post("/api/v1/quotes", headers=shipper, json={
        "origin_province": "广东省", "destination_province": "北京", "weight_kg": "2.3"})
    assert r.status_code == 200, r.text
    quotes = r.json()["quotes"]
    assert [(q["carrier"], q["total_fen"], q["cheapest"], q["fastest"]) for q in quotes] == [
        ("ZTO", 1760, True, False), ("SF", 3000, False, True)]
    assert quotes[0]["breakdown"] == [{"name": "运费", "fen": 1600}, {"name": "燃油附加费", "fen": 160}]
    assert (quotes[1]["transit_days_min"], quotes[1]["transit_days_max"], quotes[1]["lane"]) == (1, 2, "province")

    # Shenzhen: only ZTO has a lane (its city lane); SF is named as not serving it
    r = ehttp.post("/api/v1/quotes", headers=shipper, json={
        "origin_province": "广东", "destination_province": "广东", "destination_city": "深圳市", "weight_kg": 1})
    body = r.json()
    assert [(q["carrier"], q["lane"], q["total_fen"]) for q in body["quotes"]] == [("ZTO", "city", 1320)]
    assert body["unserved"] == [{"connection_id": sf, "carrier": "SF", "reason": "no_lane"}]

    # a new SF version from tomorrow: today's quote is unchanged; tomorrow's uses it
    cheaper = HEADER + "广东,北京,,1,8,1,2,30,1,2\n"
    assert upload(ehttp, admin, sf, cheaper.encode(), "sf-2.csv", today + timedelta(days=1), "2027 调价") \
        .status_code == 201
    ask = {"origin_province": "广东", "destination_province": "北京", "weight_kg": "2.3"}
    now_sf = [q for q in ehttp.post("/api/v1/quotes", headers=shipper, json=ask).json()["quotes"]
              if q["carrier"] == "SF"]
    later = ehttp.post("/api/v1/quotes", headers=shipper,
                       json={**ask, "on": (today + timedelta(days=2)).isoformat()}).json()["quotes"]
    assert now_sf[0]["total_fen"] == 3000
    assert (later[0]["carrier"], later[0]["total_fen"], later[0]["version"]) == ("SF", 1200, "2027 调价")
    listed = ehttp.get(f"/api/v1/connections/{sf}/rate-tables", headers=shipper).json()
    assert [v["version"] for v in listed] == ["2027 调价", "2027 协议价"]


def test_a_bad_table_is_refused_whole_naming_each_cell_and_a_taken_day_is_a_conflict(
    ehttp: httpx.Client, company: Company, console_url: str
) -> None:
    admin = company.login(ehttp, company.admin)
    sf = connect(ehttp, admin, "SF")
    bad = HEADER + "广东,北京,,1,18,1,6,30,1,2\n广东,火星,,1,abc,1,6,30,1,2\n"
    r = upload(ehttp, admin, sf, bad.encode(), "bad.csv", date.today())
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    problem = r.json()
    assert problem["code"] == "rate_table_invalid"
    pointers = {e["pointer"] for e in problem["errors"]}
    assert {"/rates/row/3/column/B", "/rates/row/3/column/E"} <= pointers, problem["errors"]
    assert versions_in(console_url, sf) == 0

    assert upload(ehttp, admin, sf, SF.encode(), "sf.csv", date.today()).status_code == 201
    again = upload(ehttp, admin, sf, SF.encode(), "sf.csv", date.today())
    assert (again.status_code, again.json()["code"]) == (409, "rate_version_exists")
    assert versions_in(console_url, sf) == 1


def test_roles_and_companies_are_walls(ehttp: httpx.Client, company: Company, console_url: str) -> None:
    admin, shipper = company.login(ehttp, company.admin), company.login(ehttp, company.shipper)
    sf = connect(ehttp, admin, "SF")
    refused = ehttp.post("/api/v1/connections", headers=shipper, json={
        "code": "JD", "name": "京东", "base_url": "http://127.0.0.1:9", "credentials": {"username": "u",
                                                                                      "password": "p"}})
    assert (refused.status_code, refused.json()["code"]) == (403, "role_not_allowed")
    assert upload(ehttp, shipper, sf, SF.encode(), "sf.csv", date.today()).status_code == 403
    assert versions_in(console_url, sf) == 0

    other = make_company(console_url)
    stranger = other.login(ehttp, other.admin)
    assert ehttp.get("/api/v1/connections", headers=stranger).json() == []
    r = upload(ehttp, stranger, sf, SF.encode(), "sf.csv", date.today())
    assert (r.status_code, r.json()["code"]) == (404, "connection_unknown")
    assert ehttp.get("/api/v1/connections", headers=admin).status_code == 200
    assert ehttp.get("/api/v1/connections").status_code == 401

    invalid = ehttp.post("/api/v1/connections", headers=admin, json={
        "code": "bad code!", "name": "", "adapter": "carrier-pigeon", "base_url": "ftp://x",
        "credentials": {"username": "", "password": ""}})
    assert invalid.status_code == 422
    assert {e["pointer"] for e in invalid.json()["errors"]} == {"/code", "/name", "/adapter", "/base_url",
                                                                "/credentials"}
    engine = create_engine(console_url)
    try:
        with engine.connect() as conn:
            assert conn.scalar(select(func.count()).select_from(CarrierConnection)
                               .where(CarrierConnection.company_id == company.id)) == 1
    finally:
        engine.dispose()
