"""Running totals of the feed by the hour, kept in the same transaction as the records, so the officials'
figures do not read every record: the dashboard at 10 million records a day reads some thousands of rows.

`record_rollups` counts records per (carrier, hour, station, region), the hour being the UTC hour of
`taken_at` (收寄时间). A Beijing day is 24 whole UTC hours (UTC+8, no daylight saving), so any window whose
ends are whole hours — a day, a week, the dashboard's last 24 hours — is a sum of rows, and the counts are
the same, to the record, as counting the records themselves (a test compares both on both engines).

`delay_rollups` is a histogram of upload delays per (carrier, hour): each delay, in milliseconds rounded
up, falls in the bucket of its value rounded up to three significant digits (exact below one second; 1.01,
1.02 … 9.99 s; 10.1, 10.2 … 99.9 s; …), so a percentile read from it is an upper bound at most 1 % above
the exact one (`figures.delays`, which sorts the records, gives the exact one). 30,000 ms is a bucket edge,
so "p99 above 30 s" reads the same from the histogram as from the records.

Rows are added in the engine, INSERT … SELECT … GROUP BY … ON CONFLICT DO UPDATE (records = records + new)
over the records the batch has just stored, groups in key order, so two batches of one carrier at once
wait for each other's rows in the same order and never deadlock.
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import BigInteger, Connection, String, cast, extract, func, select
from sqlalchemy.orm import Session

from parcelguard.regulator.platform.models import DelayRollup, ReceivedRecord, RecordRollup, RegisteredCarrier

HOUR = timedelta(hours=1)
BEIJING_OFFSET = timedelta(hours=8)  # China Standard Time, UTC+8 all year (as `figures.BEIJING`)
PERCENTILES = (50, 90, 99)


def hour_of(moment: datetime) -> datetime:
    """The UTC hour a moment falls in."""
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def whole_hours(since: datetime, until: datetime) -> bool:
    """Whether a window `[since, until)` is whole UTC hours, so the rollups answer it exactly."""
    return all(m.astimezone(UTC) == hour_of(m) for m in (since, until))


def bucket_ms(delay_us: int) -> int:
    """The histogram bucket of a delay in microseconds: milliseconds rounded up, then rounded up to three
    significant digits (a negative delay, a carrier's clock ahead, is 0)."""
    ms = max(0, -(-delay_us // 1000))
    if ms < 1000:
        return ms
    step = 10 ** (len(str(ms)) - 3)
    return -(-ms // step) * step


# -- adding -----------------------------------------------------------------------------------------

def add_stored(db_session: Session, *, carrier_id: uuid.UUID, batch_id: uuid.UUID, received_at: datetime) -> None:
    """Count in the records this transaction has just stored from a batch: those of the carrier with this
    batch id and this receipt time (a record stored before, in this batch or another, keeps its first
    batch and time, so a batch sent again adds nothing). Two INSERT … SELECT … GROUP BY on the
    `(carrier_id, received_at)` index, in the engine: the rows never come back to Python."""
    _fill(db_session, (ReceivedRecord.carrier_id == carrier_id) & (ReceivedRecord.received_at == received_at)
          & (ReceivedRecord.batch_id == batch_id))


def rebuild(connection: Connection) -> None:
    """Fill the rollups afresh from every stored record (the migration that made them, and a benchmark that
    loads records with SQL): the same statements as `add_stored`, over all records."""
    connection.execute(RecordRollup.__table__.delete())
    connection.execute(DelayRollup.__table__.delete())
    _fill(connection, None)


def _fill(db_session: Session | Connection, where: Any) -> None:
    """INSERT … SELECT … GROUP BY … ON CONFLICT DO UPDATE (records = records + new), groups in key order
    (so two batches of one carrier at once take the rows' locks in the same order and never deadlock);
    the delay bucket computed in SQL exactly as `bucket_ms` computes it (a test holds them together)."""
    dialect = _dialect(db_session)
    postgres = dialect == "postgresql"
    taken = ReceivedRecord.taken_at
    hour = (func.timezone("UTC", func.date_trunc("hour", func.timezone("UTC", taken))) if postgres
            else func.strftime("%Y-%m-%d %H:00:00.000000", taken)).label("hour")
    counted = select(ReceivedRecord.carrier_id, hour, ReceivedRecord.station, ReceivedRecord.region,
                     func.count().label("records"))
    if where is not None:
        counted = counted.where(where)
    keys = (ReceivedRecord.carrier_id, hour, ReceivedRecord.station, ReceivedRecord.region)
    _upsert_from(db_session, RecordRollup, counted.group_by(*keys).order_by(*keys))
    # milliseconds rounded up (integer division; a negative delay is 0 whichever way it rounds)
    ms = (func.greatest if postgres else func.max)(0, (delay_microseconds(dialect) + 999) // 1000)
    rows = select(ReceivedRecord.carrier_id.label("carrier_id"), hour, ms.label("ms"))
    rows = (rows.where(where) if where is not None else rows).subquery()
    # the step, 10^(digits - 3) and at least 1, as the first characters of '1000…' (SQLite has no pow()
    # without its math extension)
    step = cast(func.substr("1" + "0" * 20, 1, (func.greatest if postgres else func.max)(
        1, func.length(cast(rows.c.ms, String)) - 2)), BigInteger)
    bucket = ((rows.c.ms + step - 1) // step * step).label("bucket_ms")
    buckets = select(rows.c.carrier_id, rows.c.hour, bucket).subquery()
    keys = (buckets.c.carrier_id, buckets.c.hour, buckets.c.bucket_ms)
    _upsert_from(db_session, DelayRollup, select(*keys, func.count()).group_by(*keys).order_by(*keys))


def _upsert_from(db_session: Session | Connection, model: Any, query: Any) -> None:
    table = model.__table__
    if _dialect(db_session) == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    columns = [c.name for c in table.columns]
    statement = insert(table).from_select(columns, query)
    db_session.execute(statement.on_conflict_do_update(
        index_elements=[c.name for c in table.primary_key],
        set_={"records": table.c.records + statement.excluded.records}))


def _dialect(db_session: Session | Connection) -> str:
    return (db_session.get_bind() if isinstance(db_session, Session) else db_session).dialect.name


def delay_microseconds(dialect: str) -> Any:
    """received_at - taken_at of a record in whole microseconds, exact on both engines."""
    if dialect == "postgresql":
        return cast(extract("epoch", ReceivedRecord.received_at - ReceivedRecord.taken_at) * 1_000_000, BigInteger)
    return _sqlite_microseconds(ReceivedRecord.received_at) - _sqlite_microseconds(ReceivedRecord.taken_at)


def _sqlite_microseconds(column: Any) -> Any:
    # SQLite keeps `YYYY-MM-DD HH:MM:SS.ffffff` (UTC). Its date functions round the fraction to milliseconds
    # (10.9999996 s would be 11 s), so: the whole seconds (characters 1-19) by strftime('%s'), plus the
    # fraction (characters 21-26) as an integer.
    return (cast(func.strftime("%s", func.substr(column, 1, 19)), BigInteger) * 1_000_000
            + cast(func.substr(column, 21, 6), BigInteger))


# -- reading ----------------------------------------------------------------------------------------

def _in(since: datetime, until: datetime, column: Any) -> Any:
    return (column >= hour_of(since)) & (column < hour_of(until))


def counts(*, db_session: Session, by: str, since: datetime, until: datetime) -> list[tuple[Any, ...]]:
    """(key, records) — (station, carrier code, records) by station — in key order, for a window of whole
    hours; as `figures.counts` answers from the records."""
    records = func.sum(RecordRollup.records)
    where = _in(since, until, RecordRollup.hour)
    if by == "carrier":
        query = (select(RegisteredCarrier.code, records).join(RegisteredCarrier, RegisteredCarrier.id ==
                                                              RecordRollup.carrier_id)
                 .where(where).group_by(RegisteredCarrier.code).order_by(RegisteredCarrier.code))
    elif by == "station":
        query = (select(RecordRollup.station, RegisteredCarrier.code, records)
                 .join(RegisteredCarrier, RegisteredCarrier.id == RecordRollup.carrier_id).where(where)
                 .group_by(RecordRollup.station, RegisteredCarrier.code)
                 .order_by(RecordRollup.station, RegisteredCarrier.code))
    elif by == "region":
        query = select(RecordRollup.region, records).where(where).group_by(RecordRollup.region) \
            .order_by(RecordRollup.region)
    else:  # by Beijing day: the engine sums each hour (a week is 168 rows), the days are added up here
        days: Counter[str] = Counter()
        for hour, n in db_session.execute(select(RecordRollup.hour, records).where(where)
                                          .group_by(RecordRollup.hour)):
            days[(hour + BEIJING_OFFSET).strftime("%Y-%m-%d")] += int(n)
        return sorted(days.items())
    return [tuple(row) for row in db_session.execute(query)]


@dataclass(frozen=True)
class Histogram:
    """Upload delays of `count` records as upper bounds in seconds (None when there are none)."""

    count: int
    p50: float | None
    p90: float | None
    p99: float | None
    max: float | None
    carrier: str | None = None


def delays(*, db_session: Session, since: datetime, until: datetime) -> tuple[list[Histogram], Histogram]:
    """Per carrier (in code order) and overall: the nearest-rank percentiles of the histogram, each the
    upper edge of its bucket, for a window of whole hours."""
    rows = db_session.execute(
        select(RegisteredCarrier.code, DelayRollup.bucket_ms, func.sum(DelayRollup.records))
        .join(RegisteredCarrier, RegisteredCarrier.id == DelayRollup.carrier_id)
        .where(_in(since, until, DelayRollup.hour))
        .group_by(RegisteredCarrier.code, DelayRollup.bucket_ms))
    per: dict[str, Counter[int]] = {}
    overall: Counter[int] = Counter()
    for code, bucket, n in rows:
        per.setdefault(code, Counter())[int(bucket)] += int(n)
        overall[int(bucket)] += int(n)
    return ([_percentiles(per[code], code) for code in sorted(per)], _percentiles(overall, None))


def _percentiles(histogram: Counter[int], carrier: str | None) -> Histogram:
    total = sum(histogram.values())
    if not total:
        return Histogram(0, None, None, None, None, carrier)
    ranks = {p: (total * p + 99) // 100 for p in PERCENTILES}  # ceil(p n / 100): the nearest rank
    found: dict[int, float] = {}
    seen = 0
    for bucket in sorted(histogram):
        seen += histogram[bucket]
        for p, rank in ranks.items():
            if p not in found and seen >= rank:
                found[p] = bucket / 1000
    return Histogram(total, found[50], found[90], found[99], max(histogram) / 1000, carrier)
