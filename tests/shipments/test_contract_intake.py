"""Contract customers (协议客户): verified once in an agreement, their parcels sent in batches over HTTP
without a document each, a share drawn for inspection and the draw recorded; on both engines."""

from __future__ import annotations

import json
import uuid

import httpx
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select

from parcelguard.contracts import service as contracts
from parcelguard.contracts.models import Agreement
from parcelguard.core.auth import Role
from parcelguard.crypto import sealing
from parcelguard.identity import documents
from parcelguard.identity import service as identity
from parcelguard.identity.models import RealNameRecord
from parcelguard.regulator.models import OutboxEntry
from parcelguard.shipments.models import InspectionPhoto, Shipment
from tests.servers import TEST_REGULATOR_PRIVATE, LiveServer
from tests.shipments.images import png
from tests.tenants import Tenant

USCC_BODY = "91110105MA01C3XR7"
USCC = USCC_BODY + documents.uscc_check_character(USCC_BODY)
RESPONSIBLE_ID = "11010519491231002X"
CONTACT_PHONE, RECIPIENT_PHONE = "13922223333", "13744445555"
CANARIES = [RESPONSIBLE_ID, "11010519491231002", "诸葛负责", CONTACT_PHONE, "13744445555", "8613744445555",
            "仓库联系人", "收件大道7号"]


def agreement_body(tenant: Tenant, **changes: object) -> dict:
    body = {
        "customer_id": str(tenant.account(Role.ENTERPRISE).user_id), "station_id": str(tenant.stations[0]),
        "organisation": {"name": "演示电子商务有限公司", "uscc": USCC},
        "responsible": {"document": {"type": "resident_id", "number": RESPONSIBLE_ID, "name": "诸葛负责"}},
        "inspection_permille": 1000,
    }
    return {**body, **changes}


def parcel(**changes: object) -> dict:
    body = {
        "sender": {"name": "仓库联系人", "phone": CONTACT_PHONE, "address": "北京市朝阳区仓储路1号"},
        "recipient": {"name": "司马收件人", "phone": RECIPIENT_PHONE,
                      "address": {"province": "上海市", "city": "上海市", "district": "浦东新区",
                                  "detail": "收件大道7号 1202室"}},
        "items": [{"description": "羽绒服", "category": "clothing", "quantity": 1, "declared_value_cents": 59900}],
    }
    return {**body, **changes}


def make_agreement(http: httpx.Client, tenant: Tenant, **changes: object) -> dict:
    r = http.post("/api/v1/agreements", json=agreement_body(tenant, **changes),
                  headers=tenant.login(http, Role.STATION_MANAGER))
    assert r.status_code == 201, r.text
    return r.json()


def counts(engine: Engine, carrier: uuid.UUID) -> tuple[int, ...]:
    with engine.connect() as conn:
        return tuple(conn.scalar(select(func.count()).select_from(t).where(t.carrier_id == carrier)) or 0
                     for t in (Shipment, RealNameRecord, OutboxEntry))


def test_a_contract_customer_sends_a_batch_under_its_agreement_and_each_parcel_is_answered(
    http: httpx.Client, server: LiveServer, engine: Engine, tenant: Tenant
) -> None:
    agreement = make_agreement(http, tenant)
    assert agreement["organisation"] == {"name": "演示电子商务有限公司", "uscc": USCC}
    assert agreement["responsible"] == {"name": "诸葛**", "document_type": "resident_id",
                                        "document": "1101**********002X"}
    shop = tenant.login(http, Role.ENTERPRISE)
    batch = [
        parcel(),
        parcel(items=[{"description": "烟花", "category": "household", "quantity": 1}]),
        parcel(recipient={**parcel()["recipient"], "phone": "call me"}),
        parcel(items="羽绒服"),
        parcel(sender={"document": {"type": "resident_id", "number": RESPONSIBLE_ID, "name": "诸葛负责"},
                       "phone": CONTACT_PHONE, "address": "北京市朝阳区仓储路1号"}),
        parcel(recipient={**parcel()["recipient"], "name": "上官收件"}),
    ]
    r = http.post("/api/v1/shipments:batch", json={"shipments": batch}, headers=shop)
    assert r.status_code == 200, r.text
    got = r.json()
    assert (got["accepted"], got["refused"]) == (2, 4)
    results = got["results"]
    assert [x["index"] for x in results] == list(range(6))
    assert [x["status"] for x in results] == [201, 422, 422, 422, 422, 201]
    codes = [[(e["pointer"], e["code"]) for e in x["problem"]["errors"]] for x in results[1:5]]
    assert codes == [[("/items/0/description", "item_prohibited")], [("/recipient/phone", "phone_format")],
                     [("/items", "list_type")], [("/sender", "sender_identity_by_agreement")]]
    first, last = results[0]["shipment"], results[5]["shipment"]
    assert first["sender"] == {"name": "仓****", "document_type": "uscc", "document": USCC}
    assert last["recipient"]["name"] == "上官**" and first["waybill_no"] != last["waybill_no"]
    # Every parcel is drawn when the share is 1000 in 1000, and the draw is recorded on the shipment.
    assert first["inspection_draw"] == last["inspection_draw"] == "random"
    assert counts(engine, tenant.carrier_id) == (2, 2, 2)
    with engine.connect() as conn:
        shipment = conn.execute(select(Shipment).where(Shipment.id == uuid.UUID(first["id"]))).one()
        record = conn.execute(select(RealNameRecord).where(RealNameRecord.shipment_id == shipment.id)).one()
    assert (shipment.sender_kind, shipment.inspection_draw, shipment.inspected) == ("contract", "random", False)
    assert str(shipment.agreement_id) == agreement["id"]
    assert str(shipment.customer_id) == str(tenant.account(Role.ENTERPRISE).user_id)
    assert shipment.origin_station_id == tenant.stations[0] and shipment.taken_in_by is None
    # The parcel's real-name record carries the agreement's seal: the organisation and its responsible
    # person, which only the regulator opens.
    assert record.seal_context == identity.agreement_context(tenant.carrier_id, uuid.UUID(agreement["id"])).decode()
    opened = json.loads(sealing.open_sealed(TEST_REGULATOR_PRIVATE, record.sealed, record.seal_context.encode()))
    assert opened == {"doc_type": "uscc", "doc_number": USCC, "name": "演示电子商务有限公司",
                      "responsible": {"doc_type": "resident_id", "doc_number": RESPONSIBLE_ID, "name": "诸葛负责"}}
    # Nothing the customer or the station saw, and nothing in the server's log, holds a canary.
    seen = r.text + json.dumps(dict(r.headers)) + json.dumps(agreement) + server.log_text()
    assert not [c for c in CANARIES if c in seen]


