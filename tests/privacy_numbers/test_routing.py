"""The telephony provider's webhooks, a courier's view of the calls and the pool admin, over real HTTP
against the platform in its own process: a signed call to a live pair connects to the recipient's real
number through the gate (and is logged); anything unsigned, stale or forged is refused with nothing
logged; a delivered parcel's pair stops routing after its grace period; call records are stored once
and a courier sees outcomes, never a number."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
import pytest
from sqlalchemy import Engine, func, select, update

from parcelguard.audit.models import AuditEntry
from parcelguard.core import db
from parcelguard.core.auth import Role
from parcelguard.core.clock import now
from parcelguard.core.errors import Invalid
from parcelguard.crypto.keyring import Keyring
from parcelguard.privacy_numbers import service
from parcelguard.privacy_numbers.models import CallRecord, NumberBinding, PrivacyNumber, ProviderSecret
from parcelguard.shipments.service import Task
from tests.privacy_numbers.pool import bind, make_shipments, new_number, post_signed, secret_of
from tests.servers import LiveServer
from tests.tenants import CANARY, Tenant, writing

ROUTE = "/api/v1/privacy-numbers/route"
RECORDS = "/api/v1/privacy-numbers/call-records"
POOL = "/api/v1/privacy-numbers/pool"
CALLER = "+8613600001111"  # the person calling: never stored, never logged


@dataclass
class Bound:
    number: str
    extension: str
    shipment: uuid.UUID
    secret: str

    def call(self, **changes: object) -> dict[str, object]:
        return {"called": self.number, "extension": self.extension, "caller": CALLER,
                "call_id": f"c-{uuid.uuid4().hex[:12]}", **changes}


@pytest.fixture
def bound(http: httpx.Client, engine: Engine, keyring: Keyring, tenant: Tenant) -> Bound:
    """A pool of one number (added by the carrier's admin over HTTP) and a shipment bound to it."""
    number = new_number()
    r = http.post(POOL, json={"numbers": [number]}, headers=tenant.login(http, Role.ADMIN))
    assert r.status_code == 201, r.text
    shipment = tenant.shipment(keyring)
    binding = bind(engine, tenant, [shipment])[shipment]
    with engine.begin() as conn:  # taken in an hour ago
        conn.execute(update(NumberBinding).where(NumberBinding.shipment_id == shipment)
                     .values(bound_at=now() - timedelta(hours=1)))
    return Bound(binding.number, binding.extension, shipment, secret_of(engine, keyring, tenant))


def gate_entries(engine: Engine, tenant: Tenant) -> list[tuple[str, str, str]]:
    """The gate's decisions on the tenant's shipments (the admin's pool changes are log entries too)."""
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(  # type: ignore[misc]
            select(AuditEntry.subject, AuditEntry.purpose, AuditEntry.decision)
            .where(AuditEntry.carrier_id == tenant.carrier_id, AuditEntry.subject.startswith("shipment:"))
            .order_by(AuditEntry.idx))]


def digits_of(number: str) -> list[str]:
    """Ways a number could show up in a text: E.164, national, and its last 8 digits."""
    national = number.removeprefix("+86")
    return [number, number.lstrip("+"), national, national[-8:]]


def test_a_signed_call_to_a_live_pair_connects_to_the_recipients_number_through_the_gate(
    http: httpx.Client, server: LiveServer, engine: Engine, tenant: Tenant, bound: Bound
) -> None:
    r = post_signed(http, ROUTE, bound.call(), bound.secret)
    assert r.status_code == 200, r.text
    answer = r.json()
    assert (answer["action"], answer["target"], answer["expires_at"]) == ("connect", CANARY.recipient_phone, None)
    assert uuid.UUID(answer["binding"])
    # The gate logged the reveal, as the carrier's telephony service account, for call routing.
    assert gate_entries(engine, tenant) == [(f"shipment:{bound.shipment}", "call_routing", "allow")]
    auditor = tenant.login(http, Role.AUDITOR)
    entries = http.get("/api/v1/audit/entries", params={"purpose": "call_routing"}, headers=auditor).json()["items"]
    [entry] = [e["entry"] for e in entries]
    assert (entry["role"], entry["fields"], entry["decision"]) == ("telephony", ["recipient_phone"], "allow")
    # The service account cannot sign in, whatever password is tried.
    account = f"telephony.{tenant.carrier_id.hex}"
    assert http.post("/api/v1/auth/token", data={"username": account, "password": "correct horse battery"}
                     ).json()["code"] == "login_failed"
    # The caller's number went nowhere: not in the log, not in the server's log.
    assert not any(d in str(entries) for d in digits_of(CALLER))
    assert not any(d in server.wait_for_log(ROUTE) for d in digits_of(CALLER) + digits_of(CANARY.recipient_phone))


