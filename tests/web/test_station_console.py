"""The station manager's console in Debian's headless Chromium, on both engines: the manager registers a
terminal and gives its id to a courier, assigns a district's waiting parcels, the courier then sees them
on the handheld; the station's alerts are acknowledged; retiring a courier stops their session at once;
each console refuses every other role, as the API does."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from parcelguard.audit import service as audit
from parcelguard.core.auth import Role
from parcelguard.shipments import dispatch
from tests.servers import LiveServer
from tests.tenants import Tenant, writing
from tests.waybills.test_label_api import CANARY_DIGITS, CANARY_TEXT, take_in, terminal_login
from tests.web.browser import (  # noqa: F401  (browser: a fixture)
    PHONE,
    assert_no_personal_data,
    browser,
    record_hosts,
    screenshots_dir,
)


@pytest.fixture
def context(browser: Any) -> Iterator[Any]:  # noqa: F811
    ctx = browser.new_context(viewport=PHONE, device_scale_factor=2)
    yield ctx
    ctx.close()


def sign_in(page: Any, base: str, path: str, username: str, password: str, terminal: str | None = None) -> Any:
    page.goto(base + path)
    page.fill("#username", username)
    page.fill("#password", password)
    if terminal is not None:
        page.fill("#terminal", terminal)
    with page.expect_navigation() as navigation:
        page.get_by_role("button", name="登录").click()
    return navigation.value


def checked(page: Any) -> str:
    html = page.content()
    assert_no_personal_data(html, forbidden=CANARY_TEXT + CANARY_DIGITS)
    return html


def test_the_manager_registers_a_terminal_assigns_a_district_and_the_courier_sees_the_deliveries(
    context: Any, server: LiveServer, http: httpx.Client, engine: Engine, tenant: Tenant, tmp_path: Any
) -> None:
    shots = screenshots_dir(tmp_path)
    intake = terminal_login(http, tenant, n=1)  # a colleague takes the parcels in for station 0
    numbers = [str(take_in(http, intake, destination_station_id=str(tenant.stations[0]))["waybill_no"])
               for _ in range(2)]
    courier = tenant.account(Role.COURIER)
    manager = tenant.account(Role.STATION_MANAGER)
    page = context.new_page()
    hosts = record_hosts(page)
    assert sign_in(page, server.url, "/station/login", manager.username, manager.password).status == 200
    assert page.url.endswith("/station")

    # Staff and terminals: a new handheld, its id shown to give to the courier.
    page.goto(server.url + "/station/staff")
    page.fill("#serial", f"PDA-{uuid.uuid4().hex[:8]}")
    page.fill("#label", "王师傅的手持终端")
    with page.expect_navigation():
        page.get_by_role("button", name="登记终端").click()
    terminal = page.locator(".task--new .terminal-id").inner_text().strip()
    assert uuid.UUID(terminal)
    checked(page)
    page.screenshot(path=str(shots / "page-station-staff.png"))

    # The board: the two parcels wait in their district; one form gives the district to the courier.
    page.goto(server.url + "/station")
    waiting = page.locator("#waiting").inner_text()
    assert all(n in waiting for n in numbers) and "浦东新区" in waiting
    page.select_option("#district", "浦东新区")
    page.select_option("#district-courier", str(courier.user_id))
    with page.expect_navigation():
        page.get_by_role("button", name="整区分配给该快递员").click()
    assert "已分配 2 件" in page.locator("#notice").inner_text()
    open_tasks = page.locator("#open-tasks").inner_text()
    assert all(n in open_tasks for n in numbers) and courier.username in open_tasks
    checked(page)
    page.screenshot(path=str(shots / "page-station-board.png"), full_page=True)

    # The courier signs in on the new terminal and sees both deliveries.
    handheld = context.browser.new_context(viewport=PHONE).new_page()
    assert sign_in(handheld, server.url, "/courier/login", courier.username, courier.password, terminal).status == 200
    tasks = handheld.locator("#tasks").inner_text()
    assert all(n in tasks for n in numbers)

    # Retiring the courier stops that session at once.
    page.goto(server.url + "/station/staff")
    with page.expect_navigation():
        page.locator("#staff li", has_text=courier.username).get_by_role("button", name="停用账号").click()
    assert "已停用" in page.locator("#staff").inner_text()
    handheld.goto(server.url + "/courier")
    assert handheld.url.endswith("/courier/login")
    assert hosts == {"127.0.0.1"}, hosts


def test_the_station_sees_and_acknowledges_its_own_alerts_only(
    context: Any, server: LiveServer, http: httpx.Client, engine: Engine, tenant: Tenant
) -> None:
    ours, theirs = tenant.account(Role.COURIER), tenant.account(Role.COURIER, station=1)
    with writing(engine) as s:
        for who in (ours, theirs):
            audit.raise_alert(db_session=s, carrier_id=tenant.carrier_id, kind="courier_own_id",
                              dedupe_key=f"test:{who.user_id}", detail={"test": True}, actor_id=who.user_id)
    manager = tenant.account(Role.STATION_MANAGER)
    page = context.new_page()
    sign_in(page, server.url, "/station/login", manager.username, manager.password)
    alerts = page.locator("#alerts").inner_text()
    assert ours.username in alerts and theirs.username not in alerts and "快递员用本人证件揽收" in alerts
    with page.expect_navigation():
        page.locator("#alerts li", has_text=ours.username).get_by_role("button", name="确认").click()
    assert ours.username not in page.locator("#alerts").inner_text()
    # The API answers the manager the same: the station's alerts only, another station's unknown.
    api = tenant.login(http, Role.STATION_MANAGER)
    listed = http.get("/api/v1/alerts", params={"open_only": "false"}, headers=api).json()
    assert {a["actor_id"] for a in listed} == {str(ours.user_id)}
    hq = http.get("/api/v1/alerts", headers=tenant.login(http, Role.HQ_SECURITY)).json()
    other = next(a for a in hq if a["actor_id"] == str(theirs.user_id))
    refused = http.post(f"/api/v1/alerts/{other['id']}/acknowledge", headers=api)
    assert (refused.status_code, refused.json()["code"]) == (404, "alert_unknown")


def test_each_console_refuses_every_other_role(
    context: Any, server: LiveServer, http: httpx.Client, tenant: Tenant
) -> None:
    page = context.new_page()
    for role in (Role.COURIER, Role.SORTER, Role.HQ_SECURITY, Role.AUDITOR, Role.ADMIN, Role.ENTERPRISE):
        account = tenant.account(role)
        assert sign_in(page, server.url, "/station/login", account.username, account.password).status == 422, role
        assert page.locator("#username-error").is_visible()
    # A courier's session opens no station page, and a manager's no courier page.
    terminal_login(http, tenant)  # registers a terminal for the courier below
    courier = tenant.account(Role.COURIER)
    manager = tenant.account(Role.STATION_MANAGER)
    api_manager = tenant.login(http, Role.STATION_MANAGER)
    terminal = http.get("/api/v1/terminals", headers=api_manager).json()[0]["id"]
    sign_in(page, server.url, "/courier/login", courier.username, courier.password, terminal)
    for path in ("/station", "/station/staff", "/station/customers"):
        page.goto(server.url + path)
        assert page.url.endswith("/station/login"), path
    sign_in(page, server.url, "/station/login", manager.username, manager.password)
    for path in ("/courier", "/courier/pickup", "/courier/scan", "/courier/qr"):
        page.goto(server.url + path)
        assert page.url.endswith("/courier/login"), path
    # ... and the API refuses the same roles the same things.
    courier_api = tenant.login(http, Role.COURIER, terminal_id=terminal)
    assert http.get("/api/v1/station/board", headers=courier_api).json()["code"] == "role_not_allowed"
    assert http.get("/api/v1/station/staff", headers=courier_api).json()["code"] == "role_not_allowed"
    assert http.get("/api/v1/agreements", headers=courier_api).json()["code"] == "role_not_allowed"


def test_open_tasks_past_the_late_threshold_are_marked_late(http: httpx.Client, engine: Engine, tenant: Tenant) -> None:
    intake = terminal_login(http, tenant)
    shipment = take_in(http, intake, destination_station_id=str(tenant.stations[0]))
    courier = tenant.account(Role.COURIER)
    manager = tenant.login(http, Role.STATION_MANAGER)
    assert http.post(f"/api/v1/shipments/{shipment['id']}/assign", json={"courier_id": str(courier.user_id)},
                     headers=manager).status_code == 201
    board = http.get("/api/v1/station/board", headers=manager).json()
    task = next(t for t in board["open_tasks"] if t["shipment_id"] == shipment["id"] and t["task"] == "delivery")
    assert task["late"] is False and shipment["id"] not in {w["shipment_id"] for w in board["waiting"]}
    with writing(engine) as s:
        late = dispatch.board(db_session=s, actor=tenant.actor(Role.STATION_MANAGER), late_after=timedelta(0))
    assert [t.late for t in late.open_tasks if t.shipment_id == uuid.UUID(str(shipment["id"]))] == [True]
