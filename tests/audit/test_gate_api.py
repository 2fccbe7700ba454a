"""The gate and the log over real HTTP, against the platform running in its own process."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest
from sqlalchemy import Engine

from parcelguard import verify
from parcelguard.core.auth import Role
from parcelguard.crypto.keyring import Keyring
from parcelguard.shipments.service import Task
from tests.servers import LiveServer
from tests.tenants import CANARY, Tenant
from tests.waybills.test_label_api import terminal_login

CANARY_VALUES = list(vars(CANARY).values())


def no_canary(text: str) -> None:
    assert not any(v in text for v in CANARY_VALUES)


def test_a_courier_without_a_registered_terminal_reveals_nothing_and_the_refusal_is_logged(
    http: httpx.Client, engine: Engine, keyring: Keyring, tenant: Tenant
) -> None:
    # Before issue 12 a courier's token without X-Terminal-Id got the name and address from /reveals.
    on_terminal = terminal_login(http, tenant)
    bare = {k: v for k, v in on_terminal.items() if k != "X-Terminal-Id"}
    shipment = tenant.shipment(keyring)
    tenant.assign(shipment, tenant.actor(Role.COURIER), Task.DELIVERY)
    body = {"subject": f"shipment:{shipment}", "fields": ["recipient_name", "recipient_address"], "purpose": "delivery"}
    # A token issued on a terminal works only with its terminal's header (core.auth) ...
    assert http.post("/api/v1/reveals", json=body, headers=bare).json()["code"] == "terminal_mismatch"
    # ... and a courier signed in without a terminal reveals nothing.
    bare = tenant.login(http, Role.COURIER)
    for headers in (bare,):
        refused = http.post("/api/v1/reveals", json=body, headers=headers)
        assert refused.status_code == 403, refused.text
        assert (refused.json()["code"], refused.json()["reason"]) == ("reveal_denied", "terminal_required")
        no_canary(refused.text)
        entry = http.get(f"/api/v1/audit/entries/{refused.json()['log_index']}",
                         headers=tenant.login(http, Role.AUDITOR)).json()["entry"]
        assert (entry["decision"], entry["reason"]) == ("deny", "terminal_required")
    # The same for a subject that does not exist: decided before the subject is looked up.
    unknown = http.post("/api/v1/reveals", json={**body, "subject": f"shipment:{uuid.uuid4()}"}, headers=bare)
    assert (unknown.status_code, unknown.json()["reason"]) == (403, "terminal_required")
    allowed = http.post("/api/v1/reveals", json=body, headers=on_terminal)
    assert allowed.status_code == 200 and allowed.json()["fields"]["recipient_name"] == CANARY.recipient_name


def test_a_courier_reveals_over_http_and_an_auditor_proves_the_entry(
    http: httpx.Client, server: LiveServer, engine: Engine, keyring: Keyring, tenant: Tenant
) -> None:
    courier = terminal_login(http, tenant)
    courier_actor = tenant.actor(Role.COURIER)
    shipment = tenant.shipment(keyring)
    tenant.assign(shipment, courier_actor, Task.DELIVERY)
    body = {"subject": f"shipment:{shipment}", "fields": ["recipient_name", "recipient_address"], "purpose": "delivery"}
    r = http.post("/api/v1/reveals", json=body, headers=courier)
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["fields"] == {"recipient_name": CANARY.recipient_name, "recipient_address": CANARY.recipient_address}

    refused = http.post("/api/v1/reveals", json={**body, "fields": ["recipient_phone"]}, headers=courier)
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
    problem = refused.json()
    assert (problem["code"], problem["reason"], problem["log_index"]) == ("reveal_denied", "field_not_allowed",
                                                                          got["log_index"] + 1)
    no_canary(refused.text)

    # The courier has no access to the log; the auditor does, and checks the entry against a signed head.
    assert http.get("/api/v1/audit/tree-heads/latest", headers=courier).status_code == 403
    auditor = tenant.login(http, Role.AUDITOR)
    head = http.post("/api/v1/audit/tree-heads", headers=auditor)
    assert head.status_code == 201, head.text
    assert http.get("/api/v1/audit/tree-heads/latest", headers=auditor).json() == head.json()
    keys = http.get("/api/v1/audit/public-keys", headers=auditor).json()["keys"]
    head_doc = head.json()
    assert head_doc["tree_size"] == 2
    assert verify.verify_tree_head(head_doc, bytes.fromhex(keys[str(head_doc["key_id"])]))

    entry = http.get(f"/api/v1/audit/entries/{got['log_index']}", headers=auditor).json()
    assert entry["entry"]["actor"] == str(courier_actor.user_id) and entry["entry"]["decision"] == "allow"
    leaf = verify.leaf_hash(json.dumps(entry["entry"], sort_keys=True, separators=(",", ":"),
                                       ensure_ascii=False).encode())
    assert leaf.hex() == entry["leaf_hash"]
    proof = http.get(f"/api/v1/audit/entries/{got['log_index']}/inclusion-proof",
                     params={"tree_size": head_doc["tree_size"]}, headers=auditor).json()
    assert proof["root_hash"] == head_doc["root_hash"]
    assert verify.verify_inclusion(leaf, proof["leaf_index"], proof["tree_size"],
                                   [bytes.fromhex(h) for h in proof["proof"]], bytes.fromhex(head_doc["root_hash"]))
    consistency = http.get("/api/v1/audit/consistency-proof", params={"first": 1, "second": 2}, headers=auditor).json()
    assert verify.verify_consistency(1, 2, [bytes.fromhex(h) for h in consistency["proof"]],
                                     bytes.fromhex(consistency["first_root"]), bytes.fromhex(head_doc["root_hash"]))

    page = http.get("/api/v1/audit/entries", params={"actor": str(courier_actor.user_id), "decision": "deny"},
                    headers=auditor).json()
    assert [e["entry"]["reason"] for e in page["items"]] == ["field_not_allowed"]
    no_canary(server.log_text())


def test_the_regulator_names_the_carrier_and_staff_cannot_read_another_carriers_log(
    http: httpx.Client, keyring: Keyring, tenant: Tenant, other_tenant: Tenant
) -> None:
    officer = tenant.login(http, Role.HQ_SECURITY)
    http.post("/api/v1/reveals", headers=officer, json={
        "subject": f"shipment:{tenant.shipment(keyring)}", "fields": ["sender_name"], "purpose": "investigation"})
    regulator = tenant.login(http, Role.REGULATOR)
    assert http.get("/api/v1/audit/entries", headers=regulator).json()["code"] == "carrier_required"
    page = http.get("/api/v1/audit/entries", params={"carrier": tenant.slug}, headers=regulator)
    assert page.status_code == 200 and page.json()["items"][0]["entry"]["reason"] == "case_required"
    r = http.get("/api/v1/audit/entries", params={"carrier": other_tenant.slug}, headers=officer)
    assert (r.status_code, r.json()["code"]) == (404, "carrier_unknown")
    # The regulator reveals nothing: the gate is for a carrier's own staff.
    assert http.post("/api/v1/reveals", headers=regulator, json={
        "subject": f"shipment:{uuid.uuid4()}", "fields": ["sender_name"], "purpose": "investigation"}).status_code == 403


def test_cases_unlock_hq_security_and_rate_alerts_reach_it(
    http: httpx.Client, keyring: Keyring, tenant: Tenant
) -> None:
    officer = tenant.login(http, Role.HQ_SECURITY)
    case = http.post("/api/v1/audit/cases", headers=officer, json={"reference": "SEC-77", "summary": "leak report"})
    assert case.status_code == 201, case.text
    shipment = tenant.shipment(keyring)
    r = http.post("/api/v1/reveals", headers=officer, json={
        "subject": f"shipment:{shipment}", "fields": ["recipient_phone"], "purpose": "investigation",
        "case_id": case.json()["id"]})
    assert r.status_code == 200 and r.json()["fields"]["recipient_phone"] == CANARY.recipient_phone

    courier = terminal_login(http, tenant)
    tenant.assign(shipment, tenant.actor(Role.COURIER), Task.DELIVERY)
    body = {"subject": f"shipment:{shipment}", "fields": ["recipient_address"], "purpose": "delivery"}
    codes = [http.post("/api/v1/reveals", json=body, headers=courier).status_code for _ in range(10)]
    assert codes == [200] * 8 + [403] * 2
    assert http.get("/api/v1/alerts", headers=courier).status_code == 403
    alerts = http.get("/api/v1/alerts", headers=officer).json()
    assert [a["kind"] for a in alerts] == ["rate_exceeded"]
    acked = http.post(f"/api/v1/alerts/{alerts[0]['id']}/acknowledge", headers=officer).json()
    assert acked["acknowledged_at"] is not None
    assert http.get("/api/v1/alerts", headers=officer).json() == []


def test_an_admin_edits_the_policy_over_http(http: httpx.Client, keyring: Keyring, tenant: Tenant) -> None:
    admin = tenant.login(http, Role.ADMIN)
    current = http.get("/api/v1/audit/policy", headers=admin).json()
    assert current["source"] == "default"
    bad = {"rules": [{"role": "courier", "purpose": "delivery", "scope": "assigned", "fields": ["recipient_phone"]}]}
    r = http.put("/api/v1/audit/policy", json=bad, headers=admin)
    assert r.status_code == 422 and r.json()["errors"][0] == {
        "pointer": "/rules/0/fields", "code": "phone_not_for_terminal",
        "detail": "A courier's terminal never receives a phone number: it calls a virtual number."}
    assert http.get("/api/v1/audit/policy", headers=admin).json()["source"] == "default"  # nothing written
    stricter = {"rules": [r for r in current["rules"] if r["role"] != "enterprise"], "limits": current["limits"]}
    r = http.put("/api/v1/audit/policy", json=stricter, headers=admin)
    assert r.status_code == 200 and r.json()["source"] == "carrier"
    shop = tenant.login(http, Role.ENTERPRISE)
    ours = tenant.shipment(keyring, customer=tenant.actor(Role.ENTERPRISE).user_id)
    refused = http.post("/api/v1/reveals", headers=shop, json={
        "subject": f"shipment:{ours}", "fields": ["recipient_name"], "purpose": "customer_service"})
    assert refused.json()["reason"] == "role_not_allowed"
    courier = terminal_login(http, tenant)
    assert http.put("/api/v1/audit/policy", json=stricter, headers=courier).status_code == 403
    assert http.delete("/api/v1/audit/policy", headers=admin).json()["source"] == "default"


def test_managers_assign_and_couriers_see_their_tasks(http: httpx.Client, keyring: Keyring, tenant: Tenant) -> None:
    manager = tenant.login(http, Role.STATION_MANAGER)
    courier = terminal_login(http, tenant)
    courier_id = str(tenant.actor(Role.COURIER).user_id)
    shipment = tenant.shipment(keyring)
    r = http.post(f"/api/v1/shipments/{shipment}/assignments", headers=manager,
                  json={"courier_id": courier_id, "task": "delivery"})
    assert r.status_code == 201, r.text
    mine = http.get("/api/v1/assignments", headers=courier).json()
    assert [(a["shipment_id"], a["task"]) for a in mine] == [(str(shipment), "delivery")]
    other_station_courier = str(tenant.actor(Role.COURIER, station=1).user_id)
    r = http.post(f"/api/v1/shipments/{shipment}/assignments", headers=manager,
                  json={"courier_id": other_station_courier, "task": "pickup"})
    assert (r.status_code, r.json()["code"]) == (422, "courier_of_other_station")
    closed = http.post(f"/api/v1/assignments/{mine[0]['id']}/close", headers=courier).json()
    assert closed["closed_at"] is not None
    assert http.get("/api/v1/assignments", headers=courier).json() == []


@pytest.mark.parametrize("body, code", [
    ({"subject": "nope", "fields": ["recipient_name"], "purpose": "delivery"}, "subject_format"),
    ({"subject": f"shipment:{uuid.uuid4()}", "fields": ["recipient_ssn"], "purpose": "delivery"}, "field_unknown"),
    ({"subject": f"shipment:{uuid.uuid4()}", "fields": [], "purpose": "delivery"}, "validation_failed"),
])
def test_malformed_reveals_are_422_and_not_logged(http: httpx.Client, tenant: Tenant, body: dict, code: str) -> None:
    courier = terminal_login(http, tenant)
    r = http.post("/api/v1/reveals", json=body, headers=courier)
    assert (r.status_code, r.json()["code"]) == (422, code)
    officer = tenant.login(http, Role.HQ_SECURITY)
    assert http.get("/api/v1/audit/entries", headers=officer).json()["items"] == []
