"""The real-name QR over HTTP: a sender registers once; a courier scans the token at pickup and never
sees the document; the regulator's key opens the record; tokens expire, refresh, and cannot be forged.
(Proving the phone with the SMS code, the step between registering and the first token: test_otp.py.)"""

from __future__ import annotations

import json
import uuid

import httpx
from sqlalchemy import Engine, select

from parcelguard.core.auth import Role
from parcelguard.crypto import sealing
from parcelguard.identity.models import RealNameRecord, SenderRegistration
from tests.identity.realname import code_in_log, register_verified, registration_body, valid_id
from tests.servers import TEST_REGULATOR_PRIVATE, LiveServer
from tests.tenants import Tenant


def parcel(token: str | None, **sender: object) -> dict:
    return {"sender": {"realname_token": token, "address": "北京市朝阳区寄件路1号", **sender},
            "recipient": {"name": "皇甫收件", "phone": "13744445555",
                          "address": {"province": "上海市", "city": "上海市", "district": "浦东新区", "detail": "纬二路3号"}},
            "items": [{"description": "茶叶", "category": "food", "quantity": 2}]}


def test_a_registered_sender_is_taken_in_by_qr_without_the_courier_seeing_the_document(
    http: httpx.Client, server: LiveServer, engine: Engine, tenant: Tenant
) -> None:
    number = valid_id()
    registered = register_verified(http, tenant.slug, lambda rid: code_in_log(server, rid),
                                   registration_body(number, phone="13966667777"))
    assert number not in str(registered) and "13966667777" not in str(registered)
    refreshed = http.post(f"/api/v1/public/carriers/{tenant.slug}/realname/{registered['registration_id']}/token",
                          json={"refresh_secret": registered["refresh_secret"]})
    assert refreshed.status_code == 200 and refreshed.json()["refresh_secret"] is None
    wrong = http.post(f"/api/v1/public/carriers/{tenant.slug}/realname/{registered['registration_id']}/token",
                      json={"refresh_secret": "guess"})
    assert (wrong.status_code, wrong.json()["code"]) == (404, "registration_unknown")

    manager = tenant.login(http, Role.STATION_MANAGER)
    terminal = http.post("/api/v1/terminals", headers=manager,
                         json={"serial": f"PDA-{uuid.uuid4().hex[:8]}", "label": "handheld"}).json()["id"]
    courier = tenant.login(http, Role.COURIER, terminal_id=terminal)
    taken = http.post("/api/v1/shipments", json=parcel(refreshed.json()["token"]), headers=courier)
    assert taken.status_code == 201, taken.text
    assert taken.json()["sender"] == {"name": "慕容**", "document_type": "resident_id",
                                      "document": number[:4] + "*" * 10 + number[-4:]}
    assert number not in taken.text and "13966667777" not in taken.text and "慕容寄件" not in taken.text

    # The record carries the seal made at registration; only the regulator's key opens it.
    with engine.connect() as conn:
        record = conn.execute(select(RealNameRecord).where(
            RealNameRecord.shipment_id == uuid.UUID(taken.json()["id"]))).one()
        registration = conn.execute(select(SenderRegistration).where(
            SenderRegistration.id == uuid.UUID(registered["registration_id"]))).one()
    assert record.blind_index == registration.blind_index and record.sealed == registration.sealed
    opened = json.loads(sealing.open_sealed(TEST_REGULATOR_PRIVATE, record.sealed, record.seal_context.encode()))
    assert opened == {"doc_type": "resident_id", "doc_number": number, "name": "慕容寄件"}

    # The shipment holds the sender's name and phone: the gate reveals them to the station manager.
    revealed = http.post("/api/v1/reveals", headers=manager, json={
        "subject": f"shipment:{taken.json()['id']}", "fields": ["sender_name", "sender_phone"],
        "purpose": "customer_service"}).json()
    assert revealed["fields"] == {"sender_name": "慕容寄件", "sender_phone": "+8613966667777"}

    # Neither a forged token, nor another carrier's, nor both identities at once is accepted.
    token = refreshed.json()["token"]
    forged = token[:50] + ("A" if token[50] != "A" else "B") + token[51:]
    for body, code in ((parcel(forged), "token_signature"), (parcel("SHORT"), "token_format"),
                       (parcel(token, document={"type": "resident_id", "number": number, "name": "x"},
                               phone="13966667777"), "sender_identity_required")):
        answer = http.post("/api/v1/shipments", json=body, headers=courier)
        assert answer.status_code == 422 and code in [e["code"] for e in answer.json()["errors"]], answer.text
    assert number not in server.log_text() and "13966667777" not in server.log_text()


def test_registration_refuses_bad_input_field_by_field(http: httpx.Client, tenant: Tenant) -> None:
    r = http.post(f"/api/v1/public/carriers/{tenant.slug}/realname",
                  json={"document": {"type": "resident_id", "number": "110105198001010011", "name": " "},
                        "phone": "12"})
    assert r.status_code == 422
    assert {(e["pointer"], e["code"]) for e in r.json()["errors"]} == {
        ("/document/number", "id_check_digit"), ("/phone", "phone_too_short"), ("/document/name", "field_length")}
    assert http.post("/api/v1/public/carriers/no-such-carrier/realname", json={
        "document": {"number": valid_id(), "name": "王五"}, "phone": "13900000000"}).status_code == 404
