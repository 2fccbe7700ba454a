"""The set-based reads detection makes: the carrier's audit log counted per actor, period and hour of day in
the database (GROUP BY, one pass over the rows of the window and its history, no join), the couriers' tasks
and their parcels' districts per period, and who each actor is. Knows nothing of HTTP.

Reads other domains' tables directly, read-only: `audit_entries` (the gate's log: detection reads it where it
lies, no second log), `shipment_assignments` and `shipments` (tasks, and the districts of their parcels),
`users` (role and station), `carriers` (whom a scheduled run covers). Counting millions of entries cannot go
through services that answer rows one by one, so these reads stay in this one module. The columns read are
the log's searchable copies (`logged_at`, `actor_id`, `subject`, `decision`); `parcelguard audit verify`
checks each against the hashed entry.

The log is never joined to parcels by its `subject` text: that would parse a uuid out of every entry (or, with
stale planner statistics, compare every entry with every parcel). Where one person's reveals are checked
against their tasks (`departures`), that is a set difference of their few thousand subjects.

Periods. A run looks at a window `[until - window, until)`. Its history is the same window moved back by a
step, as many times as `history_days` holds: a step of a day for windows up to a day (the same hours of the
day before, and the one before that ...), else a step of the window itself. Period 0 is the window. Hours
of day are Beijing hours (UTC+8, all year), so a shift reads as people say it.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    and_,
    case,
    cast,
    distinct,
    func,
    literal_column,
    null,
    select,
    text,
    union_all,
)
from sqlalchemy.orm import Session

from parcelguard.accounts.models import User
from parcelguard.audit.models import AuditEntry
from parcelguard.shipments.models import Assignment, Shipment

DAY = 86400
HOUR = 3600
WORK_MEM = "64MB"  # for the run's reads on PostgreSQL (SET LOCAL: this transaction only)
BEIJING = 8 * 3600
SHIPMENT = "shipment:"


@dataclass(frozen=True)
class Periods:
    """The window and its history, in whole hours: `until` is a whole hour (a run asked to end at 10:37 ends at
    11:00, so nothing logged so far is left out), and so is every period's start."""

    until: datetime
    window: int  # hours
    step: int  # hours between the starts of two periods
    history: int  # how many periods of history

    @classmethod
    def of(cls, until: datetime, window: timedelta, history_days: int) -> Periods:
        hours = max(1, math.ceil(window.total_seconds() / HOUR))
        step = max(24, hours)
        return cls(until=_hour_up(until), window=hours, step=step, history=max(1, history_days * 24 // step))

    @property
    def since(self) -> datetime:
        return self.until - timedelta(hours=self.window)

    @property
    def start(self) -> datetime:
        """The start of the oldest period."""
        return self.until - timedelta(hours=self.history * self.step + self.window)

    @property
    def end_hour(self) -> int:
        """`until` in hours since 1970."""
        return int(self.until.timestamp()) // HOUR

    def period_of(self, hours_back: int) -> int | None:
        """The period of an hour `hours_back` whole hours before `until` (0: the last hour of the window); None
        when it falls between two periods (a window shorter than a day keeps the same hours of earlier days)."""
        period, into = divmod(hours_back, self.step)
        return period if into < self.window and period <= self.history else None


def _hour_up(moment: datetime) -> datetime:
    whole = moment.replace(minute=0, second=0, microsecond=0)
    return whole if whole == moment else whole + timedelta(hours=1)


def epoch(db_session: Session, column: ColumnElement) -> ColumnElement:
    """Whole seconds since 1970 of a timestamp column, in the engine."""
    if db_session.get_bind().dialect.name == "postgresql":
        # date_part answers a double, EXTRACT a numeric since PostgreSQL 14: half the cost over millions of rows.
        return cast(func.floor(func.date_part(literal_column("'epoch'"), column)), BigInteger)
    # SQLite keeps UTC text, 'YYYY-MM-DD HH:MM:SS.ffffff', which strftime reads.
    return cast(func.strftime(literal_column("'%s'"), column), BigInteger)


@dataclass
class ActorCounts:
    """One actor's counts: per period (0 = the window) and per Beijing hour of day."""

    reveals: dict[int, int] = field(default_factory=dict)  # allowed reveals of shipments
    denied: dict[int, int] = field(default_factory=dict)  # refused reveals (any subject)
    districts: dict[int, int] = field(default_factory=dict)  # distinct districts of the tasks given (couriers)
    last_index: dict[int, int] = field(default_factory=dict)  # newest entry of the period
    hours_history: list[int] = field(default_factory=lambda: [0] * 24)
    hours_window: list[int] = field(default_factory=lambda: [0] * 24)
    tasks: dict[int, int] = field(default_factory=dict)  # tasks held at some time in the period


def activity(*, db_session: Session, carrier_id: uuid.UUID, periods: Periods) -> dict[uuid.UUID, ActorCounts]:
    """Every actor's counts over the window and its history, from the log alone (no join): grouped per actor and
    period, and per actor and Beijing hour of day in the window and in the history. Two GROUP BYs over the same
    entries: on PostgreSQL each a parallel hash aggregate, which at 10 million entries takes half the time of one
    GROUPING SETS pass (that one is neither parallel nor hashed when the planner overestimates the groups)."""
    if db_session.get_bind().dialect.name == "postgresql":
        # The groups of millions of entries are hashed in memory, not sorted on disk (the default is 4 MB); and
        # no JIT: compiling these expressions costs more than it saves (a second of 26 at 10 million entries).
        db_session.execute(text(f"SET LOCAL work_mem = '{WORK_MEM}'"))
        db_session.execute(text("SET LOCAL jit = off"))
    hour = epoch(db_session, AuditEntry.logged_at) // number(HOUR)
    back = number(periods.end_hour - 1) - hour  # whole hours before the window's last hour
    reveal = and_(AuditEntry.decision == "allow", AuditEntry.subject.like(SHIPMENT + "%"))
    where = [AuditEntry.carrier_id == carrier_id, AuditEntry.logged_at >= periods.start,
             AuditEntry.logged_at < periods.until, AuditEntry.actor_id.is_not(None),
             (AuditEntry.decision == "deny") | AuditEntry.subject.like(SHIPMENT + "%")]
    if periods.step != periods.window:  # only the same hours of earlier days
        where.append(back % number(periods.step) < number(periods.window))
    rows = select(
        AuditEntry.actor_id.label("actor_id"), (back // number(periods.step)).label("period"),
        case((AuditEntry.logged_at >= periods.since, 1), else_=0).label("in_window"),
        ((hour + number(BEIJING // HOUR)) % number(24)).label("hour"),
        case((reveal, 1), else_=0).label("reveal"), case((AuditEntry.decision == "deny", 1), else_=0).label("deny"),
        AuditEntry.idx.label("idx"),
    ).where(*where).subquery("rows")
    sums = (func.sum(rows.c.reveal), func.sum(rows.c.deny), func.max(rows.c.idx))
    none = null().label("none")
    statement = union_all(
        select(rows.c.actor_id, rows.c.period, none, none, *sums).group_by(rows.c.actor_id, rows.c.period),
        select(rows.c.actor_id, none, rows.c.in_window, rows.c.hour, *sums)
        .group_by(rows.c.actor_id, rows.c.in_window, rows.c.hour))
    found: dict[uuid.UUID, ActorCounts] = {}
    for actor_id, period, in_window, hour_of_day, reveals, denied, last_index in db_session.connection().execute(statement):
        counts = found.setdefault(_uuid(actor_id), ActorCounts())
        if period is not None:
            period = int(period)
            counts.reveals[period], counts.denied[period] = int(reveals or 0), int(denied or 0)
            counts.last_index[period] = int(last_index)
        else:
            (counts.hours_window if in_window else counts.hours_history)[int(hour_of_day)] = int(reveals or 0)
    _add_tasks(db_session, carrier_id, periods, found)
    return found


def _period(db_session: Session, periods: Periods, column: ColumnElement) -> ColumnElement:
    """The period of a timestamp, in the engine (whole hours back from the window's last hour, by steps)."""
    back = number(periods.end_hour - 1) - epoch(db_session, column) // number(HOUR)
    return back // number(periods.step)


def _add_tasks(db_session: Session, carrier_id: uuid.UUID, periods: Periods,
               found: dict[uuid.UUID, ActorCounts]) -> None:
    """The tasks each courier held in each period: counted in the engine by the periods a task opened and closed
    in (open ones close at `until`), and spread here over the periods between."""
    opened = _period(db_session, periods, Assignment.opened_at).label("opened")
    closed = _period(db_session, periods, func.coalesce(Assignment.closed_at, periods.until)).label("closed")
    rows = db_session.connection().execute(  # Core, not the ORM: hundreds of thousands of plain rows
        select(Assignment.courier_id, opened, closed, func.count())
        .where(Assignment.carrier_id == carrier_id, Assignment.opened_at < periods.until,
               (Assignment.closed_at.is_(None)) | (Assignment.closed_at >= periods.start))
        .group_by(Assignment.courier_id, opened, closed))
    for courier_id, first, last, count in rows:
        counts = found.setdefault(_uuid(courier_id), ActorCounts())
        for held in range(max(int(last), 0), min(int(first), periods.history) + 1):
            counts.tasks[held] = counts.tasks.get(held, 0) + int(count)
    add_districts(db_session=db_session, carrier_id=carrier_id, periods=periods, found=found, history=False)


def add_districts(*, db_session: Session, carrier_id: uuid.UUID, periods: Periods,
                  found: dict[uuid.UUID, ActorCounts], history: bool,
                  courier_ids: Iterable[uuid.UUID] | None = None) -> None:
    """The distinct districts of the parcels given to each courier in the window (`history` False), or in each
    period of the history of `courier_ids`. A courier reveals only parcels they hold a task for (the gate's
    `assigned` scope), so these are the districts they read. The join of tasks with parcels is the costly part
    of a run, so the history is read only for the couriers whose window stands out (`baselines`)."""
    given = _period(db_session, periods, Assignment.opened_at).label("given")
    where = [Assignment.carrier_id == carrier_id,
             Assignment.opened_at >= (periods.start if history else periods.since),
             Assignment.opened_at < (periods.since if history else periods.until)]
    wanted = list(courier_ids) if courier_ids is not None else [None]
    for start in range(0, len(wanted), 1000):
        chunk = wanted[start:start + 1000]
        rows = db_session.execute(
            select(Assignment.courier_id, given, func.count(distinct(Shipment.recipient_district)))
            .join(Shipment, and_(Shipment.id == Assignment.shipment_id, Shipment.carrier_id == carrier_id))
            .where(*where, *([Assignment.courier_id.in_(chunk)] if courier_ids is not None else []))
            .group_by(Assignment.courier_id, given))
        for courier_id, period, districts in rows:
            if 0 <= int(period) <= periods.history:
                found.setdefault(_uuid(courier_id), ActorCounts()).districts[int(period)] = int(districts)


@dataclass(frozen=True)
class Staff:
    role: str
    station_id: uuid.UUID | None


def staff(*, db_session: Session, carrier_id: uuid.UUID, user_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Staff]:
    """Role and station of each of these accounts of the carrier (others are left out)."""
    wanted = list(user_ids)
    found: dict[uuid.UUID, Staff] = {}
    for start in range(0, len(wanted), 1000):
        rows = db_session.execute(select(User.id, User.role, User.station_id).where(
            User.carrier_id == carrier_id, User.id.in_(wanted[start:start + 1000])))
        found.update({user_id: Staff(role, station) for user_id, role, station in rows})
    return found


def tasked_shipments(*, db_session: Session, carrier_id: uuid.UUID, courier_id: uuid.UUID) -> set[uuid.UUID]:
    """Every parcel the courier was ever given a task on."""
    return set(db_session.scalars(select(Assignment.shipment_id).where(
        Assignment.carrier_id == carrier_id, Assignment.courier_id == courier_id)))


def number(n: int) -> ColumnElement:
    """An integer written into the statement (not a parameter), so the engine sees one expression wherever
    it repeats (the select list and the GROUP BY)."""
    return literal_column(str(int(n)), BigInteger)


def _uuid(value: object) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
