"""Run every benchmark (`bench/bench_*.py`, each in its own process), print their JSON lines, and
write the figures with the date and the machine into docs/benchmarks.md.

Run: make bench   (or .venv/bin/python bench/run.py)
"""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "benchmarks.md"
START, END = "<!-- bench:start -->", "<!-- bench:end -->"

# The goals the issues set, as the least acceptable ratio to the natural limit.
GOALS = {
    "keyring_encrypt_decrypt_200b": 0.5,
    "blind_index_id_number": 0.5,
    "api_me_rps": 0.35,
}


def machine() -> str:
    cpu = "unknown CPU"
    try:
        cpu = re.search(r"model name\s*:\s*(.+)", Path("/proc/cpuinfo").read_text()).group(1).strip()
    except (OSError, AttributeError):
        pass
    mem = ""
    try:
        kib = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
        mem = f", {kib / 1024 / 1024:.0f} GiB"
    except (OSError, AttributeError):
        pass
    return (f"{os.cpu_count()} cores ({cpu}){mem}, Python {platform.python_version()}, "
            f"{platform.system()} {platform.release()}")


def main() -> int:
    figures: list[dict] = []
    failed: list[str] = []
    for script in sorted((ROOT / "bench").glob("bench_*.py")):
        print(f"# {script.name}", flush=True)
        proc = subprocess.run([sys.executable, str(script)], cwd=ROOT, capture_output=True, text=True)
        for line in proc.stdout.splitlines():
            if line.startswith("{"):
                print(line, flush=True)
                figures.append({**json.loads(line), "script": script.name})
        if proc.returncode != 0:
            failed.append(script.name)
            print(proc.stderr[-2000:], file=sys.stderr)
    write_doc(figures)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    missed = [f["name"] for f in figures if f["name"] in GOALS and (f["ratio"] or 0) < GOALS[f["name"]]]
    if missed:
        print(f"goals not met: {', '.join(missed)}", file=sys.stderr)
    return 0


def write_doc(figures: list[dict]) -> None:
    rows = ["| figure | value | unit | ratio to | ratio | goal |", "| --- | ---: | --- | --- | ---: | --- |"]
    for f in figures:
        goal = GOALS.get(f["name"])
        verdict = "" if goal is None else f"≥ {goal}: {'met' if (f['ratio'] or 0) >= goal else 'NOT met'}"
        ratio = "" if f["ratio"] is None else f"{f['ratio']:.3f}"
        rows.append(f"| `{f['name']}` | {f['value']:,} | {f['unit']} | {f['ratio_to'] or ''} | {ratio} | {verdict} |")
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    block = "\n".join([START, f"Measured {stamp} on {machine()} with `make bench`.", "", *rows, END])
    text = DOC.read_text() if DOC.exists() else f"# Benchmarks\n\n{START}\n{END}\n"
    DOC.write_text(re.sub(re.escape(START) + r".*?" + re.escape(END), lambda _: block, text, flags=re.S))


if __name__ == "__main__":
    sys.exit(main())
