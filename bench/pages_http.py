"""The field app's pages over HTTP, on the platform served by `parcelguard run` against PostgreSQL.

1. The courier's pickup page round trip at 50 terminals: each terminal loads `/courier/pickup` (the form,
   with its catalogue and stations), then submits a parcel with a typed document (a real intake: sealed,
   encrypted, numbered, answered with the masked result page); one round trip is both requests. Natural
   limit: a bare Starlette app that serves an HTML page of the same size and takes a form post, loaded
   the same way; the ratio is its p50 (and p99) over ours.
2. The public tracking lookup rate (`GET /api/v1/public/track/{waybill_no}`, a real and an unknown number
   in turn, rate limits off) against a bare Starlette JSON route at the same concurrency.

The load comes from another process (asyncio + httpx, one connection per client).

Run: .venv/bin/python bench/pages_http.py
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

from parcelguard.waybills.numbers import damm_check_digit

TERMINALS = 50
LOOKUP_CLIENTS = 16
SECONDS = int(os.environ.get("BENCH_SECONDS", "15"))

BARE_APP = """
import uvicorn
from starlette.applications import Starlette
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Route

PAGE = "<!doctype html><html><body><form method=post>" + "<input name=f>" * 40 + "</form>" + "x" * 9000 + "</body></html>"

async def page(request):
    if request.method == "POST":
        form = await request.form()
        return HTMLResponse(PAGE[:4000] + str(len(form)), status_code=201)
    return HTMLResponse(PAGE)

async def track(request):
    return JSONResponse({"waybill_no": request.path_params["no"], "status": "no_record", "events": [],
                         "recipient": None})

async def ok(request):
    return JSONResponse({"ok": True})

app = Starlette(routes=[Route("/page", page, methods=["GET", "POST"]), Route("/track/{no}", track), Route("/ok", ok)])
uvicorn.run(app, host="127.0.0.1", port=int(__import__("sys").argv[1]), log_config=None, access_log=False,
            server_header=False)
"""

# Each client: GET the page, read its CSRF token, POST a parcel; the round trip is both.
LOAD = r"""
import asyncio, json, random, re, sys, time
import httpx

mode, base, path, seconds, clients = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), json.loads(sys.argv[5])
W = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CSRF = re.compile(r'name="csrf" value="([^"]+)"')

def id_number(rng):
    body = "110105" + f"{1950 + rng.randrange(50)}{1 + rng.randrange(12):02d}{1 + rng.randrange(28):02d}" \
        + f"{rng.randrange(1000):03d}"
    return body + "10X98765432"[sum(int(c) * w for c, w in zip(body, W)) % 11]

def form(rng, csrf):
    return {"csrf": csrf, "doc_type": "resident_id", "doc_number": id_number(rng), "doc_name": "王" + "伟芳娜"[rng.randrange(3)],
            "sender_phone": f"139{rng.randrange(10**8):08d}", "sender_address": "北京市朝阳区建国路88号",
            "recipient_name": "李" + "强磊军"[rng.randrange(3)], "recipient_phone": f"137{rng.randrange(10**8):08d}",
            "province": "上海市", "city": "上海市", "district": "浦东新区", "detail": "世纪大道100号",
            "item0_description": "羽绒服", "item0_category": "clothing", "item0_quantity": "1"}

async def pickup(cookies, stop, latencies, failures, seed):
    rng = random.Random(seed)
    async with httpx.AsyncClient(base_url=base, cookies=cookies, timeout=30) as client:
        while time.monotonic() < stop:
            t0 = time.perf_counter()
            page = await client.get(path)
            found = CSRF.search(page.text)
            r = await client.post(path, data=form(rng, found.group(1) if found else "x"))
            latencies.append(time.perf_counter() - t0)
            if page.status_code != 200 or r.status_code != 201:
                failures.append((page.status_code, r.status_code))

async def lookup(numbers, stop, latencies, failures, seed):
    rng = random.Random(seed)
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        while time.monotonic() < stop:
            t0 = time.perf_counter()
            r = await client.get(path + rng.choice(numbers))
            latencies.append(time.perf_counter() - t0)
            if r.status_code != 200:
                failures.append(r.status_code)

