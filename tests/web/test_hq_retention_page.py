"""The data-lifetime page of the HQ console (/hq/retention, issue 15) in Debian's headless Chromium, on both engines:
the officer sees each class's month of the parcels taken in with the day it goes, the warning that in-database
shredding keys do not reach backups, a month held by a legal hold, and what is due on a day picked ahead; after a
retention run three years on, each destruction record with its signature verified, its class, month and counts,
linked to its audit-log entry, which verifies; a record altered in the database shows as not verified. An auditor
reads the same page; a courier or a station manager is sent to the HQ sign-in. No page shows personal data."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from parcelguard.core import db
from parcelguard.core.auth import Role
from parcelguard.core.clock import now
from parcelguard.crypto import signing
from parcelguard.crypto.keyring import Keyring
from parcelguard.retention import classes, records, service
from parcelguard.retention.models import DestructionRecord
from parcelguard.web import hq_retention, i18n
from tests.servers import LiveServer
from tests.tenants import Tenant, writing
from tests.waybills.test_label_api import CANARY_DIGITS, CANARY_TEXT, ID_NUMBER, take_in, terminal_login
from tests.web.browser import (  # noqa: F401  (browser: a fixture)
    PHONE,
    assert_no_personal_data,
    browser,
    record_console_errors,
    record_hosts,
    screenshots_dir,
)
from tests.web.test_courier_app import terminal_of
from tests.web.test_hq_console import sign_in
from tests.web.test_station_console import sign_in as sign_in_at

THREE_YEARS = timedelta(days=3 * 366)
SHIPMENT_CLASSES = {classes.RECIPIENT_CONTACT.name, classes.SENDER_CONTACT.name, classes.SENDER_PHONE.name,
                    classes.ITEM_DESCRIPTION.name}


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:  # noqa: F811
    context = browser.new_context(viewport=PHONE, device_scale_factor=2)
    yield context.new_page()
    context.close()


def scan(page: Any, tenant: Tenant) -> None:
    assert_no_personal_data(page.content(), forbidden=[*CANARY_TEXT, *CANARY_DIGITS, ID_NUMBER,
                                                       tenant.account(Role.HQ_SECURITY).password])


def plan_rows(page: Any, table: str = "plan") -> dict[str, Any]:
    """The rows of the plan's table of key months (`plan`) or of row deletion (`rows`), by class."""
    rows = page.locator(f"#{table} tr.plan-row")
    return {rows.nth(i).get_attribute("data-class"): rows.nth(i) for i in range(rows.count())}


def row_classes(engine: Engine, tenant: Tenant) -> set[str]:
    with db.make_sessionmaker(engine)() as s:
        return {m.data_class for m in service.row_plan(db_session=s, carrier_id=tenant.carrier_id)}


def badge(row: Any) -> str:
    return str(row.locator(".badge").get_attribute("class"))


