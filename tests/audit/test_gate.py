"""The personal-data gate on a real database (SQLite and PostgreSQL): who may see what, and that every
decision is in the log before anything is returned."""

from __future__ import annotations

import dataclasses
import json
import uuid
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, insert, select, update

from parcelguard.audit import log, service
from parcelguard.audit.models import Alert, AuditEntry, AuditNode, Case, RevealCounter
from parcelguard.core import db
from parcelguard.core.auth import Actor, Role
from parcelguard.core.clock import now
from parcelguard.core.errors import Invalid
from parcelguard.crypto.keyring import Keyring
from parcelguard.shipments.models import Assignment
from parcelguard.shipments.service import Task
from tests.tenants import CANARY, Tenant, writing

RECIPIENT = ["recipient_name", "recipient_address"]


def reveal(engine: Engine, keyring: Keyring, actor: Actor, subject: uuid.UUID | str, fields: list[str],
           purpose: str, case_id: uuid.UUID | None = None) -> service.Revealed:
    """One request's worth: its own session, committed when the gate answers."""
    with db.make_sessionmaker(engine)() as s:
        db.begin_write(s)  # as a request that reveals does: the gate reads, then appends to the log
        subject = subject if isinstance(subject, str) else f"shipment:{subject}"
        revealed = service.reveal(s, actor, subject, fields, purpose, case_id, keyring=keyring, request_id="req-t")
        s.commit()
        return revealed


def entries(engine: Engine, carrier: uuid.UUID) -> list[dict]:
    with engine.connect() as conn:
        raw = conn.execute(select(AuditEntry.entry).where(AuditEntry.carrier_id == carrier)
                           .order_by(AuditEntry.idx)).scalars()
        return [json.loads(r) for r in raw]


def denied(engine: Engine, keyring: Keyring, actor: Actor, subject: uuid.UUID | str, fields: list[str],
           purpose: str, case_id: uuid.UUID | None = None) -> str:
    """Expect a logged refusal; answer the reason the log's last entry holds. The caller reads that
    reason too, except for a subject out of the actor's scope: that one is answered as an unknown subject
    (`SubjectUnknown`), and only the log says why."""
    assert actor.carrier_id is not None
    before = len(entries(engine, actor.carrier_id))
    with pytest.raises((service.RevealDenied, service.SubjectUnknown)) as caught:
        reveal(engine, keyring, actor, subject, fields, purpose, case_id)
    after = entries(engine, actor.carrier_id)
    assert len(after) == before + 1
    last = after[-1]
    hidden = last["reason"] in service.SCOPE_REASONS
    assert last["decision"] == "deny"
    assert caught.value.reason == ("subject_unknown" if hidden else last["reason"])
    assert isinstance(caught.value, service.SubjectUnknown) == (hidden or last["reason"] == "subject_unknown")
    assert last["index"] == caught.value.log_index == before
    assert last["actor"] == str(actor.user_id) and last["purpose"] == purpose
    assert not any(v in json.dumps(caught.value.extensions, ensure_ascii=False) + caught.value.detail
                   for v in vars(CANARY).values())
    return str(last["reason"])


@pytest.fixture
def courier(tenant: Tenant) -> Actor:
    return on_terminal(tenant.actor(Role.COURIER))


def on_terminal(actor: Actor) -> Actor:
    """A courier as a registered terminal's sign-in gives it: the gate reveals nothing to one without."""
    return dataclasses.replace(actor, terminal_id=uuid.uuid4())


def test_an_assigned_courier_sees_what_delivery_needs_and_the_log_says_so_first(
    engine: Engine, keyring: Keyring, tenant: Tenant, courier: Actor
) -> None:
    shipment = tenant.shipment(keyring)
    tenant.assign(shipment, courier, Task.DELIVERY)
    revealed = reveal(engine, keyring, courier, shipment, RECIPIENT, "delivery")
    assert revealed.fields == {"recipient_name": CANARY.recipient_name, "recipient_address": CANARY.recipient_address}
    [entry] = entries(engine, tenant.carrier_id)
    assert entry == {
        "index": revealed.log_index, "time": entry["time"], "carrier": str(tenant.carrier_id),
        "actor": str(courier.user_id), "role": "courier", "subject": f"shipment:{shipment}", "fields": RECIPIENT,
        "purpose": "delivery", "case_id": None, "decision": "allow", "reason": None, "request_id": "req-t",
    }
    # The entry names fields, never their values.
    assert not any(v in json.dumps(entry, ensure_ascii=False) for v in vars(CANARY).values())


