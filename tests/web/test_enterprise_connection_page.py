"""The enterprise console's connection page (`/connections/{id}`, issue 16) in Debian's headless Chromium, against
two real carrier platforms (each its own process and database, on both engines): the admin opens a connection from
the home page, a bad change is named next to each field and changes nothing; the connection is moved to the second
carrier with the company's account there and the next order goes to that carrier; paused, it shows a badge and is
not quoted; resumed, it is again. The walls as `PATCH /api/v1/connections/{id}`: a shipper is refused (403),
another company's admin gets 404. The company's account at the carrier is in no page and no log line."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx

from parcelguard.web import i18n
from tests.enterprise.carriers import CarrierPlatform
from tests.enterprise.conftest import carriers, make_company  # noqa: F401  (carriers: a fixture)
from tests.enterprise.test_orders import connect, order, order_console  # noqa: F401  (order_console: a fixture)
from tests.web.browser import (  # noqa: F401  (browser: a fixture)
    assert_no_personal_data,
    browser,
    record_console_errors,
    record_hosts,
    screenshots_dir,
)
from tests.web.test_enterprise_pages import (  # noqa: F401  (log_lines: a fixture)
    CARRIER_PASSWORD,
    log_lines,
    phone_page,
    sign_in,
    submit,
)

QUOTE = {"origin_province": "北京", "destination_province": "上海", "weight_kg": "1.2"}
QUOTE_PAGE = "/quote?origin_province=北京市&destination_province=上海市&weight_kg=1.2"


def scan(page: Any, carriers: list[CarrierPlatform]) -> None:  # noqa: F811
    """The canary scan: no personal data, and neither the company's username nor its password at any carrier."""
    forbidden = [CARRIER_PASSWORD, *(c.username for c in carriers), *(c.password for c in carriers)]
    assert_no_personal_data(page.content(), forbidden=forbidden)


def listed(http: httpx.Client, admin: dict[str, str]) -> list[dict[str, Any]]:
    r = http.get("/api/v1/connections", headers=admin)
    assert r.status_code == 200, r.text
    return list(r.json())


def quoted(http: httpx.Client, shipper: dict[str, str]) -> list[str]:
    r = http.post("/api/v1/quotes", headers=shipper, json=QUOTE)
    assert r.status_code == 200, r.text
    return [q["connection_id"] for q in r.json()["quotes"]]