async def main():
    latencies, failures = [], []
    stop = time.monotonic() + seconds
    run = pickup if mode == "pickup" else lookup
    await asyncio.gather(*(run(c, stop, latencies, failures, i) for i, c in enumerate(clients)))
    latencies.sort()
    print(json.dumps({"n": len(latencies), "failures": len(failures), "first_failure": failures[:1],
                      "p50_ms": 1000 * latencies[len(latencies) // 2],
                      "p99_ms": 1000 * latencies[int(len(latencies) * 0.99)], "rps": len(latencies) / seconds}))

asyncio.run(main())
"""


def load(mode: str, base: str, path: str, clients: list) -> dict[str, float]:  # type: ignore[type-arg]
    proc = subprocess.run([sys.executable, "-c", LOAD, mode, base, path, str(SECONDS), json.dumps(clients)],
                          check=False, capture_output=True, text=True, timeout=SECONDS + 120)
    if proc.returncode != 0:
        raise RuntimeError(f"the load generator failed: {proc.stderr[-1500:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    if result["failures"]:
        raise RuntimeError(f"{result['failures']} requests failed at {base}{path}: {result['first_failure']}")
    return result


def courier_cookies(base: str) -> list[dict[str, str]]:
    """A registered terminal per client, and the demo courier signed in on each: the pages' cookies."""
    manager = httpx.post(base + "/api/v1/auth/token",
                         data={"username": "demo-manager", "password": "parcelguard-demo"}).json()["access_token"]
    out = []
    for _ in range(TERMINALS):
        terminal = httpx.post(base + "/api/v1/terminals", headers={"Authorization": f"Bearer {manager}"},
                              json={"serial": f"BENCH-{uuid.uuid4().hex[:10]}", "label": "bench"}).json()["id"]
        signed = httpx.post(base + "/courier/login", data={"username": "demo-courier-1",
                                                           "password": "parcelguard-demo", "terminal": terminal})
        assert signed.status_code == 303, signed.status_code
        out.append({"pg_session": signed.cookies["pg_session"], "pg_terminal": terminal})
    return out


def waybill_numbers(base: str, cookies: dict[str, str]) -> list[str]:
    """A real number (taken in through the page) and well-formed unknown ones, looked up in turn."""
    with httpx.Client(base_url=base, cookies=cookies) as client:
        page = client.get("/courier/pickup").text
        csrf = page.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        body = {"csrf": csrf, "doc_type": "resident_id", "doc_number": "11010519491231002X", "doc_name": "王伟",
                "sender_phone": "13900000001", "sender_address": "北京市朝阳区建国路88号", "recipient_name": "李强",
                "recipient_phone": "13700000002", "province": "上海市", "city": "上海市", "district": "浦东新区",
                "detail": "世纪大道100号", "item0_description": "羽绒服", "item0_category": "clothing",
                "item0_quantity": "1"}
        taken = client.post("/courier/pickup", data=body).text
    real = taken.split('id="waybill-no">', 1)[1].split("<", 1)[0].strip()
    return [real, real[:-13] + "000000000001" + damm_check_digit("000000000001")]


def main() -> None:
    with demo_platform() as (_, env):
        env = {**env, "PARCELGUARD_RATE_LIMIT_TRACK_PER_ADDRESS": "off",
               "PARCELGUARD_RATE_LIMIT_TRACK_PER_ADDRESS_HOURLY": "off"}
        ours_port, bare_port = free_port(), free_port()
        with serve([sys.executable, "-m", "parcelguard", "run", "--port", str(ours_port)], env, ours_port) as ours, \
                serve([sys.executable, "-c", BARE_APP, str(bare_port)], env, bare_port) as bare:
            clients = courier_cookies(ours)
            load("pickup", ours, "/courier/pickup", clients[:5])  # warm-up
            mine = load("pickup", ours, "/courier/pickup", clients)
            limit = load("pickup", bare, "/page", clients)
            numbers = waybill_numbers(ours, clients[0])
            lookups = load("lookup", ours, "/api/v1/public/track/", [numbers] * LOOKUP_CLIENTS)
            bare_lookups = load("lookup", bare, "/track/", [numbers] * LOOKUP_CLIENTS)
    for pct in ("p50_ms", "p99_ms"):
        print(json.dumps({"name": f"pickup_page_round_trip_{pct}", "value": round(mine[pct], 1), "unit": "ms",
                          "ratio_to": f"starlette_bare_page_round_trip_{pct}",
                          "ratio": round(limit[pct] / mine[pct], 3)}))
        print(json.dumps({"name": f"starlette_bare_page_round_trip_{pct}", "value": round(limit[pct], 1),
                          "unit": "ms", "ratio_to": None, "ratio": None}))
    print(json.dumps({"name": "pickup_page_rps", "value": round(mine["rps"]), "unit": "parcels/s",
                      "ratio_to": None, "ratio": None}))
    print(json.dumps({"name": "public_track_rps", "value": round(lookups["rps"]), "unit": "lookups/s",
                      "ratio_to": "starlette_bare_track_rps", "ratio": round(lookups["rps"] / bare_lookups["rps"], 3)}))
    print(json.dumps({"name": "starlette_bare_track_rps", "value": round(bare_lookups["rps"]), "unit": "requests/s",
                      "ratio_to": None, "ratio": None}))
    print(f"# {TERMINALS} terminals, {SECONDS} s each side, {mine['n']:,} pickups; "
          f"{LOOKUP_CLIENTS} lookup clients, {lookups['n']:,} lookups", file=sys.stderr)


if __name__ == "__main__":
    main()
