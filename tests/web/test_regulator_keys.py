"""The regulator's carriers page in Debian's headless Chromium, on the platform app served in-process (the
fixtures of tests/regulator): the official sees a carrier's keys, is stopped without a reason or without
the key id typed again, then revokes the key and sees it revoked with their name and reason; the batch
intake refuses it from then on. Nobody else gets the page: no session, or a carrier's staff token, leads
to the sign-in."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, select

from parcelguard.accounts import service as accounts
from parcelguard.core import db
from parcelguard.core.auth import Role
from parcelguard.crypto import signing
from parcelguard.regulator.platform import service
from parcelguard.regulator.platform.models import CarrierKey
from tests.regulator.conftest import (  # noqa: F401  (platform, platform_engine, platform_url: fixtures)
    PERSON,
    Carrier,
    platform,
    platform_engine,
    platform_url,
    register,
)
from tests.regulator.officials import PASSWORD, add_official, send, sign_in
from tests.tenants import Tenant, writing
from tests.web.browser import (  # noqa: F401  (browser: a fixture)
    assert_no_personal_data,
    browser,
    record_console_errors,
    record_hosts,
    screenshots_dir,
)


def key_row(engine: Engine, carrier: Carrier) -> CarrierKey:
    with db.make_sessionmaker(engine)() as session:
        return session.scalars(select(CarrierKey).where(CarrierKey.carrier_id == carrier.id,
                                                        CarrierKey.key_id == carrier.key_id)).one()


def shunda(engine: Engine, rotating: Carrier | None = None) -> Carrier:
    """A carrier with a real-looking name, so the page's screenshot reads as the console would; or a new key
    of the carrier `rotating`."""
    seed, public = signing.generate()
    code, carrier_id = (rotating.code, rotating.id) if rotating else (f"shunda-{uuid.uuid4().hex[:6]}", uuid.uuid4())
    with db.make_sessionmaker(engine)() as session, session.begin():
        done = service.register_carrier(db_session=session, code=code, carrier_uuid=carrier_id, name="顺达速运",
                                        public_key=public)
    return Carrier(code=code, id=carrier_id, seed=seed, key_id=done.key_id)


def signed_in_page(browser: Any, platform: str, username: str) -> Any:  # noqa: F811
    page = browser.new_context(viewport={"width": 1024, "height": 900}).new_page()
    page.goto(platform + "/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="登录").click()
    assert page.url.endswith("/dashboard")
    return page


def submit(page: Any, key_id: str) -> Any:
    with page.expect_navigation() as navigation:
        page.locator(f"#key-{key_id}").get_by_role("button", name="吊销此密钥").click()
    return navigation.value


def test_the_official_revokes_a_key_with_a_reason_and_sees_it_revoked_with_their_name(
    browser: Any, platform: str, platform_engine: Engine, tmp_path: Path,  # noqa: F811
) -> None:
    carrier = shunda(platform_engine)
    send(platform, carrier, [carrier.record(PERSON), carrier.record(PERSON)])
    newer = shunda(platform_engine, rotating=carrier)
    page = signed_in_page(browser, platform, add_official(platform_engine))
    hosts, console_errors = record_hosts(page), record_console_errors(page)
    page.get_by_role("link", name="快递公司与上报密钥").click()
    page.wait_for_url("**/carriers")
    old = page.locator(f"#key-{carrier.key_id}")
    assert "有效" in old.locator(".key-state").inner_text()
    assert "2 条（接收 2 条）" in old.inner_text()
    assert "parcelguard regulator carriers add" in page.locator("#last-key-warning").inner_text()

    # No reason: nothing is revoked, the error stands next to the reason of that key's form.
    page.fill(f"#confirm-{carrier.key_id}", carrier.key_id)
    response = submit(page, carrier.key_id)
    assert response.status == 422
    assert page.locator(f"#reason-{carrier.key_id}-error").is_visible()
    assert page.locator(f"#reason-{carrier.key_id}").get_attribute("aria-invalid") == "true"
    assert "有效" in page.locator(f"#key-{carrier.key_id} .key-state").inner_text()
    # A reason but the key id mistyped: nothing is revoked either; the reason stays in its field.
    page.fill(f"#reason-{carrier.key_id}", "私钥疑似泄露（工单 KJ-2026-031）")
    page.fill(f"#confirm-{carrier.key_id}", newer.key_id)
    assert submit(page, carrier.key_id).status == 422
    assert page.locator(f"#confirm-{carrier.key_id}-error").is_visible()
    assert page.locator(f"#reason-{carrier.key_id}").input_value() == "私钥疑似泄露（工单 KJ-2026-031）"
    assert key_row(platform_engine, carrier).revoked_at is None

    page.fill(f"#confirm-{carrier.key_id}", carrier.key_id.upper())
    response = submit(page, carrier.key_id)
    assert response.status == 200 and "/carriers?revoked=" in page.url
    assert carrier.key_id in page.locator("#notice").inner_text()
    revoked = page.locator(f"#key-{carrier.key_id}")
    assert "已吊销" in revoked.locator(".key-state").inner_text()
    assert revoked.locator(".revoked-by").inner_text().startswith("王监管")
    assert revoked.locator(".revoke-reason").inner_text() == "私钥疑似泄露（工单 KJ-2026-031）"
    assert revoked.locator("form").count() == 0
    # The key still in force comes first, and warns that it is the carrier's last.
    keys = page.locator(f"#carrier-{carrier.code} .keys > li")
    assert keys.first.get_attribute("id") == f"key-{newer.key_id}"
    assert "唯一的有效密钥" in keys.first.inner_text()
    assert_no_personal_data(page.content(), forbidden=[PERSON["name"]])
    page.screenshot(path=str(screenshots_dir(tmp_path) / "page-regulator-carriers.png"), full_page=True)
    # The page's own 422 answers above are console lines too; a blocked style or script would be a CSP one.
    assert hosts == {"127.0.0.1"}, hosts
    assert not [e for e in console_errors if "Content Security Policy" in e or "Refused" in e], console_errors

    # From then on the batch intake refuses the key; the other key still uploads.
    refused = httpx.post(platform + "/api/v1/batches", json=carrier.batch([carrier.record(PERSON)]))
    assert refused.status_code == 403 and refused.json()["code"] == "carrier_key_unknown"
    send(platform, newer, [newer.record(PERSON)])


def test_the_page_is_for_signed_in_officials_only(
    browser: Any, platform: str, platform_engine: Engine, tenant: Tenant,  # noqa: F811
) -> None:
    carrier = register(platform_engine)
    fresh = browser.new_context().new_page()
    fresh.goto(platform + "/carriers")
    assert fresh.url.endswith("/login")

    # A token the carrier platform issued to its HQ security officer, as a session cookie: the sign-in page,
    # for the page and for a revocation, and the key stays in force.
    account = tenant.account(Role.HQ_SECURITY)
    with writing(tenant.engine) as s:
        staff = accounts.sign_in(db_session=s, username=account.username, password=account.password,
                                 terminal_id=None, token_ttl=timedelta(hours=1), max_failures=5,
                                 lockout=timedelta(minutes=15)).token
    context = browser.new_context()
    context.add_cookies([{"name": "pg_session", "value": staff, "url": platform}])
    page = context.new_page()
    page.goto(platform + "/carriers")
    assert page.url.endswith("/login")
    answer = httpx.post(f"{platform}/carriers/{carrier.code}/keys/{carrier.key_id}/revoke",
                        data={"reason": "越权尝试", "confirm": carrier.key_id, "csrf": "x"},
                        cookies={"pg_session": staff})
    assert answer.status_code == 303 and answer.headers["location"] == "/login"
    assert key_row(platform_engine, carrier).revoked_at is None


def test_an_official_without_a_csrf_token_revokes_nothing(platform: str, platform_engine: Engine) -> None:  # noqa: F811
    carrier = register(platform_engine)
    username = add_official(platform_engine)
    with httpx.Client(base_url=platform) as client:
        signed = client.post("/login", data={"username": username, "password": PASSWORD})
        assert signed.status_code == 303
        answer = client.post(f"/carriers/{carrier.code}/keys/{carrier.key_id}/revoke",
                             data={"reason": "没有令牌", "confirm": carrier.key_id})
        assert answer.status_code == 303 and answer.headers["location"] == "/login"
    assert key_row(platform_engine, carrier).revoked_at is None


def test_a_key_revoked_meanwhile_is_not_revoked_again_and_the_page_says_by_whom(
    platform: str, platform_engine: Engine,  # noqa: F811
) -> None:
    carrier = register(platform_engine)
    first, second = add_official(platform_engine), add_official(platform_engine)
    with httpx.Client(base_url=platform) as client:
        assert client.post("/login", data={"username": second, "password": PASSWORD}).status_code == 303
        csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/carriers").text)
        assert csrf is not None
        token = sign_in(platform, first)
        revoked = httpx.post(f"{platform}/api/v1/carriers/{carrier.code}/keys/{carrier.key_id}/revoke",
                             json={"reason": "私钥泄露"}, headers=token)
        assert revoked.status_code == 200, revoked.text
        answer = client.post(f"/carriers/{carrier.code}/keys/{carrier.key_id}/revoke",
                             data={"reason": "重复吊销", "confirm": carrier.key_id, "csrf": csrf.group(1)})
    assert answer.status_code == 409
    assert "此前已被吊销" in answer.text and f"{first})" in answer.text and "重复吊销" not in answer.text
    assert key_row(platform_engine, carrier).revoke_reason == "私钥泄露"
