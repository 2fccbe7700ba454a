"""A carrier's audit log as JSON lines, read from the database in index order, for `parcelguard audit
export` and `parcelguard audit verify`. Both stream in chunks: a log of millions of entries is never in memory.

The records are the export format (docs/security.md, "Verifying a carrier's audit log"); the checking
itself is `parcelguard.verify.verify_log`, the same code a regulator runs on the exported file.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from parcelguard import verify
from parcelguard.audit import log
from parcelguard.audit.models import AuditEntry, AuditNode, TreeHead
from parcelguard.crypto.keyring import Keyring

CHUNK = 5000


def snapshot(db_session: Session) -> None:
    """Read the whole log from one snapshot, so appends committed meanwhile cannot look like damage.

    Call first in the transaction. SQLite (WAL) reads from one snapshot per transaction already;
    PostgreSQL's default, READ COMMITTED, would see each statement's own.
    """
    if db_session.get_bind().dialect.name == "postgresql":
        db_session.connection(execution_options={"isolation_level": "REPEATABLE READ"})


def public_keys(*, db_session: Session, keyring: Keyring, carrier_id: uuid.UUID) -> dict[int, bytes]:
    """The carrier's audit-log public keys by key id, as it publishes them."""
    return keyring.public_keys(db_session=db_session, carrier_id=carrier_id, purpose=log.LOG_KEY_PURPOSE)


def records(*, db_session: Session, keys: Mapping[int, bytes], carrier_id: uuid.UUID, chunk: int = CHUNK,
            subtree_hashes: bool = False) -> Iterator[dict[str, Any]]:
    """The log's records: header, every signed tree head, then every stored entry row in index order.

    Entries carry the exact stored bytes and the stored leaf hash; with `subtree_hashes`, also the stored
    hashes of the perfect subtrees each entry completes (for `verify` on the database: every stored node is
    then checked). Nothing is filtered: rows beyond the log's size and heads larger than it are damage the
    checker must see.
    """
    size = log.size_of(db_session=db_session, carrier_id=carrier_id)
    yield {"type": "log", "carrier": str(carrier_id), "size": size,
           "public_keys": {str(key_id): key.hex() for key_id, key in sorted(keys.items())}}
    heads = db_session.scalars(select(TreeHead).where(TreeHead.carrier_id == carrier_id)
                               .order_by(TreeHead.tree_size, TreeHead.timestamp_ms, TreeHead.id))
    for head in heads:
        yield {"type": "head", **log.tree_head_document(head)}
    start = 0
    while True:
        # Plain range reads on primary keys: joined, PostgreSQL may plan a hash join over both whole tables.
        rows = db_session.execute(
            select(AuditEntry.idx, AuditEntry.entry).where(AuditEntry.carrier_id == carrier_id, AuditEntry.idx >= start)
            .order_by(AuditEntry.idx).limit(chunk)
        ).all()
        if not rows:
            return
        end = rows[-1].idx + 1
        leaves = {idx: h for idx, h in db_session.execute(
            select(AuditNode.idx, AuditNode.hash).where(AuditNode.carrier_id == carrier_id, AuditNode.level == 0,
                                                        AuditNode.idx >= start, AuditNode.idx < end))}
        nodes = _completed_subtrees(db_session, carrier_id, start, end) if subtree_hashes else {}
        for idx, raw in rows:
            leaf = leaves.get(idx)
            record = {"type": "entry", "index": idx, "entry": bytes(raw).decode("utf-8", "surrogateescape"),
                      "leaf_hash": bytes(leaf).hex() if leaf is not None else None}
            if subtree_hashes:
                record["subtree_hashes"] = [_hex(nodes.get((level, idx))) for level in range(1, _ones(idx) + 1)]
            yield record
        start = end


