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
from datetime import UTC, datetime
from typing import Any, TextIO

from sqlalchemy import and_, func, or_, select, type_coerce
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.types import NullType

from parcelguard import verify
from parcelguard.audit import head_chain, log
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
            subtree_hashes: bool = False, stored_copies: bool = False) -> Iterator[dict[str, Any]]:
    """The log's records: header, every signed tree head, then every stored entry row in index order.

    Entries carry the exact stored bytes and the stored leaf hash; with `subtree_hashes`, also the stored
    hashes of the perfect subtrees each entry completes, and with `stored_copies` the searchable copies of
    its fields (for `verify` on the database: every stored node and copy is then checked). Nothing is
    filtered: rows beyond the log's size and heads larger than it are damage the checker must see.

    Columns are read as the database holds them, not through their types: an insider can store text in a
    binary column (SQLite keeps any type in any column; PostgreSQL after an ALTER). A value of the wrong
    type becomes a record's `damage`, which the checker reports at its index, instead of an exception here.
    """
    size = log.size_of(db_session=db_session, carrier_id=carrier_id)
    yield {"type": "log", "carrier": str(carrier_id), "size": size,
           "public_keys": {str(key_id): key.hex() for key_id, key in sorted(keys.items())}}
    heads = db_session.execute(
        select(*(_raw(c) for c in (TreeHead.id, TreeHead.tree_size, TreeHead.root_hash, TreeHead.timestamp_ms,
                                   TreeHead.signature, TreeHead.key_id)))
        .where(TreeHead.carrier_id == carrier_id).order_by(_raw(TreeHead.tree_size), _raw(TreeHead.timestamp_ms),
                                                            _raw(TreeHead.id)))
    for row_id, tree_size, root_hash, timestamp, signature, key_id in heads:
        yield {"type": "head", "tree_size": _json(tree_size), "root_hash": _hex_or_damage(root_hash),
               "timestamp": _json(timestamp), "signature": _hex_or_damage(signature), "key_id": _json(key_id),
               "row": _json(row_id)}
    start = 0
    copies = (AuditEntry.logged_at, AuditEntry.actor_id, AuditEntry.subject, AuditEntry.purpose,
              AuditEntry.decision) if stored_copies else ()
    idx_col = _raw(AuditEntry.idx)
    while True:
        # Plain range reads on primary keys: joined, PostgreSQL may plan a hash join over both whole tables.
        rows = db_session.execute(
            select(idx_col, _raw(AuditEntry.entry), *(_raw(c) for c in copies))
            .where(AuditEntry.carrier_id == carrier_id, idx_col >= start).order_by(idx_col).limit(chunk)
        ).all()
        if not rows:
            return
        numbered = [row for row in rows if verify.is_index(row[0])]
        end = numbered[-1][0] + 1 if numbered else start
        leaves = {idx: h for idx, h in db_session.execute(
            select(_raw(AuditNode.idx), _raw(AuditNode.hash)).where(
                AuditNode.carrier_id == carrier_id, AuditNode.level == 0, _raw(AuditNode.idx) >= start,
                _raw(AuditNode.idx) < end))}
        nodes = _completed_subtrees(db_session, carrier_id, start, end) if subtree_hashes else {}
        for row in rows:
            idx, raw = row[0], row[1]
            if not verify.is_index(idx):  # SQLite sorts text after every number: the rest of the rows are such
                yield {"type": "entry", "index": None, "damage": f"an entry row's index is stored as "
                       f"{_kind(idx)} ({_json(idx)!r}), not a number"}
                return
            damage = []
            if isinstance(raw, bytes | bytearray | memoryview):
                text = bytes(raw).decode("utf-8", "surrogateescape")
            else:
                text = None
                damage.append(f"the stored entry is {_kind(raw)}, not the bytes that were logged")
            leaf = leaves.get(idx)
            record: dict[str, Any] = {"type": "entry", "index": idx, "entry": text,
                                      "leaf_hash": _hex_or_damage(leaf) if leaf is not None else None}
            if subtree_hashes:
                record["subtree_hashes"] = [None if (level, idx) not in nodes else _hex_or_damage(nodes[level, idx])
                                            for level in range(1, _ones(idx) + 1)]
            if stored_copies:
                logged_at, actor, subject, purpose, decision = row[2:]
                record["stored"] = {"time": _time(logged_at), "actor": _uuid(actor), "subject": _json(subject),
                                    "purpose": _json(purpose), "decision": _json(decision)}
            if damage:
                record["damage"] = damage[0]
            yield record
        if not numbered:
            return
        start = end


