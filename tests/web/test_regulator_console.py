"""The regulator's console in Debian's headless Chromium, over the whole chain as `make run` starts it
(`init --demo`, then `run-all`: the carrier platform, the uploader and the regulator's platform): the
official signs in on the regulator's platform and, on the dashboard, sees a parcel taken in at a carrier
appear in the counts within the 30-second rule; the delay table and the charts carry numbers; a carrier's
staff cannot sign in there."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.regulator.test_chain import PARCEL
from tests.support import demo_chain
from tests.web.browser import PHONE, browser, record_hosts, screenshots_dir  # noqa: F401  (browser: a fixture)


@pytest.fixture
def chain(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """The demo chain on this machine: (carrier platform URL, regulator platform URL)."""
    with demo_chain(tmp_path / "var") as urls:
        yield urls


def demo_count(page: Any) -> int:
    """The demo carrier's records in the dashboard's figures (0 when it has none yet)."""
    table = page.locator("#by-carrier + table")
    if table.count() == 0:
        return 0
    row = table.locator("tr", has_text="demo")
    return int(row.locator("td").inner_text()) if row.count() else 0


def test_the_official_sees_a_parcel_on_the_dashboard_within_the_30_second_rule(
    browser: Any, chain: tuple[str, str], tmp_path: Path  # noqa: F811
) -> None:
    url, regulator = chain
    page = browser.new_context(viewport={"width": 1024, "height": 900}).new_page()
    hosts = record_hosts(page)
    page.goto(regulator + "/login")
    page.fill("#username", "demo-official")
    page.fill("#password", "parcelguard-demo")
    with page.expect_navigation():
        page.get_by_role("button", name="登录").click()
    assert page.url.endswith("/dashboard")
    assert page.locator("#delays").is_visible()
    before = demo_count(page)

    shop = httpx.post(f"{url}/api/v1/auth/token", data={"username": "demo-shop", "password": "parcelguard-demo"})
    taken_at = time.monotonic()
    r = httpx.post(f"{url}/api/v1/shipments:batch", json={"shipments": [PARCEL]}, timeout=30,
                   headers={"Authorization": f"Bearer {shop.json()['access_token']}"})
    assert r.json()["accepted"] == 1, r.text
    while demo_count(page) <= before:
        assert time.monotonic() - taken_at < 30, "the parcel did not reach the dashboard within 30 s"
        page.wait_for_timeout(500)
        page.reload()
    # The delay table names the carrier with its figures; the chart draws a bar with the number beside it.
    delays = page.locator("#delays").inner_text()
    assert "demo" in delays and re.search(r"\d+\.\d s", delays)
    assert page.locator("#by-carrier rect").count() >= 1
    assert (page.locator("#by-carrier .bar-value").first.text_content() or "").strip().isdigit()
    page.screenshot(path=str(screenshots_dir(tmp_path) / "page-regulator-dashboard.png"), full_page=True)

    # The official looks the parcel up by its waybill number with a stated purpose: without one, nothing
    # is looked up; with one, the records come and the lookup log holds the purpose, its chain verified.
    number = r.json()["results"][0]["shipment"]["waybill_no"]
    page.goto(regulator + "/lookup")
    page.fill("#number", number)
    with page.expect_navigation() as navigation:
        page.get_by_role("button", name="查询（记入日志）").click()
    assert navigation.value.status == 422 and page.locator("#purpose-error").is_visible()
    assert page.locator("#number").input_value() == ""  # never written back
    page.fill("#number", number)
    page.fill("#purpose", "案件 JC-2026-118 核查寄件人")
    with page.expect_navigation() as navigation:
        page.get_by_role("button", name="查询（记入日志）").click()
    assert navigation.value.status == 200
    records = page.locator("#records").inner_text()
    assert number in records and "demo" in records
    page.goto(regulator + "/lookups?verify=1")
    assert "校验通过" in page.locator("#verified").inner_text()
    assert page.locator("#lookups .purpose").first.inner_text() == "案件 JC-2026-118 核查寄件人"
    page.screenshot(path=str(screenshots_dir(tmp_path) / "page-regulator-lookups.png"), full_page=True)
    assert hosts == {"127.0.0.1"}, hosts

    # A carrier's staff have no account here; the dashboard without a session leads to the sign-in.
    page.goto(regulator + "/login")
    page.fill("#username", "demo-security")
    page.fill("#password", "parcelguard-demo")
    with page.expect_navigation() as navigation:
        page.get_by_role("button", name="登录").click()
    assert navigation.value.status == 422
    fresh = browser.new_context().new_page()
    fresh.goto(regulator + "/dashboard")
    assert fresh.url.endswith("/login")
