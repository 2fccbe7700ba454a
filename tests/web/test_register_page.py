"""The sender's registration page (/register/{carrier}) in headless Chromium, as a sender uses it on a phone:
the document and the phone, the SMS code, then the real-name QR code a courier scans at pickup, which intake
accepts. Bad input is shown next to its field with nothing written; no page holds the document number, the
phone or the name; the refresh secret stays in an HttpOnly, SameSite=Strict cookie; the page and the API
count on the same rate limits."""

from __future__ import annotations

import io
import re
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import zxingcpp
from PIL import Image

from parcelguard.core.auth import Role
from parcelguard.identity.models import SenderRegistration
from parcelguard.web import i18n
from parcelguard.web.templating import CONTENT_SECURITY_POLICY
from tests.identity.conftest import client, clock, serve, sms  # noqa: F401  (fixtures)
from tests.identity.realname import (
    Clock,
    RecordingSender,
    Serve,
    code_in_log,
    new_address,
    realname_path,
    registration_body,
)
from tests.identity.test_realname_qr import parcel
from tests.servers import LiveServer
from tests.support import count_rows
from tests.tenants import Tenant
from tests.web.browser import (  # noqa: F401  (browser: a fixture)
    PHONE,
    assert_no_personal_data,
    browser,
    record_console_errors,
    record_hosts,
    screenshots_dir,
)

SENDER_NAME = "诸葛登记"
CODE_PAGE = re.compile(r"/register/([a-z0-9-]+)/([0-9a-f-]{36})$")
INLINE = re.compile(r"<style|\sstyle=|<script(?![^>]*\bsrc=)")


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:  # noqa: F811
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
    yield context.new_page()
    context.close()


def submit(page: Any, form: str) -> Any:
    """Send the form `form` (a selector) with its submit button; the response the browser ends on."""
    with page.expect_navigation() as navigation:
        page.locator(f"{form} button[type=submit]").click()
    return navigation.value


def fill_registration(page: Any, number: str, name: str, phone: str) -> None:
    page.select_option("#doc_type", "resident_id")
    page.fill("#doc_number", number)
    page.fill("#doc_name", name)
    page.fill("#phone", phone)


def registrations(database_url: str, tenant: Tenant, *where: object) -> int:
    return count_rows(database_url, SenderRegistration, SenderRegistration.carrier_id == tenant.carrier_id, *where)


def wrong(code: str) -> str:
    return code[:-1] + str((int(code[-1]) + 1) % 10)


def scanned_headers(response: Any) -> dict[str, str]:
    """The response's headers for the canary scan, but X-Request-Id: a random hex id that now and then spells
    eleven digits like a mobile number by chance (uuid4().hex), and holds nothing a client sent."""
    return {k: v for k, v in response.all_headers().items() if k != "x-request-id"}


def errors_on(page: Any) -> dict[str, str]:
    return {e.get_attribute("id"): e.inner_text() for e in page.locator(".field-error").all()}


# -- in the browser -----------------------------------------------------------------------------------

