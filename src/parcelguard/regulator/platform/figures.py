"""What the regulator's officials see of the feed: records counted by carrier, station, region or day,
and upload delay percentiles. Computed in SQL on both engines; no personal data is read. No HTTP.

Windows are half-open, `since <= taken_at < until`, on the time the carrier took the parcel in (收寄时间):
a record sent late is counted in its own day once it arrives. A day is a Beijing day (UTC+8, 00:00 to
24:00 China Standard Time, which has kept no daylight saving since 1991), as the rules and the carriers'
own reports count days.

Delay is `received_at - taken_at` (the rule: upload within 30 s of intake), in microseconds. A percentile
is the nearest rank: the p-th percentile of n delays is the ceil(p * n / 100)-th smallest (as PostgreSQL's
`percentile_disc`), computed with integers, so both engines give the same value to the microsecond. Each
engine sorts the window's delays itself (window functions `row_number()` and `count()`) and sends back
only the rows at those ranks. The bound is the window: at most `MAX_DELAY_WINDOW` (31 days), whose sort is
the cost; counts (a GROUP BY on the `taken_at` index) may span up to `MAX_COUNT_WINDOW` (366 days). A
window of whole hours (a Beijing day, a week of them) is counted from the hourly running totals of
`rollups` instead, which give the same counts without reading the records; the dashboard reads those, and
its delay percentiles from their histogram.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any

from sqlalchemy import func, literal_column, or_, select
from sqlalchemy.orm import Session

from parcelguard.core.clock import now
from parcelguard.core.errors import Invalid, NotFound
from parcelguard.regulator.platform import rollups
from parcelguard.regulator.platform.models import ReceivedRecord, RegisteredCarrier

BEIJING = timezone(timedelta(hours=8), "CST")  # China Standard Time: UTC+8 all year
DIMENSIONS = ("carrier", "station", "region", "day")
DEFAULT_WINDOW = timedelta(days=1)
MAX_COUNT_WINDOW = timedelta(days=366)
MAX_DELAY_WINDOW = timedelta(days=31)
PERCENTILES = (50, 90, 99)


@dataclass(frozen=True)
class Window:
    since: datetime
    until: datetime


def moment(text: str | None, name: str) -> datetime | None:
    """A window's end as a query gives it: a time with its offset (`2026-11-25T08:00:00+08:00`,
    `2026-11-25T00:00:00Z`), or a date, which is that day's start in Beijing (`2026-11-25`). A time with no
    offset is refused: it would mean a different moment to each reader."""
    if text is None:
        return None
    text = text.strip()
    if len(text) == 10:
        try:
            return datetime.combine(date.fromisoformat(text), time(), BEIJING)
        except ValueError:
            pass
    else:
        # an unescaped `+` in a query string arrives as a space
        candidate = text[:19] + text[19:].replace(" ", "+") if "T" in text else text
        try:
            parsed = datetime.fromisoformat(candidate)
        except ValueError:
            pass
        else:
            if parsed.tzinfo is None:
                raise Invalid("A time needs its offset: `Z` for UTC or `+08:00` for Beijing.",
                              code="time_zone_required", field=f"#query/{name}")
            return parsed
    raise Invalid("A date (YYYY-MM-DD, a Beijing day) or a time with an offset (ISO 8601).",
                  code="time_format", field=f"#query/{name}")


def window(*, since: datetime | None, until: datetime | None, limit: timedelta) -> Window:
    """`[since, until)` in UTC: until defaults to now, since to a day before until; at most `limit` long."""
    until = until or now()
    since = since or until - DEFAULT_WINDOW
    if since >= until:
        raise Invalid("`since` must come before `until`.", code="window_empty", field="#query/since")
    if until - since > limit:
        raise Invalid(f"A window of at most {limit.days} days: narrow `since` and `until`.",
                      code="window_too_long", field="#query/since")
    return Window(since.astimezone(UTC), until.astimezone(UTC))


def _in(win: Window) -> Any:
    return (ReceivedRecord.taken_at >= win.since) & (ReceivedRecord.taken_at < win.until)


# -- counts -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CountRow:
    key: str
    records: int
    carrier: str | None = None  # a station's carrier (station codes are each carrier's own)


def counts(*, db_session: Session, by: str, win: Window) -> list[CountRow]:
    """Records per carrier code, per (carrier, station), per region code or per Beijing day
    (`YYYY-MM-DD`), in the window; only keys with records, in key order."""
    if by not in DIMENSIONS:
        raise Invalid(f"Count by one of: {', '.join(DIMENSIONS)}.", code="dimension_unknown", field="#query/by")
    if rollups.whole_hours(win.since, win.until):  # a sum of the running totals, the same counts
        found = rollups.counts(db_session=db_session, by=by, since=win.since, until=win.until)
        if by == "station":
            return [CountRow(key=station, carrier=code, records=int(n)) for station, code, n in found]
        return [CountRow(key=str(key), records=int(n)) for key, n in found]
    records = func.count().label("records")
    if by == "carrier":
        query = (select(RegisteredCarrier.code, records).select_from(ReceivedRecord)
                 .join(RegisteredCarrier, RegisteredCarrier.id == ReceivedRecord.carrier_id)
                 .where(_in(win)).group_by(RegisteredCarrier.code).order_by(RegisteredCarrier.code))
        return [CountRow(key=code, records=n) for code, n in db_session.execute(query)]
    if by == "station":
        query = (select(ReceivedRecord.station, RegisteredCarrier.code, records)
                 .join(RegisteredCarrier, RegisteredCarrier.id == ReceivedRecord.carrier_id).where(_in(win))
                 .group_by(ReceivedRecord.station, RegisteredCarrier.code)
                 .order_by(ReceivedRecord.station, RegisteredCarrier.code))
        return [CountRow(key=station, carrier=code, records=n) for station, code, n in db_session.execute(query)]
    key = ReceivedRecord.region if by == "region" else _beijing_day(db_session).label("day")
    query = select(key, records).where(_in(win)).group_by(key).order_by(key)
    return [CountRow(key=str(value), records=n) for value, n in db_session.execute(query)]


def _beijing_day(db_session: Session) -> Any:
    """`taken_at` as its Beijing date, `YYYY-MM-DD`, in each engine's SQL (a fixed +8 h, not a zone name,
    so no time zone database is consulted)."""
    if db_session.get_bind().dialect.name == "postgresql":
        return literal_column("to_char(timezone('UTC', received_records.taken_at) + INTERVAL '8 hours', "
                              "'YYYY-MM-DD')")
    # SQLite keeps the UTC time as text, `YYYY-MM-DD HH:MM:SS.ffffff`, and its date functions round the
    # fraction to milliseconds (23:59:59.9996 would be the next day): give them whole seconds
    return func.date(func.substr(ReceivedRecord.taken_at, 1, 19), "+8 hours")


# -- upload delay -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Delays:
    """Upload delays of `count` records, in seconds (None when there are none)."""

    count: int
    p50: float | None
    p90: float | None
    p99: float | None
    max: float | None
    carrier: str | None = None  # None: every carrier together


def delays(*, db_session: Session, win: Window, carrier: str | None = None) -> tuple[list[Delays], Delays]:
    """Delay percentiles per carrier (in code order) and over all of them, in the window."""
    condition = _in(win)
    if carrier is not None:
        carrier_id = db_session.scalar(select(RegisteredCarrier.id).where(RegisteredCarrier.code == carrier))
        if carrier_id is None:
            raise NotFound("No carrier is registered with this code.", code="carrier_unknown",
                           field="#query/carrier")
        condition = condition & (ReceivedRecord.carrier_id == carrier_id)
    codes = {carrier_id: code for carrier_id, code in db_session.execute(
        select(RegisteredCarrier.id, RegisteredCarrier.code))}
    per_carrier = [Delays(carrier=codes[carrier_id], **figures)
                   for carrier_id, figures in _ranked(db_session, condition, by_carrier=True).items()]
    overall = _ranked(db_session, condition, by_carrier=False).get(None) or _EMPTY
    return sorted(per_carrier, key=lambda d: d.carrier or ""), Delays(**overall)


_EMPTY: dict[str, Any] = {"count": 0, "p50": None, "p90": None, "p99": None, "max": None}


def _ranked(db_session: Session, condition: Any, *, by_carrier: bool) -> dict[Any, dict[str, Any]]:
    """{carrier id (None overall): {count, p50, p90, p99, max}}: the engine ranks each group's delays and
    answers only the rows at the nearest ranks of the percentiles and the largest."""
    delay = _delay_microseconds(db_session)
    group = ReceivedRecord.carrier_id if by_carrier else None
    ranked = select(
        (ReceivedRecord.carrier_id if by_carrier else literal_column("NULL")).label("grp"),
        delay.label("delay"),
        func.row_number().over(partition_by=group, order_by=delay).label("rn"),
        func.count().over(partition_by=group).label("n"),
    ).where(condition).subquery()
    n = ranked.c.n
    ranks = {p: (n * p + 99) // 100 for p in PERCENTILES}  # ceil(p n / 100), exact in integers
    rows = db_session.execute(select(ranked.c.grp, ranked.c.n, ranked.c.rn, ranked.c.delay)
                              .where(or_(ranked.c.rn == n, *(ranked.c.rn == rank for rank in ranks.values()))))
    out: dict[Any, dict[str, Any]] = {}
    for grp, count, rn, microseconds in rows:
        figures = out.setdefault(grp, {"count": int(count)})
        seconds = int(microseconds) / 1_000_000
        for p in PERCENTILES:
            if rn == (count * p + 99) // 100:
                figures[f"p{p}"] = seconds
        if rn == count:
            figures["max"] = seconds
    return out


def _delay_microseconds(db_session: Session) -> Any:
    """received_at - taken_at in whole microseconds, exact on both engines."""
    return rollups.delay_microseconds(db_session.get_bind().dialect.name)
