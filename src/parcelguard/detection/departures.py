"""The audit on a staff member's departure (寄递服务用户个人信息安全管理规定 2014: audit on staff departure): when
an account is retired (`accounts.staff.set_active`), their last 90 days in the carrier's log are counted and
kept as a report HQ security and auditors read: entries by purpose and by Beijing day, distinct parcels
revealed, refusals, reveals off their shift and reveals of parcels they held no task for. Counts only. Knows
nothing of HTTP.

Unlike a run, which trusts the gate's scope for couriers, the report checks each of the leaver's reveals
against their own tasks (the parcels they revealed less those they were given: one person's 90 days is small).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import date, timedelta

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from parcelguard.audit.models import AuditEntry
from parcelguard.core.auth import Actor
from parcelguard.core.clock import now
from parcelguard.core.errors import NotFound
from parcelguard.detection import queries, thresholds
from parcelguard.detection.baselines import shift_hours
from parcelguard.detection.models import DepartureReport

PERIOD = timedelta(days=90)
MAX_LIST = 200


def record(*, db_session: Session, carrier_id: uuid.UUID, user_id: uuid.UUID,
           retired_by: uuid.UUID | None) -> DepartureReport:
    """Count the leaver's last 90 days and keep the report, in the caller's transaction (the retirement's)."""
    until = now().replace(microsecond=0)
    since = until - PERIOD
    seconds = queries.epoch(db_session, AuditEntry.logged_at) + queries.number(queries.BEIJING)  # Beijing time
    theirs = [AuditEntry.carrier_id == carrier_id, AuditEntry.actor_id == user_id, AuditEntry.logged_at >= since,
              AuditEntry.logged_at < until]
    reveal = and_(AuditEntry.decision == "allow", AuditEntry.subject.like(queries.SHIPMENT + "%"))

    rows = select((seconds // queries.number(queries.DAY)).label("day"), AuditEntry.purpose.label("purpose"),
                  AuditEntry.decision.label("decision")).where(*theirs).subquery()
    by_day: dict[str, dict[str, dict[str, int]]] = defaultdict(dict)
    by_purpose: dict[str, dict[str, int]] = defaultdict(lambda: {"allow": 0, "deny": 0})
    for day, purpose, decision, count in db_session.execute(
            select(rows.c.day, rows.c.purpose, rows.c.decision, func.count())
            .group_by(rows.c.day, rows.c.purpose, rows.c.decision)):
        name = (date(1970, 1, 1) + timedelta(days=int(day))).isoformat()
        by_day[name].setdefault(purpose, {"allow": 0, "deny": 0})[decision] = int(count)
        by_purpose[purpose][decision] = by_purpose[purpose].get(decision, 0) + int(count)

    totals = db_session.execute(select(
        func.count(), func.sum(case((reveal, 1), else_=0)),
        func.sum(case((AuditEntry.decision == "deny", 1), else_=0)), func.max(AuditEntry.idx),
    ).where(*theirs)).one()
    # Reveals of parcels they held no task for: their subjects (a few thousand at most) less their tasks' parcels.
    revealed: dict[str, int] = {subject: int(count) for subject, count in db_session.execute(
        select(AuditEntry.subject, func.count()).where(*theirs, reveal).group_by(AuditEntry.subject))}
    tasked = {f"{queries.SHIPMENT}{shipment_id}" for shipment_id in queries.tasked_shipments(
        db_session=db_session, carrier_id=carrier_id, courier_id=user_id)}
    untasked = sum(count for subject, count in revealed.items() if subject not in tasked)
    hour = (seconds // queries.number(queries.HOUR) % queries.number(24)).label("hour")
    hours = [0] * 24
    for h, count in db_session.execute(select(hour, func.count()).where(*theirs, reveal).group_by(hour)):
        hours[int(h)] = int(count)
    th = thresholds.effective(db_session=db_session, carrier_id=carrier_id).thresholds
    shift = shift_hours(hours, th)
    off_shift = 0 if shift is None else sum(n for h, n in enumerate(hours) if h not in shift)
    who = queries.staff(db_session=db_session, carrier_id=carrier_id, user_ids=[user_id]).get(user_id)

    report = DepartureReport(
        carrier_id=carrier_id, user_id=user_id, role=who.role if who else "", retired_by=retired_by,
        created_at=now(), period_start=since, period_end=until, entries=int(totals[0] or 0),
        reveals=int(totals[1] or 0), distinct_subjects=len(revealed), denied=int(totals[2] or 0),
        untasked=untasked, off_shift=off_shift, last_index=totals[3],
        breakdown={"by_purpose": dict(sorted(by_purpose.items())),
                   "by_day": [{"day": day, "purposes": by_day[day]} for day in sorted(by_day)],
                   "reveals_by_hour": hours, "shift_hours": sorted(shift) if shift is not None else None})
    db_session.add(report)
    db_session.flush()
    return report


def list_reports(*, db_session: Session, actor: Actor, limit: int = MAX_LIST) -> list[DepartureReport]:
    """The carrier's departure reports, newest first."""
    return list(db_session.scalars(select(DepartureReport).where(DepartureReport.carrier_id == _carrier(actor))
                                   .order_by(DepartureReport.created_at.desc()).limit(limit)))


def latest_report(*, db_session: Session, actor: Actor, user_id: uuid.UUID) -> DepartureReport:
    """The newest report on this account of the carrier (an account retired twice has two)."""
    report = db_session.scalar(select(DepartureReport).where(
        DepartureReport.carrier_id == _carrier(actor), DepartureReport.user_id == user_id)
        .order_by(DepartureReport.created_at.desc()).limit(1))
    if report is None:
        raise NotFound("No departure report on this account.", code="departure_report_unknown")
    return report


def _carrier(actor: Actor) -> uuid.UUID:
    if actor.carrier_id is None:
        raise NotFound("There is nothing here for an account outside a carrier.", code="carrier_unknown")
    return actor.carrier_id
