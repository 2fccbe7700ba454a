"""Monthly partitions of `received_records` on PostgreSQL (issue 17): one per UTC month of `taken_at`, the
record's own signed intake time, so a record sent again months later lands in the same partition and its
primary key (carrier, record id, taken_at) stores it once. A DEFAULT partition takes a record whose month has no
partition yet (a very late or far-future `taken_at`), so an ingest never fails for want of one.

`ensure_partitions` makes this month's and the next ones' ahead of time (the server at start and daily,
`parcelguard regulator retention run` by hand); retention drops a whole month's partition
(`retention`). SQLite keeps one ordinary table: every function here is a no-op there. The mechanism is
`core.partitions`; this module names the table.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session

from parcelguard.core import partitions as core
from parcelguard.core.partitions import month_start, period_of

RECORDS = core.Partitioned("received_records", "taken_at")
DEFAULT = RECORDS.default
include_name = core.include_name([RECORDS])


def name_of(period: str) -> str:
    """`received_records_y2026m12` for `2026-12`."""
    return RECORDS.name_of(period)


def is_partition(name: str | None) -> bool:
    """Whether a table's name is one of `received_records`' partitions (made at run time, not by a model)."""
    return RECORDS.is_partition(name)


def existing(connection: Connection) -> set[str]:
    """The names of `received_records`' partitions (the DEFAULT one included); none where it is not partitioned."""
    return core.existing(connection, RECORDS)


def ensure_partitions(bind: Engine | Session, months_ahead: int = 2, *, at: datetime | None = None) -> list[str]:
    """Create the partitions of this month and the `months_ahead` next ones that are missing; answers the names
    made (`core.partitions.ensure_partitions`). No-op on SQLite."""
    return core.ensure_partitions(bind, [RECORDS], months_ahead, at=at)


def create_month(connection: Connection, period: str, *, default_exists: bool = True) -> None:
    """Create `period`'s partition in the caller's transaction, taking over its rows from the DEFAULT partition."""
    core.create_month(connection, RECORDS, period, default_exists=default_exists)


def drop_month(connection: Connection, period: str) -> int | None:
    """Detach and drop `period`'s partition in the caller's transaction; answers how many rows it held, or
    None when the month has no partition (or the table is not partitioned)."""
    return core.drop_month(connection, RECORDS, period)


__all__ = ["DEFAULT", "create_month", "drop_month", "ensure_partitions", "existing", "include_name",
           "is_partition", "month_start", "name_of", "period_of"]
