"""Received records partitioned by month of `taken_at` on PostgreSQL (issue 17), an ordinary table on SQLite: the
migration with rows present, down and up again; the partitions made ahead; a record sent again months later stored
once; retention dropping a whole month's partition with the right count in its signed record."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine, func, insert, inspect, select, text

from parcelguard.core import db
from parcelguard.core.clock import now
from parcelguard.regulator.platform import partitions, retention, service
from parcelguard.regulator.platform.keys import PlatformKeys
from parcelguard.regulator.platform.migrations import MIGRATIONS_DIR
from parcelguard.regulator.platform.models import ReceivedBatch, ReceivedRecord
from tests.regulator.conftest import Carrier, register
from tests.support import ENGINES, empty_database, require_engine


@pytest.fixture(params=ENGINES)
def own_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty platform database of this test's own (no schema)."""
    require_engine(request.param)
    with empty_database(request.param, tmp_path) as url:
        yield url


def _month_ago(months: int) -> datetime:
    return partitions.month_start(partitions.period_of(now()), -months) + timedelta(days=3, hours=5)


def _ingest(engine: Engine, keys: PlatformKeys, carrier: Carrier, *taken: datetime) -> list[uuid.UUID]:
    records = [dataclasses.replace(carrier.record(), taken_at=at) for at in taken]
    with db.make_sessionmaker(engine)() as s, s.begin():
        receipt = service.ingest(db_session=s, keys=keys, batch_wire=carrier.batch(records))
    assert receipt["rejected"] == []
    return [r.record_id for r in records]


def _rows_as_at_0007(engine: Engine, carrier: Carrier, *taken: datetime) -> None:
    """Rows as platform_0007 stored them (today's ingest writes by the new primary key)."""
    batch_id = uuid.uuid4()
    with engine.begin() as conn:
        conn.execute(insert(ReceivedBatch.__table__).values(
            carrier_id=carrier.id, batch_id=batch_id, key_id=carrier.key_id, sent_at=now(), received_at=now(),
            record_count=len(taken), accepted_count=len(taken)))
        conn.execute(insert(ReceivedRecord.__table__), [{
            "carrier_id": carrier.id, "record_id": uuid.uuid4(), "batch_id": batch_id, "waybill_no": f"W{i}",
            "station": "DE-BJ-CY01", "region": "110105", "doc_type": "resident_id", "taken_at": at,
            "received_at": now(), "document_index": bytes(17), "responsible_index": None, "payload": b"x",
            "record_digest": bytes(32)} for i, at in enumerate(taken)])


