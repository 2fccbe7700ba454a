"""The carrier platform's monthly partitions on PostgreSQL (issue 17): `shipments` by its UUIDv7 id and
`audit_entries` by `logged_at` (`core.partitions`; migration 0023). The server makes them ahead at start and daily,
`parcelguard retention run` by hand; retention drops a month of shipments whole (`retention.deletion`). SQLite
keeps ordinary tables: a no-op there.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session

from parcelguard.audit.models import PARTITIONS as AUDIT_ENTRIES
from parcelguard.core import partitions
from parcelguard.shipments.models import PARTITIONS as SHIPMENTS

TABLES = (SHIPMENTS, AUDIT_ENTRIES)
include_name = partitions.include_name(TABLES)  # Alembic: the partitions are made at run time, not by a model


def ensure_partitions(bind: Engine | Session | Connection, months_ahead: int = 2, *,
                      at: datetime | None = None) -> list[str]:
    """This month's partitions and the `months_ahead` next ones' that are missing, of both tables; the names made."""
    return partitions.ensure_partitions(bind, TABLES, months_ahead, at=at)
