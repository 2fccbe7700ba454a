"""The sender's identity at intake: check the document, seal it for the regulator, keep only its
masked view and blind index, queue it for upload, and watch for the cheats the rules were written
against. Knows nothing of HTTP. Nothing here can open a sealed record: the carrier holds no key for it.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from parcelguard.accounts import service as accounts
from parcelguard.audit import service as audit
from parcelguard.core.auth import Actor, Role
from parcelguard.core.clock import now
from parcelguard.core.errors import Invalid, NotFound
from parcelguard.crypto import sealing
from parcelguard.crypto.keyring import Keyring
from parcelguard.crypto.types import BlindIndex
from parcelguard.identity import documents
from parcelguard.identity.models import RealNameRecord, StaffDocument
from parcelguard.regulator.models import OutboxEntry
from parcelguard.waybills.masking import mask_name

# The same document behind more walk-in parcels than this in one day is worth a look.
DOCUMENT_DAILY_ALERT = 20
SEAL_CONTEXT = "parcelguard/realname/v1"


@dataclass(frozen=True)
class CheckedDocument:
    doc_type: str
    number: str  # canonical; never logged, never returned to a terminal
    masked: str
    index_key: str  # what the blind index hashes: the same for every way the same document can be entered

    def __repr__(self) -> str:
        return f"CheckedDocument({self.doc_type}, {self.masked})"


def parse_document(doc_type: str | None, number: str) -> CheckedDocument:
    """Check a document number; raises `Invalid` with the document's reason code (id_check_digit, ...)."""
    parsed = documents.parse(number, doc_type)
    return CheckedDocument(doc_type=parsed.doc_type.value, number=parsed.number, masked=str(parsed.masked),
                           index_key=parsed.index_key)


def blind_index(*, db_session: Session, keyring: Keyring, carrier_id: uuid.UUID,
                document: CheckedDocument) -> BlindIndex:
    # The type is part of the key (the same digits on two kinds of document are two documents), except
    # that a resident ID and a temporary one share their number: entering one as the other still matches.
    return keyring.blind_index(db_session=db_session, carrier_id=carrier_id, field="document_number",
                               value=document.index_key)


def seal_context(carrier_id: uuid.UUID, record_id: uuid.UUID) -> bytes:
    """The associated data a sealed record is bound to: it opens only as this carrier's record."""
    return f"{SEAL_CONTEXT}|{carrier_id}|{record_id}".encode()


def record_sender(
    *, db_session: Session, keyring: Keyring, carrier_id: uuid.UUID, shipment_id: uuid.UUID,
    document: CheckedDocument, name: str, regulator_public_key: bytes,
    sealer: sealing.SealingSession | None = None,
) -> RealNameRecord:
    """Seal `{doc_type, doc_number, name}` to the regulator, keep the masked view and blind index, and
    queue the record for upload, in the caller's transaction."""
    record_id = uuid.uuid4()
    payload = json.dumps({"doc_type": document.doc_type, "doc_number": document.number, "name": name.strip()},
                         sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    sealer = sealer or sealing.SealingSession(regulator_public_key, max_records=1)
    record = RealNameRecord(
        id=record_id, carrier_id=carrier_id, shipment_id=shipment_id, doc_type=document.doc_type,
        doc_masked=document.masked, name_masked=mask_name(name),
        blind_index=blind_index(db_session=db_session, keyring=keyring, carrier_id=carrier_id, document=document),
        sealed=sealer.seal(payload, seal_context(carrier_id, record_id)),
    )
    db_session.add(record)
    db_session.flush()  # the outbox row refers to it
    db_session.add(OutboxEntry(carrier_id=carrier_id, record_id=record_id))
    db_session.flush()
    return record


def check_sender(*, db_session: Session, carrier_id: uuid.UUID, actor: Actor, record: RealNameRecord,
                 request_id: str | None = None) -> list[str]:
    """Raise the alerts this intake deserves; answers their kinds. A courier who enters their own
    document as the sender's (`courier_own_id`), and one document behind an unusual number of parcels
    in a day (`document_overused`)."""
    raised = []
    own = db_session.scalar(select(StaffDocument.user_id).where(
        StaffDocument.carrier_id == carrier_id, StaffDocument.blind_index == record.blind_index))
    if own is not None and own == actor.user_id:
        audit.raise_alert(db_session=db_session, carrier_id=carrier_id, kind="courier_own_id",
                          dedupe_key=f"courier_own_id:{record.id}", actor_id=actor.user_id,
                          detail={"shipment_id": str(record.shipment_id), "station_id": str(actor.station_id),
                                  "request_id": request_id})
        raised.append("courier_own_id")
    since = now() - timedelta(days=1)
    used = db_session.scalar(select(func.count()).select_from(RealNameRecord).where(
        RealNameRecord.carrier_id == carrier_id, RealNameRecord.blind_index == record.blind_index,
        RealNameRecord.created_at >= since)) or 0
    if used > DOCUMENT_DAILY_ALERT:
        audit.raise_alert(db_session=db_session, carrier_id=carrier_id, kind="document_overused",
                          dedupe_key=f"document_overused:{record.blind_index.hex()[:32]}:{now().date()}",
                          actor_id=actor.user_id,
                          detail={"parcels_in_24h": int(used), "latest_shipment_id": str(record.shipment_id)})
        raised.append("document_overused")
    return raised


def register_staff_document(*, db_session: Session, keyring: Keyring, actor: Actor, user_id: uuid.UUID,
                            doc_type: str | None, number: str) -> None:
    """Keep a staff member's own document as a blind index (at onboarding), so intake can tell when a
    courier enters it as a sender's. A station manager registers their own station's staff."""
    if actor.carrier_id is None:
        raise NotFound("No such user.", code="user_unknown")
    user = accounts.get_user(db_session=db_session, carrier_id=actor.carrier_id, user_id=user_id)
    if actor.role == Role.STATION_MANAGER and user.station_id != actor.station_id:
        raise NotFound("No such user.", code="user_unknown")
    try:
        document = parse_document(doc_type, number)
    except Invalid as exc:
        raise Invalid(exc.detail, code=exc.code, field="/number") from None
    index = blind_index(db_session=db_session, keyring=keyring, carrier_id=actor.carrier_id, document=document)
    row = db_session.get(StaffDocument, user.id)
    if row is None:
        db_session.add(StaffDocument(user_id=user.id, carrier_id=actor.carrier_id, blind_index=index))
    else:
        row.blind_index, row.registered_at = index, now()
    db_session.flush()
