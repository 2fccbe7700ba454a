"""The platform's logic, no HTTP: register carriers and their keys, take in a signed batch, answer a
signed receipt.

Ingest rules (docs/regulator.md): a batch that does not parse is refused whole (422, the protocol's code
and pointer); so is one whose carrier or key is unknown or revoked, or whose signature does not verify
(403); nothing is stored then. Otherwise each record on its own is accepted or rejected with a reason,
and the batch, its new records and the receipt are one transaction. The same record sent again (by
record id, per carrier) is accepted again and stored once.

Lookups (an official's, by waybill number or by document number) are written to the lookup log
(`lookup_log`) in the request's transaction before the records are opened; the answer leaves only once
that transaction has committed, so a lookup whose log entry cannot be written answers nothing.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from parcelguard.core.auth import Actor
from parcelguard.core.clock import now
from parcelguard.core.db import begin_write
from parcelguard.core.errors import Conflict, Forbidden, Invalid
from parcelguard.crypto import signing
from parcelguard.crypto.types import DecryptionFailed
from parcelguard.identity import documents
from parcelguard.regulator import protocol
from parcelguard.regulator.platform import carriers, lookup_log, record_keys, rollups
from parcelguard.regulator.platform.keys import PlatformKeys, index_form
from parcelguard.regulator.platform.models import CarrierKey, ReceivedBatch, ReceivedRecord, RegisteredCarrier

# The carrier seals every record under `<SEAL_CONTEXT>|<its own UUID>|<record, registration:<id> or
# agreement:<id>>` (identity.service.seal_context and friends, which the platform may not import).
SEAL_CONTEXT = "parcelguard/realname/v1"


class Reason:
    """Why a record of an accepted batch was rejected: stable codes the receipt carries."""

    SEAL_CONTEXT_FOREIGN = "seal_context_foreign"  # the context names another carrier, or is no carrier's
    SEAL_INVALID = "seal_invalid"  # it does not open with the platform's key under its context
    PAYLOAD_INVALID = "payload_invalid"  # it opens, but not to {doc_type, doc_number, name[, responsible]}
    RECORD_CONFLICT = "record_conflict"  # the record id is stored already, with other contents


_PERSON = frozenset({"doc_type", "doc_number", "name"})
_LIMITS = {"doc_type": 32, "doc_number": 64, "name": 200}


# -- carriers and their keys ------------------------------------------------------------------------

@dataclass(frozen=True)
class Registration:
    carrier_id: uuid.UUID
    code: str
    key_id: str
    carrier_created: bool
    key_added: bool


def register_carrier(*, db_session: Session, code: str, carrier_uuid: uuid.UUID, name: str,
                     public_key: bytes) -> Registration:
    """Register a carrier with an Ed25519 key for its batches, or add a key to a registered one. The
    same registration again changes nothing; a carrier may hold several keys (rotation)."""
    if not isinstance(code, str) or not protocol.CARRIER_CODE.match(code):
        raise Invalid("A carrier code: 1-32 lower-case letters, digits, dashes.", code="carrier_code_format",
                      field="/code")
    name = name.strip() if isinstance(name, str) else ""
    if not 0 < len(name) <= 200:
        raise Invalid("A carrier's name: 1 to 200 characters.", code="carrier_name_format", field="/name")
    if len(public_key) != 32:
        raise Invalid("An Ed25519 public key is 32 bytes.", code="public_key_format", field="/public_key")
    by_code = db_session.scalar(select(RegisteredCarrier).where(RegisteredCarrier.code == code))
    if by_code is not None and by_code.id != carrier_uuid:
        raise Conflict("Another carrier is registered with this code.", code="carrier_code_taken", field="/code")
    carrier = by_code or db_session.get(RegisteredCarrier, carrier_uuid)
    created = carrier is None
    if carrier is None:
        carrier = RegisteredCarrier(id=carrier_uuid, code=code, name=name, registered_at=now())
        db_session.add(carrier)
    elif carrier.code != code:
        raise Conflict("This carrier is registered with another code.", code="carrier_registered",
                       field="/carrier_id")
    elif carrier.name != name:
        carrier.name = name
    key_id = signing.key_id(public_key)
    held = db_session.scalars(select(CarrierKey).where(CarrierKey.key_id == key_id)).all()
    if any(k.carrier_id != carrier_uuid for k in held):
        raise Conflict("This key is registered for another carrier.", code="carrier_key_taken",
                       field="/public_key")
    key = next(iter(held), None)
    if key is not None and key.revoked_at is not None:
        raise Conflict("This key was revoked: register a new one.", code="carrier_key_revoked",
                       field="/public_key")
    if key is None:
        db_session.add(CarrierKey(carrier_id=carrier_uuid, key_id=key_id, public_key=public_key, added_at=now()))
    db_session.flush()
    return Registration(carrier_id=carrier_uuid, code=code, key_id=key_id, carrier_created=created,
                        key_added=key is None)


def revoke_key(*, db_session: Session, code: str, key_id: str, reason: str | None = None) -> bool:
    """Revoke a carrier's key as the platform's operator (no official: `carriers.revoke` for theirs):
    batches it signs are refused from now on. False if it was revoked before (that revocation is kept)."""
    try:
        carriers.revoke(db_session=db_session, code=code, key_id=key_id, reason=reason, official_id=None)
    except Conflict as exc:
        if exc.code != "carrier_key_revoked":
            raise
        return False
    return True


def receipt_keys(*, keys: PlatformKeys) -> dict[str, str]:
    """The public keys receipts are signed with, by key id (base64, as the wire format writes bytes)."""
    return {keys.receipt_key_id: protocol.b64(keys.receipt_public_key)}


# -- ingest -----------------------------------------------------------------------------------------

def ingest(*, db_session: Session, keys: PlatformKeys, batch_wire: object) -> dict[str, Any]:
    """Take in a signed batch (its wire object) and answer the signed receipt (its wire object)."""
    try:
        batch, signature = protocol.parse_batch(batch_wire)
    except protocol.ProtocolError as exc:
        raise Invalid(exc.detail, code=exc.code, field=exc.pointer) from None
    carrier_id, public_key = carriers.key_in_force(db_session=db_session, code=batch.carrier,
                                                     key_id=batch.key_id, what="batch")
    try:
        protocol.verify_batch(batch, signature, public_key)
    except protocol.ProtocolError as exc:
        raise Forbidden(exc.detail, code=exc.code, field=exc.pointer) from None

    received_at = now()
    digests = {r.record_id: hashlib.sha256(protocol.canonical(r.wire())).digest() for r in batch.records}
    stored = {record_id: digest for record_id, digest in db_session.execute(
        select(ReceivedRecord.record_id, ReceivedRecord.record_digest)
        .where(ReceivedRecord.carrier_id == carrier_id, ReceivedRecord.record_id.in_(list(digests))))}
    prefix = f"{SEAL_CONTEXT}|{carrier_id}|"
    opened: dict[tuple[str, bytes], bytes | None] = {}  # one opening per distinct seal (see _open)
    months: dict[str, tuple[int, bytes]] = {}

    def month_keys(period: str) -> tuple[int, bytes]:  # one key per month the batch's records were taken in
        if period not in months:
            months[period] = record_keys.month_key(db_session=db_session, keys=keys, period=period)
        return months[period]

    accepted: list[uuid.UUID] = []
    rejected: list[protocol.Rejection] = []
    rows: list[dict[str, Any]] = []
    for record in batch.records:
        digest = digests[record.record_id]
        if record.record_id in stored:
            if stored[record.record_id] == digest:
                accepted.append(record.record_id)
            else:
                rejected.append(protocol.Rejection(record.record_id, Reason.RECORD_CONFLICT))
            continue
        row_or_reason = _record_row(keys, opened, prefix, carrier_id, record, month_keys)
        if isinstance(row_or_reason, str):
            rejected.append(protocol.Rejection(record.record_id, row_or_reason))
            continue
        row_or_reason.update(carrier_id=carrier_id, batch_id=batch.batch_id, received_at=received_at,
                             record_digest=digest)
        rows.append(row_or_reason)
        accepted.append(record.record_id)

    _insert_new(db_session, ReceivedBatch, [{
        "carrier_id": carrier_id, "batch_id": batch.batch_id, "key_id": batch.key_id, "sent_at": batch.sent_at,
        "received_at": received_at, "record_count": len(batch.records), "accepted_count": len(accepted)}])
    _insert_new(db_session, ReceivedRecord, rows)
    rollups.add_stored(db_session, carrier_id=carrier_id, batch_id=batch.batch_id, received_at=received_at)
    receipt = protocol.Receipt(carrier=batch.carrier, batch_id=batch.batch_id, received_at=received_at,
                               key_id=keys.receipt_key_id, accepted=tuple(accepted), rejected=tuple(rejected))
    return keys.sign_receipt(receipt)


def _record_row(keys: PlatformKeys, opened: dict[tuple[str, bytes], bytes | None], prefix: str,
                carrier_id: uuid.UUID, record: protocol.SealedRecord,
                month_keys: Callable[[str], tuple[int, bytes]]) -> dict[str, Any] | str:
    """The row to store for a new record, or the reason it is rejected."""
    if not record.seal_context.startswith(prefix) or len(record.seal_context) == len(prefix):
        return Reason.SEAL_CONTEXT_FOREIGN
    plaintext = _open(keys, opened, record)
    if plaintext is None:
        return Reason.SEAL_INVALID
    payload = _payload(plaintext)
    if payload is None or payload["doc_type"] != record.doc_type:
        return Reason.PAYLOAD_INVALID
    responsible = payload.get("responsible")
    return {
        "record_id": record.record_id, "waybill_no": record.waybill_no, "station": record.station,
        "region": record.region, "doc_type": record.doc_type, "taken_at": record.taken_at,
        "document_index": keys.document_index(payload["doc_number"], payload["doc_type"]),
        "responsible_index": (keys.document_index(responsible["doc_number"], responsible["doc_type"])
                              if responsible else None),
        "payload": keys.encrypt_record(carrier_id, record.record_id, plaintext,
                                       month=month_keys(record.taken_at.strftime("%Y-%m"))),
    }


def _open(keys: PlatformKeys, opened: dict[tuple[str, bytes], bytes | None],
          record: protocol.SealedRecord) -> bytes | None:
    """Open a record's seal, once per distinct (context, seal) in the batch: a registered sender's or a
    contract customer's seal rides on each of its parcels' records, so a contract batch of 1,000 parcels
    may hold one seal. Opening is the main cost of ingest (an X25519 exchange)."""
    key = (record.seal_context, record.sealed)
    if key not in opened:
        try:
            opened[key] = keys.open(record.sealed, record.seal_context.encode())
        except DecryptionFailed:
            opened[key] = None
    return opened[key]


def _payload(plaintext: bytes) -> dict[str, Any] | None:
    """`{doc_type, doc_number, name}`, and for an organisation `responsible` in the same shape; None if
    the plaintext is anything else."""
    try:
        payload = json.loads(plaintext)
    except (UnicodeDecodeError, ValueError):
        return None
    if not _person(payload, frozenset({"responsible"})):
        return None
    if "responsible" in payload and not _person(payload["responsible"]):
        return None
    return payload


def _person(value: object, optional: frozenset[str] = frozenset()) -> bool:
    return (isinstance(value, dict) and _PERSON <= value.keys() <= _PERSON | optional
            and all(isinstance(value[k], str) and 0 < len(value[k]) <= _LIMITS[k] for k in _PERSON))


def _insert_new(db_session: Session, model: Any, rows: Sequence[dict[str, Any]]) -> None:
    """INSERT ... ON CONFLICT (primary key) DO NOTHING, many rows in one statement execution: a row
    stored meanwhile (the same batch sent twice at once) is kept, not doubled, not an error."""
    if not rows:
        return
    table = model.__table__
    if db_session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    statement = insert(table).on_conflict_do_nothing(index_elements=[c.name for c in table.primary_key])
    db_session.execute(statement, list(rows))


# -- look-ups ---------------------------------------------------------------------------------------

def find_by_document(*, db_session: Session, keys: PlatformKeys, number: str,
                     doc_type: str | None = None) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """(carrier id, record id) of every record whose document, or whose organisation's responsible
    person's document, is `number` however it was typed. Matches by blind index; decrypts nothing, logs
    nothing (an official's lookup is `lookup_by_document`)."""
    found = db_session.execute(
        select(ReceivedRecord.carrier_id, ReceivedRecord.record_id)
        .where(_document_match(keys.document_index(number, doc_type)))
        .order_by(ReceivedRecord.taken_at, ReceivedRecord.record_id))
    return [(carrier_id, record_id) for carrier_id, record_id in found]


def _document_match(index: bytes) -> Any:
    return (ReceivedRecord.document_index == index) | (ReceivedRecord.responsible_index == index)


# An official's lookup answers at most this many records, newest first (and says how many matched): a
# shop that sends every day has thousands of parcels under one number.
MAX_LOOKUP_RECORDS = 1000
MAX_WAYBILL_LENGTH = 20  # as the wire format's `waybill_no`


@dataclass(frozen=True)
class FoundRecord:
    """A record as an official sees it: where and when, and the opened payload (the regulator reads what
    was sealed to it). `payload` never shows in a repr."""

    carrier: str
    record_id: uuid.UUID
    waybill_no: str
    station: str
    region: str
    doc_type: str
    taken_at: datetime
    received_at: datetime
    payload: dict[str, Any] = field(repr=False)  # {doc_type, doc_number, name[, responsible]}


@dataclass(frozen=True)
class LookupResult:
    entry: lookup_log.EntryView  # the log entry written for this lookup
    records: list[FoundRecord]
    truncated: bool  # more matched than MAX_LOOKUP_RECORDS: `entry.found` says how many


def normalise_waybill(waybill_no: str) -> str:
    """A waybill number as carriers send it: no spaces or hyphens, capital letters."""
    number = "".join(waybill_no.split()).replace("-", "").upper()
    if not 0 < len(number) <= MAX_WAYBILL_LENGTH:
        raise Invalid(f"A waybill number is 1 to {MAX_WAYBILL_LENGTH} letters and digits.", code="waybill_format",
                      field="#query/waybill_no")
    return number


def lookup_by_waybill(*, db_session: Session, keys: PlatformKeys, actor: Actor, waybill_no: str,
                      request_id: str | None = None, purpose: str | None = None) -> LookupResult:
    """Every record of this waybill number (of any carrier), logged with the stated purpose."""
    number = normalise_waybill(waybill_no)
    return _logged_lookup(db_session, keys, actor, kind="waybill", doc_type=None,
                          digest=keys.lookup_digest("waybill", number),
                          condition=ReceivedRecord.waybill_no == number, request_id=request_id,
                          purpose=check_purpose(purpose))


def lookup_by_document(*, db_session: Session, keys: PlatformKeys, actor: Actor, number: str,
                       doc_type: str | None = None, request_id: str | None = None,
                       purpose: str | None = None) -> LookupResult:
    """Every record whose sender, or whose organisation's responsible person, holds this document however
    it was typed (spaces, a lower-case x, full-width digits, a 15-digit ID for its 18-digit form), logged.
    The log keeps a keyed digest of the number's normalised form, so one person is one digest."""
    if doc_type is not None and doc_type not in documents.DocType.__members__.values():
        raise Invalid("Not a document type this platform knows.", code="doc_type_unknown", field="/doc_type")
    if not number.strip() or len(number) > documents.MAX_INPUT:
        raise Invalid(f"A document number is 1 to {documents.MAX_INPUT} characters.", code="number_format",
                      field="/number")
    return _logged_lookup(db_session, keys, actor, kind="document", doc_type=doc_type,
                          digest=keys.lookup_digest("document", index_form(number, doc_type)),
                          condition=_document_match(keys.document_index(number, doc_type)), request_id=request_id,
                          purpose=check_purpose(purpose))


MAX_PURPOSE_CHARS = 200


def check_purpose(purpose: str | None) -> str | None:
    """A stated purpose, trimmed: 2 to 200 characters, or None (the API's lookups may leave it out)."""
    if purpose is None:
        return None
    text = " ".join(purpose.split())
    if not 2 <= len(text) <= MAX_PURPOSE_CHARS:
        raise Invalid(f"State the purpose in 2 to {MAX_PURPOSE_CHARS} characters.", code="purpose_format",
                      field="/purpose")
    return text


def _logged_lookup(db_session: Session, keys: PlatformKeys, actor: Actor, *, kind: str, doc_type: str | None,
                   digest: bytes, condition: Any, request_id: str | None, purpose: str | None = None) -> LookupResult:
    if not db_session.in_transaction():
        begin_write(db_session)  # SQLite: take the write lock now; the log is appended after the reads
    rows = db_session.execute(
        select(ReceivedRecord, RegisteredCarrier.code)
        .join(RegisteredCarrier, RegisteredCarrier.id == ReceivedRecord.carrier_id).where(condition)
        .order_by(ReceivedRecord.taken_at.desc(), ReceivedRecord.record_id).limit(MAX_LOOKUP_RECORDS + 1)).all()
    found = len(rows)
    if found > MAX_LOOKUP_RECORDS:
        found = db_session.scalar(select(func.count()).select_from(ReceivedRecord).where(condition)) or found
    entry = lookup_log.append(db_session=db_session, keys=keys, actor=actor, kind=kind, doc_type=doc_type,
                              query_digest=digest, found=found, request_id=request_id, purpose=purpose)
    month_key = record_keys.reader(db_session=db_session, keys=keys)
    records = [
        FoundRecord(carrier=code, record_id=row.record_id, waybill_no=row.waybill_no, station=row.station,
                    region=row.region, doc_type=row.doc_type, taken_at=row.taken_at, received_at=row.received_at,
                    payload=json.loads(keys.decrypt_record(row.carrier_id, row.record_id, row.payload,
                                                           month_key=month_key)))
        for row, code in rows[:MAX_LOOKUP_RECORDS]]
    return LookupResult(entry=entry, records=records, truncated=found > MAX_LOOKUP_RECORDS)

