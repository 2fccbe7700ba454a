"""The catalogue routes over real HTTP, against the platform running in its own process: an admin's save
changes the very next intake of that carrier and no other, refusals write nothing, resets go back to the
shipped rules, every save is in the audit log, and senders read a carrier's catalogue by its slug."""

from __future__ import annotations

import copy
import uuid
from typing import Any

import httpx
from sqlalchemy import Engine

from parcelguard.core.auth import Role
from parcelguard.crypto.keyring import Keyring
from parcelguard.shipments import catalogue_store
from tests.tenants import Tenant, writing

DURIAN = {"id": "durian", "level": "prohibited", "label_zh": "榴莲", "label_en": "Durian",
          "keywords_zh": ["榴莲"], "keywords_en": ["durian"],
          "reason": "Its smell taints the other parcels; this carrier does not take it."}
PARCEL = {
    "sender": {"document": {"type": "resident_id", "number": "11010519491231002X", "name": "欧阳寄件人"},
               "phone": "13911112222", "address": "北京市朝阳区寄件路1号"},
    "recipient": {"name": "司马收件人", "phone": "+86 137 3333 4444",
                  "address": {"province": "上海市", "city": "上海市", "district": "浦东新区", "detail": "收件大道9号"}},
    "items": [{"description": "泰国金枕榴莲 2个", "category": "fresh_food", "quantity": 1}],
}


def courier_on_terminal(http: httpx.Client, tenant: Tenant) -> dict[str, str]:
    manager = tenant.login(http, Role.STATION_MANAGER)
    r = http.post("/api/v1/terminals", headers=manager, json={"serial": f"PDA-{uuid.uuid4().hex[:8]}",
                                                               "label": "handheld"})
    assert r.status_code == 201, r.text
    return tenant.login(http, Role.COURIER, terminal_id=r.json()["id"])


def with_durian(data: dict[str, Any]) -> dict[str, Any]:
    edited = copy.deepcopy(data)
    edited["rules"].append(DURIAN)
    return edited


def test_an_admins_new_rule_refuses_the_very_next_intake_of_that_carrier_only(
    http: httpx.Client, tenant: Tenant, other_tenant: Tenant
) -> None:
    courier, other_courier = courier_on_terminal(http, tenant), courier_on_terminal(http, other_tenant)
    admin = tenant.login(http, Role.ADMIN)
    assert http.post("/api/v1/shipments", json=PARCEL, headers=courier).status_code == 201
    editable = http.get("/api/v1/catalogue/data", headers=admin).json()
    assert editable["version"] == 0 and "keywords_zh" in editable["rules"][0]
    r = http.put("/api/v1/catalogue", json=with_durian(editable), headers=admin)
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 1 and r.json()["shipped"] is False and len(r.json()["sha256"]) == 64

    refused = http.post("/api/v1/shipments", json=PARCEL, headers=courier)
    assert refused.status_code == 422, refused.text
    problem = refused.json()
    assert problem["code"] == "intake_invalid"
    assert [(e["pointer"], e["code"]) for e in problem["errors"]] == [("/items/0/description", "item_prohibited")]
    assert "durian" in problem["errors"][0]["detail"] and "泰国金枕" not in problem["errors"][0]["detail"]
    assert http.post("/api/v1/shipments", json=PARCEL, headers=other_courier).status_code == 201

    # Every carrier account reads its catalogue, with the version; the other carrier's is unchanged.
    mine = http.get("/api/v1/catalogue", headers=courier).json()
    assert mine["version"] == 1 and mine["rules"][-1] == {k: DURIAN[k] for k in
                                                          ("id", "level", "label_zh", "label_en", "reason")}
    assert "keywords_zh" not in mine["rules"][-1]
    theirs = http.get("/api/v1/catalogue", headers=other_courier).json()
    assert (theirs["version"], theirs["shipped"]) == (0, True) and "durian" not in [r["id"] for r in theirs["rules"]]


