"""Rate tables from the files carriers send: CSV and XLSX, checked whole before anything is returned.

Every problem in a file is collected (the first 100 named, the rest counted) and raised as one
`RateTableInvalid`, so whoever fixes the spreadsheet fixes it in one pass. Each error points at the sheet,
the row as Excel numbers it (the header is row 1) and the column by letter, `/rates/row/7/column/E`, and says
in Chinese and English what the cell should hold, never what it holds. docs/enterprise-rates.md is the format.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from parcelguard.enterprise.rates import cells
from parcelguard.enterprise.rates.model import (
    FREIGHT,
    Lane,
    RateTable,
    Surcharge,
    is_carrier_code,
    is_version_name,
)
from parcelguard.enterprise.rates.sheets import (
    MAX_COLUMNS,
    MAX_FILE_BYTES,
    RATES,
    SURCHARGES,
    Errors,
    RateTableInvalid,
    Row,
    column_letter,
    csv_rows,
    xlsx_sheets,
)

MAX_LANES = 20_000  # 34 × 34 provinces and a few thousand city lanes
MAX_SURCHARGES = 200
_ECHO_CHARS = 20  # an unknown header is named back up to this length: cells may hold anything


@dataclass(frozen=True)
class Column:
    """A column a sheet may have: its English and Chinese headers (either is accepted) and other spellings."""

    key: str
    zh: str
    required: bool
    read: Callable[[object], Any]
    aliases: tuple[str, ...] = ()

    @property
    def names(self) -> tuple[str, str]:
        return (self.zh, self.key)

    def headers(self) -> set[str]:
        return {_header_key(h) for h in (self.key, self.zh, *self.aliases)}


LANE_COLUMNS = (
    Column("origin_province", "始发省", True, cells.province, ("始发地", "始发省份", "寄件省")),
    Column("destination_province", "目的省", True, cells.province, ("目的地", "目的省份", "收件省")),
    Column("destination_city", "目的市", False, cells.city, ("目的城市",)),
    Column("first_weight_kg", "首重(kg)", True, cells.weight_grams, ("首重(公斤)", "首重")),
    Column("first_price_yuan", "首重价格(元)", True, cells.money_fen, ("首重价格", "首重费用(元)")),
    Column("step_kg", "续重单位(kg)", True, cells.weight_grams, ("续重单位(公斤)", "续重单位")),
    Column("step_price_yuan", "续重价格(元)", True, cells.money_fen, ("续重价格", "续重单价(元)")),
    Column("max_weight_kg", "最大重量(kg)", False, cells.weight_grams, ("最大重量(公斤)", "最大重量", "限重(kg)")),
    Column("transit_days_min", "最快时效(天)", True, cells.day_count, ("最快时效",)),
    Column("transit_days_max", "最慢时效(天)", True, cells.day_count, ("最慢时效",)),
)
SURCHARGE_COLUMNS = (
    Column("name", "名称", True, cells.name, ("附加费名称",)),
    Column("kind", "类型", True, cells.surcharge_kind, ("计费方式",)),
    Column("amount", "金额", True, lambda v: v, ("金额/比例",)),  # yuan or a percentage: read by the kind
    Column("destination_provinces", "目的省", False, cells.provinces, ("适用目的省",)),
    Column("min_weight_kg", "起始重量(kg)", False, cells.weight_grams, ("起始重量(公斤)", "起始重量")),
)


def _header_key(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).lower().split())


def _read_sheet(rows: Iterable[Row], sheet: str, columns: Sequence[Column], limit: int,
                errors: Errors) -> list[tuple[int, dict[str, tuple[int, object]]]] | None:
    """The sheet's data rows as {column key: (index, cell)}; None when the header is wrong (errors added)."""
    it = iter(rows)
    header = next(it, None)
    if header is None or all(cells.is_blank(v) for v in header[1]):
        errors.add(f"/{sheet}", "file_empty", f"{sheet}: 没有表头（第 1 行）/ no header row (row 1)")
        return None
    if len(header[1]) > MAX_COLUMNS and any(not cells.is_blank(v) for v in header[1][MAX_COLUMNS:]):
        errors.add(f"/{sheet}/row/1", "too_many_columns",
                   f"行 1: 超过 {MAX_COLUMNS} 列 / row 1: over {MAX_COLUMNS} columns")
        return None
    by_header = {h: c for c in columns for h in c.headers()}
    found: dict[str, int] = {}
    bad = False
    for index, value in enumerate(header[1]):
        if cells.is_blank(value):
            continue
        text = str(value).strip()
        column = by_header.get(_header_key(text))
        if column is None:
            shown = text if len(text) <= _ECHO_CHARS else text[:_ECHO_CHARS] + "…"
            errors.cell(sheet, 1, index, None, "column_unknown", f"未知的列「{shown}」",
                        f"unknown column “{shown}”")
            bad = True
        elif column.key in found:
            first = column_letter(found[column.key])
            errors.cell(sheet, 1, index, column.names, "column_duplicate", f"与列 {first} 重复",
                        f"the same column as {first}")
            bad = True
        else:
            found[column.key] = index
    for column in columns:
        if column.required and column.key not in found:
            errors.add(f"/{sheet}/row/1", "column_missing",
                       f"行 1: 缺少列「{column.zh}」/ row 1: the column {column.key} is missing")
            bad = True
    if bad:
        return None
    out = []
    named = set(found.values())
    for number, values in it:
        if all(cells.is_blank(v) for v in values):
            continue
        if len(out) == limit:
            errors.add(f"/{sheet}", "too_many_rows", f"{sheet}: 超过 {limit} 行 / over {limit} rows")
            break
        for index in range(len(values)):
            if index not in named and not cells.is_blank(values[index]):
                errors.cell(sheet, number, index, None, "cell_outside_header", "表头没有此列",
                            "no column of the header is here")
        out.append((number, {key: (i, values[i] if i < len(values) else None) for key, i in found.items()}))
    return out


