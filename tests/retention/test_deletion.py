"""Row deletion (issue 15) on both engines, with the clock moved forward: the classes whose rows go (calls, photos'
rows, scan events, real-name records, registrations, the parcel's own row) go month by month when their retention
is over, each month with a signed destruction record counting rows per table; a parcel under a legal hold in force
and a decoy stay; running again does nothing. And every foreign key into a table deleted here is covered by a step,
so no deletion can be refused half-way by the database."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

from sqlalchemy import Engine, func, select, update

from parcelguard.audit.models import Case
from parcelguard.core import db
from parcelguard.core.auth import Role
from parcelguard.core.clock import now
from parcelguard.core.db import Base
from parcelguard.core.errors import Invalid
from parcelguard.crypto.keyring import Keyring
from parcelguard.identity.models import RealNameRecord, RegistrationCode, SenderRegistration
from parcelguard.privacy_numbers.models import CallRecord, NumberBinding
from parcelguard.regulator.models import OutboxEntry
from parcelguard.retention import classes, deletion, records, service
from parcelguard.retention.models import LegalHold
from parcelguard.shipments.models import Honeytoken, InspectionPhoto, Shipment, ShipmentItem
from parcelguard.shipments.service import Task
from parcelguard.tracking.models import ScanEvent
from parcelguard.waybills import service as waybills
from tests.privacy_numbers.pool import add_pool, bind
from tests.tenants import Tenant, writing

MONTH = timedelta(days=31)


def test_every_foreign_key_into_a_deleted_table_is_deleted_first_or_kept_by_the_anchor() -> None:
    import parcelguard.tables  # noqa: F401  (every domain's tables)

    kept_by_anchor = {"honeytokens", "legal_holds"}  # a decoy's parcel, a parcel held in force: never an anchor id
    for name, groups in deletion.STEPS.items():
        for anchor, steps in groups:
            for i, step in enumerate(steps):
                earlier = {s.table for s in steps[:i]}
                for table in Base.metadata.sorted_tables:
                    for fk in table.foreign_keys:
                        if fk.column.table.name != step.table or table.name == step.table:
                            continue
                        covered = table.name in earlier or (anchor is deletion.PARCEL and step.table == "shipments"
                                                            and table.name in kept_by_anchor)
                        if step.where is not None:  # only some rows go: what points at them must go first
                            covered = table.name in earlier
                        assert covered, f"{name}: {table.name}.{fk.parent.name} points at {step.table}"
    assert set(deletion.STEPS) == {c.name for c in classes.CLASSES.values() if c.mechanism == "delete"
                                   and c is not classes.REGULATOR_RECORD} | {classes.INSPECTION_PHOTO.name,
                                                                           classes.REALNAME_REGISTRATION.name}


def _parcel(engine: Engine, keyring: Keyring, tenant: Tenant) -> uuid.UUID:
    """A parcel with something of every class hanging on it: an item, an assignment, two scans, a released
    number binding with a call through it, an inspection photo, its real-name record in the outbox."""
    shipment = tenant.shipment(keyring)
    courier = tenant.actor(Role.COURIER)
    tenant.assign(shipment, courier, Task.PICKUP)
    bound = bind(engine, tenant, [shipment])[shipment]
    with writing(engine) as s:
        binding = s.scalar(select(NumberBinding).where(NumberBinding.shipment_id == shipment))
        assert binding is not None and bound is not None
        binding.released_at = now()
        s.add_all([ScanEvent(carrier_id=tenant.carrier_id, shipment_id=shipment, event=e, actor_id=courier.user_id)
                   for e in ("picked_up", "sorted")])
        s.add(CallRecord(carrier_id=tenant.carrier_id, provider_call_id=uuid.uuid4().hex, binding_id=binding.id,
                         shipment_id=shipment, started_at=now(), outcome="answered"))
        s.add(InspectionPhoto(carrier_id=tenant.carrier_id, shipment_id=shipment, content_type="image/jpeg", size=3,
                              image=b"\xff\xd8\xff", taken_by=courier.user_id))
        s.add(ShipmentItem(shipment_id=shipment, category="books", description=b"x", quantity=1))
        record = RealNameRecord(carrier_id=tenant.carrier_id, shipment_id=shipment, doc_type="resident_id",
                                doc_masked="1101**********0011", name_masked="张*", blind_index=b"\x01" * 32,
                                sealed=b"sealed", seal_context="test")
        s.add(record)
        s.flush()
        s.add(OutboxEntry(carrier_id=tenant.carrier_id, record_id=record.id, delivered_at=now()))
    return shipment


def _rows(engine: Engine, model: type[Base], shipment: uuid.UUID) -> int:
    column = model.id if model is Shipment else model.shipment_id  # type: ignore[attr-defined]
    with engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(model).where(column == shipment)) or 0)


def _run(engine: Engine, keyring: Keyring, tenant: Tenant, later: timedelta) -> list[records.Signed]:
    return service.run(sessionmaker=db.make_sessionmaker(engine), keyring=keyring, carrier_id=tenant.carrier_id,
                       at=now() + later).records


def test_rows_go_by_their_class_month_with_records_and_held_or_decoy_parcels_stay(
    engine: Engine, keyring: Keyring, tenant: Tenant
) -> None:
    add_pool(engine, tenant, 3)
    parcel, held, decoy = (_parcel(engine, keyring, tenant) for _ in range(3))
    officer = tenant.actor(Role.HQ_SECURITY)
    with writing(engine) as s:
        case_id = uuid.uuid4()
        s.add(Case(id=case_id, carrier_id=tenant.carrier_id, reference=f"R-{case_id.hex[:6]}",
                                summary="held", opened_by=officer.user_id))
        s.flush()
        s.add(LegalHold(carrier_id=tenant.carrier_id, case_id=case_id, shipment_id=held, moved_period="2026-01",
                        placed_by=officer.user_id))
        s.add(Honeytoken(shipment_id=decoy, carrier_id=tenant.carrier_id))
        registration = SenderRegistration(carrier_id=tenant.carrier_id, doc_type="resident_id", doc_masked="1101**",
                                          name_masked="李*", blind_index=b"\x02" * 32, sealed=b"s", name=b"n",
                                          phone=b"p")
        s.add(registration)
        s.flush()
        s.add(RegistrationCode(registration_id=registration.id, code_mac=b"\x03" * 32, sent_at=now(),
                               expires_at=now()))
        s.add(CallRecord(carrier_id=tenant.carrier_id, provider_call_id=uuid.uuid4().hex, started_at=now(),
                         outcome="no_answer"))  # a call no parcel was found for

    with db.make_sessionmaker(engine)() as s:
        planned = {m.data_class: m for m in service.row_plan(db_session=s, carrier_id=tenant.carrier_id)}
    assert planned[classes.CALL_RECORD.name].months == 6 and planned[classes.WAYBILL_RECORD.name].months == 24
    assert not planned[classes.CALL_RECORD.name].due(now() + 5 * MONTH)
    assert planned[classes.CALL_RECORD.name].due(now() + 7 * MONTH)

    assert [r for r in _run(engine, keyring, tenant, 5 * MONTH) if r.body["mechanism"] == "delete"] == []

    # 7 months on: calls, released bindings and the photos' rows (6 months) go; the parcel and its scans stay
    went = {r.body["data_class"]: r.body for r in _run(engine, keyring, tenant, 7 * MONTH)}
    assert went[classes.CALL_RECORD.name]["items"] == {"call_records": 2, "number_bindings": 1}  # 1 + unmatched
    assert went[classes.CALL_RECORD.name]["mechanism"] == "delete"
    assert went[classes.INSPECTION_PHOTO.name]["items"] == {"inspection_photos": 1}
    assert (_rows(engine, CallRecord, parcel), _rows(engine, NumberBinding, parcel)) == (0, 0)
    assert (_rows(engine, CallRecord, held), _rows(engine, InspectionPhoto, held)) == (1, 1)  # held: untouched
    assert (_rows(engine, ScanEvent, parcel), _rows(engine, Shipment, parcel)) == (2, 1)
    # the registration (12 months) stays
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(SenderRegistration)
                           .where(SenderRegistration.id == registration.id)) == 1

    # 13 months on: the registration and its codes
    went = {r.body["data_class"]: r.body for r in _run(engine, keyring, tenant, 13 * MONTH)}
    assert went[classes.REALNAME_REGISTRATION.name]["items"] == {"realname_codes": 1, "realname_registrations": 1}

    # 25 months on: the parcel, with everything that still hung on it; the held parcel and the decoy stay
    done = _run(engine, keyring, tenant, 25 * MONTH)
    went = {r.body["data_class"]: r.body for r in done if r.body["mechanism"] == "delete"}
    assert went[classes.SCAN_EVENT.name]["items"] == {"scan_events": 2}
    assert went[classes.REALNAME_RECORD.name]["items"] == {"realname_records": 1, "regulator_outbox": 1}
    assert went[classes.WAYBILL_RECORD.name]["items"] == {"shipments": 1, "shipment_items": 1,
                                                          "shipment_assignments": 1}
    for model in (Shipment, ScanEvent, RealNameRecord, ShipmentItem):
        assert _rows(engine, model, parcel) == 0, model
    for kept in (held, decoy):
        assert (_rows(engine, Shipment, kept), _rows(engine, ScanEvent, kept)) == (1, 2)
    assert "张" not in json.dumps([r.body for r in done], ensure_ascii=False)
    with db.make_sessionmaker(engine)() as s:
        public = keyring.public_keys(db_session=s, carrier_id=tenant.carrier_id, purpose=records.KEY_PURPOSE)
    assert all(records.verify(json.loads(json.dumps(r.wire())), public) for r in done)
    assert _run(engine, keyring, tenant, 25 * MONTH) == []  # idempotent

    # the case's hold released: the held parcel goes whole at the next run
    with writing(engine) as s:
        s.execute(update(LegalHold).where(LegalHold.case_id == case_id).values(released_at=now(),
                                                                                released_by=officer.user_id))
    went = {r.body["data_class"]: r.body for r in _run(engine, keyring, tenant, 25 * MONTH)}
    assert went[classes.WAYBILL_RECORD.name]["items"] == {
        "call_records": 1, "inspection_photos": 1, "legal_holds": 1, "number_bindings": 1, "realname_records": 1,
        "regulator_outbox": 1, "scan_events": 2, "shipment_assignments": 1, "shipment_items": 1, "shipments": 1}
    assert _rows(engine, Shipment, held) == 0 and _rows(engine, Shipment, decoy) == 1


def test_a_label_key_version_goes_when_its_month_is_over_and_its_tokens_stop_verifying(
    engine: Engine, keyring: Keyring, tenant: Tenant
) -> None:
    subject = uuid.uuid4()
    with writing(engine) as s:
        old = waybills.label_token(db_session=s, keyring=keyring, carrier_id=tenant.carrier_id, subject=subject)
    with writing(engine) as s:  # what last month's run did: a new version became primary
        keyring.rotate_signing_key(db_session=s, carrier_id=tenant.carrier_id, purpose=waybills.LABEL_TOKEN_PURPOSE)
        new = waybills.label_token(db_session=s, keyring=keyring, carrier_id=tenant.carrier_id, subject=subject)

    def found(token: str) -> uuid.UUID | str:
        with db.make_sessionmaker(engine)() as s:
            try:
                return waybills.label_subject(db_session=s, keyring=keyring, carrier_id=tenant.carrier_id,
                                              token=token, any_age=True)
            except Invalid as refused:
                return refused.code

    assert found(old) == found(new) == subject
    with db.make_sessionmaker(engine)() as s:
        planned = [m for m in service.row_plan(db_session=s, carrier_id=tenant.carrier_id)
                   if m.data_class == classes.LABEL_TOKEN.name]
    assert len(planned) == 1 and planned[0].mechanism == "expire" and not planned[0].due(now() + 23 * MONTH)
    assert [r for r in _run(engine, keyring, tenant, 23 * MONTH) if r.body["data_class"] == "label_token"] == []
    assert found(old) == subject

    went = [r.body for r in _run(engine, keyring, tenant, 25 * MONTH) if r.body["data_class"] == "label_token"]
    assert len(went) == 1 and went[0]["mechanism"] == "expire" and went[0]["items"] == {"crypto_signing_keys": 1}
    assert found(old) == "token_signature"  # its key is gone: the found label no longer names the parcel
    assert found(new) == subject  # the version still signing stays
    assert [r for r in _run(engine, keyring, tenant, 25 * MONTH) if r.body["data_class"] == "label_token"] == []
