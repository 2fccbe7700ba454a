"""Real-name intake on both engines and over HTTP: the document is sealed for the regulator, the
carrier keeps masked views, blind indexes and ciphertexts only, and nothing reaches the terminal."""

from __future__ import annotations

import dataclasses
import json
import uuid

import httpx
import pytest
from sqlalchemy import Engine, func, select

from parcelguard.audit.models import Alert
from parcelguard.core.auth import Actor, Role
from parcelguard.core.errors import Forbidden, Invalid
from parcelguard.crypto import sealing
from parcelguard.identity import documents
from parcelguard.identity import service as identity
from parcelguard.identity.models import RealNameRecord
from parcelguard.regulator.models import OutboxEntry
from parcelguard.shipments import flows, service
from parcelguard.shipments.models import Shipment, ShipmentItem
from parcelguard.waybills import numbers
from tests.servers import TEST_REGULATOR_PRIVATE, TEST_REGULATOR_PUBLIC, LiveServer
from tests.tenants import Tenant, writing

# The GB 11643-1999 sample number (valid check character X) and phones no one uses in tests elsewhere.
ID_NUMBER = "11010519491231002X"
SENDER_PHONE, RECIPIENT_PHONE = "13911112222", "+86 137 3333 4444"
CANARIES = [ID_NUMBER, "11010519491231002", "13911112222", "8613911112222", "13733334444", "欧阳寄件人",
            "司马收件人", "收件大道9号", "羽绒服"]


def request(**changes: object) -> flows.IntakeRequest:
    base = {
        "sender_document": flows.SenderDocument(doc_type="resident_id", number=ID_NUMBER, name="欧阳寄件人"),
        "sender_phone": SENDER_PHONE, "sender_address": "北京市朝阳区寄件路1号",
        "recipient_name": "司马收件人", "recipient_phone": RECIPIENT_PHONE,
        "recipient_region": service.Region("上海市", "上海市", "浦东新区"), "recipient_detail": "收件大道9号 1202室",
        "items": [service.Item(description="羽绒服", category="clothing", quantity=1, declared_value_cents=59900)],
    }
    return flows.IntakeRequest(**{**base, **changes})  # type: ignore[arg-type]


def courier_on_terminal(tenant: Tenant) -> Actor:
    return dataclasses.replace(tenant.actor(Role.COURIER), terminal_id=uuid.uuid4())


def take_in(engine: Engine, keyring, actor: Actor, req: flows.IntakeRequest) -> flows.Intake:  # type: ignore[no-untyped-def]
    with writing(engine) as s:  # intake reads before it writes: take the write lock first
        return flows.take_in(db_session=s, keyring=keyring, actor=actor, request=req,
                             regulator_public_key=TEST_REGULATOR_PUBLIC)


def counts(engine: Engine, carrier: uuid.UUID) -> tuple[int, ...]:
    with engine.connect() as conn:
        return tuple(conn.scalar(select(func.count()).select_from(t).where(t.carrier_id == carrier)) or 0
                     for t in (Shipment, RealNameRecord, OutboxEntry))


