"""Retention (保存期满销毁, issue 15): which months of which data classes are past their retention (`plan`), and
destroying them (`run`): crypto-shredding each class's month (`crypto.shredding`), then a signed destruction
record in the carrier's log (`records`). Knows nothing of HTTP.

A month `YYYY-MM` of a class kept `n` months expires at the start of the month `n + 1` months later: data written
on any day of December 2026 under a 24-month retention goes on 1 January 2029. `at` is the moment the plan or
run is for (now, unless a test moves the clock forward).

A run does each class's month in a transaction of its own: the shredding, the record and its log entry commit
together. A run that crashes resumes where it stopped: a month done is no longer due; a month cut short is due
again and finished (with a separate key store its keys may be gone already: the record then names them from the
data keys they wrapped). Running again when nothing is due does nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Table, case, func, select
from sqlalchemy.orm import Session

from parcelguard.audit import service as audit
from parcelguard.core.auth import Actor, Role
from parcelguard.core.clock import now
from parcelguard.core.db import Base, begin_write
from parcelguard.core.errors import FieldError, Forbidden, Invalid
from parcelguard.crypto import envelope, shredding
from parcelguard.crypto.keyring import Keyring
from parcelguard.crypto.models import DataKey
from parcelguard.retention import classes, deletion, holds, labels, records
from parcelguard.retention.models import RetentionProgress, RetentionSetting


@dataclass(frozen=True)
class Month:
    """A class's month as the plan sees it."""

    data_class: str  # as the keys name it (a legacy name too)
    retained_as: str  # the registered class whose retention applies
    period: str
    months: int
    expires_at: datetime
    live_data_keys: int
    shred_keys: int
    held: bool = False  # a month of `legal_hold` that a hold in force moved data into
    mechanism: str = "shred"  # `delete`: the month's rows go (`deletion`); `expire`: signing key versions (`labels`)

    def due(self, at: datetime) -> bool:
        if self.mechanism != "shred":
            return self.expires_at <= at
        return self.expires_at <= at and not self.held and (self.live_data_keys > 0 or self.shred_keys > 0)


@dataclass(frozen=True)
class Done:
    run_id: uuid.UUID
    records: list[records.Signed]


def retention_months(*, db_session: Session, carrier_id: uuid.UUID) -> dict[str, int]:
    """Each registered class's retention for the carrier: its own setting, else the class's default."""
    own = {name: months for name, months in db_session.execute(
        select(RetentionSetting.data_class, RetentionSetting.months).where(RetentionSetting.carrier_id == carrier_id))}
    return {name: own.get(name, c.default_months) for name, c in classes.CLASSES.items()}


def _month(period: str) -> datetime:
    year, month = (int(part) for part in period.split("-"))
    return datetime(year, month, 1, tzinfo=UTC)