def _read_row(sheet: str, number: int, row: dict[str, tuple[int, object]], columns: Sequence[Column],
              errors: Errors) -> tuple[dict[str, Any], bool]:
    """Each cell of a row read by its column (a blank optional cell is None), and whether all were right:
    a cell that is wrong is left out and named in `errors`."""
    values: dict[str, Any] = {}
    ok = True
    for column in columns:
        if column.key not in row:
            values[column.key] = None
            continue
        index, raw = row[column.key]
        if cells.is_blank(raw):
            if column.required:
                errors.cell(sheet, number, index, column.names, "value_missing", "必填", "required")
                ok = False
            values[column.key] = None
            continue
        try:
            values[column.key] = column.read(raw)
        except cells.CellError as exc:
            errors.cell(sheet, number, index, column.names, exc.code, exc.zh, exc.en)
            ok = False
    return values, ok


def _lanes(rows: list[tuple[int, dict[str, tuple[int, object]]]], errors: Errors) -> list[Lane]:
    columns = {c.key: c for c in LANE_COLUMNS}
    lanes: list[Lane] = []
    seen: dict[tuple[str, str, str], int] = {}
    if not rows:
        errors.add(f"/{RATES}", "no_lanes", f"{RATES}: 没有线路 / no lanes under the header")
    for number, row in rows:
        v, ok = _read_row(RATES, number, row, LANE_COLUMNS, errors)
        if not ok:
            continue
        if v["max_weight_kg"] is not None and v["max_weight_kg"] < v["first_weight_kg"]:
            errors.cell(RATES, number, row["max_weight_kg"][0], columns["max_weight_kg"].names,
                        "max_below_first", "最大重量小于首重", "below the first weight")
            continue
        if v["transit_days_max"] < v["transit_days_min"]:
            errors.cell(RATES, number, row["transit_days_max"][0], columns["transit_days_max"].names,
                        "transit_days_order", "小于最快时效", "less than transit_days_min")
            continue
        lane = Lane(origin_province=v["origin_province"], destination_province=v["destination_province"],
                    destination_city=v["destination_city"] or None, first_weight_g=v["first_weight_kg"],
                    first_price_fen=v["first_price_yuan"], step_g=v["step_kg"],
                    step_price_fen=v["step_price_yuan"],
                    max_weight_g=v["max_weight_kg"], transit_days_min=v["transit_days_min"],
                    transit_days_max=v["transit_days_max"])
        if lane.key in seen:
            errors.add(f"/{RATES}/row/{number}", "lane_duplicate",
                       f"行 {number}: 与行 {seen[lane.key]} 是同一线路（始发省、目的省、目的市）"
                       f" / row {number}: the same lane as row {seen[lane.key]} (origin, destination, city)")
            continue
        seen[lane.key] = number
        lanes.append(lane)
    return lanes


