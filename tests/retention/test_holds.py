"""Legal holds (issue 15) on both engines: a parcel held for an open case keeps its data past its classes'
retention while the other parcels of the same month go; once the case's holds are released, the held data goes
too when its own month is due. Holds are placed over the API by HQ security (logged; a bad id writes nothing)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import Engine, func, select

from parcelguard.audit import service as gate
from parcelguard.core import db
from parcelguard.core.auth import Role
from parcelguard.core.clock import now
from parcelguard.crypto.keyring import Keyring
from parcelguard.retention import classes, service
from parcelguard.retention.models import LegalHold
from tests.audit.test_gate import RECIPIENT, entries, reveal
from tests.retention.test_run import LATER, rows_kept_longer
from tests.tenants import CANARY, Tenant


def holds_of(engine: Engine, tenant: Tenant) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(LegalHold)
                               .where(LegalHold.carrier_id == tenant.carrier_id)) or 0)


def run(engine: Engine, keyring: Keyring, tenant: Tenant, later: timedelta) -> list[str]:
    done = service.run(sessionmaker=db.make_sessionmaker(engine), keyring=keyring, carrier_id=tenant.carrier_id,
                       at=now() + later)
    return sorted(r.body["data_class"] for r in done.records)


def test_a_held_parcel_outlives_its_month_until_the_case_releases_it(
    http: httpx.Client, engine: Engine, keyring: Keyring, tenant: Tenant
) -> None:
    held, other = tenant.shipment(keyring), tenant.shipment(keyring)
    rows_kept_longer(engine, keyring, tenant)
    officer = tenant.login(http, Role.HQ_SECURITY)
    case = http.post("/api/v1/audit/cases", headers=officer, json={"reference": f"HOLD-{uuid.uuid4().hex[:6]}",
                                                                   "summary": "fraud complaint"}).json()
    path = f"/api/v1/audit/cases/{case['id']}/holds"
    unknown = http.post(path, headers=officer, json={"shipment_ids": [str(held), str(uuid.uuid4())]})
    assert (unknown.status_code, unknown.json()["code"], unknown.json()["errors"][0]["pointer"]) == (
        422, "shipment_unknown", "/shipment_ids/1")
    assert holds_of(engine, tenant) == 0
    assert http.post(path, headers=tenant.login(http, Role.AUDITOR), json={"shipment_ids": [str(held)]}) \
        .status_code == 403
    placed = http.post(path, headers=officer, json={"shipment_ids": [str(held)]})
    assert placed.status_code == 201, placed.text
    assert [h["shipment_id"] for h in placed.json()] == [str(held)]
    assert http.post(path, headers=officer, json={"shipment_ids": [str(held)]}).json() == []  # held once
    assert [e["purpose"] for e in entries(engine, tenant.carrier_id) if e["subject"].startswith("hold:")] == [
        "legal_hold_place"]

    plan = http.get("/api/v1/retention/plan", headers=tenant.login(http, Role.AUDITOR),
                    params={"at": (now() + LATER).isoformat()}).json()
    hold_month = next(m for m in plan["months"] if m["data_class"] == classes.LEGAL_HOLD.name)
    assert hold_month["held"] is True and hold_month["due"] is False

    assert run(engine, keyring, tenant, LATER) == sorted(
        [classes.RECIPIENT_CONTACT.name, classes.SENDER_CONTACT.name, classes.SENDER_PHONE.name])
    officer_actor = tenant.actor(Role.HQ_SECURITY)
    case_id = uuid.UUID(case["id"])
    assert reveal(engine, keyring, officer_actor, held, RECIPIENT, "investigation", case_id) \
        .fields["recipient_name"] == CANARY.recipient_name
    with pytest.raises(gate.DataDestroyed):
        reveal(engine, keyring, officer_actor, other, RECIPIENT, "investigation", case_id)

    released = http.delete(path, headers=officer)
    assert released.json() == {"released": 1}
    assert run(engine, keyring, tenant, LATER) == [classes.LEGAL_HOLD.name]
    with pytest.raises(gate.DataDestroyed):
        reveal(engine, keyring, officer_actor, held, RECIPIENT, "investigation", case_id)
    assert [e["purpose"] for e in entries(engine, tenant.carrier_id) if e["subject"].startswith("hold:")] == [
        "legal_hold_place", "legal_hold_release"]


def test_a_parcel_whose_data_is_gone_cannot_be_held(http: httpx.Client, engine: Engine, keyring: Keyring,
                                                    tenant: Tenant) -> None:
    shipment = tenant.shipment(keyring)
    rows_kept_longer(engine, keyring, tenant)
    run(engine, keyring, tenant, LATER)
    officer = tenant.login(http, Role.HQ_SECURITY)
    case = http.post("/api/v1/audit/cases", headers=officer, json={"reference": f"LATE-{uuid.uuid4().hex[:6]}",
                                                                   "summary": "too late"}).json()
    late = http.post(f"/api/v1/audit/cases/{case['id']}/holds", headers=officer,
                     json={"shipment_ids": [str(shipment)]})
    assert (late.status_code, late.json()["code"]) == (410, "data_destroyed")
    assert holds_of(engine, tenant) == 0
