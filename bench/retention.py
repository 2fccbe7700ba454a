"""Retention on PostgreSQL at 10 million shipments (issue 15): destroying a month of a carrier's shipments by
crypto-shredding (`retention.service.run`: the four shredded classes of the waybill, each its keys destroyed, its
values counted and a signed destruction record written) next to a `DELETE` of the same month's rows, in the same
run, and a plain `SELECT count(*)` of the month for scale.

The carrier and its keys are the real code's: `accounts.flows.create_carrier`, then one real value of each column
encrypted through `Keyring.encrypt` under its class (recipient_contact, sender_contact, sender_phone,
item_description), which makes the month's data key of each class and its shredding key. The shipments (one item
each) are written with INSERT … SELECT generate_series, all created within that UTC month: every ciphertext
column holds the 9-byte header of its class's data key (`envelope.header_of`) and random bytes as long as the
real ciphertext of a plausible value (`gen_random_bytes` of pgcrypto, else sha256 of the row number). Indexes
are built after the load, as a bulk load is, then VACUUM ANALYZE and a CHECKPOINT. Shipment 0 carries the real
ciphertexts: it opens before the run and raises KeyUnavailable after it.

Timed, in this order, on the same rows (the table is read once first, so every step starts from a warm cache):
- `SELECT count(*)` of the month (median of BENCH_RETENTION_RUNS);
- shredding alone: `crypto.shredding.shred` of each class's month, one transaction each as the run does, rolled
  back (median of BENCH_RETENTION_RUNS of the four);
- counting alone: `retention.service.count_items` of each class (what the record's `items` costs), once;
- the whole run: `retention.service.run` with `at` at the month's expiry (plan, shredding, counting, signing,
  the log entries, four commits), once; it commits, so it destroys the month for good. The carrier keeps the
  rows 36 months, so this run shreds and deletes no row (`retention.deletion`: the DELETE below is what the run
  does for the rows a year later, in one transaction per class and month);
- the natural limit, last: `DELETE` of the month's shipment_items (their foreign key to shipments has no
  cascade, so they go first) then of its shipments, in one transaction, twice: first with no trigger firing
  (`session_replication_role = replica`: the floor, as if no foreign key pointed at shipments) and rolled back,
  then as the schema is (nine foreign keys point at shipments, each checked for every row deleted), committed.

The figures' ratios are, as in the other benchmarks, the limit's time over ours; stderr also prints the run's
time over the DELETE's, the plans of the two DELETEs and the share of each step.

PostgreSQL: 127.0.0.1:5432, user postgres (PARCELGUARD_BENCH_PG_URL); a database with a unique name is made,
migrated and dropped. Knobs: BENCH_RETENTION_SHIPMENTS (10000000), BENCH_RETENTION_RUNS (3).

Run: .venv/bin/python bench/retention.py
"""

from __future__ import annotations

import hashlib
import json
import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from audit_append import postgres_database  # bench/, first on sys.path when run as a script
from run import machine
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from parcelguard.accounts import flows
from parcelguard.core import db
from parcelguard.core.db import begin_write
from parcelguard.crypto import envelope, shredding
from parcelguard.crypto.keyring import Keyring
from parcelguard.crypto.types import Aad, KeyUnavailable
from parcelguard.retention import classes, deletion, service
from parcelguard.retention.models import RetentionSetting

SHIPMENTS = int(os.environ.get("BENCH_RETENTION_SHIPMENTS", "10000000"))
RUNS = int(os.environ.get("BENCH_RETENTION_RUNS", "3"))
CHUNK = 1_000_000  # shipments per INSERT statement (one transaction each)
STATIONS = 500

