"""The platform's month keys for records at rest (issue 15): one per UTC month a record was taken in, made on first
use; the reader answers None for a destroyed one, so its records no longer open."""

from __future__ import annotations

import secrets
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from parcelguard.core.clock import now
from parcelguard.regulator.platform.keys import PlatformKeys
from parcelguard.regulator.platform.models import RecordKey


def month_key(*, db_session: Session, keys: PlatformKeys, period: str) -> tuple[int, bytes]:
    """The live key of `period` (`YYYY-MM`), made in the caller's transaction when there is none. Two batches
    at once may each make one: shredding the month destroys every key it has."""
    row = db_session.scalars(select(RecordKey).where(RecordKey.period == period, RecordKey.destroyed_at.is_(None))
                             .order_by(RecordKey.created_at, RecordKey.id).limit(1)).first()
    if row is not None and row.wrapped_key is not None:
        return row.id, keys.unwrap_month_key(row.id, row.wrapped_key)
    key_id, key = secrets.randbelow(2**63 - 1) + 1, secrets.token_bytes(32)
    db_session.add(RecordKey(id=key_id, period=period, wrapped_key=keys.wrap_month_key(key_id, key), created_at=now()))
    db_session.flush()
    return key_id, key


def reader(*, db_session: Session, keys: PlatformKeys) -> Callable[[int], bytes | None]:
    """`key(id)`: a month key by id, None once destroyed (read once per id for the caller's answer)."""
    found: dict[int, bytes | None] = {}

    def key(key_id: int) -> bytes | None:
        if key_id not in found:
            wrapped = db_session.scalar(select(RecordKey.wrapped_key).where(RecordKey.id == key_id))
            found[key_id] = None if wrapped is None else keys.unwrap_month_key(key_id, wrapped)
        return found[key_id]

    return key