def test_intake_seals_the_document_for_the_regulator_and_keeps_only_masked_views(
    engine: Engine, keyring, tenant: Tenant  # type: ignore[no-untyped-def]
) -> None:
    courier = courier_on_terminal(tenant)
    intake = take_in(engine, keyring, courier, request())
    assert numbers.check(intake.waybill_no).ok and intake.waybill_no.startswith(tenant.prefix)
    assert (intake.sender_name_masked, intake.sender_doc_masked, intake.recipient_name_masked) == (
        "欧阳***", "1101**********002X", "司马***")
    with engine.connect() as conn:
        record = conn.execute(select(RealNameRecord).where(RealNameRecord.shipment_id == intake.shipment_id)).one()
        outbox = conn.execute(select(OutboxEntry).where(OutboxEntry.record_id == record.id)).one()
        shipment = conn.execute(select(Shipment).where(Shipment.id == intake.shipment_id)).one()
        items = conn.execute(select(ShipmentItem).where(ShipmentItem.shipment_id == intake.shipment_id)).all()
    assert outbox.delivered_at is None and shipment.taken_in_by == courier.user_id
    assert (shipment.recipient_province, shipment.recipient_district) == ("上海市", "浦东新区")
    # Only the regulator's key opens the record, and only as this carrier's record.
    opened = json.loads(sealing.open_sealed(TEST_REGULATOR_PRIVATE, record.sealed,
                                            identity.seal_context(tenant.carrier_id, record.id)))
    assert opened == {"doc_type": "resident_id", "doc_number": ID_NUMBER, "name": "欧阳寄件人"}
    with pytest.raises(Exception):  # noqa: B017  (DecryptionFailed: any other context fails)
        sealing.open_sealed(TEST_REGULATOR_PRIVATE, record.sealed, identity.seal_context(uuid.uuid4(), record.id))
    # Nothing the carrier stored holds a canary in clear.
    stored = repr([tuple(record), tuple(outbox), tuple(shipment), [tuple(i) for i in items]])
    assert not [c for c in CANARIES if c in stored or c.encode().hex() in stored]
    # The same document gives the same blind index: matching works without the number.
    second = take_in(engine, keyring, courier, request())
    with engine.connect() as conn:
        indexes = conn.execute(select(RealNameRecord.blind_index).where(
            RealNameRecord.shipment_id.in_([intake.shipment_id, second.shipment_id]))).scalars().all()
    assert len(set(indexes)) == 1 and second.waybill_no != intake.waybill_no


def test_every_bad_field_gets_its_own_code_and_nothing_is_written(
    engine: Engine, keyring, tenant: Tenant  # type: ignore[no-untyped-def]
) -> None:
    courier = courier_on_terminal(tenant)
    bad = request(
        sender_document=flows.SenderDocument(doc_type="resident_id", number="110105194912310021", name=" "),
        sender_phone="12", recipient_phone="call me",
        recipient_region=service.Region("上海市", "", "浦东新区"), items=[],
    )
    with pytest.raises(Invalid) as caught:
        take_in(engine, keyring, courier, bad)
    got = {(e.pointer, e.code) for e in caught.value.errors}
    assert got == {("/sender/document/number", "id_check_digit"), ("/sender/phone", "phone_too_short"),
                   ("/recipient/phone", "phone_format"), ("/sender/document/name", "field_length"),
                   ("/recipient/address/city", "field_length"), ("/items", "items_empty")}
    assert not any("110105194912310021" in e.detail for e in caught.value.errors)
    assert counts(engine, tenant.carrier_id) == (0, 0, 0)


def test_an_organisation_code_is_not_a_walk_in_senders_document(
    engine: Engine, keyring, tenant: Tenant  # type: ignore[no-untyped-def]
) -> None:
    body = "91110105MA01C3XR7"
    uscc = body + documents.uscc_check_character(body)
    with pytest.raises(Invalid) as caught:
        take_in(engine, keyring, courier_on_terminal(tenant), request(
            sender_document=flows.SenderDocument(doc_type=None, number=uscc, name="演示电子商务有限公司")))
    assert [(e.pointer, e.code) for e in caught.value.errors] == [("/sender/document/number", "document_not_personal")]
    assert counts(engine, tenant.carrier_id) == (0, 0, 0)


def test_only_a_courier_on_a_terminal_takes_parcels_in(engine: Engine, keyring, tenant: Tenant) -> None:  # type: ignore[no-untyped-def]
    for actor, code in ((tenant.actor(Role.COURIER), "terminal_required"),
                        (tenant.actor(Role.STATION_MANAGER), "role_not_allowed")):
        with pytest.raises(Forbidden) as caught:
            take_in(engine, keyring, actor, request())
        assert caught.value.code == code
    assert counts(engine, tenant.carrier_id) == (0, 0, 0)


