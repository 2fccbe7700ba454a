"""Single real-name intake over HTTP: `POST /api/v1/shipments` from 50 concurrent terminals, on the
platform served by `parcelguard run` against PostgreSQL; p50 and p99 latency.

- 50 terminals are registered and a courier signs in on each; each terminal sends parcels back to
  back (a new document, name and phones each time) for BENCH_SECONDS.
- Natural limit: a bare Starlette route that reads the same JSON body, under uvicorn with the same
  options, loaded by the same client at the same concurrency; the ratio is its p50 over ours.
- The load comes from another process (asyncio + httpx, one connection per terminal).
- The demo carrier's pool of virtual numbers is two numbers (20,000 number-extension pairs); a 30-second run
  binds some 7,500 of them, and in a pool 40 % full most bindings take several tries. A carrier sizes its pool to
  its parcels in flight (an alert says when it runs short), so the bench first adds 98 numbers: a million pairs,
  BENCH_POOL_NUMBERS to change (0: the demo pool as it is).

Run: .venv/bin/python bench/intake_http.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.bench_api import demo_platform, serve
from tests.servers import free_port

TERMINALS = 50
SECONDS = int(os.environ.get("BENCH_SECONDS", "15"))
WORKERS = int(os.environ.get("BENCH_WORKERS", "1"))  # `parcelguard run --workers N`
POOL_NUMBERS = int(os.environ.get("BENCH_POOL_NUMBERS", "98"))  # added to the demo carrier's two

BARE_APP = """
import uvicorn
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

async def take(request):
    body = await request.json()
    return JSONResponse({"id": "x", "items": len(body["items"])}, status_code=201)

async def ok(request):
    return JSONResponse({"ok": True})

app = Starlette(routes=[Route("/shipments", take, methods=["POST"]), Route("/ok", ok)])
uvicorn.run(app, host="127.0.0.1", port=int(__import__("sys").argv[1]), log_config=None, access_log=False,
            server_header=False)
"""

# The load generator, run in its own process: TERMINALS tasks, each its own connection and headers.
LOAD = r"""
import asyncio, json, random, sys, time
import httpx

url, seconds, clients = sys.argv[1], float(sys.argv[2]), json.loads(sys.argv[3])
W = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
def id_number(rng):
    body = "110105" + f"{1950 + rng.randrange(50)}{1 + rng.randrange(12):02d}{1 + rng.randrange(28):02d}" \
        + f"{rng.randrange(1000):03d}"
    return body + "10X98765432"[sum(int(c) * w for c, w in zip(body, W)) % 11]

def parcel(rng):
    return {"sender": {"document": {"type": "resident_id", "number": id_number(rng), "name": "王" + "伟芳娜"[rng.randrange(3)]},
                       "phone": f"139{rng.randrange(10**8):08d}", "address": "北京市朝阳区建国路88号"},
            "recipient": {"name": "李" + "强磊军"[rng.randrange(3)], "phone": f"137{rng.randrange(10**8):08d}",
                          "address": {"province": "上海市", "city": "上海市", "district": "浦东新区", "detail": "世纪大道100号"}},
            "items": [{"description": "羽绒服", "category": "clothing", "quantity": 1}]}

async def terminal(headers, stop, latencies, failures, seed):
    rng = random.Random(seed)
    async with httpx.AsyncClient(headers=headers, timeout=30) as client:
        while time.monotonic() < stop:
            body = parcel(rng)
            t0 = time.perf_counter()
            r = await client.post(url, json=body)
            latencies.append(time.perf_counter() - t0)
            if r.status_code != 201:
                failures.append(r.status_code)

async def main():
    latencies, failures = [], []
    stop = time.monotonic() + seconds
    await asyncio.gather(*(terminal(h, stop, latencies, failures, i) for i, h in enumerate(clients)))
    latencies.sort()
    print(json.dumps({"n": len(latencies), "failures": len(failures),
                      "p50_ms": 1000 * latencies[len(latencies) // 2],
                      "p99_ms": 1000 * latencies[int(len(latencies) * 0.99)],
                      "rps": len(latencies) / seconds}))

asyncio.run(main())
"""


def load(url: str, clients: list[dict[str, str]]) -> dict[str, float]:
    proc = subprocess.run([sys.executable, "-c", LOAD, url, str(SECONDS), json.dumps(clients)], check=False,
                          capture_output=True, text=True, timeout=SECONDS + 120)
    if proc.returncode != 0:
        raise RuntimeError(f"the load generator failed: {proc.stderr[-1500:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    if result["failures"]:
        raise RuntimeError(f"{result['failures']} intakes failed at {url}")
    return result


def terminals(base: str) -> list[dict[str, str]]:
    """A registered terminal per client, and the demo courier signed in on each."""
    manager = httpx.post(base + "/api/v1/auth/token",
                         data={"username": "demo-manager", "password": "parcelguard-demo"}).json()["access_token"]
    out = []
    for _ in range(TERMINALS):
        terminal = httpx.post(base + "/api/v1/terminals", headers={"Authorization": f"Bearer {manager}"},
                              json={"serial": f"BENCH-{uuid.uuid4().hex[:10]}", "label": "bench"}).json()["id"]
        token = httpx.post(base + "/api/v1/auth/token", headers={"X-Terminal-Id": terminal},
                           data={"username": "demo-courier-1", "password": "parcelguard-demo"}).json()["access_token"]
        out.append({"Authorization": f"Bearer {token}", "X-Terminal-Id": terminal})
    return out


def main() -> None:
    with demo_platform() as (_, env):
        if POOL_NUMBERS:
            subprocess.run([sys.executable, "-m", "parcelguard", "numbers", "add", "--carrier", "demo",
                            *(f"+86571999{n:05d}" for n in range(POOL_NUMBERS))], env=env, check=True,
                           capture_output=True)
        ours_port, bare_port = free_port(), free_port()
        with serve([sys.executable, "-m", "parcelguard", "run", "--port", str(ours_port),
                                   "--workers", str(WORKERS)], env, ours_port) as ours, \
                serve([sys.executable, "-c", BARE_APP, str(bare_port)], env, bare_port) as bare:
            clients = terminals(ours)
            load(ours + "/api/v1/shipments", clients[:5])  # warm-up
            mine = load(ours + "/api/v1/shipments", clients)
            limit = load(bare + "/shipments", clients)
    print(json.dumps({"name": "intake_http_p50_ms", "value": round(mine["p50_ms"], 1), "unit": "ms",
                      "ratio_to": "starlette_bare_post_p50_ms", "ratio": round(limit["p50_ms"] / mine["p50_ms"], 3)}))
    print(json.dumps({"name": "intake_http_p99_ms", "value": round(mine["p99_ms"], 1), "unit": "ms",
                      "ratio_to": "starlette_bare_post_p99_ms", "ratio": round(limit["p99_ms"] / mine["p99_ms"], 3)}))
    print(json.dumps({"name": "intake_http_rps", "value": round(mine["rps"]), "unit": "shipments/s",
                      "ratio_to": None, "ratio": None}))
    for pct in ("p50_ms", "p99_ms"):
        print(json.dumps({"name": f"starlette_bare_post_{pct}", "value": round(limit[pct], 1), "unit": "ms",
                          "ratio_to": None, "ratio": None}))
    print(f"# {TERMINALS} terminals, {SECONDS} s each side, {mine['n']:,} intakes, {WORKERS} worker(s)",
          file=sys.stderr)


if __name__ == "__main__":
    main()