def test_restricted_items_are_drawn_for_inspection_and_the_share_decides_the_rest(
    http: httpx.Client, engine: Engine, tenant: Tenant
) -> None:
    make_agreement(http, tenant, inspection_permille=0)
    batch = [parcel(), parcel(items=[{"description": "充电宝 20000mAh", "category": "electronics", "quantity": 1}])]
    r = http.post("/api/v1/shipments:batch", json={"shipments": batch}, headers=tenant.login(http, Role.ENTERPRISE))
    assert [x["shipment"]["inspection_draw"] for x in r.json()["results"]] == [None, "restricted"]
    # The sender cannot declare the parcel inspected: the courier does that at pickup.
    inspected = parcel(inspection={"inspected": True})
    r = http.post("/api/v1/shipments:batch", json={"shipments": [inspected]},
                  headers=tenant.login(http, Role.ENTERPRISE))
    assert r.json()["results"][0]["problem"]["errors"][0]["code"] == "inspection_by_courier"
    assert counts(engine, tenant.carrier_id) == (2, 2, 2)


def test_without_an_agreement_in_force_an_enterprise_sends_nothing(
    http: httpx.Client, engine: Engine, tenant: Tenant
) -> None:
    shop = tenant.login(http, Role.ENTERPRISE)
    r = http.post("/api/v1/shipments:batch", json={"shipments": [parcel()]}, headers=shop)
    assert r.status_code == 403 and r.json()["code"] == "agreement_required"
    agreement = make_agreement(http, tenant)
    manager = tenant.login(http, Role.STATION_MANAGER)
    assert http.post(f"/api/v1/agreements/{agreement['id']}/revoke", headers=manager).json()["revoked_at"]
    r = http.post("/api/v1/shipments:batch", json={"shipments": [parcel()]}, headers=shop)
    assert r.status_code == 403 and r.json()["code"] == "agreement_required"
    # A single parcel is a courier's intake, not an enterprise's.
    r = http.post("/api/v1/shipments", json=parcel(), headers=shop)
    assert r.status_code == 403 and r.json()["code"] == "role_not_allowed"
    assert counts(engine, tenant.carrier_id) == (0, 0, 0)


def test_a_batch_holds_at_most_1000_parcels(http: httpx.Client, engine: Engine, tenant: Tenant) -> None:
    make_agreement(http, tenant)
    r = http.post("/api/v1/shipments:batch", json={"shipments": [parcel()] * 1001},
                  headers=tenant.login(http, Role.ENTERPRISE))
    assert r.status_code == 422 and r.json()["errors"][0]["pointer"] == "/shipments"
    assert counts(engine, tenant.carrier_id) == (0, 0, 0)


