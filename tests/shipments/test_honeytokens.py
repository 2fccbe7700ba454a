"""Honeytoken parcels (issue 14) over real HTTP on both engines: the admin plants decoys that no listing
tells from real parcels; revealing one (even under a case, even refused), looking it up as staff or in
public tracking raises the alert `honeytoken` at once, with the log index of the touch; the alert and the
log name no one's personal data, and the planting is logged with its count only."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
from sqlalchemy import Engine, select

from parcelguard.audit.models import Alert, AuditEntry
from parcelguard.core.auth import Role
from tests.tenants import Tenant
from tests.waybills.test_label_api import take_in, terminal_login


def plant(http: httpx.Client, tenant: Tenant, count: int = 2) -> list[dict[str, Any]]:
    answer = http.post("/api/v1/honeytokens", headers=tenant.login(http, Role.ADMIN), json={
        "origin_station_id": str(tenant.stations[1]), "destination_station_id": str(tenant.stations[0]),
        "count": count})
    assert answer.status_code == 201, answer.text
    planted: list[dict[str, Any]] = answer.json()
    return planted


def honey_alerts(engine: Engine, tenant: Tenant) -> list[Alert]:
    with engine.connect() as conn:
        return list(conn.execute(select(Alert).where(Alert.carrier_id == tenant.carrier_id,
                                                     Alert.kind == "honeytoken").order_by(Alert.raised_at)))


def test_decoys_look_like_parcels_and_any_touch_raises_the_alert(
    http: httpx.Client, engine: Engine, tenant: Tenant
) -> None:
    real = take_in(http, terminal_login(http, tenant), destination_station_id=str(tenant.stations[0]))
    decoys = plant(http, tenant)
    assert len(decoys) == 2 and all(d["waybill_no"].startswith(tenant.prefix) for d in decoys)
    decoy = decoys[0]
    # the planting is logged with its count, never the decoys' ids
    with engine.connect() as conn:
        planted = conn.execute(select(AuditEntry.subject).where(AuditEntry.carrier_id == tenant.carrier_id,
                                                                AuditEntry.purpose == "honeytoken_plant")).all()
    assert [row[0] for row in planted] == ["honeytokens:2"]
    # in the station's board and the staff view, a decoy has every field a real parcel has, and no more
    manager = tenant.login(http, Role.STATION_MANAGER)
    waiting = {w["shipment_id"]: w for w in http.get("/api/v1/station/board", headers=manager).json()["waiting"]}
    assert set(waiting[decoy["shipment_id"]]) == set(waiting[real["id"]])
    assert honey_alerts(engine, tenant) == []  # listing is not touching
    view = http.get(f"/api/v1/shipments/{decoy['shipment_id']}", headers=manager)
    assert view.status_code == 200
    assert set(view.json()) == set(http.get(f"/api/v1/shipments/{real['id']}", headers=manager).json())
    [looked] = honey_alerts(engine, tenant)
    assert looked.detail["how"] == "staff_lookup" and looked.actor_id == tenant.account(Role.STATION_MANAGER).user_id

    # HQ security reveals it under a case: allowed (nothing tells the reader), and alerted at once
    officer = tenant.login(http, Role.HQ_SECURITY)
    case = http.post("/api/v1/audit/cases", headers=officer, json={"reference": "HT-1", "summary": "review"}).json()
    revealed = http.post("/api/v1/reveals", headers=officer, json={
        "subject": f"shipment:{decoy['shipment_id']}", "fields": ["recipient_name"], "purpose": "investigation",
        "case_id": case["id"]})
    assert revealed.status_code == 200, revealed.text
    alert = honey_alerts(engine, tenant)[-1]
    assert alert.detail["how"] == "reveal:investigation" and alert.audit_index == revealed.json()["log_index"]
    # a courier's refused reveal (no task for it) is as telling
    courier = terminal_login(http, tenant, n=1)
    refused = http.post("/api/v1/reveals", headers=courier, json={
        "subject": f"shipment:{decoys[1]['shipment_id']}", "fields": ["recipient_name"], "purpose": "delivery"})
    assert refused.status_code == 404  # answered as any parcel out of reach
    alert = honey_alerts(engine, tenant)[-1]
    assert alert.detail == {"shipment_id": decoys[1]["shipment_id"], "how": "refused:delivery"}
    assert alert.audit_index == refused.json()["log_index"]

    # the public lookup of its number answers as for a parcel, and raises the alert for the client
    before = len(honey_alerts(engine, tenant))
    public = http.get(f"/api/v1/public/track/{decoy['waybill_no']}")
    assert public.status_code == 200 and public.json()["status"] != "no_record"
    assert set(public.json()) == set(http.get(f"/api/v1/public/track/{real['waybill_no']}").json())
    alerts = honey_alerts(engine, tenant)
    assert len(alerts) == before + 1 and alerts[-1].detail["how"] == "public_lookup" and alerts[-1].actor_id is None
    # a real parcel's touches raise nothing
    http.get(f"/api/v1/shipments/{real['id']}", headers=manager)
    http.get(f"/api/v1/public/track/{real['waybill_no']}")
    assert len(honey_alerts(engine, tenant)) == before + 1
    # no alert carries a decoy's made-up name or phone: HQ sees ids and ways only
    for a in alerts:
        assert set(a.detail) <= {"shipment_id", "how", "client"}
        assert not any(ch.isdigit() for ch in json.dumps(a.detail).replace(a.detail["shipment_id"], "")
                       .replace(a.detail.get("client", ""), ""))


def test_only_the_admin_plants_and_bad_input_plants_nothing(http: httpx.Client, engine: Engine, tenant: Tenant) -> None:
    body = {"origin_station_id": str(tenant.stations[0]), "destination_station_id": str(tenant.stations[1])}
    officer = tenant.login(http, Role.HQ_SECURITY)
    assert http.post("/api/v1/honeytokens", headers=officer, json=body).json()["code"] == "role_not_allowed"
    admin = tenant.login(http, Role.ADMIN)
    for bad in ({**body, "count": 0}, {**body, "count": 51}, {**body, "origin_station_id": str(uuid.uuid4())}):
        answer = http.post("/api/v1/honeytokens", headers=admin, json=bad)
        assert answer.status_code in (404, 422), answer.text
    assert http.get("/api/v1/honeytokens", headers=officer).json() == []
    manager = tenant.login(http, Role.STATION_MANAGER)
    assert http.get("/api/v1/honeytokens", headers=manager).json()["code"] == "role_not_allowed"
