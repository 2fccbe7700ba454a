"""Steps of the regulator feed that span domains: build a signed batch from the outbox (the sealed
records, their shipments' waybill numbers and origin stations), apply a signed receipt (mark the
records delivered and delete the carrier's sealed copies in one transaction), and the carrier's
registration on the platform. The sending itself is `regulator.uploader`.
"""

from __future__ import annotations

import uuid
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from parcelguard.accounts import service as accounts
from parcelguard.audit import service as audit
from parcelguard.core.clock import now
from parcelguard.core.db import begin_write
from parcelguard.core.errors import NotFound
from parcelguard.crypto import signing
from parcelguard.crypto.keyring import Keyring
from parcelguard.identity import service as identity
from parcelguard.regulator import protocol, service
from parcelguard.shipments import service as shipments

UPLOAD_KEY_PURPOSE = "regulator_upload"
DELAY_ALERT_PERIOD_SECONDS = 600  # one `upload_delayed` alert per carrier per 10 minutes of delay


class ReceiptMismatch(Exception):
    """A receipt that is signed but does not answer the batch that was sent: nothing is applied."""

    def __init__(self, what: str) -> None:
        super().__init__(f"receipt does not answer the batch: {what}")
        self.code = "receipt_mismatch"


def registration(*, db_session: Session, keyring: Keyring, carrier_slug: str) -> dict[str, str]:
    """What the regulator registers a carrier with (`parcelguard regulator carriers add`): its code, the
    id its seal contexts name, and the public half of its upload signing key."""
    carrier = accounts.get_carrier_by_slug(db_session=db_session, slug=carrier_slug)
    if carrier is None:
        raise NotFound("No such carrier.", code="carrier_unknown")
    signer = keyring.signing_key(db_session=db_session, carrier_id=carrier.id, purpose=UPLOAD_KEY_PURPOSE)
    return {"code": carrier.slug, "carrier_id": str(carrier.id), "name": carrier.name,
            "key_id": signing.key_id(signer.public_key), "public_key": protocol.b64(signer.public_key)}


@dataclass(frozen=True)
class Outgoing:
    batch: protocol.Batch
    wire: dict[str, Any]


def build_batch(*, db_session: Session, keyring: Keyring, carrier_id: uuid.UUID, limit: int,
                exclude: AbstractSet[uuid.UUID] = frozenset()) -> Outgoing | None:
    """The carrier's oldest unsent records (at most `limit`) as a signed batch; None when none wait. Records in
    `exclude` (those of batches still on their way) are left out: of the oldest `limit + len(exclude)`, at most
    `len(exclude)` are theirs."""
    record_ids = service.pending(db_session=db_session, carrier_id=carrier_id, limit=limit + len(exclude))
    if exclude:
        record_ids = [r for r in record_ids if r not in exclude][:limit]
    if not record_ids:
        return None
    sealed = identity.sealed_records(db_session=db_session, carrier_id=carrier_id, record_ids=record_ids)
    facts = shipments.upload_facts(db_session=db_session, carrier_id=carrier_id,
                                   shipment_ids=[r.shipment_id for r in sealed.values()])
    stations = {s.id: s for s in accounts.list_stations(db_session=db_session, carrier_id=carrier_id)}
    carrier = accounts.get_carrier(db_session=db_session, carrier_id=carrier_id)
    records, gone = [], []
    for record_id in record_ids:
        record = sealed.get(record_id)
        if record is None:  # its seal is gone already: a receipt named it, so it is delivered
            gone.append(record_id)
            continue
        waybill_no, station_id = facts[record.shipment_id]
        station = stations[station_id]
        records.append(protocol.SealedRecord(
            record_id=record.record_id, waybill_no=waybill_no or "-", taken_at=record.created_at,
            station=station.code, region=station.region_code, doc_type=record.doc_type,
            seal_context=record.seal_context, sealed=record.sealed))
    if gone:  # never left pending, or it would take a batch's place at every pass
        service.mark_delivered(db_session=db_session, carrier_id=carrier_id, record_ids=gone, at=now())
    if not records:
        return None
    signer = keyring.signing_key(db_session=db_session, carrier_id=carrier_id, purpose=UPLOAD_KEY_PURPOSE)
    batch = protocol.Batch(carrier=carrier.slug, batch_id=uuid.uuid4(), sent_at=now(),
                           key_id=signing.key_id(signer.public_key), records=tuple(records))
    return Outgoing(batch=batch, wire=batch.signed(signer.sign))


