"""The enterprise console's quote across 10 carriers (issue 16): `POST /api/v1/quotes`, p50, p99 and
requests/s, with every carrier priced under its imported rate table.

- Its own database (a SQLite file in a temporary directory; PostgreSQL with `--pg` or BENCH_QUOTES_PG=1, a
  database with a unique name made and dropped), built by the console's migrations; one company with an
  admin and a shipper (`employees`, as `parcelguard enterprise add-company` makes them).
- 10 carrier connections, each with a rate table built here and imported through the real route
  (`POST /api/v1/connections/{id}/rate-tables`, CSV lanes + CSV surcharges): every origin × destination
  province of the 34 (1,156 lanes) plus 50 city lanes from the carrier's hubs to big cities, prices by zone
  and carrier; a remote-area surcharge (新疆, 西藏, 青海, 内蒙古), a fuel percentage, a heavy-parcel one per kg,
  and for some carriers a fee to 香港/澳门/台湾. One carrier's lanes stop at 20 kg, so heavier parcels name it
  in `unserved` (`too_heavy`): 9 or 10 carriers priced per request, all 10 looked at.
- The console served by `parcelguard enterprise run` itself (uvicorn, its own process); the requests
  (origin, destination, a big city half the time, 0.1–30 kg; fixed seed) come from this process, one
  keep-alive connection, back to back; then from BENCH_QUOTES_CLIENTS concurrent connections (asyncio +
  httpx in another process).
- Natural limit: a bare Starlette app with one POST route that parses the same JSON body and answers a small
  JSON (ours answers 10 quotes with their breakdowns, about 3.4 KB), under uvicorn with the same options,
  asked the same way. Sequential runs alternate blocks of 100 requests between the two servers, so machine
  noise hits both. A ratio of times is the limit's time over ours (higher is better), of rates ours over the
  limit's.
- Where the time goes, in this process without HTTP: `quotes.compare` (a session and transaction per
  request, as the route has: the connections, the versions in force, pricing) and `pricing.price` of the
  10 tables alone (tables in memory), for the same requests.

Knobs: BENCH_QUOTES_REQUESTS (2000 measured per series, after 200 of warm-up), BENCH_QUOTES_CLIENTS (8),
BENCH_QUOTES_PG (0). PostgreSQL: 127.0.0.1:5432, user postgres (PARCELGUARD_BENCH_PG_URL).

Run: .venv/bin/python bench/enterprise_quotes.py [--pg]
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.audit_append import postgres_database
from bench.bench_api import serve
from tests.servers import free_port

from parcelguard.core import db
from parcelguard.core.clock import now
from parcelguard.core.config import encode_root_key
from parcelguard.enterprise.platform import employees, quotes, rate_tables
from parcelguard.enterprise.platform.migrations import MIGRATIONS_DIR
from parcelguard.enterprise.rates import pricing
from parcelguard.enterprise.rates.model import beijing_date
from parcelguard.enterprise.rates.regions import provinces, short_name

REQUESTS = int(os.environ.get("BENCH_QUOTES_REQUESTS", "2000"))
CLIENTS = int(os.environ.get("BENCH_QUOTES_CLIENTS", "8"))
WARMUP = 200
BLOCK = 100
SEED = 16
PASSWORD = "bench password 16"

BARE_APP = """
import sys
import uvicorn
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

async def quote(request):
    body = await request.json()
    return JSONResponse({"on": "2027-01-01", "origin": body["origin_province"], "quotes": [], "unserved": []})

async def ok(request):
    return JSONResponse({"ok": True})

app = Starlette(routes=[Route("/quotes", quote, methods=["POST"]), Route("/ok", ok)])
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_config=None, access_log=False, server_header=False,
            proxy_headers=False)
"""

# The concurrent load, in its own process: CLIENTS tasks, one connection each, sharing the request list.
LOAD = r"""
import asyncio, json, sys, time
import httpx