def test_a_courier_is_refused_what_the_task_does_not_need_and_shipments_not_theirs(
    engine: Engine, keyring: Keyring, tenant: Tenant, courier: Actor
) -> None:
    mine, other = tenant.shipment(keyring), tenant.shipment(keyring)
    tenant.assign(mine, courier, Task.DELIVERY)
    tenant.assign(other, tenant.actor(Role.COURIER, n=1), Task.DELIVERY)
    assert denied(engine, keyring, courier, other, RECIPIENT, "delivery") == "not_assigned"
    assert denied(engine, keyring, courier, mine, ["recipient_phone"], "delivery") == "field_not_allowed"
    assert denied(engine, keyring, courier, mine, ["sender_name"], "pickup") == "not_assigned"
    assert denied(engine, keyring, courier, mine, RECIPIENT, "investigation") == "purpose_not_allowed"
    assert denied(engine, keyring, courier, mine, ["sender_id_number"], "delivery") == "field_sealed"
    assert denied(engine, keyring, courier, uuid.uuid4(), RECIPIENT, "delivery") == "subject_unknown"


def test_the_grace_period_after_an_assignment_closes(
    engine: Engine, keyring: Keyring, tenant: Tenant, courier: Actor
) -> None:
    shipment = tenant.shipment(keyring)
    assignment = tenant.assign(shipment, courier, Task.DELIVERY)
    with engine.begin() as conn:
        conn.execute(update(Assignment).where(Assignment.id == assignment).values(closed_at=now() - timedelta(hours=23)))
    assert reveal(engine, keyring, courier, shipment, RECIPIENT, "delivery").fields
    with engine.begin() as conn:
        conn.execute(update(Assignment).where(Assignment.id == assignment).values(closed_at=now() - timedelta(hours=25)))
    assert denied(engine, keyring, courier, shipment, RECIPIENT, "delivery") == "outside_window"


def test_a_station_manager_sees_their_own_stations_shipments_only(
    engine: Engine, keyring: Keyring, tenant: Tenant
) -> None:
    manager = tenant.actor(Role.STATION_MANAGER, station=1)  # the destination station
    passes = tenant.shipment(keyring, origin=0, destination=1)
    elsewhere = tenant.shipment(keyring, origin=0, destination=None)
    got = reveal(engine, keyring, manager, passes, ["recipient_phone", "sender_phone"], "customer_service")
    assert got.fields == {"recipient_phone": CANARY.recipient_phone, "sender_phone": CANARY.sender_phone}
    assert denied(engine, keyring, manager, elsewhere, ["recipient_phone"], "customer_service") == "not_own_station"
    assert denied(engine, keyring, manager, passes, ["recipient_phone"], "delivery") == "purpose_not_allowed"


def test_hq_security_needs_an_open_case(engine: Engine, keyring: Keyring, tenant: Tenant) -> None:
    officer = tenant.actor(Role.HQ_SECURITY)
    shipment = tenant.shipment(keyring)
    with writing(engine) as s:
        case = service.open_case(db_session=s, actor=officer, reference="SEC-1", summary="Bulk lookups at ST-1").id
    assert denied(engine, keyring, officer, shipment, ["sender_name"], "investigation") == "case_required"
    assert denied(engine, keyring, officer, shipment, ["sender_name"], "investigation", uuid.uuid4()) == "case_not_open"
    got = reveal(engine, keyring, officer, shipment, ["sender_name"], "investigation", case)
    assert got.fields == {"sender_name": CANARY.sender_name} and got.case_id == case
    assert entries(engine, tenant.carrier_id)[-1]["case_id"] == str(case)
    with writing(engine) as s:
        service.close_case(db_session=s, actor=officer, case_id=case)
    assert denied(engine, keyring, officer, shipment, ["sender_name"], "investigation", case) == "case_not_open"
    # Another carrier's case unlocks nothing here.
    other = Tenant.create(engine=engine, keyring=keyring)
    other_officer = other.actor(Role.HQ_SECURITY)
    with writing(engine) as s:
        foreign = service.open_case(db_session=s, actor=other_officer, reference="X-1",
                                    summary="theirs").id
    assert denied(engine, keyring, officer, shipment, ["sender_name"], "investigation", foreign) == "case_not_open"


