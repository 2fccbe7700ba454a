"""The console's access log (issue 16): every search of the company's orders and every reveal of an order's
parties is an entry, hash-chained per company, written in the same transaction as, and before, the answer. An entry
keeps the query's kind and a keyed digest of it (`keys.EnterpriseKeys.query_digest`), never the query; a reveal
names the order. `verify` walks a company's chain. No HTTP."""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from parcelguard.core.clock import now
from parcelguard.enterprise.platform.models import AccessEntry

GENESIS = bytes(32)
PURPOSES = frozenset({"customer_service", "lost_waybill", "claim", "audit"})


def _digest(prev: bytes, entry: AccessEntry) -> bytes:
    fields = {"company_id": str(entry.company_id), "seq": entry.seq, "at": entry.at.isoformat(),
              "employee_id": str(entry.employee_id), "action": entry.action, "kind": entry.kind,
              "subject": entry.subject, "purpose": entry.purpose, "found": entry.found}
    return hashlib.sha256(prev + json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()).digest()


def append(*, db_session: Session, company_id: uuid.UUID, employee_id: uuid.UUID, action: str, kind: str,
           subject: str, purpose: str, found: int) -> AccessEntry:
    """Append an entry in the caller's transaction (the company's last entry is locked first, so two appends
    cannot both follow it; on SQLite the request's write lock does that)."""
    last = db_session.execute(select(AccessEntry.seq, AccessEntry.hash).where(AccessEntry.company_id == company_id)
                              .order_by(AccessEntry.seq.desc()).limit(1).with_for_update()).first()
    seq, prev = (last[0] + 1, last[1]) if last is not None else (1, GENESIS)
    entry = AccessEntry(company_id=company_id, seq=seq, at=now(), employee_id=employee_id, action=action, kind=kind,
                        subject=subject, purpose=purpose, found=found, prev_hash=prev, hash=b"")
    entry.hash = _digest(prev, entry)
    db_session.add(entry)
    db_session.flush()
    return entry


@dataclass(frozen=True)
class Verified:
    entries: int
    broken_at: int | None  # the first entry whose hash or link does not hold

    @property
    def ok(self) -> bool:
        return self.broken_at is None


def verify(*, db_session: Session, company_id: uuid.UUID) -> Verified:
    prev, count = GENESIS, 0
    for entry in db_session.scalars(select(AccessEntry).where(AccessEntry.company_id == company_id)
                                    .order_by(AccessEntry.seq)):
        count += 1
        if entry.seq != count or entry.prev_hash != prev or entry.hash != _digest(prev, entry):
            return Verified(entries=count, broken_at=entry.seq)
        prev = entry.hash
    return Verified(entries=count, broken_at=None)


def listed(*, db_session: Session, company_id: uuid.UUID, limit: int = 200) -> list[AccessEntry]:
    return list(db_session.scalars(select(AccessEntry).where(AccessEntry.company_id == company_id)
                                   .order_by(AccessEntry.seq.desc()).limit(limit)))


def count(*, db_session: Session, company_id: uuid.UUID) -> int:
    return int(db_session.scalar(select(func.count()).select_from(AccessEntry)
                                 .where(AccessEntry.company_id == company_id)) or 0)
