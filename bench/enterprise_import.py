"""The enterprise console's bulk import of orders (issue 16, "bulk import of 10,000 orders per second"): a file of
10,000 rows read, checked, priced, sealed, blind-indexed and written as pending orders (each keeping its row) and
the refused rows with why, in one transaction (`bulk.import_file`), in rows/s.

- Its own database (a SQLite file in a temporary directory, then PostgreSQL 127.0.0.1:5432 as user postgres in a
  database with a unique name made and dropped; `--sqlite-only` skips it), built by the console's migrations; one
  company, one carrier connection with a rate table of every province pair (34 × 34 lanes).
- The file: 10,000 rows, a CSV (UTF-8 with a BOM, Chinese headers), recipients spread over the 34 provinces,
  0.1–30 kg, fixed seed; 1 row in 100 bad (phone), refused and reported.
- Figures: in process through the service (`bulk.import_file`, best of 3), and over HTTP for one file (the console
  under uvicorn in this process, `POST /api/v1/orders:import` multipart, best of 3, answered 202 when written).
- Natural limits in the same run and database: writing the same 9,900 orders and 100 refused rows, already
  built, with `db.bulk_insert` (executemany on SQLite, COPY on PostgreSQL), the floor of keeping them; and raw
  AES-256-GCM of 10,000 documents of the same size. The ratio is our rate over the write limit's (1 = as fast as
  writing alone).
- Sending to the carrier is excluded: the import answers 202 once the orders are written, and the carrier's intake
  of them (`POST /api/v1/shipments:batch`, 1,000 a call) is its own figure (bench/intake_batch.py).

Run: .venv/bin/python bench/enterprise_import.py [--sqlite-only] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import httpx
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import SecretStr
from sqlalchemy import delete

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.audit_append import postgres_database
from tests.servers import app_in_thread

from parcelguard.core import db
from parcelguard.core.auth import Actor, Role
from parcelguard.core.clock import now
from parcelguard.core.config import encode_root_key
from parcelguard.enterprise.platform import bulk, connections, employees, rate_tables
from parcelguard.enterprise.platform.bulk_parse import Sender
from parcelguard.enterprise.platform.keys import EnterpriseKeys
from parcelguard.enterprise.platform.migrations import MIGRATIONS_DIR
from parcelguard.enterprise.platform.models import Order, OrderImport, OrderImportRow
from parcelguard.enterprise.platform.settings import EnterpriseSettings
from parcelguard.enterprise.rates.model import beijing_date
from parcelguard.enterprise.rates.regions import provinces
from parcelguard.web.enterprise_app import create_enterprise_app

ROWS = 10_000
ROOT_KEY = os.urandom(32)
SENDER = Sender(name="仓库联系人", phone="13922223333", address="北京市朝阳区仓储路1号", province="北京")
HEADER = "收件人,收件电话,收件省,收件市,收件区,收件地址,重量(kg),物品类别,物品名称,数量\n"


def emit(name: str, value: float, unit: str, ratio_to: str | None = None, ratio: float | None = None) -> None:
    print(json.dumps({"name": name, "value": round(value, 1), "unit": unit, "ratio_to": ratio_to,
                      "ratio": None if ratio is None else round(ratio, 3)}, ensure_ascii=False), flush=True)


def orders_file(rows: int, seed: int = 16) -> bytes:
    rnd = random.Random(seed)
    names = list(provinces())
    out = [HEADER]
    for i in range(rows):
        phone = "call me" if i % 100 == 99 else f"13{rnd.randrange(3, 10)}{rnd.randrange(10**8):08d}"
        out.append(f"收件人{i},{phone},{rnd.choice(names)},某市,某区,某路{i}号 {rnd.randrange(1, 30)}01室,"
                   f"{rnd.randrange(1, 300) / 10},clothing,羽绒服,{rnd.randrange(1, 4)}\n")
    return "".join(out).encode("utf-8-sig")


def rate_table() -> bytes:
    lines = ["始发省,目的省,目的市,首重(kg),首重价格(元),续重单位(kg),续重价格(元),最大重量(kg),最快时效(天),最慢时效(天)"]
    lines += [f"{a},{b},,1,{8 + (a != b) * 4},1,2,50,1,4" for a in provinces() for b in provinces()]
    return ("\n".join(lines) + "\n").encode()


class Console:
    """One company with a connection and its table in force, in the database at `url`."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = db.make_engine(url)
        self.sessions = db.make_sessionmaker(self.engine)
        self.keys = EnterpriseKeys(root_key=ROOT_KEY)
        suffix = uuid.uuid4().hex[:8]
        with self.sessions() as s, s.begin():
            company = employees.add_company(db_session=s, code=f"bench-{suffix}", name="演示企业")
            shipper = employees.add_employee(db_session=s, company_id=company.id, username=f"shipper-{suffix}",
                                             display_name="shipper", password="correct horse battery",
                                             role="shipper")
            connection = connections.add(db_session=s, keys=self.keys, company_id=company.id, code="ZTO", name="ZTO",
                                         adapter="parcelguard", base_url="http://127.0.0.1:9",
                                         credentials=connections.Credentials(username="x", password="y"))
            s.flush()
            rate_tables.import_file(db_session=s, company_id=company.id, connection_id=connection.id,
                                    data=rate_table(), file_name="t.csv", version="v1", surcharges=None,
                                    effective_from=beijing_date(now()) - timedelta(days=1), imported_by=shipper.id)
        self.company_id, self.connection_id, self.username = company.id, connection.id, f"shipper-{suffix}"
        self.actor = Actor(user_id=shipper.id, username=self.username, role=Role.ENTERPRISE, carrier_id=None,
                           station_id=None, token_id=uuid.uuid4(), company_id=company.id)

    def import_once(self, data: bytes) -> bulk.Imported:
        return bulk.import_file(sessionmaker=self.sessions, keys=self.keys, actor=self.actor,
                                connection_id=self.connection_id, sender=SENDER, file_name="orders.csv", data=data)

    def clear(self) -> None:
        with self.sessions() as s, s.begin():
            for table in (OrderImportRow, Order, OrderImport):
                s.execute(delete(table))


