"""An authenticated `GET /api/v1/me` on the real platform vs a bare Starlette JSON route (goal ≥ 0.35).

Both servers run under uvicorn in their own processes with the same options; the load comes from a
third process (wrk when installed, else a keep-alive httpx loop), on loopback only, bounded in time.
Rounds alternate between the two so machine noise hits both; the best round of each counts.

Run: .venv/bin/python bench/bench_api.py
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.servers import free_port, wait_until_up

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
SECONDS = int(os.environ.get("BENCH_SECONDS", "8"))
CONNECTIONS = 16

BARE_APP = """
import uvicorn
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

async def ok(request):
    return JSONResponse({"ok": True})

app = Starlette(routes=[Route("/ok", ok)])
uvicorn.run(app, host="127.0.0.1", port=int(__import__("sys").argv[1]), log_config=None, access_log=False,
            server_header=False)
"""


@contextmanager
def demo_platform() -> Iterator[tuple[str, dict[str, str]]]:
    """A scratch directory and PostgreSQL database seeded with `parcelguard init --demo`, and the
    environment that points the `parcelguard` command at them."""
    from bench.audit_append import postgres_database

    with tempfile.TemporaryDirectory() as tmp, postgres_database() as url:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PARCELGUARD_")}
        env.update(PARCELGUARD_VAR_DIR=tmp, PARCELGUARD_DATABASE_URL=url, PARCELGUARD_LOG_LEVEL="warning")
        subprocess.run([sys.executable, "-m", "parcelguard", "init", "--demo"], env=env, check=True,
                       capture_output=True)
        yield tmp, env


@contextmanager
def serve(args: list[str], env: dict[str, str], port: int) -> Iterator[str]:
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        if "parcelguard" in args:
            wait_until_up(url, process=proc)
        else:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                try:
                    httpx.get(url + "/ok", timeout=1)
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def load(url: str, headers: dict[str, str]) -> dict[str, float]:
    """Requests per second (and latency percentiles with wrk) against `url` for SECONDS."""
    if shutil.which("wrk"):
        cmd = ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{SECONDS}s", "--latency"]
        for k, v in headers.items():
            cmd += ["-H", f"{k}: {v}"]
        out = subprocess.run([*cmd, url], check=False, capture_output=True, text=True, timeout=SECONDS + 30).stdout
        result = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))}
        for pct in ("50", "99"):
            m = re.search(rf"\s{pct}(?:\.000)?%\s+([\d.]+)(us|ms|s)", out)
            if m:
                value, unit = float(m.group(1)), m.group(2)
                result[f"p{pct}_ms"] = value / 1000 if unit == "us" else value * 1000 if unit == "s" else value
        non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
        if non_2xx:
            raise RuntimeError(f"{non_2xx.group(1)} failed responses from {url}")
        return result
    # Without wrk: threads in a separate process, each with a keep-alive connection.
    code = (
        "import httpx, sys, threading, time, json\n"
        "url, secs, n = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]); hdrs = json.loads(sys.argv[4])\n"
        "count = [0]; stop = time.monotonic() + secs\n"
        "def run():\n"
        "    with httpx.Client(headers=hdrs) as c:\n"
        "        while time.monotonic() < stop:\n"
        "            c.get(url).raise_for_status(); count[0] += 1\n"
        "ts = [threading.Thread(target=run) for _ in range(n)]\n"
        "[t.start() for t in ts]; [t.join() for t in ts]\n"
        "print(count[0] / secs)\n"
    )
    out = subprocess.run([sys.executable, "-c", code, url, str(SECONDS), "4", json.dumps(headers)],
                         capture_output=True, text=True, timeout=SECONDS + 60, check=True).stdout
    return {"rps": float(out.strip())}


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PARCELGUARD_")}
        env.update(PARCELGUARD_VAR_DIR=tmp, PARCELGUARD_LOG_LEVEL="warning")
        subprocess.run([sys.executable, "-m", "parcelguard", "init", "--demo"], env=env, check=True,
                       capture_output=True)
        ours_port, bare_port = free_port(), free_port()
        with serve([sys.executable, "-m", "parcelguard", "run", "--port", str(ours_port)], env, ours_port) as ours, \
                serve([sys.executable, "-c", BARE_APP, str(bare_port)], env, bare_port) as bare:
            token = httpx.post(ours + "/api/v1/auth/token",
                               data={"username": "demo-courier-1", "password": "parcelguard-demo"}).json()
            auth = {"Authorization": f"Bearer {token['access_token']}"}
            assert httpx.get(ours + "/api/v1/me", headers=auth).status_code == 200
            best_ours: dict[str, float] = {"rps": 0.0}
            best_bare: dict[str, float] = {"rps": 0.0}
            load(ours + "/api/v1/me", auth), load(bare + "/ok", {})  # warm-up
            for _ in range(ROUNDS):
                r = load(ours + "/api/v1/me", auth)
                best_ours = max(best_ours, r, key=lambda x: x["rps"])
                r = load(bare + "/ok", {})
                best_bare = max(best_bare, r, key=lambda x: x["rps"])
    print(json.dumps({"name": "api_me_rps", "value": round(best_ours["rps"]), "unit": "req/s",
                      "ratio_to": "starlette_bare_rps", "ratio": round(best_ours["rps"] / best_bare["rps"], 3)}))
    print(json.dumps({"name": "starlette_bare_rps", "value": round(best_bare["rps"]), "unit": "req/s",
                      "ratio_to": None, "ratio": None}))
    for side, best in (("api_me", best_ours), ("starlette_bare", best_bare)):
        for pct in ("p50_ms", "p99_ms"):
            if pct in best:
                print(json.dumps({"name": f"{side}_{pct}", "value": round(best[pct], 2), "unit": "ms",
                                  "ratio_to": None, "ratio": None}))


if __name__ == "__main__":
    main()
