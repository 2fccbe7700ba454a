"""A carrier's agreed rate table (协议价格表) as data: lanes, surcharges, versions.

Money is integer fen (分) and weight integer grams throughout; yuan and kilograms exist only in the files
people write (`parse`) and on the pages. Dates are Beijing dates: China keeps UTC+8 all year, and a table
that takes effect on 2027-03-01 does so at midnight in Beijing, 2027-02-28T16:00Z.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Literal

from parcelguard.core.errors import Conflict
from parcelguard.enterprise.rates.regions import canonical_province

BEIJING = timezone(timedelta(hours=8), "CST")  # China Standard Time: UTC+8 all year

SurchargeKind = Literal["fixed", "percent", "per_kg"]
SURCHARGE_KINDS: tuple[SurchargeKind, ...] = ("fixed", "per_kg", "percent")

_CARRIER = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,15}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
CITY_MAX_CHARS = 32
NAME_MAX_CHARS = 32
VERSION_MAX_CHARS = 64
FREIGHT = "运费"  # the first line of a quote's breakdown: no surcharge may take the name


def is_carrier_code(text: object) -> bool:
    """A carrier's short code: 1 to 16 ASCII letters, digits, `-` or `_`, e.g. SF, ZTO, JD."""
    return isinstance(text, str) and _CARRIER.fullmatch(text) is not None


def is_version_name(text: object) -> bool:
    """A version's name: 1 to 64 characters, not all blank, no control characters."""
    return (isinstance(text, str) and bool(text.strip()) and len(text) <= VERSION_MAX_CHARS
            and _CONTROL.search(text) is None)


def city_key(city: str) -> str:
    """What two city names are compared by: `深圳`, `深圳市` and `深圳 市` are one city."""
    key = "".join(unicodedata.normalize("NFKC", city).split())
    return key[:-1] if key.endswith("市") and len(key) > 2 else key


def yuan(fen: int) -> str:
    """Fen as yuan with two decimals, as a page shows a price: 1250 → `12.50`."""
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d}"


def beijing_date(moment: datetime) -> date:
    """The Beijing calendar date of an aware moment: what a table's `effective_from` is compared to."""
    if moment.tzinfo is None:
        raise ValueError("a moment needs its offset")
    return moment.astimezone(BEIJING).date()


@dataclass(frozen=True)
class Lane:
    """One line of the table (线路): from a province to a province, or to one city of it.

    The price of a parcel is the first weight's price (首重) plus, per started step (续重单位) above the
    first weight, the step's price (续重价格). A lane without `destination_city` serves the whole province;
    one with a city serves that city and wins over the province's lane."""

    origin_province: str
    destination_province: str
    destination_city: str | None
    first_weight_g: int
    first_price_fen: int
    step_g: int
    step_price_fen: int
    max_weight_g: int | None
    transit_days_min: int
    transit_days_max: int

    def __post_init__(self) -> None:
        for province in (self.origin_province, self.destination_province):
            if canonical_province(province) != province:
                raise ValueError("a lane names provinces by their canonical names (regions.provinces())")
        if self.destination_city is not None and not self.destination_city.strip():
            raise ValueError("a lane's city is None or a name, never blank")
        if self.first_weight_g <= 0 or self.step_g <= 0:
            raise ValueError("the first weight and the step are positive")
        if self.first_price_fen < 0 or self.step_price_fen < 0:
            raise ValueError("prices are not negative")
        if self.max_weight_g is not None and self.max_weight_g < self.first_weight_g:
            raise ValueError("the max weight is at least the first weight")
        if not 0 <= self.transit_days_min <= self.transit_days_max:
            raise ValueError("transit days: 0 <= min <= max")

    @property
    def key(self) -> tuple[str, str, str]:
        """What makes a lane unique in its table: origin, destination, city (by `city_key`; '' for none)."""
        city = city_key(self.destination_city) if self.destination_city is not None else ""
        return (self.origin_province, self.destination_province, city)