def best(fn: Callable[[], object], times: int = 3, before: Callable[[], object] | None = None) -> float:
    out = []
    for _ in range(times):
        if before:
            before()
        started = time.perf_counter()
        fn()
        out.append(time.perf_counter() - started)
    return min(out)


def limits(console: Console) -> tuple[float, float]:
    """Seconds of: writing the prepared order rows and the refused rows (db.bulk_insert); AES-GCM of 10,000
    documents of an order's size."""
    console.clear()
    imported = console.import_once(orders_file(ROWS))
    with console.sessions() as s:
        rows = [{c.name: getattr(o, c.name) for c in Order.__table__.columns} for o in s.query(Order)]
        results = [{c.name: getattr(r, c.name) for c in OrderImportRow.__table__.columns}
                   for r in s.query(OrderImportRow)]
    job = imported.job
    console.clear()

    def write() -> None:
        with console.sessions() as s, s.begin():
            s.add(OrderImport(**{c.name: getattr(job, c.name) for c in OrderImport.__table__.columns}))
            s.flush()
            db.bulk_insert(s, Order, rows)
            db.bulk_insert(s, OrderImportRow, results)

    insert = best(write, before=console.clear)
    console.clear()
    aead, document = AESGCM(os.urandom(32)), os.urandom(len(rows[0]["sealed"]) - 28)

    def seal() -> None:
        for _ in range(ROWS):
            nonce = os.urandom(12)
            aead.encrypt(nonce, document, b"order|" + uuid.uuid4().bytes)

    return insert, best(seal)


def run(kind: str, url: str, profile: bool) -> None:
    console = Console(url)
    data = orders_file(ROWS)
    first = console.import_once(data)
    assert (first.job.accepted, first.job.refused) == (ROWS - ROWS // 100, ROWS // 100), first.job
    ours = best(lambda: console.import_once(data), before=console.clear)
    insert, seal = limits(console)
    emit(f"enterprise import {kind}: in process (parse+check+price+seal+index+write)", ROWS / ours, "rows/s",
         "executemany/COPY of the same rows", insert / ours)
    emit(f"enterprise import {kind}: limit, writing the prepared rows", ROWS / insert, "rows/s")
    emit(f"enterprise import {kind}: limit, raw AES-256-GCM of the documents", ROWS / seal, "rows/s")
    if profile:
        console.clear()
        profiler = cProfile.Profile()
        profiler.runcall(lambda: console.import_once(data))
        pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(25)
    console.clear()
    settings = EnterpriseSettings(database_url=url, root_key=SecretStr(encode_root_key(ROOT_KEY)),
                                  log_level="warning")
    with app_in_thread(create_enterprise_app(settings)) as base, httpx.Client(base_url=base, timeout=120) as http:
        token = http.post("/api/v1/auth/token", data={"username": console.username,
                                                      "password": "correct horse battery"}).json()["access_token"]
        form = {"connection_id": str(console.connection_id), "sender_name": SENDER.name,
                "sender_phone": SENDER.phone, "sender_address": SENDER.address, "sender_province": SENDER.province}

        def post() -> None:
            r = http.post("/api/v1/orders:import", headers={"Authorization": f"Bearer {token}"},
                          files={"file": ("orders.csv", data)}, data=form)
            assert r.status_code == 202, r.text

        over_http = best(post, before=lambda: (time.sleep(0.5), console.clear()))  # the sender gives up first
    emit(f"enterprise import {kind}: over HTTP, one file of {ROWS:,} rows", ROWS / over_http, "rows/s",
         "executemany/COPY of the same rows", insert / over_http)
    console.engine.dispose()


@contextmanager
def sqlite_database() -> Iterator[str]:
    with tempfile.TemporaryDirectory() as directory:
        url = f"sqlite:///{directory}/console.db"
        db.upgrade(url, script_location=MIGRATIONS_DIR)
        yield url


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sqlite-only", action="store_true")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    with sqlite_database() as url:
        run("SQLite", url, args.profile)
    if not args.sqlite_only:
        with postgres_database(MIGRATIONS_DIR) as url:
            run("PostgreSQL", url, args.profile)


if __name__ == "__main__":
    main()