def _completed_subtrees(db_session: Session, carrier_id: uuid.UUID, start: int,
                        end: int) -> dict[tuple[int, int], bytes]:
    """Stored hashes of the perfect subtrees (level >= 1) whose last leaf is in [start, end), keyed by
    (level, last leaf)."""
    ranges = []
    level = 1
    while (1 << level) <= end:
        # node idx at `level` covers leaves [idx << level, (idx + 1) << level): its last leaf is in range
        low, high = -(-(start + 1) >> level) - 1, (end >> level) - 1
        if low <= high:
            ranges.append(and_(AuditNode.level == level, AuditNode.idx.between(low, high)))
        level += 1
    if not ranges:
        return {}
    rows = db_session.execute(select(AuditNode.level, AuditNode.idx, AuditNode.hash)
                              .where(AuditNode.carrier_id == carrier_id, or_(*ranges)))
    return {(lv, ((idx + 1) << lv) - 1): bytes(h) for lv, idx, h in rows}


def _ones(n: int) -> int:
    """Trailing 1 bits of n: how many perfect subtrees leaf n completes."""
    return (n ^ (n + 1)).bit_length() - 1


def _hex(value: bytes | None) -> str | None:
    return value.hex() if value is not None else None


@dataclass(frozen=True)
class Exported:
    entries: int
    heads: int


def write(*, db_session: Session, keyring: Keyring, carrier_id: uuid.UUID, out: TextIO,
          chunk: int = CHUNK) -> Exported:
    """Write the export (JSON lines, ASCII) to `out`. Call `snapshot` first."""
    keys = public_keys(db_session=db_session, keyring=keyring, carrier_id=carrier_id)
    counts = {"entry": 0, "head": 0, "log": 0}
    for record in records(db_session=db_session, keys=keys, carrier_id=carrier_id, chunk=chunk):
        # ASCII (non-ASCII text escaped): the file survives any transport, and the entry string still
        # decodes to the exact stored bytes.
        out.write(json.dumps(record, separators=(",", ":")) + "\n")
        counts[record["type"]] += 1
    return Exported(entries=counts["entry"], heads=counts["head"])


def verify_database(*, db_session: Session, keyring: Keyring, carrier_id: uuid.UUID,
                    keys: Mapping[int, bytes] | None = None, any_id_keys: Sequence[bytes] = (),
                    chunk: int = CHUNK) -> verify.LogReport:
    """`verify_log` over the stored log, every stored subtree hash included; then the consistency proofs the
    API would serve between consecutive good heads. Keys default to the carrier's keyring. Call `snapshot` first.
    """
    if keys is None:
        keys = public_keys(db_session=db_session, keyring=keyring, carrier_id=carrier_id)
    stream = records(db_session=db_session, keys=keys, carrier_id=carrier_id, chunk=chunk, subtree_hashes=True)
    report = verify.verify_log(stream, keys, any_id_keys=any_id_keys)
    if report.ok:
        bad = served_proofs(db_session=db_session, carrier_id=carrier_id, heads=report.heads)
        if bad is not None:
            return dataclasses.replace(report, bad=bad)
    return report


def served_proofs(*, db_session: Session, carrier_id: uuid.UUID,
                  heads: Sequence[verify.CheckedHead]) -> verify.Bad | None:
    """Do the proofs `log` serves from stored nodes agree with the signed heads? The root at the first head,
    then a consistency proof from each head to the next."""
    previous: verify.CheckedHead | None = None
    for head in heads:
        if head.tree_size == 0 or (previous is not None and previous.tree_size == head.tree_size):
            continue
        try:
            if previous is None:
                stored = log.root(db_session=db_session, carrier_id=carrier_id, tree_size=head.tree_size)
                if stored != head.root_hash:
                    return verify.Bad("tree head", head.tree_size, "the root served from the stored subtree hashes "
                                      "differs from the signed one")
            else:
                p = log.consistency_proof(db_session=db_session, carrier_id=carrier_id, first=previous.tree_size,
                                          second=head.tree_size)
                if not (p.first_root == previous.root_hash and p.second_root == head.root_hash
                        and verify.verify_consistency(previous.tree_size, head.tree_size, p.proof,
                                                      previous.root_hash, head.root_hash)):
                    return verify.Bad("tree head", head.tree_size, "the consistency proof from tree head "
                                      f"{previous.tree_size} served from the stored subtree hashes does not verify")
        except log.LogCorrupt:
            return verify.Bad("tree head", head.tree_size, "stored subtree hashes its proofs need are missing")
        previous = head
    return None
