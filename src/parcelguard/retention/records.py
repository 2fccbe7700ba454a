"""Signed destruction records (销毁记录, issue 15): one per class and month destroyed, signed with the carrier's
`retention` key (Ed25519, over a domain line and the canonical JSON), kept in `destruction_records` and appended
to the carrier's tamper-evident log (subject `destruction:<record id>:<first 32 hex digits of its SHA-256>`, so
the log's signed tree covers the record's exact bytes). No personal data: classes, months, counts and key ids.
`mechanism` says how the month went: `shred` (its keys destroyed; `items` counts the values per column) or `delete`
(its rows deleted; `items` counts rows per table, and no key is named) or `expire` (signing key versions deleted,
named in `signing_key_ids`).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from parcelguard.audit import service as audit
from parcelguard.core.auth import Actor
from parcelguard.crypto import signing
from parcelguard.crypto.keyring import Keyring
from parcelguard.retention.models import DestructionRecord

KEY_PURPOSE = "retention"
DOMAIN = b"parcelguard/retention/destruction/v1\n"


def canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True)
class Signed:
    record: DestructionRecord

    @property
    def body(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.record.body)
        return loaded

    def wire(self) -> dict[str, Any]:
        """The record as exported: its body, the signature (hex) and the signing key's id."""
        return {"record": self.body, "signature": self.record.signature.hex(), "key_id": self.record.key_id,
                "log_index": self.record.audit_index}


def write(*, db_session: Session, keyring: Keyring, carrier_id: uuid.UUID, run_id: uuid.UUID, at: datetime,
          data_class: str, period: str, expired_at: datetime, items: dict[str, int], data_key_ids: list[int],
          shred_key_ids: list[int], key_store: str, actor: Actor | None, mechanism: str = "shred",
          signing_key_ids: list[int] | None = None) -> Signed:
    """Sign the record, keep it and append it to the log, in the caller's transaction (the shredding's)."""
    record_id = uuid.uuid4()
    body = {"type": "destruction", "version": 1, "record_id": str(record_id), "carrier_id": str(carrier_id),
            "run_id": str(run_id), "at": at.isoformat(), "data_class": data_class, "period": period,
            "expired_at": expired_at.isoformat(), "items": dict(sorted(items.items())),
            "data_key_ids": sorted(data_key_ids), "shred_key_ids": sorted(shred_key_ids), "key_store": key_store,
            "mechanism": mechanism}
    if signing_key_ids is not None:
        body["signing_key_ids"] = sorted(signing_key_ids)
    raw = canonical(body)
    signer = keyring.signing_key(db_session=db_session, carrier_id=carrier_id, purpose=KEY_PURPOSE)
    digest = hashlib.sha256(raw).hexdigest()
    index = audit.log_event(db_session=db_session, keyring=keyring, carrier_id=carrier_id, actor=actor,
                            subject=f"destruction:{record_id}:{digest[:32]}", purpose="retention_destroy")
    row = DestructionRecord(id=record_id, carrier_id=carrier_id, run_id=run_id, created_at=at, data_class=data_class,
                            period=period, body=raw, signature=signer.sign(DOMAIN + raw), key_id=signer.key_id,
                            audit_index=index)
    db_session.add(row)
    db_session.flush()
    return Signed(row)


def listed(*, db_session: Session, carrier_id: uuid.UUID, limit: int = 1000, newest_first: bool = False
           ) -> list[Signed]:
    """The carrier's records in the order they were logged (their log index), oldest first, or the newest
    `limit` of them newest first."""
    order = DestructionRecord.audit_index.desc() if newest_first else DestructionRecord.audit_index
    rows = db_session.scalars(select(DestructionRecord).where(DestructionRecord.carrier_id == carrier_id)
                              .order_by(order).limit(limit))
    return [Signed(r) for r in rows]


def verify(wire: dict[str, Any], public_keys: dict[int, bytes]) -> bool:
    """Whether an exported record's signature verifies with one of the carrier's `retention` keys."""
    public = public_keys.get(int(wire["key_id"]))
    if public is None:
        return False
    try:
        signing.verify(public, DOMAIN + canonical(wire["record"]), bytes.fromhex(wire["signature"]))
    except signing.BadSignature:
        return False
    return True
