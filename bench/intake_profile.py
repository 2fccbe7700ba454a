"""Where a single intake's time goes (issue 17: single intake over HTTP is far from a bare route): `POST
/api/v1/shipments` in process (Starlette's TestClient, no network), sequentially, on the demo platform on
PostgreSQL (as bench/intake_http.py), counting the SQL statements each intake sends and profiling the whole.

Prints: the statements per intake by kind, the transactions per intake, milliseconds per intake (with and without
the profiler), and the functions with the most time of their own and cumulatively. Not a rate benchmark: its
natural limit is printed beside it (the same TestClient posting to a bare Starlette route) to say what the
in-process HTTP machinery itself costs.

Run: .venv/bin/python bench/intake_profile.py [--intakes 300] [--top 30]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import cProfile
import json
import os
import pstats
import random
import sys
import time
import uuid
from pathlib import Path

from sqlalchemy import event
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.bench_api import demo_platform

W = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def id_number(rng: random.Random) -> str:
    body = (f"110105{1950 + rng.randrange(50)}{1 + rng.randrange(12):02d}{1 + rng.randrange(28):02d}"
            f"{rng.randrange(1000):03d}")
    return body + "10X98765432"[sum(int(c) * w for c, w in zip(body, W, strict=False)) % 11]


def parcel(rng: random.Random) -> dict[str, object]:
    return {"sender": {"document": {"type": "resident_id", "number": id_number(rng), "name": "王伟"},
                       "phone": f"139{rng.randrange(10**8):08d}", "address": "北京市朝阳区建国路88号"},
            "recipient": {"name": "李强", "phone": f"137{rng.randrange(10**8):08d}",
                          "address": {"province": "上海市", "city": "上海市", "district": "浦东新区",
                                      "detail": "世纪大道100号"}},
            "items": [{"description": "羽绒服", "category": "clothing", "quantity": 1}]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--intakes", type=int, default=300)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--concurrency", type=int, default=1,
                        help="terminals posting at once in the profiled run (intakes that arrive together are "
                             "written together: shipments.combining)")
    parser.add_argument("--statements", action="store_true", help="list each distinct statement an intake sends")
    args = parser.parse_args()
    with demo_platform() as (_, env):
        os.environ.update(env)
        from parcelguard.core.config import get_settings
        from parcelguard.web.app import create_app

        get_settings.cache_clear()
        app = create_app()
        statements: collections.Counter[str] = collections.Counter()
        texts: collections.Counter[str] = collections.Counter()

        @event.listens_for(app.state.engine, "before_cursor_execute")
        def count(conn: object, cursor: object, statement: str, *rest: object) -> None:
            statements[statement.lstrip().split(None, 1)[0].upper()] += 1
            texts[" ".join(statement.split())[:160]] += 1

        rng = random.Random(17)
        with TestClient(app) as http:
            token = lambda **h: http.post("/api/v1/auth/token", headers=h, data={
                "username": h.get("user", "demo-manager"), "password": "parcelguard-demo"}).json()["access_token"]
            manager = token()
            terminal = http.post("/api/v1/terminals", headers={"Authorization": f"Bearer {manager}"},
                                 json={"serial": f"PROF-{uuid.uuid4().hex[:8]}", "label": "profile"}).json()["id"]
            courier = http.post("/api/v1/auth/token", headers={"X-Terminal-Id": terminal}, data={
                "username": "demo-courier-1", "password": "parcelguard-demo"}).json()["access_token"]
            headers = {"Authorization": f"Bearer {courier}", "X-Terminal-Id": terminal}

            def intake() -> None:
                r = http.post("/api/v1/shipments", json=parcel(rng), headers=headers)
                assert r.status_code == 201, r.text

            for _ in range(30):  # warm-up: caches, data keys, prepared statements
                intake()
            statements.clear()
            texts.clear()
            started = time.perf_counter()
            for _ in range(args.intakes):
                intake()
            plain = (time.perf_counter() - started) / args.intakes
            counted, listed = dict(statements), dict(texts)  # before the profiled run adds its own
            stats = _profile_inline(app, headers, rng, args.intakes, args.concurrency)

        bare = TestClient(Starlette(routes=[Route("/s", _bare, methods=["POST"])]))
        body = parcel(rng)
        started = time.perf_counter()
        for _ in range(args.intakes):
            bare.post("/s", json=body)
        limit = (time.perf_counter() - started) / args.intakes

    print(json.dumps({"name": "intake_in_process_ms", "value": round(plain * 1000, 2), "unit": "ms",
                      "ratio_to": "starlette_bare_post_in_process_ms", "ratio": round(limit / plain, 3)}))
    print(json.dumps({"name": "intake_sql_statements", "value": round(sum(counted.values()) / args.intakes, 1),
                      "unit": "statements", "ratio_to": None, "ratio": None}))
    combiner = app.state.intake_combiner
    print(f"# profiled run: {args.concurrency} terminal(s) at once; {combiner.batches} transactions wrote "
          f"the intakes of both runs")
    print(f"# {args.intakes} intakes in process on PostgreSQL: {plain * 1000:.2f} ms each "
          f"(a bare Starlette route through the same TestClient: {limit * 1000:.2f} ms; ratio {limit / plain:.3f})")
    per = {k: v / args.intakes for k, v in sorted(counted.items(), key=lambda kv: -kv[1])}
    print("# SQLAlchemy statements per intake (a COPY counts once in the profile's psycopg waits, not here): " + ", ".join(f"{k} {v:.1f}" for k, v in per.items())
          + f"; total {sum(per.values()):.1f}")
    if args.statements:
        for text, n in collections.Counter(listed).most_common():
            print(f"#   {n / args.intakes:4.1f}  {text}")
    sys.stdout.flush()
    stats.stream = sys.stderr  # type: ignore[attr-defined]  # the profile goes to stderr, the figures to stdout
    stats.sort_stats("tottime").print_stats(args.top)
    stats.sort_stats("cumulative").print_stats("src/parcelguard", args.top)


def _profile_inline(app: object, headers: dict[str, str], rng: random.Random, intakes: int,
                    concurrency: int = 1) -> pstats.Stats:
    """The intakes with everything in this thread, so that cProfile sees the route, not the client waiting:
    the app driven through httpx's ASGI transport in one event loop, and anyio's worker threads (FastAPI runs
    sync routes and dependencies there) replaced by a direct call for the run."""
    import anyio.to_thread
    import httpx

    async def inline(func, *args, **_):  # type: ignore[no-untyped-def]
        return func(*args)

    async def run() -> None:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://local") as client:
            async def terminal(n: int) -> None:
                for _ in range(n):
                    r = await client.post("/api/v1/shipments", json=parcel(rng), headers=headers)
                    assert r.status_code == 201, r.text
            await asyncio.gather(*(terminal(intakes // concurrency) for _ in range(concurrency)))

    original = anyio.to_thread.run_sync
    anyio.to_thread.run_sync = inline  # type: ignore[assignment]
    profiler = cProfile.Profile()
    try:
        profiler.runcall(lambda: asyncio.run(run()))
    finally:
        anyio.to_thread.run_sync = original
    return pstats.Stats(profiler)


async def _bare(request: Request) -> JSONResponse:
    body = await request.json()
    return JSONResponse({"id": "x", "items": len(body["items"])}, status_code=201)


if __name__ == "__main__":
    main()