def test_the_officer_sees_the_plan_then_the_signed_records_of_a_run_three_years_on(
    page: Any, server: LiveServer, http: httpx.Client, engine: Engine, keyring: Keyring, tenant: Tenant,
    tmp_path: Path
) -> None:
    shots = screenshots_dir(tmp_path)
    courier = terminal_login(http, tenant)
    held, _other = take_in(http, courier)["id"], take_in(http, courier)["id"]
    officer = tenant.login(http, Role.HQ_SECURITY)
    case = http.post("/api/v1/audit/cases", headers=officer, json={"reference": f"HOLD-{uuid.uuid4().hex[:6]}",
                                                                   "summary": "complaint"}).json()
    assert http.post(f"/api/v1/audit/cases/{case['id']}/holds", headers=officer,
                     json={"shipment_ids": [held]}).status_code == 201
    hosts, errors = record_hosts(page), record_console_errors(page)
    assert sign_in(page, server.url, tenant, Role.HQ_SECURITY).status == 200
    page.get_by_role("link", name="数据保存期").click()
    page.wait_for_url("**/hq/retention")
    assert page.locator("h1").inner_text() == "数据保存期与销毁"

    # The shredding keys are in the database (the default): the page says backups are not reached.
    store = page.locator("#key-store")
    assert store.get_attribute("data-store") == "database" and store.get_attribute("role") == "alert"
    assert "PARCELGUARD_KEYSTORE_URL" in store.inner_text() and "备份" in store.inner_text()

    # The plan is the service's: every class's month, its retention and the day it goes; nothing due yet.
    with db.make_sessionmaker(engine)() as s:
        months = {m.data_class: m for m in service.plan(db_session=s, keyring=keyring, carrier_id=tenant.carrier_id)}
    rows = plan_rows(page)
    assert set(rows) == set(months) and set(rows) >= SHIPMENT_CLASSES | {classes.LEGAL_HOLD.name}
    recipient = rows[classes.RECIPIENT_CONTACT.name]
    period = recipient.get_attribute("data-period")
    assert period == now().strftime("%Y-%m") or period == months[classes.RECIPIENT_CONTACT.name].period
    assert recipient.locator(".goes-on").inner_text() == service.expiry(period, 24).strftime("%Y-%m-%d")
    assert classes.RECIPIENT_CONTACT.what_zh in recipient.inner_text() and "24" in recipient.inner_text()
    assert "badge--held" in badge(rows[classes.LEGAL_HOLD.name])
    assert not any("badge--due" in badge(r) for r in rows.values())
    # the classes whose rows go, each with its oldest month, as the service plans them
    assert set(plan_rows(page, "rows")) == row_classes(engine, tenant) >= {classes.WAYBILL_RECORD.name}
    waybill = plan_rows(page, "rows")[classes.WAYBILL_RECORD.name]
    assert classes.WAYBILL_RECORD.what_zh in waybill.inner_text() and "badge--due" not in badge(waybill)
    # the retention of every class, read only; the hold in force; no record yet
    assert page.locator("#settings tr.setting-row").count() == len(classes.CLASSES)
    assert page.locator("#settings tr[data-class=inspection_photo] .setting-months").inner_text() == "6"
    assert "PATCH /api/v1/retention/settings" in page.locator("#settings-read-only").inner_text()
    assert page.locator("#holds tr.hold-row").count() == 1 and held in page.locator("#holds").inner_text()
    assert page.locator("#no-records").is_visible()
    assert page.locator("form[method=post]:not(nav form)").count() == 0  # nothing on it changes anything
    scan(page, tenant)

    # Looking three years ahead: the shipment's months are due, the held one is not.
    ahead = (now() + THREE_YEARS).date().isoformat()
    page.fill("#at", ahead)
    with page.expect_navigation():
        page.get_by_role("button", name="查看").click()
    rows = plan_rows(page)
    assert all("badge--due" in badge(rows[name]) for name in SHIPMENT_CLASSES)
    assert "badge--held" in badge(rows[classes.LEGAL_HOLD.name])
    assert "badge--due" in badge(plan_rows(page, "rows")[classes.WAYBILL_RECORD.name])
    assert page.locator("#at").input_value() == ahead and page.locator("#back-to-now").is_visible()
    with page.expect_navigation() as navigation:
        page.goto(server.url + "/hq/retention?at=2029-13-45")
    assert navigation.value.status == 422 and page.locator("#at-error").is_visible()

    # The run, as the server's daily one would do it three years on.
    done = service.run(sessionmaker=db.make_sessionmaker(engine), keyring=keyring, carrier_id=tenant.carrier_id,
                       at=now() + THREE_YEARS)
    # (with row deletion, the parcel's rows' classes go in the same run: their records show alike)
    assert {r.body["data_class"] for r in done.records} >= SHIPMENT_CLASSES
    page.goto(server.url + "/hq/retention")
    shown = page.locator("#records li.record")
    assert shown.count() == len(done.records)
    assert all(shown.nth(i).get_attribute("data-verified") == "yes" for i in range(shown.count()))
    assert page.locator("#records .record-verdict").all_inner_texts() == ["签名有效"] * len(done.records)
    for signed in done.records:
        body = signed.body
        card = page.locator(f"#records li.record[data-class={body['data_class']}]")
        assert card.locator(".record-period").inner_text() == body["period"]
        assert card.locator(".record-class").inner_text() == classes.CLASSES[body["data_class"]].what_zh
        items = card.locator(".record-items").inner_text()
        assert all(f"{place}: {n}" in items for place, n in body["items"].items()), items
        mechanism = body.get("mechanism", "shred")
        assert card.locator(".record-mechanism").inner_text() == {"shred": "加密粉碎", "delete": "删除记录",
                                                                  "expire": "签名密钥退役"}[mechanism]
        if mechanism == "shred":
            assert body["period"] == period
            assert card.locator(".record-keys").inner_text() == (
                f"数据密钥 {len(body['data_key_ids'])} 个，粉碎密钥 {len(body['shred_key_ids'])} 个")
        assert card.locator(".record-entry").get_attribute("href") == f"/hq/audit/{signed.record.audit_index}"
    recipient_items = next(r.body["items"] for r in done.records
                           if r.body["data_class"] == classes.RECIPIENT_CONTACT.name)
    assert recipient_items["shipments.recipient_name"] == 1  # two taken in, one held
    assert set(plan_rows(page)) == {classes.LEGAL_HOLD.name}  # only the held month still has keys
    assert set(plan_rows(page, "rows")) == row_classes(engine, tenant)
    scan(page, tenant)
    # the docs' screenshot: the warning, the plan and the newest record (the whole page is six screens long)
    box = page.locator("#records li.record").first.bounding_box()
    page.screenshot(path=str(shots / "page-hq-retention.png"), full_page=True,
                    clip={"x": 0, "y": 0, "width": PHONE["width"], "height": box["y"] + box["height"] + 16})

    # In English, the same page.
    page.goto(server.url + "/hq/retention?lang=en")
    assert page.locator("#records .record-verdict").first.inner_text() == "Signature verified"
    assert classes.RECIPIENT_CONTACT.what_en in page.locator("#settings").inner_text()
    assert "backups" in page.locator("#key-store").inner_text()
    page.goto(server.url + "/hq/retention?lang=zh")

    # A record's log entry, checked as an outside verifier would.
    entry = page.locator(f"#records li.record[data-class={classes.RECIPIENT_CONTACT.name}] .record-entry")
    with page.expect_navigation():
        entry.click()
    if page.locator("#sign-head").count():
        with page.expect_navigation():
            page.locator("#sign-head").click()
    assert "result--genuine" in str(page.locator("#verification").get_attribute("class"))
    assert "retention_destroy" in page.locator("#entry").inner_text()

    # A record altered where it is kept no longer verifies, and the page says so.
    altered = next(r for r in done.records if r.body["data_class"] == classes.SENDER_PHONE.name)
    with writing(engine) as s:
        row = s.get(DestructionRecord, altered.record.id)
        assert row is not None
        row.body = records.canonical({**altered.body, "items": {"shipments.sender_phone": 0}})
    page.goto(server.url + "/hq/retention")
    card = page.locator(f"#records li.record[data-class={classes.SENDER_PHONE.name}]")
    assert card.get_attribute("data-verified") == "no" and "result--not-genuine" in str(card.get_attribute("class"))
    assert card.locator(".record-verdict").inner_text().startswith("签名无效")
    assert page.locator("#records li.record[data-verified=yes]").count() == len(done.records) - 1
    scan(page, tenant)
    # the one console error is the refused day's 422 above: no Content-Security-Policy violation
    assert hosts == {"127.0.0.1"} and [e for e in errors if "422" not in e] == [], (hosts, errors)


