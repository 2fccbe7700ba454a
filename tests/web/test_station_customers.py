"""The station manager's contract customers (协议客户) and staff documents, in Debian's headless Chromium on
both engines: the manager makes an agreement in the page, changes its inspection share, the customer's
batch is drawn for inspection and the page shows the draw's results as the API answers them, a courier's
inspections move them on, and revoking ends it; bad input is shown next to its field and writes nothing;
a staff member's own ID document is registered and only "on file" is ever shown. No page holds the
document numbers or names typed into it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, func, select

from parcelguard.contracts.models import Agreement
from parcelguard.core.auth import Role
from parcelguard.identity.models import StaffDocument
from tests.identity.realname import valid_id
from tests.servers import LiveServer
from tests.shipments.test_contract_intake import USCC, make_agreement, parcel
from tests.tenants import Tenant
from tests.waybills.test_label_api import terminal_login
from tests.web.browser import (  # noqa: F401  (browser: a fixture)
    PHONE,
    assert_no_personal_data,
    browser,
    record_console_errors,
    record_hosts,
    screenshots_dir,
)
from tests.web.test_station_console import sign_in

RESPONSIBLE_NAME = "慕容负责人"
STAFF_NAME_CANARIES = ["慕容负责"]


@pytest.fixture
def context(browser: Any) -> Iterator[Any]:  # noqa: F811
    ctx = browser.new_context(viewport=PHONE, device_scale_factor=2)
    yield ctx
    ctx.close()


def checked(page: Any, forbidden: list[str], response: Any = None) -> str:
    """The page's HTML (and the answer's headers, when given) after the canary scan."""
    html = page.content()
    assert_no_personal_data(html, response.headers if response is not None else None, forbidden=forbidden)
    return html


def canaries(number: str, name: str = RESPONSIBLE_NAME) -> list[str]:
    return [number, number[:-1], number[-8:], name, *STAFF_NAME_CANARIES]


def submit(page: Any, button: str, within: Any = None) -> Any:
    """Click the button named `button` (in `within`, else anywhere) and answer the navigation's response."""
    with page.expect_navigation() as navigation:
        (within or page).get_by_role("button", name=button).click()
    return navigation.value


def agreements_of(engine: Engine, tenant: Tenant) -> int:
    with engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(Agreement)
                           .where(Agreement.carrier_id == tenant.carrier_id)) or 0


def fill_agreement(page: Any, tenant: Tenant, number: str, **changes: str) -> None:
    fields = {"#customer": tenant.account(Role.ENTERPRISE).username, "#org_name": "演示电子商务有限公司",
              "#uscc": USCC, "#doc_number": number, "#doc_name": RESPONSIBLE_NAME, "#permille": "50", **changes}
    for selector, value in fields.items():
        page.fill(selector, value)
    page.select_option("#doc_type", "resident_id")