def expiry(period: str, months: int) -> datetime:
    year, month = (int(part) for part in period.split("-"))
    total = year * 12 + (month - 1) + 1 + months
    return datetime(total // 12, total % 12 + 1, 1, tzinfo=UTC)


def plan(*, db_session: Session, keyring: Keyring, carrier_id: uuid.UUID) -> list[Month]:
    """Every month of every shredded class the carrier holds keys for, with when it goes; oldest first."""
    months = retention_months(db_session=db_session, carrier_id=carrier_id)
    held = holds.held_months(db_session=db_session, carrier_id=carrier_id)
    found = []
    for m in shredding.months(db_session=db_session, keyring=keyring, carrier_id=carrier_id):
        if m.live == 0 and m.shred_keys == 0:
            continue  # destroyed before
        kept = classes.class_of(m.data_class)
        found.append(Month(data_class=m.data_class, retained_as=kept.name, period=m.period, months=months[kept.name],
                           expires_at=expiry(m.period, months[kept.name]), live_data_keys=m.live,
                           shred_keys=m.shred_keys, held=kept is classes.LEGAL_HOLD and m.period in held))
    return sorted(found, key=lambda m: (m.expires_at, m.data_class))


def row_plan(*, db_session: Session, carrier_id: uuid.UUID) -> list[Month]:
    """For each class whose rows are deleted (`deletion.STEPS`), the oldest month that still has rows, with when
    it goes (the months after it go one a month)."""
    months = retention_months(db_session=db_session, carrier_id=carrier_id)
    found = []
    for name in deletion.STEPS:
        kept = deletion.months_kept(name, months)
        start = deletion.oldest(db_session, carrier_id, name, deletion.add_months(deletion.month_start(now()), 1))
        start = max(start, progress(db_session, carrier_id, name)) if start is not None else None
        if start is not None:
            period = start.strftime("%Y-%m")
            found.append(Month(data_class=name, retained_as=name, period=period, months=kept,
                               expires_at=expiry(period, kept), live_data_keys=0, shred_keys=0, mechanism="delete"))
    label = classes.LABEL_TOKEN.name
    for period in sorted({p for _, p in labels.stopped(db_session, carrier_id)}):
        found.append(Month(data_class=label, retained_as=label, period=period, months=months[label],
                           expires_at=expiry(period, months[label]), live_data_keys=0, shred_keys=0, mechanism="expire"))
    return sorted(found, key=lambda m: (m.expires_at, m.data_class))


def run(*, sessionmaker: Callable[[], Session], keyring: Keyring, carrier_id: uuid.UUID, at: datetime | None = None,
        actor: Actor | None = None) -> Done:
    """Destroy every month due at `at`: shred the keys' months, then delete the rows' months (the parcel's own row
    last); answers the records written (none when nothing was due)."""
    at = at or now()
    run_id, written = uuid.uuid4(), []
    with sessionmaker() as session:
        due = [m for m in plan(db_session=session, keyring=keyring, carrier_id=carrier_id) if m.due(at)]
        months = retention_months(db_session=session, carrier_id=carrier_id)
    for month in due:
        with sessionmaker() as session, session.begin():
            begin_write(session)
            record = _destroy(session, keyring, carrier_id, month, run_id, at, actor)
        if record is not None:
            written.append(record)
    for name in deletion.STEPS:
        written += _delete_rows(sessionmaker, keyring, carrier_id, name, deletion.months_kept(name, months), run_id,
                                at, actor)
    written += _expire_label_keys(sessionmaker, keyring, carrier_id, months[classes.LABEL_TOKEN.name], run_id, at,
                                  actor)
    return Done(run_id=run_id, records=written)


def _expire_label_keys(sessionmaker: Callable[[], Session], keyring: Keyring, carrier_id: uuid.UUID, kept: int,
                       run_id: uuid.UUID, at: datetime, actor: Actor | None) -> list[records.Signed]:
    """Turn the label key over for a new month, then delete the versions past `kept` months since they stopped
    signing, a transaction and a record per month."""
    with sessionmaker() as session, session.begin():
        begin_write(session)
        labels.turn_over(session, keyring, carrier_id, now())
        by_month: dict[str, list[int]] = {}
        for key_id, period in labels.stopped(session, carrier_id):
            if expiry(period, kept) <= at:
                by_month.setdefault(period, []).append(key_id)
    written = []
    for period, key_ids in sorted(by_month.items()):
        with sessionmaker() as session, session.begin():
            begin_write(session)
            gone = labels.destroy(session, carrier_id, key_ids)
            if gone:
                written.append(records.write(
                    db_session=session, keyring=keyring, carrier_id=carrier_id, run_id=run_id, at=at,
                    data_class=classes.LABEL_TOKEN.name, period=period, expired_at=expiry(period, kept),
                    items={"crypto_signing_keys": gone}, data_key_ids=[], shred_key_ids=[], key_store="database",
                    actor=actor, mechanism="expire", signing_key_ids=key_ids))
    return written


def progress(db_session: Session, carrier_id: uuid.UUID, data_class: str) -> datetime:
    """Where the class's row deletion got to: every month before it was done (the parcel's own row keeps none: a
    parcel released from a hold may be older)."""
    found = db_session.get(RetentionProgress, (carrier_id, data_class))
    return found.deleted_before if found is not None else datetime.min.replace(tzinfo=UTC)


def _delete_rows(sessionmaker: Callable[[], Session], keyring: Keyring, carrier_id: uuid.UUID, data_class: str,
                 kept: int, run_id: uuid.UUID, at: datetime, actor: Actor | None) -> list[records.Signed]:
    """Each month of the class past `kept` months, one transaction each: its rows, a record when any went, and
    where the class got to."""
    end, written = deletion.cutoff(at, kept), []
    remembers = data_class != classes.WAYBILL_RECORD.name
    while True:
        with sessionmaker() as session, session.begin():
            begin_write(session)
            start = deletion.oldest(session, carrier_id, data_class, end)
            if remembers and start is not None:
                start = max(start, progress(session, carrier_id, data_class))
            if start is None or start >= end:
                return written
            gone = deletion.delete_month(session, carrier_id, data_class, start)
            period = start.strftime("%Y-%m")
            if gone:
                written.append(records.write(
                    db_session=session, keyring=keyring, carrier_id=carrier_id, run_id=run_id, at=at,
                    data_class=data_class, period=period, expired_at=expiry(period, kept), items=gone,
                    data_key_ids=[], shred_key_ids=[], key_store="none", actor=actor, mechanism="delete"))
            if remembers:
                session.merge(RetentionProgress(carrier_id=carrier_id, data_class=data_class,
                                                deleted_before=deletion.add_months(start, 1)))


def _destroy(db_session: Session, keyring: Keyring, carrier_id: uuid.UUID, month: Month, run_id: uuid.UUID,
             at: datetime, actor: Actor | None) -> records.Signed | None:
    done = shredding.shred(db_session=db_session, keyring=keyring, carrier_id=carrier_id,
                           data_class=month.data_class, periods=[month.period])
    if not done.data_key_ids and not done.shred_key_ids:
        return None  # another run did it meanwhile
    wrapped_by = set(db_session.scalars(select(DataKey.shred_key_id).where(
        DataKey.id.in_(done.data_key_ids), DataKey.shred_key_id.is_not(None)))) if done.data_key_ids else set()
    return records.write(
        db_session=db_session, keyring=keyring, carrier_id=carrier_id, run_id=run_id, at=at,
        data_class=month.data_class, period=month.period, expired_at=month.expires_at,
        items=count_items(db_session, month.data_class, done.data_key_ids, month.period),
        data_key_ids=list(done.data_key_ids),
        shred_key_ids=sorted(set(done.shred_key_ids) | {int(i) for i in wrapped_by}),
        key_store="separate" if keyring.keystore.separate else "database", actor=actor)


def count_items(db_session: Session, data_class: str, data_key_ids: tuple[int, ...], period: str | None = None
                ) -> dict[str, int]:
    """How many values each column the class covers held under these data keys (a ciphertext's first bytes
    name its key): what the record says was destroyed. A legacy class may have covered any encrypted column.
    One scan per table, counting all its columns at once; given the keys' month, a table with `created_at` is read
    only up to its end (a value written in the month is in a row made by then), so with the older months' rows
    deleted a run reads about one month."""
    if not data_key_ids:
        return {}
    headers = [envelope.header_of(i) for i in data_key_ids]
    by_table: dict[str, list[str]] = {}
    for place in classes.columns_of(data_class):
        table_name, column_name = place.split(".")
        by_table.setdefault(table_name, []).append(column_name)
    counted = {}
    for table_name, column_names in by_table.items():
        table: Table = Base.metadata.tables[table_name]
        sums = [func.coalesce(func.sum(case((func.substr(table.c[c], 1, envelope.HEADER_BYTES).in_(headers), 1),
                                            else_=0)), 0) for c in column_names]
        query = select(*sums).select_from(table)
        if period is not None and "created_at" in table.c:
            query = query.where(table.c.created_at < deletion.add_months(_month(period), 1))
        row = db_session.execute(query).one()
        counted.update({f"{table_name}.{c}": int(n) for c, n in zip(column_names, row, strict=True)})
    return counted


MAX_MONTHS = 120  # ten years: a longer retention is a typing error


def change_months(*, db_session: Session, keyring: Keyring, actor: Actor, months: dict[str, int],
                  request_id: str | None = None) -> dict[str, int]:
    """The admin sets the carrier's retention of some classes (months, within each class's minimum and ten
    years); each change is an entry of the audit log (subject `retention:<class>:<months>`). All or nothing:
    one bad class or value writes nothing (422 naming each)."""
    if actor.role != Role.ADMIN or actor.carrier_id is None:
        raise Forbidden("The carrier's admin sets its retention.", code="role_not_allowed")
    errors = []
    for name, value in months.items():
        found = classes.CLASSES.get(name)
        if found is None:
            errors.append(FieldError(pointer=f"/{name}", code="class_unknown", detail="No data class has this name."))
        elif not found.minimum_months <= value <= MAX_MONTHS:
            errors.append(FieldError(pointer=f"/{name}", code="months_out_of_range",
                                     detail=f"Between {found.minimum_months} and {MAX_MONTHS} months."))
    if errors:
        raise Invalid("The retention is not valid.", code="retention_invalid", errors=errors)
    current = retention_months(db_session=db_session, carrier_id=actor.carrier_id)
    for name, value in sorted(months.items()):
        if current[name] == value:
            continue
        row = db_session.get(RetentionSetting, (actor.carrier_id, name))
        if row is None:
            db_session.add(RetentionSetting(carrier_id=actor.carrier_id, data_class=name, months=value,
                                            updated_by=actor.user_id, updated_at=now()))
        else:
            row.months, row.updated_by, row.updated_at = value, actor.user_id, now()
        db_session.flush()
        audit.log_admin_change(db_session=db_session, keyring=keyring, actor=actor, subject=f"retention:{name}:{value}",
                               purpose="retention_change", request_id=request_id)
    return retention_months(db_session=db_session, carrier_id=actor.carrier_id)
