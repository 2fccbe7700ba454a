"""The feed on NATS JetStream (issue 17), end to end with a real `nats-server -js`, on both engines: every
record arrives exactly once, across a restart of NATS, of the uploader (SIGKILL) and of the platform; a
refused batch comes back as a refusal over JetStream."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from parcelguard.core import db
from parcelguard.core.config import RegulatorSettings
from parcelguard.regulator import flows
from parcelguard.regulator.jetstream import JetStreamFeed
from parcelguard.regulator.models import UploadBatch
from parcelguard.regulator.platform import service as platform
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


def settings_on(feed: Feed, nats: NatsServer) -> RegulatorSettings:
    return feed.platform_settings().model_copy(update={"feed": "jetstream", "nats_url": nats.url})


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