url, clients, bodies, headers = sys.argv[1], int(sys.argv[2]), json.load(open(sys.argv[3])), json.loads(sys.argv[4])

async def client(queue, latencies, failures):
    async with httpx.AsyncClient(headers=headers, timeout=60) as c:
        while queue:
            body = queue.pop()
            t0 = time.perf_counter()
            r = await c.post(url, json=body)
            latencies.append(time.perf_counter() - t0)
            if r.status_code != 200:
                failures.append(r.status_code)

async def main():
    warm, latencies, failures = list(bodies[:100]), [], []
    await asyncio.gather(*(client(warm, [], failures) for _ in range(clients)))
    queue = list(reversed(bodies))
    t0 = time.perf_counter()
    await asyncio.gather(*(client(queue, latencies, failures) for _ in range(clients)))
    elapsed = time.perf_counter() - t0
    print(json.dumps({"latencies_ms": [1000 * x for x in latencies], "failures": len(failures),
                      "rps": len(latencies) / elapsed}))

asyncio.run(main())
"""


def figure(name: str, value: float, unit: str, ratio_to: str | None = None, ratio: float | None = None,
           digits: int = 2) -> None:
    print(json.dumps({"name": name, "value": round(value, digits) if digits else round(value), "unit": unit,
                      "ratio_to": ratio_to, "ratio": None if ratio is None else round(ratio, 3)}), flush=True)


def note(line: str) -> None:
    print(f"# {line}", file=sys.stderr, flush=True)


def pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1]


# -- the carriers' tables -----------------------------------------------------------------------------------------

ZONES = {  # rough regions, for prices and transit days that grow with distance
    "华北": "北京 天津 河北 山西 内蒙古", "东北": "辽宁 吉林 黑龙江", "华东": "上海 江苏 浙江 安徽 福建 江西 山东",
    "华中": "河南 湖北 湖南", "华南": "广东 广西 海南", "西南": "重庆 四川 贵州 云南 西藏",
    "西北": "陕西 甘肃 青海 宁夏 新疆", "港澳台": "香港 澳门 台湾",
}
ZONE_OF = {p: z for z, names in ZONES.items() for p in names.split()}
REMOTE = ("新疆", "西藏", "青海", "内蒙古")
OFFSHORE = ("香港", "澳门", "台湾")
# 50 big cities that are not a province-level city themselves, with their province (short name)
CITIES = [(c, p) for p, cs in (
    ("广东", "广州 深圳 东莞 佛山 珠海 中山"), ("浙江", "杭州 宁波 温州 金华 绍兴 嘉兴"),
    ("江苏", "南京 苏州 无锡 常州 徐州 南通"), ("山东", "青岛 济南 烟台 潍坊 临沂"), ("福建", "福州 厦门 泉州"),
    ("河南", "郑州 洛阳"), ("河北", "石家庄 唐山 保定"), ("辽宁", "沈阳 大连"), ("四川", "成都"), ("湖北", "武汉"),
    ("陕西", "西安"), ("湖南", "长沙"), ("安徽", "合肥"), ("黑龙江", "哈尔滨"), ("吉林", "长春"), ("山西", "太原"),
    ("江西", "南昌"), ("云南", "昆明"), ("贵州", "贵阳"), ("广西", "南宁"), ("海南", "海口"), ("甘肃", "兰州"),
    ("新疆", "乌鲁木齐"), ("内蒙古", "呼和浩特"), ("宁夏", "银川"),
) for c in cs.split()]
assert len(CITIES) == 50, len(CITIES)
HUBS = ("广东", "浙江", "江苏", "上海", "北京", "山东", "湖北", "四川")
CARRIERS = [  # code, name, base first-kg price (fen), step price per kg (fen), days offset, max kg
    ("SF", "顺丰速运", 1800, 500, 0, 50), ("JD", "京东物流", 1600, 450, 0, 50), ("EMS", "中国邮政 EMS", 1500, 500, 1, 40),
    ("ZTO", "中通快递", 900, 250, 1, 40), ("YTO", "圆通速递", 850, 250, 1, 40), ("STO", "申通快递", 800, 240, 2, 40),
    ("YUNDA", "韵达速递", 820, 230, 2, 40), ("JT", "极兔速递", 750, 220, 2, 30), ("DEPPON", "德邦快递", 1300, 300, 1, 60),
    ("BEST", "百世快递", 700, 200, 2, 20),
]
LANE_HEADER = ["始发省", "目的省", "目的市", "首重(kg)", "首重价格(元)", "续重单位(kg)", "续重价格(元)", "最大重量(kg)",
               "最快时效(天)", "最慢时效(天)"]


def yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


def distance(origin: str, destination: str) -> int:
    """0 within a province, 1 within a zone, 2 between zones, 3 to or from the far west, 4 offshore."""
    if origin == destination:
        return 0
    if origin in OFFSHORE or destination in OFFSHORE:
        return 4
    if origin in REMOTE[:3] or destination in REMOTE[:3]:
        return 3
    return 1 if ZONE_OF[origin] == ZONE_OF[destination] else 2


def table_csv(index: int, rng: random.Random) -> tuple[bytes, bytes, int]:
    """Carrier `index`'s lanes and surcharges as two CSV files (UTF-8), and its number of lanes."""
    _, _, base, step, slower, max_kg = CARRIERS[index]
    names = [short_name(p) for p in provinces()]
    rows = []
    for origin in names:
        for destination in names:
            d = distance(origin, destination)
            first = base + d * (150 + 10 * index) + rng.randrange(0, 50) * 10
            rows.append([origin, destination, "", "1", yuan(first), "1", yuan(step + d * 80 + rng.randrange(0, 10) * 10),
                         str(max_kg), str(1 + d // 2 + slower // 2), str(2 + d + slower)])
    for j, (city, province) in enumerate(CITIES):
        origin = HUBS[(index + j) % len(HUBS)]
        d = distance(origin, province)
        first = base + d * 120 - 100 + rng.randrange(0, 30) * 10  # an agreed city price, under the province's
        rows.append([origin, province, city, "1", yuan(max(first, 300)), "0.5", yuan((step + d * 60) // 2),
                     str(max_kg), str(max(0, d // 2 + slower // 2)), str(1 + d + slower // 2)])
    lanes = io.StringIO()
    writer = csv.writer(lanes, lineterminator="\n")
    writer.writerow(LANE_HEADER)
    writer.writerows(rows)
    extra = io.StringIO()
    writer = csv.writer(extra, lineterminator="\n")
    writer.writerow(["名称", "类型", "金额", "目的省", "起始重量(kg)"])
    writer.writerow(["偏远地区附加费", "固定", yuan(500 + 100 * (index % 5)), "、".join(REMOTE), ""])
    writer.writerow(["燃油附加费", "百分比", f"{4 + index % 4}.{index * 5 % 10}%", "", ""])
    writer.writerow(["超重附加费", "每公斤", yuan(50 + 10 * (index % 3)), "", "20"])
    if index % 3 == 0:
        writer.writerow(["港澳台附加费", "固定", "20", "、".join(OFFSHORE), ""])
    return lanes.getvalue().encode(), extra.getvalue().encode(), len(rows)


def requests_for(n: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    names = [short_name(p) for p in provinces()]
    out = []
    for _ in range(n):
        body: dict[str, Any] = {"origin_province": rng.choice(names)}
        if rng.random() < 0.5:
            city, province = rng.choice(CITIES)
            body.update(destination_province=province, destination_city=city)
        else:
            body["destination_province"] = rng.choice(names)
        grams = rng.randrange(100, 30_001)
        body["weight_kg"] = f"{grams // 1000}.{grams % 1000:03d}"
        out.append(body)
    return out


# -- the console ------------------------------------------------------------------------------------------------

@contextmanager
def database(pg: bool) -> Iterator[str]:
    if pg:
        with postgres_database(MIGRATIONS_DIR) as url:
            yield url
    else:
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{tmp}/enterprise.db"
            db.upgrade(url, script_location=MIGRATIONS_DIR)
            yield url


def make_company(url: str) -> tuple[uuid.UUID, str, str]:
    engine = db.make_engine(url)
    try:
        with db.make_sessionmaker(engine)() as s, s.begin():
            company = employees.add_company(db_session=s, code="bench-co", name="基准企业")
            for username, role in (("bench-admin", "admin"), ("bench-shipper", "shipper")):
                employees.add_employee(db_session=s, company_id=company.id, username=username, display_name=username,
                                       password=PASSWORD, role=role)
            return company.id, "bench-admin", "bench-shipper"
    finally:
        engine.dispose()


def sign_in(client: httpx.Client, username: str) -> dict[str, str]:
    r = client.post("/api/v1/auth/token", data={"username": username, "password": PASSWORD})
    r.raise_for_status()
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def connect_carriers(client: httpx.Client, admin: dict[str, str]) -> tuple[int, float]:
    """The 10 connections and their tables, through the API; the lanes imported and the seconds the imports took."""
    rng = random.Random(SEED)
    effective = beijing_date(now()) - timedelta(days=30)
    lanes, spent = 0, 0.0
    for index, (code, name, *_) in enumerate(CARRIERS):
        r = client.post("/api/v1/connections", headers=admin, json={
            "code": code, "name": name, "adapter": "parcelguard", "base_url": f"https://api.{code.lower()}.example",
            "credentials": {"username": f"bench-{code.lower()}", "password": "carrier password 16"}})
        r.raise_for_status()
        rates, extra, count = table_csv(index, rng)
        t0 = time.perf_counter()
        r = client.post(f"/api/v1/connections/{r.json()['id']}/rate-tables", headers=admin,
                        data={"version": "2027 协议价", "effective_from": effective.isoformat()},
                        files={"file": (f"{code}.csv", rates), "surcharges": (f"{code}-surcharges.csv", extra)})
        spent += time.perf_counter() - t0
        if r.status_code != 201:
            raise RuntimeError(f"{code}'s table was refused: {r.text[:1000]}")
        assert r.json()["lanes"] == count, (r.json(), count)
        lanes += count
    return lanes, spent


def console_env(tmp: str, url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARCELGUARD_")}
    env.update(PARCELGUARD_VAR_DIR=tmp, PARCELGUARD_ENTERPRISE_DATABASE_URL=url,
               PARCELGUARD_ENTERPRISE_ROOT_KEY=encode_root_key(os.urandom(32)),
               PARCELGUARD_ENTERPRISE_LOG_LEVEL="warning")
    return env


# -- measuring --------------------------------------------------------------------------------------------------

def alternate(ours: Callable[[dict[str, Any]], None], bare: Callable[[dict[str, Any]], None],
              bodies: list[dict[str, Any]]) -> tuple[list[float], list[float]]:
    """Each side's latencies (ms) for the same bodies, taking turns by blocks of BLOCK requests."""
    mine: list[float] = []
    limit: list[float] = []
    for start in range(0, len(bodies), BLOCK):
        for call, into in ((ours, mine), (bare, limit)):
            for body in bodies[start:start + BLOCK]:
                t0 = time.perf_counter()
                call(body)
                into.append((time.perf_counter() - t0) * 1000)
    return mine, limit


def poster(client: httpx.Client, path: str, headers: dict[str, str]) -> Callable[[dict[str, Any]], None]:
    def post(body: dict[str, Any]) -> None:
        r = client.post(path, headers=headers, json=body)
        if r.status_code != 200:
            raise RuntimeError(f"{path} answered {r.status_code}: {r.text[:300]}")
    return post


def concurrent(url: str, bodies_file: Path, headers: dict[str, str]) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, "-c", LOAD, url, str(CLIENTS), str(bodies_file), json.dumps(headers)],
                          check=False, capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:
        raise RuntimeError(f"the load generator failed: {proc.stderr[-1500:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    if result["failures"]:
        raise RuntimeError(f"{result['failures']} requests failed at {url}")
    return result


def in_process(url: str, company_id: uuid.UUID, bodies: list[dict[str, Any]]) -> tuple[list[float], list[float]]:
    """Per request (ms): `quotes.compare` in a session and transaction of its own, as the route runs it; and
    `pricing.price` of the 10 tables alone, the tables already in memory."""
    engine = db.make_engine(url)
    sessions = db.make_sessionmaker(engine)
    asks = [(b["origin_province"], b["destination_province"], b.get("destination_city"),  # as the route does
             int(Decimal(b["weight_kg"]) * 1000)) for b in bodies]

    def compare(ask: tuple[str, str, str | None, int]) -> quotes.Compared:
        with sessions() as s:
            found = quotes.compare(db_session=s, company_id=company_id, origin_province=ask[0],
                                   destination_province=ask[1], destination_city=ask[2], weight_g=ask[3])
            s.commit()
        return found

    try:
        for ask in asks[:WARMUP]:
            compare(ask)
        with sessions() as s:
            tables = list(rate_tables.in_force(db_session=s, company_id=company_id, on=beijing_date(now())).values())
        with_db, pricing_only = [], []
        for start in range(0, len(asks), BLOCK):
            for ask in asks[start:start + BLOCK]:
                t0 = time.perf_counter()
                compare(ask)
                with_db.append((time.perf_counter() - t0) * 1000)
            for ask in asks[start:start + BLOCK]:
                t0 = time.perf_counter()
                for table in tables:
                    pricing.price(table, *ask)
                pricing_only.append((time.perf_counter() - t0) * 1000)
        return with_db, pricing_only
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg", action="store_true", default=os.environ.get("BENCH_QUOTES_PG", "0") == "1",
                        help="PostgreSQL instead of a SQLite file (also BENCH_QUOTES_PG=1)")
    args = parser.parse_args()
    engine_name = "pg" if args.pg else "sqlite"
    prefix = f"enterprise_quote_10_carriers_{engine_name}"
    bodies = requests_for(WARMUP + REQUESTS, SEED)
    warm, measured = bodies[:WARMUP], bodies[WARMUP:]

    with database(args.pg) as url, tempfile.TemporaryDirectory() as tmp:
        company_id, admin_name, shipper_name = make_company(url)
        env = console_env(tmp, url)
        ours_port, bare_port = free_port(), free_port()
        with serve([sys.executable, "-m", "parcelguard", "enterprise", "run", "--port", str(ours_port)], env,
                   ours_port) as ours, \
                serve([sys.executable, "-c", BARE_APP, str(bare_port)], env, bare_port) as bare, \
                httpx.Client(base_url=ours, timeout=60) as ours_client, \
                httpx.Client(base_url=bare, timeout=60) as bare_client:
            admin = sign_in(ours_client, admin_name)
            lanes, import_s = connect_carriers(ours_client, admin)
            note(f"{engine_name}: 10 connections, {lanes:,} lanes imported through the API in {import_s:.1f} s")
            shipper = sign_in(ours_client, shipper_name)
            sample = ours_client.post("/api/v1/quotes", headers=shipper, json=measured[0])
            sample.raise_for_status()
            priced = [len(ours_client.post("/api/v1/quotes", headers=shipper, json=b).json()["quotes"])
                      for b in warm]
            note(f"carriers priced per request: mean {statistics.fmean(priced):.2f} of 10 (the rest `unserved`); "
                 f"answer {len(sample.content):,} bytes")
            ours_post = poster(ours_client, "/api/v1/quotes", shipper)
            bare_post = poster(bare_client, "/quotes", {})
            alternate(ours_post, bare_post, warm)
            t0 = time.perf_counter()
            mine, limit = alternate(ours_post, bare_post, measured)
            note(f"sequential: {len(measured):,} requests per side in {time.perf_counter() - t0:.1f} s")
            bodies_file = Path(tmp) / "bodies.json"
            bodies_file.write_text(json.dumps(measured, ensure_ascii=False))
            many = concurrent(ours + "/api/v1/quotes", bodies_file, shipper) if CLIENTS > 1 else None
            many_bare = concurrent(bare + "/quotes", bodies_file, {}) if CLIENTS > 1 else None
        with_db, pricing_only = in_process(url, company_id, measured)

    p50, p99, bare50, bare99 = pct(mine, 50), pct(mine, 99), pct(limit, 50), pct(limit, 99)
    rps, bare_rps = 1000 / statistics.fmean(mine), 1000 / statistics.fmean(limit)
    figure(f"{prefix}_p50_ms", p50, "ms", f"starlette_bare_quote_{engine_name}_p50_ms", bare50 / p50)
    figure(f"{prefix}_p99_ms", p99, "ms", f"starlette_bare_quote_{engine_name}_p99_ms", bare99 / p99)
    figure(f"{prefix}_rps", rps, "req/s", f"starlette_bare_quote_{engine_name}_rps", rps / bare_rps, digits=0)
    figure(f"starlette_bare_quote_{engine_name}_p50_ms", bare50, "ms")
    figure(f"starlette_bare_quote_{engine_name}_p99_ms", bare99, "ms")
    figure(f"starlette_bare_quote_{engine_name}_rps", bare_rps, "req/s", digits=0)
    if many is not None and many_bare is not None:
        c = f"{CLIENTS}c"
        m50, m99 = pct(many["latencies_ms"], 50), pct(many["latencies_ms"], 99)
        b50, b99 = pct(many_bare["latencies_ms"], 50), pct(many_bare["latencies_ms"], 99)
        figure(f"{prefix}_{c}_p50_ms", m50, "ms", f"starlette_bare_quote_{engine_name}_{c}_p50_ms", b50 / m50)
        figure(f"{prefix}_{c}_p99_ms", m99, "ms", f"starlette_bare_quote_{engine_name}_{c}_p99_ms", b99 / m99)
        figure(f"{prefix}_{c}_rps", many["rps"], "req/s", f"starlette_bare_quote_{engine_name}_{c}_rps",
               many["rps"] / many_bare["rps"], digits=0)
        figure(f"starlette_bare_quote_{engine_name}_{c}_p50_ms", b50, "ms")
        figure(f"starlette_bare_quote_{engine_name}_{c}_p99_ms", b99, "ms")
        figure(f"starlette_bare_quote_{engine_name}_{c}_rps", many_bare["rps"], "req/s", digits=0)
    db50, db99, price50, price99 = pct(with_db, 50), pct(with_db, 99), pct(pricing_only, 50), pct(pricing_only, 99)
    # Parts of the route's time, not limits: no ratio.
    figure(f"enterprise_quotes_compare_{engine_name}_p50_ms", db50, "ms", digits=3)
    figure(f"enterprise_quotes_compare_{engine_name}_p99_ms", db99, "ms", digits=3)
    figure("enterprise_pricing_10_tables_p50_ms", price50, "ms", digits=3)
    figure("enterprise_pricing_10_tables_p99_ms", price99, "ms", digits=3)
    series = f"{CLIENTS} clients in the concurrent series" if CLIENTS > 1 else "no concurrent series"
    note(f"{len(measured):,} requests per series after {WARMUP} of warm-up; {series}; where the time goes (p50): pricing {price50:.3f} ms, + database reads and session "
         f"{db50 - price50:.3f} ms (quotes.compare {db50:.3f} ms), + HTTP, auth, validation and the answer "
         f"{p50 - db50:.2f} ms (the route {p50:.2f} ms; the bare route {bare50:.2f} ms)")


if __name__ == "__main__":
    main()