@pytest.mark.parametrize("forgery", ["wrong_secret", "stale", "future", "missing", "tampered", "unknown_number",
                                     "garbage_header"])
def test_an_unsigned_stale_or_forged_request_is_refused_and_nothing_is_logged(
    http: httpx.Client, engine: Engine, tenant: Tenant, bound: Bound, forgery: str
) -> None:
    body = bound.call()
    r = {
        "wrong_secret": lambda: post_signed(http, ROUTE, body, "00" * 32),
        "stale": lambda: post_signed(http, ROUTE, body, bound.secret, timestamp=int(time.time()) - 301),
        "future": lambda: post_signed(http, ROUTE, body, bound.secret, timestamp=int(time.time()) + 301),
        "missing": lambda: post_signed(http, ROUTE, body, None),
        "tampered": lambda: post_signed(http, ROUTE, body, bound.secret, signed_body=json.dumps(
            {**body, "extension": f"{(int(bound.extension) + 1) % 10000:04d}"}).encode()),
        "unknown_number": lambda: post_signed(http, ROUTE, {**body, "called": new_number()}, bound.secret),
        "garbage_header": lambda: http.post(ROUTE, json=body, headers={service.SIGNATURE_HEADER: "v1=zz,t=x"}),
    }[forgery]()
    assert r.status_code == 401, r.text
    assert r.json()["code"] == "signature_invalid"
    assert r.headers["content-type"] == "application/problem+json"
    assert CANARY.recipient_phone not in r.text
    assert gate_entries(engine, tenant) == []
    records = post_signed(http, RECORDS, {"call_id": "forged", "called": bound.number, "extension": bound.extension,
                                          "started_at": now().isoformat(), "outcome": "answered"}, "00" * 32)
    assert records.status_code == 401
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(CallRecord)
                           .where(CallRecord.carrier_id == tenant.carrier_id)) == 0


def test_a_pair_no_shipment_holds_is_binding_unknown(http: httpx.Client, engine: Engine, tenant: Tenant,
                                                     bound: Bound) -> None:
    other = f"{(int(bound.extension) + 1) % service.EXTENSIONS:04d}"
    r = post_signed(http, ROUTE, bound.call(extension=other), bound.secret)
    assert r.status_code == 404, r.text
    assert r.json()["code"] == "binding_unknown"
    # A malformed extension is the provider's mistake, answered after the signature.
    bad = post_signed(http, ROUTE, bound.call(extension="12"), bound.secret)
    assert (bad.status_code, bad.json()["code"]) == (422, "validation_failed")
    assert bad.json()["errors"][0]["pointer"] == "/extension"
    assert gate_entries(engine, tenant) == []


def test_a_delivered_parcels_pair_routes_through_the_grace_period_then_is_binding_expired(
    http: httpx.Client, engine: Engine, keyring: Keyring, tenant: Tenant, bound: Bound
) -> None:
    delivered = now()
    with writing(engine) as s:
        service.start_grace(db_session=s, carrier_id=tenant.carrier_id, shipment_id=bound.shipment,
                            delivered_at=delivered, grace=timedelta(hours=48))
    r = post_signed(http, ROUTE, bound.call(), bound.secret)
    assert r.status_code == 200, r.text
    assert r.json()["expires_at"] is not None and r.json()["target"] == CANARY.recipient_phone
    # Two days later (the binding's expiry moved into the past): the pair no longer routes.
    with engine.begin() as conn:
        conn.execute(update(NumberBinding).where(NumberBinding.shipment_id == bound.shipment)
                     .values(expires_at=now() - timedelta(seconds=1)))
    gone = post_signed(http, ROUTE, bound.call(), bound.secret)
    assert (gone.status_code, gone.json()["code"]) == (410, "binding_expired")
    assert CANARY.recipient_phone not in gone.text
    # Released by the next allocation that sweeps (one per RELEASE_EVERY seconds and process: the pause
    # is skipped here), still expired (not unknown) while no one holds the pair again.
    service._last_sweep.clear()
    [newcomer] = bind(engine, tenant, make_shipments(engine, keyring, tenant, 1)).values()
    with engine.connect() as conn:
        assert conn.scalar(select(NumberBinding.released_at).where(NumberBinding.shipment_id == bound.shipment))
    again = post_signed(http, ROUTE, bound.call(), bound.secret)
    drew_it = newcomer.extension == bound.extension  # 1 in 9,999: the pair went to the new parcel
    assert (again.status_code, again.json().get("code")) == ((200, None) if drew_it else (410, "binding_expired"))
    assert [e[1:] for e in gate_entries(engine, tenant)] == [("call_routing", "allow")] * (2 if drew_it else 1)


