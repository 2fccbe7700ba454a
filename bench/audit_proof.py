"""Inclusion proofs from the audit log, served and verified, against their natural limits and pymerkle.

- A tree of 1,000,000 entries on PostgreSQL and on SQLite (a temporary file, WAL), each built with
  `log.append` in batches of 50,000 (one transaction each); the build time is printed.
- Proof served in-process: `log.inclusion_proof` for random indices with tree_size = the full size,
  on one open session. Goal: median ≤ 2 ms. Natural limit: a single-row primary-key SELECT of one
  audit_nodes row through the same session. A ratio of times is the limit's time over ours, so
  higher is better, as for rates.
- Verification: `verify.verify_inclusion` of the proofs served on PostgreSQL. Goal: median ≤ 0.2 ms.
  Natural limit: a bare hashlib.sha256 of 64 bytes, as many times as the proof has hashes.
- Side by side with pymerkle 7 at 100,000 entries: ours on SQLite vs pymerkle's `SqliteTree` (set
  to WAL and synchronous=NORMAL, as our engine is) and `InmemoryTree`, appending the same entries
  (their canonical JSON bytes for pymerkle) in batches of 10,000 and proving the same random
  indices; ours on PostgreSQL proves them too. pymerkle stores leaf hashes only and computes subtree
  roots when a proof needs them, keeping them in an LRU cache: its first proof is printed apart.

Ours and the limit take turns by blocks of 25 samples, so machine noise hits both. A series stops
after BENCH_PROOF_SECONDS (20) even if BENCH_SAMPLES (3,000) are not done.

Run: .venv/bin/python bench/audit_proof.py   (BENCH_TREE_SIZE to build a smaller tree)
"""

from __future__ import annotations

import hashlib
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from typing import Any

import pymerkle
from audit_append import entries, figure, postgres_database  # bench/, first on sys.path when run as a script
from pymerkle import InmemoryTree, SqliteTree
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from parcelguard import verify
from parcelguard.accounts import flows
from parcelguard.audit import log
from parcelguard.audit.models import AuditNode
from parcelguard.core import db
from parcelguard.crypto.keyring import Keyring

TREE_SIZE = int(os.environ.get("BENCH_TREE_SIZE", "1000000"))
BUILD_BATCH = 50_000
SIDE_SIZE = 100_000  # the side by side with pymerkle
SIDE_BATCH = 10_000
SAMPLES = int(os.environ.get("BENCH_SAMPLES", "3000"))
PROOF_SECONDS = float(os.environ.get("BENCH_PROOF_SECONDS", "20"))
BLOCK = 25
PCTS = ("p50", "p99")


def label(size: int) -> str:
    return f"{size // 1_000_000}m" if size % 1_000_000 == 0 else f"{size // 1000}k"


def percentiles(times_ns: list[int]) -> tuple[float, float]:
    """Median and 99th percentile, in ms."""
    ms = sorted(t / 1e6 for t in times_ns)
    return statistics.median(ms), ms[min(len(ms) - 1, int(len(ms) * 0.99))]


def interleaved(fns: list[Callable[[int], Any]], indices: list[int]) -> tuple[list[list[int]], list[Any]]:
    """Each function on each index, timed one call at a time (ns); and what the first answered.

    The functions take turns by blocks of BLOCK indices: close enough for machine noise to hit all,
    far enough apart that one's cache misses are not charged to the next.
    """
    times: list[list[int]] = [[] for _ in fns]
    answers = []
    deadline = time.monotonic() + PROOF_SECONDS
    for start in range(0, len(indices), BLOCK):
        for k, fn in enumerate(fns):
            for index in indices[start:start + BLOCK]:
                t0 = time.perf_counter_ns()
                answer = fn(index)
                times[k].append(time.perf_counter_ns() - t0)
                if k == 0:
                    answers.append(answer)
        if time.monotonic() > deadline:
            break
    return times, answers