def test_an_agreement_checks_the_organisation_and_the_responsible_person_field_by_field(
    http: httpx.Client, engine: Engine, tenant: Tenant
) -> None:
    manager = tenant.login(http, Role.STATION_MANAGER)
    bad = agreement_body(
        tenant, customer_id=str(tenant.account(Role.COURIER).user_id),
        organisation={"name": " ", "uscc": USCC[:-1] + ("0" if USCC[-1] != "0" else "1")},
        responsible={"document": {"type": "resident_id", "number": RESPONSIBLE_ID[:-1] + "1", "name": "诸葛负责"}},
        inspection_permille=1001,
    )
    r = http.post("/api/v1/agreements", json=bad, headers=manager)
    assert r.status_code == 422 and r.json()["code"] == "agreement_invalid"
    assert {(e["pointer"], e["code"]) for e in r.json()["errors"]} == {
        ("/customer_id", "customer_not_enterprise"), ("/organisation/uscc", "uscc_check_digit"),
        ("/organisation/name", "field_length"), ("/responsible/document/number", "id_check_digit"),
        ("/inspection_permille", "share_out_of_range")}
    assert RESPONSIBLE_ID[:-1] not in r.text
    # A station manager signs for their own station only; a courier not at all.
    other = http.post("/api/v1/agreements", json=agreement_body(tenant, station_id=str(tenant.stations[1])),
                      headers=manager)
    assert other.status_code == 403 and other.json()["code"] == "not_own_station"
    courier = http.post("/api/v1/agreements", json=agreement_body(tenant), headers=tenant.login(http, Role.COURIER))
    assert courier.status_code == 403
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(Agreement)
                           .where(Agreement.carrier_id == tenant.carrier_id)) == 0
    first = make_agreement(http, tenant)
    again = http.post("/api/v1/agreements", json=agreement_body(tenant), headers=manager)
    assert again.status_code == 409 and again.json()["code"] == "agreement_exists"
    # The customer sees its own agreement; another carrier's staff see nothing of it.
    mine = http.get("/api/v1/agreements", headers=tenant.login(http, Role.ENTERPRISE)).json()
    assert [a["id"] for a in mine] == [first["id"]]
    changed = http.put(f"/api/v1/agreements/{first['id']}/inspection-share", json={"inspection_permille": 20},
                       headers=manager)
    assert changed.json()["inspection_permille"] == 20
    # Who verified and who changed it are entries of the carrier's tamper-evident log.
    entries = http.get("/api/v1/audit/entries", params={"subject": f"agreement:{first['id']}"},
                       headers=tenant.login(http, Role.AUDITOR)).json()["items"]
    assert [e["entry"]["purpose"] for e in entries] == ["agreement_made", "inspection_share"]


def test_a_courier_records_the_inspection_of_a_drawn_parcel_with_photos(
    http: httpx.Client, engine: Engine, tenant: Tenant
) -> None:
    make_agreement(http, tenant)
    r = http.post("/api/v1/shipments:batch", json={"shipments": [parcel(), parcel()]},
                  headers=tenant.login(http, Role.ENTERPRISE))
    first, second = (x["shipment"]["id"] for x in r.json()["results"])
    manager = tenant.login(http, Role.STATION_MANAGER)
    terminal = http.post("/api/v1/terminals", headers=manager, json={"serial": f"PDA-{uuid.uuid4().hex[:8]}",
                                                                      "label": "handheld"}).json()["id"]
    courier = tenant.login(http, Role.COURIER, terminal_id=terminal)
    image = png(64, 48)
    done = http.post(f"/api/v1/shipments/{first}/inspection", headers=courier,
                     data={"inspection": json.dumps({"passed": True})},
                     files=[("photos", ("box.png", image, "image/png"))])
    assert done.status_code == 201, done.text
    assert (done.json()["status"], done.json()["photos"]) == ("accepted", 1)
    again = http.post(f"/api/v1/shipments/{first}/inspection", headers=courier, json={"passed": True})
    assert again.status_code == 409 and again.json()["code"] == "already_inspected"
    # A failed inspection refuses the parcel.
    refused = http.post(f"/api/v1/shipments/{second}/inspection", headers=courier, json={"passed": False})
    assert refused.json()["status"] == "refused"
    with engine.connect() as conn:
        shipment = conn.execute(select(Shipment).where(Shipment.id == uuid.UUID(first))).one()
        photo = conn.execute(select(InspectionPhoto).where(InspectionPhoto.shipment_id == shipment.id)).one()
    assert shipment.inspected and str(shipment.inspected_by) == str(tenant.account(Role.COURIER).user_id)
    assert (photo.content_type, photo.size) == ("image/png", len(image))
    assert image[16:] not in photo.image  # stored encrypted, not as the image
    # A courier of another station does not find the parcel.
    other = tenant.login(http, Role.COURIER, station=1, terminal_id=http.post(
        "/api/v1/terminals", headers=tenant.login(http, Role.STATION_MANAGER, station=1),
        json={"serial": f"PDA-{uuid.uuid4().hex[:8]}", "label": "handheld"}).json()["id"])
    lost = http.post(f"/api/v1/shipments/{first}/inspection", headers=other, json={"passed": True})
    assert lost.status_code == 404


@given(st.integers(min_value=0, max_value=1000), st.integers(min_value=0, max_value=999))
def test_the_draw_picks_exactly_the_agreements_share_of_rolls(permille: int, roll: int) -> None:
    assert contracts.draw_for_inspection(permille, roll) is (roll < permille)
    assert sum(contracts.draw_for_inspection(permille, r) for r in range(1000)) == permille
    assert contracts.draw_for_inspection(0) is False and contracts.draw_for_inspection(1000) is True
