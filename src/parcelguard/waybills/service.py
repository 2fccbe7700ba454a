"""Allocating waybill numbers: a per-carrier database counter, permuted by the carrier's key.

On PostgreSQL counters are taken in blocks, in a short transaction of their own, so concurrent
intakes never wait on one another's counter row; a block a process does not use up leaves a gap,
which the permutation hides. SQLite lets one writer in at a time anyway, and a second transaction
could not write after the caller's has read: there the counter moves in the caller's transaction,
by exactly what it takes (a rollback gives the numbers back).
"""

from __future__ import annotations

import threading
import uuid

from sqlalchemy import Connection, Engine, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from parcelguard.crypto.keyring import Keyring
from parcelguard.waybills.models import WaybillCounter
from parcelguard.waybills.numbers import WaybillNumbers

KEY_PURPOSE = "waybill_numbers"
BLOCK = 100

_lock = threading.Lock()
_blocks: dict[tuple[int, uuid.UUID], tuple[int, int]] = {}  # (engine, carrier) -> [next, end)
_numberers: dict[tuple[uuid.UUID, str], WaybillNumbers] = {}


def allocate(*, db_session: Session, keyring: Keyring, carrier_id: uuid.UUID, prefix: str, count: int = 1) -> list[str]:
    """`count` fresh waybill numbers of the carrier."""
    numberer = _numberers.get((carrier_id, prefix))
    if numberer is None:
        numberer = WaybillNumbers(keyring.stable_key(db_session=db_session, carrier_id=carrier_id,
                                                     purpose=KEY_PURPOSE), prefix)
        _numberers[(carrier_id, prefix)] = numberer
    return [numberer.format(counter) for counter in _counters(db_session, carrier_id, count)]


def _counters(db_session: Session, carrier_id: uuid.UUID, count: int) -> list[int]:
    engine = db_session.get_bind()
    if engine.dialect.name != "postgresql":
        start, end = _take(db_session.connection(), carrier_id, count)
        return list(range(start, end))
    key = (id(engine), carrier_id)
    out: list[int] = []
    with _lock:
        while len(out) < count:
            start, end = _blocks.get(key, (0, 0))
            if start >= end:
                start, end = _take_block(engine, carrier_id, max(BLOCK, count - len(out)))
            take = min(end - start, count - len(out))
            out.extend(range(start, start + take))
            _blocks[key] = (start + take, end)
    return out


def _take_block(engine: Engine, carrier_id: uuid.UUID, size: int) -> tuple[int, int]:
    with engine.begin() as conn:
        return _take(conn, carrier_id, size)


def _take(conn: Connection, carrier_id: uuid.UUID, size: int) -> tuple[int, int]:
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    conn.execute(insert(WaybillCounter).values(carrier_id=carrier_id, next_value=1).on_conflict_do_nothing())
    end = conn.execute(update(WaybillCounter).where(WaybillCounter.carrier_id == carrier_id)
                       .values(next_value=WaybillCounter.next_value + size)
                       .returning(WaybillCounter.next_value)).scalar_one()
    return int(end) - size, int(end)
