"""Row deletion (issue 15): the data classes whose rows go at the end of their retention, not their keys
(`mechanism="delete"`, and the rows left behind by a shredded class whose values are already unreadable). Knows
nothing of HTTP.

Everything here hangs on an anchor: a parcel (`shipments`, by the month it was taken in), a sender's registration
(`realname_registrations`, by the month it was made) or a call no parcel was found for (`call_records`, by the month
it was received). A class's month `YYYY-MM` goes when its retention is over (`service.expiry`); the rows of that
month are deleted in one transaction, children before parents, with a signed destruction record counting the rows
of each table (`records`, mechanism `delete`), so a crash leaves a month whole or gone.

The parcel's own row (`waybill_record`) goes last: when every class that lives in it or hangs on it is over (the
longest of their retentions), and then with whatever still hangs on it. A class that hangs on a parcel and is kept
shorter (calls, inspection photos) goes by its own months before. Parcels under a legal hold in force, and decoys
(`honeytokens`), are never deleted; a parcel whose hold is released goes at the next run if its month is past.

On PostgreSQL `shipments` is partitioned by month (issue 17, `core.partitions`): when a month's partition holds no
row but the parcels being deleted (no held parcel, no decoy, no other carrier's, none taken in another month), it is
detached and dropped instead of deleted row by row, after the rows hanging on its parcels are gone (DETACH checks the
foreign keys); whatever of the month lies outside it (rows with ids made before 0023) is deleted. Same count, same
transaction.

This module names other domains' tables on purpose (docs/layout.md): deleting a parcel reaches every table that
points at it, and the foreign keys would refuse any other order. A test checks that every foreign key to a table
deleted here is covered by a step.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import ColumnElement, Select, Table, and_, column, delete, exists, func, select, table
from sqlalchemy.orm import Session

import parcelguard.tables  # noqa: F401  (every table this module names is in Base.metadata)
from parcelguard.core import partitions
from parcelguard.core.db import Base
from parcelguard.retention import classes
from parcelguard.shipments.models import PARTITIONS as SHIPMENTS


def _t(name: str) -> Table:
    return Base.metadata.tables[name]


@dataclass(frozen=True)
class Step:
    """Delete the rows of `table` whose `column` is among the anchor's ids, or among the ids `through` selects from
    them (a grandchild: call records of a parcel's number bindings); `where` narrows it."""

    table: str
    column: str
    through: tuple[str, str, str] | None = None  # (table, its id column, its column holding the anchor's id)
    where: Callable[[Table], ColumnElement[bool]] | None = None

    def statement(self, ids: Select[tuple[uuid.UUID]]) -> ColumnElement[bool]:
        table = _t(self.table)
        if self.through is None:
            condition = table.c[self.column].in_(ids)
        else:
            middle, key, anchor = self.through
            condition = table.c[self.column].in_(select(_t(middle).c[key]).where(_t(middle).c[anchor].in_(ids)))
        return and_(condition, self.where(table)) if self.where is not None else condition


@dataclass(frozen=True)
class Anchor:
    """Rows a month is counted by: `table.time` in the month, of the carrier, not kept (`keep`)."""

    table: str
    time: str
    keep: Callable[[Table, uuid.UUID], ColumnElement[bool]] | None = None

    def ids(self, carrier_id: uuid.UUID, start: datetime | None, end: datetime) -> Select[tuple[uuid.UUID]]:
        table = _t(self.table)
        query = select(table.c.id).where(table.c.carrier_id == carrier_id, table.c[self.time] < end)
        if start is not None:
            query = query.where(table.c[self.time] >= start)
        return query.where(~self.keep(table, carrier_id)) if self.keep is not None else query

    def oldest(self, db_session: Session, carrier_id: uuid.UUID, end: datetime) -> datetime | None:
        table = _t(self.table)
        query = select(func.min(table.c[self.time])).where(table.c.carrier_id == carrier_id, table.c[self.time] < end)
        if self.keep is not None:
            query = query.where(~self.keep(table, carrier_id))
        found: datetime | None = db_session.scalar(query)
        return found.replace(tzinfo=UTC) if found is not None and found.tzinfo is None else found


def _kept_parcel(table: Table, carrier_id: uuid.UUID) -> ColumnElement[bool]:
    """A parcel under a legal hold in force, or a decoy."""
    holds, decoys = _t("legal_holds"), _t("honeytokens")
    return table.c.id.in_(select(holds.c.shipment_id).where(holds.c.carrier_id == carrier_id,
                                                            holds.c.released_at.is_(None))) | \
        table.c.id.in_(select(decoys.c.shipment_id).where(decoys.c.carrier_id == carrier_id))


def _matched(table: Table, carrier_id: uuid.UUID) -> ColumnElement[bool]:
    return table.c.shipment_id.is_not(None)


PARCEL = Anchor("shipments", "created_at", keep=_kept_parcel)
REGISTRATION = Anchor("realname_registrations", "created_at")
UNMATCHED_CALL = Anchor("call_records", "received_at", keep=_matched)

_CALLS = (Step("call_records", "shipment_id"),
          Step("call_records", "binding_id", through=("number_bindings", "id", "shipment_id")))
_REALNAME = (Step("regulator_outbox", "record_id", through=("realname_records", "id", "shipment_id")),
             Step("realname_records", "shipment_id"))

# Each class whose rows go: its anchor(s) and the steps, children first. `waybill_record` takes the parcel with
# everything still hanging on it.
STEPS: dict[str, tuple[tuple[Anchor, tuple[Step, ...]], ...]] = {
    classes.SCAN_EVENT.name: ((PARCEL, (Step("scan_events", "shipment_id"),)),),
    classes.CALL_RECORD.name: (
        (PARCEL, (*_CALLS, Step("number_bindings", "shipment_id", where=lambda t: t.c.released_at.is_not(None)))),
        (UNMATCHED_CALL, (Step("call_records", "id"),)),
    ),
    classes.INSPECTION_PHOTO.name: ((PARCEL, (Step("inspection_photos", "shipment_id"),)),),
    classes.REALNAME_RECORD.name: ((PARCEL, _REALNAME),),
    classes.REALNAME_REGISTRATION.name: ((REGISTRATION, (Step("realname_codes", "registration_id"),
                                                         Step("realname_registrations", "id"))),),
    classes.WAYBILL_RECORD.name: ((PARCEL, (
        Step("scan_events", "shipment_id"), *_CALLS, Step("number_bindings", "shipment_id"),
        Step("inspection_photos", "shipment_id"), *_REALNAME, Step("shipment_items", "shipment_id"),
        Step("shipment_assignments", "shipment_id"), Step("webhook_deliveries", "shipment_id"),
        Step("legal_holds", "shipment_id"),  # released ones only: a parcel held in force is not an anchor's id
        Step("shipment_references", "shipment_id"),
        Step("shipments", "id"),
    )),),
}

# The classes whose data lives in a parcel's row or hangs on it: the row goes when all of them are over.
ON_THE_PARCEL: tuple[str, ...] = tuple(sorted({
    *(c.name for c in classes.CLASSES.values()
      if any(place.split(".")[0] in {"shipments", "shipment_items"} for place in c.covers)
      and c is not classes.LEGAL_HOLD),
    *(name for name, groups in STEPS.items() if any(anchor is PARCEL for anchor, _ in groups)),
}))


def months_kept(data_class: str, months: dict[str, int]) -> int:
    """How long a class's rows are kept: its own retention, and for the parcel's row the longest of what is on it."""
    if data_class == classes.WAYBILL_RECORD.name:
        return max(months[name] for name in ON_THE_PARCEL)
    return months[data_class]


def month_start(moment: datetime) -> datetime:
    return datetime(moment.year, moment.month, 1, tzinfo=UTC)


def add_months(start: datetime, n: int) -> datetime:
    total = start.year * 12 + start.month - 1 + n
    return datetime(total // 12, total % 12 + 1, 1, tzinfo=UTC)


def cutoff(at: datetime, months: int) -> datetime:
    """Rows anchored before this moment are past a retention of `months` at `at` (a month `P` goes at the start of
    `P + months + 1`, so everything before the start of `month(at) - months` is due)."""
    return add_months(month_start(at), -months)


def oldest(db_session: Session, carrier_id: uuid.UUID, data_class: str, end: datetime) -> datetime | None:
    """The first moment of the oldest month of the class with rows still to delete before `end`."""
    found = [t for anchor, _ in STEPS[data_class] if (t := anchor.oldest(db_session, carrier_id, end)) is not None]
    return month_start(min(found)) if found else None


def delete_month(db_session: Session, carrier_id: uuid.UUID, data_class: str, start: datetime) -> dict[str, int]:
    """Delete the class's rows anchored in the month beginning `start`, in the caller's transaction; answers the
    rows deleted per table (tables with none left out)."""
    end = add_months(start, 1)
    counted: dict[str, int] = {}
    for anchor, steps in STEPS[data_class]:
        ids = anchor.ids(carrier_id, start, end)
        for step in steps:
            dropped = _drop_partition(db_session, ids, start) if (step.table, step.column) == ("shipments", "id") else 0
            gone = dropped + (db_session.execute(delete(_t(step.table)).where(step.statement(ids))
                                                 .execution_options(synchronize_session=False)).rowcount or 0)
            if gone:
                counted[step.table] = counted.get(step.table, 0) + int(gone)
    return counted


def _drop_partition(db_session: Session, ids: Select[tuple[uuid.UUID]], start: datetime) -> int:
    """PostgreSQL: detach and drop the month's shipments partition when every row in it is among `ids` (one query
    tells); answers the rows it held, or 0 when there is none or it holds a row that stays."""
    connection = db_session.connection()
    period = start.strftime("%Y-%m")
    if SHIPMENTS.name_of(period) not in partitions.existing(connection, SHIPMENTS):
        return 0
    month = table(SHIPMENTS.name_of(period), column("id"))
    if db_session.scalar(select(exists().where(month.c.id.not_in(ids)))):
        return 0  # a held parcel, a decoy, another carrier's: the month's parcels are deleted row by row
    return partitions.drop_month(connection, SHIPMENTS, period) or 0


__all__ = ["ON_THE_PARCEL", "PARCEL", "STEPS", "Anchor", "Step", "add_months", "cutoff", "delete_month",
           "month_start", "months_kept", "oldest"]