def test_a_call_record_is_stored_once_and_the_courier_sees_outcomes_but_no_number(
    http: httpx.Client, engine: Engine, keyring: Keyring, tenant: Tenant, other_tenant: Tenant, bound: Bound
) -> None:
    started = now() - timedelta(minutes=5)
    record = {"call_id": "prov-0001", "called": bound.number, "extension": bound.extension,
              "started_at": started.isoformat(), "ended_at": (started + timedelta(seconds=42)).isoformat(),
              "outcome": "answered"}
    first = post_signed(http, RECORDS, record, bound.secret)
    assert (first.status_code, first.json()) == (201, {"stored": True})
    again = post_signed(http, RECORDS, {**record, "outcome": "busy"}, bound.secret)
    assert (again.status_code, again.json()) == (200, {"stored": False})
    missed = {**record, "call_id": "prov-0002", "started_at": (started + timedelta(minutes=1)).isoformat(),
              "ended_at": None, "outcome": "no_answer"}
    assert post_signed(http, RECORDS, missed, bound.secret).status_code == 201
    # A record for a pair no shipment held is kept, with no shipment.
    stray = {**record, "call_id": "prov-0003", "extension": f"{(int(bound.extension) + 1) % 10000:04d}"}
    assert post_signed(http, RECORDS, stray, bound.secret).status_code == 201
    bad = post_signed(http, RECORDS, {**record, "call_id": "prov-0004", "outcome": "hung_up"}, bound.secret)
    assert (bad.status_code, bad.json()["errors"][0]["pointer"]) == (422, "/outcome")
    with engine.connect() as conn:
        rows = conn.execute(select(CallRecord.provider_call_id, CallRecord.shipment_id, CallRecord.outcome)
                            .where(CallRecord.carrier_id == tenant.carrier_id)
                            .order_by(CallRecord.provider_call_id)).all()
    assert [tuple(r) for r in rows] == [("prov-0001", bound.shipment, "answered"),
                                        ("prov-0002", bound.shipment, "no_answer"), ("prov-0003", None, "answered")]

    courier = tenant.actor(Role.COURIER)
    tenant.assign(bound.shipment, courier, Task.DELIVERY)
    r = http.get(f"/api/v1/shipments/{bound.shipment}/calls", headers=tenant.login(http, Role.COURIER))
    assert r.status_code == 200, r.text
    calls = r.json()["calls"]
    assert [(c["outcome"], c["duration_s"]) for c in calls] == [("answered", 42), ("no_answer", None)]
    assert set(calls[0]) == {"started_at", "ended_at", "duration_s", "outcome"}
    for number in (bound.number, CANARY.recipient_phone, CANARY.sender_phone, CALLER):
        assert not any(d in r.text for d in digits_of(number))
    # The destination station's manager sees them; anyone else finds no such shipment.
    manager = http.get(f"/api/v1/shipments/{bound.shipment}/calls",
                       headers=tenant.login(http, Role.STATION_MANAGER, station=1))
    assert manager.status_code == 200 and manager.json()["calls"] == calls
    for headers in (tenant.login(http, Role.COURIER, n=1), tenant.login(http, Role.HQ_SECURITY),
                    other_tenant.login(http, Role.STATION_MANAGER)):
        refused = http.get(f"/api/v1/shipments/{bound.shipment}/calls", headers=headers)
        assert (refused.status_code, refused.json()["code"]) == (404, "shipment_unknown")


