"""The regulator's dashboard on PostgreSQL at 10 million records: every figure the page shows (records per
carrier and per region in the last 24 hours, per Beijing day over 7 days, upload delay percentiles per
carrier), next to a plain `SELECT count(*)` of the same rows, in the same run.

The records are the worst case for the page: all 10 million taken in its last 24 hours, so every one is
in every window it shows (10 carriers, 2,000 stations each in one of 340 regions, delays of 0.2-4.2 s and
one in a thousand of a minute). They are written with INSERT … SELECT generate_series (the ingest path
would take an hour to store them; its own cost is bench/regulator_feed.py's), then the running totals are
filled by `rollups.rebuild`, the SQL the migration fills them with, which is what ingest keeps them at.

Also timed once, for what the totals save: the dashboard's counts by carrier read from the records (a
GROUP BY over the `taken_at` index, as a window not of whole hours is counted).

PostgreSQL: 127.0.0.1:5432, user postgres (PARCELGUARD_BENCH_PG_URL); a database with a unique name is
made, migrated and dropped. Knobs: BENCH_DASH_RECORDS (10000000), BENCH_DASH_RUNS (7).

Run: .venv/bin/python bench/regulator_dashboard.py
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from audit_append import postgres_database  # bench/, first on sys.path when run as a script
from sqlalchemy import text

from parcelguard.core import db
from parcelguard.core.clock import now
from parcelguard.regulator.platform import figures, rollups
from parcelguard.regulator.platform.migrations import MIGRATIONS_DIR
from parcelguard.web.regulator_pages import dashboard_figures

RECORDS = int(os.environ.get("BENCH_DASH_RECORDS", "10000000"))
RUNS = int(os.environ.get("BENCH_DASH_RUNS", "7"))
CARRIERS, STATIONS, REGIONS = 10, 2000, 340


def figure(name: str, value: float, unit: str, ratio_to: str | None = None, ratio: float | None = None) -> None:
    print(json.dumps({"name": name, "value": round(value, 1), "unit": unit, "ratio_to": ratio_to,
                      "ratio": None if ratio is None else round(ratio, 3)}), flush=True)


def note(line: str) -> None:
    print(f"# {line}", file=sys.stderr, flush=True)


def load(url: str) -> None:
    """RECORDS records in the dashboard's window, the indexes built after (as a bulk load is done), then the
    running totals and the planner's statistics."""
    engine = db.make_engine(url)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        c.execute(text("""INSERT INTO registered_carriers (id, code, name, registered_at)
            SELECT md5('c' || g)::uuid, 'carrier' || lpad(g::text, 2, '0'), 'Carrier ' || g, now()
            FROM generate_series(0, :n - 1) g"""), {"n": CARRIERS})
        c.execute(text("""INSERT INTO received_batches (carrier_id, batch_id, key_id, sent_at, received_at,
                                                      record_count, accepted_count)
            SELECT md5('c' || g)::uuid, md5('b' || g)::uuid, 'bench', now(), now(), 0, 0
            FROM generate_series(0, :n - 1) g"""), {"n": CARRIERS})
        indexes = c.execute(text("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = "
                                 "'received_records' AND indexname NOT LIKE 'pk_%'")).all()
        for name, _ in indexes:
            c.execute(text(f'DROP INDEX "{name}"'))
        c.execute(text("ALTER TABLE received_records DROP CONSTRAINT pk_received_records"))
        t0 = time.monotonic()
        # station s belongs to carrier s % CARRIERS and lies in region (s * 7) % REGIONS; a record's
        # payload and digests are as long as real ones (an encrypted payload of ~130 bytes)
        c.execute(text("""
            INSERT INTO received_records (carrier_id, record_id, batch_id, waybill_no, station, region, doc_type,
                                          taken_at, received_at, document_index, responsible_index, payload,
                                          record_digest)
            SELECT md5('c' || (s % :carriers))::uuid, md5('r' || g)::uuid, md5('b' || (s % :carriers))::uuid,
                   lpad(g::text, 13, '0'), 'S' || lpad(s::text, 5, '0'),
                   (110000 + ((s * 7) % :regions) * 100)::text, 'resident_id', at,
                   at + make_interval(secs => 0.2 + ((g * 2654435761) % 1000) / 1000.0
                                              * CASE WHEN g % 997 = 0 THEN 60 ELSE 4 END),
                   substr(sha256(int8send(g)), 1, 17), NULL,
                   sha256(int8send(g)) || sha256(int8send(-g)) || sha256(int8send(g + 1)) || sha256(int8send(-g - 1)),
                   sha256(int8send(3 * g))
            FROM generate_series(1::bigint, :records) g,
                 LATERAL (SELECT (g * 48271) % :stations AS s,
                                 now() - make_interval(secs => (g::float8 / :records) * :span) AS at) x"""),
                  {"carriers": CARRIERS, "regions": REGIONS, "stations": STATIONS, "records": RECORDS,
                   "span": (now() - window()[0]).total_seconds() - 60})
        note(f"{RECORDS:,} records written in {time.monotonic() - t0:.0f} s")
        t0 = time.monotonic()
        c.execute(text("ALTER TABLE received_records ADD CONSTRAINT pk_received_records "
                       "PRIMARY KEY (carrier_id, record_id, taken_at)"))  # taken_at: the partition key (issue 17)
        for _, definition in indexes:  # a partitioned table's index is defined `ON ONLY` it: build the partitions' too
            c.execute(text(definition.replace(" ON ONLY ", " ON ")))
        note(f"indexes built in {time.monotonic() - t0:.0f} s")
        t0 = time.monotonic()
        rollups.rebuild(c)
        c.execute(text("VACUUM ANALYZE"))
        totals = c.execute(text("SELECT (SELECT count(*) FROM record_rollups), "
                                "(SELECT count(*) FROM delay_rollups)")).one()
        note(f"running totals filled in {time.monotonic() - t0:.0f} s: {totals[0]:,} count rows, "
             f"{totals[1]:,} histogram rows")
    engine.dispose()


def timed(fn: Callable[[], object], runs: int = RUNS) -> float:
    """The median of `runs` runs after one to warm the cache, in ms."""
    fn()
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    return statistics.median(samples)


def main() -> None:
    with postgres_database(MIGRATIONS_DIR) as url:
        load(url)
        engine = db.make_engine(url)
        sessions = db.make_sessionmaker(engine)
        try:
            with sessions() as session:
                shown = dashboard_figures(session)
                counted = sum(bar.value for bar in shown["by_carrier"])  # type: ignore[attr-defined]
                assert counted == RECORDS, (counted, RECORDS)  # every record is in the page's window
                ours = timed(lambda: dashboard_figures(session))
                plain = timed(lambda: session.execute(text("SELECT count(*) FROM received_records")).scalar())
                since, until = window()
                from_records = timed(lambda: figures.counts(  # a microsecond off the hour: from the records
                    db_session=session, by="carrier", win=figures.Window(since + timedelta(microseconds=1), until)),
                    runs=1)
        finally:
            engine.dispose()
    figure("regulator_dashboard_10m_pg_ms", ours, "ms", "pg_count_star_same_rows", plain / ours)
    figure("pg_count_star_10m_ms", plain, "ms")
    figure("regulator_counts_from_records_10m_pg_ms", from_records, "ms", "pg_count_star_same_rows",
           plain / from_records)


def window() -> tuple[datetime, datetime]:
    """The dashboard's last 24 hours: whole hours, this one so far included."""
    until = rollups.hour_of(now()) + rollups.HOUR
    return until - timedelta(hours=24), until


if __name__ == "__main__":
    main()