def test_auditors_and_admins_see_no_plaintext_and_enterprises_only_their_recipients(
    engine: Engine, keyring: Keyring, tenant: Tenant
) -> None:
    shop = tenant.actor(Role.ENTERPRISE)
    ours = tenant.shipment(keyring, customer=shop.user_id)
    theirs = tenant.shipment(keyring)
    for role in (Role.AUDITOR, Role.ADMIN):
        assert denied(engine, keyring, tenant.actor(role), ours, ["recipient_name"], "customer_service") == \
            "role_not_allowed"
    assert reveal(engine, keyring, shop, ours, ["recipient_phone"], "customer_service").fields == {
        "recipient_phone": CANARY.recipient_phone}
    assert denied(engine, keyring, shop, ours, ["sender_phone"], "customer_service") == "field_not_allowed"
    assert denied(engine, keyring, shop, theirs, ["recipient_phone"], "customer_service") == "not_own_shipment"


def test_another_carriers_shipment_is_as_unknown_as_a_missing_one(
    engine: Engine, keyring: Keyring, tenant: Tenant, other_tenant: Tenant
) -> None:
    foreign = other_tenant.shipment(keyring)
    officer = tenant.actor(Role.HQ_SECURITY)
    with writing(engine) as s:
        case = service.open_case(db_session=s, actor=officer, reference="SEC-9", summary="cross-tenant probe").id
    assert denied(engine, keyring, officer, foreign, ["sender_name"], "investigation", case) == "subject_unknown"
    assert entries(engine, other_tenant.carrier_id) == []  # nothing lands in the other carrier's log


def test_malformed_requests_are_errors_not_decisions(engine: Engine, keyring: Keyring, tenant: Tenant,
                                                     courier: Actor) -> None:
    shipment = tenant.shipment(keyring)
    for subject, fields, purpose, code in [
        ("parcel:1", RECIPIENT, "delivery", "subject_format"),
        (f"shipment:{shipment}", [], "delivery", "fields_empty"),
        (f"shipment:{shipment}", ["recipient_salary"], "delivery", "field_unknown"),
        (f"shipment:{shipment}", RECIPIENT, "Delivery!", "purpose_format"),
    ]:
        with pytest.raises(Invalid) as caught:
            reveal(engine, keyring, courier, subject, fields, purpose)
        assert caught.value.code == code
    assert entries(engine, tenant.carrier_id) == []


def test_a_refusal_keeps_nothing_of_the_request_but_its_record(
    engine: Engine, keyring: Keyring, tenant: Tenant, courier: Actor
) -> None:
    shipment = tenant.shipment(keyring)
    with db.make_sessionmaker(engine)() as s:
        s.add(Case(carrier_id=tenant.carrier_id, reference="half-done", summary="written before the refusal",
                   opened_by=courier.user_id))
        s.flush()
        with pytest.raises(service.SubjectUnknown):  # not assigned: answered as an unknown subject
            service.reveal(s, courier, f"shipment:{shipment}", RECIPIENT, "delivery", keyring=keyring)
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(Case).where(Case.carrier_id == tenant.carrier_id)) == 0
    assert [e["decision"] for e in entries(engine, tenant.carrier_id)] == ["deny"]


@pytest.mark.parametrize("allowed", [True, False])
def test_if_the_log_cannot_be_appended_to_the_reveal_fails(
    engine: Engine, keyring: Keyring, tenant: Tenant, courier: Actor, allowed: bool
) -> None:
    """A row squatting on the next index's leaf makes the append's insert fail, as a broken disk would. (The leaf's
    node row is what keeps an index once per carrier in the database: the entries' own primary key holds the month
    too, for the partitions, issue 17.)"""
    shipment = tenant.shipment(keyring)
    if allowed:
        tenant.assign(shipment, courier, Task.DELIVERY)
    with engine.begin() as conn:
        conn.execute(insert(AuditNode).values(carrier_id=tenant.carrier_id, level=0, idx=0, hash=bytes(32)))
    with db.make_sessionmaker(engine)() as s:
        db.begin_write(s)
        with pytest.raises(Exception) as caught:
            service.reveal(s, courier, f"shipment:{shipment}", RECIPIENT, "delivery", keyring=keyring)
        assert not isinstance(caught.value, service.RevealDenied)
        s.rollback()
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(RevealCounter)
                           .where(RevealCounter.actor_id == courier.user_id)) == 0
        assert conn.scalar(select(func.count()).select_from(AuditEntry)
                           .where(AuditEntry.carrier_id == tenant.carrier_id)) == 0
        assert conn.scalar(select(func.count()).select_from(AuditNode)
                           .where(AuditNode.carrier_id == tenant.carrier_id)) == 1  # the squatter alone