def test_the_manager_makes_an_agreement_sees_the_draws_results_and_revokes_it(
    context: Any, server: LiveServer, http: httpx.Client, engine: Engine, tenant: Tenant, tmp_path: Any
) -> None:
    shots = screenshots_dir(tmp_path)
    number = valid_id()
    forbidden = canaries(number)
    manager = tenant.account(Role.STATION_MANAGER)
    page = context.new_page()
    hosts, console = record_hosts(page), record_console_errors(page)
    sign_in(page, server.url, "/station/login", manager.username, manager.password)
    page.get_by_role("link", name="协议客户").click()
    page.wait_for_url("**/station/customers")
    assert "还没有协议客户" in page.locator("#agreements").inner_text()

    # A new agreement: the customer's account by username, the organisation, the responsible person.
    fill_agreement(page, tenant, number)
    assert submit(page, "签订协议").status == 200
    assert "协议已签订" in page.locator("#notice").inner_text()
    card = page.locator("#agreements li.agreement").first
    text = card.inner_text()
    assert "演示电子商务有限公司" in text and USCC in text and "生效中" in text and "50‰（5%）" in text
    assert "慕容***" in text and f"{number[:4]}**********{number[-4:]}" in text
    assert "抽中 0 件" in text
    checked(page, forbidden)
    api = tenant.login(http, Role.STATION_MANAGER)
    [agreement] = http.get("/api/v1/agreements", headers=api).json()
    assert agreement["inspection_permille"] == 50

    # Every parcel is drawn at 1000‰.
    page.fill("#share-1", "1000")
    assert submit(page, "修改抽检比例").status == 200
    assert "抽检比例已修改" in page.locator("#notice").inner_text()
    assert "1000‰（100%）" in page.locator("#agreements li.agreement").first.inner_text()
    assert http.get(f"/api/v1/agreements/{agreement['id']}", headers=api).json()["inspection_permille"] == 1000

    # The customer sends a batch; each parcel is drawn, and the page shows them waiting.
    shop = tenant.login(http, Role.ENTERPRISE)
    sent = http.post("/api/v1/shipments:batch", json={"shipments": [parcel(), parcel(), parcel()]}, headers=shop)
    assert sent.status_code == 200 and sent.json()["accepted"] == 3, sent.text
    shipments = [r["shipment"] for r in sent.json()["results"]]
    assert {s["inspection_draw"] for s in shipments} == {"random"}
    page.goto(server.url + "/station/customers")
    card = page.locator("#agreements li.agreement").first
    assert "抽中 3 件，已验视 0 件（其中未通过 0 件），待验视 3 件" in card.locator(".draw-counts").inner_text()
    table = card.locator(".draw-latest").inner_text()
    assert all(s["waybill_no"] in table for s in shipments) and table.count("待验视") == 3
    checked(page, forbidden)

    # A courier of the station inspects two: one passes, one fails (refused).
    courier = terminal_login(http, tenant)
    first, second, _ = (s["id"] for s in shipments)
    assert http.post(f"/api/v1/shipments/{first}/inspection", json={"passed": True}, headers=courier).status_code == 201
    assert http.post(f"/api/v1/shipments/{second}/inspection", json={"passed": False},
                     headers=courier).status_code == 201
    page.reload()
    card = page.locator("#agreements li.agreement").first
    assert "抽中 3 件，已验视 2 件（其中未通过 1 件），待验视 1 件" in card.locator(".draw-counts").inner_text()
    rows = {s["waybill_no"]: card.locator(".draw-latest tr", has_text=s["waybill_no"]).inner_text()
            for s in shipments}
    assert "已验视" in rows[shipments[0]["waybill_no"]] and "已揽收" in rows[shipments[0]["waybill_no"]]
    assert "未通过" in rows[shipments[1]["waybill_no"]] and "已拒收" in rows[shipments[1]["waybill_no"]]
    assert "待验视" in rows[shipments[2]["waybill_no"]]
    # ... which is what the API answers the manager.
    draws = http.get(f"/api/v1/agreements/{agreement['id']}/draws", headers=api).json()
    assert (draws["drawn"], draws["inspected"], draws["refused"], draws["waiting"]) == (3, 2, 1, 1)
    assert {p["waybill_no"] for p in draws["latest"]} == {s["waybill_no"] for s in shipments}
    checked(page, forbidden)
    page.screenshot(path=str(shots / "page-station-customers.png"), full_page=True)

    # Revoking asks first, then ends the agreement: the customer's parcels are refused.
    card.locator("summary", has_text="终止协议").click()
    assert submit(page, "确认终止协议", card).status == 200
    assert "协议已终止" in page.locator("#notice").inner_text()
    card = page.locator("#agreements li.agreement").first
    assert "已终止" in card.inner_text() and card.get_by_role("button", name="修改抽检比例").count() == 0
    refused = http.post("/api/v1/shipments:batch", json={"shipments": [parcel()]}, headers=shop)
    assert refused.status_code == 403 and refused.json()["code"] == "agreement_required"
    assert http.get(f"/api/v1/agreements/{agreement['id']}", headers=api).json()["revoked_at"]
    checked(page, forbidden)
    assert hosts == {"127.0.0.1"}, hosts
    assert console == [], console


