"""HQ security's and the auditor's console in Debian's headless Chromium, on both engines: the officer
opens a case, reveals a recipient's phone with it (through the gate, purpose investigation), and finds
that reveal in the audit browser, verified in the page against a signed tree head; the auditor reads the
log and nothing else; every other role is refused, as the API refuses it. Alerts filter by kind, station,
account and status (API and page); the log's export downloads (API and page) and verifies with
`parcelguard audit verify --file`. The keys page: test_hq_keys.py."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from parcelguard import cli
from parcelguard.audit import service as audit
from parcelguard.core.auth import Role
from parcelguard.core.config import encode_root_key, get_settings
from tests.conftest import TEST_ROOT_KEY
from tests.servers import LiveServer
from tests.tenants import Tenant, writing
from tests.waybills.test_label_api import RECIPIENT_PHONE, take_in, terminal_login
from tests.web.browser import (  # noqa: F401  (browser: a fixture)
    PHONE,
    assert_no_personal_data,
    browser,
    record_hosts,
    screenshots_dir,
)

DIGITS = "".join(c for c in RECIPIENT_PHONE if c.isdigit())


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:  # noqa: F811
    context = browser.new_context(viewport=PHONE, device_scale_factor=2)
    yield context.new_page()
    context.close()


def sign_in(page: Any, base: str, tenant: Tenant, role: Role) -> Any:
    account = tenant.account(role)
    page.goto(base + "/hq/login")
    page.fill("#username", account.username)
    page.fill("#password", account.password)
    with page.expect_navigation() as navigation:
        page.get_by_role("button", name="登录").click()
    return navigation.value


def test_the_officer_opens_a_case_reveals_a_phone_and_finds_the_reveal_verified_in_the_log(
    page: Any, server: LiveServer, http: httpx.Client, tenant: Tenant, tmp_path: Any
) -> None:
    shots = screenshots_dir(tmp_path)
    number = str(take_in(http, terminal_login(http, tenant))["waybill_no"])
    hosts = record_hosts(page)
    assert sign_in(page, server.url, tenant, Role.HQ_SECURITY).status == 200
    reference = f"CASE-{uuid.uuid4().hex[:6].upper()}"
    page.fill("#reference", reference)
    page.fill("#summary", "拾获面单，核实收件人")
    with page.expect_navigation():
        page.get_by_role("button", name="立案").click()
    assert reference in page.locator("h1").inner_text()

    # Without naming fields the gate is asked for all of them; here only the phone is ticked.
    page.fill("#waybill_no", number)
    page.check("#field_recipient_phone")
    with page.expect_navigation() as navigation:
        page.get_by_role("button", name="查看（记入日志）").click()
    assert navigation.value.status == 200, page.content()
    assert page.locator(".revealed-recipient_phone").inner_text().strip().endswith(DIGITS[-8:])
    assert page.locator("#revealed dt").count() == 1  # the phone and nothing else
    page.screenshot(path=str(shots / "page-hq-case.png"))
    link = page.locator("#log-entry")
    index = int(link.get_attribute("href").rsplit("/", 1)[1])

    # The reveal in the audit browser, then checked: a head is signed first if none covers it yet.
    page.goto(server.url + "/hq/audit?purpose=investigation")
    assert page.locator(f"#entries a[href='/hq/audit/{index}']").count() == 1
    page.locator(f"#entries a[href='/hq/audit/{index}']").click()
    page.wait_for_url(f"**/hq/audit/{index}")
    if page.locator("#sign-head").count():
        with page.expect_navigation():
            page.locator("#sign-head").click()
    assert "result--genuine" in page.locator("#verification").get_attribute("class")
    assert page.locator("#head-signed").inner_text() == "是" and page.locator("#included").inner_text() == "是"
    entry = page.locator("#entry").inner_text()
    assert "investigation" in entry and "recipient_phone" in entry and DIGITS not in entry
    page.screenshot(path=str(shots / "page-hq-entry.png"), full_page=True)
    # The API answers the same check.
    api = http.get(f"/api/v1/audit/entries/{index}/verification", headers=tenant.login(http, Role.AUDITOR))
    assert api.status_code == 200 and api.json()["verified"] is True
    assert hosts == {"127.0.0.1"}, hosts


def test_a_closed_case_reveals_nothing_and_says_so_next_to_the_field(
    page: Any, server: LiveServer, http: httpx.Client, tenant: Tenant
) -> None:
    number = str(take_in(http, terminal_login(http, tenant))["waybill_no"])
    sign_in(page, server.url, tenant, Role.HQ_SECURITY)
    page.fill("#reference", f"CASE-{uuid.uuid4().hex[:6].upper()}")
    page.fill("#summary", "x")
    with page.expect_navigation():
        page.get_by_role("button", name="立案").click()
    case_url = page.url
    page.fill("#waybill_no", number[:-1] + str((int(number[-1]) + 1) % 10))
    with page.expect_navigation() as navigation:
        page.get_by_role("button", name="查看（记入日志）").click()
    assert navigation.value.status == 422 and page.locator("#waybill_no-error").is_visible()
    with page.expect_navigation():
        page.get_by_role("button", name="结案").click()
    page.goto(case_url)
    assert page.locator("#resolve-form").count() == 0  # a closed case offers no look-up
    # and the API refuses a look-up under it (logged), as the page would
    officer = tenant.login(http, Role.HQ_SECURITY)
    case_id = case_url.rsplit("/", 1)[1]
    refused = http.post("/api/v1/labels:resolve", json={"case_id": case_id, "waybill_no": number}, headers=officer)
    assert (refused.status_code, refused.json()["reason"]) == (403, "case_not_open")


def test_the_auditor_reads_the_log_only_and_other_roles_are_refused(
    page: Any, server: LiveServer, http: httpx.Client, tenant: Tenant
) -> None:
    assert sign_in(page, server.url, tenant, Role.AUDITOR).status == 200
    assert page.locator("#auditor-note").is_visible() and page.locator("#alerts").count() == 0
    page.goto(server.url + "/hq/audit")
    assert page.locator("h1").inner_text() == "访问日志"
    assert http.get("/api/v1/alerts", headers=tenant.login(http, Role.AUDITOR)).json()["code"] == "role_not_allowed"
    page.goto(server.url + f"/hq/cases/{uuid.uuid4()}")
    assert page.url.endswith("/hq/login")  # cases are HQ security's
    for role in (Role.COURIER, Role.SORTER, Role.STATION_MANAGER, Role.ADMIN, Role.ENTERPRISE):
        assert sign_in(page, server.url, tenant, role).status == 422, role
        assert page.locator("#username-error").is_visible()
    for path in ("/hq", "/hq/audit", "/hq/audit/0", "/hq/audit/export", "/hq/keys", "/hq/retention"):
        page.goto(server.url + path)
        assert page.url.endswith("/hq/login"), path


# -- alert filters ------------------------------------------------------------------------------------------

def raise_four_alerts(engine: Any, tenant: Tenant) -> dict[str, tuple[str, str]]:
    """Alerts of two kinds about two couriers, one at each station: name -> (kind, account id)."""
    couriers = {0: tenant.account(Role.COURIER, station=0), 1: tenant.account(Role.COURIER, station=1)}
    made = {"a": ("rate_exceeded", 0), "b": ("courier_own_id", 0), "c": ("rate_exceeded", 1),
            "d": ("courier_own_id", 1)}
    with writing(engine) as s:
        for name, (kind, station) in made.items():
            audit.raise_alert(db_session=s, carrier_id=tenant.carrier_id, kind=kind, dedupe_key=f"test:{name}",
                              detail={"test": name}, actor_id=couriers[station].user_id)
    return {name: (kind, str(couriers[station].user_id)) for name, (kind, station) in made.items()}


def test_alerts_filter_by_kind_station_account_and_status_over_the_api(
    http: httpx.Client, engine: Any, tenant: Tenant, other_tenant: Tenant
) -> None:
    made = raise_four_alerts(engine, tenant)
    by_pair = {pair: name for name, pair in made.items()}
    officer = tenant.login(http, Role.HQ_SECURITY)

    def names(headers: dict[str, str] = officer, **params: str) -> set[str]:
        r = http.get("/api/v1/alerts", params=params, headers=headers)
        assert r.status_code == 200, r.text
        return {by_pair[(a["kind"], a["actor_id"])] for a in r.json()}

    assert names() == {"a", "b", "c", "d"}
    assert names(kind="rate_exceeded") == {"a", "c"}
    assert names(actor=tenant.account(Role.COURIER, station=0).username) == {"a", "b"}
    assert names(actor=made["c"][1]) == {"c", "d"}
    assert names(station="ST-2") == {"c", "d"} == names(station=str(tenant.stations[1]))
    alert_d = next(a for a in http.get("/api/v1/alerts", params={"kind": "courier_own_id", "station": "ST-2"},
                                       headers=officer).json())
    assert http.post(f"/api/v1/alerts/{alert_d['id']}/acknowledge", headers=officer).status_code == 200
    assert names() == {"a", "b", "c"} == names(status="open")
    assert names(status="acknowledged") == {"d"} and names(open_only="false") == {"a", "b", "c", "d"}
    assert names(kind="courier_own_id", station="ST-2", status="all") == {"d"}
    for params, code in (({"station": "ST-9"}, "station_unknown"), ({"actor": "nobody-here"}, "actor_unknown"),
                         ({"actor": other_tenant.account(Role.COURIER).username}, "actor_unknown"),
                         ({"station": str(other_tenant.stations[0])}, "station_unknown"),
                         ({"kind": "Rate Exceeded"}, "kind_format")):
        r = http.get("/api/v1/alerts", params=params, headers=officer)
        assert (r.status_code, r.json()["code"]) == (422, code), params
    # A station manager's scope holds whatever the filter says.
    manager = tenant.login(http, Role.STATION_MANAGER, station=0)
    assert names(manager, status="all") == {"a", "b"}
    assert names(manager, station="ST-2", status="all") == set()
    assert names(manager, actor=made["c"][1], status="all") == set()


def test_the_officer_filters_alerts_on_the_page_and_the_filter_stays(
    page: Any, server: LiveServer, engine: Any, tenant: Tenant
) -> None:
    made = raise_four_alerts(engine, tenant)
    assert sign_in(page, server.url, tenant, Role.HQ_SECURITY).status == 200
    assert page.locator("#alerts li.alert").count() == 4
    page.select_option("#kind", "rate_exceeded")
    page.fill("#who", tenant.account(Role.COURIER, station=1).username)
    with page.expect_navigation():
        page.get_by_role("button", name="筛选").click()
    assert page.locator("#alerts li.alert").count() == 1
    assert page.locator("#alerts li.alert").get_attribute("data-kind") == "rate_exceeded"
    assert page.locator(".alert-who").inner_text() == tenant.account(Role.COURIER, station=1).username
    assert page.locator("#kind").input_value() == "rate_exceeded"  # the filter stays in the form
    assert page.locator("#who").input_value() == tenant.account(Role.COURIER, station=1).username
    with page.expect_navigation():
        page.get_by_role("button", name="确认").click()  # acknowledged, back to the same filter
    assert "kind=rate_exceeded" in page.url and page.locator("#alerts li.alert").count() == 0
    page.select_option("#status", "acknowledged")
    with page.expect_navigation():
        page.get_by_role("button", name="筛选").click()
    assert page.locator("#alerts .alert-acknowledged").count() == 1
    assert page.locator("#alerts form").count() == 0  # nothing left to acknowledge
    page.goto(server.url + f"/hq?station={tenant.stations[0]}&status=all")
    assert {page.locator("#alerts li.alert").nth(i).get_attribute("data-kind") for i in range(2)} == {
        made["a"][0], made["b"][0]}
    assert page.locator("#station").input_value() == str(tenant.stations[0])
    response = page.goto(server.url + "/hq?who=nobody-here")
    assert response.status == 422 and page.locator("#who-error").is_visible()
    assert_no_personal_data(page.content())


# -- the export -----------------------------------------------------------------------------------------------

def verify_export(path: Path, tenant: Tenant, database_url: str) -> str:
    """`parcelguard audit verify --file PATH --keys-from-db --carrier SLUG`, in this process; answers its line."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARCELGUARD_")}
    env.update(PARCELGUARD_DATABASE_URL=database_url, PARCELGUARD_ROOT_KEY=encode_root_key(TEST_ROOT_KEY),
               PARCELGUARD_VAR_DIR=str(path.parent / "var"), COLUMNS="200")
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli.app, ["audit", "verify", "--file", str(path), "--keys-from-db", "--carrier",
                                              tenant.slug], env=env)
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    return result.stdout


