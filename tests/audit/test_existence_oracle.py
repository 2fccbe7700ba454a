"""No route tells whether a parcel exists to someone who may not see it (issue 18, "existence oracle").

For every route that takes a shipment id, a waybill number or a label token, a parcel the caller may not
see (another station's, another customer's, one the courier holds no task for, another carrier's) gets
the very answer an unknown one gets: the same status, `code`, `detail`, members and `reason`; only the
request's `instance` and the value of `log_index` differ. Where the gate answers, the log keeps the real
reason for the auditor. A refusal that does not depend on the parcel (role, purpose, fields, case) is
decided before the parcel is looked up, so it too is the same for a known and an unknown one. Over HTTP,
against the platform in its own process, on both engines.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select, update

from parcelguard.core.auth import Role
from parcelguard.core.clock import now
from parcelguard.crypto.keyring import Keyring
from parcelguard.shipments import service as shipments
from parcelguard.shipments.models import Assignment, Shipment
from parcelguard.waybills import service as waybill_service
from tests.tenants import CANARY, Tenant, writing
from tests.waybills.test_label_api import terminal_login

REVEALS = "/api/v1/reveals"
SCANS = "/api/v1/scans"
RESOLVE = "/api/v1/labels:resolve"


def answer(r: httpx.Response) -> dict[str, Any]:
    """All a caller can read from a refusal, but the request's own `instance` and the value of `log_index`."""
    assert r.headers["content-type"] == "application/problem+json", (r.status_code, r.text)
    body = r.json()
    return {"status": r.status_code, "members": sorted(body),
            **{k: v for k, v in body.items() if k not in ("instance", "log_index")}}


def same(unknown: httpx.Response, *others: httpx.Response) -> dict[str, Any]:
    """Assert every answer in `others` is the answer for the unknown parcel; answers it."""
    expected = answer(unknown)
    for n, other in enumerate(others):
        assert answer(other) == expected, f"answer {n} differs from the one for an unknown parcel"
    return expected


def parcel(engine: Engine, keyring: Keyring, tenant: Tenant, *, origin: int = 0, destination: int | None = None,
           customer: uuid.UUID | None = None, numbered: bool = True) -> uuid.UUID:
    """A shipment with canary data, with a waybill number as intake gives one unless `numbered` is False."""
    with writing(engine) as s:
        number = waybill_service.allocate(db_session=s, keyring=keyring, carrier_id=tenant.carrier_id,
                                          prefix=tenant.prefix)[0] if numbered else None
        return shipments.create(
            db_session=s, keyring=keyring, carrier_id=tenant.carrier_id, origin_station_id=tenant.stations[origin],
            destination_station_id=None if destination is None else tenant.stations[destination],
            customer_id=customer, parties=CANARY, waybill_no=number).id


def unused_waybill(engine: Engine, keyring: Keyring, tenant: Tenant) -> str:
    """A genuine waybill number of the carrier (check digit and all) that no shipment holds."""
    with writing(engine) as s:
        return waybill_service.allocate(db_session=s, keyring=keyring, carrier_id=tenant.carrier_id,
                                        prefix=tenant.prefix)[0]


def waybill_of(engine: Engine, shipment_id: uuid.UUID) -> str:
    with engine.connect() as conn:
        number = conn.scalar(select(Shipment.waybill_no).where(Shipment.id == shipment_id))
    assert number
    return number


def token_of(engine: Engine, keyring: Keyring, tenant: Tenant, shipment_id: uuid.UUID | None = None) -> str:
    """A label token the carrier signed: for the shipment's label, or (None) for a label of no shipment."""
    with writing(engine) as s:
        subject = uuid.uuid4() if shipment_id is None else s.scalar(
            select(Shipment.label_subject).where(Shipment.id == shipment_id))
        return waybill_service.label_token(db_session=s, keyring=keyring, carrier_id=tenant.carrier_id,
                                           subject=subject)


def logged(http: httpx.Client, tenant: Tenant, r: httpx.Response) -> dict[str, Any]:
    """The log entry a refusal names, as the carrier's auditor reads it."""
    index = r.json()["log_index"]
    got = http.get(f"/api/v1/audit/entries/{index}", headers=tenant.login(http, Role.AUDITOR))
    assert got.status_code == 200, got.text
    return got.json()["entry"]


