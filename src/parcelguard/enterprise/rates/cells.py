"""One spreadsheet cell to one value: yuan to fen, kilograms to grams, a province's name to its canonical one.

A cell is what the file holds: text from a CSV; text, an int, a float or a datetime from an XLSX. Numbers
go through `Decimal`, never float arithmetic: an XLSX number cell is a float already, and is read as Excel
shows it, to 15 significant digits (Excel's own precision), so `=10*1.1` is 11, not 11.000000000000002.
A refusal is a `CellError` with a stable code and a message in Chinese and English that says what was
expected and never repeats the cell.
"""

from __future__ import annotations

import math
import re
import unicodedata
from decimal import Decimal, InvalidOperation

from parcelguard.enterprise.rates.model import CITY_MAX_CHARS, NAME_MAX_CHARS, SurchargeKind
from parcelguard.enterprise.rates.regions import canonical_province

MAX_YUAN = Decimal(100_000)  # one parcel's price or surcharge
MAX_KG = Decimal(10_000)  # express and LTL (快运) parcels alike are far below
MAX_DAYS = 365
MAX_PERCENT = Decimal(100)
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_LIST_SEPARATORS = re.compile(r"[、,;/|\s]+")  # after NFKC: ，and ； are , and ;
_KINDS: dict[str, SurchargeKind] = {
    "fixed": "fixed", "固定": "fixed", "每票": "fixed", "按票": "fixed",
    "per_kg": "per_kg", "每公斤": "per_kg", "按公斤": "per_kg", "按重量": "per_kg",
    "percent": "percent", "百分比": "percent", "比例": "percent", "按比例": "percent",
}


class CellError(Exception):
    """A cell that is not what its column holds."""

    def __init__(self, code: str, zh: str, en: str) -> None:
        super().__init__(code)
        self.code, self.zh, self.en = code, zh, en


def is_blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _text(value: object) -> str:
    return unicodedata.normalize("NFKC", value).strip() if isinstance(value, str) else ""


