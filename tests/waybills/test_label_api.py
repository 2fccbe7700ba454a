"""Labels over HTTP on both engines: what a printed label carries (masked names, a virtual number, no phone
or document digits, scannable barcodes), who may print it (the gate, purpose label_print, logged), batches,
and HQ security resolving a found label (purpose investigation)."""

from __future__ import annotations

import io
import os
import re
import secrets
import uuid

import httpx
import pypdfium2
import pytest
import zxingcpp
from PIL import Image, ImageFilter
from sqlalchemy import Engine, select

from parcelguard.core import db
from parcelguard.core.auth import Role
from parcelguard.privacy_numbers import service as numbers
from parcelguard.shipments import service as shipments
from parcelguard.shipments.models import Shipment
from parcelguard.waybills import service as waybill_service
from tests.servers import LiveServer
from tests.support import parcelguard
from tests.tenants import CANARY, Tenant, writing

ID_NUMBER = "11010519491231002X"
SENDER_PHONE, RECIPIENT_PHONE = "13911112222", "+86 137 3333 4444"
# Digits and names that must never be printed: the document, both phones (whole and their last eight),
# the full names.
CANARY_DIGITS = [ID_NUMBER[:-1], "13911112222", "11112222", "13733334444", "33334444"]
CANARY_TEXT = ["欧阳寄件人", "司马收件人", "欧阳寄", "司马收"]


def intake_body(detail: str = "收件大道9号 1单元 1202室") -> dict[str, object]:
    return {
        "sender": {"document": {"type": "resident_id", "number": ID_NUMBER, "name": "欧阳寄件人"},
                   "phone": SENDER_PHONE, "address": "北京市朝阳区寄件路1号"},
        "recipient": {"name": "司马收件人", "phone": RECIPIENT_PHONE,
                      "address": {"province": "上海市", "city": "上海市", "district": "浦东新区", "detail": detail}},
        "items": [{"description": "羽绒服", "category": "clothing", "quantity": 2}],
    }


def with_pool(engine: Engine, tenant: Tenant) -> str:
    """Give the tenant a virtual number of its own (a number belongs to one carrier); answers it."""
    number = f"+86571{secrets.randbelow(10**8):08d}"
    with writing(engine) as s:
        numbers.add_numbers(db_session=s, carrier_id=tenant.carrier_id, numbers=[number])
    return number


def terminal_login(http: httpx.Client, tenant: Tenant, role: Role = Role.COURIER, station: int = 0,
                   n: int = 0) -> dict[str, str]:
    manager = tenant.login(http, Role.STATION_MANAGER, station=station)
    terminal = http.post("/api/v1/terminals", headers=manager, json={"serial": f"PDA-{uuid.uuid4().hex[:8]}",
                                                                      "label": "handheld"}).json()["id"]
    return tenant.login(http, role, station=station, n=n, terminal_id=terminal)


def take_in(http: httpx.Client, courier: dict[str, str], **body: object) -> dict[str, object]:
    r = http.post("/api/v1/shipments", json={**intake_body(), **body}, headers=courier)
    assert r.status_code == 201, r.text
    return r.json()


def numbered_shipment(engine: Engine, keyring, tenant: Tenant, customer: uuid.UUID | None = None) -> str:  # type: ignore[no-untyped-def]
    """A shipment between the tenant's stations with a waybill number (as intake gives), canary data."""
    with writing(engine) as s:
        number = waybill_service.allocate(db_session=s, keyring=keyring, carrier_id=tenant.carrier_id,
                                          prefix=tenant.prefix)[0]
        return str(shipments.create(db_session=s, keyring=keyring, carrier_id=tenant.carrier_id,
                                    origin_station_id=tenant.stations[0], destination_station_id=tenant.stations[1],
                                    customer_id=customer, parties=CANARY, waybill_no=number).id)


def pdf_text(pdf: bytes) -> str:
    document = pypdfium2.PdfDocument(pdf)
    return "\n".join(document[i].get_textpage().get_text_range() for i in range(len(document)))


def pdf_images(pdf: bytes, dpi: int = 203) -> list[Image.Image]:
    document = pypdfium2.PdfDocument(pdf)
    return [document[i].render(scale=dpi / 72).to_pil() for i in range(len(document))]


def decoded(image: Image.Image) -> dict[str, str]:
    """Barcode format name -> text, as a real decoder (zxing-cpp) reads them off the image."""
    return {r.format.name: r.text for r in zxingcpp.read_barcodes(image.convert("L"))}


