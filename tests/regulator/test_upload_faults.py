"""The whole feed over real HTTP on loopback, carrier and regulator each with its own database, on both
engines: the regulator down for a while, the uploader killed mid-batch, forged and replayed receipts.
Every record arrives exactly once, and the carrier's sealed copy goes only when a genuine receipt names
it."""

from __future__ import annotations

import base64
import dataclasses
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import Engine, func, select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from parcelguard.core import db
from parcelguard.core.auth import Role
from parcelguard.core.config import RegulatorSettings, encode_root_key
from parcelguard.crypto import signing
from parcelguard.crypto.keyring import Keyring
from parcelguard.identity.models import RealNameRecord
from parcelguard.regulator import flows
from parcelguard.regulator.models import OutboxEntry, UploadBatch
from parcelguard.regulator.platform import service as platform
from parcelguard.regulator.platform.migrations import MIGRATIONS_DIR as PLATFORM_MIGRATIONS
from parcelguard.regulator.platform.models import ReceivedRecord
from parcelguard.regulator.uploader import Uploader
from parcelguard.shipments import flows as intake
from parcelguard.shipments import service as shipments
from parcelguard.web.regulator_app import create_regulator_app
from tests.conftest import TEST_ROOT_KEY
from tests.servers import TEST_REGULATOR_PRIVATE, TEST_REGULATOR_PUBLIC, app_in_thread, free_port
from tests.support import ENGINES, empty_database, require_engine
from tests.tenants import Tenant, writing

RECEIPT_SEED = bytes(range(64, 96))
RECEIPT_KEYS = {signing.key_id(signing.public_of(RECEIPT_SEED)): signing.public_of(RECEIPT_SEED)}
PLATFORM_ROOT = bytes(range(96, 128))
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Feed:
    carrier_url: str
    platform_url: str
    engine: Engine
    platform_engine: Engine
    tenant: Tenant
    keyring: Keyring

    def platform_settings(self) -> RegulatorSettings:
        return RegulatorSettings(database_url=self.platform_url, private_key=SecretStr(encode_root_key(
            TEST_REGULATOR_PRIVATE)), signing_key=SecretStr(encode_root_key(RECEIPT_SEED)),
            root_key=SecretStr(encode_root_key(PLATFORM_ROOT)))

    def uploader(self, url: str, **options: object) -> Uploader:
        return Uploader(sessionmaker=db.make_sessionmaker(self.engine), keyring=self.keyring, url=url,
                        **{"receipt_keys": RECEIPT_KEYS, "linger": 0.05, "timeout": 5, "backoff_max": 0.5,
                           **options})  # type: ignore[arg-type]

    def take_in(self, n: int) -> None:
        courier = dataclasses.replace(self.tenant.actor(Role.COURIER), terminal_id=uuid.uuid4())
        requests = [intake.IntakeRequest(
            sender_document=intake.SenderDocument("resident_id", "11010519491231002X", "欧阳寄件人"),
            sender_phone="13911112222", sender_address="北京市朝阳区寄件路1号", recipient_name="司马收件人",
            recipient_phone="13733334444", recipient_region=shipments.Region("上海市", "上海市", "浦东新区"),
            recipient_detail="收件大道9号", items=[shipments.Item("羽绒服", "clothing", 1)])] * n
        with writing(self.engine) as s:
            intake.take_in_batch(db_session=s, keyring=self.keyring, actor=courier, requests=requests,
                                 regulator_public_key=TEST_REGULATOR_PUBLIC)

    def state(self) -> tuple[int, int, int, int]:
        """(outbox rows undelivered, sealed copies kept, records stored by the regulator, distinct ids there)"""
        with self.engine.connect() as conn:
            waiting = conn.scalar(select(func.count()).select_from(OutboxEntry).where(OutboxEntry.delivered_at.is_(None)))
            sealed = conn.scalar(select(func.count()).select_from(RealNameRecord)
                                 .where(RealNameRecord.sealed.is_not(None)))
        with self.platform_engine.connect() as conn:
            stored = conn.scalar(select(func.count()).select_from(ReceivedRecord))
            distinct = conn.scalar(select(func.count(func.distinct(ReceivedRecord.record_id))))
        return int(waiting or 0), int(sealed or 0), int(stored or 0), int(distinct or 0)


@pytest.fixture(params=ENGINES)
def feed(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, keyring: Keyring) -> Iterator[Feed]:
    require_engine(request.param)
    directory = tmp_path_factory.mktemp("feed")
    with empty_database(request.param, directory) as carrier_url, \
            empty_database(request.param, directory) as platform_url:
        db.upgrade(carrier_url)
        db.upgrade(platform_url, script_location=PLATFORM_MIGRATIONS)
        engine, platform_engine = db.make_engine(carrier_url), db.make_engine(platform_url)
        try:
            tenant = Tenant.create(engine=engine, keyring=keyring)
            with writing(engine) as s:
                registration = flows.registration(db_session=s, keyring=keyring, carrier_slug=tenant.slug)
            with db.make_sessionmaker(platform_engine)() as s, s.begin():
                platform.register_carrier(db_session=s, code=registration["code"],
                                          carrier_uuid=uuid.UUID(registration["carrier_id"]),
                                          name=registration["name"],
                                          public_key=base64.b64decode(registration["public_key"]))
            yield Feed(carrier_url, platform_url, engine, platform_engine, tenant, keyring)
        finally:
            engine.dispose()
            platform_engine.dispose()


