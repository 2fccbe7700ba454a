"""The robust statistics detection judges by: properties of the median, the MAD and the robust z (hypothesis),
and known answers."""

from __future__ import annotations

import math

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from parcelguard.detection import stats

values = st.lists(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False), min_size=1, max_size=60)
counts = st.lists(st.integers(min_value=0, max_value=10_000), min_size=1, max_size=60)
scales = st.floats(min_value=1e-3, max_value=1e3)
shifts = st.floats(min_value=-1e5, max_value=1e5)


def close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-6)


def test_known_answers() -> None:
    assert stats.median([3, 1, 2]) == 2
    assert stats.median([4, 1, 3, 2]) == 2.5
    assert stats.mad([1, 1, 2, 2, 4, 6, 9]) == 1  # the textbook example: median 2, deviations 1 1 0 0 2 4 7
    assert stats.robust_z(9, [1, 1, 2, 2, 4, 6, 9]) == pytest.approx(7 / 1.4826)
    with pytest.raises(ValueError):
        stats.median([])


@given(values, st.randoms())
def test_the_median_ignores_order(sample: list[float], rnd: object) -> None:
    shuffled = sample[:]
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    assert stats.median(shuffled) == stats.median(sample)


@given(values)
def test_the_median_lies_between_the_extremes_with_half_on_each_side(sample: list[float]) -> None:
    m = stats.median(sample)
    assert min(sample) <= m <= max(sample)
    assert sum(v <= m for v in sample) >= len(sample) / 2
    assert sum(v >= m for v in sample) >= len(sample) / 2


@given(values, scales, shifts)
def test_the_median_moves_with_the_data_and_the_mad_only_scales(sample: list[float], a: float, b: float) -> None:
    moved = [a * v + b for v in sample]
    assert close(stats.median(moved), a * stats.median(sample) + b)
    assert close(stats.mad(moved), a * stats.mad(sample))
    assert stats.mad(sample) >= 0


@given(values, scales, shifts, st.floats(min_value=-1e6, max_value=1e6))
def test_a_robust_z_does_not_change_with_units_or_origin(sample: list[float], a: float, b: float, x: float) -> None:
    assume(stats.mad(sample) * a > 1e-3)  # a scale this small hits the 1e-9 guard, not the statistic
    z = stats.robust_z(x, sample)
    assert math.isclose(stats.robust_z(a * x + b, [a * v + b for v in sample]), z, rel_tol=1e-6, abs_tol=1e-6)


@given(counts, st.floats(min_value=0, max_value=0.49), st.integers(min_value=10**6, max_value=10**9))
def test_fewer_than_half_wild_values_cannot_move_the_median_out_of_the_ordinary_range(
    sample: list[int], share: float, size: int
) -> None:
    """The breakdown point: replace fewer than half the values by anything and the median stays between the
    smallest and the largest of the values left."""
    n = len(sample)
    wild = int(share * n)
    kept = sorted(sample)[: n - wild]
    spoiled = kept + [size] * wild
    assert min(kept) <= stats.median(spoiled) <= max(kept)


@given(counts, st.floats(min_value=0, max_value=100), st.floats(min_value=0, max_value=1))
def test_the_scale_is_never_below_its_floors_and_never_zero(sample: list[int], floor: float, relative: float) -> None:
    base = stats.baseline(sample, floor=floor, relative_floor=relative)
    assert base.scale >= floor and base.scale >= relative * abs(base.median) and base.scale > 0
    assert base.size == len(sample)


@given(counts, st.integers(min_value=0, max_value=10_000), st.integers(min_value=0, max_value=10_000))
def test_more_is_never_less_unusual(sample: list[int], x: int, y: int) -> None:
    """The z-score is monotonic in the value: a courier who reads more is never judged less far out."""
    lo, hi = sorted((x, y))
    assert stats.robust_z(lo, sample, floor=1) <= stats.robust_z(hi, sample, floor=1)


@given(st.lists(st.integers(min_value=20, max_value=60), min_size=10, max_size=40))
def test_one_extreme_day_in_the_history_does_not_hide_the_next(history: list[int]) -> None:
    """The reason for robust statistics: a mean and standard deviation would let last week's 2,000 reveals hide
    today's 1,000; the median and MAD do not."""
    spoiled = [*history, 2000]
    assert stats.robust_z(1000, spoiled, floor=1, relative_floor=0.1) > 5
    mean = sum(spoiled) / len(spoiled)
    sd = math.sqrt(sum((v - mean) ** 2 for v in spoiled) / len(spoiled))
    assert (1000 - mean) / sd < 5
