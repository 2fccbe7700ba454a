"""The figures officials see, over real HTTP on both engines: records counted by carrier, station, region
and Beijing day; upload delay percentiles as a hand computation gives them.

Each test takes its records in on days of its own in 2025, so the records other tests send (taken now)
fall outside its windows."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from parcelguard.core.errors import Invalid
from parcelguard.regulator import protocol
from parcelguard.regulator.platform import figures
from tests.regulator.conftest import PERSON, Carrier
from tests.regulator.officials import problem, send, signed_in

BEIJING = timezone(timedelta(hours=8))


def taken(carrier: Carrier, at: datetime, *, station: str = "ST-1", region: str = "110105") -> protocol.SealedRecord:
    return dataclasses.replace(carrier.record(PERSON), taken_at=at.astimezone(UTC), station=station, region=region)


def get(platform: str, headers: dict[str, str], path: str, **params: str) -> dict[str, Any]:
    answer = httpx.get(platform + path, params=params, headers=headers)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def test_records_are_counted_by_carrier_station_region_and_beijing_day(
    platform: str, platform_engine: Engine, carrier: Carrier, other_carrier: Carrier,
) -> None:
    a, b = carrier, other_carrier
    day = datetime(2025, 3, 10, tzinfo=BEIJING)
    send(platform, a, [
        taken(a, day + timedelta(hours=1)),  # 2025-03-09 17:00 UTC: a Beijing day is not the UTC day
        taken(a, day + timedelta(hours=23, minutes=59, seconds=59, microseconds=999999)),
        taken(a, day + timedelta(days=1, hours=23, minutes=30)),
        taken(a, day + timedelta(days=1, minutes=10), station="ST-2", region="310101"),  # 03-10 16:10 UTC
        taken(a, day - timedelta(microseconds=1)),  # 2025-03-09 in Beijing: before the window
        taken(a, day + timedelta(days=2)),  # the window's end is not in it
    ])
    send(platform, b, [taken(b, day + timedelta(hours=12)) for _ in range(3)])  # b's own station ST-1
    headers = signed_in(platform, platform_engine)

    def counts(by: str) -> list[dict[str, Any]]:
        body = get(platform, headers, "/api/v1/stats/counts", by=by, since="2025-03-10", until="2025-03-12")
        assert body["by"] == by
        assert body["since"] == "2025-03-09T16:00:00Z" and body["until"] == "2025-03-11T16:00:00Z"
        rows: list[dict[str, Any]] = body["rows"]
        return rows

    assert counts("carrier") == sorted([{"key": a.code, "records": 4}, {"key": b.code, "records": 3}],
                                       key=lambda r: r["key"])
    assert counts("station") == sorted([{"key": "ST-1", "carrier": a.code, "records": 3},
                                        {"key": "ST-1", "carrier": b.code, "records": 3},
                                        {"key": "ST-2", "carrier": a.code, "records": 1}],
                                       key=lambda r: (r["key"], r["carrier"]))
    assert counts("region") == [{"key": "110105", "records": 6}, {"key": "310101", "records": 1}]
    assert counts("day") == [{"key": "2025-03-10", "records": 5}, {"key": "2025-03-11", "records": 2}]

    # the same window written as UTC times with offsets
    body = get(platform, headers, "/api/v1/stats/counts", by="day", since="2025-03-09T16:00:00Z",
               until="2025-03-11T16:00:00+00:00")
    assert body["rows"] == [{"key": "2025-03-10", "records": 5}, {"key": "2025-03-11", "records": 2}]


def test_delay_percentiles_are_the_nearest_ranks_of_a_hand_computation(
    platform: str, platform_engine: Engine, carrier: Carrier, other_carrier: Carrier,
) -> None:
    a, b = carrier, other_carrier
    start = datetime(2025, 4, 10, 8, 0, tzinfo=BEIJING)
    # a: ten records in two batches, taken at odd microseconds; b: three records
    a_first = [taken(a, start + timedelta(seconds=37 * i, microseconds=1_234 * i)) for i in range(6)]
    a_second = [taken(a, start + timedelta(minutes=30, seconds=11 * i, microseconds=999_999 - i)) for i in range(4)]
    b_records = [taken(b, start + timedelta(hours=2, microseconds=7 * i)) for i in range(3)]
    delays: dict[str, list[timedelta]] = {a.code: [], b.code: []}
    for owner, records in ((a, a_first), (a, a_second), (b, b_records)):
        receipt = send(platform, owner, records)
        delays[owner.code] += [receipt.received_at - r.taken_at for r in records]
    headers = signed_in(platform, platform_engine)
    body = get(platform, headers, "/api/v1/stats/delay", since="2025-04-10", until="2025-04-11")

    def seconds(d: timedelta) -> float:
        return (d.days * 86_400 + d.seconds) + d.microseconds / 1_000_000

    # by hand: the p-th percentile of n sorted delays is the ceil(p n / 100)-th
    a_sorted, b_sorted = sorted(delays[a.code]), sorted(delays[b.code])
    both = sorted(a_sorted + b_sorted)
    expected_a = {"carrier": a.code, "count": 10, "p50": seconds(a_sorted[4]), "p90": seconds(a_sorted[8]),
                  "p99": seconds(a_sorted[9]), "max": seconds(a_sorted[9])}
    expected_b = {"carrier": b.code, "count": 3, "p50": seconds(b_sorted[1]), "p90": seconds(b_sorted[2]),
                  "p99": seconds(b_sorted[2]), "max": seconds(b_sorted[2])}
    assert body["unit"] == "seconds"
    assert body["carriers"] == sorted([expected_a, expected_b], key=lambda d: d["carrier"])
    assert body["overall"] == {"count": 13, "p50": seconds(both[6]), "p90": seconds(both[11]),
                               "p99": seconds(both[12]), "max": seconds(both[12])}
    assert seconds(a_sorted[4]) != seconds(a_sorted[5])  # the microseconds tell the ranks apart

    only_b = get(platform, headers, "/api/v1/stats/delay", since="2025-04-10", until="2025-04-11", carrier=b.code)
    assert only_b["carriers"] == [expected_b] and only_b["overall"] == {k: v for k, v in expected_b.items()
                                                                        if k != "carrier"}
    problem(httpx.get(platform + "/api/v1/stats/delay", params={"carrier": "no-such-carrier"}, headers=headers),
            404, "carrier_unknown")


def test_an_empty_window_has_no_rows_and_no_percentiles(platform: str, platform_engine: Engine) -> None:
    headers = signed_in(platform, platform_engine)
    assert get(platform, headers, "/api/v1/stats/counts", by="region", since="2001-01-01",
               until="2001-01-02")["rows"] == []
    body = get(platform, headers, "/api/v1/stats/delay", since="2001-01-01", until="2001-01-02")
    assert body["carriers"] == []
    assert body["overall"] == {"count": 0, "p50": None, "p90": None, "p99": None, "max": None}


@pytest.mark.parametrize(
    ("path", "params", "status", "code"),
    [
        ("/api/v1/stats/counts", {"by": "province"}, 422, "validation_failed"),
        ("/api/v1/stats/counts", {"by": "day", "since": "2025-03-02", "until": "2025-03-01"}, 422, "window_empty"),
        ("/api/v1/stats/counts", {"by": "day", "since": "2024-01-01", "until": "2025-03-01"}, 422, "window_too_long"),
        ("/api/v1/stats/delay", {"since": "2025-01-01", "until": "2025-03-01"}, 422, "window_too_long"),
        ("/api/v1/stats/delay", {"since": "2025-01-01T00:00:00"}, 422, "time_zone_required"),
        ("/api/v1/stats/delay", {"until": "yesterday"}, 422, "time_format"),
    ],
)
def test_a_window_that_makes_no_sense_is_422(
    platform: str, platform_engine: Engine, path: str, params: dict[str, str], status: int, code: str,
) -> None:
    problem(httpx.get(platform + path, params=params, headers=signed_in(platform, platform_engine)), status, code)


def test_a_window_defaults_to_the_last_day_and_a_date_is_a_beijing_midnight() -> None:
    win = figures.window(since=None, until=None, limit=figures.MAX_DELAY_WINDOW)
    assert win.until - win.since == timedelta(days=1)
    assert figures.moment("2025-03-10", "since") == datetime(2025, 3, 9, 16, tzinfo=UTC)
    # an unescaped `+` in a query string arrives as a space
    assert figures.moment("2025-03-10T08:00:00 08:00", "since") == datetime(2025, 3, 10, tzinfo=UTC)
    with pytest.raises(Invalid):
        figures.moment("2025-03-10T08:00:00", "since")
