"""Shipments and the audit log partitioned by month on PostgreSQL (issue 17), ordinary tables on SQLite: a parcel
lands in its month's partition; the partitions are made ahead, once; retention drops a month's partition where
every parcel in it goes (same count in the signed record, nothing left hanging) and deletes row by row where one
stays (a legal hold); audit entries land by month and the log still verifies; a customer's reference is stored
once, by the database; the migration keeps every row down and up again."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine, func, insert, select, text
from sqlalchemy.exc import IntegrityError

from parcelguard import partitions
from parcelguard.audit import export, log
from parcelguard.audit.models import Case
from parcelguard.core import db
from parcelguard.core import partitions as core
from parcelguard.core.auth import Role
from parcelguard.core.clock import now
from parcelguard.core.ids import uuid7
from parcelguard.crypto.keyring import Keyring
from parcelguard.retention import service
from parcelguard.retention.models import LegalHold
from parcelguard.shipments.models import PARTITIONS as SHIPMENTS
from parcelguard.shipments.models import Shipment, ShipmentItem, ShipmentReference
from tests.support import ENGINES, empty_database, require_engine
from tests.tenants import Tenant, writing

THIS = core.period_of(now())


@pytest.fixture(params=ENGINES)
def own_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A migrated database of this test's own: a month's partition holds this test's parcels only."""
    require_engine(request.param)
    with empty_database(request.param, tmp_path) as url:
        db.upgrade(url)
        engine = db.make_engine(url)
        try:
            yield engine
        finally:
            engine.dispose()


