"""A carrier's own retention (issue 15) over the API on both engines: the admin sets a class's months within its
minimum (the electronic waybill's 24 months cannot be shortened) and ten years; a bad class or value is refused
naming each and writes nothing; each change is logged; the plan follows the setting."""

from __future__ import annotations

import httpx
from sqlalchemy import Engine

from parcelguard.core.auth import Role
from parcelguard.crypto.keyring import Keyring
from parcelguard.retention import classes
from tests.audit.test_gate import entries
from tests.tenants import Tenant


def test_the_admin_sets_retention_within_the_minimums(http: httpx.Client, engine: Engine, keyring: Keyring,
                                                      tenant: Tenant) -> None:
    admin = tenant.login(http, Role.ADMIN)
    before = http.get("/api/v1/retention/settings", headers=admin).json()
    assert before == {name: c.default_months for name, c in classes.CLASSES.items()}
    bad = http.patch("/api/v1/retention/settings", headers=admin,
                     json={"recipient_contact": 12, "inspection_photo": 3, "nope": 5})
    assert (bad.status_code, bad.json()["code"]) == (422, "retention_invalid")
    assert sorted((e["pointer"], e["code"]) for e in bad.json()["errors"]) == [
        ("/nope", "class_unknown"), ("/recipient_contact", "months_out_of_range")]
    assert http.get("/api/v1/retention/settings", headers=admin).json() == before  # nothing written
    assert http.patch("/api/v1/retention/settings", headers=tenant.login(http, Role.HQ_SECURITY),
                      json={"inspection_photo": 3}).status_code == 403
    changed = http.patch("/api/v1/retention/settings", headers=admin, json={"inspection_photo": 3,
                                                                            "recipient_contact": 36})
    assert changed.status_code == 200, changed.text
    assert (changed.json()["inspection_photo"], changed.json()["recipient_contact"]) == (3, 36)
    assert http.patch("/api/v1/retention/settings", headers=admin, json={"inspection_photo": 3}).status_code == 200
    assert sorted(e["subject"] for e in entries(engine, tenant.carrier_id) if e["purpose"] == "retention_change") == [
        "retention:inspection_photo:3", "retention:recipient_contact:36"]  # the repeat changed nothing
    tenant.shipment(keyring)
    plan = http.get("/api/v1/retention/plan", headers=tenant.login(http, Role.AUDITOR)).json()
    assert {m["data_class"]: m["months"] for m in plan["months"]}[classes.RECIPIENT_CONTACT.name] == 36
