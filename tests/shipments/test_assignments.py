"""Shipments keep their parties encrypted, and assignments follow the station's lines of authority."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import Engine, select

from parcelguard.core import db
from parcelguard.core.auth import Role
from parcelguard.core.errors import Conflict, Invalid, NotFound
from parcelguard.crypto.keyring import Keyring
from parcelguard.crypto.types import DecryptionFailed
from parcelguard.shipments import service
from parcelguard.shipments.models import Shipment
from tests.tenants import CANARY, Tenant, writing


def test_the_parties_are_stored_only_as_ciphertexts_bound_to_their_row_and_column(
    engine: Engine, keyring: Keyring, tenant: Tenant
) -> None:
    shipment = tenant.shipment(keyring)
    with engine.connect() as conn:
        row = conn.execute(select(Shipment).where(Shipment.id == shipment)).one()._mapping
    for name in service.PERSONAL_FIELDS:
        stored = bytes(row[name])
        assert getattr(CANARY, name).encode() not in stored
    # Only the gate opens them (tests/audit/test_one_gate.py); here we only prove that the binding holds.
    with db.make_sessionmaker(engine)() as s:
        assert keyring.decrypt(db_session=s, carrier_id=tenant.carrier_id, ciphertext=bytes(row["recipient_phone"]),
                               aad=service.aad(shipment, "recipient_phone")) == CANARY.recipient_phone.encode()
        with pytest.raises(DecryptionFailed):
            keyring.decrypt(db_session=s, carrier_id=tenant.carrier_id, ciphertext=bytes(row["recipient_phone"]),
                            aad=service.aad(shipment, "sender_phone"))


def test_a_manager_assigns_only_their_stations_shipments_to_their_own_couriers(
    engine: Engine, keyring: Keyring, tenant: Tenant, other_tenant: Tenant
) -> None:
    manager = tenant.actor(Role.STATION_MANAGER, station=0)
    courier = tenant.actor(Role.COURIER, station=0)
    ours = tenant.shipment(keyring, origin=0, destination=None)
    elsewhere = tenant.shipment(keyring, origin=1, destination=None)
    foreign = other_tenant.shipment(keyring)
    with writing(engine) as s:
        first = service.assign(db_session=s, actor=manager, shipment_id=ours, courier_id=courier.user_id,
                               task=service.Task.PICKUP)
    cases = [
        (elsewhere, courier.user_id, NotFound, "shipment_unknown"),
        # Another station's shipment is unknown before anything is said of the courier named.
        (elsewhere, uuid.uuid4(), NotFound, "shipment_unknown"),
        (elsewhere, manager.user_id, NotFound, "shipment_unknown"),
        (foreign, courier.user_id, NotFound, "shipment_unknown"),
        (ours, tenant.actor(Role.COURIER, station=1).user_id, Invalid, "courier_of_other_station"),
        (ours, manager.user_id, Invalid, "not_a_courier"),
        (ours, other_tenant.actor(Role.COURIER).user_id, NotFound, "user_unknown"),
        (ours, courier.user_id, Conflict, "already_assigned"),
    ]
    for shipment, courier_id, error, code in cases:
        with db.make_sessionmaker(engine)() as s, pytest.raises(error) as caught:
            service.assign(db_session=s, actor=manager, shipment_id=shipment, courier_id=courier_id,
                           task=service.Task.PICKUP)
        assert caught.value.code == code
    # Reassigning the task to a colleague closes the first courier's assignment.
    colleague = tenant.actor(Role.COURIER, station=0, n=1)
    with writing(engine) as s:
        service.assign(db_session=s, actor=manager, shipment_id=ours, courier_id=colleague.user_id,
                       task=service.Task.PICKUP)
    with db.make_sessionmaker(engine)() as s:
        assert service.list_assignments(db_session=s, actor=courier) == []
        [mine] = service.list_assignments(db_session=s, actor=courier, open_only=False)
        assert mine.id == first.id and mine.closed_at is not None
        assert [a.courier_id for a in service.list_assignments(db_session=s, actor=manager)] == [colleague.user_id]


def test_a_courier_closes_only_their_own_assignment(engine: Engine, keyring: Keyring, tenant: Tenant) -> None:
    courier, colleague = tenant.actor(Role.COURIER), tenant.actor(Role.COURIER, n=1)
    assignment = tenant.assign(tenant.shipment(keyring), courier, service.Task.DELIVERY)
    with db.make_sessionmaker(engine)() as s, pytest.raises(NotFound):
        service.close_assignment(db_session=s, actor=colleague, assignment_id=assignment)
    with db.make_sessionmaker(engine)() as s, pytest.raises(NotFound):
        service.close_assignment(db_session=s, actor=courier, assignment_id=uuid.uuid4())
    with writing(engine) as s:
        assert service.close_assignment(db_session=s, actor=courier, assignment_id=assignment).closed_at is not None


def test_bad_parties_are_refused_and_nothing_is_written(engine: Engine, keyring: Keyring, tenant: Tenant) -> None:
    with db.make_sessionmaker(engine)() as s, pytest.raises(Invalid) as caught:
        service.create(db_session=s, keyring=keyring, carrier_id=tenant.carrier_id,
                       origin_station_id=tenant.stations[0], parties=service.Parties(*["x"] * 5, "  "))
    assert caught.value.errors[0].pointer == "/recipient_address"
    with engine.connect() as conn:
        assert conn.execute(select(Shipment.id).where(Shipment.carrier_id == tenant.carrier_id)).all() == []
