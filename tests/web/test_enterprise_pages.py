"""The enterprise console's pages (issue 16) in Debian's headless Chromium, on the console app served over
loopback on both engines (the fixtures of tests/enterprise): the admin signs in, connects two carriers (a bad
connection first: errors next to the fields, nothing written), imports each one's rate table (a bad file
first: every error listed with its sheet, row and column, nothing written), and a shipper compares the two for
a parcel, cheapest and fastest marked, at the API's prices. The walls: a shipper gets no admin form and is
refused as the API refuses; another company gets 404; no session leads to the sign-in. The carrier password
typed into the form is in no page and no log line."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, func, select

from parcelguard.core.clock import now
from parcelguard.enterprise.platform.models import CarrierConnection
from parcelguard.enterprise.rates.model import beijing_date
from parcelguard.web import i18n
from tests.enterprise.conftest import (  # noqa: F401  (console, console_url: fixtures)
    PASSWORD,
    Company,
    console,
    console_url,
    make_company,
)
from tests.enterprise.test_console_api import HEADER, versions_in
from tests.web.browser import (  # noqa: F401  (browser: a fixture)
    PHONE,
    assert_no_personal_data,
    browser,
    record_console_errors,
    record_hosts,
    screenshots_dir,
)

CARRIER_PASSWORD = "Canary-Carrier-Pw-7qX"  # the canary no page and no log line may hold
# SF: dearer and faster; ZTO: cheaper and slower, plus a 10 % fuel surcharge in a second CSV
SF = HEADER + "广东,北京,,1,18,1,6,30,1,2\n广东,上海,,1,16,1,5,30,1,2\n"
ZTO = HEADER + "广东,北京,,1,10,1,3,30,2,4\n广东,上海,,1,9,1,2,30,2,3\n广东,广东,深圳,1,12,1,2,30,1,1\n"
ZTO_SURCHARGES = "名称,类型,金额\n燃油附加费,percent,10%\n"
# Row 3: a province that is none, and a price that is no number; row 4: no first weight
BAD = HEADER + "广东,北京,,1,18,1,6,30,1,2\n广东,火星,,1,abc,1,6,30,1,2\n广东,上海,,,16,1,5,30,1,2\n"


@pytest.fixture
def log_lines() -> Iterator[list[str]]:
    """Every log line of the process while the test runs, rendered as the console's handler renders them."""
    root = logging.getLogger()
    lines: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    keep = Keep()
    if root.handlers and root.handlers[0].formatter is not None:
        keep.setFormatter(root.handlers[0].formatter)
    root.addHandler(keep)
    yield lines
    root.removeHandler(keep)


def connections_of(url: str, company: Company) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.scalar(select(func.count()).select_from(CarrierConnection)
                                   .where(CarrierConnection.company_id == company.id)) or 0)
    finally:
        engine.dispose()


def phone_page(browser: Any) -> Any:  # noqa: F811
    return browser.new_context(viewport=PHONE, locale="zh-CN").new_page()


