"""An orders file (bulk orders, issue 16) as numbered orders: a CSV (UTF-8, with or without a BOM, or GB18030) or an
XLSX, row 1 its headers in Chinese or English, one parcel a row, up to `MAX_ROWS`. The sender is the import form's,
one for the whole file (a company's warehouse ships it). No database, no HTTP.

Each row is checked on its own with `orders.checked`; a row's problems name its row, the column's letter and header
and a stable code, never the cell. The file's own problems (not a CSV or XLSX, a missing column, too many rows)
refuse it whole (422 `order_file_invalid`, the rate tables' `Errors` and pointers).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from parcelguard.core.errors import Invalid
from parcelguard.enterprise.adapters.base import Item
from parcelguard.enterprise.platform import orders
from parcelguard.enterprise.rates import sheets
from parcelguard.enterprise.rates.cells import CellError, is_blank, weight_grams
from parcelguard.enterprise.rates.parse import _header_key

MAX_ROWS = 10_000
SHEET = "orders"


class OrderFileInvalid(Invalid):
    """The file is not an orders file: `errors` names what is wrong with it (nothing was imported)."""

    code = "order_file_invalid"


@dataclass(frozen=True)
class Column:
    key: str
    zh: str
    required: bool
    aliases: tuple[str, ...] = ()

    def headers(self) -> set[str]:
        return {_header_key(h) for h in (self.key, self.zh, *self.aliases)}


COLUMNS = (
    Column("recipient_name", "收件人", True, ("收件人姓名", "收货人")),
    Column("recipient_phone", "收件电话", True, ("收件人电话", "收件人手机", "收货人电话", "手机")),
    Column("recipient_province", "收件省", True, ("省", "省份", "收件省份")),
    Column("recipient_city", "收件市", True, ("市", "城市", "收件城市")),
    Column("recipient_district", "收件区", True, ("区", "区县", "收件区县")),
    Column("recipient_detail", "收件地址", True, ("详细地址", "收件详细地址", "地址")),
    Column("weight_kg", "重量(kg)", True, ("重量", "重量(公斤)")),
    Column("category", "物品类别", True, ("类别", "品类")),
    Column("description", "物品名称", True, ("物品", "品名", "内件")),
    Column("quantity", "数量", False, ("件数",)),
)
# Where `orders.checked`'s pointers land in the file.
_POINTER_COLUMN = {
    "/recipient/name": "recipient_name", "/recipient/phone": "recipient_phone",
    "/recipient/province": "recipient_province", "/recipient/city": "recipient_city",
    "/recipient/district": "recipient_district", "/recipient/detail": "recipient_detail",
    "/weight_kg": "weight_kg", "/items": "description", "/items/0/description": "description",
    "/items/0/quantity": "quantity", "/items/0/category": "category",
}
_BY_HEADER = {h: c for c in COLUMNS for h in c.headers()}


@dataclass(frozen=True)
class Sender:
    name: str
    phone: str
    address: str
    province: str


@dataclass(frozen=True)
class RowError:
    """One problem of one row: where (row, column letter and header) and what (code), never the cell."""

    row: int
    column: str | None
    header: str | None
    code: str

    def as_dict(self) -> dict[str, object]:
        return {"row": self.row, "column": self.column, "header": self.header, "code": self.code,
                "pointer": f"/{SHEET}/row/{self.row}" + (f"/column/{self.column}" if self.column else "")}


@dataclass(frozen=True)
class ParsedRow:
    row: int
    order: orders.OrderIn | None  # checked and normalised; None when refused
    errors: tuple[RowError, ...] = ()


@dataclass(frozen=True)
class ParsedFile:
    columns: dict[str, int]  # column key → 0-based index
    rows: list[ParsedRow]

    def error(self, row: int, key: str, code: str) -> RowError:
        """A problem found later (the price) in the row's cell of column `key`."""
        return _row_error(self.columns, row, key, code)


def _row_error(columns: dict[str, int], row: int, key: str | None, code: str) -> RowError:
    index = columns.get(key) if key else None
    header = next((c.zh for c in COLUMNS if c.key == key), None)
    return RowError(row, None if index is None else sheets.column_letter(index), header, code)


def read(data: bytes, *, file_name: str, connection_id: uuid.UUID, sender: Sender) -> ParsedFile:
    """The file's data rows (blank rows left out), each checked; `OrderFileInvalid` for a file that is not one, and
    422 `order_invalid` naming the form's sender fields when they are wrong (they would be wrong in every row)."""
    errors = sheets.Errors()
    is_xlsx = file_name.lower().endswith(".xlsx") or data[:4] == b"PK\x03\x04"
    if is_xlsx:
        rows, _ = sheets.xlsx_sheets(data, errors, max_lanes=MAX_ROWS, max_surcharges=0)
    else:
        rows = sheets.csv_rows(data, SHEET, errors)
    columns = _header(rows, errors) if rows is not None else {}
    data_rows = [(n, cells) for n, cells in (rows or [])[1:] if not all(is_blank(v) for v in cells)]
    if rows is not None and not data_rows and not errors.total:
        errors.add(f"/{SHEET}", "file_empty", "没有订单行 / no order rows")
    if len(data_rows) > MAX_ROWS:
        errors.add(f"/{SHEET}", "too_many_rows", f"多于 {MAX_ROWS} 行 / more than {MAX_ROWS:,} rows")
    if errors.total:
        raise OrderFileInvalid(f"不是订单文件 / not an orders file ({errors.total} errors)", errors=errors.kept)
    sender = _check_sender(connection_id, sender)
    return ParsedFile(columns, [_row(n, cells, columns, connection_id, sender) for n, cells in data_rows])


