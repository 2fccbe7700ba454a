"""Bulk orders through the enterprise console (issue 16), on both engines, against the real carrier platforms: a
file of orders is checked row by row (a bad row is named by its row and column and written nowhere), the good ones
are kept and sent to the carrier in chunks, the progress and each row's result can be read, and a carrier that does
not answer leaves the rest waiting until the import is sent again. No recipient's name or phone in any answer."""

from __future__ import annotations

import io
import logging
import time
import uuid

import httpx
import pytest

from parcelguard.core import db
from parcelguard.enterprise.adapters.parcelguard import ParcelguardAdapter
from parcelguard.enterprise.platform import bulk
from parcelguard.enterprise.platform.keys import EnterpriseKeys
from tests.enterprise.carriers import CarrierPlatform
from tests.enterprise.conftest import TEST_ENTERPRISE_ROOT_KEY, make_company
from tests.enterprise.test_orders import SENDER, connect, order_console  # noqa: F401 - the console fixture

HEADER = "收件人,收件电话,收件省,收件市,收件区,收件地址,重量(kg),物品类别,物品名称,数量\n"
FORM = {"sender_name": SENDER["name"], "sender_phone": SENDER["phone"], "sender_address": SENDER["address"],
        "sender_province": SENDER["province"]}


def row(i: int, **changes: str) -> dict[str, str]:
    base = {"name": f"欧阳收件{i:02d}", "phone": f"1375555{i:04d}", "province": "上海", "city": "上海市",
            "district": "浦东新区", "detail": f"收件大道{i}号", "weight": "1.2", "category": "clothing",
            "description": "羽绒服", "quantity": "1"}
    return {**base, **changes}


def csv_file(rows: list[dict[str, str]]) -> bytes:
    return (HEADER + "".join(",".join(r.values()) + "\n" for r in rows)).encode("utf-8-sig")


def canaries(rows: list[dict[str, str]]) -> list[str]:
    return [r["name"] for r in rows] + [r["phone"] for r in rows] + [SENDER["name"], SENDER["phone"]]


def wait_done(http: httpx.Client, headers: dict[str, str], import_id: str, *, status: str = "done") -> dict:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        progress = http.get(f"/api/v1/imports/{import_id}", headers=headers).json()
        if progress["status"] == status:
            return progress
        time.sleep(0.1)
    raise AssertionError(f"the import did not reach {status}: {progress}")


def test_an_import_creates_the_good_rows_at_the_carrier_and_names_the_bad_ones(
    carriers: list[CarrierPlatform], order_console: tuple[str, str], caplog: pytest.LogCaptureFixture  # noqa: F811
) -> None:
    caplog.set_level(logging.DEBUG)
    url, database_url = order_console
    company = make_company(database_url)
    rows = [row(i) for i in range(30)]
    rows[3] = row(3, phone="call me")
    rows[7] = row(7, province="火星")
    rows[11] = row(11, province="广东", city="广州市", district="天河区")  # no lane of the table goes there
    rows[19] = row(19, description="烟花")  # the console takes it; the carrier refuses it
    with httpx.Client(base_url=url, timeout=30) as http:
        admin, shipper = company.login(http, company.admin), company.login(http, company.shipper)
        connection = connect(http, admin, "ZTO", carriers[0], price=8, days=3)
        before = carriers[0].shipments()
        r = http.post("/api/v1/orders:import", headers=shipper, files={"file": ("订单.csv", csv_file(rows))},
                      data={**FORM, "connection_id": connection})
        assert r.status_code == 202, r.text
        answer = r.json()
        assert (answer["rows"], answer["accepted"], answer["refused"]) == (30, 27, 3)
        # rows are numbered as the spreadsheet shows them: the header is row 1
        assert [(e["row"], e["column"], e["header"], e["code"]) for x in answer["refused_rows"]
                for e in x["errors"]] == [(5, "B", "收件电话", "phone_format"), (9, "C", "收件省", "province_unknown"),
                                          (13, "C", "收件省", "carrier_cannot_take")]

        progress = wait_done(http, shipper, answer["import_id"])
        assert {k: progress[k] for k in ("rows", "accepted", "refused", "sent", "created", "failed")} == {
            "rows": 30, "accepted": 27, "refused": 3, "sent": 27, "created": 26, "failed": 1}
        assert carriers[0].shipments() == before + 26

        created = http.get(f"/api/v1/imports/{answer['import_id']}/rows", headers=shipper,
                           params={"status": "created", "limit": 1000}).json()
        assert len(created) == 26 and all(x["waybill_no"].startswith(carriers[0].waybill_prefix) for x in created)
        assert {x["price_fen"] for x in created} == {1000} and created[0]["recipient_name"] == "欧阳****"
        failed = http.get(f"/api/v1/imports/{answer['import_id']}/rows", headers=shipper,
                          params={"status": "failed"}).json()
        assert [(x["row"], x["failure_code"]) for x in failed] == [(21, "carrier_refused")]
        page = http.get(f"/api/v1/imports/{answer['import_id']}/rows", headers=shipper,
                        params={"offset": 2, "limit": 3}).json()
        assert [(x["row"], x["status"]) for x in page] == [(4, "created"), (5, "refused"), (6, "created")]
        assert len(http.get("/api/v1/orders", headers=shipper, params={"limit": 500}).json()) == 27

        # another company sees nothing of it
        other = make_company(database_url)
        stranger = other.login(http, other.admin)
        for path in ("", "/rows"):
            assert http.get(f"/api/v1/imports/{answer['import_id']}{path}", headers=stranger).status_code == 404
        assert http.get("/api/v1/imports", headers=stranger).json() == []
        assert http.get("/api/v1/imports", headers=shipper).json() == [progress]
        assert http.post(f"/api/v1/imports/{answer['import_id']}:send", headers=stranger).status_code == 404

        said = r.text + str(progress) + str(created) + str(failed) + str(page)
        assert not [c for c in canaries(rows) if c in said + caplog.text]