def sign_in(page: Any, console: str, username: str) -> Any:  # noqa: F811
    page.goto(console + "/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    with page.expect_navigation() as navigation:
        page.get_by_role("button", name="登录").click()
    assert page.url == console + "/", page.url
    return navigation.value


def submit(page: Any, form: str) -> Any:
    with page.expect_navigation() as navigation:
        page.locator(f"{form} button[type=submit]").click()
    return navigation.value


def scan(page: Any) -> None:
    """The canary scan of the page as it stands: no personal data and never the carrier password."""
    assert_no_personal_data(page.content(), forbidden=[CARRIER_PASSWORD])


def connect(page: Any, code: str, name: str, base_url: str) -> Any:
    page.fill("#code", code)
    page.fill("#name", name)
    page.fill("#base_url", base_url)
    page.fill("#carrier_username", f"acct-{code.lower()}")
    page.fill("#carrier_password", CARRIER_PASSWORD)
    return submit(page, "#add-connection")


def upload(page: Any, name: str, data: str, version: str, day: str, surcharges: str | None = None) -> Any:
    page.set_input_files("#file", files=[{"name": name, "mimeType": "text/csv", "buffer": data.encode()}])
    if surcharges is not None:
        page.set_input_files("#surcharges", files=[{"name": "surcharges.csv", "mimeType": "text/csv",
                                                   "buffer": surcharges.encode()}])
    page.fill("#version", version)
    page.fill("#effective_from", day)
    return submit(page, "#upload")


def rates_url(page: Any, code: str) -> str:
    href = page.locator(f"#connection-{code} a.rates-link").get_attribute("href")
    assert href and href.startswith("/carriers/") and href.endswith("/rates"), href
    return str(href)


def test_the_admin_connects_and_imports_two_carriers_and_the_shipper_compares_them(
    browser: Any, console: str, console_url: str, tmp_path: Path, log_lines: list[str],  # noqa: F811
) -> None:
    company = make_company(console_url)
    shots = screenshots_dir(tmp_path)
    day = (beijing_date(now()) - timedelta(days=30)).isoformat()
    page = phone_page(browser)
    hosts, console_errors = record_hosts(page), record_console_errors(page)
    page.goto(console + "/")
    assert page.url == console + "/login"
    sign_in(page, console, company.admin)
    assert page.locator("#no-connections").is_visible()
    assert "管理员" in page.locator("#who").inner_text()

    # A bad connection: each error next to its field, nothing written, the password never written back.
    response = connect(page, "bad code!", "顺丰速运", "ftp://carrier.example")
    assert response.status == 422
    for field in ("code", "base_url"):
        assert page.locator(f"#{field}-error").is_visible(), field
        assert page.locator(f"#{field}").get_attribute("aria-invalid") == "true"
    assert page.locator("#name-error").count() == 0
    assert page.locator("#code").input_value() == "bad code!"
    assert page.locator("#name").input_value() == "顺丰速运"
    assert page.locator("#carrier_password").input_value() == ""
    scan(page)
    assert connections_of(console_url, company) == 0
    # A field left empty is named too, and nothing else is checked or written.
    page.fill("#code", "SF")
    page.fill("#base_url", "http://127.0.0.1:9/")
    assert submit(page, "#add-connection").status == 422
    assert page.locator("#carrier_password-error").is_visible()
    assert connections_of(console_url, company) == 0

    assert connect(page, "SF", "顺丰速运", "http://127.0.0.1:9/").status == 200
    assert page.url == console + "/?added=SF"
    assert "SF" in page.locator("#notice").inner_text()
    scan(page)
    assert connect(page, "ZTO", "中通快递", "http://127.0.0.1:9/zto").status == 200
    assert connections_of(console_url, company) == 2
    assert page.locator("#connections tbody tr").count() == 2
    assert "尚无生效的价格表" in page.locator("#connection-SF .in-force").inner_text()
    scan(page)
    page.screenshot(path=str(shots / "page-enterprise-connections.png"), full_page=True)
    sf, zto = rates_url(page, "SF"), rates_url(page, "ZTO")

    # A bad file: every error with its sheet, row and column; the form keeps its values; nothing written.
    page.goto(console + sf)
    assert page.locator("#no-versions").is_visible()
    response = upload(page, "sf.csv", BAD, "2027 协议价", day)
    assert response.status == 422
    rows = page.locator("#rate-errors tr.rate-error")
    found = {(rows.nth(i).get_attribute("data-sheet"), rows.nth(i).get_attribute("data-row"),
              rows.nth(i).get_attribute("data-column")) for i in range(rows.count())}
    assert {("rates", "3", "B"), ("rates", "3", "E"), ("rates", "4", "D")} <= found, found
    assert "3 处错误" in page.locator("#errors-title").inner_text()
    assert "未导入" in page.locator("#notice").inner_text()
    assert "价格表" in rows.first.inner_text()
    assert page.locator("#version").input_value() == "2027 协议价"
    assert page.locator("#effective_from").input_value() == day
    assert versions_in(console_url, sf.split("/")[2]) == 0
    scan(page)
    page.screenshot(path=str(shots / "page-enterprise-rates-errors.png"), full_page=True)
    # The same errors in English
    page.goto(console + sf + "?lang=en")
    assert upload(page, "sf.csv", BAD, "2027 协议价", day).status == 422
    assert "row" not in page.locator("#rate-errors .rate-error-text").first.inner_text()
    assert "rates" in page.locator("#rate-errors tr.rate-error").first.inner_text()
    page.goto(console + sf + "?lang=zh")

    assert upload(page, "sf.csv", SF, "2027 协议价", day).status == 200
    assert "已导入「2027 协议价」" in page.locator("#notice").inner_text()
    version = page.locator("#versions tr.version")
    assert version.count() == 1 and version.locator(".lanes").inner_text() == "2"
    assert "今日生效" in version.inner_text() and "sf.csv" in version.inner_text()
    # A second version on a day already taken: 409 as the API, the error next to the day, nothing written.
    assert upload(page, "sf.csv", SF, "2027 调价", day).status == 409
    assert i18n.ZH["enterprise.code.rate_version_exists"] in page.locator("#effective_from-error").inner_text()
    assert page.locator("#rate-errors").count() == 0 and versions_in(console_url, sf.split("/")[2]) == 1
    page.goto(console + zto)
    assert upload(page, "zto.csv", ZTO, "2027 协议价", day, surcharges=ZTO_SURCHARGES).status == 200
    assert page.locator("#versions tr.version .surcharges").inner_text() == "1"
    scan(page)

    page.locator("nav").get_by_role("button", name="退出").click()
    page.wait_for_url(console + "/login")

    # The shipper sees the carriers and versions, and compares them: ZTO cheaper, SF faster.
    sign_in(page, console, company.shipper)
    assert page.locator("#add-connection").count() == 0
    assert "2027 协议价" in page.locator("#connection-SF .in-force").inner_text()
    page.goto(console + sf)
    assert page.locator("#upload").count() == 0 and page.locator("#versions tr.version").count() == 1
    page.goto(console + "/quote")
    page.select_option("#origin_province", "广东省")
    page.select_option("#destination_province", "北京市")
    page.fill("#weight_kg", "2.3")
    assert submit(page, "#quote-form").status == 200
    quotes = page.locator("#quotes tr.quote")
    assert [quotes.nth(i).get_attribute("data-carrier") for i in range(quotes.count())] == ["ZTO", "SF"]
    assert "最便宜" in quotes.nth(0).inner_text() and "最快" not in quotes.nth(0).inner_text()
    assert "最快" in quotes.nth(1).inner_text() and "最便宜" not in quotes.nth(1).inner_text()
    assert "运费 16.00 + 燃油附加费 1.60" in quotes.nth(0).locator(".breakdown").inner_text()
    assert "1–2 天" in quotes.nth(1).locator(".transit").inner_text()
    with httpx.Client(base_url=console) as http:
        api = http.post("/api/v1/quotes", headers=company.login(http, company.shipper), json={
            "origin_province": "广东", "destination_province": "北京", "weight_kg": "2.3"}).json()
    assert [(q.locator(".ent-price").inner_text()) for q in (quotes.nth(0), quotes.nth(1))] == [
        q["total_yuan"] for q in api["quotes"]] == ["17.60", "30.00"]
    scan(page)
    page.screenshot(path=str(shots / "page-enterprise-quote.png"), full_page=True)

    # Shenzhen: only ZTO has a lane; SF is named with why. In English, the badges and the reason are too.
    page.goto(console + "/quote?origin_province=广东省&destination_province=广东省&destination_city=深圳"
                        "&weight_kg=1&lang=en")
    assert page.locator("#quotes tr.quote").count() == 1
    assert "cheapest" in page.locator("#quotes").inner_text() and "fastest" in page.locator("#quotes").inner_text()
    assert page.locator("#unserved li").get_attribute("data-carrier") == "SF"
    assert i18n.EN["enterprise.reason.no_lane"] in page.locator("#unserved").inner_text()
    # A weight the API refuses is refused next to the field.
    page.goto(console + "/quote?origin_province=广东省&destination_province=北京市&weight_kg=0.0001&lang=zh")
    assert page.locator("#weight_kg-error").is_visible() and page.locator("#quotes").count() == 0

    assert hosts == {"127.0.0.1"}, hosts
    assert not [e for e in console_errors if "Content Security Policy" in e or "Refused to" in e], console_errors
    assert log_lines, "no log line was captured"
    assert not [line for line in log_lines if CARRIER_PASSWORD in line]


def test_a_shipper_gets_no_admin_form_and_is_refused_as_the_api_refuses(
    browser: Any, console: str, console_url: str,  # noqa: F811
) -> None:
    company = make_company(console_url)
    with httpx.Client(base_url=console) as http:
        admin = company.login(http, company.admin)
        sf = http.post("/api/v1/connections", headers=admin, json={
            "code": "SF", "name": "顺丰速运", "base_url": "http://127.0.0.1:9",
            "credentials": {"username": "acct-sf", "password": CARRIER_PASSWORD}}).json()["id"]
    page = phone_page(browser)
    sign_in(page, console, company.shipper)
    assert page.locator("#add-connection").count() == 0
    csrf = page.locator("nav input[name=csrf]").get_attribute("value")
    refused = page.request.post(console + "/carriers", form={
        "csrf": csrf, "code": "JD", "name": "京东", "adapter": "parcelguard", "base_url": "http://127.0.0.1:9",
        "carrier_username": "u", "carrier_password": CARRIER_PASSWORD}, max_redirects=0)
    assert refused.status == 403
    assert i18n.ZH["enterprise.code.role_not_allowed"] in refused.text()
    assert 'data-code="role_not_allowed"' in refused.text() and CARRIER_PASSWORD not in refused.text()
    assert connections_of(console_url, company) == 1
    refused = page.request.post(console + f"/carriers/{sf}/rates", multipart={
        "csrf": csrf, "version": "2027 协议价", "effective_from": beijing_date(now()).isoformat(),
        "file": {"name": "sf.csv", "mimeType": "text/csv", "buffer": SF.encode()}}, max_redirects=0)
    assert refused.status == 403 and 'data-code="role_not_allowed"' in refused.text()
    assert versions_in(console_url, sf) == 0

    # Another company's admin: the first company's connection is none of theirs (404), read or written.
    other = make_company(console_url)
    stranger = phone_page(browser)
    sign_in(stranger, console, other.admin)
    assert stranger.locator("#no-connections").is_visible()
    response = stranger.goto(console + f"/carriers/{sf}/rates")
    assert response.status == 404
    assert 'data-code="connection_unknown"' in stranger.content() and "顺丰速运" not in stranger.content()
    csrf = stranger.locator("nav input[name=csrf]").get_attribute("value")
    refused = stranger.request.post(console + f"/carriers/{sf}/rates", multipart={
        "csrf": csrf, "version": "2027 协议价", "effective_from": beijing_date(now()).isoformat(),
        "file": {"name": "sf.csv", "mimeType": "text/csv", "buffer": SF.encode()}}, max_redirects=0)
    assert refused.status == 404 and versions_in(console_url, sf) == 0
    assert stranger.goto(console + "/carriers/not-an-id/rates").status == 404
    assert stranger.goto(console + f"/carriers/{uuid.uuid4()}/rates").status == 404

    # No session: every page leads to the sign-in; a form sent without one writes nothing.
    fresh = phone_page(browser)
    for path in ("/", "/quote", f"/carriers/{sf}/rates"):
        fresh.goto(console + path)
        assert fresh.url == console + "/login", path
    answer = fresh.request.post(console + "/carriers", form={"csrf": "x", "code": "JD", "name": "京东",
                                                              "base_url": "http://127.0.0.1:9",
                                                              "carrier_username": "u", "carrier_password": "p"},
                                max_redirects=0)
    assert answer.status == 303 and answer.headers["location"] == "/login"
    assert connections_of(console_url, company) == 1


def test_sign_in_locks_out_as_the_api_does(console: str, console_url: str) -> None:  # noqa: F811
    company = make_company(console_url)
    with httpx.Client(base_url=console) as http:
        for _ in range(5):  # the console's default: 5 failures in a row
            wrong = http.post("/login", data={"username": company.shipper, "password": "not the password"})
            assert wrong.status_code == 422 and i18n.ZH["code.login_failed"] in wrong.text
        locked = http.post("/login", data={"username": company.shipper, "password": PASSWORD})
        assert locked.status_code == 429 and int(locked.headers["retry-after"]) > 0
        assert i18n.ZH["code.login_locked"] in locked.text and "pg_session" not in locked.headers.get("set-cookie", "")
        api = http.post("/api/v1/auth/token", data={"username": company.shipper, "password": PASSWORD})
        assert (api.status_code, api.json()["code"]) == (429, "login_locked")
        empty = http.post("/login", data={"username": "", "password": ""})
        assert empty.status_code == 422 and 'id="username-error"' in empty.text and 'id="password-error"' in empty.text
