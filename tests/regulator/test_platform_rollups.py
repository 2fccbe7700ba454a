"""The running totals the officials' figures read (`rollups`), on both engines: kept at ingest, they are
what the records themselves give: the same counts, and a delay histogram whose percentiles are upper
bounds within 1 % of the exact ones; a batch sent twice is counted once; the SQL that fills them from
stored records (the migration's, the benchmark's) buckets every delay as the ingest does."""

from __future__ import annotations

import dataclasses
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from parcelguard.regulator.platform import figures, rollups
from parcelguard.regulator.platform.models import DelayRollup, ReceivedRecord, RecordRollup
from tests.regulator.conftest import PERSON, Carrier
from tests.regulator.officials import send


@given(st.integers(min_value=-10**9, max_value=10**13))
def test_a_delay_falls_in_a_bucket_at_most_one_percent_above_it(delay_us: int) -> None:
    bucket = rollups.bucket_ms(delay_us)
    ms = max(0, -(-delay_us // 1000))
    assert ms <= bucket
    assert bucket * 100 <= ms * 101 or bucket < 1000 and bucket == ms
    assert len(str(bucket).rstrip("0")) <= 3 or bucket < 1000  # three significant digits
    # the 30-second rule reads the same from the bucket as from the delay itself
    assert (bucket > 30_000) == (delay_us > 30_000_000)


@given(st.integers(min_value=0, max_value=10**12), st.integers(min_value=0, max_value=10**12))
def test_buckets_keep_the_order_of_delays(a: int, b: int) -> None:
    low, high = sorted((a, b))
    assert rollups.bucket_ms(low) <= rollups.bucket_ms(high)


def test_whole_hours_are_told_from_other_windows() -> None:
    hour = datetime(2026, 3, 1, 9, tzinfo=UTC)
    assert rollups.whole_hours(hour, hour + timedelta(hours=5))
    assert rollups.whole_hours(hour.astimezone(figures.BEIJING), hour + timedelta(days=1))
    assert not rollups.whole_hours(hour + timedelta(microseconds=1), hour + timedelta(hours=1))


def _tables(connection: Any) -> tuple[list[Any], list[Any]]:
    records = sorted(tuple(r) for r in connection.execute(select(RecordRollup.__table__)))
    delays = sorted(tuple(r) for r in connection.execute(select(DelayRollup.__table__)))
    return records, delays


def test_ingest_keeps_the_totals_the_records_give(
    platform: str, platform_engine: Engine, carrier: Carrier, other_carrier: Carrier,
) -> None:
    now = datetime.now(UTC)
    # delays across the buckets' shapes: under a second, around one, around the 30 s rule, minutes, a
    # carrier's clock ahead of ours (a negative delay); stations and regions of two carriers
    offsets = [timedelta(milliseconds=m) for m in (0.4, 999.4, 1_000.6, 29_950, 30_050, 95_000, 3_600_000)]
    offsets.append(-timedelta(seconds=5))
    ours = [dataclasses.replace(carrier.record(PERSON), taken_at=now - d, station=f"ST-{i % 3}",
                                region=("110105", "310101")[i % 2]) for i, d in enumerate(offsets)]
    theirs = [dataclasses.replace(other_carrier.record(PERSON), taken_at=now - timedelta(hours=h, seconds=3))
              for h in (0, 1, 2)]
    batch = carrier.batch(ours)
    for _ in range(2):  # the same batch again: stored once, counted once
        answer = httpx.post(platform + "/api/v1/batches", json=batch, timeout=60)
        assert answer.status_code == 200, answer.text
    send(platform, other_carrier, theirs)

    with platform_engine.connect() as connection:
        # the engine's buckets are `bucket_ms`'s, delay by delay
        stored = connection.execute(select(ReceivedRecord.taken_at, ReceivedRecord.received_at)
                                    .where(ReceivedRecord.carrier_id == carrier.id)).all()
        assert len(stored) == len(ours)
        expected: Counter[tuple[datetime, int]] = Counter()
        for taken_at, received_at in stored:
            d = received_at - taken_at
            expected[(rollups.hour_of(taken_at),
                      rollups.bucket_ms((d.days * 86_400 + d.seconds) * 1_000_000 + d.microseconds))] += 1
        histogram = connection.execute(select(DelayRollup.hour, DelayRollup.bucket_ms, DelayRollup.records)
                                       .where(DelayRollup.carrier_id == carrier.id)).all()
        assert {(hour, bucket): n for hour, bucket, n in histogram} == dict(expected)
        assert len({bucket for _, bucket in expected}) >= 6  # the delays fell in buckets of their own
        kept = _tables(connection)
        try:
            rollups.rebuild(connection)  # from the stored records, in SQL
            assert _tables(connection) == kept
        finally:
            connection.rollback()

    # counts of a window of whole hours, from the totals, are those of the records themselves
    since = rollups.hour_of(now) - timedelta(hours=4)
    until = rollups.hour_of(now) + timedelta(hours=2)
    with Session(platform_engine) as session:
        win = figures.Window(since, until)
        assert rollups.whole_hours(win.since, win.until)
        for by in figures.DIMENSIONS:
            from_totals = figures.counts(db_session=session, by=by, win=win)
            # the same window less a microsecond at the start is no longer whole hours: counted from records
            exact = figures.counts(db_session=session, by=by, win=figures.Window(since - timedelta(microseconds=1),
                                                                                 until))
            assert from_totals == exact, by
        assert any(r.key == carrier.code and r.records == len(ours)
                   for r in figures.counts(db_session=session, by="carrier", win=win))
        # every percentile of the histogram is an upper bound within 1 % (and a millisecond) of the exact
        bounds, overall = rollups.delays(db_session=session, since=since, until=until)
        exact_per, exact_overall = figures.delays(db_session=session, win=win)
        assert [b.carrier for b in bounds] == [e.carrier for e in exact_per]
        for bound, exact_one in [*zip(bounds, exact_per, strict=True), (overall, exact_overall)]:
            assert bound.count == exact_one.count
            for p in ("p50", "p90", "p99", "max"):
                upper, value = getattr(bound, p), max(0.0, getattr(exact_one, p))
                assert value <= upper <= value * 1.01 + 0.001, (bound.carrier, p, upper, value)
