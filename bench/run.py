"""Run every benchmark (each `bench/*.py` but this one and `_`-prefixed helpers, each in its own
process), print their JSON lines, and write the figures with the date and the machine into
docs/benchmarks.md.

Run: make bench   (or .venv/bin/python bench/run.py)
     .venv/bin/python bench/run.py --only 'audit_*'   (those scripts only; the doc is left alone)
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import operator
import os
import platform
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "benchmarks.md"
START, END = "<!-- bench:start -->", "<!-- bench:end -->"


@dataclass(frozen=True)
class Goal:
    """What an issue asks of a figure: a bound on its ratio to the natural limit, or on its value
    where the issue sets an absolute figure."""

    on: str  # "ratio" or "value"
    op: str  # ">=" or "<="
    bound: float

    def met(self, figure: dict[str, Any]) -> bool:
        x = figure[self.on]
        return x is not None and {">=": operator.ge, "<=": operator.le}[self.op](x, self.bound)

    def describe(self, figure: dict[str, Any]) -> str:
        bound = f"{'≥' if self.op == '>=' else '≤'} {self.bound:,}"
        return f"ratio {bound}" if self.on == "ratio" else f"{bound} {figure['unit']}"


# The goals the issues set: most as the least acceptable ratio to the natural limit; the audit log's
# as absolute figures (entries/s on PostgreSQL, ms per proof at a million entries).
GOALS = {
    "keyring_encrypt_decrypt_200b": Goal("ratio", ">=", 0.5),
    "blind_index_id_number": Goal("ratio", ">=", 0.5),
    "api_me_rps": Goal("ratio", ">=", 0.35),
    "audit_append_pg": Goal("value", ">=", 20_000),
    "audit_inclusion_proof_1m_pg_p50_ms": Goal("value", "<=", 2),
    "audit_inclusion_proof_1m_sqlite_p50_ms": Goal("value", "<=", 2),
    "audit_verify_inclusion_1m_p50_ms": Goal("value", "<=", 0.2),
    "intake_batch_pg": Goal("value", ">=", 3_000),
    "feed_delay_p99_s": Goal("value", "<=", 5),
    "feed_records_without_receipt": Goal("value", "<=", 0),
    "intake_http_p50_ms": Goal("ratio", ">=", 0.25),  # issue 17: single intake at 50 terminals
    "feed_js_intake_rate": Goal("value", ">=", 6_300),  # issue 17: the chain on JetStream, sustained 60 s
    "feed_js_delay_p99_s": Goal("value", "<=", 2),
    "feed_js_records_without_receipt": Goal("value", "<=", 0),
    "labels_pdf_batch_500": Goal("value", ">=", 150),
    "labels_zpl_500": Goal("value", ">=", 5_000),
    "regulator_dashboard_10m_pg_ms": Goal("value", "<=", 1_000),
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


def scripts(only: str | None) -> list[Path]:
    found = sorted(p for p in (ROOT / "bench").glob("*.py")
                   if p.name != Path(__file__).name and not p.name.startswith("_"))
    if only:
        found = [p for p in found if fnmatch.fnmatch(p.name, only) or fnmatch.fnmatch(p.stem, only)]
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description="Run the benchmarks and record their figures.")
    parser.add_argument("--only", metavar="PATTERN", help="run only the scripts whose name matches this glob "
                        "(e.g. 'audit_*'); the doc is then left alone")
    args = parser.parse_args()
    chosen = scripts(args.only)
    if not chosen:
        print(f"no benchmark matches {args.only!r}", file=sys.stderr)
        return 2
    figures: list[dict] = []
    failed: list[str] = []
    for script in chosen:
        print(f"# {script.name}", flush=True)
        t0 = time.monotonic()
        proc = subprocess.run([sys.executable, str(script)], cwd=ROOT, capture_output=True, text=True,
                              check=False)
        for line in proc.stdout.splitlines():
            if line.startswith("{"):
                print(line, flush=True)
                figures.append({**json.loads(line), "script": script.name})
        for line in proc.stderr.splitlines():
            if line.startswith("# "):
                print(line, flush=True)
        print(f"# {script.name}: {time.monotonic() - t0:.0f} s", flush=True)
        if proc.returncode != 0:
            failed.append(script.name)
            print(proc.stderr[-2000:], file=sys.stderr)
    if args.only is None:
        write_doc(figures)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    missed = [f["name"] for f in figures if f["name"] in GOALS and not GOALS[f["name"]].met(f)]
    if missed:
        print(f"goals not met: {', '.join(missed)}", file=sys.stderr)
    return 0


def write_doc(figures: list[dict]) -> None:
    rows = ["| figure | value | unit | ratio to | ratio | goal |", "| --- | ---: | --- | --- | ---: | --- |"]
    for f in figures:
        goal = GOALS.get(f["name"])
        verdict = "" if goal is None else f"{goal.describe(f)}: {'met' if goal.met(f) else 'NOT met'}"
        ratio = "" if f["ratio"] is None else f"{f['ratio']:.3f}"
        rows.append(f"| `{f['name']}` | {f['value']:,} | {f['unit']} | {f['ratio_to'] or ''} | {ratio} "
                    f"| {verdict} |")
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    block = "\n".join([START, f"Measured {stamp} on {machine()} with `make bench`.", "", *rows, END])
    text = DOC.read_text() if DOC.exists() else f"# Benchmarks\n\n{START}\n{END}\n"
    DOC.write_text(re.sub(re.escape(START) + r".*?" + re.escape(END), lambda _: block, text, flags=re.DOTALL))


if __name__ == "__main__":
    sys.exit(main())
