"""The canary scan of every page: a parcel made of marker data (an ID number, phones, given names) goes
through intake, the network and delivery; then every page a courier or the public gets (each GET page of
the app, and each form's answer) is fetched, and no HTML, header or script it loads holds an ID number, a
mobile number or a marker name. A new page must be added here: the test lists the app's page routes."""

from __future__ import annotations

import io
import re
import uuid

import httpx
import segno
from sqlalchemy import Engine
from starlette.routing import Route

from parcelguard.core.auth import Role
from parcelguard.web import (
    courier_delivery,
    courier_pages,
    courier_pickup,
    pages,
    public_pages,
    register_pages,
    register_qr,
    track_pages,
)
from tests.identity.realname import code_in_log, register_verified, registration_body
from tests.servers import LiveServer
from tests.tenants import Tenant
from tests.waybills.test_label_api import pdf_images, with_pool
from tests.web.browser import assert_no_personal_data

SENDER_NAME, RECIPIENT_NAME = "欧阳金丝雀", "司马金丝雀"
PAGE_SENDER_NAME = "上官金丝雀"
RECIPIENT_PHONE = "13712340987"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
STATIC = re.compile(r'(?:src|href)="(/static/[^"]+)"')


def page_routes() -> set[str]:
    """Every HTML page the carrier platform serves by GET (the routes kept out of the API schema)."""
    paths = set()
    for module in (pages, public_pages, track_pages, courier_pages, courier_pickup, courier_delivery, register_pages,
                   register_qr):
        for route in module.router.routes:
            if isinstance(route, Route) and "GET" in (route.methods or set()):
                paths.add(route.path)
    return paths


def photo(image_png: bytes, name: str = "photo") -> dict[str, tuple[str, bytes, str]]:
    return {name: ("photo.png", image_png, "image/png")}


def qr_png(text: str) -> bytes:
    out = io.BytesIO()
    segno.make_qr(text, error="m").save(out, kind="png", scale=8, border=4)
    return out.getvalue()