@dataclass(frozen=True)
class Surcharge:
    """An extra charge (附加费) on the parcels it applies to.

    `amount` is fen per parcel (`fixed`), fen per started kilogram of the parcel's weight (`per_kg`), or
    basis points of the freight (`percent`: 500 is 5%). It applies to parcels bound for one of
    `destination_provinces` (none: every parcel; 偏远地区附加费 names e.g. 新疆, 西藏) that weigh at least
    `min_weight_g` (none: any weight; a heavy-parcel surcharge sets it)."""

    name: str
    kind: SurchargeKind
    amount: int
    destination_provinces: frozenset[str] = frozenset()
    min_weight_g: int | None = None

    def __post_init__(self) -> None:
        if not self.name.strip() or len(self.name) > NAME_MAX_CHARS:
            raise ValueError(f"a surcharge's name is 1 to {NAME_MAX_CHARS} characters")
        if self.name == FREIGHT:
            raise ValueError(f"{FREIGHT} is the freight's line in a quote, not a surcharge's name")
        if self.kind not in SURCHARGE_KINDS:
            raise ValueError(f"unknown surcharge kind {self.kind!r}")
        if self.amount < 0:
            raise ValueError("a surcharge is not negative")
        if any(canonical_province(p) != p for p in self.destination_provinces):
            raise ValueError("a surcharge names provinces by their canonical names (regions.provinces())")
        if self.min_weight_g is not None and self.min_weight_g <= 0:
            raise ValueError("a surcharge's minimum weight is positive")

    def applies_to(self, destination_province: str, weight_g: int) -> bool:
        if self.destination_provinces and destination_province not in self.destination_provinces:
            return False
        return self.min_weight_g is None or weight_g >= self.min_weight_g


@dataclass(frozen=True)
class RateTable:
    """One version of a carrier's rate table, in force from `effective_from` (a Beijing date) until the
    next version's. Lanes are unique by `Lane.key`, surcharges by name."""

    carrier: str
    version: str
    effective_from: date
    lanes: tuple[Lane, ...]
    surcharges: tuple[Surcharge, ...] = ()
    _index: Mapping[tuple[str, str, str], Lane] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not is_carrier_code(self.carrier):
            raise ValueError("a carrier code is 1 to 16 letters, digits, '-' or '_' (e.g. SF, ZTO, JD)")
        if not is_version_name(self.version):
            raise ValueError(f"a version name is 1 to {VERSION_MAX_CHARS} printable characters")
        if isinstance(self.effective_from, datetime) or not isinstance(self.effective_from, date):
            raise TypeError("effective_from is a date (Beijing), not a datetime")
        index: dict[tuple[str, str, str], Lane] = {}
        for lane in self.lanes:
            if lane.key in index:
                raise ValueError("two lanes with the same origin, destination and city")
            index[lane.key] = lane
        if len({s.name for s in self.surcharges}) != len(self.surcharges):
            raise ValueError("two surcharges with the same name")
        object.__setattr__(self, "_index", index)

    def lane_for(self, origin_province: str, destination_province: str,
                 destination_city: str | None) -> Lane | None:
        """The city's lane when there is one, else the province's; canonical province names expected."""
        if destination_city is not None and destination_city.strip():
            found = self._index.get((origin_province, destination_province, city_key(destination_city)))
            if found is not None:
                return found
        return self._index.get((origin_province, destination_province, ""))


class RateVersionClash(Conflict):
    """Two versions of one carrier's table take effect on the same day: which one is in force is unknown."""

    code = "rate_version_date_taken"


@dataclass(frozen=True)
class RateBook:
    """Every version of one carrier's table; the one in force on a day is the latest that started by then."""

    carrier: str
    versions: tuple[RateTable, ...] = ()

    def __post_init__(self) -> None:
        seen: set[date] = set()
        for v in self.versions:
            if v.carrier != self.carrier:
                raise ValueError("a rate book holds one carrier's versions")
            if v.effective_from in seen:
                raise RateVersionClash(
                    f"两个版本同日生效 ({v.effective_from.isoformat()}) / two versions take effect on the same day",
                    field="/effective_from")
            seen.add(v.effective_from)
        object.__setattr__(self, "versions", tuple(sorted(self.versions, key=lambda v: v.effective_from)))

    @classmethod
    def of(cls, carrier: str, versions: Iterable[RateTable]) -> RateBook:
        return cls(carrier, tuple(versions))

    def add(self, version: RateTable) -> RateBook:
        """A book with one more version; `RateVersionClash` when its day is taken."""
        return RateBook(self.carrier, (*self.versions, version))

    def in_force(self, at: date) -> RateTable | None:
        """The version with the latest `effective_from` not after `at` (a Beijing date); None before any."""
        if isinstance(at, datetime):
            raise TypeError("in_force takes a Beijing date; use in_force_at for a moment")
        found = None
        for v in self.versions:  # sorted by effective_from
            if v.effective_from > at:
                break
            found = v
        return found

    def in_force_at(self, moment: datetime) -> RateTable | None:
        """The version in force at an aware moment, by its Beijing date."""
        return self.in_force(beijing_date(moment))


__all__ = [
    "BEIJING",
    "FREIGHT",
    "SURCHARGE_KINDS",
    "Lane",
    "RateBook",
    "RateTable",
    "RateVersionClash",
    "Surcharge",
    "SurchargeKind",
    "beijing_date",
    "city_key",
    "is_carrier_code",
    "is_version_name",
    "yuan",
]
