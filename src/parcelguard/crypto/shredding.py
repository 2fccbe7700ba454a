"""Crypto-shredding (issue 15): destroy a month of one data class by destroying its shredding keys
(`crypto.keystore`) and marking its data keys destroyed; every value under them then fails to decrypt
(`KeyUnavailable`), in this database and, with a separate key store, in any copy of it taken before.

Idempotent and safe to repeat after a crash: the key store's keys go first (after that the month is unreadable,
whatever else happens), then the data keys' rows are marked in the caller's transaction; a repeat finds the
keys gone and marks what is left. Knows no domain: which months are due is `retention`'s question.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import case, func, select, update
from sqlalchemy.orm import Session

from parcelguard.core.clock import now
from parcelguard.crypto.keyring import Keyring
from parcelguard.crypto.models import DataKey


@dataclass(frozen=True)
class Shredded:
    data_class: str
    periods: tuple[str, ...]
    shred_key_ids: tuple[int, ...]  # destroyed in the key store now
    data_key_ids: tuple[int, ...]  # marked destroyed now


@dataclass(frozen=True)
class Month:
    """A class's month as the keys stand: data keys live and destroyed, and whether a shredding key is held."""

    data_class: str
    period: str
    live: int
    destroyed: int
    shred_keys: int


def shred(*, db_session: Session, keyring: Keyring, carrier_id: uuid.UUID, data_class: str,
          periods: Sequence[str]) -> Shredded:
    """Destroy the months `periods` (`YYYY-MM`) of `data_class` for one carrier."""
    held = keyring.keystore.destroy(db_session, carrier_id, data_class, list(periods))
    ids = list(db_session.scalars(select(DataKey.id).where(
        DataKey.carrier_id == carrier_id, DataKey.data_class == data_class, DataKey.period.in_(periods),
        DataKey.destroyed_at.is_(None)).order_by(DataKey.id)))
    if ids:
        db_session.execute(update(DataKey).where(DataKey.id.in_(ids)).values(wrapped_key=None, destroyed_at=now()))
    keyring.forget_data_keys(set(ids))
    return Shredded(data_class=data_class, periods=tuple(periods), shred_key_ids=tuple(sorted(h.key_id for h in held)),
                    data_key_ids=tuple(ids))


def months(*, db_session: Session, keyring: Keyring, carrier_id: uuid.UUID) -> list[Month]:
    """Every (class, month) the carrier has keys for, oldest first."""
    rows = db_session.execute(
        select(DataKey.data_class, DataKey.period, func.sum(case((DataKey.destroyed_at.is_(None), 1), else_=0)),
               func.sum(case((DataKey.destroyed_at.is_not(None), 1), else_=0)))
        .where(DataKey.carrier_id == carrier_id).group_by(DataKey.data_class, DataKey.period)).all()
    held: dict[tuple[str, str], int] = {}
    for key in keyring.keystore.held(db_session, carrier_id):
        held[key.data_class, key.period] = held.get((key.data_class, key.period), 0) + 1
    found = {(c, p): Month(c, p, int(live or 0), int(gone or 0), held.get((c, p), 0)) for c, p, live, gone in rows}
    for (c, p), n in held.items():
        found.setdefault((c, p), Month(c, p, 0, 0, n))
    return sorted(found.values(), key=lambda m: (m.period, m.data_class))