# A plausible value of each encrypted column, encrypted once through the keyring: the month's data key of its
# class, and the length every generated ciphertext of that column takes.
VALUES = {
    ("shipments", "recipient_name"): "王小明",
    ("shipments", "recipient_phone"): "+8613812345678",
    ("shipments", "recipient_address"): "北京市朝阳区建国路88号SOHO现代城5号楼1203室",
    ("shipments", "sender_name"): "李华",
    ("shipments", "sender_phone"): "+8613987654321",
    ("shipments", "sender_address"): "上海市浦东新区世纪大道100号环球金融中心45层",
    ("shipment_items", "description"): "手机壳两个、数据线一根",
}
SHREDDED = (classes.RECIPIENT_CONTACT, classes.SENDER_CONTACT, classes.SENDER_PHONE, classes.ITEM_DESCRIPTION)


def class_of_column(table: str, column: str) -> str:
    return next(c.name for c in SHREDDED if f"{table}.{column}" in c.covers)


def row_id(prefix: str, n: int) -> uuid.UUID:
    """The id the load gives row `n`: md5(prefix || n)::uuid in SQL."""
    return uuid.UUID(hashlib.md5(f"{prefix}{n}".encode()).hexdigest())


def figure(name: str, value: float, unit: str, ratio_to: str | None = None, ratio: float | None = None) -> None:
    print(json.dumps({"name": name, "value": round(value, 1), "unit": unit, "ratio_to": ratio_to,
                      "ratio": None if ratio is None else round(ratio, 3)}), flush=True)


def note(line: str) -> None:
    print(f"# {line}", file=sys.stderr, flush=True)


def real_values(sessions: sessionmaker[Session], keyring: Keyring, carrier: uuid.UUID) -> dict[tuple[str, str], bytes]:
    """Each column's plausible value encrypted by the keyring for row 0 of the load: makes the month's data key
    of every class (and its shredding key), committed."""
    found = {}
    with sessions() as s, s.begin():
        for (table, column), value in VALUES.items():
            row = row_id("s" if table == "shipments" else "i", 0)
            found[table, column] = keyring.encrypt(db_session=s, carrier_id=carrier, plaintext=value,
                                                   aad=Aad(table, column, row),
                                                   data_class=class_of_column(table, column))
    return found


def source_of_random(c) -> str:  # type: ignore[no-untyped-def]
    """An SQL expression of `n` random bytes, `{n}` to fill in."""
    try:
        c.execute(text("CREATE EXTENSION IF NOT EXISTS pgcrypto"))
        return "gen_random_bytes({n})"
    except Exception:  # noqa: BLE001 - not installed: sha256 of the row number, repeated
        note("pgcrypto is not available: the ciphertext bodies are sha256 of the row number")
        return "substr(sha256(int8send(g)) || sha256(int8send(-g)) || sha256(int8send(g + 1)) || " \
               "sha256(int8send(-g - 1)), 1, {n})"