def _partitions(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return partitions.existing(conn)


def _rows(engine: Engine) -> list[tuple[object, ...]]:
    with engine.connect() as conn:
        return sorted(tuple(r) for r in conn.execute(text(
            "SELECT carrier_id, record_id, taken_at, waybill_no, record_digest FROM received_records")))


def _primary_key(engine: Engine) -> list[str]:
    return inspect(engine).get_pk_constraint("received_records")["constrained_columns"]


def test_the_migration_keeps_every_row_down_and_up_again(own_url: str, platform_keys: PlatformKeys) -> None:
    db.upgrade(own_url, "platform_0007", script_location=MIGRATIONS_DIR)
    engine = db.make_engine(own_url)
    try:
        carrier = register(engine)
        _rows_as_at_0007(engine, carrier, _month_ago(5), _month_ago(5), _month_ago(1), now())
        before = _rows(engine)
        assert len(before) == 4 and _primary_key(engine) == ["carrier_id", "record_id"]

        db.upgrade(own_url, script_location=MIGRATIONS_DIR)
        assert _rows(engine) == before and _primary_key(engine) == ["carrier_id", "record_id", "taken_at"]
        if engine.dialect.name == "postgresql":
            months = {partitions.name_of(partitions.period_of(_month_ago(n))) for n in (5, 1, 0, -1)}
            assert _partitions(engine) == months | {partitions.DEFAULT}
            with engine.connect() as conn:
                assert conn.scalar(text(f"SELECT count(*) FROM {partitions.name_of(partitions.period_of(_month_ago(5)))}")) == 2
                assert conn.scalar(text(f"SELECT count(*) FROM {partitions.DEFAULT}")) == 0
        else:
            assert _partitions(engine) == set()

        command.downgrade(db.alembic_config(own_url, MIGRATIONS_DIR), "platform_0007")
        assert _rows(engine) == before and _primary_key(engine) == ["carrier_id", "record_id"]
        assert not _partitions(engine)
        db.upgrade(own_url, script_location=MIGRATIONS_DIR)
        assert _rows(engine) == before and _primary_key(engine) == ["carrier_id", "record_id", "taken_at"]
    finally:
        engine.dispose()


def test_partitions_are_made_ahead_once_and_take_over_the_default_partitions_rows(
    own_url: str, platform_keys: PlatformKeys
) -> None:
    db.upgrade(own_url, script_location=MIGRATIONS_DIR)
    engine = db.make_engine(own_url)
    try:
        carrier = register(engine)
        later = partitions.month_start(partitions.period_of(now()), 4) + timedelta(days=1)  # no partition yet
        [early] = _ingest(engine, platform_keys, carrier, later)
        if engine.dialect.name != "postgresql":
            assert partitions.ensure_partitions(engine) == []
            return
        with engine.connect() as conn:
            assert conn.scalar(text(f"SELECT count(*) FROM {partitions.DEFAULT}")) == 1
        made = partitions.ensure_partitions(engine, months_ahead=5)
        this = partitions.period_of(now())  # the migration made this month's and the next
        assert made == [partitions.name_of(partitions.period_of(partitions.month_start(this, n))) for n in range(2, 6)]
        assert partitions.ensure_partitions(engine, months_ahead=5) == []  # idempotent
        with engine.connect() as conn:
            assert conn.scalar(text(f"SELECT count(*) FROM {partitions.DEFAULT}")) == 0
            assert conn.scalar(text(f"SELECT record_id FROM {partitions.name_of(partitions.period_of(later))}")) == early
    finally:
        engine.dispose()


def test_a_record_sent_again_months_later_is_stored_once(platform_engine: Engine, platform_keys: PlatformKeys) -> None:
    carrier = register(platform_engine)
    record = dataclasses.replace(carrier.record(), taken_at=_month_ago(3))
    sessions = db.make_sessionmaker(platform_engine)
    for _ in range(2):
        with sessions() as s, s.begin():
            receipt = service.ingest(db_session=s, keys=platform_keys, batch_wire=carrier.batch([record]))
        assert receipt["accepted"] == [str(record.record_id)]
    # the same id with another taken_at is another record's contents: rejected, not stored beside it
    moved = dataclasses.replace(record, taken_at=_month_ago(1))
    with sessions() as s, s.begin():
        receipt = service.ingest(db_session=s, keys=platform_keys, batch_wire=carrier.batch([moved]))
    assert receipt["rejected"] == [{"record_id": str(record.record_id), "reason": "record_conflict"}]
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(ReceivedRecord)
                        .where(ReceivedRecord.record_id == record.record_id)) == 1


def test_retention_drops_a_whole_months_partition_and_counts_its_rows(own_url: str,
                                                                      platform_keys: PlatformKeys) -> None:
    db.upgrade(own_url, script_location=MIGRATIONS_DIR)
    engine = db.make_engine(own_url)
    sessions = db.make_sessionmaker(engine)
    try:
        carrier = register(engine)
        unpartitioned, old, kept = _month_ago(4), _month_ago(3), _month_ago(2)  # the first has no partition
        if engine.dialect.name == "postgresql":
            for period in (partitions.period_of(old), partitions.period_of(kept)):
                with engine.begin() as conn:
                    partitions.create_month(conn, period)
        _ingest(engine, platform_keys, carrier, unpartitioned, unpartitioned, old, old, old, kept)
        expires = partitions.month_start(partitions.period_of(old), 1 + 24)

        done = retention.run(sessionmaker=sessions, keys=platform_keys, at=expires)
        assert [(w["record"]["period"], w["record"]["records_deleted"]) for w in done] == [
            (partitions.period_of(unpartitioned), 2), (partitions.period_of(old), 3)]
        assert all(retention.verify(w, platform_keys.receipt_public_key) for w in done)
        with sessions() as s:
            assert s.scalars(select(ReceivedRecord.taken_at)).all() == [kept]
        if engine.dialect.name == "postgresql":
            with engine.connect() as conn:
                assert conn.scalar(text("SELECT to_regclass(:t)"), {"t": partitions.name_of(partitions.period_of(old))}) is None
                assert conn.scalar(text(f"SELECT count(*) FROM {partitions.name_of(partitions.period_of(kept))}")) == 1
                assert conn.scalar(text(f"SELECT count(*) FROM {partitions.DEFAULT}")) == 0
            assert partitions.name_of(partitions.period_of(kept)) in _partitions(engine)
        assert retention.run(sessionmaker=sessions, keys=platform_keys, at=expires) == []
    finally:
        engine.dispose()
