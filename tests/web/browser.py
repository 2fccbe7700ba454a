"""Shared helpers for page tests in headless Chromium (Debian's /usr/bin/chromium, driven by Playwright):
the `browser` fixture, a recorder of the hosts a page reached, the personal-data canary scan, and where
screenshots go. A page test imports the fixture: `from tests.web.browser import browser  # noqa: F401`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from tests.support import IN_CI

CHROMIUM = "/usr/bin/chromium"
# Flags that keep Chromium off the network and quiet on a machine with no way out.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PHONE = {"width": 390, "height": 844}  # a common phone's CSS viewport

# What personal data looks like: a mainland mobile number, and a resident ID number (17 digits + digit or X).
MOBILE_NUMBER = re.compile(r"(?<![0-9])1[3-9][0-9]{9}(?![0-9])")
IDENTIFIER = re.compile(r"(?<![0-9A-Za-z])(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
                        r"|[0-9a-f]{32})(?![0-9A-Za-z])")
ID_NUMBER = re.compile(r"(?<![0-9])[0-9]{17}[0-9Xx](?![0-9A-Za-z])")


# A test machine may have no CJK font, and then every Chinese character shows as a box in a screenshot.
# Chromium is given the CJK font the label renderer ships with (through fontconfig), besides the system's.
CJK_FONTS = Path(__file__).resolve().parents[2] / "src" / "parcelguard" / "waybills" / "fonts"
FONTCONFIG = """<?xml version="1.0"?>
<!DOCTYPE fontconfig SYSTEM "fonts.dtd">
<fontconfig>
  <include ignore_missing="yes">/etc/fonts/fonts.conf</include>
  <dir>{fonts}</dir>
  <cachedir>{cache}</cachedir>
</fontconfig>
"""


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    if not os.path.exists(CHROMIUM):
        message = f"{CHROMIUM} is not installed (apt-get install chromium)"
        if IN_CI:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    config = tmp_path_factory.mktemp("fontconfig")
    (config / "fonts.conf").write_text(FONTCONFIG.format(fonts=CJK_FONTS, cache=config / "cache"))
    env = {**os.environ, "FONTCONFIG_FILE": str(config / "fonts.conf")}
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS, env=env)
        yield b
        b.close()


def record_hosts(page: Any) -> set[str]:
    """The set of hosts the page sends requests to from now on (filled in as it goes)."""
    hosts: set[str] = set()
    page.on("request", lambda request: hosts.add(urlparse(request.url).hostname or ""))
    return hosts


def record_console_errors(page: Any) -> list[str]:
    """The page's console errors from now on: a Content-Security-Policy violation shows up here."""
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors


def assert_no_personal_data(html: str, headers: Mapping[str, str] | None = None, *,
                            forbidden: Iterable[str] = ()) -> None:
    """The canary scan: no mobile number, no ID number and none of the `forbidden` strings (a test's own
    canary values: a full name, an account id, ...) in the page's HTML or its response headers.

    A failure names what was found and where, never the value itself: test output is a log too."""
    places = {"html": html, **{f"header {name}": value for name, value in (headers or {}).items()}}
    for place, text in places.items():
        for kind, pattern in (("a mobile number", MOBILE_NUMBER), ("an ID number", ID_NUMBER)):
            # Identifiers the platform makes (UUIDs, 32-hex request ids) hold digit runs by chance
            found = pattern.search(IDENTIFIER.sub("-", text))
            assert found is None, f"{kind} in the {place} at offset {found.start() if found else -1}"
        for n, value in enumerate(v for v in forbidden if v):
            assert value not in text, f"forbidden string #{n} in the {place}"


def screenshots_dir(default: Path) -> Path:
    """Where page screenshots go: the directory in PARCELGUARD_TEST_SCREENSHOTS_DIR when set (the README says
    how docs/img/ is made), else `default` (a test's tmp_path). A PARCELGUARD_TEST_ variable, because
    tests/conftest.py clears every other PARCELGUARD_* variable so that no test reads a developer's set-up."""
    value = os.environ.get("PARCELGUARD_TEST_SCREENSHOTS_DIR")
    if not value:
        return default
    path = Path(value)
    path.mkdir(parents=True, exist_ok=True)
    return path
