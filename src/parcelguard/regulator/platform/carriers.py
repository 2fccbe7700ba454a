"""The carriers registered on the platform and their batch-signing keys, as officials see them; an
official revokes a key with a stated reason. No HTTP.

A revocation records when, by whom (the official; None when the platform's operator revoked at the command
line, `parcelguard regulator carriers revoke-key`) and why. It is written once: revoking a revoked key is
refused (409 `carrier_key_revoked`, the code `register_carrier` answers for a revoked key) and leaves the
first record as it was, so a second official's click can neither overwrite who revoked the key and why,
nor look as though it did something. From the moment the
transaction commits, `service.ingest` refuses every batch the key signs (403 `carrier_key_unknown`), as it
refuses an unknown key. Registering a key stays with the command line (`parcelguard uploader registration`
at the carrier, then `parcelguard regulator carriers add`): the public key must come from the carrier.

Not chained into the lookup log (`lookup_log`): that chain holds officials' lookups only (its kinds, its
digest of the question, its `found`), and a command-line revocation has no official to name.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from parcelguard.core.clock import now
from parcelguard.core.db import begin_write
from parcelguard.core.errors import Conflict, Forbidden, Invalid, NotFound
from parcelguard.regulator.platform.models import CarrierKey, Official, ReceivedBatch, RegisteredCarrier

MAX_REASON_CHARS = 200


def check_reason(reason: str | None) -> str:
    """A revocation's reason, white space folded: 2 to 200 characters."""
    text = " ".join(reason.split()) if isinstance(reason, str) else ""
    if not 2 <= len(text) <= MAX_REASON_CHARS:
        raise Invalid(f"State the reason in 2 to {MAX_REASON_CHARS} characters.", code="reason_format",
                      field="/reason")
    return text


@dataclass(frozen=True)
class BatchSeen:
    """A key's (or a carrier's) newest batch, as first received."""

    batch_id: uuid.UUID
    key_id: str
    received_at: datetime
    records: int
    accepted: int


@dataclass(frozen=True)
class RevokedBy:
    official_id: uuid.UUID
    username: str
    display_name: str


@dataclass(frozen=True)
class KeyView:
    key_id: str
    added_at: datetime
    revoked_at: datetime | None
    revoked_by: RevokedBy | None  # None for a key in force, or one revoked at the command line
    revoke_reason: str | None
    last_batch: BatchSeen | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True)
class CarrierView:
    carrier_id: uuid.UUID
    code: str
    name: str
    registered_at: datetime
    keys: tuple[KeyView, ...]  # keys in force first (newest first), then revoked ones (latest revoked first)

    @property
    def active_keys(self) -> int:
        return sum(k.active for k in self.keys)

    @property
    def last_batch(self) -> BatchSeen | None:
        seen = [k.last_batch for k in self.keys if k.last_batch is not None]
        return max(seen, key=lambda b: b.received_at) if seen else None


def list_carriers(*, db_session: Session, code: str | None = None) -> list[CarrierView]:
    """Every registered carrier (or the one with `code`) with its keys, by code. Two statements: carriers,
    keys and who revoked them; then each key's newest batch, one probe each on the index of
    `received_batches` (carrier_id, key_id, received_at), however many batches there are."""
    query = (select(RegisteredCarrier, CarrierKey, Official.username, Official.display_name)
             .outerjoin(CarrierKey, CarrierKey.carrier_id == RegisteredCarrier.id)
             .outerjoin(Official, Official.id == CarrierKey.revoked_by)
             .order_by(RegisteredCarrier.code))
    if code is not None:
        query = query.where(RegisteredCarrier.code == code)
    rows = db_session.execute(query).all()
    newest = _newest_batches(db_session, code)
    carriers: dict[uuid.UUID, tuple[RegisteredCarrier, list[KeyView]]] = {}
    for carrier, key, username, display_name in rows:
        keys = carriers.setdefault(carrier.id, (carrier, []))[1]
        if key is None:
            continue
        by = RevokedBy(key.revoked_by, username, display_name) if key.revoked_by is not None else None
        keys.append(KeyView(key_id=key.key_id, added_at=key.added_at, revoked_at=key.revoked_at, revoked_by=by,
                            revoke_reason=key.revoke_reason, last_batch=newest.get((carrier.id, key.key_id))))
    return [CarrierView(carrier_id=c.id, code=c.code, name=c.name, registered_at=c.registered_at,
                        keys=tuple(sorted(keys, key=_key_order)))
            for c, keys in carriers.values()]


