"""Batch real-name intake on PostgreSQL with everything: validation, waybill numbers, field encryption,
sealing for the regulator, blind indexes, alerts, and the shipment, item, record and outbox rows.

- `shipments.flows.take_in_batch` of 1,000 parcels per transaction (one sealing session per batch),
  each with its own valid resident ID number, name and phones. Goal ≥ 3,000 shipments/s.
- Natural limit: a plain COPY of the same number of shipment rows (the widest table, values
  precomputed) in the same run, one transaction per 1,000.
- Where the time goes: the share of each step in a profiled batch, on stderr.

PostgreSQL: 127.0.0.1:5432, user postgres (override with PARCELGUARD_BENCH_PG_URL); a database with a
unique name is made, migrated and dropped.

Run: .venv/bin/python bench/intake_batch.py
"""

from __future__ import annotations

import cProfile
import json
import os
import pstats
import random
import sys
import time
import uuid
from datetime import date, timedelta

from audit_append import postgres_database  # bench/, first on sys.path when run as a script
from sqlalchemy import select

from parcelguard.accounts import flows as account_flows
from parcelguard.accounts import service as accounts
from parcelguard.core import db
from parcelguard.core.auth import Actor, Role
from parcelguard.crypto import sealing
from parcelguard.crypto.keyring import Keyring
from parcelguard.identity.documents import id_check_character
from parcelguard.shipments import flows, service
from parcelguard.shipments.models import Shipment

BATCH = 1_000
BATCHES = int(os.environ.get("BENCH_BATCHES", "5"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂"


def figure(name: str, value: float, unit: str, ratio_to: str | None = None, ratio: float | None = None) -> None:
    print(json.dumps({"name": name, "value": round(value), "unit": unit, "ratio_to": ratio_to,
                      "ratio": None if ratio is None else round(ratio, 3)}), flush=True)


def requests(count: int, rng: random.Random) -> list[flows.IntakeRequest]:
    """Parcels from distinct senders: valid resident ID numbers (region 110105, real birth dates)."""
    out = []
    for _ in range(count):
        birth = date(1950, 1, 1) + timedelta(days=rng.randrange(365 * 50))
        body = f"110105{birth:%Y%m%d}{rng.randrange(1000):03d}"
        name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))
        out.append(flows.IntakeRequest(
            sender_document=flows.SenderDocument("resident_id", body + id_check_character(body), name),
            sender_phone=f"139{rng.randrange(10**8):08d}", sender_address="北京市朝阳区建国路88号 3单元 501",
            recipient_name=rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN),
            recipient_phone=f"137{rng.randrange(10**8):08d}",
            recipient_region=service.Region("上海市", "上海市", "浦东新区"), recipient_detail="世纪大道100号 1202室",
            items=[service.Item(description="羽绒服", category="clothing", quantity=1, declared_value_cents=59900)],
        ))
    return out


class Bench:
    def __init__(self, url: str) -> None:
        self.engine = db.make_engine(url)
        self.sessions = db.make_sessionmaker(self.engine)
        self.keyring = Keyring(os.urandom(32))
        self.regulator_public = sealing.generate_x25519_keypair()[1]
        with self.sessions() as s, s.begin():
            carrier = account_flows.create_carrier(db_session=s, keyring=self.keyring, slug="bench", name="Bench",
                                                   waybill_prefix="BX")
            station = accounts.create_station(db_session=s, carrier_id=carrier.id, code="B-1", name="Bench",
                                              region_code="110105")
            courier = accounts.create_user(db_session=s, username="bench-courier", password="x" * 16,
                                           role=Role.COURIER, display_name="Bench", carrier_id=carrier.id,
                                           station_id=station.id)
            self.actor = Actor(user_id=courier.id, username=courier.username, role=Role.COURIER,
                               carrier_id=carrier.id, station_id=station.id, token_id=uuid.uuid4(),
                               terminal_id=uuid.uuid4())
        self.rng = random.Random(7)

    def intake_batch(self, batch: list[flows.IntakeRequest]) -> None:
        with self.sessions() as s, s.begin():
            sealer = sealing.SealingSession(self.regulator_public, max_records=len(batch))
            results = flows.take_in_batch(db_session=s, keyring=self.keyring, actor=self.actor, requests=batch,
                                          regulator_public_key=self.regulator_public, sealer=sealer)
            assert all(isinstance(r, flows.Intake) for r in results)

    def intake_round(self) -> float:
        batches = [requests(BATCH, self.rng) for _ in range(BATCHES)]
        t0 = time.perf_counter()
        for batch in batches:
            self.intake_batch(batch)
        return BATCH * BATCHES / (time.perf_counter() - t0)

    def copy_round(self) -> float:
        """COPY as many shipment rows as a round takes in, values taken from rows already written."""
        with self.engine.connect() as conn:
            sample = [dict(r._mapping) for r in conn.execute(select(Shipment.__table__).limit(BATCH))]
        columns = list(sample[0])
        batches = []
        for _ in range(BATCHES):
            rows = []
            for i in range(BATCH):
                row = dict(sample[i % len(sample)])
                row["id"], row["waybill_no"] = uuid.uuid4(), f"CP{uuid.uuid4().int % 10**13:013d}"
                row["label_subject"] = uuid.uuid4()
                rows.append([row[c] for c in columns])
            batches.append(rows)
        statement = f"COPY shipments ({', '.join(columns)}) FROM STDIN"
        t0 = time.perf_counter()
        for rows in batches:
            with self.engine.begin() as conn, conn.connection.driver_connection.cursor() as cursor, \
                    cursor.copy(statement) as copy:
                for row in rows:
                    copy.write_row(row)
        return BATCH * BATCHES / (time.perf_counter() - t0)

    def where_the_time_goes(self) -> None:
        batch = requests(BATCH, self.rng)
        profile = cProfile.Profile()
        profile.runcall(self.intake_batch, batch)
        stats = pstats.Stats(profile)
        total = max(v[3] for v in stats.stats.values())  # type: ignore[attr-defined]
        steps = {
            "_validate": "validate (documents, phones, fields)", "allocate": "waybill numbers",
            "create_many": "shipments: encrypt 7 fields, COPY", "record_senders": "seal, blind index, COPY",
            "check_senders": "alerts (2 queries)", "commit": "commit",
        }
        for (_file, _line, func), value in stats.stats.items():  # type: ignore[attr-defined]
            if func in steps:
                print(f"# {steps.pop(func)}: {100 * value[3] / total:.0f} %", file=sys.stderr)


def main() -> None:
    with postgres_database() as url:
        bench = Bench(url)
        bench.intake_round()  # warm-up: keys, caches, the first blocks of numbers
        ours = limit = 0.0
        for _ in range(ROUNDS):
            ours = max(ours, bench.intake_round())
            limit = max(limit, bench.copy_round())
        bench.where_the_time_goes()
        bench.engine.dispose()
    figure("intake_batch_pg", ours, "shipments/s", "pg_copy_shipment_rows", ours / limit)
    figure("pg_copy_shipment_rows", limit, "rows/s")
    print(f"# {BATCH:,} parcels per transaction, {BATCHES} per round, best of {ROUNDS}", file=sys.stderr)


if __name__ == "__main__":
    main()
