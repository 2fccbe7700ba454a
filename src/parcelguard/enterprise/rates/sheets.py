"""The bytes of a rate table's files as numbered rows, and the one error that names everything wrong in them.

Each reader checks the size first, then decodes: a CSV as UTF-8 (with or without a BOM), else GB18030, what
Excel in China saves as "CSV"; an XLSX through openpyxl (`read_only`, `data_only`) once its zip directory
says it unpacks to a bounded size. Rows are numbered as Excel shows them, the header being row 1.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator, Sequence
from typing import Any

from parcelguard.core.errors import FieldError, Invalid
from parcelguard.enterprise.rates.cells import is_blank

MAX_FILE_BYTES = 5 * 1024 * 1024  # what a carrier's table is, several times over
MAX_XLSX_UNPACKED_BYTES = 64 * 1024 * 1024  # an XLSX is a zip: its XML is bounded before openpyxl reads it
MAX_COLUMNS = 64
MAX_ERRORS = 100
RATES, SURCHARGES = "rates", "surcharges"  # the sheets as pointers name them, whatever the file calls them
_RATE_SHEETS = ("rates", "价格表")
_SURCHARGE_SHEETS = ("surcharges", "附加费")

Row = tuple[int, Sequence[object]]  # the spreadsheet row number and its cells


class RateTableInvalid(Invalid):
    """The file is not a rate table: `errors` names every cell that is wrong (problem+json, 422)."""

    code = "rate_table_invalid"


def column_letter(index: int) -> str:
    """The spreadsheet letter of a 0-based column: 0 → A, 25 → Z, 26 → AA."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


class Errors:
    """The errors found so far: the first `MAX_ERRORS` kept, the rest counted."""

    def __init__(self) -> None:
        self.kept: list[FieldError] = []
        self.total = 0

    def add(self, pointer: str, code: str, detail: str) -> None:
        self.total += 1
        if len(self.kept) < MAX_ERRORS:
            self.kept.append(FieldError(pointer=pointer, code=code, detail=detail))

    def cell(self, sheet: str, row: int, index: int, header: tuple[str, str] | None, code: str, zh: str,
             en: str) -> None:
        """An error in one cell; `header` is its column's Chinese and English header, None for no column."""
        letter = column_letter(index)
        zh_name, en_name = (f"（{header[0]}）", f" ({header[1]})") if header else ("", "")
        self.add(f"/{sheet}/row/{row}/column/{letter}", code,
                 f"行 {row} 列 {letter}{zh_name}: {zh} / row {row} column {letter}{en_name}: {en}")

    def raise_if_any(self) -> None:
        if not self.total:
            return
        more = self.total - len(self.kept)
        detail = f"价格表有 {self.total} 处错误，未导入 / the rate table has {self.total} errors; nothing was imported"
        if more:
            detail += f" (另有 {more} 处未列出 / {more} more not listed)"
        raise RateTableInvalid(detail, errors=self.kept, extensions={"error_count": self.total})


def check_size(data: bytes, pointer: str, errors: Errors) -> bool:
    """Whether the file is within `MAX_FILE_BYTES` and not empty: checked before anything reads it."""
    if len(data) > MAX_FILE_BYTES:
        errors.add(pointer, "file_too_large", f"文件超过 {MAX_FILE_BYTES // (1024 * 1024)} MB"
                                              f" / the file is over {MAX_FILE_BYTES // (1024 * 1024)} MB")
        return False
    if not data.strip():
        errors.add(pointer, "file_empty", "文件为空 / the file is empty")
        return False
    return True


def csv_rows(data: bytes, sheet: str, errors: Errors) -> list[Row] | None:
    """The CSV's records, numbered as Excel shows them. UTF-8 (with or without a BOM) is tried first, then
    GB18030, what Excel in China saves as "CSV"; a file that is neither is refused."""
    if not check_size(data, f"/{sheet}", errors):
        return None
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        errors.add(f"/{sheet}", "file_encoding",
                   "不是 UTF-8 或 GB18030 编码的 CSV / not a UTF-8 or GB18030 CSV file")
        return None
    try:
        return [(n, record) for n, record in enumerate(csv.reader(io.StringIO(text, newline="")), start=1)]
    except csv.Error:
        errors.add(f"/{sheet}", "file_not_csv", "不是 CSV 文件 / not a CSV file")
        return None