def _decimal(value: object, units: tuple[str, ...]) -> Decimal | None:
    """The cell's number, or None when it is not one. Text may carry a unit (`12.5元`, `￥12.5`, `1kg`)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    if isinstance(value, float):
        return Decimal(format(value, ".15g")) if math.isfinite(value) else None
    if not isinstance(value, str):
        return None  # a datetime: a date-formatted cell
    text = _text(value).lower()
    if len(text) > 24:
        return None
    text = text.removeprefix("¥")  # NFKC folds the full-width ￥ into ¥
    for unit in units:
        text = text.removesuffix(unit)
    text = text.strip()
    return Decimal(text) if _NUMBER.fullmatch(text) else None


def _places(number: Decimal, places: int) -> bool:
    """Whether the number has at most `places` decimals (12.50 and 12.500 have 1)."""
    try:
        return number == number.quantize(Decimal(1).scaleb(-places))
    except InvalidOperation:  # too many digits for the context: not a table's number anyway
        return False


def money_fen(value: object) -> int:
    """Yuan, at most 2 decimals, 0 or more: `12.5`, `12.50`, `￥12.5`, `12.5元`."""
    number = _decimal(value, ("元",))
    if number is None:
        raise CellError("not_an_amount", "不是金额（元，最多两位小数）", "not an amount (yuan, at most 2 decimals)")
    if number < 0:
        raise CellError("amount_negative", "金额不能为负", "an amount is not negative")
    if number > MAX_YUAN:
        raise CellError("amount_too_large", f"金额超过 {MAX_YUAN} 元", f"over {MAX_YUAN} yuan")
    if not _places(number, 2):
        raise CellError("amount_precision", "金额最多两位小数（分）", "at most 2 decimals (fen)")
    return int(number * 100)


def weight_grams(value: object) -> int:
    """Kilograms, at most 3 decimals, more than 0: `1`, `0.5`, `1.25kg`, `2公斤`."""
    number = _decimal(value, ("kg", "公斤", "千克"))
    if number is None:
        raise CellError("not_a_weight", "不是重量（公斤，最多三位小数）", "not a weight (kg, at most 3 decimals)")
    if number <= 0:
        raise CellError("weight_not_positive", "重量须大于 0", "a weight is more than 0")
    if number > MAX_KG:
        raise CellError("weight_too_large", f"重量超过 {MAX_KG} 公斤", f"over {MAX_KG} kg")
    if not _places(number, 3):
        raise CellError("weight_precision", "重量最多三位小数（克）", "at most 3 decimals (grams)")
    return int(number * 1000)


def day_count(value: object) -> int:
    """A whole number of days, 0 to 365."""
    number = _decimal(value, ("天",))
    if number is None or number < 0 or not _places(number, 0):
        raise CellError("not_a_day_count", "不是天数（0 或正整数）", "not a number of days (a whole number, 0 or more)")
    if number > MAX_DAYS:
        raise CellError("days_too_large", f"天数超过 {MAX_DAYS}", f"over {MAX_DAYS} days")
    return int(number)


def percent_basis_points(value: object) -> int:
    """A percentage of at most 2 decimals, 0 to 100: `5`, `5%`, `2.75%`; as basis points (5% is 500)."""
    number = _decimal(value, ("%",))
    if number is None:
        raise CellError("not_a_percent", "不是百分比（如 5 或 5%，最多两位小数）",
                        "not a percentage (e.g. 5 or 5%, at most 2 decimals)")
    if number < 0:
        raise CellError("percent_negative", "百分比不能为负", "a percentage is not negative")
    if number > MAX_PERCENT:
        raise CellError("percent_too_large", "百分比超过 100", "over 100%")
    if not _places(number, 2):
        raise CellError("percent_precision", "百分比最多两位小数", "at most 2 decimals")
    return int(number * 100)


def province(value: object) -> str:
    """A province-level division's full or short name, as its canonical name."""
    found = canonical_province(value) if isinstance(value, str) else None
    if found is None:
        raise CellError("province_unknown", "不是省级行政区名称（如 广东 或 广东省）",
                        "not a province-level division (e.g. 广东 or 广东省)")
    return found


def provinces(value: object) -> frozenset[str]:
    """Province names separated by `、`, `,`, `;`, `/` or spaces; blank is none."""
    parts = [p for p in _LIST_SEPARATORS.split(_text(value)) if p]
    if not isinstance(value, str) or not parts:
        raise CellError("province_unknown", "不是省级行政区名称（多个用 、 分隔）",
                        "not province-level divisions (several separated by 、)")
    return frozenset(province(p) for p in parts)


def _free_text(value: object, limit: int, what_zh: str, what_en: str) -> str:
    if not isinstance(value, str):
        raise CellError("not_text", f"不是{what_zh}（文字）", f"not a {what_en} (text)")
    text = value.strip()
    if _CONTROL.search(text):
        raise CellError("text_invalid", "含有控制字符", "holds a control character")
    if len(text) > limit:
        raise CellError("text_too_long", f"超过 {limit} 个字", f"over {limit} characters")
    return text


def city(value: object) -> str:
    """A city's name: free text, trimmed, at most 32 characters."""
    return _free_text(value, CITY_MAX_CHARS, "城市名称", "city name")


def name(value: object) -> str:
    """A surcharge's name: free text, trimmed, at most 32 characters."""
    return _free_text(value, NAME_MAX_CHARS, "名称", "name")


def surcharge_kind(value: object) -> SurchargeKind:
    found = _KINDS.get(_text(value).lower())
    if found is None:
        raise CellError("surcharge_kind_unknown", "不是附加费类型（固定、每公斤、百分比）",
                        "not a surcharge kind (fixed, per_kg, percent)")
    return found


__all__ = [
    "CellError",
    "city",
    "day_count",
    "is_blank",
    "money_fen",
    "name",
    "percent_basis_points",
    "province",
    "provinces",
    "surcharge_kind",
    "weight_grams",
]
