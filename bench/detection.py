"""Detection over a carrier's audit log on PostgreSQL: a whole run's reading and judging (`detection.service.detect`:
the log's window and 14 days of history counted per actor, period and hour in one pass, the couriers' tasks and
their parcels' districts, every rule) over N log entries, next to a plain `SELECT count(*)` of the same rows and
a sequential aggregate of them (entries per actor), in the same run.

The log holds BENCH_DETECTION_ENTRIES entries (10 million by default) of one carrier, all within the run's reach
(the last 15 Beijing days): couriers of 20 to a station, 40 reveals a day each at their own hours, one in six a
second look at the same parcel, one in a hundred refused, one task per parcel (so as many parcels and tasks as
entries, less the second looks). The entries are as long as the gate's (about 400 bytes of canonical JSON);
they are written with INSERT … SELECT generate_series, the indexes built after, as a bulk load is (the append
path's own cost is bench/audit_append.py's). Their hashes are not a Merkle tree: detection never reads them.

PostgreSQL: 127.0.0.1:5432, user postgres (PARCELGUARD_BENCH_PG_URL); a database with a unique name is made,
migrated and dropped. Knobs: BENCH_DETECTION_ENTRIES (10000000), BENCH_DETECTION_RUNS (5).

Run: .venv/bin/python bench/detection.py
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from audit_append import postgres_database  # bench/, first on sys.path when run as a script
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from parcelguard.accounts import flows
from parcelguard.core import db
from parcelguard.core.clock import now
from parcelguard.crypto.keyring import Keyring
from parcelguard.detection import service

ENTRIES = int(os.environ.get("BENCH_DETECTION_ENTRIES", "10000000"))
RUNS = int(os.environ.get("BENCH_DETECTION_RUNS", "5"))
PER_DAY, DAYS, PER_STATION = 40, 15, 20


def figure(name: str, value: float, unit: str, ratio_to: str | None = None, ratio: float | None = None) -> None:
    print(json.dumps({"name": name, "value": round(value, 1), "unit": unit, "ratio_to": ratio_to,
                      "ratio": None if ratio is None else round(ratio, 3)}), flush=True)


def note(line: str) -> None:
    print(f"# {line}", file=sys.stderr, flush=True)


def beijing_midnight(moment):  # type: ignore[no-untyped-def]
    local = moment + timedelta(hours=8)
    return local.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(hours=8)


def load(url: str, carrier: uuid.UUID, until) -> None:  # type: ignore[no-untyped-def]
    couriers = max(PER_STATION * 5, -(-ENTRIES // (PER_DAY * DAYS)))  # so none has more than DAYS of work
    stations = couriers // PER_STATION
    engine = db.make_engine(url)
    params = {"carrier": carrier, "start": until - timedelta(days=DAYS), "n": ENTRIES, "c": couriers,
              "s": stations, "per_day": PER_DAY}
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        c.execute(text("SET session_replication_role = replica"))  # no foreign-key triggers while loading
        # The secondary indexes are built after the load (keys stay: other tables' foreign keys need them).
        indexes = c.execute(text("SELECT indexname, indexdef FROM pg_indexes WHERE indexname LIKE 'ix_%' AND "
                                 "tablename IN ('audit_entries', 'shipments', 'shipment_assignments')")).all()
        for name, _ in indexes:
            c.execute(text(f'DROP INDEX "{name}"'))
        t0 = time.monotonic()
        c.execute(text("""INSERT INTO stations (id, carrier_id, code, name, region_code, created_at)
            SELECT md5('s' || s)::uuid, :carrier, 'S' || s, 'Station ' || s, '110105', now()
            FROM generate_series(0, :s - 1) s"""), params)
        c.execute(text("""INSERT INTO users (id, carrier_id, station_id, username, role, display_name, password_hash,
                                             active, created_at)
            SELECT md5('u' || c)::uuid, :carrier, md5('s' || (c % :s))::uuid, 'bench-c' || c, 'courier', 'c' || c,
                   '!', true, now()
            FROM generate_series(0, :c - 1) c"""), params)
        # entry g: courier g % c, its k-th entry (k = g / c), on day k / per_day at its own hours
        each = """FROM generate_series(0::bigint, :n - 1) g,
            LATERAL (SELECT g % :c AS c, g / :c AS k) a,
            LATERAL (SELECT :start + make_interval(days => (a.k / :per_day)::int)
                            + make_interval(secs => 3600 * (6 + (a.c % 5) + (a.k % :per_day) * 9.0 / :per_day))
                            AS at,
                            md5('p' || CASE WHEN a.k % 6 = 5 THEN g - :c ELSE g END)::uuid AS parcel) b"""
        c.execute(text(f"""INSERT INTO audit_entries (carrier_id, idx, logged_at, actor_id, subject, purpose,
                                                     decision, entry)
            SELECT :carrier, g, b.at, md5('u' || a.c)::uuid, 'shipment:' || b.parcel, 'delivery',
                   CASE WHEN g % 100 = 7 THEN 'deny' ELSE 'allow' END,
                   convert_to('{{"actor":"' || md5('u' || a.c)::uuid || '","carrier":"' || :carrier
                              || '","case_id"\\:null,"decision":"allow","fields":["recipient_name",'
                              || '"recipient_address"],"index":' || g || ',"purpose":"delivery","reason"\\:null,'
                              || '"request_id":"' || md5(g::text) || '","role":"courier","subject":"shipment:'
                              || b.parcel || '","time":"' || b.at || '"}}', 'UTF8')
            {each}"""), params)
        c.execute(text(f"""INSERT INTO shipments (id, carrier_id, origin_station_id, destination_station_id,
                recipient_district, created_at, sender_name, sender_phone, sender_address, recipient_name,
                recipient_phone, recipient_address)
            SELECT b.parcel, :carrier, md5('s' || (a.c % :s))::uuid, md5('s' || (a.c % :s))::uuid,
                   'D' || (a.c % :s) || '-' || (a.c % 6), b.at - interval '6 hours', '', '', '', '', '', ''
            {each} WHERE a.k % 6 <> 5"""), params)
        c.execute(text(f"""INSERT INTO shipment_assignments (id, carrier_id, shipment_id, courier_id, task,
                                                            opened_at, closed_at)
            SELECT md5('a' || g)::uuid, :carrier, b.parcel, md5('u' || a.c)::uuid, 'delivery',
                   b.at - interval '3 hours', b.at + interval '30 minutes'
            {each} WHERE a.k % 6 <> 5"""), params)
        c.execute(text("UPDATE audit_logs SET size = :n WHERE carrier_id = :carrier"), params)
        note(f"{ENTRIES:,} entries, their parcels and tasks ({couriers:,} couriers at {stations:,} stations) "
             f"written in {time.monotonic() - t0:.0f} s")
        t0 = time.monotonic()
        for _, definition in indexes:
            c.execute(text(definition))
        c.execute(text("VACUUM ANALYZE"))
        note(f"indexes built and statistics taken in {time.monotonic() - t0:.0f} s")
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
    until = beijing_midnight(now())
    window = timedelta(hours=24)
    with postgres_database() as url:
        engine = db.make_engine(url)
        sessions = db.make_sessionmaker(engine)
        with sessions() as s, s.begin():
            carrier = flows.create_carrier(db_session=s, keyring=Keyring(os.urandom(32)), slug="bench-detect",
                                           name="Bench", waybill_prefix="BD").id
        load(url, carrier, until)
        start = until - timedelta(days=DAYS)
        same_rows = {"carrier": carrier, "start": start, "until": until}
        try:
            with sessions() as session:
                found = service.detect(db_session=session, carrier_id=carrier, until=until, window=window)
                assert found.periods.start == start, (found.periods.start, start)
                note(f"{found.actors:,} accounts in the window, {len(found.findings)} finding(s)")
                ours = timed(lambda: service.detect(db_session=session, carrier_id=carrier, until=until,
                                                    window=window))
                plain = timed(lambda: session.execute(text(
                    "SELECT count(*) FROM audit_entries WHERE carrier_id = :carrier AND logged_at >= :start "
                    "AND logged_at < :until"), same_rows).scalar())
                grouped = timed(lambda: session.execute(text(
                    "SELECT actor_id, count(*) FROM audit_entries WHERE carrier_id = :carrier AND logged_at >= :start "
                    "AND logged_at < :until GROUP BY actor_id"), same_rows).all())
                counted = session.execute(text("SELECT count(*) FROM audit_entries WHERE carrier_id = :carrier AND "
                                               "logged_at >= :start AND logged_at < :until"), same_rows).scalar()
                assert counted == ENTRIES, (counted, ENTRIES)
            with sessions() as session, session.begin():
                t0 = time.perf_counter()
                done = service.run(db_session=session, carrier_id=carrier, until=until, window=window,
                                   trigger="command_line")
                whole = (time.perf_counter() - t0) * 1000
                note(f"a whole run (with its writes): {whole:.0f} ms, {len(done.raised)} alert(s) raised")
        finally:
            engine.dispose()
    size = f"{ENTRIES / 1e6:g}m"
    figure(f"detection_{size}_pg_ms", ours, "ms", "pg_count_star_same_rows", plain / ours)
    figure(f"pg_count_star_{size}_ms", plain, "ms")
    figure(f"pg_group_by_actor_{size}_ms", grouped, "ms", "pg_count_star_same_rows", plain / grouped)
    figure(f"detection_{size}_pg_entries_per_s", ENTRIES / ours * 1000, "entries/s")


if __name__ == "__main__":
    main()
