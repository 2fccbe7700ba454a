"""The keyed record of a log's signed tree heads, so that a head deleted or copied in the database is seen.

Each head is signed on its own, so a signature cannot tell that another head is gone, or that a row is a
copy of one. The log therefore chains its heads as it signs them: a head's `chain` is HMAC-SHA256, under
a carrier key the database does not hold (derived through the keyring from the root key), of the previous
head's `chain` and this head's document; the log's row keeps the count and the last `chain`. Heads are
signed under the log's row lock, so the order of the chain is the order of the rows' ids.

`parcelguard audit verify` recomputes the chain over the stored heads: a head deleted from the middle
breaks it at the next head, a copied or altered row at itself, and a deleted newest head leaves the log's
count and last `chain` unmatched. Someone with the database alone cannot mend it. The standalone
`verify.py` cannot check it (it has no carrier key); it checks what the heads sign.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select, type_coerce
from sqlalchemy.orm import Session
from sqlalchemy.types import NullType

from parcelguard import verify
from parcelguard.audit.models import AuditLog, TreeHead
from parcelguard.crypto.keyring import Keyring

KEY_PURPOSE = "audit_head_chain"


def key(*, db_session: Session, keyring: Keyring, carrier_id: uuid.UUID) -> bytes:
    return keyring.stable_key(db_session=db_session, carrier_id=carrier_id, purpose=KEY_PURPOSE)


def link(chain_key: bytes, previous: bytes | None, *, tree_size: int, root_hash: bytes, timestamp: int,
         signature: bytes, key_id: int) -> bytes:
    """The `chain` of a head that follows the head whose `chain` is `previous` (None: the first head)."""
    document = json.dumps({"key_id": key_id, "root_hash": root_hash.hex(), "signature": signature.hex(),
                           "timestamp": timestamp, "tree_size": tree_size}, sort_keys=True, separators=(",", ":"))
    return hmac.new(chain_key, (previous or b"") + document.encode(), hashlib.sha256).digest()


def extend(*, db_session: Session, keyring: Keyring, head: TreeHead) -> None:
    """Chain a head just signed (its row flushed) onto its log's record. The caller holds the log's row lock."""
    log_row = db_session.get(AuditLog, head.carrier_id)
    assert log_row is not None, "a head is signed for a log that exists"
    head.chain = link(key(db_session=db_session, keyring=keyring, carrier_id=head.carrier_id), log_row.heads_mac,
                      tree_size=head.tree_size, root_hash=head.root_hash, timestamp=head.timestamp_ms,
                      signature=head.signature, key_id=head.key_id)
    log_row.heads, log_row.heads_mac = (log_row.heads or 0) + 1, head.chain


def rebuild(*, db_session: Session, keyring: Keyring, carrier_id: uuid.UUID) -> int:
    """Chain a log's stored heads in row order, as if each had been chained when signed (migration 0008,
    for logs older than the chain). Answers how many."""
    chain_key = key(db_session=db_session, keyring=keyring, carrier_id=carrier_id)
    previous, count = None, 0
    for head in db_session.scalars(select(TreeHead).where(TreeHead.carrier_id == carrier_id).order_by(TreeHead.id)):
        previous = head.chain = link(chain_key, previous, tree_size=head.tree_size, root_hash=head.root_hash,
                                     timestamp=head.timestamp_ms, signature=head.signature, key_id=head.key_id)
        count += 1
    log_row = db_session.get(AuditLog, carrier_id)
    if log_row is not None:
        log_row.heads, log_row.heads_mac = count, previous
    db_session.flush()
    return count


def check(*, db_session: Session, keyring: Keyring, carrier_id: uuid.UUID) -> verify.Bad | None:
    """The first place where the stored heads and the log's keyed record of them disagree, or None.
    Values are read as stored (a retyped one is damage, not an exception)."""
    def raw(column: Any) -> Any:
        return type_coerce(column, NullType())

    rows: Iterable[Any] = db_session.execute(
        select(raw(TreeHead.tree_size), raw(TreeHead.root_hash), raw(TreeHead.timestamp_ms), raw(TreeHead.signature),
               raw(TreeHead.key_id), raw(TreeHead.chain))
        .where(TreeHead.carrier_id == carrier_id).order_by(raw(TreeHead.id)))
    chain_key = key(db_session=db_session, keyring=keyring, carrier_id=carrier_id)
    previous, count, last_size = None, 0, None
    for tree_size, root_hash, timestamp, signature, key_id, stored in rows:
        root_hash, signature, stored = (bytes(v) if isinstance(v, memoryview) else v
                                        for v in (root_hash, signature, stored))
        count += 1
        well_formed = (verify.is_index(tree_size) and verify.is_index(timestamp) and verify.is_index(key_id)
                       and isinstance(root_hash, bytes) and isinstance(signature, bytes))
        expected = link(chain_key, previous, tree_size=tree_size, root_hash=root_hash, timestamp=timestamp,
                        signature=signature, key_id=key_id) if well_formed else None
        if expected is None or not isinstance(stored, bytes) or not hmac.compare_digest(bytes(stored), expected):
            at = tree_size if verify.is_index(tree_size) else None
            return verify.Bad("tree head", at, "the log's keyed record of its signed heads breaks here: a head "
                              "signed before this one was deleted, or this row was copied or altered")
        previous, last_size = expected, tree_size
    recorded = db_session.execute(select(raw(AuditLog.heads), raw(AuditLog.heads_mac))
                                  .where(AuditLog.carrier_id == carrier_id)).one_or_none()
    heads, mac = recorded if recorded is not None else (0, None)
    mac = bytes(mac) if isinstance(mac, memoryview) else mac
    if heads != count or (previous is None) != (mac is None) or (
            previous is not None and (not isinstance(mac, bytes) or not hmac.compare_digest(bytes(mac), previous))):
        return verify.Bad("tree head", last_size, f"the log signed {heads!r} tree heads and {count} are stored: "
                          "the newest were deleted, or the log's record of them was altered")
    return None
