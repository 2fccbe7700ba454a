"""Retention runs (issue 15) on both engines, with the clock moved forward: nothing goes before its retention is
over; then each class's month is shredded with a signed destruction record in the carrier's log, the gate answers
410 `data_destroyed` (logged), the audit log still verifies, and a second run does nothing; a run that crashes
half-way leaves every month whole or destroyed and the next run finishes it. The command line plans and exports."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable
from datetime import timedelta
from itertools import count

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from parcelguard.audit import export
from parcelguard.audit import service as gate
from parcelguard.audit.models import AuditEntry
from parcelguard.core import db
from parcelguard.core.auth import Role
from parcelguard.core.clock import now
from parcelguard.core.config import encode_root_key
from parcelguard.crypto.keyring import Keyring
from parcelguard.retention import classes, records, service
from parcelguard.shipments.service import Task
from tests.audit.test_gate import RECIPIENT, entries, on_terminal, reveal
from tests.conftest import TEST_ROOT_KEY
from tests.support import parcelguard
from tests.tenants import CANARY, Tenant, writing

SHIPMENT_CLASSES = {classes.RECIPIENT_CONTACT.name, classes.SENDER_CONTACT.name, classes.SENDER_PHONE.name}
LATER = timedelta(days=31 * 25)  # past the 24 months of the electronic waybill, whatever the month


def rows_kept_longer(engine: Engine, keyring: Keyring, tenant: Tenant) -> None:
    """The carrier keeps its parcels' rows 36 months: the shredded values go at 24, the rows stay (what a test of
    shredding looks at: the row is there, its values no longer open)."""
    admin = tenant.actor(Role.ADMIN)  # made first: it writes on a connection of its own
    with writing(engine) as s:
        service.change_months(db_session=s, keyring=keyring, actor=admin, months={classes.WAYBILL_RECORD.name: 36})


def run(engine: Engine, keyring: Keyring, tenant: Tenant, later: timedelta = LATER,
        sessionmaker: Callable[[], Session] | None = None) -> service.Done:
    return service.run(sessionmaker=sessionmaker or db.make_sessionmaker(engine), keyring=keyring,
                       carrier_id=tenant.carrier_id, at=now() + later)


def test_months_go_only_after_their_retention_each_with_a_signed_record(
    engine: Engine, keyring: Keyring, tenant: Tenant
) -> None:
    courier = on_terminal(tenant.actor(Role.COURIER))
    shipment = tenant.shipment(keyring)
    rows_kept_longer(engine, keyring, tenant)
    tenant.assign(shipment, courier, Task.DELIVERY)
    with db.make_sessionmaker(engine)() as s:
        months = service.plan(db_session=s, keyring=keyring, carrier_id=tenant.carrier_id)
    assert {m.data_class for m in months} == SHIPMENT_CLASSES
    assert all(m.months == 24 and not m.due(now() + timedelta(days=31 * 23)) and m.due(now() + LATER)
               for m in months)
    assert run(engine, keyring, tenant, later=timedelta(days=31 * 23)).records == []  # not yet
    assert reveal(engine, keyring, courier, shipment, RECIPIENT, "delivery").fields["recipient_name"] \
        == CANARY.recipient_name

    done = run(engine, keyring, tenant)
    assert sorted(r.body["data_class"] for r in done.records) == sorted(SHIPMENT_CLASSES)
    with db.make_sessionmaker(engine)() as s:
        public = keyring.public_keys(db_session=s, carrier_id=tenant.carrier_id, purpose=records.KEY_PURPOSE)
    logged = {e["subject"]: e for e in entries(engine, tenant.carrier_id) if e["purpose"] == "retention_destroy"}
    for signed in done.records:
        wire = json.loads(json.dumps(signed.wire()))
        assert records.verify(wire, public)
        assert f"destruction:{wire['record']['record_id']}:" in next(iter(s for s in logged if wire["record"][
            "record_id"] in s))
        forged = {**wire, "record": {**wire["record"], "items": {}}}
        assert not records.verify(forged, public)
    recipient = next(r.body for r in done.records if r.body["data_class"] == classes.RECIPIENT_CONTACT.name)
    assert recipient["items"] == {"shipments.recipient_address": 1, "shipments.recipient_name": 1,
                                  "shipments.recipient_phone": 1}
    assert recipient["key_store"] == "database" and len(recipient["shred_key_ids"]) == 1
    assert CANARY.recipient_name not in json.dumps([r.body for r in done.records], ensure_ascii=False)

    # the gate has nothing left to reveal: 410, and the refusal is logged like any other
    before = len(entries(engine, tenant.carrier_id))
    with pytest.raises(gate.DataDestroyed) as gone:
        reveal(engine, keyring, courier, shipment, RECIPIENT, "delivery")
    assert gone.value.status == 410
    last = entries(engine, tenant.carrier_id)
    assert len(last) == before + 1 and (last[-1]["decision"], last[-1]["reason"]) == ("deny", "data_destroyed")

    # the log still verifies: the entries and their hashes stay, and the records are in it
    with db.make_sessionmaker(engine)() as s, s.begin():
        export.snapshot(s)
        report = export.verify_database(db_session=s, keyring=keyring, carrier_id=tenant.carrier_id)
    assert report.line().startswith("ok"), report.line()

    assert run(engine, keyring, tenant).records == []  # idempotent
    with db.make_sessionmaker(engine)() as s:
        assert service.plan(db_session=s, keyring=keyring, carrier_id=tenant.carrier_id) == []


def test_a_run_that_crashes_half_way_is_finished_by_the_next(engine: Engine, keyring: Keyring, tenant: Tenant) -> None:
    courier = on_terminal(tenant.actor(Role.COURIER))
    shipment = tenant.shipment(keyring)
    rows_kept_longer(engine, keyring, tenant)
    tenant.assign(shipment, courier, Task.DELIVERY)
    sessions = count()
    plain = db.make_sessionmaker(engine)

    def dies_at_the_third_session() -> Session:  # the plan, one month, then the process dies
        if next(sessions) == 2:
            raise RuntimeError("the process was killed")
        return plain()

    with pytest.raises(RuntimeError):
        run(engine, keyring, tenant, sessionmaker=dies_at_the_third_session)
    with db.make_sessionmaker(engine)() as s:
        left = service.plan(db_session=s, keyring=keyring, carrier_id=tenant.carrier_id)
        destroyed = list(s.scalars(select(AuditEntry.subject).where(AuditEntry.carrier_id == tenant.carrier_id,
                                                                     AuditEntry.purpose == "retention_destroy")))
    assert len(destroyed) == 1 and len(left) == 2  # one month done with its record, two whole
    finished = run(engine, keyring, tenant)
    assert len(finished.records) == 2
    with db.make_sessionmaker(engine)() as s:
        all_records = records.listed(db_session=s, carrier_id=tenant.carrier_id)
    assert sorted(r.body["data_class"] for r in all_records) == sorted(SHIPMENT_CLASSES)


def test_the_command_line_plans_and_exports(engine: Engine, keyring: Keyring, tenant: Tenant, database_url: str,
                                           tmp_path: object) -> None:
    tenant.shipment(keyring)
    rows_kept_longer(engine, keyring, tenant)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARCELGUARD_")}
    env.update(PARCELGUARD_DATABASE_URL=database_url, PARCELGUARD_ROOT_KEY=encode_root_key(TEST_ROOT_KEY),
               COLUMNS="200")
    at = (now() + LATER).isoformat()
    planned = parcelguard("retention", "plan", "--carrier", tenant.slug, "--at", at, env=env)
    assert planned.returncode == 0, planned.stderr
    due = {line.split()[1] for line in planned.stdout.splitlines() if "yes" in line}
    assert due == SHIPMENT_CLASSES | {classes.SCAN_EVENT.name, classes.REALNAME_RECORD.name, classes.CALL_RECORD.name,
                                      classes.INSPECTION_PHOTO.name}, planned.stdout  # the parcel's row: 36 months
    assert classes.WAYBILL_RECORD.name in planned.stdout
    assert "PARCELGUARD_KEYSTORE_URL" in planned.stdout  # the operator is told backups are not reached
    naive = parcelguard("retention", "plan", "--carrier", tenant.slug, "--at", "2029-01-01T00:00:00", env=env)
    assert naive.returncode != 0 and "offset" in naive.stderr
    run(engine, keyring, tenant)
    exported = parcelguard("retention", "records", "--carrier", tenant.slug, env=env)
    lines = [json.loads(line) for line in exported.stdout.splitlines()]
    assert len(lines) == 3 and all(uuid.UUID(line["record"]["record_id"]) for line in lines)
    with db.make_sessionmaker(engine)() as s:
        public = keyring.public_keys(db_session=s, carrier_id=tenant.carrier_id, purpose=records.KEY_PURPOSE)
    assert all(records.verify(line, public) for line in lines)
