"""The courier's app in Debian's headless Chromium, as a courier in a hurry uses it on a phone-sized
handheld: sign in on a registered terminal, take a parcel in by photographing the sender's real-name QR
code, print its label, deliver it by photographing the label, tap to call through the virtual number,
record the outcome, and show the courier's own QR code. Every page's HTML is canary-scanned."""

from __future__ import annotations

import io
import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import segno
import zxingcpp
from PIL import Image
from sqlalchemy import Engine

from parcelguard.core.auth import Role
from parcelguard.shipments.models import Shipment
from tests.identity.realname import code_in_log, register_verified, registration_body
from tests.servers import LiveServer
from tests.support import count_rows
from tests.tenants import Tenant
from tests.waybills.test_label_api import pdf_images, with_pool
from tests.web.browser import (  # noqa: F401  (browser: a fixture)
    PHONE,
    assert_no_personal_data,
    browser,
    record_hosts,
    screenshots_dir,
)

RECIPIENT = {"name": "司马收件", "phone": "13722225555", "province": "上海市", "city": "上海市",
             "district": "浦东新区", "detail": "收件大道8号 3单元 502室"}
SENDER_NAME = "慕容寄件"


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:  # noqa: F811
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
    yield context.new_page()
    context.close()


def png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def qr_png(text: str) -> bytes:
    out = io.BytesIO()
    segno.make_qr(text, error="m").save(out, kind="png", scale=8, border=4)
    return out.getvalue()


def terminal_of(http: httpx.Client, tenant: Tenant, station: int = 0) -> str:
    manager = tenant.login(http, Role.STATION_MANAGER, station=station)
    r = http.post("/api/v1/terminals", headers=manager, json={"serial": f"PDA-{uuid.uuid4().hex[:8]}",
                                                                "label": "handheld"})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def sign_in(page: Any, base: str, tenant: Tenant, terminal: str, role: Role = Role.COURIER) -> Any:
    account = tenant.account(role)
    page.goto(base + "/courier/login")
    page.fill("#username", account.username)
    page.fill("#password", account.password)
    page.fill("#terminal", terminal)
    with page.expect_navigation() as navigation:
        page.get_by_role("button", name="登录").click()
    return navigation.value


def scanned(page: Any, forbidden: list[str]) -> str:
    """The page's HTML, checked: no phone, no ID number, none of the test's canaries."""
    html = page.content()
    assert_no_personal_data(html, forbidden=forbidden)
    return html


