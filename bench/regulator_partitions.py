"""The regulator platform's retention of one month of records on PostgreSQL (issue 17): the month's partition
detached and dropped, next to the row-by-row DELETE it replaces, in the same run and the same database.

Two months of BENCH_PARTITION_RECORDS records each (200000), long past their retention: the older in a partition
of its own (`partitions.create_month`), the newer in the DEFAULT partition (a month that has no partition), where
retention still deletes row by row — an ordinary table with the same indexes, as `received_records` was before
platform_0008. Each is destroyed by `retention.run`, timed whole (keys, count, rows, signed record). The DELETE
also leaves its dead rows to VACUUM, not timed here: the ratio understates what dropping saves.

PostgreSQL: 127.0.0.1:5432, user postgres (PARCELGUARD_BENCH_PG_URL); a database with a unique name is made,
migrated and dropped.

Run: .venv/bin/python bench/regulator_partitions.py
"""

from __future__ import annotations

import json
import os
import sys
import time

from audit_append import postgres_database  # bench/, first on sys.path when run as a script
from sqlalchemy import text

from parcelguard.core import db
from parcelguard.core.clock import now
from parcelguard.regulator.platform import partitions, retention
from parcelguard.regulator.platform.keys import PlatformKeys
from parcelguard.regulator.platform.migrations import MIGRATIONS_DIR

RECORDS = int(os.environ.get("BENCH_PARTITION_RECORDS", "200000"))
KEYS = PlatformKeys(private_key=bytes(range(32)), signing_key=bytes(range(32, 64)), root_key=bytes(range(64, 96)))


def figure(name: str, value: float, unit: str, ratio_to: str | None = None, ratio: float | None = None) -> None:
    print(json.dumps({"name": name, "value": round(value, 1), "unit": unit, "ratio_to": ratio_to,
                      "ratio": None if ratio is None else round(ratio, 3)}), flush=True)


def note(line: str) -> None:
    print(f"# {line}", file=sys.stderr, flush=True)


def load(url: str, dropped: str, deleted: str) -> None:
    """RECORDS records in each month, as long as real ones (an encrypted payload of ~130 bytes)."""
    engine = db.make_engine(url)
    with engine.begin() as c:
        partitions.create_month(c, dropped)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        c.execute(text("INSERT INTO registered_carriers (id, code, name, registered_at) "
                       "VALUES (md5('c')::uuid, 'bench', 'Bench', now())"))
        c.execute(text("INSERT INTO received_batches (carrier_id, batch_id, key_id, sent_at, received_at, "
                       "record_count, accepted_count) VALUES (md5('c')::uuid, md5('b')::uuid, 'bench', now(), now(), 0, 0)"))
        t0 = time.monotonic()
        for n, period in enumerate((dropped, deleted)):
            c.execute(text("""
                INSERT INTO received_records (carrier_id, record_id, batch_id, waybill_no, station, region, doc_type,
                                              taken_at, received_at, document_index, responsible_index, payload,
                                              record_digest)
                SELECT md5('c')::uuid, md5(:n || 'r' || g)::uuid, md5('b')::uuid, lpad(g::text, 13, '0'),
                       'S' || lpad((g % 2000)::text, 5, '0'), (110000 + (g % 340) * 100)::text, 'resident_id',
                       :start + make_interval(secs => (g::float8 / :records) * 27 * 86400), :start,
                       substr(sha256(int8send(g)), 1, 17), NULL,
                       sha256(int8send(g)) || sha256(int8send(-g)) || sha256(int8send(g + 1)) || sha256(int8send(-g - 1)),
                       sha256(int8send(3 * g))
                FROM generate_series(1::bigint, :records) g"""),
                {"n": str(n), "start": partitions.month_start(period), "records": RECORDS})
        c.execute(text("VACUUM ANALYZE"))
        note(f"2 x {RECORDS:,} records written in {time.monotonic() - t0:.0f} s")
    engine.dispose()


def destroy(url: str, period: str) -> float:
    """`retention.run` at the day `period` goes (the only month due then), in ms."""
    engine = db.make_engine(url)
    try:
        t0 = time.perf_counter()
        [done] = retention.run(sessionmaker=db.make_sessionmaker(engine), keys=KEYS, months=24,
                               at=partitions.month_start(period, 1 + 24))
        took = (time.perf_counter() - t0) * 1000
    finally:
        engine.dispose()
    assert done["record"]["records_deleted"] == RECORDS, done["record"]  # type: ignore[index]
    return took


def main() -> None:
    this = partitions.period_of(now())
    dropped, deleted = (partitions.period_of(partitions.month_start(this, -k)) for k in (31, 30))
    with postgres_database(MIGRATIONS_DIR) as url:
        load(url, dropped, deleted)
        by_drop = destroy(url, dropped)
        by_delete = destroy(url, deleted)
    figure("regulator_retention_month_partition_drop_pg_ms", by_drop, "ms", "delete_same_month_rows",
           by_delete / by_drop)
    figure("regulator_retention_month_delete_pg_ms", by_delete, "ms")
    note(f"{RECORDS:,} records a month: drop {by_drop:.0f} ms, DELETE {by_delete:.0f} ms, "
         f"{by_delete / by_drop:.1f} x")


if __name__ == "__main__":
    main()
