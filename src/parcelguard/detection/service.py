"""Detection over the gate's log (issue 14): a run reads a window of a carrier's tamper-evident log and its
history (`queries`), judges every actor against their own history and their peers (`baselines`, `patterns`),
and raises each finding as an alert of the gate (`audit.service.raise_alert`), once per rule, actor and Beijing
day, so running the same window again raises nothing new. Knows nothing of HTTP.

Runs come from the server's schedule (`schedule`), `parcelguard detect run`, and `POST /api/v1/detection/runs`.
docs/detection.md: each rule, its statistic and threshold, and how a carrier tunes them.
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from parcelguard.accounts import service as accounts
from parcelguard.audit import service as audit
from parcelguard.core.auth import Actor, Role
from parcelguard.core.clock import now
from parcelguard.core.errors import Invalid, NotFound
from parcelguard.detection import patterns, queries, thresholds
from parcelguard.detection.baselines import Context, Finding, district_candidates, volume_outliers
from parcelguard.detection.models import DetectionRun
from parcelguard.tracking import service as tracking

MAX_WINDOW = timedelta(hours=168)
MIN_WINDOW = timedelta(hours=1)
READERS = frozenset({Role.HQ_SECURITY, Role.AUDITOR})
RUNNERS = frozenset({Role.HQ_SECURITY})
TRIGGERS = ("schedule", "command_line", "api")


@dataclass(frozen=True)
class Detected:
    """What a run found, before anything is written."""

    carrier_id: uuid.UUID
    periods: queries.Periods
    actors: int  # accounts with entries in the window
    findings: list[Finding]


@dataclass(frozen=True)
class RunResult:
    run: DetectionRun
    findings: list[Finding]
    raised: list[Finding]  # the findings that were not alerted before


def detect(*, db_session: Session, carrier_id: uuid.UUID, until: datetime | None = None,
           window: timedelta | None = None) -> Detected:
    """Judge the window `[until - window, until)` of the carrier's log (`window`: the carrier's `window_hours`
    when None). Reads only."""
    th = thresholds.effective(db_session=db_session, carrier_id=carrier_id).thresholds
    window = window if window is not None else timedelta(hours=th.window_hours)
    if not MIN_WINDOW <= window <= MAX_WINDOW:
        raise Invalid("A detection window is 1 to 168 hours.", code="window_out_of_range", field="/hours")
    periods = queries.Periods.of(until or now(), window, th.history_days)
    counts = queries.activity(db_session=db_session, carrier_id=carrier_id, periods=periods)
    ctx = Context(periods=periods, thresholds=th, counts=counts,
                  staff=queries.staff(db_session=db_session, carrier_id=carrier_id, user_ids=counts))
    candidates = district_candidates(ctx)
    queries.add_districts(db_session=db_session, carrier_id=carrier_id, periods=periods, found=counts, history=True,
                          courier_ids=candidates)
    ctx = dataclasses.replace(ctx, district_history=frozenset(candidates))
    findings = [*volume_outliers(ctx), *patterns.untasked_bulk_reads(ctx), *patterns.off_shift_reveals(ctx),
                *patterns.denied_reveals(ctx), *_enumeration(db_session, ctx)]
    return Detected(carrier_id=carrier_id, periods=periods, findings=findings,
                    actors=sum(1 for c in counts.values() if 0 in c.reveals))


def _enumeration(db_session: Session, ctx: Context) -> list[Finding]:
    """The public lookup's hourly counts that overlap the window (they belong to no carrier: every carrier's
    run sees the same clients, and each carrier's HQ is told)."""
    start, end = ctx.periods.since.timestamp(), ctx.periods.until.timestamp()
    hour = tracking.LOOKUP_WINDOW_SECONDS
    rows = [(c.key, c.lookups, c.misses)
            for c in tracking.lookup_counts(db_session=db_session, since=start - start % hour) if c.window_start < end]
    return patterns.tracking_enumeration(rows, ctx.thresholds, day=ctx.day, window=ctx.window())


def record(*, db_session: Session, detected: Detected, trigger: str, started: datetime,
           duration_ms: int = 0) -> RunResult:
    """Raise each finding not alerted before, and record the run. In the caller's transaction."""
    carrier_id = detected.carrier_id
    raised = []
    for finding in detected.findings:
        if audit.alerted(db_session=db_session, dedupe_key=finding.dedupe_key, carrier_ids=[carrier_id]):
            continue
        audit.raise_alert(db_session=db_session, carrier_id=carrier_id, kind=finding.kind,
                          dedupe_key=finding.dedupe_key, detail=finding.detail, actor_id=finding.actor_id,
                          audit_index=finding.audit_index)
        raised.append(finding)
    periods = detected.periods
    run = DetectionRun(carrier_id=carrier_id, trigger=trigger, started_at=started, window_start=periods.since,
                       window_end=periods.until, history_start=periods.start, actors=detected.actors,
                       findings=len(detected.findings), alerts_raised=len(raised), duration_ms=duration_ms)
    db_session.add(run)
    db_session.flush()
    return RunResult(run=run, findings=detected.findings, raised=raised)


def run(*, db_session: Session, carrier_id: uuid.UUID, until: datetime | None = None,
        window: timedelta | None = None, trigger: str = "api") -> RunResult:
    """Detect over the window and raise what is new, in the caller's transaction. Idempotent: the same window
    again raises nothing new (each alert's dedupe key is its rule, actor and Beijing day)."""
    if trigger not in TRIGGERS:
        raise ValueError(f"unknown trigger {trigger!r}")
    started, clock = now(), time.perf_counter()
    detected = detect(db_session=db_session, carrier_id=carrier_id, until=until, window=window)
    return record(db_session=db_session, detected=detected, trigger=trigger, started=started,
                  duration_ms=round((time.perf_counter() - clock) * 1000))


def run_for(*, db_session: Session, actor: Actor, hours: int | None = None) -> RunResult:
    """A run now over the actor's carrier (HQ security's button)."""
    return run(db_session=db_session, carrier_id=carrier_of(actor), trigger="api",
               window=None if hours is None else timedelta(hours=hours))


def list_runs(*, db_session: Session, actor: Actor, limit: int = 50) -> list[DetectionRun]:
    """The carrier's latest runs, newest first."""
    return list(db_session.scalars(select(DetectionRun).where(DetectionRun.carrier_id == carrier_of(actor))
                                   .order_by(DetectionRun.started_at.desc()).limit(limit)))


def carrier_ids(*, db_session: Session) -> list[uuid.UUID]:
    return accounts.carrier_ids(db_session=db_session)


def carrier_of(actor: Actor) -> uuid.UUID:
    if actor.carrier_id is None:
        raise NotFound("There is nothing here for an account outside a carrier.", code="carrier_unknown")
    return actor.carrier_id