def _header(rows: Sequence[sheets.Row], errors: sheets.Errors) -> dict[str, int]:
    """Column key → 0-based index, from row 1; every required column must be there, once."""
    if not rows:
        errors.add(f"/{SHEET}", "file_empty", "没有表头（第 1 行）/ no header row (row 1)")
        return {}
    found: dict[str, int] = {}
    for index, cell in enumerate(rows[0][1][: sheets.MAX_COLUMNS]):
        column = _BY_HEADER.get(_header_key(cell)) if isinstance(cell, str) else None
        if column is None:
            continue
        if column.key in found:
            errors.add(f"/{SHEET}/row/1/column/{sheets.column_letter(index)}", "column_repeated",
                       f"列重复: {column.zh} / column repeated: {column.key}")
        found[column.key] = index
    for column in COLUMNS:
        if column.required and column.key not in found:
            errors.add(f"/{SHEET}/row/1", "column_missing", f"缺少列 {column.zh} / missing column {column.key}")
    return found


def _check_sender(connection_id: uuid.UUID, sender: Sender) -> Sender:
    """The form's sender, checked and normalised once with a stand-in recipient: its errors are the form's, not a
    row's, and the rows take it as checked."""
    probe = orders.OrderIn(connection_id=connection_id, sender_name=sender.name, sender_phone=sender.phone,
                           sender_address=sender.address, sender_province=sender.province, recipient_name="x",
                           recipient_phone="13800000000", recipient_province="北京", recipient_city="x",
                           recipient_district="x", recipient_detail="x", weight_g=1,
                           items=(Item(category="other", description="x"),))
    try:
        clean = orders.checked(probe)
    except Invalid as exc:
        raise Invalid("The sender is not valid.", code="order_invalid",
                      errors=[e for e in exc.errors if e.pointer.startswith("/sender/")]) from None
    return Sender(name=clean.sender_name, phone=clean.sender_phone, address=clean.sender_address,
                  province=clean.sender_province)


def _cell(cells: Sequence[object], columns: dict[str, int], key: str) -> object:
    index = columns.get(key)
    return cells[index] if index is not None and index < len(cells) else None


def _str(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # a phone number typed into an XLSX as a number
    return str(value)


def _row(number: int, cells: Sequence[object], columns: dict[str, int], connection_id: uuid.UUID,
         sender: Sender) -> ParsedRow:
    found: list[RowError] = []

    def error(key: str | None, code: str) -> None:
        found.append(_row_error(columns, number, key, code))

    try:
        weight = weight_grams(_cell(cells, columns, "weight_kg"))
    except CellError as exc:
        error("weight_kg", exc.code)
        weight = 0
    category = _str(_cell(cells, columns, "category")).strip().lower()
    if not orders_category(category):
        error("category", "category_format")
    quantity_cell = _cell(cells, columns, "quantity")
    quantity = _quantity(quantity_cell)
    if quantity is None:
        error("quantity", "quantity_format")
    order = orders.OrderIn(
        connection_id=connection_id, sender_name=sender.name, sender_phone=sender.phone,
        sender_address=sender.address, sender_province=sender.province,
        recipient_name=_str(_cell(cells, columns, "recipient_name")),
        recipient_phone=_str(_cell(cells, columns, "recipient_phone")),
        recipient_province=_str(_cell(cells, columns, "recipient_province")),
        recipient_city=_str(_cell(cells, columns, "recipient_city")),
        recipient_district=_str(_cell(cells, columns, "recipient_district")),
        recipient_detail=_str(_cell(cells, columns, "recipient_detail")),
        weight_g=weight or 1,
        items=(Item(category=category or "other", description=_str(_cell(cells, columns, "description")),
                    quantity=quantity or 1),))
    try:
        order = orders.checked(order, sender_checked=True)
    except Invalid as exc:
        for e in exc.errors:
            error(_POINTER_COLUMN.get(e.pointer), e.code)
    if found:
        return ParsedRow(number, None, tuple(found))
    return ParsedRow(number, order)


def orders_category(code: str) -> bool:
    """A carrier's category code (`clothing`, `electronics`, ...): lower-case letters and `_`."""
    return 0 < len(code) <= 32 and code[0].isascii() and code[0].isalpha() and all(
        ch.isascii() and (ch.islower() or ch == "_") for ch in code)


def _quantity(value: object) -> int | None:
    if is_blank(value):
        return 1
    try:
        number = Decimal(_str(value).strip())
    except ArithmeticError:
        return None
    return int(number) if number == number.to_integral_value() and 0 < number <= 10_000 else None


__all__ = ["COLUMNS", "MAX_ROWS", "OrderFileInvalid", "ParsedFile", "ParsedRow", "RowError", "Sender", "read"]