def test_an_xlsx_file_with_english_headers_and_a_file_that_is_not_one(
    carriers: list[CarrierPlatform], order_console: tuple[str, str]  # noqa: F811
) -> None:
    from openpyxl import Workbook

    url, database_url = order_console
    company = make_company(database_url)
    book = Workbook()
    sheet = book.active
    sheet.append(["recipient_name", "recipient_phone", "recipient_province", "recipient_city", "recipient_district",
                  "recipient_detail", "weight_kg", "category", "description"])
    for i in range(3):
        sheet.append([f"上官收件{i}", 13766660000 + i, "上海", "上海市", "徐汇区", f"漕溪路{i}号", 0.5, "books", "书"])
    sheet.append(["上官收件9", 13766669999, "上海", "上海市", "徐汇区", "漕溪路9号", "heavy", "books", "书"])
    data = io.BytesIO()
    book.save(data)
    with httpx.Client(base_url=url, timeout=30) as http:
        admin, shipper = company.login(http, company.admin), company.login(http, company.shipper)
        connection = connect(http, admin, "ZTO", carriers[0], price=8, days=3)
        r = http.post("/api/v1/orders:import", headers=shipper, files={"file": ("orders.xlsx", data.getvalue())},
                      data={**FORM, "connection_id": connection})
        assert r.status_code == 202, r.text
        assert [(e["row"], e["column"], e["code"]) for x in r.json()["refused_rows"] for e in x["errors"]] == [
            (5, "G", "not_a_weight")]
        progress = wait_done(http, shipper, r.json()["import_id"])
        assert (progress["created"], progress["failed"]) == (3, 0)

        missing = http.post("/api/v1/orders:import", headers=shipper, data={**FORM, "connection_id": connection},
                            files={"file": ("o.csv", "收件人,收件电话\n张三,13800000000\n".encode())})
        assert (missing.status_code, missing.json()["code"]) == (422, "order_file_invalid")
        assert {e["code"] for e in missing.json()["errors"]} == {"column_missing"}
        bad_sender = http.post("/api/v1/orders:import", headers=shipper, files={"file": ("o.csv", csv_file([row(1)]))},
                               data={**FORM, "sender_phone": "nope", "connection_id": connection})
        assert [e["pointer"] for e in bad_sender.json()["errors"]] == ["/sender/phone"]


def test_a_silent_carrier_leaves_the_import_waiting_and_sending_again_resumes_it(
    carriers: list[CarrierPlatform], order_console: tuple[str, str]  # noqa: F811
) -> None:
    url, database_url = order_console
    company = make_company(database_url)
    rows = [row(i) for i in range(5)]
    with httpx.Client(base_url=url, timeout=30) as http:
        admin, shipper = company.login(http, company.admin), company.login(http, company.shipper)
        down = connect(http, admin, "DOWN", None, price=5, days=2)
        r = http.post("/api/v1/orders:import", headers=shipper, files={"file": ("o.csv", csv_file(rows))},
                      data={**FORM, "connection_id": down})
        assert r.status_code == 202, r.text
        import_id = r.json()["import_id"]
        waiting = wait_done(http, shipper, import_id, status="sending")
        assert (waiting["accepted"], waiting["sent"]) == (5, 0)
        again = http.post(f"/api/v1/imports/{import_id}:send", headers=shipper)
        assert (again.status_code, again.json()["status"]) == (202, "sending")
        pending = http.get(f"/api/v1/imports/{import_id}/rows", headers=shipper, params={"status": "pending"}).json()
        assert len(pending) == 5

    # the carrier answers again (here: the send is pointed at a live one), and what waited is sent, once
    engine = db.make_engine(database_url)
    before = carriers[0].shipments()
    try:
        with ParcelguardAdapter(carriers[0].url, carriers[0].username, carriers[0].password, 10) as adapter:
            done = bulk.send_import(sessionmaker=db.make_sessionmaker(engine),
                                    keys=EnterpriseKeys(root_key=TEST_ENTERPRISE_ROOT_KEY),
                                    adapter_for=lambda _: adapter, import_id=uuid.UUID(import_id))
            assert (done.status, done.sent, done.created) == ("done", 5, 5)
            again = bulk.send_import(sessionmaker=db.make_sessionmaker(engine),
                                     keys=EnterpriseKeys(root_key=TEST_ENTERPRISE_ROOT_KEY),
                                     adapter_for=lambda _: adapter, import_id=uuid.UUID(import_id))
            assert (again.status, again.created) == ("done", 5)
    finally:
        engine.dispose()
    assert carriers[0].shipments() == before + 5