def test_an_auditor_reads_the_page_and_a_courier_or_station_manager_is_refused(
    page: Any, server: LiveServer, http: httpx.Client, engine: Engine, keyring: Keyring, tenant: Tenant
) -> None:
    take_in(http, terminal_login(http, tenant))
    done = service.run(sessionmaker=db.make_sessionmaker(engine), keyring=keyring, carrier_id=tenant.carrier_id,
                       at=now() + THREE_YEARS)
    assert sign_in(page, server.url, tenant, Role.AUDITOR).status == 200
    page.get_by_role("link", name="数据保存期").click()
    page.wait_for_url("**/hq/retention")
    assert page.locator("#records li.record[data-verified=yes]").count() == len(done.records) >= len(SHIPMENT_CLASSES)
    assert page.locator("#no-months").is_visible() and page.locator("#no-holds").is_visible()
    assert set(plan_rows(page, "rows")) == row_classes(engine, tenant)
    assert page.locator("#settings tr.setting-row").count() == len(classes.CLASSES)
    scan(page, tenant)

    page.context.clear_cookies()

    # The HQ sign-in refuses a courier and a station manager; signed in to their own app or console, each is
    # sent to the HQ sign-in from this page, as from every HQ page.
    courier, manager = tenant.account(Role.COURIER), tenant.account(Role.STATION_MANAGER)
    for role in (Role.COURIER, Role.STATION_MANAGER):
        assert sign_in(page, server.url, tenant, role).status == 422, role
    signed_in = {"/courier/login": (courier, terminal_of(http, tenant)), "/station/login": (manager, None)}
    for login, (account, terminal) in signed_in.items():
        assert sign_in_at(page, server.url, login, account.username, account.password, terminal).status == 200
        assert not page.url.endswith("/login"), login
        page.goto(server.url + "/hq/retention")
        assert page.url.endswith("/hq/login"), login
        assert page.locator("#records, #plan, #settings").count() == 0


# -- without a server ---------------------------------------------------------------------------------

def test_a_record_is_verified_only_as_signed_and_a_broken_one_is_said_not_to_verify() -> None:
    private, public = signing.generate()
    body = {"type": "destruction", "data_class": classes.RECIPIENT_CONTACT.name, "period": "2026-01",
            "items": {"shipments.recipient_name": 3}, "data_key_ids": [1], "shred_key_ids": [2]}
    wire = {"record": body, "signature": signing.sign(private, records.DOMAIN + records.canonical(body)).hex(),
            "key_id": 7, "log_index": 12}
    wire = json.loads(json.dumps(wire))  # as exported
    keys = {7: public}
    assert hq_retention.shown(wire, keys).verified
    assert (hq_retention.shown(wire, keys).data_keys, hq_retention.shown(wire, keys).shred_keys) == (1, 1)
    assert not hq_retention.shown({**wire, "record": {**body, "items": {"shipments.recipient_name": 4}}}, keys).verified
    assert not hq_retention.shown({**wire, "key_id": 8}, keys).verified  # a key that is not the carrier's
    assert not hq_retention.shown(wire, {}).verified
    for broken in ({**wire, "signature": "not hex"}, {**wire, "signature": None}, {k: v for k, v in wire.items()
                                                                                    if k != "record"}):
        assert not hq_retention.shown(broken, keys).verified


def test_every_message_the_page_asks_for_exists_in_both_languages() -> None:
    keys = {f"hq.retention.mechanism.{m}" for m in classes.MECHANISMS}
    keys |= {f"hq.retention.store.{s}" for s in ("separate", "database")} | {"hq.nav.retention"}
    assert keys <= set(i18n.ZH) and keys <= set(i18n.EN), keys - (set(i18n.ZH) & set(i18n.EN))
