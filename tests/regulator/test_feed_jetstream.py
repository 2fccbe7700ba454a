"""The feed on NATS JetStream (issue 17), end to end with a real `nats-server -js`, on both engines: every
record arrives exactly once, across a restart of NATS, of the uploader (SIGKILL) and of the platform, and with
several batches in flight, several pull workers and two platforms sharing the consumer; a refused batch comes
back as a refusal over JetStream; the streams are made with the replicas asked for."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from parcelguard.core import db
from parcelguard.core.config import RegulatorSettings
from parcelguard.regulator import flows, jetstream
from parcelguard.regulator.jetstream import JetStreamFeed
from parcelguard.regulator.models import UploadBatch
from parcelguard.regulator.platform import service as platform
from parcelguard.regulator.platform.models import ReceivedBatch
from parcelguard.regulator.uploader import Uploader
from parcelguard.web.regulator_app import create_regulator_app
from tests.nats_server import NatsServer, nats_server
from tests.regulator import test_upload_faults as upload_faults
from tests.regulator.test_upload_faults import Feed, running, wait_until
from tests.servers import app_in_thread, free_port
from tests.tenants import writing

feed = upload_faults.feed  # the carrier and the platform, each with its own database, on both engines


@pytest.fixture
def nats(tmp_path: Path) -> Iterator[NatsServer]:
    with nats_server(tmp_path / "nats") as server:
        yield server


def settings_on(feed: Feed, nats: NatsServer, **update: object) -> RegulatorSettings:
    return feed.platform_settings().model_copy(update={"feed": "jetstream", "nats_url": nats.url, **update})


def uploader_on(feed: Feed, nats: NatsServer, *, timeout: float = 5.0, **options: object) -> Uploader:
    """Batches over JetStream; HTTP (incident reports only) points at a port nobody listens on, so a batch that
    arrives came over NATS."""
    return feed.uploader(f"http://127.0.0.1:{free_port()}", feed=JetStreamFeed(nats.url, timeout=timeout),
                         **options)


def test_records_taken_in_arrive_exactly_once_over_jetstream(feed: Feed, nats: NatsServer) -> None:
    feed.take_in(25)
    with app_in_thread(create_regulator_app(settings_on(feed, nats))):
        uploader = uploader_on(feed, nats, batch_records=10)
        with running(uploader):
            wait_until(lambda: feed.state()[0] == 0)
    assert feed.state() == (0, 0, 25, 25)
    with feed.engine.connect() as conn:
        outcomes = conn.execute(select(UploadBatch.outcome, UploadBatch.accepted)).all()
    assert sorted(outcomes) == [("receipted", 5), ("receipted", 10), ("receipted", 10)]


def test_every_record_arrives_once_across_a_restart_of_nats(feed: Feed, nats: NatsServer) -> None:
    feed.take_in(20)
    with app_in_thread(create_regulator_app(settings_on(feed, nats))):
        uploader = uploader_on(feed, nats, timeout=2.0, batch_records=10)
        with running(uploader):
            wait_until(lambda: feed.state()[0] == 0)
            nats.stop()
            feed.take_in(25)  # intake goes on while NATS is away
            wait_until(lambda: uploader.failures_in_a_row >= 2)
            assert feed.state() == (25, 25, 20, 20)
            nats.start()  # the same port and store: the streams, the consumers and what they hold come back
            wait_until(lambda: feed.state()[0] == 0, timeout=120)
    assert feed.state() == (0, 0, 45, 45)


def test_an_uploader_killed_mid_flow_loses_and_duplicates_nothing(feed: Feed, nats: NatsServer,
                                                                  tmp_path: Path) -> None:
    with app_in_thread(create_regulator_app(settings_on(feed, nats))) as url:
        upload_faults.kill_the_uploader_mid_flow(feed, url, tmp_path, PARCELGUARD_FEED="jetstream",
                                                 PARCELGUARD_NATS_URL=nats.url)


def test_every_record_arrives_once_across_a_restart_of_the_platform(feed: Feed, nats: NatsServer) -> None:
    feed.take_in(300)
    uploader = uploader_on(feed, nats, timeout=2.0, batch_records=10)
    with running(uploader):
        with app_in_thread(create_regulator_app(settings_on(feed, nats))):
            wait_until(lambda: feed.state()[2] >= 30)
        # The platform is away: what is taken in now is published to the stream and waits unanswered, and the
        # uploader, timing out, publishes it again in new batches (whether the first 300 were all done before
        # the stop is a race, so the proof is these).
        feed.take_in(20)
        wait_until(lambda: uploader.failures_in_a_row >= 2)
        waiting, _, stored, _ = feed.state()
        assert waiting >= 20 and stored <= 300
        with app_in_thread(create_regulator_app(settings_on(feed, nats))):
            wait_until(lambda: feed.state()[0] == 0, timeout=120)
    assert feed.state() == (0, 0, 320, 320)


def test_a_batch_signed_with_a_key_the_platform_does_not_know_is_refused_over_jetstream(
        feed: Feed, nats: NatsServer) -> None:
    with writing(feed.engine) as s:
        registration = flows.registration(db_session=s, keyring=feed.keyring, carrier_slug=feed.tenant.slug)
    with db.make_sessionmaker(feed.platform_engine)() as s, s.begin():
        assert platform.revoke_key(db_session=s, code=registration["code"], key_id=registration["key_id"])
    feed.take_in(3)
    with app_in_thread(create_regulator_app(settings_on(feed, nats))):
        uploader = uploader_on(feed, nats)
        try:
            [sent] = uploader.run_once(force=True)
        finally:
            uploader.close()
    assert (sent.records, sent.delivered, sent.error) == (3, 0, "jetstream_403:carrier_key_unknown")
    assert feed.state() == (3, 3, 0, 0)
    with feed.engine.connect() as conn:
        assert conn.execute(select(UploadBatch.outcome, UploadBatch.error)).one() == (
            "failed", "jetstream_403:carrier_key_unknown")


def test_records_arrive_exactly_once_with_batches_in_flight_and_two_platforms_of_several_workers(
        feed: Feed, nats: NatsServer) -> None:
    """Four batches on their way at once, two platforms of three pull workers each on the one durable consumer,
    and one platform stopped mid-flow: every record is stored once and delivered once, no batch shares a
    record with another, and every batch the carrier holds as receipted was stored by the platform."""
    feed.take_in(300)
    uploader = uploader_on(feed, nats, timeout=3.0, batch_records=10, in_flight=4)
    with running(uploader), app_in_thread(create_regulator_app(settings_on(feed, nats, feed_workers=3))):
        with app_in_thread(create_regulator_app(settings_on(feed, nats, feed_workers=3))):
            wait_until(lambda: feed.state()[2] >= 60)
        feed.take_in(100)  # one platform is gone: the other takes its share, and what it left unacked
        wait_until(lambda: feed.state()[0] == 0, timeout=120)
    assert feed.state() == (0, 0, 400, 400)
    with feed.engine.connect() as conn:
        receipted = conn.execute(select(UploadBatch.id, UploadBatch.accepted)
                                 .where(UploadBatch.outcome == "receipted")).all()
    with feed.platform_engine.connect() as conn:
        stored = set(conn.scalars(select(ReceivedBatch.batch_id)))
    assert {batch_id for batch_id, _ in receipted} <= stored
    assert sum(accepted for _, accepted in receipted) >= 400  # a batch sent again is answered again


def on_nats(nats: NatsServer, work: Callable[[Any], Awaitable[object]]) -> object:
    async def run() -> object:
        client = await jetstream.connect(nats.url, name="test")
        try:
            return await work(client.jetstream(timeout=5.0))
        finally:
            await jetstream.close_quietly(client)
    return asyncio.run(run())


async def replicas_of(js: Any) -> list[int]:
    return [(await js.stream_info(name)).config.num_replicas
            for name in (jetstream.BATCH_STREAM, jetstream.RECEIPT_STREAM)]


def test_the_streams_are_made_with_the_replicas_asked_for(nats: NatsServer) -> None:
    async def work(js: Any) -> list[int]:
        await jetstream.ensure_streams(js, replicas=1)
        await jetstream.ensure_streams(js, replicas=1)  # again, as every start does: nothing changes
        return await replicas_of(js)
    assert on_nats(nats, work) == [1, 1]


def test_three_replicas_on_a_single_server_is_a_clear_error_naming_the_setting(nats: NatsServer) -> None:
    async def work(js: Any) -> None:
        await jetstream.ensure_streams(js, replicas=3)
    with pytest.raises(jetstream.StreamConfigError, match="PARCELGUARD_NATS_REPLICAS") as info:
        on_nats(nats, work)
    assert "3 replica" in str(info.value) and "10074" in str(info.value)  # replicas > 1 need a cluster


def test_a_carrier_asking_for_other_replicas_leaves_the_regulators_streams_as_they_are(
        nats: NatsServer) -> None:
    async def work(js: Any) -> list[int]:
        await jetstream.ensure_streams(js, replicas=1)  # the platform's
        await jetstream.ensure_streams(js, replicas=3, owner=False)  # a carrier's: logged, not applied
        return await replicas_of(js)
    assert on_nats(nats, work) == [1, 1]


def test_the_platform_refusing_the_replicas_asked_for_says_so_and_the_uploader_reports_it(
        feed: Feed, nats: NatsServer) -> None:
    feed.take_in(2)
    uploader = feed.uploader(f"http://127.0.0.1:{free_port()}", feed=JetStreamFeed(nats.url, timeout=2.0,
                                                                                   replicas=3))
    try:
        [sent] = uploader.run_once(force=True)
    finally:
        uploader.close()
    assert (sent.records, sent.delivered, sent.error) == (2, 0, "jetstream_streams")
