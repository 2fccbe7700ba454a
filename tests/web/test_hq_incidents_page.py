"""The incidents page of the HQ console in Debian's headless Chromium, on both engines: an insider touches a decoy,
and an HQ security officer takes the incident from the list to the regulator: a remedy before the assessment is
refused next to its form, contain only after its confirm step (the insider's token dies), assess (the counts), a
note quoting a phone number refused and never written back, the remedy in words, the report signed and queued, its
PDF downloaded. An alert on /hq opens an incident with its button (a second press leads to it); one opened by hand
is refused for a quoted phone and an unknown account, then opened and dismissed. An auditor reads the same pages
without a button; a courier is refused. No page shows personal data."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pypdfium2 as pdfium
import pytest
from sqlalchemy import Engine, select

from parcelguard.audit import service as audit
from parcelguard.core.auth import Role
from parcelguard.crypto.keyring import Keyring
from parcelguard.incidents import reporting, service
from parcelguard.incidents.models import Incident
from parcelguard.web import i18n
from tests.incidents.test_incidents import insider_touches_a_decoy, steps
from tests.servers import LiveServer
from tests.tenants import CANARY, Tenant, writing
from tests.web.browser import (  # noqa: F401  (browser: a fixture)
    PHONE,
    assert_no_personal_data,
    browser,
    record_console_errors,
    record_hosts,
    screenshots_dir,
)
from tests.web.test_hq_console import sign_in

QUOTED = "13787654321"  # the canary recipient's mobile number, as an officer might paste it


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:  # noqa: F811
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, accept_downloads=True)
    yield context.new_page()
    context.close()


def scan(page: Any, tenant: Tenant) -> None:
    assert_no_personal_data(page.content(), forbidden=[
        CANARY.recipient_name, CANARY.sender_name, "收件路", "寄件路", QUOTED,
        tenant.account(Role.HQ_SECURITY).password, tenant.account(Role.HQ_SECURITY, n=1).password])


def status_of(engine: Engine, incident_id: str) -> str:
    with engine.connect() as conn:
        return str(conn.scalar(select(Incident.status).where(Incident.id == uuid.UUID(incident_id))))


def submit(page: Any, selector: str) -> int:
    with page.expect_navigation() as navigation:
        page.locator(selector).click()
    return int(navigation.value.status)


def test_the_officer_takes_a_decoy_incident_from_the_list_to_a_signed_report(
    page: Any, server: LiveServer, http: httpx.Client, engine: Engine, keyring: Keyring, tenant: Tenant,
    tmp_path: Path
) -> None:
    insider, _ = insider_touches_a_decoy(http, keyring, tenant)
    insider_name = tenant.account(Role.HQ_SECURITY, n=1).username
    errors, hosts = record_console_errors(page), record_hosts(page)
    assert sign_in(page, server.url, tenant, Role.HQ_SECURITY).status == 200
    page.get_by_role("link", name="安全事件").click()
    page.wait_for_url("**/hq/incidents")
    [row] = page.locator("#incidents li.incident").all()
    assert row.get_attribute("data-status") == "open" and "诱饵件被触碰" in row.inner_text()
    reference = row.locator(".incident-link").inner_text()
    assert reference.startswith("INC-")
    scan(page, tenant)
    row.locator(".incident-link").click()
    page.wait_for_url("**/hq/incidents/*")
    incident_id = page.url.rsplit("/", 1)[1]
    assert reference in page.locator("h1").inner_text()
    assert page.locator(f"#account-{insider_name} .account-state").inner_text() == "启用中"

    # A remedy before the assessment: refused under its form, the ticks kept, nothing written.
    page.check("#action-accounts_disabled")
    assert submit(page, "#remedy-save") == 409
    assert page.locator("#remedy-error").inner_text() == "请先评估：处置要针对评估所见。"
    assert page.locator("#action-accounts_disabled").is_checked()
    assert status_of(engine, incident_id) == "open" and steps(engine, tenant, incident_id) == []

    # Contain: the button is behind a confirm step.
    assert not page.locator("#contain").is_visible()
    page.locator("#contain-open").click()
    assert submit(page, "#contain") == 200
    assert page.locator("#notice").inner_text() == "已停用账号并吊销其登录凭证，并写入访问日志。"
    assert page.locator("#incident-status").inner_text() == "已控制"
    assert page.locator(f"#account-{insider_name} .account-state").inner_text().startswith("已停用")
    assert http.get("/api/v1/me", headers=insider).status_code == 401  # its token was revoked

    # Assess: the counts from the gate's log.
    assert submit(page, "#assess") == 200
    assert (page.locator("#found-reveals").inner_text(), page.locator("#found-subjects").inner_text(),
            page.locator("#found-denied").inner_text()) == ("2", "2", "0")
    assert page.locator("#found-fields").inner_text() == "收件人姓名 2 次、收件人电话 1 次"

    # A note quoting a phone number: refused, and the number is not written back into the page.
    for code in ("accounts_disabled", "tokens_revoked", "subjects_notified"):
        page.check(f"#action-{code}")
    page.fill("#remedy-note", f"已致电 {QUOTED} 致歉")
    assert submit(page, "#remedy-save") == 422
    assert page.locator("#remedy-note-error").is_visible() and page.locator("#remedy-note").input_value() == ""
    assert QUOTED not in page.content()
    assert all(page.locator(f"#action-{c}").is_checked()
               for c in ("accounts_disabled", "tokens_revoked", "subjects_notified"))
    page.fill("#remedy-note", "两位收件人已逐一告知。")
    assert submit(page, "#remedy-save") == 200
    assert page.locator("#remedy-actions").inner_text() == "停用账号、吊销登录凭证、告知用户"

    # Report: signed and queued for the uploader; the record is final, no form is left.
    assert submit(page, "#report-send") == 200
    assert page.locator("#notice").inner_text() == "报告已签名并排队发送，并写入访问日志。"
    assert page.locator("#incident-status").inner_text() == "已报告"
    state = page.locator("#report-state")
    assert state.get_attribute("class") in ("report-queued", "report-failed"), state.inner_text()
    assert page.locator("#steps .timeline-step").count() == 5
    assert page.locator("#steps .timeline-step").first.inner_text().endswith("报告邮政管理部门")
    assert page.locator("form[action^='/hq/incidents/']").count() == 0
    page.screenshot(path=str(screenshots_dir(tmp_path) / "page-hq-incidents.png"), full_page=True)
    scan(page, tenant)
    assert steps(engine, tenant, incident_id) == ["incident_contain", "incident_assess", "incident_remedy",
                                                  "incident_report"]

    # The PDF: the signed report in words.
    with page.expect_download() as download:
        page.locator("#report-pdf").click()
    assert download.value.suggested_filename == f"{reference}.pdf"
    data = Path(download.value.path()).read_bytes()
    assert data.startswith(b"%PDF-")
    text = "".join(p.get_textpage().get_text_range() for p in pdfium.PdfDocument(data))
    assert reference in text and "停用账号" in text and "两位收件人已逐一告知。" in text
    assert CANARY.recipient_name not in text and QUOTED not in text

    # The page in English says the same in words.
    page.goto(page.url.split("?")[0] + "?lang=en")
    assert page.locator("#remedy-actions").inner_text() == "accounts disabled, tokens revoked, users notified"
    assert page.locator("#incident-status").inner_text() == "Reported"
    # the console errors are the refusals' 409 and 422 above: no Content-Security-Policy violation
    assert [e for e in errors if "409" not in e and "422" not in e] == [] and hosts <= {"127.0.0.1"}, (errors, hosts)


def test_an_alert_opens_an_incident_and_one_opened_by_hand_is_dismissed(
    page: Any, server: LiveServer, engine: Engine, tenant: Tenant
) -> None:
    courier = tenant.account(Role.COURIER)
    with writing(engine) as s:
        audit.raise_alert(db_session=s, carrier_id=tenant.carrier_id, kind="rate_exceeded",
                          dedupe_key=f"test:{uuid.uuid4()}", detail={"test": "incident"}, actor_id=courier.user_id)
    assert sign_in(page, server.url, tenant, Role.HQ_SECURITY).status == 200
    assert submit(page, "#alerts .open-incident button") == 200
    assert page.locator("#notice").inner_text() == "已立案，并写入访问日志。"
    opened = page.url.split("?")[0]
    assert page.locator(f"#account-{courier.username}").count() == 1
    assert page.locator("#incident-summary").inner_text() == "由告警立案，待评估。"
    # the same alert again leads to its incident
    page.goto(server.url + "/hq")
    assert submit(page, "#alerts .open-incident button") == 200
    assert page.url.split("?")[0] == opened and page.locator("#notice").inner_text() == "这条告警已属于本事件。"

    # By hand: a quoted phone and an unknown account are refused next to their fields, the phone not kept.
    page.goto(server.url + "/hq/incidents")
    page.fill("#summary", f"群里有人转发面单照片，联系电话 {QUOTED}")
    page.fill("#accounts", f"{courier.username}, nobody-{uuid.uuid4().hex[:6]}")
    assert submit(page, "#open") == 422
    assert page.locator("#summary-error").is_visible() and page.locator("#summary").input_value() == ""
    assert QUOTED not in page.content()
    page.fill("#summary", "员工反映面单照片在群里流传。")
    assert submit(page, "#open") == 422
    assert page.locator("#accounts-error").inner_text() == "第 2 个账号不是本公司的用户名。"
    assert page.locator("#summary").input_value() == "员工反映面单照片在群里流传。"
    page.fill("#accounts", courier.username)
    assert submit(page, "#open") == 200
    assert "人工登记" in page.locator("#incident-facts").inner_text()

    # Dismissed with a reason: the record stays, no form is left.
    page.locator("#dismiss-title + details summary").click()
    page.fill("#dismiss-reason", "核实为培训演练。")
    assert submit(page, "#dismiss") == 200
    assert page.locator("#incident-status").inner_text() == "已排除"
    assert page.locator("#dismiss-reason").inner_text() == "核实为培训演练。"
    assert page.locator("form[action^='/hq/incidents/']").count() == 0
    page.goto(server.url + "/hq/incidents?status=active")
    assert page.locator("#incidents li.incident").count() == 1  # the alert's; the dismissed one is not active
    scan(page, tenant)


def test_an_auditor_reads_an_incident_without_a_button_and_a_courier_is_refused(
    page: Any, server: LiveServer, http: httpx.Client, engine: Engine, keyring: Keyring, tenant: Tenant
) -> None:
    insider_touches_a_decoy(http, keyring, tenant)
    assert sign_in(page, server.url, tenant, Role.AUDITOR).status == 200
    page.get_by_role("link", name="安全事件").click()
    page.wait_for_url("**/hq/incidents")
    assert page.locator("#open-form").count() == 0 and page.locator("#read-only").is_visible()
    page.locator("#incidents .incident-link").first.click()
    page.wait_for_url("**/hq/incidents/*")
    incident_id = page.url.rsplit("/", 1)[1]
    assert page.locator("#read-only").is_visible() and page.locator("form[action^='/hq/incidents']").count() == 0
    assert page.locator("#not-assessed").is_visible() and page.locator("#not-reported").is_visible()
    scan(page, tenant)
    # no report yet, so no PDF: said on the page
    page.goto(server.url + f"/hq/incidents/{incident_id}/report.pdf")
    assert page.locator("#notice").inner_text() == "事件尚未报告，没有报告 PDF。"
    # posting as an auditor changes nothing: the console's wall sends them to sign in
    answer = page.request.post(server.url + f"/hq/incidents/{incident_id}/contain", form={"csrf": "x"},
                               max_redirects=0)
    assert answer.status == 303 and answer.headers["location"].startswith("/hq/login")
    assert status_of(engine, incident_id) == "open"

    assert sign_in(page, server.url, tenant, Role.COURIER).status == 422
    assert page.locator("#username-error").is_visible()
    for path in ("/hq/incidents", f"/hq/incidents/{incident_id}", f"/hq/incidents/{incident_id}/report.pdf"):
        page.goto(server.url + path)
        assert page.url.endswith("/hq/login"), path


def test_every_code_the_incident_steps_raise_has_a_message_in_both_languages() -> None:
    sources = [Path(m.__file__).read_text() for m in (service, reporting)]
    codes = {c for text in sources for c in re.findall(r'code="([a-z_]+)"', text)} - {"role_forbidden"}
    codes.add("account_unknown")  # staff.accounts_of, naming the accounts
    assert {"text_personal_data", "incident_not_assessed", "account_unknown", "report_unknown"} <= codes
    for code in codes:
        key = f"hq.incidents.code.{code}"
        assert key in i18n.ZH and key in i18n.EN, code