def printed_digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def assert_no_canary(text: str) -> None:
    digits = printed_digits(text)
    assert not [c for c in CANARY_DIGITS if c in digits or c in text]
    assert not [c for c in CANARY_TEXT if c in text]


def assert_opaque(engine: Engine, keyring, tenant: Tenant, sid: str, token: str) -> None:  # type: ignore[no-untyped-def]
    """The QR holds a genuine label token and nothing else: its bytes are the kind, key, times, the
    shipment's random label subject and a signature, so there is no room for a waybill number or personal
    data (a digit search over base32 text would be a coin toss: its alphabet has 2 to 7)."""
    with db.make_sessionmaker(engine)() as s:
        subject = s.scalar(select(Shipment.label_subject).where(Shipment.id == uuid.UUID(sid)))
        verified = waybill_service.label_subject(db_session=s, keyring=keyring, carrier_id=tenant.carrier_id,
                                                 token=token)
    assert verified == subject and re.fullmatch(r"[A-Z2-7]+", token)
    assert not [c for c in CANARY_DIGITS + CANARY_TEXT if c in token]


def test_a_printed_label_scans_masks_names_and_prints_no_phone_or_document(
    http: httpx.Client, server: LiveServer, engine: Engine, keyring, tenant: Tenant  # type: ignore[no-untyped-def]
) -> None:
    pool = with_pool(engine, tenant)
    courier = terminal_login(http, tenant)
    shipment = take_in(http, courier)
    sid, waybill = shipment["id"], shipment["waybill_no"]
    seen = []
    for layout in ("two_part", "one_part"):
        r = http.get(f"/api/v1/shipments/{sid}/label", params={"layout": layout}, headers=courier)
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == "application/pdf" and r.headers["cache-control"] == "no-store"
        text = pdf_text(r.content)
        assert "司马***" in text and "欧阳***" in text and waybill in text
        assert pool[-4:] in printed_digits(text)  # the virtual number is what it prints to call
        assert_no_canary(text)
        assert_no_canary(r.content.decode("latin-1"))  # nor anywhere in the file's bytes
        for image in pdf_images(r.content):
            for worn in (image, image.filter(ImageFilter.GaussianBlur(2))):
                codes = decoded(worn)
                assert codes.get("Code128") == waybill, layout
                assert_opaque(engine, keyring, tenant, sid, codes["QRCode"])
        seen.append(r.content)
    png = http.get(f"/api/v1/shipments/{sid}/label", params={"format": "png"}, headers=courier)
    assert png.headers["content-type"] == "image/png"
    image = Image.open(io.BytesIO(png.content))
    assert image.width == round(100 / 25.4 * 203)
    assert decoded(image).get("Code128") == waybill
    zpl = http.get(f"/api/v1/shipments/{sid}/label", params={"format": "zpl"}, headers=courier)
    assert zpl.status_code == 200 and zpl.text.count("^XA") == 1 and "^XZ" in zpl.text
    assert waybill in zpl.text and "^BQ" in zpl.text
    zpl_fields = "".join(re.findall(r"\^FD(.*?)\^FS", zpl.text, flags=re.DOTALL))
    assert_no_canary(zpl_fields)
    assert "司马***" in zpl_fields
    # The printing was logged: four prints (two PDFs, the PNG, the ZPL), purpose label_print.
    entries = http.get("/api/v1/audit/entries", params={"subject": f"shipment:{sid}"},
                       headers=tenant.login(http, Role.AUDITOR)).json()["items"]
    prints = [e["entry"] for e in entries if e["entry"]["purpose"] == "label_print"]
    assert len(prints) == 4 and {p["decision"] for p in prints} == {"allow"}
    assert {tuple(p["fields"]) for p in prints} == {("recipient_address",)}
    assert not [c for c in CANARY_DIGITS + CANARY_TEXT if c in server.log_text()]


