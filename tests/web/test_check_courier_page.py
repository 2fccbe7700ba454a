"""The public check-a-courier page (/check), as a person uses it in headless Chromium: paste the courier's QR
text, scan it, or send a photo; the answer looks the same whether or not the courier is genuine; the page
speaks Chinese first and English on request, loads nothing from elsewhere and shows no personal data."""

from __future__ import annotations

import io
import re
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import segno
from PIL import Image

from parcelguard.core.auth import Role
from parcelguard.waybills.masking import mask_name
from parcelguard.web import i18n, qr_upload
from parcelguard.web.templating import CONTENT_SECURITY_POLICY, TEMPLATES_DIR
from tests.servers import LiveServer, platform_process
from tests.tenants import Account, Tenant
from tests.web.browser import (  # noqa: F401  (browser: a fixture)
    PHONE,
    assert_no_personal_data,
    browser,
    record_console_errors,
    record_hosts,
    screenshots_dir,
)

RESULT_SHAPE = """section => [section, ...section.querySelectorAll('*')].map(
    e => [e.tagName, e.id, e.className.replace(/result--(not-)?genuine/, 'result--*')].join('|'))"""


@pytest.fixture
def courier(http: httpx.Client, tenant: Tenant) -> tuple[str, Account]:
    """A genuine courier QR token, got as the courier's phone gets it, and the courier's account."""
    issued = http.post("/api/v1/couriers/me/qr-token", headers=tenant.login(http, Role.COURIER))
    assert issued.status_code == 200, issued.text
    return issued.json()["token"], tenant.account(Role.COURIER)


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:  # noqa: F811
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
    yield context.new_page()
    context.close()


def _submit(page: Any) -> Any:
    with page.expect_navigation() as navigation:
        page.locator("#check-form button[type=submit]").click()
    return navigation.value


def _qr_png(text: str) -> bytes:
    out = io.BytesIO()
    segno.make(text, error="m").save(out, kind="png", scale=8, border=4)
    return out.getvalue()


# -- in the browser -----------------------------------------------------------------------------------