@dataclass
class World:
    """Parcels in every relation to a courier and the manager of station 0 (ST-1), and a shop."""

    unknown: uuid.UUID  # no such shipment at all
    foreign: uuid.UUID  # another carrier's
    other_station: uuid.UUID  # starts and ends at station 1
    other_station_unnumbered: uuid.UUID  # the same, never given a waybill number
    same_station: uuid.UUID  # starts at station 0; no courier holds a task on it
    customers: uuid.UUID  # sent by the tenant's shop (enterprise account 0), passes both stations
    another_customers: uuid.UUID  # sent by enterprise account 1, passes both stations


@pytest.fixture
def world(engine: Engine, keyring: Keyring, tenant: Tenant, other_tenant: Tenant) -> World:
    shop = tenant.account(Role.ENTERPRISE).user_id
    rival = tenant.account(Role.ENTERPRISE, n=1).user_id
    return World(
        unknown=uuid.uuid4(), foreign=parcel(engine, keyring, other_tenant),
        other_station=parcel(engine, keyring, tenant, origin=1),
        other_station_unnumbered=parcel(engine, keyring, tenant, origin=1, numbered=False),
        same_station=parcel(engine, keyring, tenant, origin=0),
        customers=parcel(engine, keyring, tenant, origin=0, destination=1, customer=shop),
        another_customers=parcel(engine, keyring, tenant, origin=0, destination=1, customer=rival),
    )


# -- the gate: POST /api/v1/reveals ---------------------------------------------------------------

def test_the_gate_answers_a_parcel_out_of_reach_as_an_unknown_one_and_logs_the_real_reason(
    http: httpx.Client, engine: Engine, keyring: Keyring, tenant: Tenant, world: World
) -> None:
    def ask(headers: dict[str, str], shipment: uuid.UUID, purpose: str, fields: list[str]) -> httpx.Response:
        return http.post(REVEALS, headers=headers, json={"subject": f"shipment:{shipment}", "fields": fields,
                                                         "purpose": purpose})

    # A courier: a parcel of another station, of their own station with no task, a task closed long ago.
    courier = terminal_login(http, tenant)
    stale = parcel(engine, keyring, tenant)
    task = tenant.assign(stale, tenant.actor(Role.COURIER), shipments.Task.DELIVERY)
    with engine.begin() as conn:
        conn.execute(update(Assignment).where(Assignment.id == task).values(closed_at=now() - timedelta(days=3)))
    asked = {name: ask(courier, getattr(world, name), "delivery", ["recipient_address"])
             for name in ("unknown", "foreign", "other_station", "same_station")}
    asked["stale"] = ask(courier, stale, "delivery", ["recipient_address"])
    expected = same(asked["unknown"], *asked.values())
    assert (expected["status"], expected["code"], expected["reason"]) == (404, "subject_unknown", "subject_unknown")
    assert {"reason", "log_index"} <= set(expected["members"])
    real = {name: (entry["decision"], entry["reason"])
            for name, entry in ((name, logged(http, tenant, r)) for name, r in asked.items())}
    assert real == {"unknown": ("deny", "subject_unknown"), "foreign": ("deny", "subject_unknown"),
                    "other_station": ("deny", "not_assigned"), "same_station": ("deny", "not_assigned"),
                    "stale": ("deny", "outside_window")}

    # A station manager of station 0: a parcel that does not pass through it.
    manager = tenant.login(http, Role.STATION_MANAGER)
    unknown = ask(manager, world.unknown, "customer_service", ["recipient_name"])
    elsewhere = ask(manager, world.other_station, "customer_service", ["recipient_name"])
    same(unknown, elsewhere)
    assert logged(http, tenant, elsewhere)["reason"] == "not_own_station"
    assert ask(manager, world.same_station, "customer_service", ["recipient_name"]).status_code == 200

    # An enterprise: another customer's parcel.
    shop = tenant.login(http, Role.ENTERPRISE)
    unknown = ask(shop, world.unknown, "customer_service", ["recipient_name"])
    theirs = ask(shop, world.another_customers, "customer_service", ["recipient_name"])
    same(unknown, theirs)
    assert logged(http, tenant, theirs)["reason"] == "not_own_shipment"
    assert ask(shop, world.customers, "customer_service", ["recipient_name"]).status_code == 200