def test_a_courier_past_three_times_their_tasks_is_stopped_and_hq_security_alerted(
    engine: Engine, keyring: Keyring, tenant: Tenant, courier: Actor
) -> None:
    shipment = tenant.shipment(keyring)
    tenant.assign(shipment, courier, Task.DELIVERY)
    ceiling = 5 + 3 * 1  # the default: 5 + 3 per task open in the hour
    for _ in range(ceiling):
        reveal(engine, keyring, courier, shipment, ["recipient_address"], "delivery")
    assert denied(engine, keyring, courier, shipment, ["recipient_address"], "delivery") == "rate_exceeded"
    assert denied(engine, keyring, courier, shipment, ["recipient_address"], "delivery") == "rate_exceeded"
    with db.make_sessionmaker(engine)() as s:
        assert service.counters(db_session=s, carrier_id=tenant.carrier_id, actor_id=courier.user_id) == {
            "hour": ceiling, "day": ceiling}
        [alert] = service.list_alerts(db_session=s, actor=tenant.actor(Role.HQ_SECURITY))
        assert alert.kind == "rate_exceeded" and alert.actor_id == courier.user_id
        assert alert.detail["ceiling"] == ceiling and alert.detail["period"] == "hour"
        assert alert.audit_index == ceiling  # the first refused reveal's entry
        assert service.list_alerts(db_session=s, actor=Tenant.create(engine=engine, keyring=keyring)
                                   .actor(Role.HQ_SECURITY)) == []
    # Another task raises the ceiling by three.
    tenant.assign(tenant.shipment(keyring), courier, Task.DELIVERY)
    assert reveal(engine, keyring, courier, shipment, ["recipient_address"], "delivery").fields


def test_policy_is_data_an_admin_replaces_validated_and_logged(
    engine: Engine, keyring: Keyring, tenant: Tenant, courier: Actor
) -> None:
    admin = tenant.actor(Role.ADMIN)
    shipment = tenant.shipment(keyring)
    tenant.assign(shipment, courier, Task.DELIVERY)
    with writing(engine) as s:
        defaults = service.policy(db_session=s, carrier_id=tenant.carrier_id)
        assert defaults.source == "default" and len(defaults.rules) == 10
        with pytest.raises(Invalid) as caught:
            service.replace_policy(db_session=s, keyring=keyring, actor=admin, limits=[], rules=[
                service.Rule("courier", "delivery", "assigned", ["recipient_phone"]),
                service.Rule("auditor", "audit", "carrier", ["recipient_name"]),
                service.Rule("hq_security", "investigation", "carrier", ["sender_id_number"]),
            ])
        assert {e.code for e in caught.value.errors} == {"phone_not_for_terminal", "role_cannot_reveal",
                                                         "field_sealed"}
    with writing(engine) as s:  # only managers may reveal now, and only names
        replaced = service.replace_policy(db_session=s, keyring=keyring, actor=admin, rules=[
            service.Rule("station_manager", "customer_service", "station", ["recipient_name"])], limits=[])
        assert replaced.source == "carrier" and len(replaced.rules) == 1
    assert denied(engine, keyring, courier, shipment, RECIPIENT, "delivery") == "role_not_allowed"
    assert [e["purpose"] for e in entries(engine, tenant.carrier_id)] == ["policy_change", "delivery"]
    with writing(engine) as s:
        assert service.reset_policy(db_session=s, keyring=keyring, actor=admin).source == "default"
    assert reveal(engine, keyring, courier, shipment, RECIPIENT, "delivery").fields
    # Another carrier never saw any of it.
    with db.make_sessionmaker(engine)() as s:
        assert service.policy(db_session=s, carrier_id=Tenant.create(engine=engine, keyring=keyring)
                              .carrier_id).source == "default"