class OurLog:
    """One carrier's log in a migrated database, filled by `log.append`."""

    def __init__(self, url: str, actors: list[str]) -> None:
        self.engine = db.make_engine(url)
        self.sessions: sessionmaker[Session] = db.make_sessionmaker(self.engine)
        self.keyring = Keyring(os.urandom(32))
        self.actors = actors
        self.size = 0
        with self.sessions() as s, s.begin():
            self.carrier = flows.create_carrier(db_session=s, keyring=self.keyring, slug="bench-proof",
                                                name="Bench", waybill_prefix="BP").id

    def grow(self, size: int, batch: int) -> float:
        """Append entries up to `size`, `batch` at a time; seconds spent in append and commit only."""
        spent = 0.0
        while self.size < size:
            chunk = entries(self.size, min(batch, size - self.size), self.actors)
            t0 = time.perf_counter()
            with self.sessions() as s, s.begin():
                log.append(db_session=s, keyring=self.keyring, carrier_id=self.carrier, entries=chunk)
            spent += time.perf_counter() - t0
            self.size += len(chunk)
        return spent

    def prover(self, session: Session, size: int) -> Callable[[int], log.InclusionProof]:
        carrier = self.carrier

        def prove(index: int) -> log.InclusionProof:
            return log.inclusion_proof(db_session=session, carrier_id=carrier, index=index, tree_size=size)
        return prove

    def pk_select(self, session: Session) -> Callable[[int], bytes]:
        carrier = self.carrier

        def read(index: int) -> bytes:
            return session.execute(select(AuditNode.hash).where(
                AuditNode.carrier_id == carrier, AuditNode.level == 0, AuditNode.idx == index)).scalar_one()
        return read


def serve_proofs(ours: OurLog, engine: str, indices: list[int]) -> list[log.InclusionProof]:
    """Proofs at the log's full size against the one-row primary-key read; prints both."""
    with ours.sessions() as session:
        prove, read = ours.prover(session, ours.size), ours.pk_select(session)
        prove(indices[0]), read(indices[0])  # the first query on a session opens the connection
        (proof_ns, select_ns), proofs = interleaved([prove, read], indices)
    at = f"{label(ours.size)}_{engine}"
    for pct, ours_ms, limit_ms in zip(PCTS, percentiles(proof_ns), percentiles(select_ns), strict=True):
        figure(f"audit_inclusion_proof_{at}_{pct}_ms", ours_ms, "ms", f"pk_select_one_node_{engine}_{pct}_ms",
               limit_ms / ours_ms, digits=4)
    for pct, limit_ms in zip(PCTS, percentiles(select_ns), strict=True):
        figure(f"pk_select_one_node_{engine}_{pct}_ms", limit_ms, "ms", digits=4)
    print(f"# {engine}: {len(proof_ns):,} proofs at {ours.size:,}", file=sys.stderr)
    return proofs


def verify_proofs(proofs: list[log.InclusionProof]) -> None:
    """`verify.verify_inclusion` against sha256 of 64 bytes as many times as the proof has hashes."""
    block = os.urandom(64)
    by_index = {p.leaf_index: p for p in proofs}

    def check(index: int) -> bool:
        p = by_index[index]
        return verify.verify_inclusion(p.leaf_hash, index, p.tree_size, p.proof, p.root_hash)

    def bare(index: int) -> None:
        for _ in range(len(by_index[index].proof)):
            hashlib.sha256(block).digest()

    (verify_ns, hash_ns), answers = interleaved([check, bare], [p.leaf_index for p in proofs])
    assert all(answers), "a proof does not verify"
    at = label(proofs[0].tree_size)
    for pct, ours_ms, limit_ms in zip(PCTS, percentiles(verify_ns), percentiles(hash_ns), strict=True):
        figure(f"audit_verify_inclusion_{at}_{pct}_ms", ours_ms, "ms", f"sha256_64b_x_proof_length_{pct}_ms",
               limit_ms / ours_ms, digits=4)
    for pct, limit_ms in zip(PCTS, percentiles(hash_ns), strict=True):
        figure(f"sha256_64b_x_proof_length_{pct}_ms", limit_ms, "ms", digits=4)


