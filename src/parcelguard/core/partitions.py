"""Monthly partitions of a table on PostgreSQL (issue 17): one per UTC month, made ahead of time, and a DEFAULT
partition that takes a row whose month has none (a late or far-future one), so a write never fails for want of
one. SQLite keeps ordinary tables: every function here is a no-op there.

A table is partitioned by RANGE either of a timestamp column (`kind="timestamp"`: the regulator's received records
by `taken_at`, the audit log by `logged_at`) or of a UUIDv7 id (`kind="uuid7"`: shipments, so the primary key stays
the id alone and the foreign keys to it stay as they were; a month holds the ids from `ids.uuid7_floor` of its
first instant to that of the next month's). Partitions are named `<table>_y2026m12` and `<table>_default`.

`ensure_partitions` makes this month's and the next ones' (the servers at start and daily, the retention commands
by hand); `drop_month` detaches and drops one (retention). Knows no domain: each domain describes its tables with
`Partitioned`.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from sqlalchemy import Connection, Engine, text
from sqlalchemy.orm import Session

from parcelguard.core.clock import now
from parcelguard.core.ids import uuid7_floor
from parcelguard.core.logging import get_logger

# Serialises partition changes between processes (two servers starting at once): a transaction-level advisory
# lock, so CREATE TABLE ... PARTITION OF never races itself in the catalogue.
LOCK_KEY = 0x7067_7061_7274  # "pgpart"
# PostgreSQL's own names (`<table>_<column>_fkey<n>`); ours come from the naming convention (`fk_...`)
_DERIVED_FK = re.compile(r"(?!fk_).+_fkey\d*")


@dataclass(frozen=True)
class Partitioned:
    """A table partitioned by month: by `column` (a timestamp), or by its UUIDv7 `column` (`kind="uuid7"`)."""

    table: str
    column: str
    kind: Literal["timestamp", "uuid7"] = "timestamp"
    # Whether rows may be moved out of the DEFAULT partition into a new month's: not for a table other tables'
    # foreign keys point at (deleting the row from the DEFAULT would break them; the month stays in the DEFAULT).
    movable: bool = True

    @property
    def default(self) -> str:
        return f"{self.table}_default"

    def name_of(self, period: str) -> str:
        """`<table>_y2026m12` for `2026-12`."""
        year, month = period.split("-")
        return f"{self.table}_y{year}m{month}"

    def is_partition(self, name: str | None) -> bool:
        return bool(name) and re.fullmatch(rf"{self.table}_(y\d{{4}}m\d{{2}}|default)", name or "") is not None

    def bound(self, moment: datetime) -> object:
        """The value of the partition key a month starting at `moment` begins at."""
        return uuid7_floor(moment) if self.kind == "uuid7" else moment

    def bounds(self, period: str) -> str:
        lo, hi = self.bound(month_start(period)), self.bound(month_start(period, 1))
        text_of = (lambda v: str(v)) if self.kind == "uuid7" else (lambda v: v.isoformat())  # type: ignore[attr-defined]
        return f"FOR VALUES FROM ('{text_of(lo)}') TO ('{text_of(hi)}')"

    def window(self, period: str) -> dict[str, object]:
        return {"lo": self.bound(month_start(period)), "hi": self.bound(month_start(period, 1))}


def period_of(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m")


def month_start(period: str, plus: int = 0) -> datetime:
    """The first instant (UTC) of `period` (`YYYY-MM`) moved by `plus` months."""
    year, month = (int(p) for p in period.split("-"))
    total = year * 12 + month - 1 + plus
    return datetime(total // 12, total % 12 + 1, 1, tzinfo=UTC)


def include_name(tables: Iterable[Partitioned]):  # type: ignore[no-untyped-def]
    """Alembic's `include_name` for an env: compare the models with everything but the partitions (made at run
    time) and their indexes."""
    described = tuple(tables)

    def include(name: str | None, type_: str, parent_names: dict[str, str | None]) -> bool:
        if type_ == "foreign_key_constraint" and _DERIVED_FK.fullmatch(name or ""):
            return False  # a foreign key to a partitioned table has a copy per partition, named by PostgreSQL
        subject = name if type_ == "table" else parent_names.get("table_name")
        return not any(t.is_partition(subject) for t in described)
    return include


def partitioned(connection: Connection, table: Partitioned) -> bool:
    """Whether the table is a partitioned one here (PostgreSQL after its migration)."""
    if connection.dialect.name != "postgresql":
        return False
    return bool(connection.scalar(text(
        "SELECT c.relkind = 'p' FROM pg_class c WHERE c.oid = to_regclass(:t)"), {"t": table.table}))


def existing(connection: Connection, table: Partitioned) -> set[str]:
    """The names of the table's partitions (the DEFAULT one included); none where it is not partitioned."""
    if not partitioned(connection, table):
        return set()
    return set(connection.scalars(text(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = to_regclass(:t)"), {"t": table.table}))


def ensure_partitions(bind: Engine | Session | Connection, tables: Iterable[Partitioned], months_ahead: int = 2, *,
                      at: datetime | None = None) -> list[str]:
    """Create the partitions of this month and the `months_ahead` next ones that are missing; answers the names
    made. Idempotent, and safe when several processes run it at once. A month whose rows already sit in the
    DEFAULT partition takes them over in the same transaction (PostgreSQL refuses to create a partition whose
    range has rows in the default), or, for a table that is not `movable`, is left to the DEFAULT. No-op on
    SQLite."""
    first = period_of(at or now())
    periods = [period_of(month_start(first, i)) for i in range(months_ahead + 1)]
    described = list(tables)
    if isinstance(bind, Session):
        return _ensure(bind.connection(), described, periods)
    if isinstance(bind, Connection):
        return _ensure(bind, described, periods)
    with bind.begin() as connection:
        return _ensure(connection, described, periods)


def _ensure(connection: Connection, tables: list[Partitioned], periods: list[str]) -> list[str]:
    made: list[str] = []
    for table in tables:
        if not partitioned(connection, table):
            continue
        connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": LOCK_KEY})
        have = existing(connection, table)
        for period in periods:
            if table.name_of(period) not in have and create_month(connection, table, period,
                                                                  default_exists=table.default in have):
                made.append(table.name_of(period))
    return made


def create_month(connection: Connection, table: Partitioned, period: str, *, default_exists: bool = True) -> bool:
    """Create `period`'s partition in the caller's transaction, taking over its rows from the DEFAULT partition if
    it holds any (created standalone, filled, then attached: ATTACH checks the default again). Answers whether it
    was made: not when the DEFAULT holds rows of the month and the table is not `movable`."""
    name, window = table.name_of(period), table.window(period)
    # the parent first, then the default, as a write takes them: no deadlock with one; and no write may put a
    # row of this month in the default between the move and the attach
    connection.execute(text(f"LOCK TABLE ONLY {table.table} IN ACCESS EXCLUSIVE MODE"))
    if default_exists:
        connection.execute(text(f"LOCK TABLE {table.default} IN SHARE ROW EXCLUSIVE MODE"))
        in_range = f"{table.column} >= :lo AND {table.column} < :hi"
        stray = connection.scalar(text(f"SELECT count(*) FROM {table.default} WHERE {in_range}"), window)
        if stray and not table.movable:
            return False
        if stray:
            connection.execute(text(f"CREATE TABLE {name} (LIKE {table.table} INCLUDING DEFAULTS)"))
            connection.execute(text(
                f"WITH moved AS (DELETE FROM {table.default} WHERE {in_range} RETURNING *) "
                f"INSERT INTO {name} SELECT * FROM moved"), window)
            connection.execute(text(f"ALTER TABLE {table.table} ATTACH PARTITION {name} {table.bounds(period)}"))
            return True
    connection.execute(text(f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF {table.table} {table.bounds(period)}"))
    return True


def drop_month(connection: Connection, table: Partitioned, period: str) -> int | None:
    """Detach and drop `period`'s partition in the caller's transaction (DETACH, not CONCURRENTLY, and DROP are
    transactional: a crash leaves the month whole); answers how many rows it held, or None when the month has no
    partition (or the table is not partitioned)."""
    name = table.name_of(period)
    if name not in existing(connection, table):
        return None
    connection.execute(text(f"LOCK TABLE ONLY {table.table} IN ACCESS EXCLUSIVE MODE"))  # the parent first
    rows = connection.scalar(text(f"SELECT count(*) FROM {name}")) or 0
    connection.execute(text(f"ALTER TABLE {table.table} DETACH PARTITION {name}"))
    connection.execute(text(f"DROP TABLE {name}"))
    return int(rows)


DAILY_SECONDS = 24 * 3600


async def keep_ahead(ensure: Callable[[], object], *, logger: str, interval: float = DAILY_SECONDS) -> None:
    """A server's loop: run `ensure` (an app's `ensure_partitions`) on a worker thread at start and then every
    `interval` seconds, until cancelled. A failure (a database not there yet, or not migrated) is logged and tried
    again next time: requests never wait for it, and the DEFAULT partition takes what has no month yet."""
    while True:
        try:
            await asyncio.to_thread(ensure)
        except Exception:  # noqa: BLE001  (try again at the next round, never stop the server)
            get_logger(logger).exception("partitions ahead failed")
        await asyncio.sleep(interval)
