"""UUIDv7 (RFC 9562 §5.7): the version and variant bits, ids ordered as their times, the floor of a millisecond
below every id of it and above every id of the one before, the time read back."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from parcelguard.core.ids import uuid7, uuid7_floor, uuid7_time

moments = st.datetimes(min_value=datetime(1970, 1, 1, 0, 0, 1), max_value=datetime(9999, 12, 31),
                       timezones=st.just(UTC))


@given(moments)
def test_an_id_carries_version_7_and_the_rfc_variant(moment: datetime) -> None:
    made = uuid7(moment)
    assert made.version == 7 and made.variant == uuid.RFC_4122
    assert uuid7_floor(moment).version == 7 and uuid7_floor(moment).variant == uuid.RFC_4122


@given(moments, moments)
def test_ids_sort_as_their_milliseconds(a: datetime, b: datetime) -> None:
    ms = timedelta(milliseconds=1)
    if b - a >= ms:
        assert uuid7(a) < uuid7(b)
        assert str(uuid7(a)) < str(uuid7(b))  # PostgreSQL compares the bytes: the text sorts the same


@given(moments)
def test_the_floor_of_a_millisecond_is_below_its_ids_and_above_the_ones_before(moment: datetime) -> None:
    made = uuid7(moment)
    assert uuid7_floor(moment) <= made < uuid7_floor(moment + timedelta(milliseconds=1))
    assert uuid7(moment - timedelta(milliseconds=1)) < uuid7_floor(moment)


@given(moments)
def test_the_time_comes_back_to_the_millisecond(moment: datetime) -> None:
    assert uuid7_time(uuid7(moment)) == moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def test_ids_of_one_moment_differ_and_a_naive_time_counts_as_utc() -> None:
    at = datetime(2026, 12, 7, 9, 30)
    assert len({uuid7(at) for _ in range(1000)}) == 1000
    assert uuid7_time(uuid7(at)) == at.replace(tzinfo=UTC)
    assert uuid7_floor(datetime(2026, 12, 1, tzinfo=UTC)) == uuid.UUID("01a22ee6-b000-7000-8000-000000000000")
