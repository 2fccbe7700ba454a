"""The regulator feed on PostgreSQL: the platform's ingest rate, and intake-to-receipt delay under load.

1. Ingest: signed batches of 1,000 sealed records (distinct senders) given to the platform's
   `ingest` (signature verified, every record opened, encrypted at rest, indexed, stored, receipt
   signed), records/s. Natural limit: raw X25519 unsealing of the same records in the same run.
2. Delay: the carrier platform's intake at a sustained RATE shipments/s for SECONDS (contract
   parcels in batches of RATE/10 every 100 ms, `shipments.flows.take_in_batch`), while
   `parcelguard regulator run` and `parcelguard uploader run` run as their own processes, as in
   production. A record's delay is from its intake commit to the regulator's receipt
   (`realname_records.receipt_at`, the platform's received_at). Goal: p99 ≤ 5 s (the rule: 30 s).

PostgreSQL: 127.0.0.1:5432, user postgres (PARCELGUARD_BENCH_PG_URL); databases with unique names are
made, migrated and dropped. Knobs: BENCH_FEED_RATE (500), BENCH_FEED_SECONDS (60).

Run: .venv/bin/python bench/regulator_feed.py
"""

from __future__ import annotations

import base64
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from audit_append import postgres_database  # bench/, first on sys.path when run as a script
from intake_batch import requests as walk_in_requests
from sqlalchemy import func, select

from parcelguard.accounts import flows as account_flows
from parcelguard.accounts import service as accounts
from parcelguard.contracts import service as contracts
from parcelguard.core import db
from parcelguard.core.auth import Actor, Role
from parcelguard.core.config import encode_root_key
from parcelguard.crypto import sealing, signing
from parcelguard.crypto.keyring import Keyring
from parcelguard.identity import service as identity
from parcelguard.identity.documents import uscc_check_character
from parcelguard.identity.models import RealNameRecord
from parcelguard.regulator import flows as feed
from parcelguard.regulator import protocol
from parcelguard.regulator.models import OutboxEntry
from parcelguard.regulator.platform import service as platform
from parcelguard.regulator.platform.keys import PlatformKeys
from parcelguard.regulator.platform.migrations import MIGRATIONS_DIR as PLATFORM_MIGRATIONS
from parcelguard.shipments import flows, service

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.servers import free_port, wait_until_up

RATE = int(os.environ.get("BENCH_FEED_RATE", "500"))
SECONDS = int(os.environ.get("BENCH_FEED_SECONDS", "60"))
INGEST_BATCHES = int(os.environ.get("BENCH_INGEST_BATCHES", "5"))


def figure(name: str, value: float, unit: str, ratio_to: str | None = None, ratio: float | None = None,
           digits: int = 0) -> None:
    print(json.dumps({"name": name, "value": round(value, digits) if digits else round(value), "unit": unit,
                      "ratio_to": ratio_to, "ratio": None if ratio is None else round(ratio, 3)}), flush=True)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def bench_ingest(platform_url: str) -> float:
    """Records/s through `ingest`, and the ratio to bare unsealing of the same records."""
    private, public = sealing.generate_x25519_keypair()
    seed, _ = signing.generate()
    carrier_seed, carrier_public = signing.generate()
    keys = PlatformKeys(private_key=private, signing_key=seed, root_key=os.urandom(32))
    engine = db.make_engine(platform_url)
    sessions = db.make_sessionmaker(engine)
    carrier_id = uuid.uuid4()
    with sessions() as s, s.begin():
        platform.register_carrier(db_session=s, code="bench", carrier_uuid=carrier_id, name="Bench Express",
                                  public_key=carrier_public)
    rng = random.Random(7)
    batches = []
    for _ in range(INGEST_BATCHES):
        sealer = sealing.SealingSession(public, max_records=1000)
        records = []
        for request in walk_in_requests(1000, rng):
            record_id = uuid.uuid4()
            document = identity.parse_document("resident_id", request.sender_document.number)
            context = identity.seal_context(carrier_id, record_id)
            records.append(protocol.SealedRecord(
                record_id=record_id, waybill_no="BE0000000000000", taken_at=datetime.now(UTC), station="BE-1",
                region="110105", doc_type="resident_id", seal_context=context.decode(),
                sealed=sealer.seal(json.dumps({"doc_type": "resident_id", "doc_number": document.number,
                                               "name": request.sender_document.name}).encode(), context)))
        batch = protocol.Batch(carrier="bench", batch_id=uuid.uuid4(), sent_at=datetime.now(UTC),
                               key_id=signing.key_id(carrier_public), records=tuple(records))
        batches.append((batch, batch.signed(lambda m: signing.sign(carrier_seed, m))))
    # The natural limit: opening the same records, nothing else.
    started = time.perf_counter()
    for batch, _ in batches:
        for r in batch.records:
            sealing.open_sealed(private, r.sealed, r.seal_context.encode())
    raw = INGEST_BATCHES * 1000 / (time.perf_counter() - started)
    started = time.perf_counter()
    for _, wire in batches:
        with sessions() as s, s.begin():
            receipt = platform.ingest(db_session=s, keys=keys, batch_wire=json.loads(json.dumps(wire)))
        assert len(receipt["accepted"]) == 1000, receipt["rejected"][:3]
    rate = INGEST_BATCHES * 1000 / (time.perf_counter() - started)
    engine.dispose()
    figure("regulator_ingest_pg", rate, "records/s", "x25519_unseal_same_records", rate / raw)
    figure("x25519_unseal_same_records", raw, "records/s")
    return rate