def test_a_genuine_courier_checks_out_when_the_qr_text_is_pasted(
    page: Any, server: LiveServer, tenant: Tenant, courier: tuple[str, Account], tmp_path: Path
) -> None:
    token, account = courier
    hosts, console = record_hosts(page), record_console_errors(page)
    first = page.goto(server.url + "/check")
    assert first.status == 200
    headers = first.all_headers()
    assert headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert (headers["x-content-type-options"], headers["referrer-policy"], headers["cache-control"]) == (
        "nosniff", "no-referrer", "no-store")
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    assert page.locator("h1").inner_text() == i18n.ZH["check.title"]

    page.locator("#token").fill(token)
    answer = _submit(page)
    assert answer.status == 200
    result = page.locator("#result")
    assert result.get_attribute("class") == "result result--genuine"
    assert i18n.ZH["result.genuine_title"] in result.inner_text()
    assert f"Carrier {tenant.slug}" in result.inner_text() and "Station 1" in result.inner_text()
    assert mask_name(account.username) in result.inner_text()
    page.screenshot(path=str(screenshots_dir(tmp_path) / "page-check-courier.png"), full_page=True)

    # No personal data, no CDN: the page and its assets came from the platform only, under the policy.
    html = answer.text()  # as the server sent it (page.content() is the DOM after the browser's changes)
    for text in (html, page.content()):
        assert_no_personal_data(text, answer.all_headers(), forbidden=[account.username, str(account.user_id), token])
    assert answer.all_headers()["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert hosts == {"127.0.0.1"}, hosts
    assert console == []  # among others: no Content-Security-Policy violation
    # Nothing inline for the policy to block: no <style>, no style="", no script without a src.
    assert "<style" not in html and " style=" not in html and not re.search(r"<script(?![^>]*\bsrc=)", html)


def test_a_forged_token_is_not_genuine_and_its_answer_has_the_same_shape(
    page: Any, server: LiveServer, courier: tuple[str, Account]
) -> None:
    token, account = courier
    page.goto(server.url + "/check?lang=en")
    page.locator("#token").fill(token)
    _submit(page)
    genuine = page.locator("#result").evaluate(RESULT_SHAPE)

    forged = token[:40] + ("A" if token[40] != "A" else "B") + token[41:]
    for bad in (forged, "not-a-courier-at-all"):
        page.locator("#token").fill(bad)
        answer = _submit(page)
        assert answer.status == 200
        result = page.locator("#result")
        assert result.get_attribute("class") == "result result--not-genuine"
        assert "is not a genuine courier of a registered carrier" in result.inner_text()
        assert page.locator("#result").evaluate(RESULT_SHAPE) == genuine
        assert mask_name(account.username) not in result.inner_text()
        assert_no_personal_data(page.content(), answer.all_headers(), forbidden=[account.username])


def test_a_photo_of_the_courier_qr_code_checks_out(
    page: Any, server: LiveServer, tenant: Tenant, courier: tuple[str, Account]
) -> None:
    token, _ = courier
    page.goto(server.url + "/check")
    # Choosing a photo sends it at once (scan.js); the server reads the code.
    with page.expect_navigation() as navigation:
        page.locator("#photo").set_input_files(
            files=[{"name": "courier.png", "mimeType": "image/png", "buffer": _qr_png(token)}])
    assert navigation.value.status == 200
    assert page.locator("#result").get_attribute("class") == "result result--genuine"
    assert f"Carrier {tenant.slug}" in page.locator("#result").inner_text()


# A camera and a BarcodeDetector that sees the given text: headless Chromium on Linux has neither.
FAKE_CAMERA = """
window.BarcodeDetector = class {
  static getSupportedFormats() { return Promise.resolve(["qr_code", "ean_13"]); }
  constructor(options) { this.formats = options.formats; }
  detect(source) { return Promise.resolve(source.srcObject ? [{ rawValue: window.__qrText, format: "qr_code" }] : []); }
};
navigator.mediaDevices.getUserMedia = () => {
  const canvas = document.createElement("canvas");
  canvas.width = 320; canvas.height = 240;
  canvas.getContext("2d").fillRect(0, 0, 320, 240);
  return Promise.resolve(canvas.captureStream(5));
};
"""


def test_the_camera_scans_the_code_and_checks_it_with_barcode_detector(
    page: Any, server: LiveServer, tenant: Tenant, courier: tuple[str, Account]
) -> None:
    page.add_init_script(FAKE_CAMERA + f"window.__qrText = {courier[0]!r};")
    page.goto(server.url + "/check?lang=en")
    scan = page.get_by_role("button", name="Scan with the camera")
    assert scan.is_visible()  # shown only where BarcodeDetector reads QR codes
    with page.expect_navigation() as navigation:
        scan.click()
    assert navigation.value.status == 200
    assert page.locator("#result").get_attribute("class") == "result result--genuine"
    assert f"Carrier {tenant.slug}" in page.locator("#result").inner_text()


def test_an_empty_submit_says_so_next_to_the_field(page: Any, server: LiveServer) -> None:
    page.goto(server.url + "/check?lang=en")
    answer = _submit(page)
    assert answer.status == 422
    assert page.locator("#result").count() == 0
    error = page.locator("#token-error")
    assert error.get_attribute("class") == "field-error" and error.is_visible()
    assert error.inner_text() == i18n.EN["error.token_missing"]
    token_input = page.locator("#token")
    assert "token-error" in (token_input.get_attribute("aria-describedby") or "").split()
    assert token_input.get_attribute("aria-invalid") == "true"
    # The message sits with its field, right under the input.
    assert page.locator("#token + .field-error").count() == 1


def test_english_is_chosen_with_lang_and_kept_by_the_cookie(page: Any, server: LiveServer) -> None:
    page.goto(server.url + "/check?lang=en")
    assert page.locator("h1").inner_text() == "Check a courier"
    assert page.locator("html").get_attribute("lang") == "en"
    cookie = next(c for c in page.context.cookies() if c["name"] == i18n.COOKIE)
    assert cookie["value"] == "en" and cookie["sameSite"] == "Lax"
    assert cookie["expires"] > time.time() + 360 * 86400

    page.goto(server.url + "/check")  # no ?lang: the cookie decides
    assert page.locator("h1").inner_text() == "Check a courier"
    page.locator("#token").fill("garbage")
    _submit(page)
    assert "Not a genuine courier" in page.locator("#result").inner_text()

    page.get_by_role("link", name="中文").click()  # the language switch
    page.wait_for_url("**/check?lang=zh")
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    page.goto(server.url + "/")
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    assert page.get_by_role("link", name=i18n.ZH["home.check_link"]).get_attribute("href") == "/check"


def test_the_page_works_without_javascript(browser: Any, server: LiveServer,  # noqa: F811
                                           courier: tuple[str, Account]) -> None:
    context = browser.new_context(java_script_enabled=False, viewport=PHONE)
    page = context.new_page()
    page.goto(server.url + "/check")
    assert page.locator("#scanner").is_hidden()  # the camera button needs the script
    page.locator("#token").fill(courier[0])
    assert _submit(page).status == 200
    assert page.locator("#result").get_attribute("class") == "result result--genuine"
    context.close()


# -- over HTTP ----------------------------------------------------------------------------------------

def test_a_photo_that_is_no_image_or_has_no_qr_code_gets_a_message_next_to_the_field(http: httpx.Client) -> None:
    blank = io.BytesIO()
    Image.new("RGB", (320, 240), "white").save(blank, "JPEG")
    for name, data, key in (("notes.txt", b"just some text, not a picture" * 10, "error.photo_not_image"),
                            ("blank.jpg", blank.getvalue(), "error.photo_no_qr")):
        r = http.post("/check?lang=en", files={"photo": (name, data, "image/jpeg")}, data={"token": ""})
        assert r.status_code == 422, r.status_code
        assert 'id="photo-error"' in r.text and i18n.EN[key].replace("'", "&#39;") in r.text
        assert 'id="result"' not in r.text


def test_a_photo_over_the_limit_is_refused_with_a_message(http: httpx.Client) -> None:
    big = b"\x89PNG\r\n\x1a\n" + bytes(qr_upload.MAX_IMAGE_BYTES)
    r = http.post("/check?lang=en", files={"photo": ("big.png", big, "image/png")})
    assert r.status_code == 413 and 'id="photo-error"' in r.text


def test_the_page_and_the_api_share_one_rate_limit(database_url: str, tmp_path: Path,
                                                   courier: tuple[str, Account]) -> None:
    # A root key of its own gives this server counters of its own (their keys are HMACs under it).
    limits = {"PARCELGUARD_RATE_LIMIT_VERIFY_PER_ADDRESS": "2/day"}
    with platform_process(database_url=database_url, root_key=secrets.token_bytes(32),
                          log_path=tmp_path / "server.log", **limits) as live, httpx.Client(base_url=live.url) as c:
        assert c.get("/api/v1/public/couriers/verify", params={"token": courier[0]}).json()["genuine"] is True
        assert c.post("/check", data={"token": courier[0]}).status_code == 200
        refused = c.post("/check?lang=en", data={"token": courier[0]})
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 0
        assert "Too many checks" in refused.text and 'id="result"' not in refused.text
        assert c.get("/api/v1/public/couriers/verify", params={"token": courier[0]}).status_code == 429
        log = live.log_text()
    assert courier[0] not in log and courier[1].username not in log


def test_the_static_files_come_from_the_package(http: httpx.Client) -> None:
    home = http.get("/")
    assert home.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    for asset, media in (("app.css", "text/css"), ("scan.js", "javascript")):
        url = re.search(rf'"(/static/{re.escape(asset)}\?v=[0-9a-f]+)"', http.get("/check").text)
        assert url, asset
        served = http.get(url.group(1))
        assert served.status_code == 200 and media in served.headers["content-type"]


# -- without a server ---------------------------------------------------------------------------------

def test_the_two_catalogues_have_the_same_keys() -> None:
    assert set(i18n.ZH) == set(i18n.EN)
    assert all(i18n.ZH.values()) and all(i18n.EN.values())


def test_every_message_the_templates_and_pages_ask_for_exists() -> None:
    wanted = set()
    for path in [*TEMPLATES_DIR.glob("*.html"), Path(i18n.__file__).with_name("public_pages.py")]:
        wanted |= set(re.findall(r"""\b(?:t\(|_FieldProblem\([^)]*?)["']([a-z_]+\.[a-z_.]+)["']""", path.read_text()))
    # A key built in a template from a code (`"status." ~ parcel.status`) is a prefix here; the codes'
    # messages are checked one by one in the page's own tests (tests/web/test_courier_app.py).
    prefixes = {w for w in wanted if w.endswith(".")}
    assert wanted and wanted - prefixes <= set(i18n.ZH), wanted - prefixes - set(i18n.ZH)
    assert all(any(key.startswith(p) for key in i18n.ZH) for p in prefixes), prefixes


def test_english_falls_back_to_chinese_for_a_missing_message(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(i18n.EN, "check.title")
    assert i18n.translate("en", "check.title") == i18n.ZH["check.title"]
    assert i18n.translate("en", "check.photo_hint", mib=8).endswith("8 MiB.")


def test_decode_qr_reads_a_photo_and_refuses_what_is_not_an_image() -> None:
    photo = Image.open(io.BytesIO(_qr_png("HELLO-COURIER"))).convert("RGB").rotate(90, expand=True)
    out = io.BytesIO()
    photo.save(out, "JPEG", quality=80)
    assert qr_upload.decode_qr(out.getvalue()) == "HELLO-COURIER"
    blank = io.BytesIO()
    Image.new("L", (64, 64), 255).save(blank, "PNG")
    assert qr_upload.decode_qr(blank.getvalue()) is None
    for junk in (b"", b"%PDF-1.7 not an image", b"\x89PNG\r\n\x1a\n" + b"\0" * 100):
        with pytest.raises(qr_upload.NotAnImage):
            qr_upload.decode_qr(junk)