def test_the_admin_moves_a_connection_to_another_carrier_account_then_pauses_and_resumes_it(
    browser: Any, carriers: list[CarrierPlatform], order_console: tuple[str, str], tmp_path: Path,  # noqa: F811
    log_lines: list[str],  # noqa: F811
) -> None:
    console, database_url = order_console
    company = make_company(database_url)
    shots = screenshots_dir(tmp_path)
    with httpx.Client(base_url=console, timeout=30) as http:
        admin, shipper = company.login(http, company.admin), company.login(http, company.shipper)
        cid = connect(http, admin, "ZTO", carriers[0], price=8, days=3)
        before = listed(http, admin)
        page = phone_page(browser)
        hosts, console_errors = record_hosts(page), record_console_errors(page)
        sign_in(page, console, company.admin)

        # From the home page to the connection: what it is, the account fields empty.
        with page.expect_navigation():
            page.locator("#connection-ZTO a.connection-link").click()
        assert page.url == console + f"/connections/{cid}"
        assert page.locator("#connection-base-url").inner_text() == carriers[0].url
        assert page.locator("#connection").get_attribute("data-active") == "true"
        assert page.locator("#name").input_value() == "ZTO"
        assert page.locator("#carrier_username").input_value() == page.locator("#carrier_password").input_value() == ""
        scan(page, carriers)

        # A bad address and a password without a username: each named next to its field, nothing changed.
        page.fill("#base_url", "ftp://carrier.example")
        page.fill("#carrier_password", CARRIER_PASSWORD)
        assert submit(page, "#change-connection").status == 422
        assert page.locator("#base_url-error").inner_text() == i18n.ZH["enterprise.code.base_url_format"]
        assert page.locator("#carrier_username-error").inner_text() == i18n.ZH["enterprise.connection.both"]
        for field in ("base_url", "carrier_username"):
            assert page.locator(f"#{field}").get_attribute("aria-invalid") == "true", field
        assert page.locator("#name-error").count() == 0 and page.locator("#carrier_password-error").count() == 0
        assert page.locator("#not-saved").is_visible() and page.locator("#notice").count() == 0
        assert page.locator("#base_url").input_value() == "ftp://carrier.example"
        assert page.locator("#carrier_password").input_value() == ""
        assert page.locator("#connection-base-url").inner_text() == carriers[0].url
        scan(page, carriers)
        assert listed(http, admin) == before

        # Moved to the second carrier with the company's account there: saved, and nothing of the account shown.
        page.fill("#name", "ZTO 新网关")
        page.fill("#base_url", carriers[1].url + "/")
        page.fill("#carrier_username", carriers[1].username)
        page.fill("#carrier_password", carriers[1].password)
        assert submit(page, "#change-connection").status == 200
        assert page.url == console + f"/connections/{cid}?saved=changed"
        assert page.locator("#notice").inner_text() == i18n.ZH["enterprise.connection.saved_changed"]
        assert page.locator("#connection-base-url").inner_text() == carriers[1].url
        assert page.locator("#connection-name").inner_text() == "ZTO 新网关"
        assert page.locator("#carrier_username").input_value() == page.locator("#carrier_password").input_value() == ""
        scan(page, carriers)
        page.screenshot(path=str(shots / "page-enterprise-connection.png"), full_page=True)
        [moved] = listed(http, admin)
        assert (moved["base_url"], moved["name"], moved["code"], moved["active"]) == (carriers[1].url, "ZTO 新网关",
                                                                                       "ZTO", True)

        # The next order goes to the second carrier.
        shipped = [c.shipments() for c in carriers]
        placed = http.post("/api/v1/orders", headers=shipper, json=order(cid))
        assert placed.status_code == 201, placed.text
        assert placed.json()["waybill_no"].startswith(carriers[1].waybill_prefix)
        assert [c.shipments() for c in carriers] == [shipped[0], shipped[1] + 1]

        # The page in English, a refusal too.
        page.goto(console + f"/connections/{cid}?lang=en")
        assert page.locator("#change-title").inner_text() == i18n.EN["enterprise.connection.change_title"]
        page.fill("#base_url", "not an address")
        assert submit(page, "#change-connection").status == 422
        assert page.locator("#base_url-error").inner_text() == i18n.EN["enterprise.code.base_url_format"]
        page.goto(console + f"/connections/{cid}?lang=zh")

        # Paused: a badge here and on the home page; no quote, on the page or over the API; no order.
        assert submit(page, "#active-form").status == 200
        assert page.url == console + f"/connections/{cid}?saved=paused"
        assert page.locator("#connection").get_attribute("data-active") == "false"
        assert page.locator("#connection-state .connection-paused").is_visible()
        assert page.locator("#resume").is_visible() and page.locator("#pause").count() == 0
        assert not listed(http, admin)[0]["active"]
        page.goto(console + "/")
        assert page.locator("#connection-ZTO .connection-paused").inner_text() == i18n.ZH["enterprise.home.inactive"]
        page.goto(console + QUOTE_PAGE)
        assert page.locator("#no-quotes").is_visible() and page.locator("#quotes").count() == 0
        assert "ZTO" not in page.locator("#quote-result").inner_text()
        assert quoted(http, shipper) == []
        refused = http.post("/api/v1/orders", headers=shipper, json=order(cid))
        assert (refused.status_code, refused.json()["code"]) == (409, "connection_paused")

        # Resumed: no badge, quoted again.
        page.goto(console + f"/connections/{cid}")
        assert submit(page, "#active-form").status == 200
        assert page.url == console + f"/connections/{cid}?saved=resumed"
        assert page.locator("#connection").get_attribute("data-active") == "true"
        page.goto(console + "/")
        assert page.locator("#connection-ZTO .connection-paused").count() == 0
        page.goto(console + QUOTE_PAGE)
        assert page.locator("#quotes tr.quote").get_attribute("data-carrier") == "ZTO"
        assert quoted(http, shipper) == [cid]

    assert hosts == {"127.0.0.1"}, hosts
    assert not [e for e in console_errors if "Content Security Policy" in e or "Refused to" in e], console_errors
    assert log_lines, "no log line was captured"
    assert not [line for line in log_lines if CARRIER_PASSWORD in line or carriers[1].username in line]