def test_no_page_a_courier_or_the_public_gets_holds_personal_data(
    server: LiveServer, http: httpx.Client, engine: Engine, tenant: Tenant
) -> None:
    with_pool(engine, tenant)
    sender = registration_body(name=SENDER_NAME)
    realname = register_verified(http, tenant.slug, lambda rid: code_in_log(server, rid), body=sender)
    page_sender = registration_body(name=PAGE_SENDER_NAME)  # registers on the page, below
    page_form = {"doc_type": "resident_id", "doc_number": page_sender["document"]["number"],
                 "doc_name": PAGE_SENDER_NAME, "phone": page_sender["phone"]}
    forbidden = [sender["document"]["number"], sender["phone"], SENDER_NAME, RECIPIENT_NAME, RECIPIENT_PHONE,
                 realname["token"], "金丝雀", page_sender["document"]["number"], PAGE_SENDER_NAME]
    seen: dict[str, httpx.Response] = {}

    manager = tenant.login(http, Role.STATION_MANAGER)
    terminal = http.post("/api/v1/terminals", headers=manager,
                         json={"serial": f"PDA-{uuid.uuid4().hex[:8]}", "label": "handheld"}).json()["id"]
    account = tenant.account(Role.COURIER)
    with httpx.Client(base_url=server.url, timeout=30) as courier:
        signed = courier.post("/courier/login", data={"username": account.username, "password": account.password,
                                                      "terminal": terminal})
        assert signed.status_code == 303
        seen["POST /courier/login"] = signed
        for path in ("/", "/check", "/track", "/courier/login", "/courier", "/courier/pickup", "/courier/scan",
                     "/courier/qr"):
            seen[f"GET {path}"] = courier.get(path)
        csrf = CSRF.search(seen["GET /courier/pickup"].text).group(1)  # type: ignore[union-attr]
        taken = courier.post("/courier/pickup", data={
            "csrf": csrf, "sender_qr": realname["token"], "sender_address": "北京市朝阳区金丝雀路1号",
            "recipient_name": RECIPIENT_NAME, "recipient_phone": RECIPIENT_PHONE, "province": "上海市",
            "city": "上海市", "district": "浦东新区", "detail": "金丝雀大道9号", "destination": str(tenant.stations[0]),
            "item0_description": "金丝雀羽绒服", "item0_category": "clothing", "item0_quantity": "1"})
        assert taken.status_code == 201, taken.text
        seen["POST /courier/pickup"] = taken
        shipment_id = re.search(r"/courier/shipments/([0-9a-f-]+)/label\.pdf", taken.text).group(1)  # type: ignore[union-attr]
        number = re.search(r'id="waybill-no">\s*([A-Z]+\d+)', taken.text).group(1)  # type: ignore[union-attr]
        refused = courier.post("/courier/pickup", data={"csrf": csrf, "doc_number": sender["document"]["number"],
                                                        "doc_name": SENDER_NAME, "sender_phone": sender["phone"],
                                                        "recipient_phone": RECIPIENT_PHONE})
        assert refused.status_code == 422
        seen["POST /courier/pickup (refused)"] = refused
        label = courier.get(f"/courier/shipments/{shipment_id}/label.pdf")
        assert label.status_code == 200
        assert http.post(f"/api/v1/shipments/{shipment_id}/assign", headers=manager,
                         json={"courier_id": str(account.user_id)}).status_code == 201
        seen["GET /courier (with the delivery)"] = courier.get("/courier")
        label_png = io.BytesIO()
        pdf_images(label.content)[0].save(label_png, format="PNG")
        delivery = courier.post("/courier/scan", data={"csrf": csrf}, files=photo(label_png.getvalue()))
        assert delivery.status_code == 200, delivery.text
        assert "金丝雀大道9号" in delivery.text  # the address, through the gate: what a delivery needs
        seen["POST /courier/scan"] = delivery
        token = re.search(r'name="token" value="([^"]+)"', delivery.text).group(1)  # type: ignore[union-attr]
        seen["POST /courier/outcome"] = courier.post("/courier/outcome", data={
            "csrf": csrf, "token": token, "outcome": "not_home"}, follow_redirects=True)
        courier_qr = courier.post("/api/v1/couriers/me/qr-token")  # a page session is no API session
        assert courier_qr.status_code == 401
    with httpx.Client(base_url=server.url, timeout=30) as public:
        seen["GET /track?no="] = public.get("/track", params={"no": number})
        seen["POST /track"] = public.post("/track", data={"no": number, "tail": RECIPIENT_PHONE[-4:]})
        seen["POST /check"] = public.post("/check", data={"token": realname["token"]})
        seen["GET /courier (no session)"] = public.get("/courier", follow_redirects=True)
        # The sender's registration: keyed by route template (the canary's own sender goes through it).
        register = f"/register/{tenant.slug}"
        seen["GET /register"] = public.get("/register")
        seen["GET /register/{carrier}"] = public.get(register)
        typo = page_sender["document"]["number"][:-1] + ("0" if page_sender["document"]["number"][-1] != "0" else "1")
        refused = public.post(register, data={**page_form, "doc_number": typo})
        assert refused.status_code == 422
        seen["POST /register/{carrier} (refused)"] = refused
        registered = public.post(register, data=page_form)
        assert registered.status_code == 303, registered.text
        code_page = registered.headers["location"]
        code = code_in_log(server, code_page.rsplit("/", 1)[1])
        seen["GET /register/{carrier}/{registration_id}"] = public.get(code_page)
        seen["POST /register/{carrier}/{registration_id}/verify (refused)"] = public.post(
            code_page + "/verify", data={"code": code[:-1] + str((int(code[-1]) + 1) % 10)})
        seen["POST /register/{carrier}/{registration_id}/code (refused)"] = public.post(
            code_page + "/code", data={"phone": page_sender["phone"]})
        seen["POST /register/{carrier}/{registration_id}/verify"] = public.post(code_page + "/verify",
                                                                                 data={"code": code})
        seen["GET /register/{carrier}/{registration_id}/qr"] = public.get(code_page + "/qr")
        assert seen["GET /register/{carrier}/{registration_id}/qr"].status_code == 200
        seen["GET /register/{carrier} (registered)"] = public.get(register)

    assert {key.split(" ")[1].split("?")[0] for key in seen if key.startswith("GET")} >= page_routes() - {
        "/courier/shipments/{shipment_id}/label.pdf"}, "a page is missing from the canary scan"
    assets: set[str] = set()
    for name, response in seen.items():
        assert response.status_code < 500, name
        # The address detail is revealed to the courier who delivers (the gate logged it); nothing else is.
        shown = response.text.replace("金丝雀大道9号", "") if name == "POST /courier/scan" else response.text
        assert_no_personal_data(shown, response.headers, forbidden=forbidden)
        assets |= set(STATIC.findall(response.text))
    assert {a.split("?")[0] for a in assets} >= {"/static/app.css", "/static/scan.js"}
    for asset in assets:
        body = http.get(asset)
        assert body.status_code == 200
        assert_no_personal_data(body.text, body.headers, forbidden=forbidden)
