"""Checking one entry of a carrier's log as an outside verifier would, on the server: the newest signed
tree head's signature against the carrier's public key, the entry's leaf hash recomputed from the entry
itself, and its inclusion proof folded up to the head's root, all with the standalone verifier's own
functions (`parcelguard.verify`), so the console shows what `python -m parcelguard.verify` would say."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from parcelguard import verify
from parcelguard.audit import log
from parcelguard.core.errors import NotFound
from parcelguard.crypto.keyring import Keyring


@dataclass(frozen=True)
class EntryCheck:
    index: int
    entry: dict[str, Any]
    head: dict[str, Any]  # the signed tree head checked against (tree_size, root_hash, timestamp, ...)
    head_signed: bool  # the head's Ed25519 signature verifies with the carrier's key of its key id
    covered: bool  # the head's tree holds the entry (else: sign a newer head first)
    included: bool  # the leaf recomputed from the entry, with the proof, gives the head's root
    proof: list[str]  # the inclusion proof's hashes, hex

    @property
    def verified(self) -> bool:
        return self.head_signed and self.covered and self.included


def check_entry(*, db_session: Session, keyring: Keyring, carrier_id: uuid.UUID, index: int) -> EntryCheck:
    """See the module docstring. Raises NotFound (`entry_unknown`, `tree_head_unknown`) as the log does."""
    stored = log.get_entry(db_session=db_session, carrier_id=carrier_id, index=index)
    body = json.loads(stored.entry)
    try:
        head = log.latest_tree_head(db_session=db_session, carrier_id=carrier_id)
    except NotFound:  # no head signed yet: nothing to check against (sign one)
        return EntryCheck(index, body, {"tree_size": 0, "root_hash": ""}, False, covered=False, included=False,
                          proof=[])
    document = log.tree_head_document(head)
    keys = keyring.public_keys(db_session=db_session, carrier_id=carrier_id, purpose=log.LOG_KEY_PURPOSE)
    signed = head.key_id in keys and verify.verify_tree_head(document, keys[head.key_id])
    if index >= head.tree_size:
        return EntryCheck(index, body, document, signed, covered=False, included=False, proof=[])
    proof = log.inclusion_proof(db_session=db_session, carrier_id=carrier_id, index=index, tree_size=head.tree_size)
    leaf = verify.leaf_hash(verify.canonical_entry(body))  # from the entry, not from any stored hash
    included = verify.verify_inclusion(leaf, index, head.tree_size, proof.proof, head.root_hash)
    return EntryCheck(index, body, document, signed, covered=True, included=included,
                      proof=[h.hex() for h in proof.proof])
