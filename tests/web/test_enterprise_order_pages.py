"""The enterprise console's ship and find pages (issue 16) in Debian's headless Chromium, against two real carrier
platforms (each its own process and database, on both engines): a shipper fills `/ship`, compares, ships with
the cheapest carrier, opens the label and the tracking; then finds the order again on `/find` by the recipient's
phone and reveals its parties; the admin's `/access-log` shows both, verified. A bad field is named next to it and
writes nothing; another company gets 404; no page but the reveal holds a personal value, and that one is not
stored."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx

from parcelguard.enterprise.platform.models import Order
from parcelguard.web import i18n
from tests.enterprise.carriers import CarrierPlatform
from tests.enterprise.conftest import carriers, make_company  # noqa: F401  (carriers: a fixture)
from tests.enterprise.test_orders import CANARIES, RECIPIENT, SENDER, connect, order_console  # noqa: F401
from tests.support import count_rows
from tests.web.browser import (  # noqa: F401  (browser: a fixture)
    assert_no_personal_data,
    browser,
    record_console_errors,
    record_hosts,
    screenshots_dir,
)
from tests.web.test_enterprise_pages import log_lines, phone_page, sign_in, submit  # noqa: F401

INPUT_VALUE = re.compile(r'(<input\b[^>]*?) value="[^"]*"')


def scan(page: Any, *, form_values: bool = False) -> None:
    """The canary scan; with `form_values`, the ship form's own inputs (what the shipper typed, kept on an
    error) are left out, and nothing of it may be anywhere else in the page."""
    html = page.content()
    assert_no_personal_data(INPUT_VALUE.sub(r"\1", html) if form_values else html, forbidden=CANARIES)


def fill_order(page: Any, **changes: str) -> None:
    values = {"sender_name": SENDER["name"], "sender_phone": SENDER["phone"], "sender_address": SENDER["address"],
              "recipient_name": RECIPIENT["name"], "recipient_phone": RECIPIENT["phone"],
              "recipient_city": RECIPIENT["city"], "recipient_district": RECIPIENT["district"],
              "recipient_detail": RECIPIENT["detail"], "weight_kg": "1.2", "item_description": "羽绒服",
              "item_quantity": "1", **changes}
    for name, value in values.items():
        page.fill(f"#{name}", value)
    page.select_option("#sender_province", "北京市")
    page.select_option("#recipient_province", "上海市")
    page.select_option("#item_category", "clothing")


def orders_of(url: str, company_id: Any) -> int:
    return count_rows(url, Order, Order.company_id == company_id)


def test_a_shipper_ships_with_the_cheapest_carrier_and_finds_the_order_again_by_phone(
    browser: Any, carriers: list[CarrierPlatform], order_console: tuple[str, str], tmp_path: Path,  # noqa: F811
    log_lines: list[str],  # noqa: F811
) -> None:
    console, database_url = order_console
    company = make_company(database_url)
    shots = screenshots_dir(tmp_path)
    with httpx.Client(base_url=console, timeout=30) as http:
        admin = company.login(http, company.admin)
        connect(http, admin, "ZTO", carriers[0], price=8, days=3)
        connect(http, admin, "SF", carriers[1], price=20, days=1)
    page = phone_page(browser)
    hosts, console_errors = record_hosts(page), record_console_errors(page)
    sign_in(page, console, company.shipper)
    assert page.locator("nav a[href='/ship']").is_visible() and page.locator("nav a[href='/access-log']").count() == 0

    # A bad phone: named next to its field, the form keeps its values, no order written, no carrier called.
    page.goto(console + "/ship")
    fill_order(page, recipient_phone="call me")
    assert submit(page, "#ship-form").status == 422
    assert page.locator("#recipient_phone-error").is_visible()
    assert page.locator("#recipient_phone").get_attribute("aria-invalid") == "true"
    assert page.locator("#sender_phone-error").count() == 0 and page.locator("#quotes").count() == 0
    assert page.locator("#recipient_name").input_value() == RECIPIENT["name"]
    assert page.locator("#item_category").input_value() == "clothing"
    scan(page, form_values=True)
    assert orders_of(database_url, company.id) == 0

    # Compare: both carriers, ZTO the cheapest and chosen; ship with it.
    page.fill("#recipient_phone", RECIPIENT["phone"])
    assert submit(page, "#ship-form").status == 200
    quotes = page.locator("#quotes tr.quote")
    assert [quotes.nth(i).get_attribute("data-carrier") for i in range(quotes.count())] == ["ZTO", "SF"]
    assert page.locator("#pick-ZTO").is_checked() and not page.locator("#pick-SF").is_checked()
    assert "最便宜" in quotes.nth(0).inner_text()
    scan(page, form_values=True)
    page.screenshot(path=str(shots / "page-enterprise-ship.png"), full_page=True)
    before = [c.shipments() for c in carriers]
    with page.expect_navigation() as navigation:
        page.locator("#ship").click()
    assert navigation.value.status == 200
    waybill = page.locator("#waybill-no").inner_text()
    assert waybill.startswith(carriers[0].waybill_prefix), waybill
    assert page.locator("#price").inner_text() == "10.00"
    assert [c.shipments() for c in carriers] == [before[0] + 1, before[1]]
    assert "/ship" in page.url and not [c for c in CANARIES if c in page.url]
    scan(page)

    # The label (the carrier's PDF) and the tracking (accepted)
    label_href = page.locator("#label-link").get_attribute("href")
    tracking_href = page.locator("#tracking-link").get_attribute("href")
    label = page.request.get(console + label_href)
    assert label.status == 200 and label.body().startswith(b"%PDF")
    assert label.headers["content-type"] == "application/pdf"
    assert page.goto(console + tracking_href).status == 200
    assert page.locator("#status").get_attribute("data-status") == "accepted"
    assert page.locator("#waybill-no").inner_text() == waybill
    scan(page)

    # The waybill number is lost: found by the recipient's phone, masked; the query is in no address or page.
    page.goto(console + "/find")
    page.fill("#q", RECIPIENT["phone"])
    page.select_option("#purpose", "lost_waybill")
    assert submit(page, "#find-form").status == 200
    rows = page.locator("#found tr.order")
    assert rows.count() == 1 and rows.first.get_attribute("data-waybill") == waybill
    assert "司马***" in rows.first.inner_text() and "5555" in rows.first.inner_text()
    assert page.locator("#q").input_value() == "" and page.url == console + "/find"
    scan(page)
    page.screenshot(path=str(shots / "page-enterprise-find.png"), full_page=True)
    with page.expect_navigation() as navigation:
        rows.first.locator(".reveal-form button").click()
    revealed = navigation.value
    assert revealed.status == 200 and revealed.headers["cache-control"] == "no-store"
    assert page.locator("#recipient-phone").inner_text() == "+86" + RECIPIENT["phone"]
    assert RECIPIENT["name"] in page.locator("#recipient").inner_text()
    assert "找回运单号" in page.locator("#notice").inner_text()
    # The shipper has no access log
    denied = page.goto(console + "/access-log")
    assert denied.status == 403 and 'data-code="role_not_allowed"' in page.content()

    # Another company: the order is none of theirs (404), label or tracking, and its search finds nothing.
    other = make_company(database_url)
    stranger = phone_page(browser)
    sign_in(stranger, console, other.admin)
    for href in (tracking_href, label_href):
        response = stranger.goto(console + href)
        assert response.status == 404 and 'data-code="order_unknown"' in stranger.content(), href
        assert waybill not in stranger.content()
    stranger.goto(console + "/find")
    stranger.fill("#q", RECIPIENT["phone"])
    stranger.select_option("#purpose", "audit")
    assert submit(stranger, "#find-form").status == 200 and stranger.locator("#none-found").is_visible()

    # The admin's access log: the search and the reveal, newest first, the chain verified.
    admin_page = phone_page(browser)
    sign_in(admin_page, console, company.admin)
    admin_page.goto(console + "/find")
    admin_page.locator("#access-log-link").click()
    admin_page.wait_for_url(console + "/access-log")
    entries = admin_page.locator("#entries tr.entry")
    assert [(entries.nth(i).get_attribute("data-action"), entries.nth(i).get_attribute("data-kind"))
            for i in range(entries.count())] == [("reveal", "order"), ("search", "phone")]
    assert admin_page.locator("#verified").get_attribute("data-verified") == "true"
    assert i18n.ZH["enterprise.purpose.lost_waybill"] in entries.nth(0).inner_text()
    scan(admin_page)

    assert hosts == {"127.0.0.1"}, hosts
    assert not [e for e in console_errors if "Content Security Policy" in e or "Refused to" in e], console_errors
    assert log_lines and not [line for line in log_lines for c in CANARIES if c in line]


def test_a_refused_parcel_names_the_field_and_a_silent_carrier_leaves_the_order_waiting(
    browser: Any, carriers: list[CarrierPlatform], order_console: tuple[str, str],  # noqa: F811
) -> None:
    console, database_url = order_console
    company = make_company(database_url)
    with httpx.Client(base_url=console, timeout=30) as http:
        admin = company.login(http, company.admin)
        connect(http, admin, "ZTO", carriers[0], price=8, days=3)
        connect(http, admin, "DOWN", None, price=5, days=2)
    page = phone_page(browser)
    sign_in(page, console, company.shipper)
    page.goto(console + "/ship")
    fill_order(page, item_description="烟花")
    page.select_option("#item_category", "household")
    assert submit(page, "#ship-form").status == 200
    assert page.locator("#pick-DOWN").is_checked()

    # ZTO refuses fireworks: the field it refused is named, next to it and in the notice; the values are kept.
    before = carriers[0].shipments()
    page.locator("#pick-ZTO").check()
    with page.expect_navigation() as navigation:
        page.locator("#ship").click()
    assert navigation.value.status == 422
    assert [li.get_attribute("data-field") for li in page.locator("#refused-fields li").all()] == ["item_description"]
    assert i18n.ZH["enterprise.ship.field.item_description"] in page.locator("#refused-fields").inner_text()
    assert page.locator("#item_description-error").is_visible()
    assert page.locator("#item_description").input_value() == "烟花" and page.locator("#pick-ZTO").is_checked()
    assert carriers[0].shipments() == before
    scan(page, form_values=True)

    # DOWN does not answer: the order waits, and the button sends it again.
    page.fill("#item_description", "羽绒服")
    page.select_option("#item_category", "clothing")
    page.locator("#pick-DOWN").check()
    with page.expect_navigation() as navigation:
        page.locator("#ship").click()
    assert navigation.value.status == 503
    assert i18n.ZH["enterprise.ship.waiting"] in page.locator("#notice").inner_text()
    assert page.locator("#recipient_detail").input_value() == RECIPIENT["detail"]
    scan(page, form_values=True)
    assert orders_of(database_url, company.id) == 2  # the refused one (failed) and the waiting one
    assert submit(page, "#send-again").status == 503
    assert page.locator("#send-again").is_visible()
