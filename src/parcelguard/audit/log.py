"""The tamper-evident log: append entries, sign tree heads, serve proofs. Knows nothing of HTTP.

The tree is RFC 9162's. Appending stores each new leaf hash and every perfect subtree it completes,
so roots and proofs read O(log n) stored hashes (see `merkle`). Entries never hold plaintext
personal data: the gate logs who looked at what, not what they saw.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, insert, select, tuple_, union_all, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from parcelguard import verify
from parcelguard.audit import head_chain
from parcelguard.audit.merkle import ProofBuilder, fold, perfect_subtrees
from parcelguard.audit.models import AuditEntry, AuditLog, AuditNode, TreeHead
from parcelguard.core.errors import DomainError, Invalid, NotFound
from parcelguard.crypto.keyring import Keyring

LOG_KEY_PURPOSE = "audit_log"
ENTRY_FIELDS = ("time", "actor", "role", "subject", "fields", "purpose", "case_id", "decision", "reason",
                "request_id")


# Canonical JSON: sorted keys, UTF-8, no spaces: the bytes a leaf hashes (the verifier's definition).
canonical = verify.canonical_entry


@dataclass(frozen=True)
class Appended:
    first_index: int
    size: int  # the tree's size after this append
    head: TreeHead | None  # signed in the same transaction when the append crossed a head interval


def append(
    *, db_session: Session, keyring: Keyring, carrier_id: uuid.UUID, entries: Sequence[dict[str, Any]],
    head_every: int = 1000,
) -> Appended:
    """Append `entries` (dicts with ENTRY_FIELDS) to the carrier's log, in the caller's transaction.

    A tree head is signed in the same transaction whenever the log passes a multiple of `head_every`.
    """
    if not entries:
        raise ValueError("nothing to append")
    count = len(entries)
    first = _reserve(db_session, carrier_id, count)
    stack = _frontier(db_session, carrier_id, first)  # [(level, hash)] of the tree before this append
    entry_rows, node_rows = [], []
    carrier = str(carrier_id)
    for offset, fields in enumerate(entries):
        index = first + offset
        missing = [f for f in ENTRY_FIELDS if f not in fields]
        if missing:
            raise ValueError(f"an audit entry needs {', '.join(missing)}")
        body = {**{f: fields[f] for f in ENTRY_FIELDS}, "index": index, "carrier": carrier}
        raw = canonical(body)
        entry_rows.append((carrier_id, index, _parse_time(fields["time"]),
                           uuid.UUID(fields["actor"]) if fields["actor"] else None, str(fields["subject"]),
                           str(fields["purpose"]), str(fields["decision"]), raw))
        level, node, i = 0, verify.leaf_hash(raw), index
        node_rows.append((carrier_id, 0, i, node))
        while stack and stack[-1][0] == level:  # a perfect subtree is complete: store its hash
            _, left = stack.pop()
            level, node, i = level + 1, verify.node_hash(left, node), i >> 1
            node_rows.append((carrier_id, level, i, node))
        stack.append((level, node))
    _write_rows(db_session, AuditEntry, _ENTRY_COLUMNS, entry_rows)
    _write_rows(db_session, AuditNode, _NODE_COLUMNS, node_rows)
    size = first + count
    head = None
    if head_every and size // head_every > first // head_every:
        head = _sign_head(db_session, keyring, carrier_id, size, fold([h for _, h in stack]))
    return Appended(first_index=first, size=size, head=head)


# (column, PostgreSQL type for binary COPY) in the order rows are built above.
_ENTRY_COLUMNS = (("carrier_id", "uuid"), ("idx", "int8"), ("logged_at", "timestamptz"), ("actor_id", "uuid"),
                  ("subject", "varchar"), ("purpose", "varchar"), ("decision", "varchar"), ("entry", "bytea"))
_NODE_COLUMNS = (("carrier_id", "uuid"), ("level", "int4"), ("idx", "int8"), ("hash", "bytea"))


def _write_rows(db_session: Session, table: Any, columns: tuple[tuple[str, str], ...], rows: list[tuple]) -> None:
    """Insert rows in the session's transaction. On PostgreSQL by binary COPY on the same connection:
    executemany sends one INSERT per row and more than halves the append rate (bench/audit_append.py)."""
    connection = db_session.connection()
    if connection.dialect.name != "postgresql":
        names = [name for name, _ in columns]
        connection.execute(insert(table), [dict(zip(names, row, strict=True)) for row in rows])
        return
    driver = connection.connection.driver_connection  # psycopg: the same connection, the same transaction
    statement = f"COPY {table.__tablename__} ({', '.join(n for n, _ in columns)}) FROM STDIN (FORMAT BINARY)"
    with driver.cursor() as cursor, cursor.copy(statement) as copy:
        copy.set_types([pg_type for _, pg_type in columns])
        for row in rows:
            copy.write_row(row)


def _reserve(db_session: Session, carrier_id: uuid.UUID, count: int) -> int:
    """Reserve `count` indices; the row update also serialises appenders of this carrier."""
    dialect = db_session.get_bind().dialect.name
    ins = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(AuditLog)
    db_session.execute(ins.values(carrier_id=carrier_id, size=0).on_conflict_do_nothing())
    size = db_session.execute(
        update(AuditLog).where(AuditLog.carrier_id == carrier_id).values(size=AuditLog.size + count)
        .returning(AuditLog.size)
    ).scalar_one()
    return int(size) - count


def _frontier(db_session: Session, carrier_id: uuid.UUID, size: int) -> list[tuple[int, bytes]]:
    wanted = perfect_subtrees(0, size)
    nodes = _reader(db_session, carrier_id)(wanted)
    return [(level, nodes[(level, idx)]) for level, idx in wanted]


def _reader(db_session: Session, carrier_id: uuid.UUID):  # type: ignore[no-untyped-def]
    def read(wanted: list[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        if not wanted:
            return {}
        columns = (AuditNode.level, AuditNode.idx, AuditNode.hash)
        if db_session.get_bind().dialect.name == "postgresql":
            # PostgreSQL walks the primary key once per (level, idx) pair of the IN-list.
            query = select(*columns).where(AuditNode.carrier_id == carrier_id,
                                           tuple_(AuditNode.level, AuditNode.idx).in_(wanted))
        else:
            # SQLite plans that IN-list as a scan of the carrier's nodes, O(n) per proof: ask one
            # primary-key lookup per level instead, joined by UNION ALL (O(log n) on both counts).
            by_level: dict[int, list[int]] = {}
            for level, idx in wanted:
                by_level.setdefault(level, []).append(idx)
            parts = [select(*columns).where(AuditNode.carrier_id == carrier_id, AuditNode.level == level,
                                            AuditNode.idx.in_(indices))
                     for level, indices in sorted(by_level.items())]
            query = parts[0] if len(parts) == 1 else union_all(*parts)
        rows = db_session.execute(query)
        found = {(level, idx): h for level, idx, h in rows}
        if len(found) != len(set(wanted)):
            raise LogCorrupt("stored subtree hashes are missing")
        return found

    return read


class LogCorrupt(Exception):
    """The stored tree is incomplete: `parcelguard audit verify` locates the damage."""


def _parse_time(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def size_of(*, db_session: Session, carrier_id: uuid.UUID) -> int:
    return int(db_session.scalar(select(AuditLog.size).where(AuditLog.carrier_id == carrier_id)) or 0)


def root(*, db_session: Session, carrier_id: uuid.UUID, tree_size: int) -> bytes:
    return ProofBuilder(_reader(db_session, carrier_id)).root(tree_size)


# -- tree heads -----------------------------------------------------------------------------------

def sign_tree_head(*, db_session: Session, keyring: Keyring, carrier_id: uuid.UUID) -> TreeHead:
    """Sign a head for the log as it stands now (on demand).

    Takes the log's row lock first, as an append does, so a head is never signed over a size that an
    append in progress is about to pass with a head of its own: heads' timestamps follow their sizes.
    """
    size = db_session.execute(
        update(AuditLog).where(AuditLog.carrier_id == carrier_id).values(size=AuditLog.size)
        .returning(AuditLog.size)
    ).scalar_one_or_none()
    if not size:
        raise Invalid("The log is empty: there is nothing to sign yet.", code="log_empty")
    return _sign_head(db_session, keyring, carrier_id, int(size), root(db_session=db_session, carrier_id=carrier_id,
                                                                        tree_size=int(size)))


def _sign_head(db_session: Session, keyring: Keyring, carrier_id: uuid.UUID, size: int, root_hash: bytes) -> TreeHead:
    _check_against_last_head(db_session, keyring, carrier_id, size)
    signer = keyring.signing_key(db_session=db_session, carrier_id=carrier_id, purpose=LOG_KEY_PURPOSE)
    timestamp = int(time.time() * 1000)
    head = TreeHead(carrier_id=carrier_id, tree_size=size, root_hash=root_hash, timestamp_ms=timestamp,
                    signature=signer.sign(verify.tree_head_message(size, root_hash, timestamp)),
                    key_id=signer.key_id)
    db_session.add(head)
    db_session.flush()
    head_chain.extend(db_session=db_session, keyring=keyring, head=head)
    return head


def _check_against_last_head(db_session: Session, keyring: Keyring, carrier_id: uuid.UUID, size: int) -> None:
    """Refuse to sign over a history that disagrees with the newest genuine signed head: whoever rewrote
    entries and stored hashes alike must not get a fresh signature over the rewrite. O(log n) reads."""
    keys = keyring.public_keys(db_session=db_session, carrier_id=carrier_id, purpose=LOG_KEY_PURPOSE)
    heads = db_session.scalars(select(TreeHead).where(TreeHead.carrier_id == carrier_id, TreeHead.tree_size <= size)
                               .order_by(TreeHead.tree_size.desc(), TreeHead.id.desc()).limit(16))
    for head in heads:
        key = keys.get(head.key_id)
        if key is None or not verify.verify_tree_head(tree_head_document(head), key):
            continue  # a forged row: `parcelguard audit verify` names it; it proves nothing here
        if root(db_session=db_session, carrier_id=carrier_id, tree_size=head.tree_size) != head.root_hash:
            raise LogCorrupt(f"the stored tree no longer matches signed tree head {head.tree_size}")
        return


def latest_tree_head(*, db_session: Session, carrier_id: uuid.UUID) -> TreeHead:
    """The head of the largest tree (a row claiming more entries than the log holds is not a candidate)."""
    size = size_of(db_session=db_session, carrier_id=carrier_id)
    head = db_session.scalar(select(TreeHead).where(TreeHead.carrier_id == carrier_id, TreeHead.tree_size <= size)
                             .order_by(TreeHead.tree_size.desc(), TreeHead.timestamp_ms.desc(), TreeHead.id.desc())
                             .limit(1))
    if head is None:
        raise NotFound("This log has no signed tree head yet.", code="tree_head_unknown")
    return head


def tree_head_document(head: TreeHead) -> dict[str, Any]:
    """A tree head as the API and the export give it (hashes in lowercase hex)."""
    return {"tree_size": head.tree_size, "root_hash": head.root_hash.hex(), "timestamp": head.timestamp_ms,
            "signature": head.signature.hex(), "key_id": head.key_id}


# -- proofs ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class InclusionProof:
    leaf_index: int
    tree_size: int
    leaf_hash: bytes
    proof: list[bytes]
    root_hash: bytes


def inclusion_proof(*, db_session: Session, carrier_id: uuid.UUID, index: int, tree_size: int) -> InclusionProof:
    size = size_of(db_session=db_session, carrier_id=carrier_id)
    if not 0 < tree_size <= size:
        raise Invalid(f"tree_size must be between 1 and the log's size, {size}.", code="tree_size_out_of_range",
                      field="#query/tree_size")
    if not 0 <= index < tree_size:
        raise NotFound("No entry at this index in a tree of this size.", code="entry_unknown")
    leaf, path, root_hash = ProofBuilder(_reader(db_session, carrier_id)).inclusion_with_root(index, tree_size)
    return InclusionProof(leaf_index=index, tree_size=tree_size, leaf_hash=leaf, proof=path, root_hash=root_hash)


@dataclass(frozen=True)
class ConsistencyProof:
    first: int
    second: int
    proof: list[bytes]
    first_root: bytes
    second_root: bytes


def consistency_proof(*, db_session: Session, carrier_id: uuid.UUID, first: int, second: int) -> ConsistencyProof:
    size = size_of(db_session=db_session, carrier_id=carrier_id)
    if not 0 < first <= second <= size:
        raise Invalid(f"Need 0 < first <= second <= {size}, the log's size.", code="tree_size_out_of_range",
                      field="#query/second" if second > size else "#query/first")
    proof, first_root, second_root = ProofBuilder(_reader(db_session, carrier_id)).consistency_with_roots(first, second)
    return ConsistencyProof(first=first, second=second, proof=proof, first_root=first_root, second_root=second_root)


def sign_due_heads(*, db_session: Session, keyring: Keyring) -> tuple[int, list[tuple[uuid.UUID, str]]]:
    """Sign a head for every carrier log that has entries no signed head covers yet. Answers how many
    were signed, and the logs that could not be (each in its own savepoint, with the reason)."""
    latest = (select(TreeHead.carrier_id, func.max(TreeHead.tree_size).label("size"))
              .group_by(TreeHead.carrier_id).subquery())
    due = db_session.execute(
        select(AuditLog.carrier_id).outerjoin(latest, latest.c.carrier_id == AuditLog.carrier_id)
        .where(AuditLog.size > func.coalesce(latest.c.size, 0))
    ).scalars().all()
    signed, failed = 0, []
    for carrier_id in due:
        try:
            with db_session.begin_nested():
                sign_tree_head(db_session=db_session, keyring=keyring, carrier_id=carrier_id)
            signed += 1
        except LogCorrupt as exc:
            failed.append((carrier_id, str(exc)))
    return signed, failed


# -- reading entries ------------------------------------------------------------------------------

@dataclass(frozen=True)
class StoredEntry:
    index: int
    entry: bytes

    @property
    def leaf_hash(self) -> bytes:
        return verify.leaf_hash(self.entry)

    def document(self) -> dict[str, Any]:
        """As the API gives it: `canonical(entry)` is exactly the bytes the leaf hashes."""
        return {"index": self.index, "leaf_hash": self.leaf_hash.hex(), "entry": json.loads(self.entry)}


def find_entries(
    *, db_session: Session, carrier_id: uuid.UUID, actor: uuid.UUID | None = None, subject: str | None = None,
    purpose: str | None = None, decision: str | None = None, since: datetime | None = None,
    until: datetime | None = None, after: int | None = None, limit: int = 100,
) -> list[StoredEntry]:
    """Entries in index order, filtered on the searchable copies of their fields; page with `after`.

    Every entry returned is re-checked: its copies must be its own values, or the search fails with
    `audit_log_damaged` (an edited copy would put an entry under a filter it does not match). An entry
    whose copy was edited away from a filter is missed by the search; `parcelguard audit verify` finds it.
    """
    query = select(AuditEntry.idx, AuditEntry.entry, *_COPIES).where(AuditEntry.carrier_id == carrier_id)
    if actor is not None:
        query = query.where(AuditEntry.actor_id == actor)
    if subject is not None:
        query = query.where(AuditEntry.subject == subject)
    if purpose is not None:
        query = query.where(AuditEntry.purpose == purpose)
    if decision is not None:
        query = query.where(AuditEntry.decision == decision)
    if since is not None:
        query = query.where(AuditEntry.logged_at >= since)
    if until is not None:
        query = query.where(AuditEntry.logged_at < until)
    if after is not None:
        query = query.where(AuditEntry.idx > after)
    try:
        rows = db_session.execute(query.order_by(AuditEntry.idx).limit(limit)).all()
        found = [_checked(*row) for row in rows]
    except (TypeError, ValueError):  # a column's value no longer of its type
        raise LogDamaged(None) from None
    return found


_COPIES = (AuditEntry.logged_at, AuditEntry.actor_id, AuditEntry.subject, AuditEntry.purpose, AuditEntry.decision)


class LogDamaged(DomainError):
    """A search met an entry whose stored copies disagree with it: the log was edited in the database."""

    status = 500
    code = "audit_log_damaged"

    def __init__(self, index: int | None) -> None:
        at = f"entry {index}" if index is not None else "an entry"
        super().__init__(f"The audit log's searchable copy of {at} differs from the logged entry: it was edited in "
                         "the database. Run `parcelguard audit verify`.", extensions={"index": index})


def _checked(idx: int, raw: bytes, logged_at: datetime, actor: uuid.UUID | None, subject: str, purpose: str,
             decision: str) -> StoredEntry:
    copies = {"time": logged_at.isoformat(), "actor": str(actor) if actor else None, "subject": subject,
              "purpose": purpose, "decision": decision}
    body = json.loads(bytes(raw))
    if not isinstance(body, dict) or verify.wrong_copy(body, copies) is not None:
        raise LogDamaged(idx)
    return StoredEntry(index=idx, entry=bytes(raw))


def get_entry(*, db_session: Session, carrier_id: uuid.UUID, index: int) -> StoredEntry:
    raw = db_session.scalar(select(AuditEntry.entry).where(AuditEntry.carrier_id == carrier_id,
                                                           AuditEntry.idx == index))
    if raw is None:
        raise NotFound("No entry at this index.", code="entry_unknown")
    return StoredEntry(index=index, entry=raw)
