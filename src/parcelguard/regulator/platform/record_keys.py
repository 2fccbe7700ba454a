"""The platform's month keys for records at rest (issue 15): one per UTC month a record was taken in, made on first
use; the reader answers None for a destroyed one, so its records no longer open.

A key's row (`record_keys`: id, month, when made, when destroyed) is always in the platform database. Its wrapped
bytes are there too, unless the platform has a key store of its own (`PlatformKeys.keystore`,
`PARCELGUARD_REGULATOR_KEYSTORE_URL`): then they live only in the store, whose writes commit at once, and
destroying a month deletes them there and erases their bytes, so a backup of the platform database taken before
no longer opens the month either."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from parcelguard.core.clock import now
from parcelguard.regulator.platform.keys import PlatformKeys
from parcelguard.regulator.platform.models import RecordKey

# The key store is keyed by (carrier, class, month): the platform is its one tenant.
STORE_OWNER = uuid.UUID(int=0)
STORE_CLASS = "regulator_record"


def month_key(*, db_session: Session, keys: PlatformKeys, period: str) -> tuple[int, bytes]:
    """The live key of `period` (`YYYY-MM`), made in the caller's transaction when there is none. Two batches
    at once may each make one: shredding the month destroys every key it has."""
    if keys.keystore is not None:
        return _in_store(db_session, keys, period)
    row = db_session.scalars(select(RecordKey).where(RecordKey.period == period, RecordKey.destroyed_at.is_(None))
                             .order_by(RecordKey.created_at, RecordKey.id).limit(1)).first()
    if row is not None and row.wrapped_key is not None:
        return row.id, keys.unwrap_month_key(row.id, row.wrapped_key)
    key_id, key = secrets.randbelow(2**63 - 1) + 1, secrets.token_bytes(32)
    db_session.add(RecordKey(id=key_id, period=period, wrapped_key=keys.wrap_month_key(key_id, key), created_at=now()))
    db_session.flush()
    return key_id, key


def _in_store(db_session: Session, keys: PlatformKeys, period: str) -> tuple[int, bytes]:
    store = keys.keystore
    assert store is not None
    found = store.find(db_session, STORE_OWNER, STORE_CLASS, period)
    if found is None:
        key_id, key = secrets.randbelow(2**63 - 1) + 1, secrets.token_bytes(32)
        found = store.add(db_session, key_id, STORE_OWNER, STORE_CLASS, period, keys.wrap_month_key(key_id, key))
    key_id, wrapped = found
    # the store commits at once; the row is in the caller's transaction (a rolled-back one left the key unlisted)
    if db_session.get(RecordKey, key_id) is None:
        db_session.add(RecordKey(id=key_id, period=period, wrapped_key=None, created_at=now()))
        db_session.flush()
    return key_id, keys.unwrap_month_key(key_id, wrapped)


def reader(*, db_session: Session, keys: PlatformKeys) -> Callable[[int], bytes | None]:
    """`key(id)`: a month key by id, None once destroyed (read once per id for the caller's answer)."""
    found: dict[int, bytes | None] = {}

    def key(key_id: int) -> bytes | None:
        if key_id not in found:
            row = db_session.execute(select(RecordKey.wrapped_key, RecordKey.destroyed_at)
                                     .where(RecordKey.id == key_id)).first()
            wrapped = None if row is None else row[0]
            if wrapped is None and row is not None and row[1] is None and keys.keystore is not None:
                wrapped = keys.keystore.get(db_session, key_id)
            found[key_id] = None if wrapped is None else keys.unwrap_month_key(key_id, wrapped)
        return found[key_id]

    return key


def destroy_in_store(*, db_session: Session, keys: PlatformKeys, period: str) -> list[int]:
    """Delete the month's keys from the platform's own key store (committed at once, before the caller's
    transaction marks them destroyed: a crash between leaves the month unreadable, and a repeat marks it)."""
    if keys.keystore is None:
        return []
    return [held.key_id for held in keys.keystore.destroy(db_session, STORE_OWNER, STORE_CLASS, [period])]