def test_a_late_record_finds_the_shipment_that_held_the_pair_when_the_call_started(
    http: httpx.Client, engine: Engine, keyring: Keyring, tenant: Tenant, bound: Bound
) -> None:
    started = now() - timedelta(minutes=1)
    with engine.begin() as conn:  # delivered, past its grace period and released since the call
        conn.execute(update(NumberBinding).where(NumberBinding.shipment_id == bound.shipment)
                     .values(expires_at=now() - timedelta(seconds=2), released_at=now() - timedelta(seconds=1)))
    r = post_signed(http, RECORDS, {"call_id": "late-1", "called": bound.number, "extension": bound.extension,
                                    "started_at": started.isoformat(), "outcome": "powered_off"}, bound.secret)
    assert r.status_code == 201, r.text
    with db.make_sessionmaker(engine)() as s:
        [outcome] = service.call_outcomes(db_session=s, carrier_id=tenant.carrier_id, shipment_id=bound.shipment)
    assert (outcome.outcome, outcome.duration_s, outcome.ended_at) == ("powered_off", None, None)


def test_the_admin_adds_numbers_all_or_none_with_an_error_per_item(
    http: httpx.Client, engine: Engine, tenant: Tenant, other_tenant: Tenant
) -> None:
    admin = tenant.login(http, Role.ADMIN)
    theirs = new_number()
    assert http.post(POOL, json={"numbers": [theirs]}, headers=other_tenant.login(http, Role.ADMIN)).status_code == 201
    good = new_number()
    r = http.post(POOL, json={"numbers": [good, "call me", good.removeprefix("+86"), theirs]}, headers=admin)
    assert r.status_code == 422, r.text
    problem = r.json()
    assert problem["code"] == "numbers_invalid"
    assert [(e["pointer"], e["code"]) for e in problem["errors"]] == [
        ("/numbers/1", "number_format"), ("/numbers/2", "number_duplicate"), ("/numbers/3", "number_taken")]
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(PrivacyNumber)
                           .where(PrivacyNumber.carrier_id == tenant.carrier_id)) == 0
    # The good one alone goes in, in national form too; again is no error and adds nothing.
    added = http.post(POOL, json={"numbers": [good.removeprefix("+86")]}, headers=admin)
    assert added.status_code == 201, added.text
    assert added.json()["added"] == [good]
    assert http.post(POOL, json={"numbers": [good]}, headers=admin).json()["added"] == []
    pool = http.get(POOL, headers=admin).json()["numbers"]
    assert [(n["number"], n["active"], n["live_bindings"], n["free"]) for n in pool] == [(good, True, 0, 10_000)]
    # The addition, and only it (not the refused request, not the repeat), is an entry of the audit log.
    entries = http.get("/api/v1/audit/entries", params={"subject": "privacy_numbers:pool"},
                       headers=tenant.login(http, Role.AUDITOR)).json()["items"]
    assert [(e["entry"]["purpose"], e["entry"]["role"]) for e in entries] == [("pool_add", "admin")]
    # Only the carrier's admin manages the pool.
    assert http.get(POOL, headers=tenant.login(http, Role.HQ_SECURITY)).status_code == 403
    assert http.post(POOL, json={"numbers": [new_number()]},
                     headers=tenant.login(http, Role.COURIER)).status_code == 403


SECRET = "/api/v1/privacy-numbers/provider-secret"


def secret_entries(engine: Engine, tenant: Tenant) -> list[str]:
    with engine.connect() as conn:
        return list(conn.scalars(select(AuditEntry.purpose).where(
            AuditEntry.carrier_id == tenant.carrier_id, AuditEntry.subject == "privacy_numbers:provider_secret")))