@dataclass(frozen=True)
class Applied:
    delivered: int
    seals_dropped: int
    rejected: int


def apply_receipt(*, db_session: Session, carrier_id: uuid.UUID, batch: protocol.Batch, receipt: protocol.Receipt,
                  duration_ms: int = 0) -> Applied:
    """A receipt whose signature the caller verified: check it answers this batch, then mark the
    records it accepts delivered and delete their sealed copies, and set aside those it rejects (with
    an alert each). All in the caller's transaction."""
    sent = {r.record_id for r in batch.records}
    if receipt.carrier != batch.carrier:
        raise ReceiptMismatch("carrier")
    if receipt.batch_id != batch.batch_id:
        raise ReceiptMismatch("batch_id")
    if not set(receipt.accepted) <= sent or not {r.record_id for r in receipt.rejected} <= sent:
        raise ReceiptMismatch("records not in the batch")
    moment = now()
    accepted = list(receipt.accepted)
    delivered = service.mark_delivered(db_session=db_session, carrier_id=carrier_id, record_ids=accepted,
                                       at=moment)
    dropped = identity.drop_seals(db_session=db_session, carrier_id=carrier_id, record_ids=accepted,
                                  receipt_at=receipt.received_at)
    rejected = [(r.record_id, r.reason) for r in receipt.rejected]
    service.mark_rejected(db_session=db_session, carrier_id=carrier_id, rejected=rejected, at=moment)
    for record_id, reason in rejected:
        audit.raise_alert(db_session=db_session, carrier_id=carrier_id, kind="regulator_rejected",
                          dedupe_key=f"regulator_rejected:{record_id}",
                          detail={"record_id": str(record_id), "reason": reason})
    service.record_batch(db_session=db_session, carrier_id=carrier_id, batch_id=batch.batch_id,
                         sent_at=batch.sent_at, records=len(batch.records), outcome="receipted",
                         accepted=len(accepted), rejected=len(rejected), duration_ms=duration_ms)
    return Applied(delivered=delivered, seals_dropped=dropped, rejected=len(rejected))


def record_failure(*, db_session: Session, carrier_id: uuid.UUID, batch: protocol.Batch, error: str,
                   duration_ms: int = 0) -> None:
    """No usable receipt: nothing is marked delivered and nothing is deleted; the records go again."""
    service.mark_attempt_failed(db_session=db_session, carrier_id=carrier_id,
                                record_ids=[r.record_id for r in batch.records], error=error)
    service.record_batch(db_session=db_session, carrier_id=carrier_id, batch_id=batch.batch_id,
                         sent_at=batch.sent_at, records=len(batch.records), outcome="failed", error=error[:64],
                         duration_ms=duration_ms)


def late(*, db_session: Session, threshold_seconds: float, at: datetime | None = None) -> list[service.Waiting]:
    """The carriers whose oldest unsent record is older than the threshold (the rule is 30 s)."""
    moment = at or now()
    return [w for w in service.waiting(db_session=db_session) if (moment - w.oldest).total_seconds() > threshold_seconds]


def _delay_key(moment: datetime) -> str:
    return f"upload_delayed:{int(moment.timestamp()) // DELAY_ALERT_PERIOD_SECONDS * DELAY_ALERT_PERIOD_SECONDS}"


def raise_delay_alerts(*, db_session: Session, late: list[service.Waiting], at: datetime | None = None) -> None:
    """An `upload_delayed` alert for each late carrier (`late`), at most one per carrier per 10 minutes."""
    moment = at or now()
    for w in late:
        audit.raise_alert(db_session=db_session, carrier_id=w.carrier_id, kind="upload_delayed",
                          dedupe_key=_delay_key(moment),
                          detail={"records_pending": w.records,
                                  "oldest_age_seconds": round((moment - w.oldest).total_seconds(), 1)})


def check_delay(*, sessionmaker: Any, threshold_seconds: float) -> int:
    """Look (reading only), and open a write transaction only for a late carrier not yet alerted in
    this period: a steady backlog costs no write every few seconds. Answers how many carriers are late."""
    moment = now()
    with sessionmaker() as session:
        found = late(db_session=session, threshold_seconds=threshold_seconds, at=moment)
        done = audit.alerted(db_session=session, dedupe_key=_delay_key(moment),
                             carrier_ids=[w.carrier_id for w in found])
    new = [w for w in found if w.carrier_id not in done]
    if new:
        with sessionmaker() as session, session.begin():
            begin_write(session)
            raise_delay_alerts(db_session=session, late=new, at=moment)
    return len(found)