def _surcharges(rows: list[tuple[int, dict[str, tuple[int, object]]]], errors: Errors) -> list[Surcharge]:
    columns = {c.key: c for c in SURCHARGE_COLUMNS}
    out: list[Surcharge] = []
    seen: dict[str, int] = {}
    for number, row in rows:
        v, ok = _read_row(SURCHARGES, number, row, SURCHARGE_COLUMNS, errors)
        if v.get("kind") is not None and v.get("amount") is not None:  # yuan or a percentage, by the kind
            try:
                v["amount"] = cells.percent_basis_points(v["amount"]) if v["kind"] == "percent" \
                    else cells.money_fen(v["amount"])
            except cells.CellError as exc:
                errors.cell(SURCHARGES, number, row["amount"][0], columns["amount"].names, exc.code, exc.zh, exc.en)
                ok = False
        name = v.get("name")
        if name == FREIGHT:
            errors.cell(SURCHARGES, number, row["name"][0], columns["name"].names, "name_reserved",
                        f"「{FREIGHT}」是运费行的名称", f"“{FREIGHT}” names the freight")
            ok = False
        elif name is not None and name in seen:
            errors.cell(SURCHARGES, number, row["name"][0], columns["name"].names, "surcharge_duplicate",
                        f"与行 {seen[name]} 同名", f"the same name as row {seen[name]}")
            ok = False
        elif name is not None:
            seen[name] = number
        if not ok:
            continue
        out.append(Surcharge(name=v["name"], kind=v["kind"], amount=v["amount"],
                             destination_provinces=v["destination_provinces"] or frozenset(),
                             min_weight_g=v["min_weight_kg"]))
    return out


def _metadata(carrier: str, version: str, effective_from: date, errors: Errors) -> None:
    """The caller's part of a version (its form's fields), checked with the file so one answer names all."""
    if not is_carrier_code(carrier):
        errors.add("/carrier", "carrier_invalid",
                   "承运商代码：1–16 个字母、数字、- 或 _ / carrier: 1 to 16 letters, digits, - or _")
    if not is_version_name(version):
        errors.add("/version", "version_invalid", "版本名称：1–64 个字 / version: 1 to 64 printable characters")
    if isinstance(effective_from, datetime) or not isinstance(effective_from, date):
        errors.add("/effective_from", "effective_from_invalid", "生效日期须为日期 / effective_from is a date")


def _finish(carrier: str, version: str, effective_from: date, lanes: list[Lane], surcharges: list[Surcharge],
            errors: Errors) -> RateTable:
    errors.raise_if_any()
    return RateTable(carrier=carrier, version=version, effective_from=effective_from, lanes=tuple(lanes),
                     surcharges=tuple(surcharges))


def parse_csv(data: bytes, *, carrier: str, version: str, effective_from: date,
              surcharges: bytes | None = None) -> RateTable:
    """A version from a CSV of lanes and, optionally, a second CSV of surcharges. `RateTableInvalid` names
    every error of both files (sheets `rates` and `surcharges` in the pointers); nothing is returned in
    part."""
    errors = Errors()
    _metadata(carrier, version, effective_from, errors)
    lanes: list[Lane] = []
    extra: list[Surcharge] = []
    rows = csv_rows(data, RATES, errors)
    read = _read_sheet(rows, RATES, LANE_COLUMNS, MAX_LANES, errors) if rows is not None else None
    if read is not None:
        lanes = _lanes(read, errors)
    if surcharges is not None:
        rows = csv_rows(surcharges, SURCHARGES, errors)
        read = None if rows is None else _read_sheet(rows, SURCHARGES, SURCHARGE_COLUMNS, MAX_SURCHARGES,
                                                     errors)
        if read is not None:
            extra = _surcharges(read, errors)
    return _finish(carrier, version, effective_from, lanes, extra, errors)


def parse_xlsx(data: bytes, *, carrier: str, version: str, effective_from: date) -> RateTable:
    """A version from an XLSX workbook: lanes in the sheet `rates` or `价格表` (else the first sheet),
    surcharges in `surcharges` or `附加费` when there is one. `RateTableInvalid` names every error; nothing
    is returned in part."""
    errors = Errors()
    _metadata(carrier, version, effective_from, errors)
    lanes: list[Lane] = []
    extra: list[Surcharge] = []
    lane_rows, surcharge_rows = xlsx_sheets(data, errors, max_lanes=MAX_LANES, max_surcharges=MAX_SURCHARGES)
    if lane_rows is not None:
        read = _read_sheet(lane_rows, RATES, LANE_COLUMNS, MAX_LANES, errors)
        if read is not None:
            lanes = _lanes(read, errors)
    if surcharge_rows is not None:
        read = _read_sheet(surcharge_rows, SURCHARGES, SURCHARGE_COLUMNS, MAX_SURCHARGES, errors)
        if read is not None:
            extra = _surcharges(read, errors)
    return _finish(carrier, version, effective_from, lanes, extra, errors)


__all__ = [
    "LANE_COLUMNS",
    "MAX_FILE_BYTES",
    "MAX_LANES",
    "SURCHARGE_COLUMNS",
    "Column",
    "RateTableInvalid",
    "column_letter",
    "parse_csv",
    "parse_xlsx",
]