def test_bad_input_is_shown_next_to_its_field_and_writes_nothing(
    context: Any, server: LiveServer, http: httpx.Client, engine: Engine, tenant: Tenant
) -> None:
    number = valid_id()
    forbidden = canaries(number)
    manager = tenant.account(Role.STATION_MANAGER)
    page = context.new_page()
    sign_in(page, server.url, "/station/login", manager.username, manager.password)
    page.goto(server.url + "/station/customers")

    # A mistyped credit code: the error next to it, 422, the typed number and name not written back.
    typo = USCC[:-1] + ("0" if USCC[-1] != "0" else "1")
    fill_agreement(page, tenant, number, **{"#uscc": typo})
    answer = submit(page, "签订协议")
    assert answer.status == 422
    assert "校验位" in page.locator("#uscc-error").inner_text()
    assert page.locator("#uscc").get_attribute("aria-invalid") == "true"
    assert page.input_value("#doc_number") == "" and page.input_value("#doc_name") == ""
    assert page.input_value("#org_name") == "演示电子商务有限公司"  # public, so kept for the fix
    checked(page, forbidden, answer)
    assert agreements_of(engine, tenant) == 0

    # Every problem at once: an unknown account, a typo in the responsible person's number, a share out of range.
    fill_agreement(page, tenant, number[:-1] + ("0" if number[-1] != "0" else "1"),
                   **{"#customer": "nobody-" + uuid.uuid4().hex[:6], "#permille": "1001"})
    answer = submit(page, "签订协议")
    assert answer.status == 422
    assert "没有这个账号" in page.locator("#customer-error").inner_text()
    assert "校验位" in page.locator("#doc_number-error").inner_text()
    assert "0 到 1000" in page.locator("#permille-error").inner_text()
    assert page.locator("#uscc-error").count() == 0
    checked(page, forbidden, answer)
    # A courier's account is no customer; empty fields are required.
    fill_agreement(page, tenant, "", **{"#customer": tenant.account(Role.COURIER).username, "#doc_name": ""})
    answer = submit(page, "签订协议")
    assert answer.status == 422
    assert "企业客户账号" in page.locator("#customer-error").inner_text()
    assert "必填" in page.locator("#doc_number-error").inner_text()
    assert "必填" in page.locator("#doc_name-error").inner_text()
    assert agreements_of(engine, tenant) == 0
    assert http.get("/api/v1/agreements", params={"include_revoked": "true"},
                    headers=tenant.login(http, Role.STATION_MANAGER)).json() == []

    # A bad share: next to that agreement's field, the share unchanged.
    agreement = make_agreement(http, tenant, inspection_permille=50)
    page.goto(server.url + "/station/customers")
    for bad, message in (("1001", "0 到 1000"), ("五十", "整数"), ("", "必填")):
        page.fill("#share-1", bad)
        answer = submit(page, "修改抽检比例")
        assert answer.status == 422, bad
        assert message in page.locator("#share-1-error").inner_text(), bad
    assert http.get(f"/api/v1/agreements/{agreement['id']}",
                    headers=tenant.login(http, Role.STATION_MANAGER)).json()["inspection_permille"] == 50
    # A second agreement for a customer with one in force is refused (409), next to the customer field.
    fill_agreement(page, tenant, number)
    answer = submit(page, "签订协议")
    assert answer.status == 409 and "已有生效中的协议" in page.locator("#customer-error").inner_text()
    checked(page, forbidden, answer)
    assert agreements_of(engine, tenant) == 1