def _key_order(key: KeyView) -> tuple[bool, float]:
    return (not key.active, -(key.added_at if key.active else key.revoked_at or key.added_at).timestamp())


def _newest_batches(db_session: Session, code: str | None) -> dict[tuple[uuid.UUID, str], BatchSeen]:
    # Only carrier_keys is in FROM and each column of the newest batch is a correlated subquery (a backward
    # probe of the index, LIMIT 1), so both engines loop over the keys: a join on received_batches lets
    # SQLite's planner scan every batch ever received instead.
    def newest(column: Any) -> Any:
        return (select(column).where(ReceivedBatch.carrier_id == CarrierKey.carrier_id,
                                     ReceivedBatch.key_id == CarrierKey.key_id)
                .order_by(ReceivedBatch.received_at.desc(), ReceivedBatch.batch_id).limit(1)
                .correlate(CarrierKey).scalar_subquery())

    query = select(CarrierKey.carrier_id, CarrierKey.key_id, newest(ReceivedBatch.batch_id),
                   newest(ReceivedBatch.received_at), newest(ReceivedBatch.record_count),
                   newest(ReceivedBatch.accepted_count))
    if code is not None:
        query = query.join(RegisteredCarrier, RegisteredCarrier.id == CarrierKey.carrier_id).where(
            RegisteredCarrier.code == code)
    return {(carrier_id, key_id): BatchSeen(batch_id=batch_id, key_id=key_id, received_at=received_at,
                                            records=records, accepted=accepted)
            for carrier_id, key_id, batch_id, received_at, records, accepted in db_session.execute(query)
            if batch_id is not None}


@dataclass(frozen=True)
class Revocation:
    carrier: CarrierView  # as it is after the revocation
    key: KeyView


def revoke(*, db_session: Session, code: str, key_id: str, reason: str | None,
           official_id: uuid.UUID | None) -> Revocation:
    """Revoke a carrier's key, recording when, who and why. An official (`official_id`) must state a reason
    (422 `reason_format`); the operator at the command line (None) may. 404 `carrier_unknown` or
    `carrier_key_unknown`; 409 `carrier_key_revoked` if it was revoked before (the first revocation is kept)."""
    if official_id is not None or reason is not None:
        reason = check_reason(reason)
    if not db_session.in_transaction():
        begin_write(db_session)
    carrier_id = db_session.scalar(select(RegisteredCarrier.id).where(RegisteredCarrier.code == code))
    if carrier_id is None:
        raise NotFound("No carrier is registered with this code.", code="carrier_unknown", field="#path/code")
    # One conditional UPDATE: of two officials revoking at once, exactly one writes.
    done = db_session.execute(
        update(CarrierKey)
        .where(CarrierKey.carrier_id == carrier_id, CarrierKey.key_id == key_id, CarrierKey.revoked_at.is_(None))
        .values(revoked_at=now(), revoked_by=official_id, revoke_reason=reason)
        .execution_options(synchronize_session=False))
    if done.rowcount != 1:  # type: ignore[attr-defined]  (a CursorResult for an UPDATE)
        if db_session.get(CarrierKey, (carrier_id, key_id)) is None:
            raise NotFound("No such key for this carrier.", code="carrier_key_unknown", field="#path/key_id")
        raise Conflict("This key was revoked before; its revocation is kept as it was.",
                       code="carrier_key_revoked", field="#path/key_id")
    db_session.expire_all()
    view = list_carriers(db_session=db_session, code=code)[0]
    return Revocation(carrier=view, key=next(k for k in view.keys if k.key_id == key_id))


def key_in_force(*, db_session: Session, code: str, key_id: str, what: str) -> tuple[uuid.UUID, bytes]:
    """The carrier's id and the public key a signed message (`what`: a batch, a report) names; 403
    `carrier_key_unknown` when the carrier or the key is unknown or the key revoked (one answer for all three,
    so the refusal tells nothing of which carriers or keys exist)."""
    found = db_session.execute(
        select(CarrierKey.carrier_id, CarrierKey.public_key).join(RegisteredCarrier)
        .where(RegisteredCarrier.code == code, CarrierKey.key_id == key_id, CarrierKey.revoked_at.is_(None))).first()
    if found is None:
        raise Forbidden(f"The {what} names no key registered and in force for this carrier.",
                        code="carrier_key_unknown", field="/key_id")
    return found[0], found[1]
