"""Appending to the audit log vs writing the same rows with a plain batched insert, in one process.

- PostgreSQL: `log.append` of 1,000 entries per call, one transaction each, with the default
  `head_every=1000` (so each call also signs a tree head): canonical JSON, leaf hashes, the interior
  nodes each append completes, and their inserts. Goal ≥ 20,000 entries/s (an absolute figure).
  Natural limit: the very rows that append wrote (audit_entries + audit_nodes, hashes precomputed),
  re-keyed to another carrier and written by psycopg COPY, one transaction per 1,000 entries. The
  same rows through SQLAlchemy Core `insert()` executemany are printed too, with their ratio to COPY.
- SQLite (a temporary file, WAL), for the record: the same append against Core `insert()` executemany.

Rounds alternate between the sides, so the tables grow alike and machine noise hits all of them; the
best round of each counts. PostgreSQL: 127.0.0.1:5432, user postgres, trust auth (override with
PARCELGUARD_BENCH_PG_URL); a database with a unique name is made, migrated and dropped WITH (FORCE).

Run: .venv/bin/python bench/audit_append.py
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, and_, create_engine, insert, or_, select, text
from sqlalchemy.engine import make_url

from parcelguard.accounts import flows
from parcelguard.audit import log
from parcelguard.audit.models import AuditEntry, AuditNode
from parcelguard.core import db
from parcelguard.crypto.keyring import Keyring

PG_ADMIN_URL = os.environ.get("PARCELGUARD_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
BATCH = 1_000  # entries per append call, one transaction each
BATCHES = int(os.environ.get("BENCH_BATCHES", "20"))  # per round
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
ENTRY_COLUMNS = ("carrier_id", "idx", "logged_at", "actor_id", "subject", "purpose", "decision", "entry")
NODE_COLUMNS = ("carrier_id", "level", "idx", "hash")

Rows = tuple[list[dict[str, Any]], list[dict[str, Any]]]  # (audit_entries rows, audit_nodes rows)


def entries(first: int, count: int, actors: list[str]) -> list[dict[str, Any]]:
    """Audit entries as the gate writes them: one decision each, no personal data."""
    start = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
    return [{"time": (start + timedelta(milliseconds=n)).isoformat(), "actor": actors[n % len(actors)],
             "role": "courier", "subject": f"shipment:{uuid.UUID(int=n)}", "fields": ["recipient_phone"],
             "purpose": "delivery", "case_id": None, "decision": "allow", "reason": None,
             "request_id": f"req-{n:012d}"} for n in range(first, first + count)]


@contextmanager
def postgres_database(script_location: Path | str = db.MIGRATIONS_DIR) -> Iterator[str]:
    """A new PostgreSQL database with the schema built by the migrations (the carrier platform's, or
    those in `script_location`); dropped on exit."""
    name = f"pg_bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        url = make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
        db.upgrade(url, script_location=script_location)
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


class Bench:
    """One database: a carrier per side, and the rows each append wrote, to replay on the limits."""

    def __init__(self, url: str) -> None:
        self.engine: Engine = db.make_engine(url)
        self.sessions = db.make_sessionmaker(self.engine)
        self.keyring = Keyring(os.urandom(32))
        self.actors = [str(uuid.uuid4()) for _ in range(50)]
        self.carriers = 0
        self.carrier = self.new_carrier()
        self.size = 0

    def new_carrier(self) -> uuid.UUID:
        self.carriers += 1
        prefix = "B" + "".join(chr(ord("A") + (self.carriers // 26**k) % 26) for k in (1, 0))
        with self.sessions() as s, s.begin():
            return flows.create_carrier(db_session=s, keyring=self.keyring, slug=f"bench-{prefix.lower()}",
                                        name=f"Bench {prefix}", waybill_prefix=prefix).id

    def append_round(self) -> tuple[float, list[Rows]]:
        """BATCHES appends of BATCH entries; the entries are made before the clock starts."""
        batches = [entries(self.size + b * BATCH, BATCH, self.actors) for b in range(BATCHES)]
        t0 = time.perf_counter()
        for batch in batches:
            with self.sessions() as s, s.begin():
                log.append(db_session=s, keyring=self.keyring, carrier_id=self.carrier, entries=batch)
        elapsed = time.perf_counter() - t0
        written = self.rows_written(self.size, self.size + BATCHES * BATCH)
        self.size += BATCHES * BATCH
        return BATCHES * BATCH / elapsed, written

    def rows_written(self, start: int, end: int) -> list[Rows]:
        """The rows the appends of leaves [start, end) wrote, grouped by append (a node belongs to
        the append that wrote its last leaf)."""
        with self.engine.connect() as conn:
            entry_rows = conn.execute(select(*(getattr(AuditEntry, c) for c in ENTRY_COLUMNS))
                                      .where(AuditEntry.carrier_id == self.carrier, AuditEntry.idx >= start,
                                             AuditEntry.idx < end)).mappings().all()
            # A coarse filter per level; the exact one is below.
            near = or_(*(and_(AuditNode.level == level, AuditNode.idx >= start >> level,
                              AuditNode.idx <= end >> level) for level in range(end.bit_length())))
            node_rows = conn.execute(select(*(getattr(AuditNode, c) for c in NODE_COLUMNS))
                                     .where(AuditNode.carrier_id == self.carrier, near)).mappings().all()
        groups: list[Rows] = [([], []) for _ in range((end - start) // BATCH)]
        for row in entry_rows:
            groups[(row["idx"] - start) // BATCH][0].append(dict(row))
        for row in node_rows:
            last_leaf = ((row["idx"] + 1) << row["level"]) - 1
            if start <= last_leaf < end:
                groups[(last_leaf - start) // BATCH][1].append(dict(row))
        # Leaf i completes one subtree per trailing zero bit of i + 1, besides itself.
        expected = sum(1 + ((i + 1) & -(i + 1)).bit_length() - 1 for i in range(start, end))
        assert len(entry_rows) == end - start and sum(len(n) for _, n in groups) == expected
        return groups


def rekey(groups: list[Rows], carrier: uuid.UUID) -> list[Rows]:
    return [([{**r, "carrier_id": carrier} for r in e], [{**r, "carrier_id": carrier} for r in n])
            for e, n in groups]


def core_insert(engine: Engine) -> Callable[[list[Rows]], float]:
    """SQLAlchemy Core insert() with a list of parameter sets (the driver's executemany)."""
    def run(groups: list[Rows]) -> float:
        t0 = time.perf_counter()
        for entry_rows, node_rows in groups:
            with engine.begin() as conn:
                conn.execute(insert(AuditEntry.__table__), entry_rows)
                conn.execute(insert(AuditNode.__table__), node_rows)
        return sum(len(e) for e, _ in groups) / (time.perf_counter() - t0)
    return run


def pg_copy(engine: Engine) -> Callable[[list[Rows]], float]:
    """psycopg binary COPY FROM STDIN of both tables, one transaction per append's rows."""
    entries_sql = f"COPY audit_entries ({', '.join(ENTRY_COLUMNS)}) FROM STDIN (FORMAT BINARY)"
    nodes_sql = f"COPY audit_nodes ({', '.join(NODE_COLUMNS)}) FROM STDIN (FORMAT BINARY)"
    entry_types = ["uuid", "int8", "timestamptz", "uuid", "varchar", "varchar", "varchar", "bytea"]
    node_types = ["uuid", "int4", "int8", "bytea"]

    def run(groups: list[Rows]) -> float:
        tuples = [([tuple(r[c] for c in ENTRY_COLUMNS) for r in e],
                   [tuple(r[c] for c in NODE_COLUMNS) for r in n]) for e, n in groups]
        t0 = time.perf_counter()
        for entry_rows, node_rows in tuples:
            with engine.begin() as conn:
                cursor = conn.connection.driver_connection.cursor()
                with cursor.copy(entries_sql) as copy:
                    copy.set_types(entry_types)
                    for row in entry_rows:
                        copy.write_row(row)
                with cursor.copy(nodes_sql) as copy:
                    copy.set_types(node_types)
                    for row in node_rows:
                        copy.write_row(row)
                cursor.close()
        return sum(len(e) for e, _ in tuples) / (time.perf_counter() - t0)
    return run


def figure(name: str, value: float, unit: str, ratio_to: str | None = None, ratio: float | None = None,
           digits: int = 0) -> None:
    print(json.dumps({"name": name, "value": round(value, digits) if digits else round(value), "unit": unit,
                      "ratio_to": ratio_to, "ratio": None if ratio is None else round(ratio, 3)}), flush=True)


def compare(bench: Bench, limits: dict[str, Callable[[list[Rows]], float]]) -> tuple[float, dict[str, float]]:
    """Warm up, then ROUNDS rounds of: our appends, then each limit writing the same rows."""
    carriers = {name: bench.new_carrier() for name in limits}
    _, warm = bench.append_round()
    for name, run in limits.items():
        run(rekey(warm, carriers[name]))
    ours, best = 0.0, dict.fromkeys(limits, 0.0)
    for _ in range(ROUNDS):
        rate, written = bench.append_round()
        ours = max(ours, rate)
        for name, run in limits.items():
            best[name] = max(best[name], run(rekey(written, carriers[name])))
    return ours, best


def main() -> None:
    print(f"# {BATCHES * BATCH:,} entries per round, {BATCH:,} per transaction, best of {ROUNDS} rounds",
          file=sys.stderr)
    with postgres_database() as url:
        bench = Bench(url)
        try:
            ours, best = compare(bench, {"pg_copy": pg_copy(bench.engine),
                                         "pg_core_insert": core_insert(bench.engine)})
        finally:
            bench.engine.dispose()
    figure("audit_append_pg", ours, "entries/s", "pg_copy_same_rows", ours / best["pg_copy"])
    figure("pg_copy_same_rows", best["pg_copy"], "entries/s")
    figure("pg_core_insert_same_rows", best["pg_core_insert"], "entries/s", "pg_copy_same_rows",
           best["pg_core_insert"] / best["pg_copy"])

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        db.upgrade(url)
        bench = Bench(url)
        try:
            ours, best = compare(bench, {"sqlite_core_insert": core_insert(bench.engine)})
        finally:
            bench.engine.dispose()
    figure("audit_append_sqlite", ours, "entries/s", "sqlite_core_insert_same_rows",
           ours / best["sqlite_core_insert"])
    figure("sqlite_core_insert_same_rows", best["sqlite_core_insert"], "entries/s")


if __name__ == "__main__":
    main()