def test_a_courier_entering_their_own_document_raises_an_alert(
    engine: Engine, keyring, tenant: Tenant  # type: ignore[no-untyped-def]
) -> None:
    courier = courier_on_terminal(tenant)
    manager = tenant.actor(Role.STATION_MANAGER)  # made before the write lock: it writes on its own connection
    with writing(engine) as s:
        identity.register_staff_document(db_session=s, keyring=keyring, actor=manager,
                                         user_id=courier.user_id, doc_type="resident_id", number=ID_NUMBER)
    intake = take_in(engine, keyring, courier, request())
    assert intake.alerts == ["courier_own_id"]
    with engine.connect() as conn:
        alert = conn.execute(select(Alert).where(Alert.carrier_id == tenant.carrier_id)).one()
    assert alert.kind == "courier_own_id" and alert.actor_id == courier.user_id
    assert alert.detail["shipment_id"] == str(intake.shipment_id)
    # A colleague entering the same document is not that cheat.
    colleague = dataclasses.replace(courier, user_id=tenant.actor(Role.COURIER, n=1).user_id)
    assert take_in(engine, keyring, colleague, request()).alerts == []


def test_the_terminal_never_sees_a_document_number_or_a_phone(
    http: httpx.Client, server: LiveServer, tenant: Tenant
) -> None:
    manager = tenant.login(http, Role.STATION_MANAGER)
    terminal = http.post("/api/v1/terminals", headers=manager, json={"serial": f"PDA-{uuid.uuid4().hex[:8]}",
                                                                      "label": "handheld"}).json()["id"]
    courier = tenant.login(http, Role.COURIER, terminal_id=terminal)
    body = {
        "sender": {"document": {"type": "resident_id", "number": ID_NUMBER, "name": "欧阳寄件人"},
                   "phone": SENDER_PHONE, "address": "北京市朝阳区寄件路1号"},
        "recipient": {"name": "司马收件人", "phone": RECIPIENT_PHONE,
                      "address": {"province": "上海市", "city": "上海市", "district": "浦东新区",
                                  "detail": "收件大道9号 1202室"}},
        "items": [{"description": "羽绒服", "category": "clothing", "quantity": 1}],
    }
    responses = [http.post("/api/v1/shipments", json=body, headers=courier)]
    assert responses[0].status_code == 201, responses[0].text
    got = responses[0].json()
    assert got["sender"] == {"name": "欧阳***", "document_type": "resident_id", "document": "1101**********002X"}
    assert got["recipient"]["name"] == "司马***"
    bad = {**body, "sender": {**body["sender"], "document": {**body["sender"]["document"],
                                                             "number": ID_NUMBER[:-1] + "1"}}}
    responses.append(http.post("/api/v1/shipments", json=bad, headers=courier))
    assert responses[-1].status_code == 422 and responses[-1].json()["errors"][0]["code"] == "id_check_digit"
    responses.append(http.post("/api/v1/shipments", json={**body, "items": "羽绒服"}, headers=courier))
    assert responses[-1].status_code == 422
    responses.append(http.get("/api/v1/assignments", headers=courier))
    seen = "".join(r.text + json.dumps(dict(r.headers)) for r in responses) + server.log_text()
    assert not [c for c in CANARIES if c in seen]


def test_a_batch_answers_each_parcel_and_a_bad_one_does_not_sink_the_good(
    engine: Engine, keyring, tenant: Tenant  # type: ignore[no-untyped-def]
) -> None:
    courier = courier_on_terminal(tenant)
    bad = request(recipient_phone="nope")
    with writing(engine) as s:
        results = flows.take_in_batch(db_session=s, keyring=keyring, actor=courier,
                                      requests=[request(), bad, request(recipient_name="上官收件")],
                                      regulator_public_key=TEST_REGULATOR_PUBLIC)
    assert [type(r).__name__ for r in results] == ["Intake", "Invalid", "Intake"]
    assert [(e.pointer, e.code) for e in results[1].errors] == [("/recipient/phone", "phone_format")]
    assert results[2].recipient_name_masked == "上官**"
    assert len({results[0].waybill_no, results[2].waybill_no}) == 2
    assert counts(engine, tenant.carrier_id) == (2, 2, 2)