def _raw(column: Any) -> Any:
    """The column as the driver returns it: no type's result processing (which raises on a wrong type)."""
    return type_coerce(column, NullType())


def _kind(value: object) -> str:
    return {str: "text", int: "a number", float: "a number", type(None): "null"}.get(type(value), type(value).__name__)


def _json(value: object) -> Any:
    """A stored value as JSON can carry it; any other type as a marker no logged value equals."""
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        return {"stored_as": "bytes", "hex": bytes(value).hex()}
    return {"stored_as": type(value).__name__, "text": str(value)}


def _hex_or_damage(value: object) -> Any:
    """A stored hash in hex; a hash stored as another type becomes a marker the checker refuses."""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    return {"stored_as": _kind(value), "value": _json(value)}


def _time(value: object) -> Any:
    """`logged_at` as ISO 8601 in UTC: a datetime from PostgreSQL, SQLite's text form, or a marker."""
    moment = value
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(moment, datetime):
        return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC).isoformat()
    return _json(value)


def _uuid(value: object) -> Any:
    """`actor_id` as the entry writes it: a UUID from PostgreSQL, 32 hex digits from SQLite."""
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, str) and len(value) == 32:
        try:
            return str(uuid.UUID(hex=value))
        except ValueError:
            pass
    return _json(value)


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
    rows = db_session.execute(select(AuditNode.level, AuditNode.idx, _raw(AuditNode.hash))
                              .where(AuditNode.carrier_id == carrier_id, or_(*ranges)))
    return {(lv, ((idx + 1) << lv) - 1): h for lv, idx, h in rows if verify.is_index(lv) and verify.is_index(idx)}


def _ones(n: int) -> int:
    """Trailing 1 bits of n: how many perfect subtrees leaf n completes."""
    return (n ^ (n + 1)).bit_length() - 1


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
    """`verify_log` over the stored log, every stored subtree hash and searchable copy included; then the
    keyed record of the signed heads (`head_chain`: none deleted or copied) and the consistency proofs the
    API would serve between consecutive good heads. Keys default to the carrier's keyring. Call `snapshot` first.
    """
    if keys is None:
        keys = public_keys(db_session=db_session, keyring=keyring, carrier_id=carrier_id)
    stream = _unless_unreadable(records(db_session=db_session, keys=keys, carrier_id=carrier_id, chunk=chunk,
                                        subtree_hashes=True, stored_copies=True))
    report = verify.verify_log(stream, keys, any_id_keys=any_id_keys)
    if report.ok:
        bad = (stray_nodes(db_session=db_session, carrier_id=carrier_id, size=report.size)
               or head_chain.check(db_session=db_session, keyring=keyring, carrier_id=carrier_id)
               or served_proofs(db_session=db_session, carrier_id=carrier_id, heads=report.heads))
        if bad is not None:
            return dataclasses.replace(report, bad=bad)
    return report


def _unless_unreadable(stream: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """The records, and where the database refuses to read on (a column's type changed so that a query no longer
    runs: PostgreSQL compares text to a number only after an ALTER), a record the checker reports at the index it
    has reached."""
    try:
        yield from stream
    except DBAPIError:
        yield {"type": "entry", "index": None, "damage": "the log's tables can no longer be read as the log wrote "
               "them: a column's type was changed"}


def stray_nodes(*, db_session: Session, carrier_id: uuid.UUID, size: int) -> verify.Bad | None:
    """A stored subtree hash that belongs to no perfect subtree of the log (a row copied to a new key or
    inserted), or None. The tree of `size` leaves has floor(size / 2^level) nodes at each level."""
    expected = sum(size >> level for level in range(size.bit_length()))
    stored = db_session.scalar(select(func.count()).select_from(AuditNode).where(AuditNode.carrier_id == carrier_id))
    if not stored or stored <= expected:
        return None
    for level in range(64):
        idx = db_session.scalar(select(_raw(AuditNode.idx)).where(
            AuditNode.carrier_id == carrier_id, _raw(AuditNode.level) == level,
            _raw(AuditNode.idx) >= size >> level).order_by(_raw(AuditNode.idx)).limit(1))
        if idx is not None:
            first = idx << level if verify.is_index(idx) else size
            return verify.Bad("index", first, f"a stored hash at level {level} for entries the log does not hold "
                              "(beyond its size): a row copied or inserted")
    return verify.Bad("index", size, f"{stored - expected} stored subtree hashes belong to no entry of the log: rows "
                      "copied or inserted")


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
