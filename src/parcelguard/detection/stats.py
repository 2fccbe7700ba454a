"""Robust statistics for baselines: the median, the median absolute deviation (MAD) and a robust z-score.

Why not mean and standard deviation: the history we compare with may hold the very behaviour we look for (a
courier who read 2,000 parcels last Tuesday), and one such day drags a mean and blows up a standard deviation
so the next one passes unseen. The median and the MAD ignore up to half the sample being wild (breakdown point
50 %). `MAD_TO_SD` (1.4826 = 1 / Φ⁻¹(3/4)) makes the MAD estimate the standard deviation for normal data, so
a robust z of 5 reads as "5 standard deviations" (Iglewicz and Hoaglin, *How to Detect and Handle Outliers*,
1993, recommend the modified z-score in this form).

Counts of a quiet actor often have a MAD of 0 (every day 0 refusals): a floor keeps the scale from reaching 0,
so one more refusal is not an infinite z. `robust_z` takes that floor as an absolute value and as a share of the
median; both are documented per rule in docs/detection.md.

Hand-written (30 lines) rather than numpy/scipy: the samples are tens of values, and these are the only
statistics used.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

MAD_TO_SD = 1.4826


def median(values: Sequence[float]) -> float:
    """The middle value (the mean of the two middle ones for an even count). Raises on an empty sample."""
    if not values:
        raise ValueError("the median of nothing")
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return float(ordered[middle])
    return (ordered[middle - 1] + ordered[middle]) / 2


def mad(values: Sequence[float]) -> float:
    """The median absolute deviation from the median (unscaled)."""
    centre = median(values)
    return median([abs(v - centre) for v in values])


@dataclass(frozen=True)
class Baseline:
    """What a value is compared with: the sample's median, its scale (MAD x 1.4826, floored) and size."""

    median: float
    scale: float
    size: int

    def z(self, value: float) -> float:
        return (value - self.median) / self.scale


def baseline(values: Sequence[float], *, floor: float = 0.0, relative_floor: float = 0.0) -> Baseline:
    """The baseline of a sample; its scale is at least `floor` and at least `relative_floor` x |median|, and
    never 0 (then 1e-9: a sample of identical values makes any other value an infinite-looking outlier)."""
    centre = median(values)
    scale = max(MAD_TO_SD * mad(values), floor, relative_floor * abs(centre), 1e-9)
    return Baseline(median=centre, scale=scale, size=len(values))


def robust_z(value: float, values: Sequence[float], *, floor: float = 0.0, relative_floor: float = 0.0) -> float:
    """How many robust standard deviations `value` lies above the sample's median (negative: below)."""
    return baseline(values, floor=floor, relative_floor=relative_floor).z(value)