def test_a_courier_takes_a_parcel_in_prints_its_label_delivers_it_and_calls_through_the_virtual_number(
    page: Any, server: LiveServer, http: httpx.Client, engine: Engine, tenant: Tenant, tmp_path: Any
) -> None:
    pool = with_pool(engine, tenant)
    terminal = terminal_of(http, tenant)
    sender = registration_body(name=SENDER_NAME)
    realname = register_verified(http, tenant.slug, lambda rid: code_in_log(server, rid), body=sender)
    id_number = sender["document"]["number"]
    forbidden = [id_number, sender["phone"], SENDER_NAME, RECIPIENT["name"], RECIPIENT["phone"], realname["token"]]
    shots = screenshots_dir(tmp_path)
    hosts = record_hosts(page)

    # Signing in on the registered terminal leads to today's tasks.
    assert sign_in(page, server.url, tenant, terminal).status == 200
    assert page.url.endswith("/courier")
    scanned(page, forbidden)

    # Pickup: the sender's real-name QR code photographed; the recipient typed; an item from the catalogue.
    opened = page.goto(server.url + "/courier/pickup")
    assert opened.status == 200, opened.status
    qr_file = tmp_path / "realname.png"
    qr_file.write_bytes(qr_png(realname["token"]))
    page.set_input_files("#sender_qr_photo", str(qr_file))
    page.fill("#sender_address", "北京市朝阳区寄件路1号")
    for field in ("name", "phone", "province", "city", "district", "detail"):
        page.fill(f"#recipient_{field}" if field in ("name", "phone") else f"#{field}", RECIPIENT[field])
    page.select_option("#destination", str(tenant.stations[0]))
    page.fill("#item0_description", "羽绒服")
    page.select_option("#item0_category", "clothing")
    page.fill("#item0_quantity", "1")
    inspection = tmp_path / "inspection.jpg"
    Image.new("RGB", (640, 480), (180, 150, 120)).save(inspection, format="JPEG")
    page.check("#inspected")
    page.set_input_files("#photos", str(inspection))
    page.screenshot(path=str(shots / "page-courier-pickup.png"), full_page=False)
    with page.expect_navigation() as navigation:
        page.get_by_role("button", name="揽收", exact=True).click()
    assert navigation.value.status == 201, page.content()
    number = page.locator("#waybill-no").inner_text().strip()
    assert re.fullmatch(rf"{tenant.prefix}\d{{13}}", number)
    picked = scanned(page, forbidden)
    assert "慕容" in picked and "1101" in picked  # the masked views: surname, the document's first digits
    assert page.locator(".fact", has_text="验视照片").inner_text().strip().endswith("1")  # the photo, kept encrypted
    page.screenshot(path=str(shots / "page-courier-picked.png"))

    # The label: the gate decides (label_print) and the PDF comes; its QR code is the label token.
    href = page.locator("#print-label").get_attribute("href")
    shipment_id = href.split("/")[3]
    label = page.request.get(server.url + href)
    assert label.status == 200 and label.headers["content-type"] == "application/pdf"
    assert label.headers["cache-control"] == "no-store"
    label_png = tmp_path / "label.png"
    label_png.write_bytes(png(pdf_images(label.body())[0]))

    # The manager gives the delivery to the same courier; it shows among today's tasks with its district.
    manager = tenant.login(http, Role.STATION_MANAGER)
    courier_id = tenant.account(Role.COURIER).user_id
    assert http.post(f"/api/v1/shipments/{shipment_id}/assign", json={"courier_id": str(courier_id)},
                     headers=manager).status_code == 201
    page.goto(server.url + "/courier")
    task = page.locator(".task--delivery", has_text=number)
    assert "浦东新区" in task.inner_text() and "已揽收" in task.inner_text()
    with page.expect_navigation():
        task.get_by_role("button", name="出发派送").click()
    assert "派送中" in page.locator(".task--delivery", has_text=number).inner_text()
    page.screenshot(path=str(shots / "page-courier-tasks.png"))

    # Delivery: the label photographed; the address through the gate; one tap calls the virtual number.
    page.goto(server.url + "/courier/scan")
    with page.expect_navigation() as navigation:
        page.set_input_files("#photo", str(label_png))  # scan.js sends the form at once
    assert navigation.value.status == 200, page.content()
    delivery = scanned(page, forbidden)
    assert RECIPIENT["detail"] in page.locator("#address").inner_text()
    assert page.locator("#recipient-name").inner_text().startswith("司")
    tel = page.locator("#call").get_attribute("href")
    assert tel is not None and tel.startswith("tel:" + pool) and re.fullmatch(r"tel:\+\d+,,\d{4}", tel)
    assert RECIPIENT["phone"] not in delivery and RECIPIENT["phone"][-4:] not in tel
    page.screenshot(path=str(shots / "page-courier-delivery.png"))
    page.locator("#call").click()  # a tap: the phone's dialer takes the tel: link; the page stays
    assert page.locator("#call").is_visible()
    with page.expect_navigation():
        page.get_by_role("button", name="已签收").click()
    assert page.url.endswith("/courier?done=delivered")
    assert page.locator(".task--delivery", has_text=number).count() == 0
    tracked = http.get(f"/api/v1/public/track/{number}").json()
    assert tracked["status"] == "delivered"

    # The courier's own QR code decodes to a token the public check calls genuine.
    page.goto(server.url + "/courier/qr")
    src = page.locator("#courier-qr").get_attribute("src")
    assert src.startswith("data:image/png;base64,")
    image = Image.open(io.BytesIO(page.locator("#courier-qr").screenshot()))
    [code] = zxingcpp.read_barcodes(image.convert("L"))
    assert http.get("/api/v1/public/couriers/verify", params={"token": code.text}).json()["genuine"] is True
    scanned(page, forbidden)
    page.screenshot(path=str(shots / "page-courier-qr.png"))
    assert hosts - {""} == {"127.0.0.1"}, hosts  # "": the QR code's data: URI, which has no host