def test_refusals_that_do_not_depend_on_the_parcel_come_before_it_is_looked_up(
    http: httpx.Client, engine: Engine, keyring: Keyring, tenant: Tenant, world: World
) -> None:
    """Today's 404 first for an unknown parcel and 403 for a known one would be an oracle of its own."""
    mine = parcel(engine, keyring, tenant)
    tenant.assign(mine, tenant.actor(Role.COURIER), shipments.Task.DELIVERY)
    cases = [
        (Role.COURIER, "investigation", ["recipient_name"], None, "purpose_not_allowed"),
        (Role.COURIER, "delivery", ["recipient_phone"], None, "field_not_allowed"),
        (Role.COURIER, "delivery", ["sender_id_number"], None, "field_sealed"),
        (Role.AUDITOR, "delivery", ["recipient_name"], None, "role_not_allowed"),
        (Role.HQ_SECURITY, "investigation", ["sender_name"], None, "case_required"),
        (Role.HQ_SECURITY, "investigation", ["sender_name"], str(uuid.uuid4()), "case_not_open"),
    ]
    for role, purpose, fields, case, reason in cases:
        headers = terminal_login(http, tenant) if role == Role.COURIER else tenant.login(http, role)
        answers = [http.post(REVEALS, headers=headers, json={"subject": f"shipment:{s}", "fields": fields,
                                                              "purpose": purpose, "case_id": case})
                   for s in (world.unknown, world.foreign, world.other_station, mine)]
        expected = same(*answers)
        assert (expected["status"], expected["code"], expected["reason"]) == (403, "reveal_denied", reason), role
        assert {logged(http, tenant, r)["reason"] for r in answers} == {reason}


def test_past_the_ceiling_a_parcel_out_of_reach_is_still_answered_as_an_unknown_one(
    http: httpx.Client, engine: Engine, keyring: Keyring, tenant: Tenant, world: World
) -> None:
    """The ceiling is about the actor; it is counted only for parcels the actor may see."""
    courier = terminal_login(http, tenant)
    mine = parcel(engine, keyring, tenant)
    tenant.assign(mine, tenant.actor(Role.COURIER), shipments.Task.DELIVERY)
    body = {"fields": ["recipient_address"], "purpose": "delivery"}
    assert [http.post(REVEALS, headers=courier, json={**body, "subject": f"shipment:{mine}"}).status_code
            for _ in range(8)] == [200] * 8  # 5 + 3 for the one task
    over = http.post(REVEALS, headers=courier, json={**body, "subject": f"shipment:{mine}"})
    assert (over.status_code, over.json()["reason"]) == (403, "rate_exceeded")
    expected = same(*(http.post(REVEALS, headers=courier, json={**body, "subject": f"shipment:{s}"})
                      for s in (world.unknown, world.other_station, world.same_station)))
    assert (expected["status"], expected["reason"]) == (404, "subject_unknown")


# -- labels: GET /api/v1/shipments/{id}/label, POST /api/v1/labels:batch -----------------------------

def test_printing_a_label_out_of_reach_answers_as_for_an_unknown_parcel(
    http: httpx.Client, engine: Engine, keyring: Keyring, tenant: Tenant, world: World
) -> None:
    def label(headers: dict[str, str], shipment: uuid.UUID) -> httpx.Response:
        return http.get(f"/api/v1/shipments/{shipment}/label", headers=headers)

    courier = terminal_login(http, tenant)
    asked = [label(courier, s) for s in (world.unknown, world.foreign, world.other_station,
                                          world.other_station_unnumbered, world.same_station)]
    expected = same(*asked)
    assert (expected["status"], expected["code"], expected["reason"]) == (404, "subject_unknown", "subject_unknown")
    assert [logged(http, tenant, r)["reason"] for r in asked] == [
        "subject_unknown", "subject_unknown", "not_assigned", "not_assigned", "not_assigned"]

    manager = tenant.login(http, Role.STATION_MANAGER)
    elsewhere = label(manager, world.other_station)
    same(label(manager, world.unknown), elsewhere, label(manager, world.other_station_unnumbered))
    assert logged(http, tenant, elsewhere)["reason"] == "not_own_station"
    # What the manager may print but cannot: a parcel of their own station never taken in.
    unnumbered = label(manager, parcel(engine, keyring, tenant, numbered=False))
    assert (unnumbered.status_code, unnumbered.json()["code"]) == (409, "waybill_missing")

    shop = tenant.login(http, Role.ENTERPRISE)
    theirs = label(shop, world.another_customers)
    same(label(shop, world.unknown), theirs)
    assert logged(http, tenant, theirs)["reason"] == "not_own_shipment"

    # A role the rules give nothing is refused before the parcel is looked up.
    admin = tenant.login(http, Role.ADMIN)
    expected = same(label(admin, world.unknown), label(admin, world.same_station))
    assert (expected["status"], expected["reason"]) == (403, "role_not_allowed")


