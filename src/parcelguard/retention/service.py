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

from sqlalchemy import Table, func, select
from sqlalchemy.orm import Session

from parcelguard.audit import service as audit
from parcelguard.core.auth import Actor, Role
from parcelguard.core.clock import now
from parcelguard.core.db import Base, begin_write
from parcelguard.core.errors import FieldError, Forbidden, Invalid
from parcelguard.crypto import envelope, shredding
from parcelguard.crypto.keyring import Keyring
from parcelguard.crypto.models import DataKey
from parcelguard.retention import classes, holds, records
from parcelguard.retention.models import RetentionSetting


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

    def due(self, at: datetime) -> bool:
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


def run(*, sessionmaker: Callable[[], Session], keyring: Keyring, carrier_id: uuid.UUID, at: datetime | None = None,
        actor: Actor | None = None) -> Done:
    """Destroy every month due at `at`; answers the records written (none when nothing was due)."""
    at = at or now()
    run_id, written = uuid.uuid4(), []
    with sessionmaker() as session:
        due = [m for m in plan(db_session=session, keyring=keyring, carrier_id=carrier_id) if m.due(at)]
    for month in due:
        with sessionmaker() as session, session.begin():
            begin_write(session)
            record = _destroy(session, keyring, carrier_id, month, run_id, at, actor)
        if record is not None:
            written.append(record)
    return Done(run_id=run_id, records=written)


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
        items=count_items(db_session, month.data_class, done.data_key_ids), data_key_ids=list(done.data_key_ids),
        shred_key_ids=sorted(set(done.shred_key_ids) | {int(i) for i in wrapped_by}),
        key_store="separate" if keyring.keystore.separate else "database", actor=actor)


def count_items(db_session: Session, data_class: str, data_key_ids: tuple[int, ...]) -> dict[str, int]:
    """How many values each column the class covers held under these data keys (a ciphertext's first bytes
    name its key): what the record says was destroyed. A legacy class may have covered any encrypted column."""
    if not data_key_ids:
        return {}
    headers = [envelope.header_of(i) for i in data_key_ids]
    counted = {}
    for place in classes.columns_of(data_class):
        table_name, column_name = place.split(".")
        table: Table = Base.metadata.tables[table_name]
        column = table.c[column_name]
        counted[place] = int(db_session.scalar(select(func.count()).select_from(table).where(
            func.substr(column, 1, envelope.HEADER_BYTES).in_(headers))) or 0)
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
