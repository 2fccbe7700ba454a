"""Staff obligations gate the reveals (issue 14), on both engines: an account without a current
confidentiality agreement and training reveals nothing (refused and logged, `obligations_missing`); a
franchisee's staff are bounded by their organisation's security clause (its purposes, its expiry); the
officers see who is due; recording is logged, and bad input writes nothing."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select, update

from parcelguard.accounts import flows as account_flows
from parcelguard.accounts import obligations
from parcelguard.accounts.models import Carrier, PartnerOrganisation, StaffObligation
from parcelguard.accounts.standing import today
from parcelguard.audit.models import AuditEntry
from parcelguard.core.auth import Role
from parcelguard.core.errors import Invalid
from parcelguard.crypto.keyring import Keyring
from parcelguard.shipments.service import Task
from tests.audit.test_gate import RECIPIENT, denied, entries, on_terminal, reveal
from tests.tenants import Tenant, writing


def _terms(days: int = 365) -> obligations.Terms:
    return obligations.Terms("2026-v1", today(), today() + timedelta(days=days))


def _record(engine: Engine, keyring: Keyring, tenant: Tenant, user_id: uuid.UUID, kind: str,
            terms: obligations.Terms | None = None) -> None:
    with writing(engine) as s:
        obligations.record(db_session=s, keyring=keyring, actor=tenant.actor(Role.HQ_SECURITY), user_id=user_id,
                           kind=kind, terms=terms or _terms())


def test_a_reveal_without_a_current_agreement_and_training_is_refused_and_logged(
    engine: Engine, keyring: Keyring, tenant: Tenant
) -> None:
    tenant.obligations = False  # the accounts below start with nothing on record
    courier = on_terminal(tenant.actor(Role.COURIER))
    shipment = tenant.shipment(keyring)
    tenant.assign(shipment, courier, Task.DELIVERY)
    assert denied(engine, keyring, courier, shipment, RECIPIENT, "delivery") == "obligations_missing"
    _record(engine, keyring, tenant, courier.user_id, "confidentiality")
    assert denied(engine, keyring, courier, shipment, RECIPIENT, "delivery") == "obligations_missing"
    _record(engine, keyring, tenant, courier.user_id, "training")
    assert reveal(engine, keyring, courier, shipment, RECIPIENT, "delivery").fields
    # each record is an entry of the log, naming the account by id and the kind as its purpose
    recorded = [e for e in entries(engine, tenant.carrier_id) if e["purpose"].startswith("obligation_")]
    assert [(e["subject"], e["purpose"]) for e in recorded] == [
        (f"user:{courier.user_id}", "obligation_confidentiality"), (f"user:{courier.user_id}", "obligation_training")]

    # an agreement that ran out yesterday is missing; the newest on record counts
    with writing(engine) as s:
        s.execute(update(StaffObligation).where(StaffObligation.user_id == courier.user_id,
                                                StaffObligation.kind == "training")
                  .values(signed_on=today() - timedelta(days=400), expires_on=today() - timedelta(days=1)))
    assert denied(engine, keyring, courier, shipment, RECIPIENT, "delivery") == "obligations_missing"
    _record(engine, keyring, tenant, courier.user_id, "training", obligations.Terms("2026-v2", today(), today()))
    assert reveal(engine, keyring, courier, shipment, RECIPIENT, "delivery").fields  # in force through today


def test_a_carrier_with_the_requirement_off_gates_on_the_policy_alone(
    engine: Engine, keyring: Keyring, tenant: Tenant
) -> None:
    """A carrier made before 0013 starts with it off, so an upgrade stops no delivery."""
    tenant.obligations = False
    with writing(engine) as s:
        s.execute(update(Carrier).where(Carrier.id == tenant.carrier_id).values(obligations_required=False))
    courier = on_terminal(tenant.actor(Role.COURIER))
    shipment = tenant.shipment(keyring)
    tenant.assign(shipment, courier, Task.DELIVERY)
    assert reveal(engine, keyring, courier, shipment, RECIPIENT, "delivery").fields

    # its admin turns the requirement on once the documents are on record: from then on it gates, and the
    # change is an entry of the log
    admin = tenant.actor(Role.ADMIN)
    with writing(engine) as s:
        settings = account_flows.change_carrier_settings(db_session=s, keyring=keyring, actor=admin,
                                                         obligations_required=True)
    assert settings.obligations_required is True
    assert denied(engine, keyring, courier, shipment, RECIPIENT, "delivery") == "obligations_missing"
    assert [(e["subject"], e["purpose"]) for e in entries(engine, tenant.carrier_id)
            if e["subject"].startswith("setting:")] == [("setting:obligations_required", "setting_on")]


def test_a_franchisees_staff_are_bound_by_its_clause(engine: Engine, keyring: Keyring, tenant: Tenant) -> None:
    courier = on_terminal(tenant.actor(Role.COURIER))
    officer = tenant.actor(Role.HQ_SECURITY)
    shipment = tenant.shipment(keyring)
    tenant.assign(shipment, courier, Task.DELIVERY)
    with writing(engine) as s:
        org = obligations.add_organisation(db_session=s, keyring=keyring, actor=officer, kind="franchisee",
                                           name="  浦东  加盟网点 ", terms=_terms(), scope=["pickup"])
        org_id = org.id
        assert org.name == "浦东 加盟网点"
        obligations.attach(db_session=s, keyring=keyring, actor=officer, user_id=courier.user_id,
                           organisation_id=org_id)
    assert denied(engine, keyring, courier, shipment, RECIPIENT, "delivery") == "clause_scope"
    with writing(engine) as s:
        obligations.renew_clause(db_session=s, keyring=keyring, actor=officer, organisation_id=org_id,
                                 terms=_terms(), scope=["pickup", "delivery"])
    assert reveal(engine, keyring, courier, shipment, RECIPIENT, "delivery").fields
    with writing(engine) as s:  # the clause ran out: its staff reveal nothing
        s.execute(update(PartnerOrganisation).where(PartnerOrganisation.id == org_id).values(
            clause_signed_on=date(2024, 1, 1), clause_expires_on=today() - timedelta(days=1)))
    assert denied(engine, keyring, courier, shipment, RECIPIENT, "delivery") == "obligations_missing"
    with writing(engine) as s:
        [standing] = obligations.due(db_session=s, actor=officer)
    assert standing.user_id == courier.user_id and standing.missing == ("clause",)


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2030, 1, 1)), st.integers(-400, 3000))
def test_terms_are_refused_field_by_field(signed: date, days: int) -> None:
    terms = obligations.Terms("v1", signed, signed + timedelta(days=days))
    expected = {code for code, bad in (("signed_in_future", signed > today()),
                                       ("expires_before_signed", days < 0),
                                       ("term_too_long", days >= 0 and timedelta(days=days) > obligations.MAX_TERM))
                if bad}
    try:
        obligations.check_terms(terms)
    except Invalid as problem:
        assert {e.code for e in problem.errors} == expected and expected
    else:
        assert not expected


# -- over HTTP -----------------------------------------------------------------------------------------------

def _count(engine: Engine, tenant: Tenant) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(StaffObligation)
                               .where(StaffObligation.carrier_id == tenant.carrier_id)) or 0)


def test_officers_see_who_is_due_and_record_over_the_api(http: httpx.Client, engine: Engine, tenant: Tenant) -> None:
    tenant.obligations = False
    courier = tenant.account(Role.COURIER)
    elsewhere = tenant.account(Role.COURIER, station=1)
    officer = tenant.login(http, Role.HQ_SECURITY)
    due = http.get("/api/v1/staff/obligations/due", headers=officer).json()
    assert {d["username"] for d in due} >= {courier.username, elsewhere.username}
    assert next(d for d in due if d["username"] == courier.username)["missing"] == ["confidentiality", "training"]

    # bad input: every field named, nothing written
    before = _count(engine, tenant)
    bad = http.post(f"/api/v1/staff/{courier.user_id}/obligations", headers=officer, json={
        "kind": "confidentiality", "version": "第一版", "signed_on": str(today() + timedelta(days=1)),
        "expires_on": str(today())})
    assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json"
    assert {e["pointer"] for e in bad.json()["errors"]} == {"/version", "/signed_on", "/expires_on"}
    assert http.post(f"/api/v1/staff/{courier.user_id}/obligations", headers=officer, json={
        "kind": "loyalty", "version": "v1", "signed_on": str(today()), "expires_on": str(today())}).status_code == 422
    assert _count(engine, tenant) == before

    for kind in ("confidentiality", "training"):
        done = http.post(f"/api/v1/staff/{courier.user_id}/obligations", headers=officer, json={
            "kind": kind, "version": "2026-v1", "signed_on": str(today()),
            "expires_on": str(today() + timedelta(days=365))})
        assert done.status_code == 201, done.text
    assert done.json()["current"] is True and done.json()["missing"] == []
    due = http.get("/api/v1/staff/obligations/due", headers=officer).json()
    assert courier.username not in {d["username"] for d in due}
    # ... unless it runs out within the days asked about
    far = http.get("/api/v1/staff/obligations/due", params={"within_days": 366}, headers=officer).json()
    assert next(d for d in far if d["username"] == courier.username)["due_on"] == str(today() + timedelta(days=365))

    # a station manager sees and records for the station's own field staff only
    manager = tenant.login(http, Role.STATION_MANAGER)
    mine = http.get("/api/v1/staff/obligations/due", headers=manager).json()
    assert elsewhere.username not in {d["username"] for d in mine}
    refused = http.post(f"/api/v1/staff/{elsewhere.user_id}/obligations", headers=manager, json={
        "kind": "training", "version": "v1", "signed_on": str(today()), "expires_on": str(today())})
    assert (refused.status_code, refused.json()["code"]) == (404, "user_unknown")
    # a courier keeps no one's obligations
    tenant.obligations = True
    assert http.get("/api/v1/staff/obligations/due",
                    headers=tenant.login(http, Role.SORTER)).json()["code"] == "role_not_allowed"


def test_organisations_over_the_api(http: httpx.Client, engine: Engine, tenant: Tenant) -> None:
    officer = tenant.login(http, Role.HQ_SECURITY)
    body = {"kind": "third_party", "name": "录单外包公司", "scope": ["pickup"],
            "clause": {"version": "SC-2026", "signed_on": str(today()), "expires_on": str(today() + timedelta(days=90))}}
    made = http.post("/api/v1/organisations", headers=officer, json=body)
    assert made.status_code == 201, made.text
    again = http.post("/api/v1/organisations", headers=officer, json=body)
    assert (again.status_code, again.json()["code"]) == (409, "organisation_exists")
    with engine.connect() as conn:
        logged = conn.scalars(select(AuditEntry.subject).where(AuditEntry.carrier_id == tenant.carrier_id,
                                                               AuditEntry.purpose == "organisation_added")).all()
    assert logged == [f"organisation:{made.json()['id']}"]
    bad = http.post("/api/v1/organisations", headers=officer, json={**body, "name": "x", "scope": ["Pick Up"]})
    assert bad.status_code == 422 and {e["pointer"] for e in bad.json()["errors"]} == {"/name", "/scope"}
    courier = tenant.account(Role.COURIER)
    attached = http.put(f"/api/v1/staff/{courier.user_id}/organisation", headers=officer,
                        json={"organisation_id": made.json()["id"]})
    assert attached.json()["clause"]["scope"] == ["pickup"]
    manager = tenant.login(http, Role.STATION_MANAGER)
    assert http.post("/api/v1/organisations", headers=manager, json=body).json()["code"] == "role_not_allowed"


@pytest.mark.parametrize("role", [Role.COURIER, Role.ENTERPRISE])
def test_roles_outside_the_officers_are_refused(http: httpx.Client, tenant: Tenant, role: Role) -> None:
    headers = tenant.login(http, role)
    assert http.get("/api/v1/organisations", headers=headers).json()["code"] == "role_not_allowed"
