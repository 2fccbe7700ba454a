"""The lookup log: every lookup an official makes on the platform, appended before the answer leaves, in
a hash chain a deleted or edited entry breaks. No HTTP.

Entry `n` holds `entry_hash(n) = SHA-256(entry_hash(n-1) || content(n))`, with 32 zero bytes before the
first entry, where `content` is the canonical JSON (`protocol.canonical`: keys sorted, no white space,
UTF-8) of `{seq, at, official, username, kind, doc_type, query, found, request_id}`. The one head row
holds the size and the newest hash, signed with the platform's Ed25519 seed (`keys.LOOKUP_HEAD_DOMAIN`),
so dropping the newest entries shows too. Appenders lock the head row (PostgreSQL: `SELECT ... FOR
UPDATE`; SQLite: the write transaction `db.begin_write` starts), so entries follow one another.

What the chain proves: an entry edited, deleted or inserted after the fact shows on `verify`, unless whoever
did it also holds the platform's signing seed and rewrote every later entry and the head. A copy of the
signed head kept elsewhere (the head is in `GET /api/v1/lookups`) also catches a rollback to an earlier head.
"""

from __future__ import annotations

import dataclasses
import hashlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from parcelguard.core.auth import Actor
from parcelguard.core.clock import now
from parcelguard.regulator import protocol
from parcelguard.regulator.platform.keys import PlatformKeys
from parcelguard.regulator.platform.models import LookupLogEntry, LookupLogHead

GENESIS = bytes(32)
HEAD_ID = 1
KINDS = frozenset({"waybill", "document"})


def entry_content(entry: LookupLogEntry | EntryView) -> bytes:
    """The bytes an entry's hash covers, besides the previous hash."""
    content = {
        "seq": entry.seq, "at": protocol.format_time(entry.at), "official": str(entry.official_id),
        "username": entry.username, "kind": entry.kind, "doc_type": entry.doc_type,
        "query": entry.query_digest.hex(), "found": entry.found, "request_id": entry.request_id,
    }
    if entry.purpose is not None:  # entries from before purposes were stated keep the hashes they had
        content["purpose"] = entry.purpose
    return protocol.canonical(content)


def chain(previous: bytes, content: bytes) -> bytes:
    return hashlib.sha256(previous + content).digest()


def head_message(size: int, head_hash: bytes) -> bytes:
    """What the head's signature covers."""
    return f"{size}|{head_hash.hex()}".encode()


@dataclass(frozen=True)
class EntryView:
    """An entry as stored (and as `GET /api/v1/lookups` lists it)."""

    seq: int
    at: datetime
    official_id: uuid.UUID
    username: str
    kind: str
    doc_type: str | None
    query_digest: bytes
    found: int
    request_id: str | None
    entry_hash: bytes
    purpose: str | None = None


def append(*, db_session: Session, keys: PlatformKeys, actor: Actor, kind: str, doc_type: str | None,
           query_digest: bytes, found: int, request_id: str | None, purpose: str | None = None) -> EntryView:
    """Append one entry in the caller's transaction (which must be a write transaction: `db.begin_write`
    before its first statement on SQLite). The caller answers only after its transaction commits."""
    if kind not in KINDS:
        raise ValueError(f"a lookup is one of {sorted(KINDS)}")
    row = _locked_head(db_session)
    entry = EntryView(seq=row.size, at=now(), official_id=actor.user_id, username=actor.username, kind=kind,
                      doc_type=doc_type, query_digest=query_digest, found=found,
                      request_id=request_id[:64] if request_id else None, entry_hash=b"", purpose=purpose)
    entry_hash = chain(row.head_hash, entry_content(entry))
    db_session.add(LookupLogEntry(seq=entry.seq, at=entry.at, official_id=entry.official_id,
                                  username=entry.username, kind=kind, doc_type=doc_type,
                                  query_digest=query_digest, found=found, request_id=entry.request_id,
                                  purpose=purpose, entry_hash=entry_hash))
    row.size = entry.seq + 1
    row.head_hash = entry_hash
    row.key_id = keys.receipt_key_id
    row.signature = keys.sign_lookup_head(head_message(row.size, entry_hash))
    db_session.flush()
    return dataclasses.replace(entry, entry_hash=entry_hash)


