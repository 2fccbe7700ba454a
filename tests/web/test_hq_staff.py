"""The staff obligations page of the HQ console in Debian's headless Chromium, on both engines: the officer
sees a courier with no confidentiality agreement or training, records both (a mistyped version is shown
next to its field and nothing is written), and the courier leaves the list; the courier's reveal is
refused before and allowed after; a franchisee is put on record; an auditor sees the list and no form."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, func, select

from parcelguard.accounts.models import PartnerOrganisation, StaffObligation
from parcelguard.accounts.standing import today
from parcelguard.core.auth import Role
from parcelguard.crypto.keyring import Keyring
from parcelguard.shipments.service import Task
from tests.audit.test_gate import RECIPIENT, denied, on_terminal, reveal
from tests.servers import LiveServer
from tests.tenants import Tenant
from tests.web.browser import (  # noqa: F401  (browser: a fixture)
    PHONE,
    assert_no_personal_data,
    browser,
    record_console_errors,
    record_hosts,
    screenshots_dir,
)
from tests.web.test_hq_console import sign_in


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:  # noqa: F811
    context = browser.new_context(viewport=PHONE, device_scale_factor=2)
    yield context.new_page()
    context.close()


def obligations_of(engine: Engine, user_id: uuid.UUID) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(StaffObligation)
                               .where(StaffObligation.user_id == user_id)) or 0)


def test_the_officer_records_a_couriers_agreement_and_training_and_the_gate_opens(
    page: Any, server: LiveServer, http: httpx.Client, engine: Engine, keyring: Keyring, tenant: Tenant,
    tmp_path: Path
) -> None:
    tenant.obligations = False
    courier = on_terminal(tenant.actor(Role.COURIER))
    tenant.obligations = True
    shipment = tenant.shipment(keyring)
    tenant.assign(shipment, courier, Task.DELIVERY)
    assert denied(engine, keyring, courier, shipment, RECIPIENT, "delivery") == "obligations_missing"
    errors, hosts = record_console_errors(page), record_hosts(page)
    sign_in(page, server.url, tenant, Role.HQ_SECURITY)
    page.goto(server.url + "/hq/staff")
    row = page.locator(f"#due-{courier.username}")
    assert "无记录" in row.inner_text()
    prefix = f"u{courier.user_id.hex[:8]}"
    page.screenshot(path=str(screenshots_dir(tmp_path) / "page-hq-staff.png"), full_page=True)

    # a mistyped version: shown next to its field, 422, nothing written
    row.locator("summary").click()
    page.fill(f"#{prefix}-version", "第一版")
    page.fill(f"#{prefix}-expires_on", str(today() + timedelta(days=365)))
    with page.expect_navigation() as navigation:
        row.get_by_role("button", name="保存（写入访问日志）").click()
    assert navigation.value.status == 422
    assert page.locator(f"#{prefix}-version-error").inner_text() == "版本为 1-32 位字母、数字、点、横线或下划线。"
    assert obligations_of(engine, courier.user_id) == 0

    for kind in ("confidentiality", "training"):
        row = page.locator(f"#due-{courier.username}")
        if not row.locator("details").evaluate("d => d.open"):
            row.locator("summary").click()
        row.locator(f"#{prefix}-kind").select_option(kind)
        page.fill(f"#{prefix}-version", "2026-v1")
        page.fill(f"#{prefix}-expires_on", str(today() + timedelta(days=365)))
        with page.expect_navigation():
            row.get_by_role("button", name="保存（写入访问日志）").click()
        assert page.locator("#notice").inner_text() == "已登记，并写入访问日志。"
    assert page.locator(f"#due-{courier.username}").count() == 0
    assert reveal(engine, keyring, courier, shipment, RECIPIENT, "delivery").fields

    # a franchisee with its clause
    page.locator("#organisation-form").locator("xpath=..").locator("summary").click()
    page.fill("#org-name", "浦东加盟网点")
    page.fill("#org-version", "SC-2026")
    page.fill("#org-expires_on", str(today() + timedelta(days=180)))
    with page.expect_navigation():
        page.locator("#organisation-form").get_by_role("button").click()
    assert "浦东加盟网点" in page.locator("#organisations").inner_text()
    with engine.connect() as conn:
        assert conn.scalar(select(PartnerOrganisation.scope).where(
            PartnerOrganisation.carrier_id == tenant.carrier_id)) == "pickup,delivery"
    assert_no_personal_data(page.content(), forbidden=[tenant.account(Role.HQ_SECURITY).password])
    # the one console error is the mistyped version's 422 above: no Content-Security-Policy violation
    assert [e for e in errors if "422" not in e] == [] and hosts <= {"127.0.0.1"}, (errors, hosts)


def test_an_auditor_sees_who_is_due_and_no_form(page: Any, server: LiveServer, tenant: Tenant) -> None:
    tenant.obligations = False
    courier = tenant.account(Role.COURIER)
    tenant.obligations = True
    sign_in(page, server.url, tenant, Role.AUDITOR)
    page.goto(server.url + "/hq/staff")
    assert page.locator(f"#due-{courier.username}").is_visible()
    assert page.locator("form[action^='/hq/staff/']").count() == 0
    # and posting as an auditor records nothing: the console's wall sends them to sign in
    answer = page.request.post(server.url + f"/hq/staff/{courier.user_id}/obligations",
                               form={"kind": "training", "version": "v1", "signed_on": str(today()),
                                     "expires_on": str(today())}, max_redirects=0)
    assert answer.status == 303 and answer.headers["location"].startswith("/hq/login")
