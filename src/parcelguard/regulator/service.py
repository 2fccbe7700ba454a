"""The carrier side of the regulator feed, in the carrier's database: which records wait in the outbox,
what a receipt or a failure does to them, and the figures `/metrics` shows. Knows nothing of HTTP.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from parcelguard.core.clock import now
from parcelguard.regulator.models import OutboxEntry, UploadBatch


@dataclass(frozen=True)
class Waiting:
    """A carrier with records to send: how many, and since when the oldest waits."""

    carrier_id: uuid.UUID
    records: int
    oldest: datetime


def waiting(*, db_session: Session) -> list[Waiting]:
    """Every carrier with unsent records (one query)."""
    rows = db_session.execute(
        select(OutboxEntry.carrier_id, func.count(), func.min(OutboxEntry.created_at))
        .where(OutboxEntry.delivered_at.is_(None), OutboxEntry.rejected_at.is_(None))
        .group_by(OutboxEntry.carrier_id))
    return [Waiting(carrier_id, int(count), oldest) for carrier_id, count, oldest in rows]


def pending(*, db_session: Session, carrier_id: uuid.UUID, limit: int) -> list[uuid.UUID]:
    """The record ids of the carrier's oldest unsent outbox rows, in the order they were queued."""
    return list(db_session.scalars(
        select(OutboxEntry.record_id).where(OutboxEntry.carrier_id == carrier_id, OutboxEntry.delivered_at.is_(None),
                                            OutboxEntry.rejected_at.is_(None))
        .order_by(OutboxEntry.id).limit(limit)))


def mark_delivered(*, db_session: Session, carrier_id: uuid.UUID, record_ids: Sequence[uuid.UUID],
                   at: datetime) -> int:
    if not record_ids:
        return 0
    result = db_session.execute(update(OutboxEntry).where(
        OutboxEntry.carrier_id == carrier_id, OutboxEntry.record_id.in_(record_ids),
        OutboxEntry.delivered_at.is_(None)).values(delivered_at=at, attempts=OutboxEntry.attempts + 1,
                                                   last_error=None))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def mark_rejected(*, db_session: Session, carrier_id: uuid.UUID, rejected: Sequence[tuple[uuid.UUID, str]],
                  at: datetime) -> None:
    """The regulator refused these records for good (a seal it cannot open, ...): set them aside with
    the reason; sending them again would change nothing."""
    for record_id, reason in rejected:
        db_session.execute(update(OutboxEntry).where(
            OutboxEntry.carrier_id == carrier_id, OutboxEntry.record_id == record_id,
            OutboxEntry.delivered_at.is_(None)).values(rejected_at=at, rejected_reason=reason[:64],
                                                       attempts=OutboxEntry.attempts + 1))


def mark_attempt_failed(*, db_session: Session, carrier_id: uuid.UUID, record_ids: Sequence[uuid.UUID],
                        error: str) -> None:
    db_session.execute(update(OutboxEntry).where(
        OutboxEntry.carrier_id == carrier_id, OutboxEntry.record_id.in_(record_ids),
        OutboxEntry.delivered_at.is_(None)).values(attempts=OutboxEntry.attempts + 1, last_error=error[:200]))


def record_batch(*, db_session: Session, carrier_id: uuid.UUID, batch_id: uuid.UUID, sent_at: datetime,
                 records: int, outcome: str, accepted: int = 0, rejected: int = 0, error: str | None = None,
                 duration_ms: int = 0) -> None:
    db_session.add(UploadBatch(id=batch_id, carrier_id=carrier_id, sent_at=sent_at, records=records,
                               accepted=accepted, rejected=rejected, outcome=outcome, error=error,
                               duration_ms=duration_ms))
    db_session.flush()


@dataclass(frozen=True)
class Figures:
    """What `/metrics` shows, over every carrier of this database."""

    pending: int
    oldest_age_seconds: float
    rejected: int
    batches: dict[str, int]  # by outcome
    records_delivered: int


def figures(*, db_session: Session) -> Figures:
    oldest, count = db_session.execute(
        select(func.min(OutboxEntry.created_at), func.count())
        .where(OutboxEntry.delivered_at.is_(None), OutboxEntry.rejected_at.is_(None))).one()
    rejected = db_session.scalar(select(func.count()).select_from(OutboxEntry)
                                 .where(OutboxEntry.rejected_at.is_not(None))) or 0
    batches = dict(db_session.execute(select(UploadBatch.outcome, func.count()).group_by(UploadBatch.outcome)).all())
    delivered = db_session.scalar(select(func.coalesce(func.sum(UploadBatch.accepted), 0))) or 0
    age = 0.0 if oldest is None else max(0.0, (now() - oldest).total_seconds())
    return Figures(pending=int(count), oldest_age_seconds=age, rejected=int(rejected),
                   batches={str(k): int(v) for k, v in batches.items()}, records_delivered=int(delivered))


def prometheus(figures: Figures) -> str:
    """The figures in the Prometheus text exposition format (version 0.0.4)."""
    lines = [
        "# HELP parcelguard_regulator_records_pending Real-name records waiting to be sent to the regulator.",
        "# TYPE parcelguard_regulator_records_pending gauge",
        f"parcelguard_regulator_records_pending {figures.pending}",
        "# HELP parcelguard_regulator_oldest_unsent_seconds Age of the oldest unsent record (the rule is 30 s).",
        "# TYPE parcelguard_regulator_oldest_unsent_seconds gauge",
        f"parcelguard_regulator_oldest_unsent_seconds {figures.oldest_age_seconds:.3f}",
        "# HELP parcelguard_regulator_batches_total Batches sent to the regulator, by outcome.",
        "# TYPE parcelguard_regulator_batches_total counter",
        *(f'parcelguard_regulator_batches_total{{outcome="{outcome}"}} {figures.batches.get(outcome, 0)}'
          for outcome in ("receipted", "failed")),
        "# HELP parcelguard_regulator_records_delivered_total Records a signed receipt named.",
        "# TYPE parcelguard_regulator_records_delivered_total counter",
        f"parcelguard_regulator_records_delivered_total {figures.records_delivered}",
        "# HELP parcelguard_regulator_records_rejected Records the regulator refused for good.",
        "# TYPE parcelguard_regulator_records_rejected gauge",
        f"parcelguard_regulator_records_rejected {figures.rejected}",
    ]
    return "\n".join(lines) + "\n"
