"""The platform's own retention (issue 15): the regulator keeps a record no longer than its retention (24 months
by default, `PARCELGUARD_REGULATOR_RETENTION_MONTHS`: as long as the carrier keeps the waybill), counted by the
month it was taken in. A month past it is destroyed in one transaction: its record keys destroyed (its payloads
stop opening; with a key store of its own, in backups too: `record_keys`), its rows gone (on PostgreSQL its
monthly partition detached and dropped, `partitions`; elsewhere deleted), and a destruction record signed with
the platform's key kept. Idempotent; the
platform's server runs it daily, `parcelguard regulator retention run` by hand. Knows nothing of HTTP.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from parcelguard.core.clock import now
from parcelguard.core.db import begin_write
from parcelguard.crypto import signing
from parcelguard.regulator.platform import partitions, record_keys
from parcelguard.regulator.platform.keys import PlatformKeys
from parcelguard.regulator.platform.models import PlatformDestruction, ReceivedRecord, RecordKey
from parcelguard.regulator.protocol import canonical

DOMAIN = b"parcelguard/regulator/destruction/v1\n"
DEFAULT_MONTHS = 24


@dataclass(frozen=True)
class Month:
    period: str
    expires_at: datetime
    live_keys: int


def _start(period: str, plus: int = 0) -> datetime:
    year, month = (int(p) for p in period.split("-"))
    total = year * 12 + month - 1 + plus
    return datetime(total // 12, total % 12 + 1, 1, tzinfo=UTC)


def plan(*, db_session: Session, months: int = DEFAULT_MONTHS) -> list[Month]:
    """Every month the platform holds records or live keys for, oldest first, with the day it goes."""
    periods = {p: n for p, n in db_session.execute(
        select(RecordKey.period, func.count()).where(RecordKey.destroyed_at.is_(None)).group_by(RecordKey.period))}
    oldest = db_session.scalar(select(func.min(ReceivedRecord.taken_at)))
    if oldest is not None:  # records of format 1 (before month keys) have none: their months come from the rows
        period = oldest.astimezone(UTC).strftime("%Y-%m")
        newest = now().strftime("%Y-%m")
        while period <= newest:
            periods.setdefault(period, 0)
            period = _start(period, 1).strftime("%Y-%m")
    return [Month(p, _start(p, 1 + months), n) for p, n in sorted(periods.items())]


def run(*, sessionmaker: Callable[[], Session], keys: PlatformKeys, months: int = DEFAULT_MONTHS,
        at: datetime | None = None) -> list[dict[str, object]]:
    """Destroy every month past its retention at `at` (now); answers the signed records written."""
    at = at or now()
    with sessionmaker() as session:
        due = [m for m in plan(db_session=session, months=months) if m.expires_at <= at]
    written = []
    for month in due:
        with sessionmaker() as session, session.begin():
            begin_write(session)
            done = _destroy(session, keys, month, at)
        if done is not None:
            written.append(done)
    return written


def _destroy(db_session: Session, keys: PlatformKeys, month: Month, at: datetime) -> dict[str, object] | None:
    record_keys.destroy_in_store(db_session=db_session, keys=keys, period=month.period)
    key_ids = sorted(db_session.scalars(select(RecordKey.id).where(RecordKey.period == month.period,
                                                                   RecordKey.destroyed_at.is_(None))))
    if key_ids:
        db_session.execute(update(RecordKey).where(RecordKey.id.in_(key_ids)).values(wrapped_key=None,
                                                                                     destroyed_at=at))
    # PostgreSQL: the month's partition goes whole (counted first); what is left of the month (rows that sat in
    # the DEFAULT partition, or every row on SQLite) is deleted row by row
    dropped = partitions.drop_month(db_session.connection(), month.period) or 0
    window = (ReceivedRecord.taken_at >= _start(month.period), ReceivedRecord.taken_at < _start(month.period, 1))
    deleted = dropped + (db_session.execute(delete(ReceivedRecord).where(*window)).rowcount or 0)
    if not key_ids and not deleted:
        return None
    record_id = uuid.uuid4()
    body = {"type": "destruction", "version": 1, "platform": "regulator", "record_id": str(record_id),
            "at": at.isoformat(), "period": month.period, "expired_at": month.expires_at.isoformat(),
            "records_deleted": int(deleted), "record_key_ids": key_ids, "receipt_key_id": keys.receipt_key_id,
            "key_store": "separate" if keys.keystore is not None else "database"}
    raw = canonical(body)
    signature = keys.sign(DOMAIN, raw)
    db_session.add(PlatformDestruction(id=record_id, period=month.period, created_at=at, body=raw, signature=signature))
    return {"record": body, "signature": signature.hex()}


def records(*, db_session: Session) -> list[dict[str, object]]:
    rows = db_session.scalars(select(PlatformDestruction).order_by(PlatformDestruction.created_at))
    return [{"record": json.loads(r.body), "signature": r.signature.hex()} for r in rows]


def verify(wire: dict[str, object], public_key: bytes) -> bool:
    raw = canonical(wire["record"])
    try:
        signing.verify(public_key, DOMAIN + raw, bytes.fromhex(str(wire["signature"])))
    except signing.BadSignature:
        return False
    return True
