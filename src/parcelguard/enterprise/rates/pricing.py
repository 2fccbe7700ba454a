"""The price of a parcel under a rate table (报价), and every carrier's side by side.

The rules (docs/enterprise-rates.md, "Pricing"):

1. The lane: the destination city's lane when the table has one, else the destination province's.
   A parcel over the lane's max weight has no price.
2. The freight (运费): up to the first weight, the first price; above it, the first price plus the step
   price for every started step (1.01 kg on 1 kg + 1 kg steps is 2 steps' weight: 1 step).
3. Surcharges that apply (destination, minimum weight), in this order: `fixed` and `per_kg` in the order
   the table lists them (per started kilogram of the parcel's own weight), then `percent` of the freight
   alone (never of another surcharge), rounded half-up to the fen, once per surcharge.
4. The total is the freight plus the surcharges; every amount is a whole number of fen.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from parcelguard.core.errors import Invalid
from parcelguard.enterprise.rates.model import FREIGHT, Lane, RateTable
from parcelguard.enterprise.rates.regions import canonical_province

BASIS_POINTS = 10_000  # 100%
GRAMS_PER_KG = 1000


@dataclass(frozen=True)
class Charge:
    """One line of a quote's breakdown: the freight (`运费`) or a surcharge by its name."""

    name: str
    fen: int


@dataclass(frozen=True)
class Quote:
    """What one carrier's table asks for one parcel, and how long it takes."""

    carrier: str
    version: str
    total_fen: int
    breakdown: tuple[Charge, ...]  # the freight first, then each surcharge that applied, in the order applied
    chargeable_weight_g: int
    transit_days_min: int
    transit_days_max: int
    lane: Lane
    matched: Literal["city", "province"]

    def __post_init__(self) -> None:
        if self.total_fen != sum(c.fen for c in self.breakdown):
            raise ValueError("a quote's total is the sum of its breakdown")

    @property
    def freight_fen(self) -> int:
        return self.breakdown[0].fen


def chargeable_weight(lane: Lane, weight_g: int) -> int:
    """The weight the lane charges for: the first weight, plus whole steps rounded up above it."""
    if weight_g <= lane.first_weight_g:
        return lane.first_weight_g
    return lane.first_weight_g + _steps(lane, weight_g) * lane.step_g


def freight(lane: Lane, weight_g: int) -> int:
    """The lane's price for the weight, in fen, before surcharges."""
    if weight_g <= lane.first_weight_g:
        return lane.first_price_fen
    return lane.first_price_fen + _steps(lane, weight_g) * lane.step_price_fen


def _steps(lane: Lane, weight_g: int) -> int:
    return -(-(weight_g - lane.first_weight_g) // lane.step_g)  # ceiling division, in integers


def _half_up(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded half-up, for a non-negative numerator: 0.5 fen becomes 1 fen."""
    return (2 * numerator + denominator) // (2 * denominator)


def _province(text: str, pointer: str) -> str:
    found = canonical_province(text)
    if found is None:
        raise Invalid("不是省级行政区名称 / not a province-level division", code="province_unknown", field=pointer)
    return found


def price(version: RateTable, origin_province: str, destination_province: str, destination_city: str | None,
          weight_grams: int) -> Quote | None:
    """The quote for a parcel, or None when no lane serves it or it is over the lane's max weight.

    Provinces may be full or short names (`广东`); `Invalid` (`province_unknown`, `weight_not_positive`)
    for what is not a province or a weight."""
    if isinstance(weight_grams, bool) or not isinstance(weight_grams, int) or weight_grams <= 0:
        raise Invalid("重量须为正整数克 / the weight is a positive whole number of grams",
                      code="weight_not_positive", field="/weight_grams")
    origin = _province(origin_province, "/origin_province")
    destination = _province(destination_province, "/destination_province")
    lane = version.lane_for(origin, destination, destination_city)
    if lane is None or (lane.max_weight_g is not None and weight_grams > lane.max_weight_g):
        return None
    freight_fen = freight(lane, weight_grams)
    breakdown = [Charge(FREIGHT, freight_fen)]
    applying = [s for s in version.surcharges if s.applies_to(destination, weight_grams)]
    for s in applying:
        if s.kind == "fixed":
            breakdown.append(Charge(s.name, s.amount))
        elif s.kind == "per_kg":
            started_kg = -(-weight_grams // GRAMS_PER_KG)
            breakdown.append(Charge(s.name, s.amount * started_kg))
    for s in applying:
        if s.kind == "percent":
            breakdown.append(Charge(s.name, _half_up(freight_fen * s.amount, BASIS_POINTS)))
    return Quote(
        carrier=version.carrier, version=version.version, total_fen=sum(c.fen for c in breakdown),
        breakdown=tuple(breakdown), chargeable_weight_g=chargeable_weight(lane, weight_grams),
        transit_days_min=lane.transit_days_min, transit_days_max=lane.transit_days_max, lane=lane,
        matched="province" if lane.destination_city is None else "city",
    )


def compare(tables: Iterable[RateTable], origin_province: str, destination_province: str,
            destination_city: str | None, weight_grams: int) -> list[Quote]:
    """Every table's quote for the parcel (those that serve it), cheapest first, then fastest, then by
    carrier: the console's side-by-side view. Pass each carrier's version in force (`RateBook.in_force`)."""
    found = (price(t, origin_province, destination_province, destination_city, weight_grams) for t in tables)
    quotes = [q for q in found if q is not None]
    return sorted(quotes, key=lambda q: (q.total_fen, q.transit_days_max, q.transit_days_min, q.carrier))


__all__ = ["FREIGHT", "Charge", "Quote", "chargeable_weight", "compare", "freight", "price"]