def test_prohibited_items_are_refused_and_restricted_ones_need_an_inspection(
    engine: Engine, keyring, tenant: Tenant  # type: ignore[no-untyped-def]
) -> None:
    courier = courier_on_terminal(tenant)
    cases = [
        ([service.Item(description="生日蜡烛和烟 花", category="household", quantity=1)], False,
         ("/items/0/description", "item_prohibited")),
        ([service.Item(description="充电宝 20000mAh", category="electronics", quantity=1)], False,
         ("/inspection/inspected", "inspection_required")),
        ([service.Item(description="羽绒服", category="spaceships", quantity=1)], False,
         ("/items/0/category", "category_unknown")),
    ]
    for items, inspected, expected in cases:
        with pytest.raises(Invalid) as caught:
            take_in(engine, keyring, courier, request(items=items, inspected=inspected))
        assert [(e.pointer, e.code) for e in caught.value.errors] == [expected]
        assert "生日蜡烛" not in caught.value.errors[0].detail
    assert counts(engine, tenant.carrier_id) == (0, 0, 0)
    # Inspected, the restricted parcel goes, and the inspection is recorded.
    intake = take_in(engine, keyring, courier, request(items=cases[1][0], inspected=True))
    with engine.connect() as conn:
        assert conn.scalar(select(Shipment.inspected).where(Shipment.id == intake.shipment_id)) is True


@pytest.mark.parametrize(("change", "pointer", "code", "says"), [
    # Stored as +8612345 before issue 18, and would have been routed.
    ({"recipient": {"phone": "12345"}}, "/recipient/phone", "phone_too_short", "11 digits"),
    ({"recipient": {"phone": "14012345678"}}, "/recipient/phone", "phone_invalid", "numbering plan"),
    ({"sender": {"phone": "+999 1234 5678"}}, "/sender/phone", "phone_country_unknown", "calling code"),
    # A type was given, so "give the type" was wrong: the answer names the type as what is wrong.
    ({"sender": {"document": {"type": "passport", "number": "E!23"}}}, "/sender/document/type",
     "id_type_invalid", "foreign_passport"),
    ({"sender": {"document": {"type": "foreign_passport", "number": "E!234567"}}}, "/sender/document/number",
     "id_format", "characters"),
    # A citizen number with a letter typed in the middle: a format error, with or without the type.
    ({"sender": {"document": {"type": None, "number": "11010519491231A02X"}}}, "/sender/document/number",
     "id_format", "characters"),
    ({"sender": {"document": {"type": "resident_id", "number": "11010519491231A02X"}}}, "/sender/document/number",
     "id_format", "characters"),
])
def test_a_number_that_is_not_real_is_refused_with_its_reason_and_nothing_is_written(
    http: httpx.Client, engine: Engine, tenant: Tenant, change: dict[str, dict[str, object]], pointer: str,
    code: str, says: str,
) -> None:
    manager = tenant.login(http, Role.STATION_MANAGER)
    terminal = http.post("/api/v1/terminals", headers=manager, json={"serial": f"PDA-{uuid.uuid4().hex[:8]}",
                                                                      "label": "handheld"}).json()["id"]
    courier = tenant.login(http, Role.COURIER, terminal_id=terminal)
    body: dict[str, dict[str, object]] = {
        "sender": {"document": {"type": "resident_id", "number": ID_NUMBER, "name": "欧阳寄件人"},
                   "phone": SENDER_PHONE, "address": "北京市朝阳区寄件路1号"},
        "recipient": {"name": "司马收件人", "phone": RECIPIENT_PHONE,
                      "address": {"province": "上海市", "city": "上海市", "district": "浦东新区", "detail": "9号"}},
        "items": [{"description": "羽绒服", "category": "clothing", "quantity": 1}],  # type: ignore[dict-item]
    }
    for part, values in change.items():
        for key, value in values.items():
            current = body[part][key]
            body[part][key] = {**current, **value} if isinstance(value, dict) and isinstance(current, dict) else value
    r = http.post("/api/v1/shipments", json=body, headers=courier)
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json", r.text
    assert [(e["pointer"], e["code"]) for e in r.json()["errors"]] == [(pointer, code)]
    assert says in r.json()["errors"][0]["detail"]
    for typed in ("12345", "14012345678", "99912345678", "11010519491231A02X", "E!23"):
        assert typed not in r.text
    assert counts(engine, tenant.carrier_id) == (0, 0, 0)


