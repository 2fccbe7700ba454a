"""HQ security's and the auditor's console in Debian's headless Chromium, on both engines: the officer
opens a case, reveals a recipient's phone with it (through the gate, purpose investigation), and finds
that reveal in the audit browser, verified in the page against a signed tree head; the auditor reads the
log and nothing else; every other role is refused, as the API refuses it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from parcelguard.core.auth import Role
from tests.servers import LiveServer
from tests.tenants import Tenant
from tests.waybills.test_label_api import RECIPIENT_PHONE, take_in, terminal_login
from tests.web.browser import PHONE, browser, record_hosts, screenshots_dir  # noqa: F401  (browser: a fixture)

DIGITS = "".join(c for c in RECIPIENT_PHONE if c.isdigit())


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:  # noqa: F811
    context = browser.new_context(viewport=PHONE, device_scale_factor=2)
    yield context.new_page()
    context.close()


def sign_in(page: Any, base: str, tenant: Tenant, role: Role) -> Any:
    account = tenant.account(role)
    page.goto(base + "/hq/login")
    page.fill("#username", account.username)
    page.fill("#password", account.password)
    with page.expect_navigation() as navigation:
        page.get_by_role("button", name="登录").click()
    return navigation.value


def test_the_officer_opens_a_case_reveals_a_phone_and_finds_the_reveal_verified_in_the_log(
    page: Any, server: LiveServer, http: httpx.Client, tenant: Tenant, tmp_path: Any
) -> None:
    shots = screenshots_dir(tmp_path)
    number = str(take_in(http, terminal_login(http, tenant))["waybill_no"])
    hosts = record_hosts(page)
    assert sign_in(page, server.url, tenant, Role.HQ_SECURITY).status == 200
    reference = f"CASE-{uuid.uuid4().hex[:6].upper()}"
    page.fill("#reference", reference)
    page.fill("#summary", "拾获面单，核实收件人")
    with page.expect_navigation():
        page.get_by_role("button", name="立案").click()
    assert reference in page.locator("h1").inner_text()

    # Without naming fields the gate is asked for all of them; here only the phone is ticked.
    page.fill("#waybill_no", number)
    page.check("#field_recipient_phone")
    with page.expect_navigation() as navigation:
        page.get_by_role("button", name="查看（记入日志）").click()
    assert navigation.value.status == 200, page.content()
    assert page.locator(".revealed-recipient_phone").inner_text().strip().endswith(DIGITS[-8:])
    assert page.locator("#revealed dt").count() == 1  # the phone and nothing else
    page.screenshot(path=str(shots / "page-hq-case.png"))
    link = page.locator("#log-entry")
    index = int(link.get_attribute("href").rsplit("/", 1)[1])

    # The reveal in the audit browser, then checked: a head is signed first if none covers it yet.
    page.goto(server.url + "/hq/audit?purpose=investigation")
    assert page.locator(f"#entries a[href='/hq/audit/{index}']").count() == 1
    page.locator(f"#entries a[href='/hq/audit/{index}']").click()
    page.wait_for_url(f"**/hq/audit/{index}")
    if page.locator("#sign-head").count():
        with page.expect_navigation():
            page.locator("#sign-head").click()
    assert "result--genuine" in page.locator("#verification").get_attribute("class")
    assert page.locator("#head-signed").inner_text() == "是" and page.locator("#included").inner_text() == "是"
    entry = page.locator("#entry").inner_text()
    assert "investigation" in entry and "recipient_phone" in entry and DIGITS not in entry
    page.screenshot(path=str(shots / "page-hq-entry.png"), full_page=True)
    # The API answers the same check.
    api = http.get(f"/api/v1/audit/entries/{index}/verification", headers=tenant.login(http, Role.AUDITOR))
    assert api.status_code == 200 and api.json()["verified"] is True
    assert hosts == {"127.0.0.1"}, hosts


def test_a_closed_case_reveals_nothing_and_says_so_next_to_the_field(
    page: Any, server: LiveServer, http: httpx.Client, tenant: Tenant
) -> None:
    number = str(take_in(http, terminal_login(http, tenant))["waybill_no"])
    sign_in(page, server.url, tenant, Role.HQ_SECURITY)
    page.fill("#reference", f"CASE-{uuid.uuid4().hex[:6].upper()}")
    page.fill("#summary", "x")
    with page.expect_navigation():
        page.get_by_role("button", name="立案").click()
    case_url = page.url
    page.fill("#waybill_no", number[:-1] + str((int(number[-1]) + 1) % 10))
    with page.expect_navigation() as navigation:
        page.get_by_role("button", name="查看（记入日志）").click()
    assert navigation.value.status == 422 and page.locator("#waybill_no-error").is_visible()
    with page.expect_navigation():
        page.get_by_role("button", name="结案").click()
    page.goto(case_url)
    assert page.locator("#resolve-form").count() == 0  # a closed case offers no look-up
    # and the API refuses a look-up under it (logged), as the page would
    officer = tenant.login(http, Role.HQ_SECURITY)
    case_id = case_url.rsplit("/", 1)[1]
    refused = http.post("/api/v1/labels:resolve", json={"case_id": case_id, "waybill_no": number}, headers=officer)
    assert (refused.status_code, refused.json()["reason"]) == (403, "case_not_open")


def test_the_auditor_reads_the_log_only_and_other_roles_are_refused(
    page: Any, server: LiveServer, http: httpx.Client, tenant: Tenant
) -> None:
    assert sign_in(page, server.url, tenant, Role.AUDITOR).status == 200
    assert page.locator("#auditor-note").is_visible() and page.locator("#alerts").count() == 0
    page.goto(server.url + "/hq/audit")
    assert page.locator("h1").inner_text() == "访问日志"
    assert http.get("/api/v1/alerts", headers=tenant.login(http, Role.AUDITOR)).json()["code"] == "role_not_allowed"
    page.goto(server.url + f"/hq/cases/{uuid.uuid4()}")
    assert page.url.endswith("/hq/login")  # cases are HQ security's
    for role in (Role.COURIER, Role.SORTER, Role.STATION_MANAGER, Role.ADMIN, Role.ENTERPRISE):
        assert sign_in(page, server.url, tenant, role).status == 422, role
        assert page.locator("#username-error").is_visible()
    for path in ("/hq", "/hq/audit", "/hq/audit/0"):
        page.goto(server.url + path)
        assert page.url.endswith("/hq/login"), path