def test_only_those_the_gate_allows_print_and_every_refusal_is_logged(
    http: httpx.Client, engine: Engine, tenant: Tenant, other_tenant: Tenant
) -> None:
    courier = terminal_login(http, tenant)
    sid = take_in(http, courier)["id"]
    # A courier of the other station never picked it up: answered as a parcel that does not exist (the
    # log keeps the real reason); another carrier does not know it.
    stranger = terminal_login(http, tenant, station=1)
    r = http.get(f"/api/v1/shipments/{sid}/label", headers=stranger)
    assert (r.status_code, r.json()["code"], r.json()["reason"]) == (404, "subject_unknown", "subject_unknown")
    assert http.get(f"/api/v1/shipments/{sid}/label",
                    headers=other_tenant.login(http, Role.STATION_MANAGER)).status_code == 404
    # The courier who took it in prints on a registered terminal only (the terminal keeps nothing).
    off_terminal = http.get(f"/api/v1/shipments/{sid}/label", headers=tenant.login(http, Role.COURIER))
    assert off_terminal.status_code == 403 and off_terminal.json()["code"] == "terminal_required"
    # The origin station's manager may (station scope); an admin may not (no rule for the role).
    assert http.get(f"/api/v1/shipments/{sid}/label", headers=tenant.login(http, Role.STATION_MANAGER)
                    ).status_code == 200
    admin = http.get(f"/api/v1/shipments/{sid}/label", headers=tenant.login(http, Role.ADMIN))
    assert admin.status_code == 403 and admin.json()["reason"] == "role_not_allowed"
    entries = http.get("/api/v1/audit/entries", params={"subject": f"shipment:{sid}"},
                       headers=tenant.login(http, Role.AUDITOR)).json()["items"]
    decisions = [(e["entry"]["role"], e["entry"]["decision"], e["entry"]["reason"]) for e in entries
                 if e["entry"]["purpose"] == "label_print"]
    assert decisions == [("courier", "deny", "not_assigned"), ("station_manager", "allow", None),
                         ("admin", "deny", "role_not_allowed")]


def test_a_batch_is_one_pdf_all_or_nothing_and_each_label_is_logged(
    http: httpx.Client, engine: Engine, keyring, tenant: Tenant, other_tenant: Tenant  # type: ignore[no-untyped-def]
) -> None:
    ids = [numbered_shipment(engine, keyring, tenant) for _ in range(3)]
    manager = tenant.login(http, Role.STATION_MANAGER)
    r = http.post("/api/v1/labels:batch", json={"shipment_ids": ids, "layout": "one_part"}, headers=manager)
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    pages = pdf_images(r.content)
    assert len(pages) == 3 and len({decoded(p)["Code128"] for p in pages}) == 3
    zpl = http.post("/api/v1/labels:batch", json={"shipment_ids": ids, "format": "zpl"}, headers=manager)
    assert zpl.text.count("^XA") == 3
    auditor = tenant.login(http, Role.AUDITOR)

    def prints() -> int:
        return sum(1 for sid in ids for e in http.get("/api/v1/audit/entries", params={"subject": f"shipment:{sid}"},
                                                      headers=auditor).json()["items"]
                   if e["entry"]["purpose"] == "label_print")

    assert prints() == 6
    # One shipment the manager may not print (another carrier's) refuses the whole batch: the gate
    # answers it as unknown and logs the refusal for that one alone; none of the others is printed.
    foreign = numbered_shipment(engine, keyring, other_tenant)
    r = http.post("/api/v1/labels:batch", json={"shipment_ids": [*ids, foreign]}, headers=manager)
    assert r.status_code == 404 and r.json()["code"] == "subject_unknown"
    refusal = http.get(f"/api/v1/audit/entries/{r.json()['log_index']}", headers=auditor).json()["entry"]
    assert (refusal["subject"], refusal["decision"], refusal["reason"]) == (
        f"shipment:{foreign}", "deny", "subject_unknown")
    assert prints() == 6
    unnumbered = http.post("/api/v1/labels:batch", json={"shipment_ids": [str(tenant.shipment(keyring))]},
                           headers=manager)
    assert unnumbered.status_code == 409 and unnumbered.json()["code"] == "waybill_missing"
    too_many = http.post("/api/v1/labels:batch", json={"shipment_ids": [str(uuid.uuid4())] * 501}, headers=manager)
    assert too_many.status_code == 422
    # An enterprise prints the labels of its own parcels only.
    shop = tenant.account(Role.ENTERPRISE)
    own = numbered_shipment(engine, keyring, tenant, customer=shop.user_id)
    enterprise = tenant.login(http, Role.ENTERPRISE)
    assert http.post("/api/v1/labels:batch", json={"shipment_ids": [own]}, headers=enterprise).status_code == 200
    refused = http.post("/api/v1/labels:batch", json={"shipment_ids": [own, ids[0]]}, headers=enterprise)
    assert (refused.status_code, refused.json()["reason"]) == (404, "subject_unknown")  # as if it did not exist
    refusal = http.get(f"/api/v1/audit/entries/{refused.json()['log_index']}", headers=auditor).json()["entry"]
    assert (refusal["subject"], refusal["reason"]) == (f"shipment:{ids[0]}", "not_own_shipment")