def test_a_batch_of_labels_with_one_out_of_reach_answers_as_one_with_an_unknown_parcel(
    http: httpx.Client, engine: Engine, keyring: Keyring, tenant: Tenant, world: World
) -> None:
    manager = tenant.login(http, Role.STATION_MANAGER)

    def batch(*ids: uuid.UUID) -> httpx.Response:
        return http.post("/api/v1/labels:batch", headers=manager, json={"shipment_ids": [str(i) for i in ids]})

    own = world.same_station
    elsewhere = batch(own, world.other_station)
    expected = same(batch(own, world.unknown), batch(own, world.foreign), elsewhere,
                    batch(own, world.other_station_unnumbered))
    assert (expected["status"], expected["code"]) == (404, "subject_unknown")
    entry = logged(http, tenant, elsewhere)
    assert (entry["subject"], entry["reason"]) == (f"shipment:{world.other_station}", "not_own_station")


# -- the delivery scan: POST /api/v1/scans ---------------------------------------------------------

def test_scanning_a_label_out_of_reach_answers_as_a_label_of_no_parcel(
    http: httpx.Client, engine: Engine, keyring: Keyring, tenant: Tenant, world: World
) -> None:
    courier = terminal_login(http, tenant)
    colleague = tenant.actor(Role.COURIER, n=1)
    delivered = parcel(engine, keyring, tenant)  # delivered by a colleague
    tenant.assign(delivered, colleague, shipments.Task.DELIVERY)
    with writing(engine) as s:
        shipments.mark_delivered(db_session=s, actor=colleague, shipment_id=delivered)
    reassigned = parcel(engine, keyring, tenant)  # this courier's delivery, given to the colleague since
    tenant.assign(reassigned, tenant.actor(Role.COURIER), shipments.Task.DELIVERY)
    tenant.assign(reassigned, colleague, shipments.Task.DELIVERY)
    tokens = {"nothing": token_of(engine, keyring, tenant)} | {
        name: token_of(engine, keyring, tenant, shipment) for name, shipment in (
            ("other_station", world.other_station), ("same_station", world.same_station),
            ("delivered", delivered), ("reassigned", reassigned))}

    # Delivery: the gate decides. The courier whose task was given to a colleague still sees the address
    # for the grace period (it was theirs), so it is not among the parcels out of reach here.
    looked = {name: http.post(SCANS, headers=courier, json={"token": token}) for name, token in tokens.items()
              if name != "reassigned"}
    expected = same(looked["nothing"], *looked.values())
    assert (expected["status"], expected["code"], expected["reason"]) == (404, "subject_unknown", "subject_unknown")
    assert logged(http, tenant, looked["nothing"])["reason"] == "subject_unknown"
    assert logged(http, tenant, looked["other_station"])["reason"] == "not_assigned"

    # Delivered: a parcel whose delivery this courier was never given is one they cannot tell from none,
    # delivered or not; one that was theirs says why it cannot be handed over.
    handed = {name: http.post(SCANS, headers=courier, json={"token": token, "event": "delivered"})
              for name, token in tokens.items() if name != "reassigned"}
    expected = same(handed["nothing"], *handed.values())
    assert (expected["status"], expected["code"]) == (404, "shipment_unknown")
    taken = http.post(SCANS, headers=courier, json={"token": tokens["reassigned"], "event": "delivered"})
    assert (taken.status_code, taken.json()["code"]) == (403, "not_assigned")
    # The colleague who delivered it is told so.
    done = http.post(SCANS, headers=terminal_login(http, tenant, n=1),
                     json={"token": tokens["delivered"], "event": "delivered"})
    assert (done.status_code, done.json()["code"]) == (409, "already_delivered")


# -- the calls of a parcel: GET /api/v1/shipments/{id}/calls -----------------------------------------

