"""Pricing a parcel under a rate table: the worked examples of docs/enterprise-rates.md, and the properties
every price keeps (monotone in weight, a city beats its province, whole fen that add up)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from parcelguard.core.errors import Invalid
from parcelguard.enterprise.rates import (
    FREIGHT,
    Charge,
    Lane,
    RateBook,
    RateTable,
    RateVersionClash,
    Surcharge,
    compare,
    price,
    provinces,
    yuan,
)

GD, XJ, XZ, BJ = "广东省", "新疆维吾尔自治区", "西藏自治区", "北京市"


def lane(origin: str = GD, destination: str = GD, city: str | None = None, *, first_g: int = 1000,
         first_fen: int = 1200, step_g: int = 1000, step_fen: int = 200, max_g: int | None = None,
         days: tuple[int, int] = (1, 2)) -> Lane:
    return Lane(origin_province=origin, destination_province=destination, destination_city=city,
                first_weight_g=first_g, first_price_fen=first_fen, step_g=step_g, step_price_fen=step_fen,
                max_weight_g=max_g, transit_days_min=days[0], transit_days_max=days[1])


def table(*lanes: Lane, surcharges: tuple[Surcharge, ...] = (), carrier: str = "SF",
          effective_from: date = date(2027, 3, 1)) -> RateTable:
    return RateTable(carrier=carrier, version="2027 协议价", effective_from=effective_from, lanes=lanes,
                     surcharges=surcharges)


# -- the worked examples ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("grams", "fen", "chargeable"), [
    (300, 1200, 1000),    # under the first weight: the first weight's price
    (1000, 1200, 1000),   # exactly the first weight
    (1010, 1400, 2000),   # 10 g over: one started step
    (2000, 1400, 2000),
    (3000, 1600, 3000),
    (3001, 1800, 4000),
])
def test_the_first_kilogram_costs_12_yuan_and_each_started_kilogram_after_it_2(grams: int, fen: int,
                                                                              chargeable: int) -> None:
    quote = price(table(lane()), GD, GD, None, grams)
    assert quote is not None
    assert (quote.total_fen, quote.freight_fen, quote.chargeable_weight_g) == (fen, fen, chargeable)
    assert quote.breakdown == (Charge(FREIGHT, fen),)


def test_half_kilogram_steps_charge_each_started_half_kilogram() -> None:
    t = table(lane(step_g=500, step_fen=100))
    assert [price(t, GD, GD, None, g).total_fen for g in (1000, 1001, 1500, 1501, 2000)] == [  # type: ignore[union-attr]
        1200, 1300, 1300, 1400, 1400]


def test_a_parcel_over_the_lanes_max_weight_has_no_price() -> None:
    t = table(lane(max_g=30_000))
    assert price(t, GD, GD, None, 30_000) is not None
    assert price(t, GD, GD, None, 30_001) is None


def test_a_lane_the_table_does_not_have_has_no_price() -> None:
    assert price(table(lane()), GD, BJ, None, 1000) is None


def test_provinces_may_be_asked_for_by_their_short_names() -> None:
    quote = price(table(lane(GD, XJ)), "广东", "新疆", None, 1000)
    assert quote is not None and quote.lane.destination_province == XJ


def test_what_is_not_a_province_or_a_weight_is_invalid() -> None:
    with pytest.raises(Invalid) as caught:
        price(table(lane()), "火星", GD, None, 1000)
    assert (caught.value.code, caught.value.errors[0].pointer) == ("province_unknown", "/origin_province")
    for grams in (0, -5):
        with pytest.raises(Invalid) as caught:
            price(table(lane()), GD, GD, None, grams)
        assert caught.value.code == "weight_not_positive"


def test_a_city_lane_beats_its_province_lane_and_other_cities_fall_back_to_the_province() -> None:
    t = table(lane(GD, GD, None, first_fen=1200, days=(1, 2)), lane(GD, GD, "深圳市", first_fen=1000, days=(1, 1)))
    city = price(t, GD, GD, "深圳", 800)
    assert city is not None and (city.total_fen, city.matched, city.transit_days_max) == (1000, "city", 1)
    other = price(t, GD, GD, "广州市", 800)
    assert other is not None and (other.total_fen, other.matched, other.transit_days_max) == (1200, "province", 2)
    assert price(t, GD, GD, None, 800).matched == "province"  # type: ignore[union-attr]


def test_a_city_lane_without_its_province_lane_serves_only_that_city() -> None:
    t = table(lane(GD, GD, "深圳市"))
    assert price(t, GD, GD, "深圳市", 1000) is not None
    assert price(t, GD, GD, "广州市", 1000) is None


# -- surcharges -------------------------------------------------------------------------------------------

REMOTE = Surcharge("偏远地区附加费", "fixed", 800, frozenset({XJ, XZ}))
FUEL = Surcharge("燃油附加费", "percent", 550)  # 5.5% of the freight
HEAVY = Surcharge("超重附加费", "per_kg", 100, min_weight_g=30_000)


def test_a_remote_area_surcharge_applies_only_to_its_provinces() -> None:
    t = table(lane(GD, XJ, first_fen=2000, step_fen=1000), lane(GD, GD), surcharges=(REMOTE,))
    remote = price(t, GD, XJ, "乌鲁木齐市", 1000)
    near = price(t, GD, GD, None, 1000)
    assert remote is not None and near is not None
    assert [(c.name, c.fen) for c in remote.breakdown] == [(FREIGHT, 2000), ("偏远地区附加费", 800)]
    assert remote.total_fen == 2800
    assert [c.name for c in near.breakdown] == [FREIGHT]


def test_a_per_kg_surcharge_counts_started_kilograms_from_its_minimum_weight() -> None:
    t = table(lane(first_fen=1200, step_fen=200), surcharges=(HEAVY,))
    assert [c.name for c in price(t, GD, GD, None, 29_999).breakdown] == [FREIGHT]  # type: ignore[union-attr]
    at = price(t, GD, GD, None, 30_000)
    over = price(t, GD, GD, None, 30_001)
    assert at is not None and over is not None
    assert at.breakdown[1].fen == 30 * 100
    assert over.breakdown[1].fen == 31 * 100


def test_a_percent_surcharge_is_of_the_freight_alone_rounded_half_up_once() -> None:
    # freight 12.50: 5.5% is 0.6875 yuan = 68.75 fen → 69 fen; the fixed 8.00 is not part of the base
    t = table(lane(GD, XJ, first_fen=1250), surcharges=(FUEL, REMOTE))
    quote = price(t, GD, XJ, None, 1000)
    assert quote is not None
    assert [(c.name, c.fen) for c in quote.breakdown] == [(FREIGHT, 1250), ("偏远地区附加费", 800), ("燃油附加费", 69)]
    assert quote.total_fen == 1250 + 800 + 69


@pytest.mark.parametrize(("freight_fen", "basis_points", "fen"), [
    (1000, 5, 1),     # 0.5 fen: half up
    (980, 5, 0),      # 0.49 fen
    (1000, 15, 2),    # 1.5 fen
    (1234, 10_000, 1234),
    (0, 500, 0),
])
def test_percent_rounding_is_half_up_to_the_fen(freight_fen: int, basis_points: int, fen: int) -> None:
    t = table(lane(first_fen=freight_fen), surcharges=(Surcharge("燃油", "percent", basis_points),))
    quote = price(t, GD, GD, None, 500)
    assert quote is not None and quote.breakdown[1].fen == fen


def test_compare_lists_the_carriers_that_serve_the_parcel_cheapest_first() -> None:
    sf = table(lane(first_fen=1800, days=(1, 1)), carrier="SF")
    zto = table(lane(first_fen=1000, days=(2, 3)), carrier="ZTO")
    yto = table(lane(first_fen=1000, days=(2, 4)), carrier="YTO")
    far = table(lane(GD, XJ), carrier="EMS")
    assert [q.carrier for q in compare([sf, zto, yto, far], "广东", "广东", None, 1000)] == ["ZTO", "YTO", "SF"]


def test_a_quote_refuses_a_total_that_is_not_its_breakdown() -> None:
    quote = price(table(lane()), GD, GD, None, 1000)
    with pytest.raises(ValueError, match="sum"):
        replace(quote, total_fen=quote.total_fen + 1)  # type: ignore[type-var]


# -- versions ---------------------------------------------------------------------------------------------

def test_the_version_in_force_is_the_latest_that_started_by_that_day() -> None:
    march, july = table(lane(), effective_from=date(2027, 3, 1)), table(lane(), effective_from=date(2027, 7, 1))
    book = RateBook.of("SF", [july, march])
    assert book.in_force(date(2027, 2, 28)) is None
    assert book.in_force(date(2027, 3, 1)) is march
    assert book.in_force(date(2027, 6, 30)) is march
    assert book.in_force(date(2027, 7, 1)) is july
    assert book.in_force(date(2030, 1, 1)) is july


def test_a_version_takes_effect_at_midnight_in_beijing() -> None:
    march = table(lane(), effective_from=date(2027, 3, 1))
    book = RateBook.of("SF", [march])
    assert book.in_force_at(datetime(2027, 2, 28, 15, 59, tzinfo=UTC)) is None
    assert book.in_force_at(datetime(2027, 2, 28, 16, 0, tzinfo=UTC)) is march
    with pytest.raises(ValueError, match="offset"):
        book.in_force_at(datetime(2027, 3, 1, 12, 0))


def test_two_versions_taking_effect_on_one_day_clash() -> None:
    book = RateBook.of("SF", [table(lane(), effective_from=date(2027, 3, 1))])
    with pytest.raises(RateVersionClash) as caught:
        book.add(table(lane(first_fen=1), effective_from=date(2027, 3, 1)))
    assert caught.value.code == "rate_version_date_taken" and caught.value.status == 409
    assert len(book.add(table(lane(), effective_from=date(2027, 4, 1))).versions) == 2


def test_a_rate_book_holds_one_carriers_versions() -> None:
    with pytest.raises(ValueError, match="one carrier"):
        RateBook.of("SF", [table(lane(), carrier="ZTO")])


def test_the_model_refuses_what_the_parser_would_never_make() -> None:
    with pytest.raises(ValueError, match="canonical"):
        lane("广东", GD)
    with pytest.raises(ValueError, match="max weight"):
        lane(first_g=1000, max_g=999)
    with pytest.raises(ValueError, match="transit"):
        lane(days=(3, 2))
    with pytest.raises(ValueError, match="same origin"):
        table(lane(GD, GD, "深圳"), lane(GD, GD, "深圳市"))
    with pytest.raises(ValueError, match="freight"):
        Surcharge(FREIGHT, "fixed", 1)


def test_yuan_shows_two_decimals() -> None:
    assert [yuan(f) for f in (0, 5, 1250, 100_000, -1)] == ["0.00", "0.05", "12.50", "1000.00", "-0.01"]


# -- properties -------------------------------------------------------------------------------------------

province_names = st.sampled_from(provinces())
lanes = st.builds(
    lambda first_g, first_fen, step_g, step_fen, extra_g, days_min, days_extra: lane(
        GD, GD, None, first_g=first_g, first_fen=first_fen, step_g=step_g, step_fen=step_fen,
        max_g=None if extra_g is None else first_g + extra_g, days=(days_min, days_min + days_extra)),
    st.integers(1, 50_000), st.integers(0, 10_000_000), st.integers(1, 50_000), st.integers(0, 1_000_000),
    st.none() | st.integers(0, 100_000), st.integers(0, 30), st.integers(0, 30),
)
surcharge_lists = st.lists(
    st.builds(Surcharge, name=st.text("附加费燃油偏远超重ab", min_size=1, max_size=8).filter(lambda s: s != FREIGHT),
              kind=st.sampled_from(["fixed", "per_kg", "percent"]), amount=st.integers(0, 20_000),
              destination_provinces=st.frozensets(st.sampled_from([GD, XJ, XZ]), max_size=2),
              min_weight_g=st.none() | st.integers(1, 100_000)),
    max_size=5, unique_by=lambda s: s.name,
)


@given(lanes, surcharge_lists, st.integers(1, 200_000), st.integers(1, 200_000))
def test_a_heavier_parcel_never_costs_less(the_lane: Lane, surcharges: list[Surcharge], a: int, b: int) -> None:
    light, heavy = sorted((a, b))
    t = table(the_lane, surcharges=tuple(surcharges))
    assume(the_lane.max_weight_g is None or heavy <= the_lane.max_weight_g)
    q_light, q_heavy = price(t, GD, GD, None, light), price(t, GD, GD, None, heavy)
    assert q_light is not None and q_heavy is not None
    assert q_light.total_fen <= q_heavy.total_fen
    assert q_light.freight_fen <= q_heavy.freight_fen


@given(lanes, surcharge_lists, st.integers(1, 200_000))
def test_every_amount_is_whole_fen_and_the_total_is_their_sum(the_lane: Lane, surcharges: list[Surcharge],
                                                              grams: int) -> None:
    quote = price(table(the_lane, surcharges=tuple(surcharges)), GD, GD, None, grams)
    if quote is None:
        assert the_lane.max_weight_g is not None and grams > the_lane.max_weight_g
        return
    assert all(isinstance(c.fen, int) and c.fen >= 0 for c in quote.breakdown)
    assert quote.total_fen == sum(c.fen for c in quote.breakdown)
    assert quote.breakdown[0].name == FREIGHT
    # the freight against the rule worked in Decimal kilograms
    kg, first = Decimal(grams) / 1000, Decimal(the_lane.first_weight_g) / 1000
    steps = max(Decimal(0), (kg - first) / (Decimal(the_lane.step_g) / 1000)).to_integral_value(ROUND_CEILING)
    assert quote.freight_fen == the_lane.first_price_fen + int(steps) * the_lane.step_price_fen
    for s, charge in zip([s for s in surcharges if s.kind == "percent" and s.applies_to(GD, grams)],
                         [c for c in quote.breakdown if c.name in {s.name for s in surcharges if s.kind == "percent"}],
                         strict=True):
        exact = Decimal(quote.freight_fen) * s.amount / 10_000
        assert charge.fen == int(exact.to_integral_value(ROUND_HALF_UP))


@given(lanes, lanes, st.integers(1, 60_000), st.sampled_from(["深圳市", "深圳"]))
def test_a_city_lane_always_beats_its_province_lane(province_lane: Lane, city_lane: Lane, grams: int,
                                                    asked: str) -> None:
    city_lane = replace(city_lane, destination_city="深圳市")
    t = table(province_lane, city_lane)
    quote = price(t, GD, GD, asked, grams)
    expected = price(table(city_lane), GD, GD, "深圳市", grams)
    if expected is None:  # over the city lane's max weight: no price, not the province's
        assert quote is None
    else:
        assert quote is not None and quote.matched == "city" and quote.total_fen == expected.total_fen


@given(province_names, province_names)
def test_every_province_pair_is_served_by_a_lane_between_them(origin: str, destination: str) -> None:
    quote = price(table(lane(origin, destination)), origin, destination, None, 1000)
    assert quote is not None and (quote.lane.origin_province, quote.lane.destination_province) == (origin,
                                                                                                    destination)
