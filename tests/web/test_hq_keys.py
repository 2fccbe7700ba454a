"""The keys page of the HQ console in Debian's headless Chromium, on both engines: the officer rotates the carrier's
key-encryption key (only after ticking the confirmation), re-wraps data keys batch by batch until the progress bar
is full, follows the link to the audit-log entry of the last batch and sees it verified; an auditor sees the same
figures and no button. No page shows personal data."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from parcelguard.core.auth import Role
from parcelguard.crypto.keyring import Keyring
from parcelguard.crypto.types import Aad
from tests.servers import LiveServer
from tests.tenants import Tenant, writing
from tests.waybills.test_label_api import CANARY_TEXT, ID_NUMBER, take_in, terminal_login
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
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, accept_downloads=True)
    yield context.new_page()
    context.close()


def keys_of(engine: Engine, keyring: Keyring, http: httpx.Client, tenant: Tenant) -> None:
    """A parcel taken in, and two more data keys of other classes: three or more data keys under version 1."""
    take_in(http, terminal_login(http, tenant))
    with writing(engine) as s:
        for i in range(2):
            keyring.encrypt(db_session=s, carrier_id=tenant.carrier_id, plaintext=b"x", aad=Aad("t", "v", str(i)),
                            data_class=f"page-{i}")


def scan(page: Any, tenant: Tenant) -> None:
    assert_no_personal_data(page.content(), forbidden=[*CANARY_TEXT, ID_NUMBER, tenant.account(Role.HQ_SECURITY).password])


def progress(page: Any) -> tuple[int, int]:
    bar = page.locator("#rewrap-progress")
    return int(bar.get_attribute("value")), int(bar.get_attribute("max"))


def test_the_officer_rotates_rewraps_to_the_end_and_finds_the_entry_verified(
    page: Any, server: LiveServer, http: httpx.Client, engine: Engine, keyring: Keyring, tenant: Tenant,
    tmp_path: Path
) -> None:
    shots = screenshots_dir(tmp_path)
    keys_of(engine, keyring, http, tenant)
    hosts, errors = record_hosts(page), record_console_errors(page)
    assert sign_in(page, server.url, tenant, Role.HQ_SECURITY).status == 200
    page.get_by_role("link", name="密钥").click()
    page.wait_for_url("**/hq/keys")
    total = progress(page)[1]
    assert total >= 3 and progress(page) == (total, total)
    assert page.locator("#versions tbody tr").count() == 1 and page.locator("#rewrap").is_disabled()

    # Not without the confirmation.
    with page.expect_navigation() as navigation:
        page.locator("#rotate").click()
    assert navigation.value.status == 422 and page.locator("#confirm-error").is_visible()
    assert page.locator("#versions tbody tr").count() == 1
    page.check("#confirm")
    with page.expect_navigation():
        page.locator("#rotate").click()
    assert "v2" in page.locator("#notice").inner_text() and page.locator("#log-entry").count() == 1
    assert page.locator("#versions tbody tr").first.inner_text().startswith("v2")
    assert progress(page) == (0, total)
    # A signed tree head over the rotation's entry: the carrier's log signing key shows among its keys.
    assert http.post("/api/v1/audit/tree-heads", headers=tenant.login(http, Role.AUDITOR)).status_code == 201

    page.fill("#batch", "1")
    seen = [0]
    while not page.locator("#rewrap").is_disabled():
        with page.expect_navigation():
            page.locator("#rewrap").click()
        seen.append(progress(page)[0])
        assert page.locator("#batch").input_value() == "1"  # the batch size stays in the form
        scan(page, tenant)
        if len(seen) == 2:  # part of the way, as the docs show it
            assert "audit_log" in page.locator("#signing-keys").inner_text()
            page.screenshot(path=str(shots / "page-hq-keys.png"), full_page=True)
    assert seen == list(range(total + 1))
    assert "100" in page.locator("#rewrap-figures").inner_text()

    entry = page.locator("#log-entry")
    index = int(entry.get_attribute("href").rsplit("/", 1)[1])
    with page.expect_navigation():
        entry.click()
    assert page.url.endswith(f"/hq/audit/{index}")
    if page.locator("#sign-head").count():
        with page.expect_navigation():
            page.locator("#sign-head").click()
    assert "result--genuine" in page.locator("#verification").get_attribute("class")
    content = page.locator("#entry").inner_text()
    assert "key_rewrap" in content and "keys:rewrapped:1:to:v2" in content
    scan(page, tenant)
    # the one console error is the refused rotation's 422 above: no Content-Security-Policy violation
    assert hosts == {"127.0.0.1"} and [e for e in errors if "422" not in e] == [], (hosts, errors)


def test_the_auditor_sees_the_keys_and_no_button(
    page: Any, server: LiveServer, http: httpx.Client, engine: Engine, keyring: Keyring, tenant: Tenant
) -> None:
    keys_of(engine, keyring, http, tenant)
    officer = tenant.login(http, Role.HQ_SECURITY)
    assert http.post("/api/v1/keys:rotate", headers=officer).status_code == 201
    assert sign_in(page, server.url, tenant, Role.AUDITOR).status == 200
    page.goto(server.url + "/hq/keys")
    assert page.locator("h1").inner_text() == "密钥管理"
    assert page.locator("#read-only").is_visible()
    assert page.locator("form#rotate-form, form#rewrap-form, #rotate, #rewrap, #confirm").count() == 0
    assert page.locator("#versions tbody tr").count() == 2 and progress(page)[0] == 0
    scan(page, tenant)
    # The page's actions refuse an auditor as the API does: back to the sign-in page, nothing rotated.
    csrf = page.locator("nav input[name=csrf]").get_attribute("value")
    r = page.request.post(server.url + "/hq/keys/rotate", form={"csrf": csrf, "confirm": "on"}, max_redirects=0)
    assert r.status == 303 and r.headers["location"].endswith("/hq/login")
    assert http.get("/api/v1/keys", headers=officer).json()["primary_version"] == 2