def _locked_head(db_session: Session) -> LookupLogHead:
    insert = postgresql.insert if db_session.get_bind().dialect.name == "postgresql" else sqlite.insert
    db_session.execute(insert(LookupLogHead).values(id=HEAD_ID, size=0, head_hash=GENESIS)
                       .on_conflict_do_nothing(index_elements=["id"]))
    return db_session.scalars(select(LookupLogHead).where(LookupLogHead.id == HEAD_ID)
                              .with_for_update().execution_options(populate_existing=True)).one()


@dataclass(frozen=True)
class Head:
    size: int
    head_hash: bytes
    key_id: str | None
    signature: bytes | None


def head(*, db_session: Session) -> Head:
    row = db_session.get(LookupLogHead, HEAD_ID)
    if row is None:
        return Head(size=0, head_hash=GENESIS, key_id=None, signature=None)
    return Head(size=row.size, head_hash=row.head_hash, key_id=row.key_id, signature=row.signature)


def entries(*, db_session: Session, before: int | None = None, limit: int = 100) -> list[EntryView]:
    """The newest `limit` entries (below `before`, when given), newest first."""
    query = select(LookupLogEntry).order_by(LookupLogEntry.seq.desc()).limit(limit)
    if before is not None:
        query = query.where(LookupLogEntry.seq < before)
    return [_view(row) for row in db_session.scalars(query)]


def _view(row: LookupLogEntry) -> EntryView:
    return EntryView(seq=row.seq, at=row.at, official_id=row.official_id, username=row.username, kind=row.kind,
                     doc_type=row.doc_type, query_digest=row.query_digest, found=row.found,
                     request_id=row.request_id, entry_hash=row.entry_hash, purpose=row.purpose)


# -- verification --------------------------------------------------------------------------------

class Damage:
    """What `verify` found wrong: stable codes."""

    ENTRY_MISSING = "entry_missing"  # a sequence number is absent (the entry was deleted)
    # the entry's stored hash does not follow from the previous hash and its content: it was edited (or
    # the entry before it was rewritten with a hash of its own)
    ENTRY_ALTERED = "entry_altered"
    HEAD_MISMATCH = "head_mismatch"  # the head names another size or hash than the entries give
    HEAD_SIGNATURE = "head_signature"  # the head's signature does not verify with the platform's key


@dataclass(frozen=True)
class Problem:
    seq: int | None
    code: str


@dataclass(frozen=True)
class Verification:
    size: int  # entries the log should hold: the last sequence number read, plus one
    problems: tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        return not self.problems

    def line(self) -> str:
        if self.ok:
            return f"ok: {self.size} lookup(s), chain and signed head intact"
        shown = ", ".join(f"{p.code} at {p.seq}" if p.seq is not None else p.code for p in self.problems[:10])
        more = f" and {len(self.problems) - 10} more" if len(self.problems) > 10 else ""
        return f"DAMAGED: {shown}{more}"


def verify(*, db_session: Session, keys: PlatformKeys) -> Verification:
    """Recompute the chain from the first entry and check the signed head. Reads the log once, in order
    (streamed, so its length does not bound memory). After a problem it carries on from the stored hash, so
    one edited entry is reported once, not for every entry after it."""
    problems: list[Problem] = []
    previous: bytes = GENESIS
    expected = 0
    for row in _in_order(db_session):
        if row.seq != expected:
            # entries deleted (at most 100 named per gap); the one before this is gone, so its hash is
            # not checked against this one
            problems.extend(Problem(seq, Damage.ENTRY_MISSING) for seq in range(expected, min(row.seq, expected + 100)))
        elif chain(previous, entry_content(row)) != row.entry_hash:
            problems.append(Problem(row.seq, Damage.ENTRY_ALTERED))
        previous, expected = row.entry_hash, row.seq + 1
    current = head(db_session=db_session)
    if (current.size, current.head_hash) != (expected, previous):
        problems.append(Problem(None, Damage.HEAD_MISMATCH))
    if expected and (current.signature is None or current.key_id != keys.receipt_key_id
                     or not keys.lookup_head_signed(head_message(current.size, current.head_hash),
                                                    current.signature)):
        problems.append(Problem(None, Damage.HEAD_SIGNATURE))
    return Verification(size=expected, problems=tuple(problems))


def _in_order(db_session: Session) -> Iterator[EntryView]:
    rows = db_session.execute(select(LookupLogEntry).order_by(LookupLogEntry.seq).execution_options(yield_per=1000))
    for (row,) in rows:
        yield _view(row)
