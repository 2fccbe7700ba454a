"""A single label over HTTP: `GET /api/v1/shipments/{id}/label` (PDF, two-part), one client asking back
to back, on the platform served by `parcelguard run` against PostgreSQL; p50 and p99 latency.

Each request is a whole print: the gate's decision and log entry (purpose label_print), the label's
data (settings, virtual number, items, a fresh signed token) and the PDF. The demo shop prints its own
parcel's label (the enterprise ceiling, 6,000 an hour, leaves room for the run).

Natural limit: a bare Starlette route answering a PDF of the same size from memory, under uvicorn
with the same options, asked the same way; the ratio is its p50 over ours.

Run: .venv/bin/python bench/labels_http.py
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.bench_api import demo_platform, serve
from tests.servers import free_port

REQUESTS = int(os.environ.get("BENCH_LABELS", "300"))

BARE_APP = """
import sys
import uvicorn
from starlette.applications import Starlette
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

PDF = open(sys.argv[2], "rb").read()

async def label(request):
    return Response(PDF, media_type="application/pdf", headers={"Cache-Control": "no-store"})

async def ok(request):
    return JSONResponse({"ok": True})

app = Starlette(routes=[Route("/label", label), Route("/ok", ok)])
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_config=None, access_log=False, server_header=False)
"""


def timed(client: httpx.Client, url: str, headers: dict[str, str], n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        r = client.get(url, headers=headers)
        out.append((time.perf_counter() - t0) * 1000)
        if r.status_code != 200:
            raise RuntimeError(f"a label request failed: {r.status_code} {r.text[:300]}")
    return out


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1]


def main() -> None:
    with demo_platform() as (tmp, env):
        port = free_port()
        with serve([sys.executable, "-m", "parcelguard", "run", "--port", str(port)], env, port) as ours, \
                httpx.Client(base_url=ours, timeout=30) as client:
            token = client.post("/api/v1/auth/token", data={"username": "demo-shop", "password": "parcelguard-demo"}
                                ).json()["access_token"]
            headers = {"Authorization": f"Bearer {token}"}
            # The shop's own demo parcel: the one without a delivery task for the demo courier.
            own = subprocess.run([sys.executable, "-c", OWN_PARCEL], env=env, check=True, capture_output=True,
                                 text=True).stdout.strip()
            path = f"/api/v1/shipments/{own}/label"
            timed(client, path, headers, 20)  # warm-up: fonts, keys, caches
            mine = timed(client, path, headers, REQUESTS)
            sample = client.get(path, headers=headers).content
        pdf = Path(tmp) / "label.pdf"
        pdf.write_bytes(sample)
        bare_port = free_port()
        with serve([sys.executable, "-c", BARE_APP, str(bare_port), str(pdf)], env, bare_port) as bare, \
                httpx.Client(base_url=bare, timeout=30) as client:
            timed(client, "/label", {}, 20)
            limit = timed(client, "/label", {}, REQUESTS)
    p50, p99, bare50 = pct(mine, 50), pct(mine, 99), pct(limit, 50)
    print(json.dumps({"name": "label_http_p50_ms", "value": round(p50, 1), "unit": "ms",
                      "ratio_to": "starlette_bare_pdf_p50_ms", "ratio": round(bare50 / p50, 3)}))
    print(json.dumps({"name": "label_http_p99_ms", "value": round(p99, 1), "unit": "ms", "ratio_to": None,
                      "ratio": None}))
    print(json.dumps({"name": "starlette_bare_pdf_p50_ms", "value": round(bare50, 2), "unit": "ms",
                      "ratio_to": None, "ratio": None}))
    print(f"# {REQUESTS} sequential requests each side; label PDF {len(sample):,} bytes", file=sys.stderr)


# The demo shop's parcel id, read from the database the demo seeded (the platform has no listing route).
OWN_PARCEL = """
from sqlalchemy import select
from parcelguard.accounts.models import User
from parcelguard.core import db
from parcelguard.core.config import get_settings
from parcelguard.shipments.models import Shipment
engine = db.make_engine(get_settings().resolved_database_url)
with engine.connect() as conn:
    shop = conn.scalar(select(User.id).where(User.username == "demo-shop"))
    print(conn.scalar(select(Shipment.id).where(Shipment.customer_id == shop).limit(1)))
"""


if __name__ == "__main__":
    main()
