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
from sqlalchemy import func, select

from parcelguard.core import db
from parcelguard.core.auth import Actor, Role
from parcelguard.core.clock import now
from parcelguard.regulator.platform import officials, retention, service
from parcelguard.regulator.platform.keys import MONTH_FORMAT, PlatformKeys
from parcelguard.regulator.platform.migrations import MIGRATIONS_DIR
from parcelguard.regulator.platform.models import ReceivedRecord, RecordKey
from tests.regulator.conftest import Carrier, register
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
