"""The enterprise console's bulk import page (issue 16) in Debian's headless Chromium, against a real carrier
platform: a shipper uploads a file of 12 orders (2 bad) on `/import`, lands on the import's progress page, which
refreshes itself until the import is done, and sees the good rows created at the carrier and the bad ones named by
row and column. A file that is not an orders file is refused next to the file field and writes nothing; another
company's import is 404; no page holds a recipient's name or phone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from parcelguard.enterprise.platform.models import OrderImport
from tests.enterprise.carriers import CarrierPlatform
from tests.enterprise.conftest import carriers, make_company  # noqa: F401  (carriers: a fixture)
from tests.enterprise.test_bulk_orders import canaries, csv_file, row
from tests.enterprise.test_orders import CANARIES, SENDER, connect, order_console  # noqa: F401
from tests.support import count_rows
from tests.web.browser import (  # noqa: F401  (browser: a fixture)
    assert_no_personal_data,
    browser,
    record_console_errors,
    record_hosts,
    screenshots_dir,
)
from tests.web.test_enterprise_order_pages import scan
from tests.web.test_enterprise_pages import phone_page, sign_in, submit


def fill_import(page: Any, file_name: str, data: bytes) -> None:
    page.select_option("#connection_id", label=page.locator("#connection_id option").nth(1).inner_text())
    page.fill("#sender_name", SENDER["name"])
    page.fill("#sender_phone", SENDER["phone"])
    page.select_option("#sender_province", "北京市")
    page.fill("#sender_address", SENDER["address"])
    page.set_input_files("#file", files=[{"name": file_name, "mimeType": "text/csv", "buffer": data}])


def imports_of(url: str, company_id: Any) -> int:
    return count_rows(url, OrderImport, OrderImport.company_id == company_id)


def test_a_shipper_imports_a_file_and_watches_it_sent(
    browser: Any, carriers: list[CarrierPlatform], order_console: tuple[str, str], tmp_path: Path,  # noqa: F811
) -> None:
    console, database_url = order_console
    company = make_company(database_url)
    shots = screenshots_dir(tmp_path)
    with httpx.Client(base_url=console, timeout=30) as http:
        connect(http, company.login(http, company.admin), "ZTO", carriers[0], price=8, days=3)
    rows = [row(i) for i in range(12)]
    rows[3] = row(3, phone="call me")  # spreadsheet row 5, column B
    rows[7] = row(7, province="火星")  # spreadsheet row 9, column C
    forbidden = canaries(rows) + CANARIES
    page = phone_page(browser)
    hosts, console_errors = record_hosts(page), record_console_errors(page)
    sign_in(page, console, company.shipper)
    page.locator("nav a[href='/import']").click()
    page.wait_for_url(console + "/import")
    assert "批量导入" in page.locator("nav a[href='/import']").inner_text()

    # Not an orders file (no recipient columns): refused next to the file field, the values kept, nothing written.
    fill_import(page, "bad.csv", "名字,电话\n甲,1\n".encode())
    assert submit(page, "#import-form").status == 422
    assert page.locator("#file-error").is_visible() and page.locator("#file-errors li").count() >= 1
    assert page.locator("#file").get_attribute("aria-invalid") == "true"
    assert page.locator("#sender_name").input_value() == SENDER["name"]
    assert page.locator("#sender_phone-error").count() == 0
    assert imports_of(database_url, company.id) == 0
    scan(page, form_values=True)  # the sender typed in the form is kept in its inputs only

    # The file: 10 good rows, 2 bad; the progress page refreshes itself until done.
    before = carriers[0].shipments()
    fill_import(page, "订单.csv", csv_file(rows))
    page.locator("#import").click(no_wait_after=True)  # the progress page refreshes itself: no single navigation
    page.wait_for_url(console + "/imports/*")
    import_url = page.url
    page.locator("#import-progress[data-status='done']").wait_for(timeout=60_000)
    assert page.locator("#count-created").inner_text() == "10"
    assert page.locator("#count-failed").inner_text() == "0" and page.locator("#count-pending").inner_text() == "0"
    assert page.locator("#count-refused").inner_text() == "2"
    assert page.locator("#progress").get_attribute("value") == "10"
    assert page.locator("#progress").get_attribute("max") == "10"
    assert page.locator("meta[http-equiv='refresh']").count() == 0
    refused = page.locator("#refused-rows tr.refused-row")
    assert [(refused.nth(i).get_attribute("data-row"), refused.nth(i).get_attribute("data-column"),
             refused.nth(i).get_attribute("data-code")) for i in range(refused.count())] == [
        ("5", "B", "phone_format"), ("9", "C", "province_unknown")]
    results = page.locator("#rows tr.import-row")
    assert results.count() == 12
    assert [results.nth(i).get_attribute("data-status") for i in range(12)].count("created") == 10
    assert "欧阳****" in results.first.inner_text()
    assert carriers[0].shipments() == before + 10
    assert not [c for c in forbidden if c in page.url]
    scan(page)
    assert_no_personal_data(page.content(), forbidden=forbidden)
    page.screenshot(path=str(shots / "page-enterprise-import.png"), full_page=True)

    # The import is listed under the form, newest first, and its link leads back to its progress.
    page.goto(console + "/import")
    listed = page.locator("#recent-imports tr.recent-import")
    assert listed.count() == 1 and listed.first.get_attribute("data-status") == "done"
    assert "订单.csv" in listed.first.inner_text()
    listed.first.locator("a").click()
    page.wait_for_url(import_url)

    # Another company: the import is none of theirs.
    other = make_company(database_url)
    stranger = phone_page(browser)
    sign_in(stranger, console, other.shipper)
    response = stranger.goto(import_url)
    assert response.status == 404 and 'data-code="import_unknown"' in stranger.content()
    assert "订单.csv" not in stranger.content()
    stranger.goto(console + "/import")
    assert stranger.locator("#recent-imports").count() == 0

    assert hosts == {"127.0.0.1"}, hosts
    assert not [e for e in console_errors if "Content Security Policy" in e or "Refused to" in e], console_errors