def test_a_rotated_secret_works_at_once_and_the_old_one_only_for_the_overlap(
    http: httpx.Client, engine: Engine, keyring: Keyring, tenant: Tenant, bound: Bound
) -> None:
    admin = tenant.login(http, Role.ADMIN)
    status = http.get(SECRET, headers=admin).json()
    assert status == {"current": {"generation": 0, "created_at": None, "retires_at": None}, "previous": None}
    r = http.post(f"{SECRET}:rotate", json={"overlap_hours": 2}, headers=admin)
    assert r.status_code == 201, r.text
    assert r.headers["cache-control"] == "no-store"
    rotated = r.json()
    new = rotated["secret"]
    assert len(new) == 64 and new != bound.secret and new == secret_of(engine, keyring, tenant)
    assert (rotated["current"]["generation"], rotated["previous"]["generation"]) == (1, 0)
    assert rotated["previous"]["created_at"] is None  # older than rotation: its start is not known
    made_at = datetime.fromisoformat(rotated["current"]["created_at"])
    assert datetime.fromisoformat(rotated["previous"]["retires_at"]) - made_at == timedelta(hours=2)
    assert "secret" not in http.get(SECRET, headers=admin).json()  # shown once, when made
    # Both route during the overlap: the provider switches without dropping a call.
    for secret in (bound.secret, new):
        assert post_signed(http, ROUTE, bound.call(), secret).status_code == 200
    # The overlap over, only the new one is accepted.
    with db.make_sessionmaker(engine)() as s:
        later = now() + timedelta(hours=2, seconds=1)
        assert [g.generation for g in service.provider_secrets(db_session=s, keyring=keyring,
                                                               carrier_id=tenant.carrier_id, at=later)] == [1]
    # A leak: rotate with no overlap, and every older secret stops at once.
    leaked = http.post(f"{SECRET}:rotate", json={"overlap_hours": 0}, headers=admin).json()
    assert (leaked["current"]["generation"], leaked["previous"]) == (2, None)
    for secret, code in ((bound.secret, 401), (new, 401), (leaked["secret"], 200)):
        r = post_signed(http, ROUTE, bound.call(), secret)
        assert r.status_code == code, r.text
        if code == 401:
            assert r.json()["code"] == "signature_invalid"
    assert secret_entries(engine, tenant) == ["secret_rotate", "secret_rotate"]


def test_only_the_admin_rotates_within_a_week_of_overlap_and_a_refusal_writes_nothing(
    http: httpx.Client, engine: Engine, keyring: Keyring, tenant: Tenant, bound: Bound
) -> None:
    for role in (Role.HQ_SECURITY, Role.STATION_MANAGER, Role.AUDITOR):
        headers = tenant.login(http, role)
        assert http.post(f"{SECRET}:rotate", json={}, headers=headers).status_code == 403
        assert http.get(SECRET, headers=headers).status_code == 403
    admin = tenant.login(http, Role.ADMIN)
    for body, field in (({"overlap_hours": 169}, "/overlap_hours"), ({"overlap_hours": -1}, "/overlap_hours"),
                        ({"overlap": 3}, "/overlap")):
        r = http.post(f"{SECRET}:rotate", json=body, headers=admin)
        assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
        assert [e["pointer"] for e in r.json()["errors"]] == [field]
    assert secret_of(engine, keyring, tenant) == bound.secret
    assert secret_entries(engine, tenant) == []
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(ProviderSecret)
                           .where(ProviderSecret.carrier_id == tenant.carrier_id)) == 0
    # The refused rotations changed nothing: the provider's secret still routes.
    assert post_signed(http, ROUTE, bound.call(), bound.secret).status_code == 200


def test_rotations_keep_at_most_two_secrets_working(engine: Engine, keyring: Keyring, tenant: Tenant) -> None:
    made = []
    for hours in (24, 24, 1, 168):
        with writing(engine) as s:
            made.append(service.rotate_provider_secret(db_session=s, keyring=keyring, carrier_id=tenant.carrier_id,
                                                       overlap=timedelta(hours=hours)))
        with db.make_sessionmaker(engine)() as s:
            working = service.provider_secrets(db_session=s, keyring=keyring, carrier_id=tenant.carrier_id)
        assert [g.generation for g in working] == [made[-1].generation, made[-1].generation - 1]
        assert working[0].secret == made[-1].secret
    assert [g.generation for g in made] == [1, 2, 3, 4]
    assert len({g.secret for g in made}) == 4
    with writing(engine) as s, pytest.raises(Invalid) as caught:
        service.rotate_provider_secret(db_session=s, keyring=keyring, carrier_id=tenant.carrier_id,
                                       overlap=timedelta(days=8))
    assert (caught.value.code, caught.value.errors[0].pointer) == ("overlap_range", "/overlap_hours")
