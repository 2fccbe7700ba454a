"""The pages as a person sees them, in Debian's headless Chromium driven by Playwright."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest

from tests.servers import LiveServer
from tests.support import IN_CI

CHROMIUM = "/usr/bin/chromium"
# Flags that keep Chromium off the network and quiet on a machine with no way out.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not os.path.exists(CHROMIUM):
        message = f"{CHROMIUM} is not installed (apt-get install chromium)"
        if IN_CI:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


def test_the_home_page_leads_to_a_working_api_reference_without_leaving_the_machine(
    browser: object, server: LiveServer, tmp_path: Path
) -> None:
    page = browser.new_page()  # type: ignore[attr-defined]
    hosts: set[str] = set()
    page.on("request", lambda request: hosts.add(urlparse(request.url).hostname or ""))
    page.goto(server.url + "/")
    assert page.locator("h1").inner_text() == "parcelguard"
    assert "privacy waybills" in page.locator("body").inner_text().lower()
    page.get_by_role("link", name="API reference").click()
    page.wait_for_url("**/docs")
    page.locator(".swagger-ui .info .title").wait_for(timeout=15_000)
    assert "parcelguard" in page.locator(".swagger-ui .info .title").inner_text()
    page.locator(".opblock-summary-path", has_text="/api/v1/me").first.wait_for(timeout=15_000)
    page.screenshot(path=os.environ.get("PARCELGUARD_TEST_SCREENSHOT", str(tmp_path / "docs.png")))
    # Every asset came from the platform itself: no CDN, nothing leaves the machine.
    assert hosts == {"127.0.0.1"}, hosts
    page.close()
