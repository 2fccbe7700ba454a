"""The auth epoch: one counter that every change of who may act increases, in the transaction of the change.

Each worker process keeps the actors it authenticated for a moment (`core.auth.ActorCache`), tagged with the
epoch read before the lookup; it trusts one only while the epoch is still that, one primary-key read per request
instead of the token lookup. So a sign-out, a revoked terminal, a retired or contained account holds in every
process from the commit on, not after the cache's seconds.
"""

from __future__ import annotations

from sqlalchemy import Connection, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from parcelguard.accounts.models import AuthEpoch

ROW = 1


_CURRENT = select(AuthEpoch.epoch).where(AuthEpoch.id == ROW)


def current(*, db_session: Session | Connection) -> int:
    """The epoch now (0 before the first change): one primary-key read, on a session or a bare connection."""
    return db_session.scalar(_CURRENT) or 0


def bump(*, db_session: Session) -> None:
    """Count a change of who may act, in the caller's transaction (on PostgreSQL its row lock orders the
    changes until the caller commits)."""
    insert = postgresql.insert if db_session.get_bind().dialect.name == "postgresql" else sqlite.insert
    db_session.execute(insert(AuthEpoch).values(id=ROW, epoch=1).on_conflict_do_update(
        index_elements=[AuthEpoch.id], set_={"epoch": AuthEpoch.epoch + 1}))