def test_hq_security_resolves_a_found_label_through_the_gate(
    http: httpx.Client, server: LiveServer, engine: Engine, tenant: Tenant
) -> None:
    courier = terminal_login(http, tenant)
    shipment = take_in(http, courier)
    sid, waybill = shipment["id"], shipment["waybill_no"]
    label = http.get(f"/api/v1/shipments/{sid}/label", headers=courier)
    token = decoded(pdf_images(label.content)[0])["QRCode"]
    hq = tenant.login(http, Role.HQ_SECURITY)
    no_case = http.post("/api/v1/labels:resolve", json={"case_id": str(uuid.uuid4()), "waybill_no": waybill},
                        headers=hq)
    assert no_case.status_code == 403 and no_case.json()["reason"] == "case_not_open"
    case = http.post("/api/v1/audit/cases", json={"reference": f"FOUND-{uuid.uuid4().hex[:6]}",
                                                 "summary": "labels found in a waste bin"}, headers=hq).json()["id"]
    for reference in ({"waybill_no": waybill.lower()}, {"label_token": token}):
        r = http.post("/api/v1/labels:resolve", json={"case_id": case, **reference}, headers=hq)
        assert r.status_code == 200, r.text
        assert r.json()["shipment_id"] == sid and r.json()["fields"]["recipient_name"] == "司马收件人"
    # A character well inside the signature, changed for certain (the last ones may already be "A").
    forged = token[:-6] + ("B" if token[-6] == "A" else "A") + token[-5:]
    bad = http.post("/api/v1/labels:resolve", json={"case_id": case, "label_token": forged}, headers=hq)
    assert bad.status_code == 422 and bad.json()["errors"][0]["code"] in {"token_signature", "token_format"}
    assert http.post("/api/v1/labels:resolve", json={"case_id": case, "waybill_no": waybill}, headers=courier
                     ).status_code == 403
    # The command line, as HQ security runs it against the server.
    account = tenant.account(Role.HQ_SECURITY)
    env = {**os.environ, "PARCELGUARD_USERNAME": account.username, "PARCELGUARD_PASSWORD": account.password}
    done = parcelguard("waybill", "check", token, "--case", case, "--server", server.url, env=env)
    assert done.returncode == 0, done.stderr
    assert sid in done.stdout and "司马收件人" in done.stdout
    refused = parcelguard("waybill", "check", waybill, "--case", str(uuid.uuid4()), "--server", server.url, env=env)
    assert refused.returncode == 1 and refused.stdout.startswith("refused case_not_open")
    assert parcelguard("waybill", "check", token, env=env).stdout.strip() == "valid-token"
    entries = http.get("/api/v1/audit/entries", params={"subject": f"shipment:{sid}"},
                       headers=tenant.login(http, Role.AUDITOR)).json()["items"]
    investigations = [e["entry"] for e in entries if e["entry"]["purpose"] == "investigation"]
    assert [e["decision"] for e in investigations] == ["deny", "allow", "allow", "allow", "deny"]


@pytest.mark.parametrize("policy_phone", ["last4"])
def test_a_carrier_policy_may_print_the_last_four_digits_and_hide_the_door_number(
    http: httpx.Client, engine: Engine, tenant: Tenant, policy_phone: str
) -> None:
    admin = tenant.login(http, Role.ADMIN)
    r = http.put("/api/v1/carrier/waybill-settings", headers=admin, json={
        "masking": {"latin_names": "initials", "phone": policy_phone, "address_detail": "hide_door"},
        "sorting": [{"province": "上海市", "city": "上海市", "district": "浦东新区", "code": "021-PD-07"}]})
    assert r.status_code == 200, r.text
    courier = terminal_login(http, tenant)
    sid = take_in(http, courier)["id"]
    text = pdf_text(http.get(f"/api/v1/shipments/{sid}/label", headers=courier).content)
    assert "4444" in text and "13733334444" not in printed_digits(text) and "33334444" not in printed_digits(text)
    assert "021-PD-07" in text
    assert "1202" not in text and "收件大道9号" in text
