"""A courier's own document, registered at onboarding, gives them away when they enter it as a sender's."""

from __future__ import annotations

import uuid

import httpx

from parcelguard.core.auth import Role
from parcelguard.identity.documents import id_check_character
from tests.tenants import Tenant


def test_a_courier_entering_their_own_registered_document_alerts_hq_security(
    http: httpx.Client, tenant: Tenant
) -> None:
    body = "11010519900307" + f"{uuid.uuid4().int % 1000:03d}"
    number = body + id_check_character(body)
    manager = tenant.login(http, Role.STATION_MANAGER)
    courier_id = tenant.account(Role.COURIER).user_id
    r = http.put(f"/api/v1/staff/{courier_id}/document", headers=manager, json={"type": "resident_id",
                                                                                 "number": number})
    assert r.status_code == 204 and r.content == b""
    bad = http.put(f"/api/v1/staff/{courier_id}/document", headers=manager, json={"number": number[:-1] + "0"
                                                                                  if number[-1] != "0" else number[:-1] + "1"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["pointer"] == "/number" and number[:-1] not in bad.text
    elsewhere = tenant.login(http, Role.STATION_MANAGER, station=1)
    assert http.put(f"/api/v1/staff/{courier_id}/document", headers=elsewhere,
                    json={"number": number}).status_code == 404

    terminal = http.post("/api/v1/terminals", headers=manager,
                         json={"serial": f"PDA-{uuid.uuid4().hex[:8]}", "label": "handheld"}).json()["id"]
    courier = tenant.login(http, Role.COURIER, terminal_id=terminal)
    parcel = {"sender": {"document": {"type": "resident_id", "number": number, "name": "诸葛自己"},
                         "phone": "13955556666", "address": "北京市朝阳区某路1号"},
              "recipient": {"name": "东方收件", "phone": "13766667777",
                            "address": {"province": "北京市", "city": "北京市", "district": "海淀区", "detail": "某路2号"}},
              "items": [{"description": "书", "category": "documents", "quantity": 1}]}
    taken = http.post("/api/v1/shipments", json=parcel, headers=courier)
    assert taken.status_code == 201 and "alert" not in taken.text  # the courier is not told
    officer = tenant.login(http, Role.HQ_SECURITY)
    alerts = http.get("/api/v1/alerts", headers=officer).json()
    assert [(a["kind"], a["actor_id"], a["detail"]["shipment_id"]) for a in alerts] == [
        ("courier_own_id", str(courier_id), taken.json()["id"])]