def logged_reveal(http: httpx.Client, tenant: Tenant) -> None:
    """Something in the log, and a signed head over it."""
    number = str(take_in(http, terminal_login(http, tenant))["waybill_no"])
    officer = tenant.login(http, Role.HQ_SECURITY)
    case = http.post("/api/v1/audit/cases", headers=officer, json={"reference": f"EXP-{uuid.uuid4().hex[:6]}",
                                                                  "summary": "export"}).json()["id"]
    assert http.post("/api/v1/labels:resolve", json={"case_id": case, "waybill_no": number},
                     headers=officer).status_code == 200
    assert http.post("/api/v1/audit/tree-heads", headers=officer).status_code == 201


def test_the_export_downloads_verifies_with_the_command_line_and_is_itself_logged(
    http: httpx.Client, tenant: Tenant, database_url: str, tmp_path: Path
) -> None:
    logged_reveal(http, tenant)
    auditor = tenant.login(http, Role.AUDITOR)
    r = http.get("/api/v1/audit/export", headers=auditor)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/x-ndjson"
    assert r.headers["content-disposition"] == (
        f"attachment; filename=audit-{tenant.slug}-{datetime.now(UTC).date().isoformat()}.jsonl")
    out = tmp_path / "export.jsonl"
    out.write_bytes(r.content)
    lines = [json.loads(line) for line in r.text.splitlines()]
    assert lines[0]["type"] == "log" and lines[0]["carrier"] == str(tenant.carrier_id)
    last = json.loads(lines[-1]["entry"])
    assert (last["purpose"], last["subject"], last["actor"]) == (
        "audit_export", "audit:log", str(tenant.account(Role.AUDITOR).user_id))  # the file holds its own export
    assert verify_export(out, tenant, database_url).startswith(f"ok {lines[0]['size']} ")
    for role in (Role.STATION_MANAGER, Role.ENTERPRISE, Role.ADMIN):
        refused = http.get("/api/v1/audit/export", headers=tenant.login(http, role))
        assert (refused.status_code, refused.json()["code"]) == (403, "role_not_allowed"), role
    assert http.get("/api/v1/audit/export", headers=terminal_login(http, tenant)).status_code == 403
    # The regulator names the carrier, as for the log's other routes; its export is logged in that log.
    regulator = tenant.login(http, Role.REGULATOR)
    assert http.get("/api/v1/audit/export", headers=regulator).json()["code"] == "carrier_required"
    theirs = http.get("/api/v1/audit/export", params={"carrier": tenant.slug}, headers=regulator)
    assert theirs.status_code == 200
    assert json.loads(json.loads(theirs.text.splitlines()[-1])["entry"])["role"] == "regulator"


def test_the_console_downloads_the_same_export(
    page: Any, server: LiveServer, http: httpx.Client, tenant: Tenant, database_url: str, tmp_path: Path
) -> None:
    logged_reveal(http, tenant)
    assert sign_in(page, server.url, tenant, Role.AUDITOR).status == 200
    page.goto(server.url + "/hq/audit")
    assert_no_personal_data(page.content())
    with page.expect_download() as download:
        page.locator("#export").click()
    assert download.value.suggested_filename.startswith(f"audit-{tenant.slug}-")
    out = tmp_path / download.value.suggested_filename
    download.value.save_as(out)
    assert verify_export(out, tenant, database_url).startswith("ok ")
    exports = http.get("/api/v1/audit/entries", params={"purpose": "audit_export"},
                       headers=tenant.login(http, Role.AUDITOR)).json()["items"]
    assert [e["entry"]["role"] for e in exports] == ["auditor"]