def test_bad_input_on_the_pickup_form_is_shown_next_to_each_field_and_nothing_is_written(
    page: Any, server: LiveServer, http: httpx.Client, database_url: str, tenant: Tenant
) -> None:
    terminal = terminal_of(http, tenant)
    sign_in(page, server.url, tenant, terminal)
    page.goto(server.url + "/courier/pickup?lang=en")
    before = count_rows(database_url, Shipment, Shipment.carrier_id == tenant.carrier_id)
    page.locator("details.typed-document summary").click()
    page.fill("#doc_number", "110105194912310021")  # one digit off: the check digit is wrong
    page.fill("#doc_name", SENDER_NAME)
    page.fill("#sender_phone", "12345")
    page.fill("#sender_address", "北京市朝阳区寄件路1号")
    page.fill("#recipient_phone", RECIPIENT["phone"])
    page.fill("#item0_description", "烟花")
    page.select_option("#item0_category", "household")
    with page.expect_navigation() as navigation:
        page.get_by_role("button", name="Take in", exact=True).click()
    assert navigation.value.status == 422
    errors = {e.get_attribute("id"): e.inner_text() for e in page.locator(".field-error").all()}
    assert "recipient_name-error" in errors  # left empty
    assert page.locator("#recipient_name").get_attribute("aria-invalid") == "true"
    assert count_rows(database_url, Shipment, Shipment.carrier_id == tenant.carrier_id) == before
    # What was typed comes back, but never a document number, a phone or a name...
    assert page.locator("#sender_address").input_value() == "北京市朝阳区寄件路1号"
    assert [page.locator(f"#{f}").input_value() for f in ("doc_number", "doc_name", "sender_phone", "recipient_phone")] \
        == ["", "", "", ""]
    assert_no_personal_data(page.content(), forbidden=[SENDER_NAME])
    # ... and the domain's own checks, once the form is complete, name their fields too.
    page.fill("#doc_number", "110105194912310021")
    page.fill("#doc_name", SENDER_NAME)
    page.fill("#sender_phone", "12345")
    for field in ("recipient_name", "recipient_phone", "province", "city", "district", "detail"):
        page.fill(f"#{field}", RECIPIENT[field.removeprefix("recipient_")])
    with page.expect_navigation() as navigation:
        page.get_by_role("button", name="Take in", exact=True).click()
    assert navigation.value.status == 422
    errors = {e.get_attribute("id"): e.inner_text() for e in page.locator(".field-error").all()}
    assert {"doc_number-error", "sender_phone-error", "item0_description-error"} <= set(errors), errors
    assert "check digit" in errors["doc_number-error"]
    assert "prohibited" in errors["item0_description-error"].lower() and "烟花" in errors["item0_description-error"]
    assert count_rows(database_url, Shipment, Shipment.carrier_id == tenant.carrier_id) == before


def test_only_a_courier_on_a_registered_terminal_gets_in(
    page: Any, server: LiveServer, http: httpx.Client, tenant: Tenant, other_tenant: Tenant
) -> None:
    page.goto(server.url + "/courier")
    assert page.url.endswith("/courier/login")  # no session: to the sign-in page
    terminal = terminal_of(http, tenant)
    # Another role is told this app is not theirs, and gets no session.
    assert sign_in(page, server.url, tenant, terminal, role=Role.STATION_MANAGER).status == 422
    assert page.locator("#username-error").is_visible()
    assert "pg_session" not in {c["name"] for c in page.context.cookies()}
    # A terminal of another carrier, or none, is refused next to the field.
    foreign = terminal_of(http, other_tenant)
    assert sign_in(page, server.url, tenant, foreign).status == 422
    assert page.locator("#terminal-error").is_visible()
    # Signed in, the session works only with the terminal it is bound to.
    assert sign_in(page, server.url, tenant, terminal).status == 200
    page.context.add_cookies([{"name": "pg_terminal", "value": foreign, "url": server.url}])
    page.goto(server.url + "/courier/scan")
    assert page.url.endswith("/courier/login")


def test_every_code_a_courier_page_shows_has_a_message_in_both_languages() -> None:
    from parcelguard.identity.documents import DocType
    from parcelguard.privacy_numbers.bindings import Outcome
    from parcelguard.shipments.progress import STATUSES
    from parcelguard.shipments.service import Task
    from parcelguard.web import i18n
    from parcelguard.web.courier_delivery import OUTCOMES

    keys = [f"status.{s}" for s in STATUSES] + [f"outcome.{o}" for o in OUTCOMES] + [
        f"call.{o.value}" for o in Outcome] + [f"courier.task.{t.value}" for t in Task] + [
        f"doc.{d.value}" for d in DocType if d != DocType.USCC]
    for catalogue in (i18n.ZH, i18n.EN):
        assert [k for k in keys if k not in catalogue] == []


def test_a_label_that_cannot_be_read_is_said_next_to_the_field(
    page: Any, server: LiveServer, http: httpx.Client, tenant: Tenant, tmp_path: Any
) -> None:
    sign_in(page, server.url, tenant, terminal_of(http, tenant))
    page.goto(server.url + "/courier/scan?lang=en")
    blank = tmp_path / "blank.png"
    Image.new("L", (200, 200), 255).save(blank, format="PNG")
    with page.expect_navigation() as navigation:
        page.set_input_files("#photo", str(blank))
    assert navigation.value.status == 422
    assert "No readable QR code" in page.locator("#photo-error").inner_text()
    page.fill("#token", "NOT-A-LABEL")
    with page.expect_navigation() as navigation:
        page.get_by_role("button", name="Show the delivery").click()
    assert navigation.value.status == 422
    assert page.locator("#token-error").is_visible()
    assert page.locator("#token").get_attribute("aria-invalid") == "true"