def wait_until(condition: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


@contextmanager
def running(uploader: Uploader) -> Iterator[threading.Event]:
    stop = threading.Event()
    thread = threading.Thread(target=uploader.run, args=(stop,), daemon=True)
    thread.start()
    try:
        yield stop
    finally:
        stop.set()
        thread.join(timeout=15)
        uploader.close()


def test_a_receipt_deletes_the_sealed_copies_it_names(feed: Feed) -> None:
    feed.take_in(5)
    with app_in_thread(create_regulator_app(feed.platform_settings())) as url:
        uploader = feed.uploader(url)
        try:
            [sent] = uploader.run_once(force=True)
        finally:
            uploader.close()
    assert (sent.records, sent.delivered, sent.error) == (5, 5, None)
    assert feed.state() == (0, 0, 5, 5)
    with feed.engine.connect() as conn:
        receipts = conn.execute(select(RealNameRecord.receipt_at)).scalars().all()
        batch = conn.execute(select(UploadBatch)).one()
    assert all(r is not None for r in receipts) and (batch.outcome, batch.accepted) == ("receipted", 5)


def test_the_backlog_drains_once_the_regulator_is_back(feed: Feed) -> None:
    port = free_port()
    feed.take_in(30)
    uploader = feed.uploader(f"http://127.0.0.1:{port}", batch_records=10)
    with running(uploader):
        wait_until(lambda: uploader.failures_in_a_row >= 2)  # down: it retries, backing off
        assert feed.state() == (30, 30, 0, 0)
        with feed.engine.connect() as conn:
            assert conn.scalar(select(func.count()).select_from(UploadBatch)
                               .where(UploadBatch.outcome == "failed")) >= 2
        feed.take_in(15)  # intake goes on while the regulator is away
        with app_in_thread(create_regulator_app(feed.platform_settings()), port=port):
            wait_until(lambda: feed.state()[0] == 0)
    assert feed.state() == (0, 0, 45, 45)


def test_an_uploader_killed_mid_batch_loses_and_duplicates_nothing(feed: Feed, tmp_path: Path) -> None:
    with app_in_thread(create_regulator_app(feed.platform_settings())) as url:
        kill_the_uploader_mid_flow(feed, url, tmp_path)


def kill_the_uploader_mid_flow(feed: Feed, url: str, tmp_path: Path, **env_extra: str) -> None:
    """2,000 records, `parcelguard uploader run` SIGKILLed once the regulator (at `url`, already up) holds some,
    started again: every record arrives once. `env_extra`: more settings (the feed on JetStream)."""
    feed.take_in(2000)
    env = {**os.environ, "PARCELGUARD_DATABASE_URL": feed.carrier_url,
           "PARCELGUARD_ROOT_KEY": encode_root_key(TEST_ROOT_KEY), "PARCELGUARD_REGULATOR_URL": url,
           "PARCELGUARD_REGULATOR_RECEIPT_KEY": encode_root_key(signing.public_of(RECEIPT_SEED)),
           "PARCELGUARD_REGULATOR_PUBLIC_KEY": encode_root_key(TEST_REGULATOR_PUBLIC),
           "PARCELGUARD_UPLOAD_BATCH_RECORDS": "250", "PARCELGUARD_VAR_DIR": str(tmp_path), **env_extra}
    command = [str(Path(sys.executable).parent / "parcelguard"), "uploader", "run"]
    first = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        # Kill it once the regulator holds some records and before the carrier has them all receipted.
        wait_until(lambda: feed.state()[2] >= 250 or first.poll() is not None)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()
    waiting, _, stored, _ = feed.state()
    assert waiting > 0 and stored < 2000, "the kill came too late to prove anything"
    second = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: feed.state()[0] == 0, timeout=120)
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=15)
    assert feed.state() == (0, 0, 2000, 2000)


def test_a_forged_receipt_deletes_nothing(feed: Feed) -> None:
    feed.take_in(4)
    wrong_seed = os.urandom(32)
    wrong = {signing.key_id(signing.public_of(wrong_seed)): signing.public_of(wrong_seed)}
    with app_in_thread(create_regulator_app(feed.platform_settings())) as url:
        uploader = feed.uploader(url, receipt_keys=wrong)  # the uploader trusts another key than the one that signs
        try:
            [sent] = uploader.run_once(force=True)
        finally:
            uploader.close()
    assert (sent.delivered, sent.error) == (0, "receipt_signature")
    waiting, sealed, stored, _ = feed.state()
    assert (waiting, sealed) == (4, 4) and stored == 4  # the regulator has them; the carrier deleted nothing


def test_a_genuine_receipt_replayed_for_another_batch_deletes_nothing(feed: Feed) -> None:
    """A man in the middle answers every batch with the first genuine receipt he saw."""
    feed.take_in(3)
    with app_in_thread(create_regulator_app(feed.platform_settings())) as platform_url:
        seen: list[dict] = []

        async def batches(request: Request) -> JSONResponse:
            async with httpx.AsyncClient() as client:
                genuine = await client.post(f"{platform_url}/api/v1/batches", content=await request.body(),
                                            headers={"content-type": "application/json"})
            seen.append(genuine.json())
            return JSONResponse(seen[0])

        async def healthz(request: Request) -> JSONResponse:
            return JSONResponse({"status": "ok"})

        proxy = Starlette(routes=[Route("/api/v1/batches", batches, methods=["POST"]), Route("/healthz", healthz)])
        with app_in_thread(proxy) as proxy_url:
            uploader = feed.uploader(proxy_url, batch_records=1)
            try:
                first = uploader.send(feed.tenant.carrier_id)
                second = uploader.send(feed.tenant.carrier_id)
            finally:
                uploader.close()
    assert (first.delivered, first.error) == (1, None)
    assert (second.delivered, second.error) == (0, "receipt_mismatch")
    waiting, sealed, stored, _ = feed.state()
    assert (waiting, sealed, stored) == (2, 2, 2)