# -- the property: no path returns plaintext without a matching log entry --------------------------

PURPOSES = ["pickup", "delivery", "customer_service", "exception_handling", "investigation", "marketing"]
FIELDS = [*service.REVEALABLE_FIELDS, "sender_id_number"]


@pytest.fixture(scope="module")
def world(engine: Engine, keyring: Keyring) -> dict:
    """One carrier with accounts of every carrier role, shipments in every relation to them, and cases."""
    tenant = Tenant.create(engine=engine, keyring=keyring)
    other = Tenant.create(engine=engine, keyring=keyring)
    actors = [tenant.actor(role, station=st) for role in (Role.COURIER, Role.STATION_MANAGER) for st in (0, 1)]
    actors[:2] = [on_terminal(a) for a in actors[:2]]
    actors += [tenant.actor(r) for r in (Role.HQ_SECURITY, Role.AUDITOR, Role.ENTERPRISE, Role.ADMIN)]
    shop = actors[6]
    subjects = [tenant.shipment(keyring, origin=0, destination=1), tenant.shipment(keyring, origin=1, destination=None),
                tenant.shipment(keyring, customer=shop.user_id), other.shipment(keyring), uuid.uuid4()]
    tenant.assign(subjects[0], actors[0], Task.DELIVERY)
    tenant.assign(subjects[1], actors[1], Task.PICKUP)
    closed = tenant.assign(subjects[2], actors[0], Task.PICKUP)
    with engine.begin() as conn:
        conn.execute(update(Assignment).where(Assignment.id == closed).values(closed_at=now() - timedelta(days=2)))
    with writing(engine) as s:
        officer = actors[4]
        open_case = service.open_case(db_session=s, actor=officer, reference="P-1", summary="property").id
        shut = service.open_case(db_session=s, actor=officer, reference="P-2", summary="property")
        shut.closed_at = now()
    return {"tenant": tenant, "actors": actors, "subjects": subjects, "cases": [None, open_case, shut.id, uuid.uuid4()]}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_no_path_returns_plaintext_without_a_matching_log_entry(
    engine: Engine, keyring: Keyring, world: dict, data: st.DataObject
) -> None:
    actor: Actor = data.draw(st.sampled_from(world["actors"]))
    subject = data.draw(st.sampled_from(world["subjects"]))
    purpose = data.draw(st.sampled_from(PURPOSES))
    fields = data.draw(st.lists(st.sampled_from(FIELDS), min_size=1, max_size=4, unique=True))
    case = data.draw(st.sampled_from(world["cases"]))
    carrier = world["tenant"].carrier_id
    with db.make_sessionmaker(engine)() as s:
        size = log.size_of(db_session=s, carrier_id=carrier)
    try:
        got = reveal(engine, keyring, actor, subject, fields, purpose, case)
    except (service.RevealDenied, service.SubjectUnknown) as refusal:
        got, index, decision = None, refusal.log_index, "deny"
    else:
        index, decision = got.log_index, "allow"
        assert set(got.fields) == set(fields)
        assert all(got.fields[f] == getattr(CANARY, f) for f in fields)
    with engine.connect() as conn:
        raw = conn.execute(select(AuditEntry.entry).where(AuditEntry.carrier_id == carrier, AuditEntry.idx >= size)
                           ).scalars().all()
    assert len(raw) == 1 and index == size  # exactly one entry per decision, at the index the gate named
    entry = json.loads(raw[0])
    assert (entry["decision"], entry["actor"], entry["subject"], entry["fields"], entry["purpose"]) == (
        decision, str(actor.user_id), f"shipment:{subject}", fields, purpose)
    assert entry["case_id"] == (str(case) if case else None)
    assert not any(v in raw[0].decode() for v in vars(CANARY).values())


def test_alert_rows_hold_no_personal_data(engine: Engine) -> None:
    with engine.connect() as conn:
        for detail in conn.execute(select(Alert.detail)).scalars():
            assert not any(v in json.dumps(detail, ensure_ascii=False) for v in vars(CANARY).values())