def side_by_side(tmp: str, pg: OurLog, actors: list[str], indices: list[int]) -> None:
    """Ours and pymerkle at SIDE_SIZE entries: append rate, then proofs of the same indices."""
    url = f"sqlite:///{tmp}/ours-{label(SIDE_SIZE)}.db"
    db.upgrade(url)
    ours = OurLog(url, actors)
    ours_seconds = ours.grow(SIDE_SIZE, SIDE_BATCH)

    # pymerkle hashes bytes: the canonical JSON of the same entries, made before the clock starts.
    chunks = [[log.canonical(e) for e in entries(first, SIDE_BATCH, actors)]
              for first in range(0, SIDE_SIZE, SIDE_BATCH)]
    sqlite_tree = SqliteTree(f"{tmp}/pymerkle-{label(SIDE_SIZE)}.db")
    sqlite_tree.con.execute("PRAGMA journal_mode=WAL")
    sqlite_tree.con.execute("PRAGMA synchronous=NORMAL")
    memory_tree = InmemoryTree()
    seconds = {}
    for name, tree in (("sqlite", sqlite_tree), ("inmemory", memory_tree)):
        t0 = time.perf_counter()
        for chunk in chunks:
            tree.append_entries(chunk)
        seconds[name] = time.perf_counter() - t0
        assert tree.get_size() == SIDE_SIZE
    at = label(SIDE_SIZE)
    figure(f"audit_append_{at}_sqlite", SIDE_SIZE / ours_seconds, "entries/s", f"pymerkle_sqlite_append_{at}",
           seconds["sqlite"] / ours_seconds)
    for name in ("sqlite", "inmemory"):
        figure(f"pymerkle_{name}_append_{at}", SIDE_SIZE / seconds[name], "entries/s")

    first = {}
    for name, tree in (("sqlite", sqlite_tree), ("inmemory", memory_tree)):
        t0 = time.perf_counter_ns()
        tree.prove_inclusion(indices[0] + 1, SIDE_SIZE)  # pymerkle counts from one
        first[name] = time.perf_counter_ns() - t0
    with ours.sessions() as session, pg.sessions() as pg_session:
        fns = [ours.prover(session, SIDE_SIZE), pg.prover(pg_session, SIDE_SIZE),
               lambda i: sqlite_tree.prove_inclusion(i + 1, SIDE_SIZE),
               lambda i: memory_tree.prove_inclusion(i + 1, SIDE_SIZE)]
        fns[0](indices[0]), fns[1](indices[0])  # the first query on a session opens the connection
        times, _ = interleaved(fns, indices)
    p = dict(zip(("sqlite", "pg", "pymerkle_sqlite", "pymerkle_inmemory"), map(percentiles, times),
                 strict=True))
    for k, pct in enumerate(PCTS):
        for engine in ("sqlite", "pg"):
            figure(f"audit_inclusion_proof_{at}_{engine}_{pct}_ms", p[engine][k], "ms",
                   f"pymerkle_sqlite_proof_{at}_{pct}_ms", p["pymerkle_sqlite"][k] / p[engine][k], digits=4)
    for name in ("sqlite", "inmemory"):
        for k, pct in enumerate(PCTS):
            figure(f"pymerkle_{name}_proof_{at}_{pct}_ms", p[f"pymerkle_{name}"][k], "ms", digits=4)
        figure(f"pymerkle_{name}_proof_{at}_first_ms", first[name] / 1e6, "ms", digits=4)
    print(f"# side by side: {len(times[0]):,} proofs at {SIDE_SIZE:,} (pymerkle {pymerkle.__version__})",
          file=sys.stderr)
    sqlite_tree.close()
    ours.engine.dispose()


def build(ours: OurLog, engine: str, seconds: float = 0.0) -> None:
    seconds += ours.grow(TREE_SIZE, BUILD_BATCH)
    figure(f"audit_build_{label(TREE_SIZE)}_{engine}_s", seconds, "s", digits=1)
    figure(f"audit_build_{label(TREE_SIZE)}_{engine}", TREE_SIZE / seconds, "entries/s")


def main() -> None:
    rng = random.Random(9162)
    actors = [str(uuid.UUID(int=rng.getrandbits(128))) for _ in range(50)]
    print(f"# trees of {TREE_SIZE:,}, side by side at {SIDE_SIZE:,}", file=sys.stderr)
    with tempfile.TemporaryDirectory() as tmp, postgres_database() as pg_url:
        pg = OurLog(pg_url, actors)
        try:
            seconds = pg.grow(SIDE_SIZE, BUILD_BATCH)
            side_by_side(tmp, pg, actors, [rng.randrange(SIDE_SIZE) for _ in range(SAMPLES)])
            build(pg, "pg", seconds)
            verify_proofs(serve_proofs(pg, "pg", [rng.randrange(TREE_SIZE) for _ in range(SAMPLES)]))
        finally:
            pg.engine.dispose()
        url = f"sqlite:///{tmp}/ours-{label(TREE_SIZE)}.db"
        db.upgrade(url)
        ours = OurLog(url, actors)
        build(ours, "sqlite")
        serve_proofs(ours, "sqlite", [rng.randrange(TREE_SIZE) for _ in range(SAMPLES)])
        ours.engine.dispose()


if __name__ == "__main__":
    main()