def set_up(carrier_url: str, platform_url: str) -> dict[str, object]:
    """A carrier with a contract customer (an agreement in force) and the platform that knows its key: the keys
    and ids the feed benchmarks need (this one and feed_jetstream.py)."""
    root_key = os.urandom(32)
    regulator_private, regulator_public = sealing.generate_x25519_keypair()
    receipt_seed, receipt_public = signing.generate()
    keyring = Keyring(root_key)
    engine = db.make_engine(carrier_url)
    with db.make_sessionmaker(engine)() as s, s.begin():
        carrier = account_flows.create_carrier(db_session=s, keyring=keyring, slug="feed", name="Feed Express",
                                               waybill_prefix="FE")
        station = accounts.create_station(db_session=s, carrier_id=carrier.id, code="FE-1", name="Feed 1",
                                          region_code="110105")
        shop = accounts.create_user(db_session=s, username="feed-shop", password="feed-shop-password",
                                    role=Role.ENTERPRISE, display_name="Shop", carrier_id=carrier.id, station_id=None)
        admin = accounts.create_user(db_session=s, username="feed-admin", password="feed-admin-password",
                                     role=Role.ADMIN, display_name="Admin", carrier_id=carrier.id, station_id=None)
        body = "91110105MA01C3XR7"
        contracts.create(db_session=s, keyring=keyring, regulator_public_key=regulator_public,
                         actor=Actor(user_id=admin.id, username="feed-admin", role=Role.ADMIN, carrier_id=carrier.id,
                                     station_id=None, token_id=uuid.uuid4()),
                         agreement=contracts.NewAgreement(
                             customer_id=shop.id, station_id=station.id, organisation_name="演示电子商务有限公司",
                             uscc=body + uscc_check_character(body), responsible_doc_type="resident_id",
                             responsible_number="11010519491231002X", responsible_name="演示负责人",
                             inspection_permille=50))
        registration = feed.registration(db_session=s, keyring=keyring, carrier_slug="feed")
    engine.dispose()
    platform_engine = db.make_engine(platform_url)
    with db.make_sessionmaker(platform_engine)() as s, s.begin():
        platform.register_carrier(db_session=s, code="feed", carrier_uuid=uuid.UUID(registration["carrier_id"]),
                                  name="Feed Express", public_key=base64.b64decode(registration["public_key"]))
    platform_engine.dispose()
    return {"root_key": root_key, "regulator_private": regulator_private, "regulator_public": regulator_public,
            "receipt_seed": receipt_seed, "receipt_public": receipt_public, "carrier_id": carrier.id,
            "shop_id": shop.id}