def load(url: str, carrier: uuid.UUID, prefix: str, real: dict[tuple[str, str], bytes],
         start: datetime, end: datetime) -> None:
    headers = {place: envelope.header_of(envelope.key_id_of(ct)) for place, ct in real.items()}
    body = {place: len(ct) - envelope.HEADER_BYTES for place, ct in real.items()}
    # An engine of its own: the settings below stay on its connection, which must not go back to the pool
    # the timed steps use (with session_replication_role = replica no foreign-key trigger fires).
    engine = db.make_engine(url)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        random = source_of_random(c)
        c.execute(text("SET session_replication_role = replica"))  # no foreign-key triggers while loading
        c.execute(text("SET maintenance_work_mem = '512MB'"))
        # The secondary indexes and unique constraints go and are built after the load (the primary keys stay:
        # shipment_items' foreign key needs shipments').
        rebuild = []
        for table in ("shipments", "shipment_items"):
            for name, definition, constraint in c.execute(text("""
                    SELECT i.relname, pg_get_indexdef(i.oid), con.conname IS NOT NULL
                    FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
                    LEFT JOIN pg_constraint con ON con.conindid = i.oid AND con.contype = 'u'
                    WHERE x.indrelid = CAST(:t AS regclass) AND NOT x.indisprimary"""), {"t": table}).all():
                if constraint:
                    kept = c.execute(text("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = :n"),
                                     {"n": name}).scalar_one()
                    c.execute(text(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"'))
                    rebuild.append(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {kept}')
                else:
                    c.execute(text(f'DROP INDEX "{name}"'))
                    rebuild.append(definition)
        c.execute(text("""INSERT INTO stations (id, carrier_id, code, name, region_code, created_at)
            SELECT md5('st' || s)::uuid, :carrier, 'S' || s, 'Station ' || s, '110105', now()
            FROM generate_series(0, :n - 1) s"""), {"carrier": carrier, "n": STATIONS})

        def cipher(table: str, column: str) -> str:
            return f":h_{column} || " + random.format(n=body[table, column])

        params = {"carrier": carrier, "prefix": prefix, "n": SHIPMENTS, "stations": STATIONS, "start": start,
                  "span": (end - start).total_seconds() - 1, **{f"h_{col}": h for (_, col), h in headers.items()}}
        t0 = time.monotonic()
        for first in range(0, SHIPMENTS, CHUNK):
            last = min(first + CHUNK, SHIPMENTS) - 1
            each = "FROM generate_series(CAST(:first AS bigint), :last) g"
            c.execute(text(f"""
                INSERT INTO shipments (id, carrier_id, waybill_no, status, sender_kind, inspected, origin_station_id,
                    destination_station_id, created_at, delivered_at, label_subject, sender_name_masked,
                    recipient_name_masked, recipient_phone_tail, recipient_province, recipient_city,
                    recipient_district, sender_name, sender_phone, sender_address, recipient_name, recipient_phone,
                    recipient_address)
                SELECT md5('s' || g)::uuid, :carrier, :prefix || lpad(g::text, 13, '0'), 'delivered', 'walk_in',
                       false, md5('st' || (g % :stations))::uuid, md5('st' || ((g * 7919) % :stations))::uuid,
                       x.at, x.at + interval '2 days', md5('l' || g)::uuid, '李*', '王*',
                       lpad((g % 10000)::text, 4, '0'), '北京市', '北京市', '朝阳区',
                       {cipher("shipments", "sender_name")}, {cipher("shipments", "sender_phone")},
                       {cipher("shipments", "sender_address")}, {cipher("shipments", "recipient_name")},
                       {cipher("shipments", "recipient_phone")}, {cipher("shipments", "recipient_address")}
                {each}, LATERAL (SELECT CAST(:start AS timestamptz)
                                        + make_interval(secs => g::float8 / :n * :span) AS at) x"""),
                {**params, "first": first, "last": last})
            c.execute(text(f"""
                INSERT INTO shipment_items (id, shipment_id, category, description, quantity, declared_value_cents)
                SELECT md5('i' || g)::uuid, md5('s' || g)::uuid, 'daily_goods',
                       {cipher("shipment_items", "description")}, 1 + g % 3, (g % 500) * 100
                {each}"""), {**params, "first": first, "last": last})
            note(f"{last + 1:,} shipments and items written ({time.monotonic() - t0:.0f} s)")
        # shipment 0 and its item carry the real ciphertexts (made for their ids)
        for (table, column), ct in real.items():
            c.execute(text(f"UPDATE {table} SET {column} = :ct WHERE id = :id"),
                      {"ct": ct, "id": row_id("s" if table == "shipments" else "i", 0)})
        t0 = time.monotonic()
        for statement in rebuild:
            c.execute(text(statement))
        note(f"indexes built in {time.monotonic() - t0:.0f} s")
        t0 = time.monotonic()
        c.execute(text("VACUUM ANALYZE shipments"))
        c.execute(text("VACUUM ANALYZE shipment_items"))
        c.execute(text("CHECKPOINT"))
        size = c.execute(text("SELECT pg_total_relation_size('shipments'), pg_total_relation_size('shipment_items')"))
        ships, items = size.one()
        note(f"VACUUM ANALYZE and CHECKPOINT in {time.monotonic() - t0:.0f} s; shipments {ships / 2**30:.2f} GiB, "
             f"shipment_items {items / 2**30:.2f} GiB with their indexes")
    engine.dispose()


def timed(fn: Callable[[], object], runs: int = RUNS) -> float:
    """The median of `runs` runs, in ms."""
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    return statistics.median(samples)


def month_bounds(period: str) -> tuple[datetime, datetime]:
    year, month = (int(p) for p in period.split("-"))
    start = datetime(year, month, 1, tzinfo=UTC)
    return start, datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)


def opens(sessions: sessionmaker[Session], keyring: Keyring, carrier: uuid.UUID) -> bool:
    """Whether shipment 0's real recipient name still decrypts."""
    with sessions() as s:
        ct = s.execute(text("SELECT recipient_name FROM shipments WHERE id = :id"), {"id": row_id("s", 0)}).scalar_one()
        try:
            keyring.decrypt(db_session=s, carrier_id=carrier, ciphertext=ct,
                            aad=Aad("shipments", "recipient_name", row_id("s", 0)))
        except KeyUnavailable:
            return False
        return True


def main() -> None:
    with postgres_database() as url:
        engine = db.make_engine(url)
        sessions = db.make_sessionmaker(engine)
        keyring = Keyring(os.urandom(32))
        try:
            with sessions() as s, s.begin():
                carrier = flows.create_carrier(db_session=s, keyring=keyring, slug="bench-retention",
                                               name="Bench retention", waybill_prefix="BR").id
            with sessions() as s, s.begin():  # the rows stay 36 months: the run at 24 is the shredding alone
                s.add_all(RetentionSetting(carrier_id=carrier, data_class=name, months=36)
                          for name in deletion.STEPS if name in deletion.ON_THE_PARCEL)
            real = real_values(sessions, keyring, carrier)
            with sessions() as s:
                keys = s.execute(text("SELECT data_class, period, id FROM crypto_data_keys WHERE carrier_id = :c "
                                      "ORDER BY data_class"), {"c": carrier}).all()
                pg = s.execute(text("SELECT current_setting('server_version')")).scalar_one()
            periods = {p for _, p, _ in keys}
            assert len(keys) == len(SHREDDED) and len(periods) == 1, keys  # a key per class, one month
            period = periods.pop()
            start, end = month_bounds(period)
            note(f"{SHIPMENTS:,} shipments in {period}; {machine()}; PostgreSQL {pg}; "
                 f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
            t0 = time.monotonic()
            load(url, carrier, "BR", real, start, end)
            note(f"loaded in {time.monotonic() - t0:.0f} s")
            month = {"start": start, "end": end}
            count_sql = text("SELECT count(*) FROM shipments WHERE created_at >= :start AND created_at < :end")
            with sessions() as s:
                assert s.execute(count_sql, month).scalar_one() == SHIPMENTS  # reads the table once: a warm cache
                counted = timed(lambda: s.execute(count_sql, month).scalar_one())
            assert opens(sessions, keyring, carrier)

            due = plan(sessions, keyring, carrier)
            at = max(m.expires_at for m in due)  # the month's expiry: 24 months on, for every class here
            assert sorted(m.data_class for m in due if m.due(at)) == sorted(c.name for c in SHREDDED), due

            def shred_alone() -> None:
                for m in due:
                    with sessions() as s:
                        begin_write(s)
                        done = shredding.shred(db_session=s, keyring=keyring, carrier_id=carrier,
                                               data_class=m.data_class, periods=[m.period])
                        assert done.data_key_ids and done.shred_key_ids
                        s.rollback()  # the keys are back: the run destroys them for good

            shred_ms = timed(shred_alone)
            count_ms, items = 0.0, {}
            for m in due:
                ids = tuple(i for c, _, i in keys if c == m.data_class)
                with sessions() as s:
                    t0 = time.perf_counter()
                    items.update(service.count_items(s, m.data_class, ids, m.period))
                    took = (time.perf_counter() - t0) * 1000
                note(f"counting {m.data_class}: {took:,.0f} ms ({len(classes.columns_of(m.data_class))} column(s))")
                count_ms += took
            assert set(items.values()) == {SHIPMENTS}, items

            t0 = time.perf_counter()
            done = service.run(sessionmaker=sessions, keyring=keyring, carrier_id=carrier, at=at)
            run_ms = (time.perf_counter() - t0) * 1000
            assert len(done.records) == len(SHREDDED), done
            assert all(set(r.body["items"].values()) == {SHIPMENTS} for r in done.records)
            assert not opens(sessions, keyring, carrier)
            note(f"the run wrote {len(done.records)} signed records; shipment 0 no longer opens")

            delete_items = ("DELETE FROM shipment_items WHERE shipment_id IN (SELECT id FROM shipments "
                            "WHERE created_at >= :start AND created_at < :end)")
            delete_shipments = "DELETE FROM shipments WHERE created_at >= :start AND created_at < :end"
            with engine.connect() as c:
                for statement in (delete_items, delete_shipments):
                    shape = c.execute(text(f"EXPLAIN (COSTS OFF) {statement}"), month).scalars().all()
                    note(f"plan of {statement.split(' WHERE')[0]}: {' / '.join(line.strip() for line in shape)}")
            with engine.connect() as c, c.begin():  # the floor: no trigger fires; rolled back
                c.execute(text("SET LOCAL session_replication_role = replica"))
                t0 = time.perf_counter()
                c.execute(text(delete_items), month)
                bare_items_ms = (time.perf_counter() - t0) * 1000
                c.execute(text(delete_shipments), month)
                bare_ms = (time.perf_counter() - t0) * 1000
                c.rollback()
            note(f"DELETE without foreign-key checks (rolled back): shipment_items {bare_items_ms:,.0f} ms, "
                 f"shipments {bare_ms - bare_items_ms:,.0f} ms")
            with engine.connect() as c, c.begin():
                t0 = time.perf_counter()
                gone_items = c.execute(text(delete_items), month).rowcount
                items_ms = (time.perf_counter() - t0) * 1000
                gone = c.execute(text(delete_shipments), month).rowcount
            delete_ms = (time.perf_counter() - t0) * 1000  # both statements and the commit
            assert gone == gone_items == SHIPMENTS, (gone, gone_items)
            note(f"DELETE: shipment_items {items_ms:,.0f} ms, shipments {delete_ms - items_ms:,.0f} ms (with commit)")
            note(f"run / DELETE = {run_ms / delete_ms:.4f} (without its foreign-key checks {run_ms / bare_ms:.4f}); "
                 f"shred alone / DELETE = {shred_ms / delete_ms:.6f} ({shred_ms / bare_ms:.6f}); "
                 f"counting alone / run = {count_ms / run_ms:.3f}")
        finally:
            engine.dispose()
    size = f"{SHIPMENTS / 1e6:g}m"
    # as in the other benchmarks, ratio = the natural limit's time / ours (above 1: faster than the limit)
    figure(f"retention_run_{size}_pg_ms", run_ms, "ms", f"pg_delete_month_{size}_ms", delete_ms / run_ms)
    figure(f"retention_shred_alone_{size}_pg_ms", shred_ms, "ms", f"pg_delete_month_{size}_ms", delete_ms / shred_ms)
    figure(f"retention_count_items_{size}_pg_ms", count_ms, "ms", f"retention_run_{size}_pg_ms", run_ms / count_ms)
    figure(f"pg_delete_month_{size}_ms", delete_ms, "ms", f"pg_count_star_month_{size}_ms", counted / delete_ms)
    figure(f"pg_delete_month_no_fk_checks_{size}_ms", bare_ms, "ms", f"pg_count_star_month_{size}_ms",
           counted / bare_ms)
    figure(f"pg_count_star_month_{size}_ms", counted, "ms")


def plan(sessions: sessionmaker[Session], keyring: Keyring, carrier: uuid.UUID) -> list[service.Month]:
    with sessions() as s:
        return service.plan(db_session=s, keyring=keyring, carrier_id=carrier)


if __name__ == "__main__":
    main()