def test_the_calls_of_a_parcel_out_of_reach_answer_as_for_an_unknown_parcel(
    http: httpx.Client, engine: Engine, keyring: Keyring, tenant: Tenant, world: World
) -> None:
    def calls(headers: dict[str, str], shipment: uuid.UUID) -> httpx.Response:
        return http.get(f"/api/v1/shipments/{shipment}/calls", headers=headers)

    picked = parcel(engine, keyring, tenant)  # the courier holds its pickup, not its delivery
    tenant.assign(picked, tenant.actor(Role.COURIER), shipments.Task.PICKUP)
    courier = terminal_login(http, tenant)
    expected = same(*(calls(courier, s) for s in (world.unknown, world.foreign, world.other_station,
                                                   world.same_station, picked)))
    assert (expected["status"], expected["code"]) == (404, "shipment_unknown")
    manager = tenant.login(http, Role.STATION_MANAGER)
    same(calls(manager, world.unknown), calls(manager, world.other_station))
    assert calls(manager, world.same_station).status_code == 200
    for role in (Role.HQ_SECURITY, Role.ENTERPRISE):  # roles the route never answers
        headers = tenant.login(http, role)
        same(calls(headers, world.unknown), calls(headers, world.customers))


# -- intake: inspection and assignments -------------------------------------------------------------

def test_inspecting_or_assigning_a_parcel_out_of_reach_answers_as_for_an_unknown_parcel(
    http: httpx.Client, engine: Engine, keyring: Keyring, tenant: Tenant, world: World
) -> None:
    courier = terminal_login(http, tenant)
    inspected = parcel(engine, keyring, tenant, origin=1)
    with writing(engine) as s:
        s.execute(update(Shipment).where(Shipment.id == inspected).values(inspected=True))

    def inspect(shipment: uuid.UUID) -> httpx.Response:
        return http.post(f"/api/v1/shipments/{shipment}/inspection", headers=courier, json={"passed": True})

    expected = same(*(inspect(s) for s in (world.unknown, world.foreign, world.other_station, inspected)))
    assert (expected["status"], expected["code"]) == (404, "shipment_unknown")

    manager = tenant.login(http, Role.STATION_MANAGER)
    own_courier = tenant.account(Role.COURIER).user_id
    for courier_id in (own_courier, uuid.uuid4(), tenant.account(Role.STATION_MANAGER).user_id,
                       tenant.account(Role.COURIER, station=1).user_id):
        answers = [http.post(f"/api/v1/shipments/{s}/assignments", headers=manager,
                             json={"courier_id": str(courier_id), "task": "delivery"})
                   for s in (world.unknown, world.foreign, world.other_station)]
        expected = same(*answers)
        assert (expected["status"], expected["code"]) == (404, "shipment_unknown")


# -- HQ security resolves a found label: POST /api/v1/labels:resolve -----------------------------

def test_resolving_a_found_label_without_an_open_case_tells_nothing_of_the_parcel(
    http: httpx.Client, engine: Engine, keyring: Keyring, tenant: Tenant, world: World
) -> None:
    hq = tenant.login(http, Role.HQ_SECURITY)
    known, nothing = waybill_of(engine, world.same_station), unused_waybill(engine, keyring, tenant)
    references = [{"waybill_no": nothing}, {"waybill_no": known}]
    tokens = [{"label_token": token_of(engine, keyring, tenant)},
              {"label_token": token_of(engine, keyring, tenant, world.same_station)}]
    case = http.post("/api/v1/audit/cases", headers=hq, json={"reference": f"R-{uuid.uuid4().hex[:6]}",
                                                              "summary": "found labels"}).json()["id"]
    closed = http.post("/api/v1/audit/cases", headers=hq, json={"reference": f"R-{uuid.uuid4().hex[:6]}",
                                                                "summary": "closed"}).json()["id"]
    assert http.post(f"/api/v1/audit/cases/{closed}/close", headers=hq).status_code == 200
    for case_id in (str(uuid.uuid4()), closed):
        for pair in (references, tokens):
            expected = same(*(http.post(RESOLVE, headers=hq, json={"case_id": case_id, **ref}) for ref in pair))
            assert (expected["status"], expected["reason"]) == (403, "case_not_open")
    # Under an open case HQ security may see every parcel of the carrier: a known one resolves, an
    # unknown one is the gate's unknown subject, logged like any other decision.
    for unknown_ref, known_ref in (references, tokens):
        assert http.post(RESOLVE, headers=hq, json={"case_id": case, **known_ref}).status_code == 200
        missing = http.post(RESOLVE, headers=hq, json={"case_id": case, **unknown_ref})
        assert (missing.status_code, missing.json()["code"]) == (404, "subject_unknown")
        assert logged(http, tenant, missing)["reason"] == "subject_unknown"