def test_a_carrier_can_refuse_a_couriers_own_document_and_the_alert_outlives_the_refusal(
    http: httpx.Client, engine: Engine, tenant: Tenant
) -> None:
    admin = tenant.login(http, Role.ADMIN)
    assert http.get("/api/v1/carrier/settings", headers=admin).json() == {
        "refuse_courier_own_id": False, "blacklist_policy": "flag", "obligations_required": True}
    assert http.patch("/api/v1/carrier/settings", json={"refuse_courier_own_id": True},
                      headers=tenant.login(http, Role.STATION_MANAGER)).status_code == 403
    on = http.patch("/api/v1/carrier/settings", json={"refuse_courier_own_id": True}, headers=admin)
    assert on.status_code == 200 and on.json() == {"refuse_courier_own_id": True, "blacklist_policy": "flag",
                                                 "obligations_required": True}
    manager = tenant.login(http, Role.STATION_MANAGER)
    me = tenant.account(Role.COURIER)
    assert http.put(f"/api/v1/staff/{me.user_id}/document", json={"type": "resident_id", "number": ID_NUMBER},
                    headers=manager).status_code == 204
    terminal = http.post("/api/v1/terminals", headers=manager, json={"serial": f"PDA-{uuid.uuid4().hex[:8]}",
                                                                      "label": "handheld"}).json()["id"]
    courier = tenant.login(http, Role.COURIER, terminal_id=terminal)
    body = {
        "sender": {"document": {"type": "resident_id", "number": ID_NUMBER, "name": "欧阳寄件人"},
                   "phone": SENDER_PHONE, "address": "北京市朝阳区寄件路1号"},
        "recipient": {"name": "司马收件人", "phone": RECIPIENT_PHONE,
                      "address": {"province": "上海市", "city": "上海市", "district": "浦东新区", "detail": "9号"}},
        "items": [{"description": "羽绒服", "category": "clothing", "quantity": 1}],
    }
    r = http.post("/api/v1/shipments", json=body, headers=courier)
    assert r.status_code == 422 and [e["code"] for e in r.json()["errors"]] == ["courier_own_id"]
    assert ID_NUMBER not in r.text
    assert counts(engine, tenant.carrier_id) == (0, 0, 0)
    # The request failed, but its alert is there for HQ security, marked as a refusal.
    alerts = http.get("/api/v1/alerts", headers=tenant.login(http, Role.HQ_SECURITY)).json()
    assert [(a["kind"], a["detail"]["refused"]) for a in alerts] == [("courier_own_id", True)]
    # In a batch the refused parcel is answered on its own; a colleague's parcel goes through.
    other = {**body, "sender": {**body["sender"], "document": {"type": "resident_id", "number": "110105194912310038",
                                                               "name": "上官寄件人"}}}
    batch = http.post("/api/v1/shipments:batch", json={"shipments": [body, other]}, headers=courier).json()
    assert [x["status"] for x in batch["results"]] == [422, 201]
    assert counts(engine, tenant.carrier_id) == (1, 1, 1)
    # The setting's change is an entry of the tamper-evident log.
    entries = http.get("/api/v1/audit/entries", params={"subject": "setting:refuse_courier_own_id"},
                       headers=tenant.login(http, Role.AUDITOR)).json()["items"]
    assert [e["entry"]["purpose"] for e in entries] == ["setting_on"]