def test_a_save_made_in_another_process_takes_effect_at_once(
    http: httpx.Client, engine: Engine, keyring: Keyring, tenant: Tenant
) -> None:
    courier = courier_on_terminal(http, tenant)
    headers = tenant.login(http, Role.ADMIN)
    shipped = http.get("/api/v1/catalogue/data", headers=headers).json()
    assert http.put("/api/v1/catalogue", json=shipped, headers=headers).json()["version"] == 1
    assert http.post("/api/v1/shipments", json=PARCEL, headers=courier).status_code == 201  # the server compiled v1
    admin = tenant.actor(Role.ADMIN)
    with writing(engine) as s:
        data = catalogue_store.current_data(db_session=s, actor=admin)[1]
        catalogue_store.save(db_session=s, keyring=keyring, actor=admin, data=with_durian(data))
    r = http.post("/api/v1/shipments", json=PARCEL, headers=courier)
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "item_prohibited"


def test_an_invalid_catalogue_answers_422_with_pointers_and_saves_nothing(http: httpx.Client, tenant: Tenant) -> None:
    admin = tenant.login(http, Role.ADMIN)
    editable = http.get("/api/v1/catalogue/data", headers=admin).json()
    bad = with_durian(editable)
    bad["rules"][-1] = {**DURIAN, "keywords_en": ["Durian!"], "categories": ["spaceships"]}
    bad["colour"] = "red"
    r = http.put("/api/v1/catalogue", json=bad, headers=admin)
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    n = len(editable["rules"])
    assert r.json()["code"] == "catalogue_invalid"
    assert {(e["pointer"], e["code"]) for e in r.json()["errors"]} == {
        ("/colour", "field_unknown"), (f"/rules/{n}/categories/0", "category_unknown"),
        (f"/rules/{n}/keywords_en/0", "keyword_not_normalised")}
    for body in ([], "catalogue", {**editable, "version": "latest"}):
        r = http.put("/api/v1/catalogue", json=body, headers=admin)
        assert r.status_code == 422 and r.json()["code"] == "catalogue_invalid", r.text
    assert r.json()["errors"] == [{"pointer": "/version", "code": "field_type",
                                   "detail": "The version the edit started from: an integer, 0 or more."}]
    assert http.put("/api/v1/catalogue", content=b"{", headers={**admin, "content-type": "application/json"}
                    ).json()["code"] == "malformed_json"
    assert http.get("/api/v1/catalogue/versions", headers=admin).json() == []
    assert http.get("/api/v1/catalogue", headers=admin).json()["version"] == 0


def test_an_edit_of_an_outdated_version_is_a_conflict(http: httpx.Client, tenant: Tenant) -> None:
    admin = tenant.login(http, Role.ADMIN)
    editable = http.get("/api/v1/catalogue/data", headers=admin).json()
    assert http.put("/api/v1/catalogue", json=editable, headers=admin).json()["version"] == 1
    r = http.put("/api/v1/catalogue", json=with_durian(editable), headers=admin)  # still says version 0
    assert r.status_code == 409 and r.json()["code"] == "catalogue_conflict" and r.json()["current_version"] == 1
    assert len(http.get("/api/v1/catalogue/versions", headers=admin).json()) == 1