def _pg(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


def _where(engine: Engine, table: str, condition: str, params: dict[str, object]) -> list[str]:
    home = "tableoid::regclass::text" if _pg(engine) else f"'{table}'"  # SQLite: the one ordinary table
    if not _pg(engine):  # SQLite stores a UUID as its 32 hex digits
        params = {k: v.hex if isinstance(v, uuid.UUID) else v for k, v in params.items()}
    with engine.connect() as conn:
        return list(conn.scalars(text(f"SELECT {home} FROM {table} WHERE {condition}"), params))


def _parcels(engine: Engine, keyring: Keyring, tenant: Tenant, n: int) -> list[uuid.UUID]:
    ids = [tenant.shipment(keyring) for _ in range(n)]
    with writing(engine) as s:
        s.add_all([ShipmentItem(shipment_id=i, category="books", description=b"x", quantity=1) for i in ids])
    return ids


def _count(engine: Engine, model: type, *where: object) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def test_a_parcel_taken_in_lands_in_its_months_partition(own_engine: Engine, keyring: Keyring) -> None:
    tenant = Tenant.create(engine=own_engine, keyring=keyring)
    [parcel] = _parcels(own_engine, keyring, tenant, 1)
    assert parcel.version == 7
    with own_engine.connect() as conn:
        created = conn.scalar(select(Shipment.created_at).where(Shipment.id == parcel))
    assert core.period_of(created) == THIS
    if _pg(own_engine):
        assert _where(own_engine, "shipments", "id = :i", {"i": parcel}) == [SHIPMENTS.name_of(THIS)]
    else:
        assert _where(own_engine, "shipments", "id = :i", {"i": parcel}) == ["shipments"]


def test_partitions_are_made_ahead_once_and_a_shipment_in_the_default_keeps_its_month_there(
    own_engine: Engine, keyring: Keyring
) -> None:
    tenant = Tenant.create(engine=own_engine, keyring=keyring)
    if not _pg(own_engine):
        assert partitions.ensure_partitions(own_engine, months_ahead=6) == []
        return
    far = core.month_start(THIS, 5) + timedelta(days=2)  # no partition yet: both rows go to the DEFAULT
    [parcel] = _parcels(own_engine, keyring, tenant, 1)
    with writing(own_engine) as s:
        row = {c.name: getattr(s.get(Shipment, parcel), c.key) for c in Shipment.__table__.columns}
        late = uuid7(far)
        s.execute(insert(Shipment), [{**row, "id": late, "label_subject": uuid.uuid4()}])
        log.append(db_session=s, keyring=keyring, carrier_id=tenant.carrier_id, entries=[_entry(far)])
    made = partitions.ensure_partitions(own_engine, months_ahead=5)
    ahead = [core.period_of(core.month_start(THIS, i)) for i in (3, 4, 5)]  # the migration made 0 to 2
    audit_made = [f"audit_entries_y{p.replace('-', 'm')}" for p in ahead]
    # the log's row moves over to its month; the shipment cannot (foreign keys point at it): its month waits
    assert made == [SHIPMENTS.name_of(p) for p in ahead[:2]] + audit_made
    assert _where(own_engine, "audit_entries", "logged_at >= :t", {"t": far}) == [audit_made[-1]]
    assert _where(own_engine, "shipments", "id = :i", {"i": late}) == [SHIPMENTS.default]
    assert partitions.ensure_partitions(own_engine, months_ahead=5) == []


def _entry(at: datetime) -> dict[str, object]:
    return {"time": at.isoformat(), "actor": None, "role": "system", "subject": "test:partition", "fields": [],
            "purpose": "test", "case_id": None, "decision": "allow", "reason": "test", "request_id": None}


def test_retention_drops_the_month_where_every_parcel_goes(own_engine: Engine, keyring: Keyring) -> None:
    tenant = Tenant.create(engine=own_engine, keyring=keyring)
    parcels = _parcels(own_engine, keyring, tenant, 5)
    done = service.run(sessionmaker=db.make_sessionmaker(own_engine), keyring=keyring, carrier_id=tenant.carrier_id,
                       at=now() + timedelta(days=31 * 26)).records
    [went] = [r.body for r in done if r.body["data_class"] == "waybill_record"]
    assert went["items"]["shipments"] == 5 and went["items"]["shipment_items"] == 5
    assert _count(own_engine, Shipment, Shipment.id.in_(parcels)) == 0
    assert _count(own_engine, ShipmentItem, ShipmentItem.shipment_id.in_(parcels)) == 0
    with own_engine.connect() as conn:
        left = core.existing(conn, SHIPMENTS)
    if _pg(own_engine):
        assert SHIPMENTS.name_of(THIS) not in left and SHIPMENTS.default in left
    else:
        assert left == set()


def test_a_held_parcel_keeps_the_months_partition_and_the_others_are_deleted(
    own_engine: Engine, keyring: Keyring
) -> None:
    tenant = Tenant.create(engine=own_engine, keyring=keyring)
    *parcels, held = _parcels(own_engine, keyring, tenant, 4)
    officer = tenant.actor(Role.HQ_SECURITY)
    with writing(own_engine) as s:
        case = Case(id=uuid.uuid4(), carrier_id=tenant.carrier_id, reference="R-1", summary="held",
                    opened_by=officer.user_id)
        s.add(case)
        s.flush()
        s.add(LegalHold(carrier_id=tenant.carrier_id, case_id=case.id, shipment_id=held, moved_period=THIS,
                        placed_by=officer.user_id))
    done = service.run(sessionmaker=db.make_sessionmaker(own_engine), keyring=keyring, carrier_id=tenant.carrier_id,
                       at=now() + timedelta(days=31 * 26)).records
    [went] = [r.body for r in done if r.body["data_class"] == "waybill_record"]
    assert went["items"]["shipments"] == 3
    assert _count(own_engine, Shipment, Shipment.id.in_(parcels)) == 0
    assert _count(own_engine, Shipment, Shipment.id == held) == 1
    if _pg(own_engine):
        with own_engine.connect() as conn:
            assert SHIPMENTS.name_of(THIS) in core.existing(conn, SHIPMENTS)


def test_audit_entries_land_by_month_and_the_log_still_verifies(own_engine: Engine, keyring: Keyring) -> None:
    tenant = Tenant.create(engine=own_engine, keyring=keyring)
    months = [core.month_start(THIS, -n) + timedelta(days=1, hours=n) for n in (3, 1, 0)]
    with writing(own_engine) as s:
        appended = log.append(db_session=s, keyring=keyring, carrier_id=tenant.carrier_id,
                              entries=[_entry(at) for at in months], head_every=1)
    homes = _where(own_engine, "audit_entries", "carrier_id = :c AND subject = 'test:partition' ORDER BY idx",
                   {"c": tenant.carrier_id})
    if _pg(own_engine):
        # the migration made this month and the next two; earlier months go to the DEFAULT
        assert homes == ["audit_entries_default", "audit_entries_default", f"audit_entries_y{THIS.replace('-', 'm')}"]
    else:
        assert set(homes) == {"audit_entries"}
    with db.make_sessionmaker(own_engine)() as s:
        report = export.verify_database(db_session=s, keyring=keyring, carrier_id=tenant.carrier_id)
        found = log.find_entries(db_session=s, carrier_id=tenant.carrier_id, since=months[1], until=now())
        proof = log.inclusion_proof(db_session=s, carrier_id=tenant.carrier_id, index=appended.first_index,
                                    tree_size=appended.size)
    assert report.ok, report.bad
    assert [json.loads(e.entry)["time"] for e in found if json.loads(e.entry)["subject"] == "test:partition"] == [
        m.isoformat() for m in months[1:]]
    assert proof is not None


def test_a_customers_reference_is_stored_once_by_the_database(own_engine: Engine, keyring: Keyring) -> None:
    tenant = Tenant.create(engine=own_engine, keyring=keyring)
    [parcel] = _parcels(own_engine, keyring, tenant, 1)
    customer = tenant.actor(Role.ENTERPRISE).user_id
    with writing(own_engine) as s:
        row = {c.name: getattr(s.get(Shipment, parcel), c.key) for c in Shipment.__table__.columns}
    first = {**row, "id": uuid7(), "label_subject": uuid.uuid4(), "customer_id": customer,
             "customer_reference": "PO-1"}
    with writing(own_engine) as s:
        s.execute(insert(Shipment), [first])
    with pytest.raises(IntegrityError), writing(own_engine) as s:  # a concurrent intake under the same reference
        s.execute(insert(Shipment), [{**first, "id": uuid7(), "label_subject": uuid.uuid4()}])
    assert _count(own_engine, ShipmentReference, ShipmentReference.customer_id == customer) == 1
    assert _count(own_engine, Shipment, Shipment.customer_reference == "PO-1", Shipment.customer_id == customer) == 1


def test_the_migration_keeps_every_row_down_and_up_again(own_engine: Engine, keyring: Keyring) -> None:
    tenant = Tenant.create(engine=own_engine, keyring=keyring)
    parcels = _parcels(own_engine, keyring, tenant, 3)
    with writing(own_engine) as s:
        log.append(db_session=s, keyring=keyring, carrier_id=tenant.carrier_id,
                   entries=[_entry(core.month_start(THIS, -4) + timedelta(days=2)), _entry(now())])
    url = own_engine.url.render_as_string(hide_password=False)

    def rows() -> tuple[object, ...]:
        with own_engine.connect() as conn:
            return (sorted(conn.execute(text("SELECT id, waybill_no, created_at, sender_name FROM shipments"))),
                    sorted(conn.execute(text("SELECT carrier_id, idx, logged_at, entry FROM audit_entries"))),
                    sorted(conn.execute(text("SELECT id, shipment_id FROM shipment_items"))))

    before = rows()
    assert len(before[0]) == len(parcels) and len(before[2]) == len(parcels)
    command.downgrade(db.alembic_config(url), "0022")
    assert rows() == before
    with own_engine.connect() as conn:
        assert core.existing(conn, SHIPMENTS) == set()
    db.upgrade(url)
    assert rows() == before
    if _pg(own_engine):
        with own_engine.connect() as conn:
            made = core.existing(conn, SHIPMENTS)
            # Parcels were there, with ids made before 0023 could be random ones: every month until the last of
            # them is past its 24 months has its partition, so none of them sits in the DEFAULT blocking one.
            assert {SHIPMENTS.name_of(core.period_of(core.month_start(THIS, n))) for n in range(26)} <= made
            month = core.period_of(core.month_start(THIS, -4))
            assert f"audit_entries_y{month.replace('-', 'm')}" in core.existing(conn, partitions.AUDIT_ENTRIES)