def _xlsx_cells(row: Sequence[Any]) -> list[object]:
    """A row's values; a number shown as a percentage (0.05 as 5%) becomes the text `5%`, as it is seen."""
    out: list[object] = []
    for cell in row:
        value = cell.value
        percent = "%" in (cell.number_format or "")
        if percent and isinstance(value, int | float) and not isinstance(value, bool):
            value = f"{format(value * 100, '.15g')}%"
        out.append(value)
    return out


def _sheet_rows(sheet: Any) -> Iterator[Row]:
    sheet.reset_dimensions()  # the file's own <dimension> may be wrong: read to the last row there is
    for number, row in enumerate(sheet.iter_rows(min_row=1, max_col=MAX_COLUMNS + 1), start=1):
        yield number, _xlsx_cells(row)


def xlsx_sheets(data: bytes, errors: Errors, *, max_lanes: int,
                max_surcharges: int) -> tuple[list[Row] | None, list[Row] | None]:
    """The rows of the lanes sheet and of the surcharges sheet (None when there is none): `rates` or `价格表`,
    else the first sheet; `surcharges` or `附加费`. Blank rows are left out and reading stops one row past
    the limit, so that a sheet of a million rows costs no more than one of `max_lanes`."""
    if not check_size(data, "/", errors):
        return None, None
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except Exception:  # noqa: BLE001 - zipfile raises BadZipFile, ValueError, OSError, ... on garbage
        errors.add("/", "file_not_xlsx", "不是 XLSX 文件 / not an XLSX file")
        return None, None
    if unpacked > MAX_XLSX_UNPACKED_BYTES:
        errors.add("/", "file_too_large", "文件解压后过大 / the file is too large unpacked")
        return None, None
    from openpyxl import load_workbook  # only XLSX needs it

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        try:
            sheets = {sheet.title.strip().lower(): sheet for sheet in book.worksheets}
            extra = next((sheets[n] for n in _SURCHARGE_SHEETS if n in sheets), None)
            rates = next((sheets[n] for n in _RATE_SHEETS if n in sheets), None)
            if rates is None:
                rates = next((s for s in book.worksheets if s is not extra), None)
            lanes = _bounded(_sheet_rows(rates), max_lanes) if rates is not None else None
            surcharges = _bounded(_sheet_rows(extra), max_surcharges) if extra is not None else None
        finally:
            book.close()
    except Exception:  # noqa: BLE001 - openpyxl raises anything (KeyError, zlib.error, ...) on a broken file
        errors.add("/", "file_not_xlsx", "不是可读的 XLSX 文件 / not a readable XLSX file")
        return None, None
    if lanes is None:
        errors.add(f"/{RATES}", "sheet_missing", "没有价格表工作表 / no sheet of lanes")
    return lanes, surcharges


def _bounded(rows: Iterator[Row], limit: int) -> list[Row]:
    """Row 1 and the next `limit` + 1 rows that are not blank: enough to say that there are too many."""
    out: list[Row] = []
    filled = 0
    for number, values in rows:
        if number > 1 and all(is_blank(v) for v in values):
            continue
        out.append((number, values))
        filled += 1
        if filled > limit + 1:
            break
    return out


__all__ = [
    "MAX_COLUMNS",
    "MAX_ERRORS",
    "MAX_FILE_BYTES",
    "MAX_XLSX_UNPACKED_BYTES",
    "RATES",
    "SURCHARGES",
    "Errors",
    "RateTableInvalid",
    "Row",
    "check_size",
    "column_letter",
    "csv_rows",
    "xlsx_sheets",
]