def test_couriers_and_station_managers_cannot_edit_the_catalogue(http: httpx.Client, tenant: Tenant) -> None:
    admin = tenant.login(http, Role.ADMIN)
    editable = with_durian(http.get("/api/v1/catalogue/data", headers=admin).json())
    for role in (Role.COURIER, Role.STATION_MANAGER, Role.HQ_SECURITY):
        headers = tenant.login(http, role)
        for r in (http.put("/api/v1/catalogue", json=editable, headers=headers),
                  http.delete("/api/v1/catalogue", headers=headers),
                  http.get("/api/v1/catalogue/data", headers=headers)):
            assert r.status_code == 403 and r.json()["code"] == "role_not_allowed", (role, r.text)
        assert http.get("/api/v1/catalogue", headers=headers).status_code == 200
    for role in (Role.COURIER, Role.STATION_MANAGER):
        r = http.get("/api/v1/catalogue/versions", headers=tenant.login(http, role))
        assert r.status_code == 403
    assert http.get("/api/v1/catalogue/versions", headers=tenant.login(http, Role.HQ_SECURITY)).json() == []
    regulator = tenant.login(http, Role.REGULATOR)
    assert http.get("/api/v1/catalogue", headers=regulator).status_code == 403
    unsigned = http.get("/api/v1/catalogue")
    assert unsigned.status_code == 401 and unsigned.json()["code"] == "unauthenticated"
    assert http.put("/api/v1/catalogue", json=editable).status_code == 401
    assert http.get("/api/v1/catalogue", headers=admin).json()["version"] == 0


def test_a_reset_brings_back_the_shipped_rules_and_every_change_is_logged(http: httpx.Client, tenant: Tenant) -> None:
    admin, courier = tenant.login(http, Role.ADMIN), courier_on_terminal(http, tenant)
    shipped = http.get("/api/v1/catalogue", headers=admin).json()
    editable = http.get("/api/v1/catalogue/data", headers=admin).json()
    saved = http.put("/api/v1/catalogue", json=with_durian(editable), headers=admin).json()
    assert http.post("/api/v1/shipments", json=PARCEL, headers=courier).status_code == 422
    r = http.delete("/api/v1/catalogue", headers=admin)
    assert r.status_code == 200 and (r.json()["version"], r.json()["shipped"], r.json()["sha256"]) == (2, True, None)
    assert http.get("/api/v1/catalogue", headers=admin).json() == {**shipped, "version": 2}
    assert http.post("/api/v1/shipments", json=PARCEL, headers=courier).status_code == 201
    again = http.get("/api/v1/catalogue/data", headers=admin).json()
    assert again == {**editable, "version": 2}

    history = http.get("/api/v1/catalogue/versions", headers=admin).json()
    admin_id = str(tenant.actor(Role.ADMIN).user_id)
    assert [(v["version"], v["shipped"], v["saved_by"], v["sha256"]) for v in history] == [
        (2, True, admin_id, None), (1, False, admin_id, saved["sha256"])]
    auditor = tenant.login(http, Role.AUDITOR)
    logged = http.get("/api/v1/audit/entries", headers=auditor).json()["items"]
    catalogue_entries = [e["entry"] for e in logged if e["entry"]["subject"].startswith("catalogue:")]
    assert [(e["subject"], e["purpose"], e["actor"]) for e in catalogue_entries] == [
        (f"catalogue:1:sha256:{saved['sha256']}", "catalogue_save", admin_id),
        ("catalogue:2:shipped", "catalogue_reset", admin_id)]
    assert all(e["request_id"] for e in catalogue_entries)


def test_anyone_reads_a_carriers_catalogue_by_its_slug(http: httpx.Client, tenant: Tenant,
                                                       other_tenant: Tenant) -> None:
    admin = tenant.login(http, Role.ADMIN)
    editable = http.get("/api/v1/catalogue/data", headers=admin).json()
    http.put("/api/v1/catalogue", json=with_durian(editable), headers=admin).raise_for_status()
    public = http.get(f"/api/v1/public/carriers/{tenant.slug}/catalogue")
    assert public.status_code == 200
    assert public.json() == http.get("/api/v1/catalogue", headers=admin).json()
    assert public.json()["rules"][-1]["id"] == "durian" and "keywords_zh" not in public.text
    other = http.get(f"/api/v1/public/carriers/{other_tenant.slug}/catalogue").json()
    assert "durian" not in [r["id"] for r in other["rules"]]
    unknown = http.get("/api/v1/public/carriers/no-such-carrier/catalogue")
    assert unknown.status_code == 404 and unknown.json()["code"] == "carrier_unknown"