def test_a_shipper_is_refused_and_another_company_gets_404(
    browser: Any, carriers: list[CarrierPlatform], order_console: tuple[str, str],  # noqa: F811
) -> None:
    console, database_url = order_console
    company, other = make_company(database_url), make_company(database_url)
    with httpx.Client(base_url=console, timeout=30) as http:
        admin = company.login(http, company.admin)
        cid = connect(http, admin, "ZTO", carriers[0], price=8, days=3)
        before = listed(http, admin)
    change = {"name": "改名", "base_url": "http://127.0.0.1:9", "carrier_username": "u",
              "carrier_password": CARRIER_PASSWORD}

    # A shipper: no link, and the page and both forms refused as the API refuses (403).
    page = phone_page(browser)
    sign_in(page, console, company.shipper)
    assert page.locator("#connection-ZTO").is_visible() and page.locator("a.connection-link").count() == 0
    response = page.goto(console + f"/connections/{cid}")
    assert response.status == 403 and 'data-code="role_not_allowed"' in page.content()
    assert page.locator("#change-connection").count() == 0 and page.locator("#active-form").count() == 0
    csrf = page.locator("nav input[name=csrf]").get_attribute("value")
    answer = page.request.post(console + f"/connections/{cid}", form={"csrf": csrf, **change}, max_redirects=0)
    assert answer.status == 403 and CARRIER_PASSWORD not in answer.text()
    answer = page.request.post(console + f"/connections/{cid}/active", form={"csrf": csrf, "active": "false"},
                               max_redirects=0)
    assert answer.status == 403

    # Another company's admin: none of theirs (404), read or written; a malformed or unknown id is 404 too.
    stranger = phone_page(browser)
    sign_in(stranger, console, other.admin)
    response = stranger.goto(console + f"/connections/{cid}")
    assert response.status == 404 and 'data-code="connection_unknown"' in stranger.content()
    assert carriers[0].url not in stranger.content()
    csrf = stranger.locator("nav input[name=csrf]").get_attribute("value")
    answer = stranger.request.post(console + f"/connections/{cid}", form={"csrf": csrf, **change}, max_redirects=0)
    assert answer.status == 404 and 'data-code="connection_unknown"' in answer.text()
    answer = stranger.request.post(console + f"/connections/{cid}/active", form={"csrf": csrf, "active": "false"},
                                   max_redirects=0)
    assert answer.status == 404
    assert stranger.goto(console + "/connections/not-an-id").status == 404
    assert stranger.goto(console + f"/connections/{uuid.uuid4()}").status == 404

    # No session: the sign-in, and a form sent without one changes nothing.
    fresh = phone_page(browser)
    fresh.goto(console + f"/connections/{cid}")
    assert fresh.url == console + "/login"
    answer = fresh.request.post(console + f"/connections/{cid}/active", form={"csrf": "x", "active": "false"},
                                max_redirects=0)
    assert answer.status == 303 and answer.headers["location"] == "/login"

    with httpx.Client(base_url=console, timeout=30) as http:
        assert listed(http, company.login(http, company.admin)) == before
