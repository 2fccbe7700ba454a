"""Carriers' agreed rate tables (协议价格表): read from CSV or XLSX, versioned by the day they take effect, and
priced per parcel so the console can show every carrier side by side. Pure: no database, no HTTP.

    table = parse_xlsx(data, carrier="SF", version="2027 协议价", effective_from=date(2027, 3, 1))
    quote = price(table, "广东", "新疆", "乌鲁木齐", weight_grams=1200)

docs/enterprise-rates.md describes the file format and the pricing rules.
"""

from parcelguard.enterprise.rates.model import (
    BEIJING,
    FREIGHT,
    Lane,
    RateBook,
    RateTable,
    RateVersionClash,
    Surcharge,
    SurchargeKind,
    beijing_date,
    yuan,
)
from parcelguard.enterprise.rates.parse import (
    MAX_FILE_BYTES,
    MAX_LANES,
    RateTableInvalid,
    parse_csv,
    parse_xlsx,
)
from parcelguard.enterprise.rates.pricing import Charge, Quote, compare, price
from parcelguard.enterprise.rates.regions import canonical_province, provinces

__all__ = [
    "BEIJING",
    "FREIGHT",
    "MAX_FILE_BYTES",
    "MAX_LANES",
    "Charge",
    "Lane",
    "Quote",
    "RateBook",
    "RateTable",
    "RateTableInvalid",
    "RateVersionClash",
    "Surcharge",
    "SurchargeKind",
    "beijing_date",
    "canonical_province",
    "compare",
    "parse_csv",
    "parse_xlsx",
    "price",
    "provinces",
    "yuan",
]