def test_a_sender_registers_on_the_page_and_the_courier_takes_the_parcel_in_by_its_qr_code(
    page: Any, server: LiveServer, http: httpx.Client, database_url: str, tenant: Tenant, tmp_path: Path
) -> None:
    body = registration_body(name=SENDER_NAME)
    number, phone = body["document"]["number"], body["phone"]
    forbidden = [number, phone, SENDER_NAME]
    shots = screenshots_dir(tmp_path)
    hosts, console = record_hosts(page), record_console_errors(page)
    served: list[str] = []  # every page's HTML as the server sent it

    def scanned(response: Any) -> None:
        html = response.text()
        served.append(html)
        assert_no_personal_data(html, scanned_headers(response), forbidden=forbidden)
        assert_no_personal_data(page.content(), forbidden=forbidden)
        assert not INLINE.search(html)  # nothing inline for the policy to block

    # From the home page to the carrier's form, by the carrier's code.
    page.goto(server.url + "/")
    with page.expect_navigation():
        page.get_by_role("link", name=i18n.ZH["home.register_link"]).click()
    assert page.url.endswith("/register")
    page.fill("#carrier", tenant.slug)
    form = submit(page, "#carrier-form")
    assert form.status == 200 and page.url.endswith(f"/register/{tenant.slug}")
    headers = form.all_headers()
    assert headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert (headers["x-content-type-options"], headers["referrer-policy"], headers["cache-control"]) == (
        "nosniff", "no-referrer", "no-store")
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    assert page.locator("h1").inner_text() == i18n.ZH["register.title"]
    assert f"Carrier {tenant.slug}" in page.locator(".register-carrier").inner_text()
    scanned(form)

    # (1) the document and the phone: a code goes to the phone, and the page asks for it.
    before = registrations(database_url, tenant)
    fill_registration(page, number, SENDER_NAME, phone)
    page.screenshot(path=str(shots / "page-register.png"))
    coded = submit(page, "#register-form")
    assert coded.status == 200, page.content()
    found = CODE_PAGE.search(page.url)
    assert found is not None and found.group(1) == tenant.slug, page.url
    registration_id = found.group(2)
    assert registrations(database_url, tenant) == before + 1
    code_input = page.locator("#code")
    assert (code_input.get_attribute("inputmode"), code_input.get_attribute("autocomplete")) == (
        "numeric", "one-time-code")
    assert page.locator("#resend-form #phone").input_value() == ""  # the phone is asked again, never kept
    assert page.locator("input[type=hidden]").count() == 0
    scanned(coded)

    # (2) the code from the SMS: on to the QR page, with the refresh secret in a cookie the page cannot read.
    page.fill("#code", code_in_log(server, registration_id))
    shown = submit(page, "#code-form")
    assert shown.status == 200, page.content()
    assert page.url.endswith(f"/register/{tenant.slug}/{registration_id}/qr")
    refresh = int(shown.all_headers()["refresh"])
    assert 10 <= refresh <= 600 - 60, refresh  # a minute before the ten-minute token expires
    [cookie] = [c for c in page.context.cookies() if c["name"] == "pg_realname"]
    assert (cookie["httpOnly"], cookie["sameSite"], cookie["path"]) == (True, "Strict", f"/register/{tenant.slug}")
    rid, secret = cookie["value"].split(".", 1)
    assert rid == registration_id and len(secret) >= 40
    assert page.evaluate("document.cookie").find(secret) == -1
    assert page.locator("#qr-expiry time").inner_text().strip()
    scanned(shown)
    page.screenshot(path=str(shots / "page-register-qr.png"))

    # (3) the courier scans the QR code: intake takes the token, and the sender shows as a masked view.
    image = Image.open(io.BytesIO(page.locator("#realname-qr").screenshot()))
    [code] = zxingcpp.read_barcodes(image.convert("L"))
    token = code.text
    assert page.locator("#realname-qr").get_attribute("src").startswith("data:image/png;base64,")
    manager = tenant.login(http, Role.STATION_MANAGER)
    terminal = http.post("/api/v1/terminals", headers=manager,
                         json={"serial": f"PDA-{uuid.uuid4().hex[:8]}", "label": "handheld"}).json()["id"]
    courier = tenant.login(http, Role.COURIER, terminal_id=terminal)
    taken = http.post("/api/v1/shipments", json=parcel(token), headers=courier)
    assert taken.status_code == 201, taken.text
    assert taken.json()["sender"] == {"name": "诸葛**", "document_type": "resident_id",
                                      "document": number[:4] + "*" * 10 + number[-4:]}

    # The page reloads itself with a new token; the carrier's form now leads back to the code.
    again = page.reload()
    assert again.status == 200 and page.locator("#realname-qr").count() == 1
    scanned(again)
    back = page.goto(server.url + f"/register/{tenant.slug}")
    assert page.locator("#registered").get_attribute("href") == f"/register/{tenant.slug}/{registration_id}/qr"
    scanned(back)
    for html in served:
        assert secret not in html and token not in html
    assert hosts - {""} == {"127.0.0.1"}, hosts  # "": the QR code's data: URI, which has no host
    assert console == []
    log = server.log_text()
    assert all(value not in log for value in (number, phone, SENDER_NAME, secret))


