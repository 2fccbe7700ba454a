"""The whole chain on PostgreSQL with the feed on NATS JetStream (issue 17): batch intake at a sustained RATE
from several processes, the uploader and the regulator's platform as their own processes, and the delay
from each record's intake to the regulator's receipt. Goal: ≥ 6,300 shipments/s sustained for 60 s with
p99 intake-to-receipt ≤ 2 s.

- Intake: BENCH_INTAKE_PROCS processes (2), each taking in contract parcels with `shipments.flows.take_in_batch`
  at its share of BENCH_FEED_RATE (6,300/s) in batches every 100 ms, for BENCH_FEED_SECONDS (60). A process
  that cannot keep up runs batches back to back and the figures say what it achieved: it never catches up
  by bursting, and it stops on time.
- `parcelguard uploader run` (PARCELGUARD_FEED=jetstream) and BENCH_PLATFORM_PROCS (1) `parcelguard regulator
  run` (the JetStream consumer) as their own processes; a `nats-server -js` (max_payload 8 MiB) started here.
  Carrier and regulator each have their own PostgreSQL database (unique names, dropped after).
- Delay: `realname_records.created_at` (intake) to `receipt_at` (the platform's received_at), per record.
  After intake stops, BENCH_DRAIN_SECONDS (60) at most for the outbox to empty; then what is left unreceipted.
- CPU by part (from /proc: the processes and their PostgreSQL backends), so per-core rates and the cores the
  goal needs come from the same run; VACUUM ANALYZE every BENCH_VACUUM_EVERY (10) seconds stands in for
  autovacuum on these new databases, its CPU a part of its own; the tables and indexes that read the most
  rows, and the dead row versions left, on stderr.
- Knobs: BENCH_UPLOAD_IN_FLIGHT (4), BENCH_PLATFORM_WORKERS (2), BENCH_PLATFORM_PROCS (1).
- Natural limits in the same run: a plain COPY of as many shipment rows as were taken in, and raw X25519
  unsealing (as bench/regulator_feed.py).

Run: .venv/bin/python bench/feed_jetstream.py   (PARCELGUARD_BENCH_PG_URL as the other benches)
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from queue import Empty

from audit_append import postgres_database  # bench/, first on sys.path when run as a script
from intake_batch import requests as walk_in_requests
from regulator_feed import percentile, set_up
from sqlalchemy import create_engine, func, select, text

from parcelguard.core import db
from parcelguard.core.auth import Actor, Role
from parcelguard.core.config import encode_root_key
from parcelguard.crypto import sealing
from parcelguard.crypto.keyring import Keyring
from parcelguard.identity.models import RealNameRecord
from parcelguard.regulator.models import OutboxEntry, UploadBatch
from parcelguard.regulator.platform.migrations import MIGRATIONS_DIR as PLATFORM_MIGRATIONS
from parcelguard.shipments import flows, service
from parcelguard.shipments.models import Shipment

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.nats_server import nats_server
from tests.servers import free_port, wait_until_up

RATE = int(os.environ.get("BENCH_FEED_RATE", "6300"))
SECONDS = int(os.environ.get("BENCH_FEED_SECONDS", "60"))
INTAKE_PROCS = int(os.environ.get("BENCH_INTAKE_PROCS", "2"))
PLATFORM_PROCS = int(os.environ.get("BENCH_PLATFORM_PROCS", "1"))
DRAIN_SECONDS = int(os.environ.get("BENCH_DRAIN_SECONDS", "60"))
IN_FLIGHT = os.environ.get("BENCH_UPLOAD_IN_FLIGHT", "4")  # PARCELGUARD_UPLOAD_IN_FLIGHT
PLATFORM_WORKERS = os.environ.get("BENCH_PLATFORM_WORKERS", "2")  # PARCELGUARD_REGULATOR_FEED_WORKERS
# VACUUM ANALYZE the tables the chain writes every this many seconds (0: never), its CPU a part of its own.
# The databases are new: autovacuum has not come round to them within the run (its launcher shares one
# naptime among every database of the server), so without it the planner has no statistics for tables that
# grow by 100,000 rows a minute, reads whole tables per batch (outbox, shipments, received records) and steps
# over the outbox's dead rows; a production database would be analyzed and vacuumed by then.
VACUUM_EVERY = float(os.environ.get("BENCH_VACUUM_EVERY", "10"))
TICK = 0.1
GOAL_RATE, GOAL_P99 = 6300, 2.0
CLK = os.sysconf("SC_CLK_TCK")


def figure(name: str, value: float, unit: str, ratio_to: str | None = None, ratio: float | None = None,
           digits: int = 0) -> None:
    print(json.dumps({"name": name, "value": round(value, digits) if digits else round(value), "unit": unit,
                      "ratio_to": ratio_to, "ratio": None if ratio is None else round(ratio, 3)}), flush=True)


def note(line: str) -> None:
    print(f"# {line}", file=sys.stderr, flush=True)


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK


def cpu_of_tree(pid: int) -> float:
    """A process and its children (a console script may fork; uvicorn does not, but be safe)."""
    total = cpu_seconds(pid)
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        children = []
    return total + sum(cpu_of_tree(int(c)) for c in children)


def backends(engine: object, database: str) -> list[int]:
    with engine.connect() as conn:  # type: ignore[attr-defined]
        return list(conn.scalars(text("SELECT pid FROM pg_stat_activity WHERE datname = :d AND pid <> "
                                      "pg_backend_pid()"), {"d": database}))


def pg_background(engine: object) -> list[int]:
    """The server's own processes (WAL writer, checkpointer, ...): shared with whatever else runs."""
    with engine.connect() as conn:  # type: ignore[attr-defined]
        return list(conn.scalars(text("SELECT pid FROM pg_stat_activity WHERE backend_type <> 'client backend'")))


