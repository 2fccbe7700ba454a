"""The regulator platform's own retention (issue 15) on both engines, with the clock moved forward: records are
stored under their month's record key; past the retention the month is destroyed (keys, rows) with a destruction
record signed by the platform's key; a lookup then finds nothing; a second run does nothing."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, text

from parcelguard.core import db
from parcelguard.core.auth import Actor, Role
from parcelguard.core.clock import now
from parcelguard.crypto.keystore import Separate
from parcelguard.crypto.types import DecryptionFailed
from parcelguard.regulator.platform import officials, record_keys, retention, service
from parcelguard.regulator.platform.keys import MONTH_FORMAT, PlatformKeys
from parcelguard.regulator.platform.migrations import MIGRATIONS_DIR
from parcelguard.regulator.platform.models import ReceivedRecord, RecordKey
from tests.crypto.test_shredding import backup
from tests.regulator.conftest import (
    TEST_PLATFORM_ROOT_KEY,
    TEST_RECEIPT_SEED,
    TEST_REGULATOR_PRIVATE,
    Carrier,
    register,
)
from tests.support import ENGINES, empty_database, require_engine


@pytest.fixture(params=ENGINES)
def own_platform(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A platform database of this test's own: a run destroys every carrier's month in it."""
    require_engine(request.param)
    with empty_database(request.param, tmp_path) as url:
        db.upgrade(url, script_location=MIGRATIONS_DIR)
        yield url


def test_a_month_past_its_retention_is_destroyed_with_a_signed_record(own_platform: str,
                                                                       platform_keys: PlatformKeys) -> None:
    engine = db.make_engine(own_platform)
    sessions = db.make_sessionmaker(engine)
    try:
        with sessions() as s, s.begin():
            person = officials.add_official(db_session=s, username="retention-official", display_name="监管员",
                                            password="correct horse battery")
        official = Actor(user_id=person.id, username=person.username, role=Role.REGULATOR, carrier_id=None,
                         station_id=None, token_id=uuid.uuid4())
        carrier: Carrier = register(engine)
        record = carrier.record()
        with sessions() as s, s.begin():
            receipt = service.ingest(db_session=s, keys=platform_keys, batch_wire=carrier.batch([record]))
        assert receipt["accepted"] == [str(record.record_id)]
        with sessions() as s:
            assert s.scalar(select(ReceivedRecord.payload))[0] == MONTH_FORMAT
            [month] = retention.plan(db_session=s)
        assert month.period == now().strftime("%Y-%m") and month.live_keys == 1
        assert retention.run(sessionmaker=sessions, keys=platform_keys, at=now() + timedelta(days=31 * 23)) == []
        with sessions() as s, s.begin():
            found = service.lookup_by_waybill(db_session=s, keys=platform_keys, actor=official,
                                              waybill_no=record.waybill_no, purpose="test")
        assert [r.record_id for r in found.records] == [record.record_id] and found.records[0].payload["name"]

        [done] = retention.run(sessionmaker=sessions, keys=platform_keys, at=now() + timedelta(days=31 * 25))
        body = done["record"]
        assert (body["period"], body["records_deleted"], len(body["record_key_ids"])) == (month.period, 1, 1)
        assert retention.verify(json.loads(json.dumps(done)), platform_keys.receipt_public_key)
        assert not retention.verify({**done, "record": {**body, "records_deleted": 0}}, platform_keys.receipt_public_key)
        with sessions() as s, s.begin():
            assert s.scalar(select(func.count()).select_from(ReceivedRecord)) == 0
            assert s.scalar(select(RecordKey.wrapped_key)) is None
            again = service.lookup_by_waybill(db_session=s, keys=platform_keys, actor=official,
                                              waybill_no=record.waybill_no, purpose="test")
            assert again.records == []
            assert [w["record"]["record_id"] for w in retention.records(db_session=s)] == [body["record_id"]]
        assert retention.run(sessionmaker=sessions, keys=platform_keys, at=now() + timedelta(days=31 * 25)) == []
    finally:
        engine.dispose()


def _opens_in_backup(url: str, keys: PlatformKeys, tmp_path: Path) -> tuple[bool, bool]:
    """Take a record in, back the platform database up, destroy the month: whether the live database and the
    backup then open the record (with the same keys and key store, as a thief holding both would)."""
    engine = db.make_engine(url)
    sessions = db.make_sessionmaker(engine)
    try:
        carrier: Carrier = register(engine)
        record = carrier.record()
        with sessions() as s, s.begin():
            service.ingest(db_session=s, keys=keys, batch_wire=carrier.batch([record]))
        engine.dispose()  # PostgreSQL copies a template only when no one is connected to it
        copies = backup(url, tmp_path)
        copy = db.make_engine(next(copies))
        try:
            retention.run(sessionmaker=sessions, keys=keys, at=now() + timedelta(days=31 * 25))
            return _opens(engine, keys, record.record_id), _opens(copy, keys, record.record_id)
        finally:
            copy.dispose()
            next(copies, None)
    finally:
        engine.dispose()


def _opens(engine: Engine, keys: PlatformKeys, record_id: uuid.UUID) -> bool:
    with db.make_sessionmaker(engine)() as s:
        row = s.scalar(select(ReceivedRecord).where(ReceivedRecord.record_id == record_id))
        if row is None:
            return False
        try:
            keys.decrypt_record(row.carrier_id, row.record_id, row.payload,
                                month_key=record_keys.reader(db_session=s, keys=keys))
        except DecryptionFailed:
            return False
        return True


def test_with_a_key_store_of_its_own_a_backup_taken_before_no_longer_opens_the_month(
    own_platform: str, platform_keys: PlatformKeys, tmp_path: Path
) -> None:
    kind = "postgresql" if own_platform.startswith("postgresql") else "sqlite"
    with empty_database(kind, tmp_path) as store_url:
        store = Separate(store_url)
        try:
            keys = PlatformKeys(private_key=TEST_REGULATOR_PRIVATE, signing_key=TEST_RECEIPT_SEED,
                                root_key=TEST_PLATFORM_ROOT_KEY, keystore=store)
            assert _opens_in_backup(own_platform, keys, tmp_path) == (False, False)
            with store.engine.connect() as conn:  # no row of the key is left, and the platform's rows say so
                assert conn.scalar(text("SELECT count(*) FROM shred_keys")) == 0
            with db.make_engine(own_platform).connect() as conn:
                assert conn.scalar(select(func.count()).select_from(RecordKey)
                                   .where(RecordKey.destroyed_at.is_(None))) == 0
                assert conn.scalar(select(func.count()).select_from(RecordKey)
                                   .where(RecordKey.wrapped_key.is_not(None))) == 0  # never in the database
        finally:
            store.close()


def test_with_the_month_keys_in_the_platform_database_a_backup_taken_before_still_opens(
    own_platform: str, platform_keys: PlatformKeys, tmp_path: Path
) -> None:
    assert _opens_in_backup(own_platform, platform_keys, tmp_path) == (False, True)
