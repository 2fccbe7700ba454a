"""The carrier platform's retention of one month of parcels on PostgreSQL (issue 17): the month's `shipments`
partition detached and dropped, next to the row-by-row DELETE it replaces, in the same run and the same database.

Two months of BENCH_PARTITION_SHIPMENTS parcels each (200000), each with one item, long past their retention: the
older in its month's partition (`core.partitions.create_month`), the newer in the DEFAULT partition (a month with
no partition), where retention deletes row by row as on the ordinary table before migration 0023. Each month is
destroyed by `retention.service.run`, timed whole (the items deleted first in both, the check that every row of the
partition goes, the parcels, the signed record in the log). The DELETE also leaves its dead rows to VACUUM, not
timed here: the ratio understates what dropping saves.

PostgreSQL: 127.0.0.1:5432, user postgres (PARCELGUARD_BENCH_PG_URL); a database with a unique name is made,
migrated and dropped.

Run: .venv/bin/python bench/carrier_partitions.py
"""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import timedelta

from audit_append import postgres_database  # bench/, first on sys.path when run as a script
from sqlalchemy import text

from parcelguard.accounts import flows
from parcelguard.accounts import service as accounts
from parcelguard.core import db
from parcelguard.core import partitions as core
from parcelguard.core.clock import now
from parcelguard.crypto.keyring import Keyring
from parcelguard.retention import service
from parcelguard.shipments.models import PARTITIONS as SHIPMENTS

SHIPMENTS_N = int(os.environ.get("BENCH_PARTITION_SHIPMENTS", "200000"))
KEYRING = Keyring(bytes(range(32)))
# A UUIDv7 made in SQL (RFC 9562 §5.7): 48 bits of Unix ms, version 7, 12 bits, variant 10, 62 bits (md5 of g)
_UUID7 = ("(lpad(to_hex((extract(epoch FROM t) * 1000)::bigint), 12, '0') || '7' || substr(md5(:n || g), 1, 3) "
          "|| '8' || substr(md5(:n || g), 4, 15))::uuid")


def figure(name: str, value: float, unit: str, ratio_to: str | None = None, ratio: float | None = None) -> None:
    print(json.dumps({"name": name, "value": round(value, 1), "unit": unit, "ratio_to": ratio_to,
                      "ratio": None if ratio is None else round(ratio, 3)}), flush=True)


def note(line: str) -> None:
    print(f"# {line}", file=sys.stderr, flush=True)


def load(url: str, dropped: str, deleted: str) -> object:
    """A carrier, a station, and SHIPMENTS_N parcels with an item in each month (ciphertext-sized columns)."""
    engine = db.make_engine(url)
    with db.make_sessionmaker(engine)() as s, s.begin():
        carrier = flows.create_carrier(db_session=s, keyring=KEYRING, slug="bench", name="Bench", waybill_prefix="BE")
        station = accounts.create_station(db_session=s, carrier_id=carrier.id, code="ST-1", name="Station 1",
                                          region_code="110105")
        core.create_month(s.connection(), SHIPMENTS, dropped)
        carrier_id, station_id = carrier.id, station.id
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        t0 = time.monotonic()
        for n, period in enumerate((dropped, deleted)):
            params = {"n": str(n), "start": core.month_start(period), "count": SHIPMENTS_N, "c": carrier_id,
                      "s": station_id}
            c.execute(text(f"""
                INSERT INTO shipments (id, carrier_id, waybill_no, origin_station_id, created_at, label_subject,
                                       sender_name, sender_phone, sender_address, recipient_name, recipient_phone,
                                       recipient_address, recipient_province)
                SELECT {_UUID7}, :c, 'BE' || lpad((:n || g)::text, 13, '0'), :s, t, md5('l' || :n || g)::uuid,
                       sha256(int8send(g)), sha256(int8send(-g)), sha256(int8send(g)) || sha256(int8send(-g)),
                       sha256(int8send(g + 1)), sha256(int8send(g + 2)), sha256(int8send(g + 3)) || sha256(int8send(g)),
                       '北京市'
                FROM (SELECT g, :start + make_interval(secs => (g::float8 / :count) * 27 * 86400) AS t
                      FROM generate_series(1::bigint, :count) g) AS src"""), params)
            c.execute(text("""
                INSERT INTO shipment_items (id, shipment_id, category, description, quantity, declared_value_cents)
                SELECT md5('i' || id::text)::uuid, id, 'books', sha256(id::text::bytea), 1, 0
                FROM shipments WHERE created_at >= :lo AND created_at < :hi"""),
                {"lo": core.month_start(period), "hi": core.month_start(period, 1)})
        c.execute(text("VACUUM ANALYZE"))
        note(f"2 x {SHIPMENTS_N:,} parcels (and an item each) written in {time.monotonic() - t0:.0f} s")
    engine.dispose()
    return carrier_id


def destroy(url: str, carrier_id: object, period: str) -> tuple[float, int]:
    """`retention.service.run` on the first day `period`'s parcels are due (the only month due then), in ms."""
    engine = db.make_engine(url)
    try:
        at = core.month_start(period, 25) + timedelta(days=1)
        t0 = time.perf_counter()
        done = service.run(sessionmaker=db.make_sessionmaker(engine), keyring=KEYRING, carrier_id=carrier_id,  # type: ignore[arg-type]
                           at=at)
        took = (time.perf_counter() - t0) * 1000
        with engine.connect() as c:
            gone = SHIPMENTS.name_of(period) not in core.existing(c, SHIPMENTS)
    finally:
        engine.dispose()
    [record] = [r.body for r in done.records if r.body["data_class"] == "waybill_record"]
    assert record["items"]["shipments"] == SHIPMENTS_N, record["items"]  # type: ignore[index]
    return took, int(gone)


def main() -> None:
    this = core.period_of(now())
    dropped, deleted = (core.period_of(core.month_start(this, -k)) for k in (31, 30))
    with postgres_database() as url:
        carrier_id = load(url, dropped, deleted)
        by_drop, was_dropped = destroy(url, carrier_id, dropped)
        by_delete, _ = destroy(url, carrier_id, deleted)
    assert was_dropped, "the month's partition was not dropped"
    figure("carrier_retention_month_partition_drop_pg_ms", by_drop, "ms", "delete_same_month_rows",
           by_delete / by_drop)
    figure("carrier_retention_month_delete_pg_ms", by_delete, "ms")
    note(f"{SHIPMENTS_N:,} parcels a month: drop {by_drop:.0f} ms, DELETE {by_delete:.0f} ms, "
         f"{by_delete / by_drop:.1f} x")


if __name__ == "__main__":
    main()