def seq_scans(engine: object, top: int = 4) -> list[tuple[str, int, int]]:
    """Where PostgreSQL read whole tables (a plan that does so per batch costs more as the tables grow)."""
    with engine.connect() as conn:  # type: ignore[attr-defined]
        return [tuple(r) for r in conn.execute(text(
            "SELECT relname, seq_scan, seq_tup_read FROM pg_stat_user_tables WHERE seq_tup_read > 0 "
            "UNION ALL SELECT indexrelname, idx_scan, idx_tup_read FROM pg_stat_user_indexes WHERE idx_tup_read > 0 "
            "ORDER BY 3 DESC LIMIT :top"), {"top": top})]


def dead_rows(engine: object, top: int = 4) -> list[tuple[str, int, int]]:
    """Updated rows leave dead versions that index scans step over until autovacuum clears them."""
    with engine.connect() as conn:  # type: ignore[attr-defined]
        return [tuple(r) for r in conn.execute(text(
            "SELECT relname, n_dead_tup, autovacuum_count FROM pg_stat_user_tables WHERE n_dead_tup > 0 "
            "ORDER BY n_dead_tup DESC LIMIT :top"), {"top": top})]


def vacuum(carrier_url: str, platform_url: str) -> float:
    """VACUUM ANALYZE what the chain writes and updates (autovacuum's work); the CPU its backends spent."""
    spent = 0.0
    for url, tables in ((carrier_url, ("regulator_outbox", "realname_records", "shipments")),
                        (platform_url, ("received_records", "received_batches", "record_rollups", "delay_rollups"))):
        engine = create_engine(url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            backend = conn.scalar(text("SELECT pg_backend_pid()"))
            before = cpu_seconds(backend)
            for table in tables:
                conn.execute(text(f"VACUUM ANALYZE {table}"))
            spent += cpu_seconds(backend) - before
        engine.dispose()
    return spent


# -- the carrier, the platform's registration -----------------------------------------------------------------

# -- intake: one process each, its share of the rate -----------------------------------------------------------

def intake_process(url: str, keys: dict[str, object], rate: float, seconds: float, seed: int,
                   start_at: float, out: mp.Queue) -> None:  # type: ignore[type-arg]
    engine = db.make_engine(url)
    sessions = db.make_sessionmaker(engine)
    keyring = Keyring(keys["root_key"])  # type: ignore[arg-type]
    actor = Actor(user_id=keys["shop_id"], username="feed-shop", role=Role.ENTERPRISE,  # type: ignore[arg-type]
                  carrier_id=keys["carrier_id"], station_id=None, token_id=uuid.uuid4())  # type: ignore[arg-type]
    per_tick = max(1, round(rate * TICK))
    rng = random.Random(seed)
    parcels = [flows.IntakeRequest(
        sender_document=None, sender_phone="13800000005", sender_address="北京市朝阳区演示路5号",
        recipient_name=r.recipient_name, recipient_phone=r.recipient_phone, recipient_region=r.recipient_region,
        recipient_detail=r.recipient_detail, items=[service.Item("羽绒服", "clothing", 1)])
        for r in walk_in_requests(per_tick, rng)]

    def batch() -> None:
        with sessions() as s, s.begin():
            db.begin_write(s)
            flows.take_in_batch(db_session=s, keyring=keyring, actor=actor, requests=parcels,
                                regulator_public_key=keys["regulator_public"])  # type: ignore[arg-type]

    with engine.connect() as conn:
        backend = conn.scalar(text("SELECT pg_backend_pid()"))
    batch()  # warm-up (not counted: its records are made before the start and left out of the figures)
    while time.time() < start_at:
        time.sleep(0.005)
    own0, pg0 = time.process_time(), cpu_seconds(backend)  # the pool's one connection is that backend
    started, ticks, late, taken = time.monotonic(), 0, 0, 0
    while time.monotonic() - started < seconds:
        batch()
        taken += per_tick
        ticks += 1
        pause = started + ticks * TICK - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        else:
            late += 1
    out.put({"taken": taken, "ticks": ticks, "late": late, "seconds": time.monotonic() - started,
             "cpu": time.process_time() - own0, "pg_cpu": cpu_seconds(backend) - pg0, "backend": backend})
    engine.dispose()


# -- the servers ---------------------------------------------------------------------------------------------

def stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for proc in processes:
        if proc.poll() is None:
            proc.terminate()
    for proc in processes:
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


# -- the natural limits --------------------------------------------------------------------------------------

def copy_limit(engine: object, rows: int) -> float:
    """COPY as many shipment rows as the run took in (values from rows it wrote), 1,000 per transaction."""
    with engine.connect() as conn:  # type: ignore[attr-defined]
        sample = [dict(r._mapping) for r in conn.execute(select(Shipment.__table__).limit(1000))]
    columns = list(sample[0])
    statement = f"COPY shipments ({', '.join(columns)}) FROM STDIN"
    batches = []
    for b in range(0, rows, 1000):
        batch = []
        for i in range(min(1000, rows - b)):
            row = dict(sample[i % len(sample)])
            row["id"], row["waybill_no"], row["label_subject"] = uuid.uuid4(), f"CP{b + i:013d}", uuid.uuid4()
            batch.append([row[c] for c in columns])
        batches.append(batch)
    started = time.perf_counter()
    for batch in batches:
        with engine.begin() as conn, conn.connection.driver_connection.cursor() as cursor, \
                cursor.copy(statement) as copy:  # type: ignore[attr-defined]
            for row in batch:
                copy.write_row(row)
    return rows / (time.perf_counter() - started)


def unseal_limit(count: int = 5000) -> float:
    private, public = sealing.generate_x25519_keypair()
    sealer = sealing.SealingSession(public, max_records=count)
    sealed = [(sealer.seal(json.dumps({"doc_type": "resident_id", "doc_number": "11010519491231002X",
                                       "name": "演示负责人"}).encode(), f"ctx-{i}".encode()), f"ctx-{i}".encode())
              for i in range(count)]
    started = time.perf_counter()
    for blob, context in sealed:
        sealing.open_sealed(private, blob, context)
    return count / (time.perf_counter() - started)


# -- the run -------------------------------------------------------------------------------------------------

def run(carrier_url: str, platform_url: str) -> None:
    keys = set_up(carrier_url, platform_url)
    var = Path(tempfile.mkdtemp(prefix="pg-feed-js-"))
    engine = db.make_engine(carrier_url)
    platform_engine = db.make_engine(platform_url)
    carrier_db, platform_db = engine.url.database, platform_engine.url.database
    cli = str(Path(sys.executable).parent / "parcelguard")
    processes: list[subprocess.Popen[bytes]] = []
    with nats_server(var / "nats") as nats:
        nats_url = nats.url
        env = {**os.environ, "PARCELGUARD_VAR_DIR": str(var), "PARCELGUARD_LOG_LEVEL": "warning",
               "PARCELGUARD_REGULATOR_LOG_LEVEL": "warning", "PARCELGUARD_FEED": "jetstream",
               "PARCELGUARD_NATS_URL": nats_url, "PARCELGUARD_DATABASE_URL": carrier_url,
               "PARCELGUARD_ROOT_KEY": encode_root_key(keys["root_key"]),  # type: ignore[arg-type]
               "PARCELGUARD_REGULATOR_PUBLIC_KEY": encode_root_key(keys["regulator_public"]),  # type: ignore[arg-type]
               "PARCELGUARD_REGULATOR_URL": "http://127.0.0.1:9",  # incident reports only: none here
               "PARCELGUARD_REGULATOR_RECEIPT_KEY": encode_root_key(keys["receipt_public"]),  # type: ignore[arg-type]
               "PARCELGUARD_REGULATOR_DATABASE_URL": platform_url,
               "PARCELGUARD_REGULATOR_PRIVATE_KEY": encode_root_key(keys["regulator_private"]),  # type: ignore[arg-type]
               "PARCELGUARD_REGULATOR_SIGNING_KEY": encode_root_key(keys["receipt_seed"]),  # type: ignore[arg-type]
               "PARCELGUARD_REGULATOR_ROOT_KEY": encode_root_key(os.urandom(32)),
               "PARCELGUARD_REGULATOR_RETENTION_INTERVAL_SECONDS": "0",
               "PARCELGUARD_UPLOAD_IN_FLIGHT": IN_FLIGHT, "PARCELGUARD_REGULATOR_FEED_WORKERS": PLATFORM_WORKERS}
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
        try:
            platforms = []
            for _ in range(PLATFORM_PROCS):  # one after the other: each migrates its database on start
                port = free_port()
                proc = subprocess.Popen([cli, "regulator", "run", "--port", str(port)], env=env,
                                        **quiet)  # type: ignore[call-overload]
                processes.append(proc)
                platforms.append(proc)
                wait_until_up(f"http://127.0.0.1:{port}", process=proc)
            uploader = subprocess.Popen([cli, "uploader", "run"], env=env, **quiet)  # type: ignore[call-overload]
            processes.append(uploader)
            start_at = time.time() + 5
            queue: mp.Queue = mp.Queue()  # type: ignore[type-arg]
            workers = [mp.Process(target=intake_process, args=(carrier_url, keys, RATE / INTAKE_PROCS, SECONDS, 11 + i,
                                                                start_at, queue)) for i in range(INTAKE_PROCS)]
            for w in workers:
                w.start()
            while time.time() < start_at:
                time.sleep(0.01)
            watched = {"uploader": [uploader.pid], "platform": [p.pid for p in platforms], "nats": [nats.pid or 0]}
            time.sleep(0.5)  # the intake processes' backends are up: leave them out of the servers' backends
            intake_backends = set()
            results = []
            watched["uploader_pg"] = backends(engine, carrier_db)  # intake's counted by each intake process
            watched["platform_pg"] = backends(platform_engine, platform_db)
            watched["pg_background"] = pg_background(engine)
            at_start = {p: cpu_of_tree(p) for pids in watched.values() for p in pids}
            wall0 = time.monotonic()
            vacuumed = 0.0
            while len(results) < len(workers):
                try:
                    results.append(queue.get(timeout=VACUUM_EVERY or SECONDS + 600))
                except Empty:
                    if not VACUUM_EVERY:
                        raise
                    vacuumed += vacuum(carrier_url, platform_url)
            for w in workers:
                w.join()
            intake_backends = {r["backend"] for r in results}
            intake_wall = max(r["seconds"] for r in results)
            drain_started = time.monotonic()
            while time.monotonic() - drain_started < DRAIN_SECONDS:
                with engine.connect() as conn:
                    left = conn.scalar(select(func.count()).select_from(OutboxEntry)
                                       .where(OutboxEntry.delivered_at.is_(None)))
                if not left:
                    break
                time.sleep(0.5)
            drained_in = time.monotonic() - drain_started
            # backends the pool opened after the first look (e.g. the uploader's second connection)
            watched["uploader_pg"] = sorted((set(watched["uploader_pg"]) | set(backends(engine, carrier_db)))
                                            - intake_backends)
            watched["platform_pg"] = sorted(set(watched["platform_pg"]) | set(backends(platform_engine, platform_db)))
            after = {part: sum(max(0.0, cpu_of_tree(p) - at_start.get(p, 0.0)) for p in pids)
                     for part, pids in watched.items()}
            wall = time.monotonic() - wall0
        finally:
            stop(processes)
    with engine.connect() as conn:
        rows = conn.execute(select(RealNameRecord.created_at, RealNameRecord.receipt_at)).all()
        outcomes = conn.execute(select(UploadBatch.outcome, UploadBatch.error, func.count(), func.sum(UploadBatch.records),
                                       func.avg(UploadBatch.duration_ms))
                                .group_by(UploadBatch.outcome, UploadBatch.error)).all()
    start = datetime.fromtimestamp(start_at, UTC)  # the warm-up batches came before: left out
    counted = [(c, r) for c, r in rows if c >= start]
    per_second = Counter(int((c - start).total_seconds()) for c, _ in counted)
    seconds = [per_second.get(s, 0) for s in range(int(intake_wall))]
    taken = sum(r["taken"] for r in results)
    delays = [(r - c).total_seconds() for c, r in counted if r is not None]
    missing = sum(1 for _, r in counted if r is None)
    receipts = Counter(int((r - start).total_seconds()) for _, r in counted if r is not None)
    receipt_seconds = [receipts.get(s, 0) for s in range(2, int(intake_wall) - 1)]
    for side, eng in (("carrier", engine), ("platform", platform_engine)):
        note(f"{side} tables and indexes that read the most rows (scans, rows): " + ", ".join(
            f"{name} {scans:,} scans {rows:,}" for name, scans, rows in seq_scans(eng)))
        note(f"{side} dead row versions at the end (autovacuum runs): " + ", ".join(
            f"{name} {dead:,} ({runs})" for name, dead, runs in dead_rows(eng)))
    limit_copy = copy_limit(engine, taken)
    limit_unseal = unseal_limit()
    engine.dispose()
    platform_engine.dispose()
    cpu = dict(after)
    if VACUUM_EVERY:
        cpu["vacuum_pg"] = vacuumed
    cpu["intake"] = sum(r["cpu"] for r in results)
    cpu["intake_pg"] = sum(r["pg_cpu"] for r in results)
    achieved = taken / intake_wall
    note(f"{taken:,} parcels taken in by {INTAKE_PROCS} processes in {intake_wall:.1f} s "
         f"({sum(r['late'] for r in results)} of {sum(r['ticks'] for r in results)} batches late); "
         f"drain {drained_in:.1f} s; {missing} without a receipt; {PLATFORM_PROCS} platform process(es) of "
         f"{PLATFORM_WORKERS} feed worker(s); uploader {IN_FLIGHT} batch(es) in flight")
    note("batches: " + "; ".join(f"{outcome}{f' ({error})' if error else ''} {n:,} of {int(records or 0):,} records, "
                                 f"{float(ms or 0):,.0f} ms mean" for outcome, error, n, records, ms in outcomes))
    note("CPU seconds over the run (intake window + drain, " f"{wall:.0f} s wall): "
         + ", ".join(f"{k} {v:.1f}" for k, v in sorted(cpu.items())))
    figure("feed_js_offered_rate", RATE, "shipments/s")
    figure("feed_js_intake_rate", achieved, "shipments/s", "pg_copy_shipment_rows", achieved / limit_copy)
    figure("feed_js_intake_per_second_min", min(seconds, default=0), "shipments/s")
    figure("feed_js_intake_per_second_median", statistics.median(seconds) if seconds else 0, "shipments/s")
    figure("feed_js_receipts_per_second_median", statistics.median(receipt_seconds) if receipt_seconds else 0,
           "records/s", "x25519_unseal_same_records",
           (statistics.median(receipt_seconds) if receipt_seconds else 0) / limit_unseal)
    if delays:
        figure("feed_js_delay_p50_s", percentile(delays, 50), "s", digits=2)
        figure("feed_js_delay_p99_s", percentile(delays, 99), "s", digits=2)
        figure("feed_js_delay_max_s", max(delays), "s", digits=2)
    figure("feed_js_records_without_receipt", missing, "records")
    figure("pg_copy_shipment_rows", limit_copy, "rows/s")
    figure("x25519_unseal_same_records", limit_unseal, "records/s")
    records, receipted = len(counted), len(delays)
    for part, pg_part, name in (("intake", "intake_pg", "intake"), ("uploader", "uploader_pg", "uploader"),
                                ("platform", "platform_pg", "ingest")):
        handled = records if part == "intake" else receipted
        if cpu[part] > 0:
            figure(f"feed_js_{name}_per_core", handled / (cpu[part] + cpu[pg_part]), "records/cpu-s")
            note(f"{name}: {handled / cpu[part]:,.0f} records per CPU-second of its process alone, "
                 f"{handled / (cpu[part] + cpu[pg_part]):,.0f} with its PostgreSQL backends")
    per_record = sum(cpu.values()) / max(1, records)
    figure("feed_js_cpu_per_record_ms", per_record * 1000, "ms", digits=3)
    figure("feed_js_cores_for_goal", per_record * GOAL_RATE, "cores", digits=2)
    ok = achieved >= GOAL_RATE and min(seconds, default=0) >= GOAL_RATE * 0.95 and delays \
        and percentile(delays, 99) <= GOAL_P99 and not missing
    note(f"goal (≥ {GOAL_RATE:,}/s sustained, p99 ≤ {GOAL_P99} s, none left): {'met' if ok else 'not met'}")


def main() -> None:
    note(f"load before: {Path('/proc/loadavg').read_text().strip()}; {os.cpu_count()} cores")
    with postgres_database() as carrier_url, postgres_database(PLATFORM_MIGRATIONS) as platform_url:
        run(carrier_url, platform_url)
    note(f"load after: {Path('/proc/loadavg').read_text().strip()}")


if __name__ == "__main__":
    main()
