"""The carrier side of the regulator feed without a regulator: what waits, what a failed send leaves
(everything), the backoff, the delay alert and the metrics; on both engines."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import timedelta

import httpx
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr
from sqlalchemy import Engine, select, update

from parcelguard.audit.models import Alert
from parcelguard.core import db
from parcelguard.core.auth import Role
from parcelguard.core.config import Settings, encode_root_key
from parcelguard.identity.models import RealNameRecord
from parcelguard.regulator import flows, service
from parcelguard.regulator.models import OutboxEntry, UploadBatch
from parcelguard.regulator.uploader import Uploader
from parcelguard.shipments import flows as intake
from parcelguard.shipments import service as shipments
from parcelguard.web.app import create_app
from tests.conftest import TEST_ROOT_KEY
from tests.servers import TEST_REGULATOR_PUBLIC, app_in_thread, free_port
from tests.tenants import Tenant, writing


def take_in(engine: Engine, keyring, tenant: Tenant, n: int) -> list[uuid.UUID]:  # type: ignore[no-untyped-def]
    courier = dataclasses.replace(tenant.actor(Role.COURIER), terminal_id=uuid.uuid4())
    request = intake.IntakeRequest(
        sender_document=intake.SenderDocument("resident_id", "11010519491231002X", "欧阳寄件人"),
        sender_phone="13911112222", sender_address="北京市朝阳区寄件路1号", recipient_name="司马收件人",
        recipient_phone="13733334444", recipient_region=shipments.Region("上海市", "上海市", "浦东新区"),
        recipient_detail="收件大道9号", items=[shipments.Item("羽绒服", "clothing", 1)])
    with writing(engine) as s:
        done = intake.take_in_batch(db_session=s, keyring=keyring, actor=courier, requests=[request] * n,
                                    regulator_public_key=TEST_REGULATOR_PUBLIC)
    return [d.shipment_id for d in done]  # type: ignore[union-attr]


def outbox(engine: Engine, carrier: uuid.UUID) -> list:
    with engine.connect() as conn:
        return conn.execute(select(OutboxEntry).where(OutboxEntry.carrier_id == carrier)).all()


def test_a_regulator_that_cannot_be_reached_changes_nothing_but_the_attempt_count(
    engine: Engine, keyring, tenant: Tenant  # type: ignore[no-untyped-def]
) -> None:
    take_in(engine, keyring, tenant, 3)
    uploader = Uploader(sessionmaker=db.make_sessionmaker(engine), keyring=keyring,
                        url=f"http://127.0.0.1:{free_port()}", receipt_keys={}, timeout=2)
    try:
        sent = uploader.send(tenant.carrier_id)
    finally:
        uploader.close()
    assert (sent.records, sent.delivered, sent.error) == (3, 0, "regulator_unreachable")
    rows = outbox(engine, tenant.carrier_id)
    assert [(r.delivered_at, r.attempts, r.last_error) for r in rows] == [(None, 1, "regulator_unreachable")] * 3
    with engine.connect() as conn:
        seals = conn.execute(select(RealNameRecord.sealed).where(RealNameRecord.carrier_id == tenant.carrier_id))
        assert all(s is not None for s in seals.scalars())
        batch = conn.execute(select(UploadBatch).where(UploadBatch.carrier_id == tenant.carrier_id)).one()
    assert (batch.outcome, batch.records, batch.accepted, batch.error) == ("failed", 3, 0, "regulator_unreachable")


@given(st.integers(min_value=0, max_value=60), st.floats(min_value=0.5, max_value=120))
def test_the_backoff_grows_and_never_passes_its_ceiling(failures: int, ceiling: float) -> None:
    uploader = Uploader(sessionmaker=lambda: None, keyring=None, url="http://127.0.0.1:1",  # type: ignore[arg-type]
                        receipt_keys={}, backoff_max=ceiling)
    uploader.failures_in_a_row = failures
    waits = [uploader.backoff() for _ in range(20)]
    assert all(0 <= w <= min(ceiling, 0.5 * 2 ** max(0, failures - 1)) for w in waits)
    uploader.close()


def test_records_waiting_past_the_rule_raise_one_alert_per_period(
    engine: Engine, keyring, tenant: Tenant  # type: ignore[no-untyped-def]
) -> None:
    take_in(engine, keyring, tenant, 2)
    sessions = db.make_sessionmaker(engine)
    with sessions() as s:
        oldest = min(r.created_at for r in outbox(engine, tenant.carrier_id))
        assert not [w for w in flows.late(db_session=s, threshold_seconds=30, at=oldest + timedelta(seconds=29))
                    if w.carrier_id == tenant.carrier_id]
        late = [w for w in flows.late(db_session=s, threshold_seconds=30, at=oldest + timedelta(seconds=31))
                if w.carrier_id == tenant.carrier_id]
    assert [(w.records, w.oldest) for w in late] == [(2, oldest)]
    for _ in range(2):
        with writing(engine) as s:
            flows.raise_delay_alerts(db_session=s, late=late, at=oldest + timedelta(seconds=31))
    with engine.connect() as conn:
        alerts = conn.execute(select(Alert).where(Alert.carrier_id == tenant.carrier_id)).all()
    assert [(a.kind, a.detail["records_pending"]) for a in alerts] == [("upload_delayed", 2)]


def test_metrics_show_what_waits_in_the_prometheus_format(fresh_url: str, keyring) -> None:  # type: ignore[no-untyped-def]
    db.upgrade(fresh_url)
    engine = db.make_engine(fresh_url)
    try:
        tenant = Tenant.create(engine=engine, keyring=keyring)
        take_in(engine, keyring, tenant, 4)
        with writing(engine) as s:
            service.record_batch(db_session=s, carrier_id=tenant.carrier_id, batch_id=uuid.uuid4(),
                                 sent_at=min(r.created_at for r in outbox(engine, tenant.carrier_id)), records=4,
                                 outcome="failed", error="regulator_unreachable")
        settings = Settings(database_url=fresh_url, root_key=SecretStr(encode_root_key(TEST_ROOT_KEY)),
                            regulator_public_key=encode_root_key(TEST_REGULATOR_PUBLIC))
        with app_in_thread(create_app(settings)) as url:
            r = httpx.get(f"{url}/metrics")
    finally:
        engine.dispose()
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain; version=0.0.4")
    lines = dict(line.rsplit(" ", 1) for line in r.text.splitlines() if not line.startswith("#"))
    assert lines["parcelguard_regulator_records_pending"] == "4"
    assert float(lines["parcelguard_regulator_oldest_unsent_seconds"]) >= 0
    assert lines['parcelguard_regulator_batches_total{outcome="failed"}'] == "1"
    assert lines['parcelguard_regulator_batches_total{outcome="receipted"}'] == "0"
    assert "# TYPE parcelguard_regulator_records_pending gauge" in r.text


def test_a_record_whose_seal_is_gone_is_marked_delivered_not_sent_again(
    engine: Engine, keyring, tenant: Tenant  # type: ignore[no-untyped-def]
) -> None:
    take_in(engine, keyring, tenant, 3)
    first = outbox(engine, tenant.carrier_id)[0].record_id
    with engine.begin() as conn:  # as after a receipt another uploader applied
        conn.execute(update(RealNameRecord).where(RealNameRecord.id == first).values(sealed=None))
    with writing(engine) as s:
        outgoing = flows.build_batch(db_session=s, keyring=keyring, carrier_id=tenant.carrier_id, limit=10)
    assert outgoing is not None and first not in {r.record_id for r in outgoing.batch.records}
    assert len(outgoing.batch.records) == 2
    assert [r.delivered_at is not None for r in outbox(engine, tenant.carrier_id) if r.record_id == first] == [True]