def test_the_manager_registers_a_couriers_own_document_and_only_on_file_is_shown(
    context: Any, server: LiveServer, engine: Engine, tenant: Tenant
) -> None:
    number, other_number = valid_id(), valid_id()
    forbidden = [*canaries(number), *canaries(other_number)]
    courier, other = tenant.account(Role.COURIER), tenant.account(Role.COURIER, n=1)
    manager = tenant.account(Role.STATION_MANAGER)
    page = context.new_page()
    sign_in(page, server.url, "/station/login", manager.username, manager.password)
    page.goto(server.url + "/station/staff")
    row = page.locator("#staff li", has_text=courier.username)
    assert "本人证件未登记" in row.inner_text()

    # A mistyped number: the error next to that courier's field, 422, nothing written, nothing echoed.
    row = page.locator("#staff li", has_text=other.username)
    row.locator("select[name=doc_type]").select_option("resident_id")
    row.locator("input[name=doc_number]").fill(other_number[:-1] + ("0" if other_number[-1] != "0" else "1"))
    answer = submit(page, "保存证件", row)
    assert answer.status == 422
    row = page.locator("#staff li", has_text=other.username)
    assert "校验位" in row.locator(".field-error").inner_text()
    assert row.locator("input[name=doc_number]").input_value() == ""
    assert page.locator("#staff .field-error").count() == 1
    checked(page, forbidden, answer)

    # The courier's own document: registered, then only "on file since" is shown.
    row = page.locator("#staff li", has_text=courier.username)
    row.locator("input[name=doc_number]").fill(number)
    answer = submit(page, "保存证件", row)
    assert answer.status == 200
    assert "本人证件已登记" in page.locator("#notice").inner_text()
    row = page.locator("#staff li", has_text=courier.username)
    assert "本人证件已登记（" in row.locator(".staff-document").inner_text()
    assert "本人证件未登记" in page.locator("#staff li", has_text=other.username).inner_text()
    checked(page, forbidden, answer)
    with engine.connect() as conn:
        on_file = set(conn.scalars(select(StaffDocument.user_id).where(StaffDocument.carrier_id == tenant.carrier_id)))
    assert on_file == {courier.user_id}


def test_the_draws_results_are_scoped_as_the_agreement_is(
    http: httpx.Client, tenant: Tenant, other_tenant: Tenant
) -> None:
    agreement = make_agreement(http, tenant, inspection_permille=0)
    shop = tenant.login(http, Role.ENTERPRISE)
    restricted = parcel(items=[{"description": "充电宝 20000mAh", "category": "electronics", "quantity": 1}])
    sent = http.post("/api/v1/shipments:batch", json={"shipments": [parcel(), restricted]}, headers=shop).json()
    drawn = sent["results"][1]["shipment"]
    path = f"/api/v1/agreements/{agreement['id']}/draws"
    for reader in (tenant.login(http, Role.STATION_MANAGER), shop, tenant.login(http, Role.HQ_SECURITY),
                   tenant.login(http, Role.AUDITOR)):
        got = http.get(path, headers=reader)
        assert got.status_code == 200, got.text
        body = got.json()
        # At 0‰ only the restricted item is drawn.
        assert (body["drawn"], body["inspected"], body["refused"], body["waiting"]) == (1, 0, 0, 1)
        assert [(p["waybill_no"], p["reason"], p["status"]) for p in body["latest"]] == [
            (drawn["waybill_no"], "restricted", "accepted")]
    assert http.get(path, params={"latest": 0}, headers=shop).json()["latest"] == []
    # Another station's manager and another carrier's are told it does not exist, as by GET /agreements/{id}.
    for stranger in (tenant.login(http, Role.STATION_MANAGER, station=1),
                     other_tenant.login(http, Role.STATION_MANAGER)):
        for answer in (http.get(path, headers=stranger), http.get(f"/api/v1/agreements/{agreement['id']}",
                                                                   headers=stranger)):
            assert (answer.status_code, answer.json()["code"]) == (404, "agreement_unknown")
    # A courier reads no agreement at all.
    courier = terminal_login(http, tenant)
    refused = http.get(path, headers=courier)
    assert (refused.status_code, refused.json()["code"]) == (403, "role_not_allowed")
    missing = http.get(f"/api/v1/agreements/{uuid.uuid4()}/draws", headers=shop)
    assert (missing.status_code, missing.json()["code"]) == (404, "agreement_unknown")
