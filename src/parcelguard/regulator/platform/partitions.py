"""Monthly partitions of `received_records` on PostgreSQL (issue 17): one per UTC month of `taken_at`, the
record's own signed intake time, so a record sent again months later lands in the same partition and its
primary key (carrier, record id, taken_at) stores it once. A DEFAULT partition takes a record whose month has no
partition yet (a very late or far-future `taken_at`), so an ingest never fails for want of one.

`ensure_partitions` makes this month's and the next ones' ahead of time (the server at start and daily,
`parcelguard regulator retention run` by hand); retention drops a whole month's partition
(`retention`). SQLite keeps one ordinary table: every function here is a no-op there.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, text
from sqlalchemy.orm import Session

from parcelguard.core.clock import now

TABLE = "received_records"
DEFAULT = f"{TABLE}_default"
# Serialises partition changes between processes (two servers starting at once): a transaction-level
# advisory lock, so CREATE TABLE ... PARTITION OF never races itself in the catalogue.
_LOCK_KEY = 0x7067_7061_7274  # "pgpart"
_PARTITION = re.compile(rf"{TABLE}_(y\d{{4}}m\d{{2}}|default)")


def period_of(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m")


def month_start(period: str, plus: int = 0) -> datetime:
    """The first instant (UTC) of `period` (`YYYY-MM`) moved by `plus` months."""
    year, month = (int(p) for p in period.split("-"))
    total = year * 12 + month - 1 + plus
    return datetime(total // 12, total % 12 + 1, 1, tzinfo=UTC)


def name_of(period: str) -> str:
    """`received_records_y2026m12` for `2026-12`."""
    year, month = period.split("-")
    return f"{TABLE}_y{year}m{month}"


def is_partition(name: str | None) -> bool:
    """Whether a table's name is one of `received_records`' partitions (made at run time, not by a model)."""
    return bool(name) and _PARTITION.fullmatch(name or "") is not None


def include_name(name: str | None, type_: str, parent_names: dict[str, str | None]) -> bool:
    """Alembic's `include_name`: compare the models with everything but the partitions and their indexes."""
    if type_ == "table":
        return not is_partition(name)
    return not is_partition(parent_names.get("table_name"))


def _bounds(period: str) -> str:
    return (f"FOR VALUES FROM ('{month_start(period).isoformat()}') "
            f"TO ('{month_start(period, 1).isoformat()}')")


def partitioned(connection: Connection) -> bool:
    """Whether `received_records` is a partitioned table here (PostgreSQL after platform_0008)."""
    if connection.dialect.name != "postgresql":
        return False
    return bool(connection.scalar(text(
        "SELECT c.relkind = 'p' FROM pg_class c WHERE c.oid = to_regclass(:t)"), {"t": TABLE}))


def existing(connection: Connection) -> set[str]:
    """The names of `received_records`' partitions (the DEFAULT one included); none where it is not partitioned."""
    if not partitioned(connection):
        return set()
    return set(connection.scalars(text(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = to_regclass(:t)"), {"t": TABLE}))


def ensure_partitions(bind: Engine | Session, months_ahead: int = 2, *, at: datetime | None = None) -> list[str]:
    """Create the partitions of this month and the `months_ahead` next ones that are missing; answers the names
    made. Idempotent, and safe when several processes run it at once. Rows of such a month already in the
    DEFAULT partition are moved into the new one in the same transaction (PostgreSQL refuses to create a
    partition whose range has rows in the default). No-op on SQLite."""
    first = period_of(at or now())
    periods = [period_of(month_start(first, i)) for i in range(months_ahead + 1)]
    if isinstance(bind, Session):
        return _ensure(bind.connection(), periods)
    with bind.begin() as connection:
        return _ensure(connection, periods)


def _ensure(connection: Connection, periods: list[str]) -> list[str]:
    if not partitioned(connection):
        return []
    connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
    have = existing(connection)
    made = []
    for period in periods:
        if name_of(period) not in have:
            create_month(connection, period, default_exists=DEFAULT in have)
            made.append(name_of(period))
    return made


def create_month(connection: Connection, period: str, *, default_exists: bool = True) -> None:
    """Create `period`'s partition in the caller's transaction, taking over its rows from the DEFAULT
    partition if it holds any (created standalone, filled, then attached: ATTACH checks the default again)."""
    name, lo, hi = name_of(period), month_start(period), month_start(period, 1)
    window = {"lo": lo, "hi": hi}
    # the parent first, then the default, as an ingest takes them: no deadlock with one; and no ingest may put a
    # row of this month in the default between the move and the attach
    connection.execute(text(f"LOCK TABLE ONLY {TABLE} IN ACCESS EXCLUSIVE MODE"))
    if default_exists:
        connection.execute(text(f"LOCK TABLE {DEFAULT} IN SHARE ROW EXCLUSIVE MODE"))
        stray = connection.scalar(text(
            f"SELECT count(*) FROM {DEFAULT} WHERE taken_at >= :lo AND taken_at < :hi"), window)
        if stray:
            connection.execute(text(f"CREATE TABLE {name} (LIKE {TABLE} INCLUDING DEFAULTS)"))
            connection.execute(text(
                f"WITH moved AS (DELETE FROM {DEFAULT} WHERE taken_at >= :lo AND taken_at < :hi RETURNING *) "
                f"INSERT INTO {name} SELECT * FROM moved"), window)
            connection.execute(text(f"ALTER TABLE {TABLE} ATTACH PARTITION {name} {_bounds(period)}"))
            return
    connection.execute(text(f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF {TABLE} {_bounds(period)}"))


def drop_month(connection: Connection, period: str) -> int | None:
    """Detach and drop `period`'s partition in the caller's transaction; answers how many rows it held, or
    None when the month has no partition (or the table is not partitioned)."""
    name = name_of(period)
    if name not in existing(connection):
        return None
    connection.execute(text(f"LOCK TABLE ONLY {TABLE} IN ACCESS EXCLUSIVE MODE"))  # the parent first, as ingests
    rows = connection.scalar(text(f"SELECT count(*) FROM {name}")) or 0
    connection.execute(text(f"ALTER TABLE {TABLE} DETACH PARTITION {name}"))
    connection.execute(text(f"DROP TABLE {name}"))
    return int(rows)