def bench_delay(carrier_url: str, platform_url: str) -> None:
    var = Path(tempfile.mkdtemp(prefix="pg-feed-"))
    keys = set_up(carrier_url, platform_url)
    root_key, regulator_private, regulator_public = keys["root_key"], keys["regulator_private"], keys["regulator_public"]
    receipt_seed, receipt_public = keys["receipt_seed"], keys["receipt_public"]
    keyring = Keyring(root_key)  # type: ignore[arg-type]
    engine = db.make_engine(carrier_url)
    sessions = db.make_sessionmaker(engine)
    port = free_port()
    cli = str(Path(sys.executable).parent / "parcelguard")
    env = {**os.environ, "PARCELGUARD_VAR_DIR": str(var), "PARCELGUARD_LOG_LEVEL": "warning",
           "PARCELGUARD_REGULATOR_LOG_LEVEL": "warning",
           "PARCELGUARD_DATABASE_URL": carrier_url, "PARCELGUARD_ROOT_KEY": encode_root_key(root_key),
           "PARCELGUARD_REGULATOR_PUBLIC_KEY": encode_root_key(regulator_public),
           "PARCELGUARD_REGULATOR_URL": f"http://127.0.0.1:{port}",
           "PARCELGUARD_REGULATOR_RECEIPT_KEY": encode_root_key(receipt_public),
           "PARCELGUARD_REGULATOR_DATABASE_URL": platform_url, "PARCELGUARD_REGULATOR_PORT": str(port),
           "PARCELGUARD_REGULATOR_PRIVATE_KEY": encode_root_key(regulator_private),
           "PARCELGUARD_REGULATOR_SIGNING_KEY": encode_root_key(receipt_seed),
           "PARCELGUARD_REGULATOR_ROOT_KEY": encode_root_key(os.urandom(32))}
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    regulator = subprocess.Popen([cli, "regulator", "run"], env=env, **quiet)  # type: ignore[call-overload]
    uploader = None
    try:
        wait_until_up(f"http://127.0.0.1:{port}", process=regulator)
        uploader = subprocess.Popen([cli, "uploader", "run"], env=env, **quiet)  # type: ignore[call-overload]
        actor = Actor(user_id=keys["shop_id"], username="feed-shop", role=Role.ENTERPRISE,  # type: ignore[arg-type]
                      carrier_id=keys["carrier_id"],  # type: ignore[arg-type]
                      station_id=None, token_id=uuid.uuid4())
        rng = random.Random(11)
        per_tick = max(1, RATE // 10)
        parcel = [flows.IntakeRequest(
            sender_document=None, sender_phone="13800000005", sender_address="北京市朝阳区演示路5号",
            recipient_name=r.recipient_name, recipient_phone=r.recipient_phone, recipient_region=r.recipient_region,
            recipient_detail=r.recipient_detail, items=[service.Item("羽绒服", "clothing", 1)])
            for r in walk_in_requests(per_tick, rng)]
        started, ticks, behind = time.monotonic(), 0, 0
        while time.monotonic() - started < SECONDS:
            with sessions() as s, s.begin():
                db.begin_write(s)
                flows.take_in_batch(db_session=s, keyring=keyring, actor=actor, requests=parcel,
                                    regulator_public_key=regulator_public)
            ticks += 1
            pause = started + ticks * 0.1 - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            else:
                behind += 1
        produced_for = time.monotonic() - started
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                if not conn.scalar(select(func.count()).select_from(OutboxEntry).where(OutboxEntry.delivered_at.is_(None))):
                    break
            time.sleep(0.5)
        with engine.connect() as conn:
            rows = conn.execute(select(RealNameRecord.created_at, RealNameRecord.receipt_at)).all()
    finally:
        for proc in (uploader, regulator):
            if proc is not None:
                proc.terminate()
                proc.wait(timeout=15)
        engine.dispose()
    delays = [(receipt - created).total_seconds() for created, receipt in rows if receipt is not None]
    missing = sum(1 for _, receipt in rows if receipt is None)
    print(f"# {len(rows):,} records in {produced_for:.0f} s ({len(rows) / produced_for:,.0f}/s offered, "
          f"{behind} of {ticks} ticks late); {missing} without a receipt", file=sys.stderr)
    figure("feed_offered_rate", len(rows) / produced_for, "shipments/s")
    figure("feed_delay_p50_s", percentile(delays, 50), "s", digits=2)
    figure("feed_delay_p99_s", percentile(delays, 99), "s", digits=2)
    figure("feed_delay_max_s", max(delays), "s", digits=2)
    figure("feed_records_without_receipt", missing, "records")


def main() -> None:
    with postgres_database(PLATFORM_MIGRATIONS) as platform_url:
        bench_ingest(platform_url)
    with postgres_database() as carrier_url, postgres_database(PLATFORM_MIGRATIONS) as platform_url:
        bench_delay(carrier_url, platform_url)


if __name__ == "__main__":
    main()