def test_bad_input_is_shown_next_to_its_field_in_english_and_nothing_is_written(
    page: Any, server: LiveServer, database_url: str, tenant: Tenant
) -> None:
    body = registration_body(name=SENDER_NAME)
    number, phone = body["document"]["number"], body["phone"]
    typo = number[:-1] + ("0" if number[-1] != "0" else "1")  # the check digit is wrong
    forbidden = [number, typo, phone, SENDER_NAME]
    hosts = record_hosts(page)
    page.goto(server.url + f"/register/{tenant.slug}?lang=en")
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("h1").inner_text() == i18n.EN["register.title"]
    before = registrations(database_url, tenant)

    # A wrong check digit and a phone too short: each next to its field, nothing written, nothing echoed.
    fill_registration(page, typo, SENDER_NAME, "12345")
    refused = submit(page, "#register-form")
    assert refused.status == 422
    assert errors_on(page) == {"doc_number-error": i18n.EN["code.id_check_digit"],
                               "phone-error": i18n.EN["code.phone_too_short"]}
    assert page.locator("#doc_number").get_attribute("aria-invalid") == "true"
    assert "doc_number-error" in page.locator("#doc_number").get_attribute("aria-describedby").split()
    assert page.locator("#doc_number + .field-error").count() == 1
    assert [page.locator(f"#{f}").input_value() for f in ("doc_number", "doc_name", "phone")] == ["", "", ""]
    assert registrations(database_url, tenant) == before
    assert_no_personal_data(refused.text(), scanned_headers(refused), forbidden=forbidden)

    # Left empty: "Required." next to each field.
    refused = submit(page, "#register-form")
    assert refused.status == 422
    assert errors_on(page) == {f"{f}-error": i18n.EN["code.missing"] for f in ("doc_number", "doc_name", "phone")}
    assert registrations(database_url, tenant) == before

    # Registered; then a wrong code is shown next to the code field and proves nothing.
    fill_registration(page, number, SENDER_NAME, phone)
    assert submit(page, "#register-form").status == 200
    registration_id = CODE_PAGE.search(page.url).group(2)  # type: ignore[union-attr]
    page.fill("#code", wrong(code_in_log(server, registration_id)))
    refused = submit(page, "#code-form")
    assert refused.status == 422
    assert errors_on(page) == {"code-error": i18n.EN["code.otp_invalid"] + " 4 tries left."}
    assert page.locator("#code").get_attribute("aria-invalid") == "true"
    assert registrations(database_url, tenant, SenderRegistration.verified_at.is_not(None)) == 0
    assert "pg_realname" not in {c["name"] for c in page.context.cookies()}
    assert_no_personal_data(refused.text(), scanned_headers(refused), forbidden=forbidden)

    # Nothing typed in the code field costs no try.
    assert submit(page, "#code-form").status == 422
    assert errors_on(page) == {"code-error": i18n.EN["code.missing"]}

    # Another code at once is too soon; to another phone, refused as the API refuses it; both at the phone.
    page.fill("#resend-form #phone", phone)
    refused = submit(page, "#resend-form")
    assert refused.status == 429 and int(refused.all_headers()["retry-after"]) > 0
    assert errors_on(page)["phone-error"].startswith("A code was sent just now; ask for another in ")
    assert page.locator("#resend-form #phone").input_value() == ""
    assert_no_personal_data(refused.text(), scanned_headers(refused), forbidden=forbidden)
    page.fill("#resend-form #phone", "13800001111")
    refused = submit(page, "#resend-form")
    assert refused.status == 404
    assert errors_on(page) == {"phone-error": i18n.EN["register.resend_unknown"]}
    assert registrations(database_url, tenant) == before + 1

    # The right code still works after the wrong one.
    page.fill("#code", code_in_log(server, registration_id))
    assert submit(page, "#code-form").status == 200
    assert page.locator("h1").inner_text() == i18n.EN["register.qr_title"]
    assert i18n.EN["register.qr_expires"] in page.locator("#qr-expiry").inner_text()
    assert hosts - {""} == {"127.0.0.1"}, hosts


# -- over HTTP ----------------------------------------------------------------------------------------

def form_of(body: dict[str, Any]) -> dict[str, str]:
    """A registration body (as the API takes it) as the page's form."""
    return {"doc_type": body["document"]["type"], "doc_number": body["document"]["number"],
            "doc_name": body["document"]["name"], "phone": body["phone"]}


def register_on_page(http: httpx.Client, slug: str, body: dict[str, Any] | None = None) -> str:
    """Register through the page's form; the code page's path."""
    r = http.post(f"/register/{slug}", data=form_of(body or registration_body()))
    assert r.status_code == 303, r.text
    assert CODE_PAGE.search(r.headers["location"])
    return str(r.headers["location"])


def test_a_code_given_wrong_five_times_is_dead_even_when_the_right_one_follows(
    server: LiveServer, http: httpx.Client, tenant: Tenant
) -> None:
    code_page = register_on_page(http, tenant.slug)
    code = code_in_log(server, code_page.rsplit("/", 1)[1])
    for left in (4, 3, 2, 1, 0):
        r = http.post(code_page + "/verify?lang=en", data={"code": wrong(code)})
        assert r.status_code == 422 and f"{left} tries left." in r.text
    for given in (code, wrong(code)):
        r = http.post(code_page + "/verify?lang=en", data={"code": given})
        assert r.status_code == 422 and 'id="code-error"' in r.text
        assert i18n.EN["code.otp_exhausted"].replace("'", "&#39;") in r.text
        assert "pg_realname" not in r.headers.get("set-cookie", "")


