"""The regulator's incident reports page in Debian's headless Chromium, on the platform app served in-process
(the fixtures of tests/regulator), on a phone's screen: two carriers send signed reports over HTTP; the
official signs in, opens the page from the menu, sees each carrier's report with its counts, what raised it
and the remedy in words, filters by carrier, opens a report and sees its signature verified; in English too.
No personal data on the page; nobody else gets it."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine

from parcelguard.core import db
from parcelguard.crypto import signing
from parcelguard.regulator.platform import service
from tests.regulator.conftest import (  # noqa: F401  (platform, platform_engine, platform_url: fixtures)
    PERSON,
    Carrier,
    platform,
    platform_engine,
    platform_url,
    register,
)
from tests.regulator.officials import PASSWORD, add_official, send
from tests.regulator.test_incident_reports import make_report, post, receipt_of, signed
from tests.web.browser import (  # noqa: F401  (browser: a fixture)
    PHONE,
    assert_no_personal_data,
    browser,
    record_console_errors,
    record_hosts,
    screenshots_dir,
)


def shunda(engine: Engine) -> Carrier:
    """A carrier with a real-looking name, so the screenshot reads as the console would."""
    seed, public = signing.generate()
    code, carrier_id = f"shunda-{uuid.uuid4().hex[:6]}", uuid.uuid4()
    with db.make_sessionmaker(engine)() as session, session.begin():
        done = service.register_carrier(db_session=session, code=code, carrier_uuid=carrier_id, name="顺达速运",
                                        public_key=public)
    return Carrier(code=code, id=carrier_id, seed=seed, key_id=done.key_id)


def signed_in_page(browser: Any, platform: str, username: str) -> Any:  # noqa: F811
    page = browser.new_context(viewport=PHONE).new_page()
    page.goto(platform + "/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="登录").click()
    assert page.url.endswith("/dashboard")
    return page


def test_the_official_sees_the_carriers_reports_filters_by_carrier_and_sees_the_signature_verified(
    browser: Any, platform: str, platform_engine: Engine, tmp_path: Path,  # noqa: F811
) -> None:
    ours, other = shunda(platform_engine), register(platform_engine)
    send(platform, ours, [ours.record(PERSON)])  # the carrier's real-name records: never on this page
    report = make_report(ours, incident="INC-20261206-0001")
    receipt_of(platform, post(platform, signed(ours, report)))
    theirs = make_report(other, incident="INC-0042", kind="manual", contained_at=None, actions=("other",),
                         summary="人工登记的事件。")
    receipt_of(platform, post(platform, signed(other, theirs)))

    page = signed_in_page(browser, platform, add_official(platform_engine))
    hosts, console_errors = record_hosts(page), record_console_errors(page)
    page.get_by_role("link", name="安全事件报告").click()
    page.wait_for_url("**/incidents")
    row = page.locator(f"#report-{report.report_id}")
    assert page.locator(f"#carrier-{ours.code} h2").inner_text().startswith("顺达速运")
    assert row.locator(".incident-ref").inner_text() == "INC-20261206-0001"
    assert row.locator(".incident-kind").inner_text().startswith("诱饵件被触碰")
    assert row.locator(".incident-state").inner_text() == "签名已验证"
    counts = row.locator(".incident-counts").inner_text()
    assert "涉及账号 2 个（已停用 2 个）" in counts and "查看个人信息 137 次，涉及快件 120 件" in counts
    assert "被拒绝 4 次" in counts
    assert row.locator(".incident-actions").inner_text() == "处置措施：停用涉事账号、吊销登录令牌、报告公安机关"
    assert "发现于" in row.locator(".incident-times").inner_text()
    assert row.locator(".incident-summary").inner_text() == report.summary
    other_row = page.locator(f"#report-{theirs.report_id}")
    assert other_row.locator(".incident-kind").inner_text() == "人工登记"
    assert "尚未控制" in other_row.locator(".incident-times").inner_text()

    # Filter by carrier: only that carrier's reports.
    page.select_option("#carrier", ours.code)
    with page.expect_navigation():
        page.get_by_role("button", name="筛选").click()
    assert f"carrier={ours.code}" in page.url
    assert page.locator("section.carrier").count() == 1
    assert page.locator(f"#report-{theirs.report_id}").count() == 0

    # Opened: the rest, and the signature checked again from the stored bytes.
    row = page.locator(f"#report-{report.report_id}")
    assert not row.locator(".incident-signature").is_visible()
    row.locator("summary").click()
    assert row.locator(".incident-signature .result-title").inner_text() == "签名已验证"
    assert ours.key_id in row.locator(".incident-signature").inner_text()
    assert "收件人电话 120 次" in row.locator(".incident-fields").inner_text()
    assert row.locator(".incident-note").inner_text() == report.note
    assert_no_personal_data(page.content(), forbidden=[PERSON["name"], PERSON["doc_number"]])
    page.screenshot(path=str(screenshots_dir(tmp_path) / "page-regulator-incidents.png"), full_page=True)
    assert hosts == {"127.0.0.1"}, hosts
    assert not console_errors, console_errors

    page.goto(f"{platform}/incidents?carrier={ours.code}&lang=en")
    row = page.locator(f"#report-{report.report_id}")
    assert row.locator(".incident-state").inner_text() == "signature verified"
    assert "accounts disabled, sign-in tokens revoked, police informed" in row.locator(".incident-actions").inner_text()


def test_an_unknown_carrier_in_the_filter_is_said_so_next_to_the_filter(
    platform: str, platform_engine: Engine,  # noqa: F811
) -> None:
    username = add_official(platform_engine)
    with httpx.Client(base_url=platform) as client:
        assert client.post("/login", data={"username": username, "password": PASSWORD}).status_code == 303
        answer = client.get("/incidents", params={"carrier": "no-such-carrier"})
    assert answer.status_code == 422
    assert 'id="carrier-error"' in answer.text and "没有这家快递公司" in answer.text
    assert_no_personal_data(answer.text, answer.headers)


def test_the_page_is_for_signed_in_officials_only(browser: Any, platform: str) -> None:  # noqa: F811
    fresh = browser.new_context().new_page()
    fresh.goto(platform + "/incidents")
    assert fresh.url.endswith("/login")
    answer = httpx.get(platform + "/incidents", cookies={"pg_session": "not-a-token-of-this-platform"})
    assert answer.status_code in (302, 303, 307) and answer.headers["location"] == "/login"
