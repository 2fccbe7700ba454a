"""Region codes (行政区划代码, GB/T 2260) of every edition since 1980, for the address part of ID numbers.

An ID number keeps the code of the county where it was first issued, even after that county was
renamed, merged or abolished (崇文区 110103 was merged into 东城区 in 2010; IDs starting 110103 are
still valid), so a code is known when any edition listed it. The table is data shipped with the
package (`data/regions.csv`, built by `data/build_regions.py`; sources and editions in
`data/README.md`) and is read once, on first use.
"""

from __future__ import annotations

import csv
import functools
import io
from dataclasses import dataclass
from importlib import resources

DATA_FILE = "regions.csv"


@dataclass(frozen=True, slots=True)
class Region:
    """One code: its name in the newest edition that lists it, and the first and last edition years."""

    code: str
    name: str
    first: int
    last: int


def _text() -> str:
    return resources.files(__package__).joinpath("data", DATA_FILE).read_text(encoding="utf-8")


@functools.cache
def region_codes() -> frozenset[str]:
    """Every code any edition listed (about 7,400): the set `documents` checks ID numbers against."""
    lines = _text().splitlines()
    return frozenset(line.partition(",")[0] for line in lines[1:] if line)


@functools.cache
def _table() -> dict[str, Region]:
    reader = csv.DictReader(io.StringIO(_text()))
    return {row["code"]: Region(row["code"], row["name"], int(row["first"]), int(row["last"])) for row in reader}


def region(code: str) -> Region | None:
    """The code's entry (name, first and last edition year), or None when no edition lists it."""
    return _table().get(code)


def is_known(code: str) -> bool:
    return code in region_codes()


def newest_edition() -> int:
    """The year of the newest edition in the table."""
    return max(r.last for r in _table().values())


_GROUPINGS = frozenset({"市辖区", "县"})  # a municipality's prefecture level: only a grouping


@functools.cache
def city_of(code: str) -> str:
    """The city a county-level code lies in, as a parcel's tracking shows it: the prefecture's name
    (南山区 440305 → 深圳市), the province's where the prefecture level is only a grouping (朝阳区 110105 →
    北京市), the county's own where the province governs it directly (乐东 469027); '' for a code no
    edition lists."""
    prefecture, province, county = region(code[:4] + "00"), region(code[:2] + "0000"), region(code)
    if prefecture is not None and "直辖" in prefecture.name:
        return county.name if county is not None else ""
    if prefecture is not None and prefecture.name not in _GROUPINGS:
        return prefecture.name
    return province.name if province is not None else ""