def test_an_expired_code_is_shown_next_to_the_field(
    serve: Serve, client: Callable[[str, str], httpx.Client], clock: Clock, sms: RecordingSender,  # noqa: F811
    tenant: Tenant
) -> None:
    http = client(serve(), new_address())
    code_page = register_on_page(http, tenant.slug)
    clock.advance(301)  # the code lives five minutes
    r = http.post(code_page + "/verify?lang=en", data={"code": sms.last_code()})
    assert r.status_code == 422 and 'id="code-error"' in r.text
    assert i18n.EN["code.otp_expired"].replace("'", "&#39;") in r.text


def test_the_page_and_the_api_share_the_registration_limit(
    serve: Serve, client: Callable[[str, str], httpx.Client], database_url: str, tenant: Tenant  # noqa: F811
) -> None:
    http = client(serve(rate_limit_register_per_address="2/day"), new_address())
    assert http.post(realname_path(tenant.slug), json=registration_body()).status_code == 202
    register_on_page(http, tenant.slug)
    refused = http.post(f"/register/{tenant.slug}?lang=en", data=form_of(registration_body(name=SENDER_NAME)))
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 0
    assert "Too many tries; try again in" in refused.text and SENDER_NAME not in refused.text
    assert registrations(database_url, tenant) == 2
    assert http.post(realname_path(tenant.slug), json=registration_body()).status_code == 429


def test_the_qr_page_needs_the_cookie_of_its_own_registration(
    server: LiveServer, http: httpx.Client, tenant: Tenant
) -> None:
    # Registered through the API, proved on the page: one flow, two doors.
    registered = http.post(realname_path(tenant.slug), json=registration_body())
    assert registered.status_code == 202
    registration_id = registered.json()["registration_id"]
    code_page = f"/register/{tenant.slug}/{registration_id}"
    verified = http.post(code_page + "/verify", data={"code": code_in_log(server, registration_id)})
    assert verified.status_code == 303 and verified.headers["location"] == code_page + "/qr"
    set_cookie = verified.headers["set-cookie"]
    assert "HttpOnly" in set_cookie and "SameSite=strict" in set_cookie and f"Path=/register/{tenant.slug}" in set_cookie
    assert http.get(code_page + "/qr").status_code == 200
    assert http.get(code_page, follow_redirects=False).headers["location"] == code_page + "/qr"
    # The same page without the cookie, or with another registration's, shows no code and counts nothing.
    for path in (code_page + "/qr", f"/register/{tenant.slug}/{uuid.uuid4()}/qr"):
        with httpx.Client(base_url=str(http.base_url)) as stranger:
            r = stranger.get(path + "?lang=en")
        assert r.status_code == 404 and 'id="realname-qr"' not in r.text and "refresh" not in r.headers
        assert "This device holds no QR code" in r.text
    # A secret that opens nothing is answered as an unknown registration, and the cookie is dropped.
    forged = http.cookies.get("pg_realname", path=f"/register/{tenant.slug}").split(".")[0] + ".guess"
    with httpx.Client(base_url=str(http.base_url), cookies={"pg_realname": forged}) as guesser:
        r = guesser.get(code_page + "/qr?lang=en")
    assert r.status_code == 404 and i18n.EN["code.registration_unknown"] in r.text
    assert 'pg_realname=""' in r.headers["set-cookie"] and "Max-Age=0" in r.headers["set-cookie"]


def test_the_carrier_is_chosen_by_its_code(http: httpx.Client, tenant: Tenant) -> None:
    r = http.get("/register", params={"carrier": f" {tenant.slug.upper()} "}, follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (303, f"/register/{tenant.slug}")
    for path in ("/register?carrier=no%20such&lang=en", "/register/no-such-carrier?lang=en"):
        r = http.get(path)
        assert r.status_code in (404, 422) and 'id="carrier-error"' in r.text
        assert i18n.EN["register.carrier_unknown"] in r.text
    r = http.get(f"/register/{tenant.slug}/not-a-registration?lang=en")
    assert r.status_code == 404 and i18n.EN["code.registration_unknown"] in r.text and 'id="code"' not in r.text


def test_every_code_the_registration_page_shows_has_a_message_in_both_languages() -> None:
    from parcelguard.core.phones import MESSAGES as PHONE_MESSAGES
    from parcelguard.identity.documents import Reason
    from parcelguard.identity.otp import Verdict

    codes = [r.value for r in Reason if not r.value.startswith("uscc")] + list(PHONE_MESSAGES) + [
        v.value for v in Verdict if v is not Verdict.OK] + [
        "otp_too_soon", "rate_limited", "registration_unknown", "registration_verified", "carrier_unknown",
        "regulator_key_missing", "sms_unavailable", "field_length", "string_too_long", "missing"]
    for catalogue in (i18n.ZH, i18n.EN):
        assert [c for c in codes if f"code.{c}" not in catalogue] == []
