"""The sender's identity at intake: check the document, seal it for the regulator, keep only its
masked view and blind index, queue it for upload, and watch for the cheats the rules were written
against. Knows nothing of HTTP. Nothing here can open a sealed record: the carrier holds no key for it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from parcelguard.accounts import service as accounts
from parcelguard.audit import service as audit
from parcelguard.blacklist import client as blacklist_client
from parcelguard.blacklist import service as blacklist_service
from parcelguard.core import db
from parcelguard.core.auth import Actor, Role
from parcelguard.core.clock import now
from parcelguard.core.errors import DomainError, FieldError, Forbidden, Invalid, NotFound
from parcelguard.core.phones import PhoneRefused, check_phone
from parcelguard.crypto import sealing, tokens
from parcelguard.crypto.keyring import Keyring
from parcelguard.crypto.types import Aad, BlindIndex
from parcelguard.identity import documents, otp
from parcelguard.identity.models import RealNameRecord, SenderRegistration, StaffDocument
from parcelguard.identity.sms import SmsSender
from parcelguard.regulator.models import OutboxEntry
from parcelguard.retention import classes
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
    """Check a document number; raises `documents.InvalidDocument` with the document's reason code
    (id_check_digit, ...; `document_error` puts it in a request's errors)."""
    parsed = documents.parse(number, doc_type)
    return CheckedDocument(doc_type=parsed.doc_type.value, number=parsed.number, masked=str(parsed.masked),
                           index_key=parsed.index_key)


def document_error(exc: DomainError, document: str) -> FieldError:
    """The error of a refused document at `document` (a pointer to the request's document object): at its
    `/type` for a type parcelguard does not accept, else at its `/number`."""
    part = exc.part if isinstance(exc, documents.InvalidDocument) else "number"
    return FieldError(f"{document}/{part}", exc.code, exc.detail)


def blind_index(*, db_session: Session, keyring: Keyring, carrier_id: uuid.UUID,
                document: CheckedDocument) -> BlindIndex:
    # The type is part of the key (the same digits on two kinds of document are two documents), except
    # that a resident ID and a temporary one share their number: entering one as the other still matches.
    return keyring.blind_index(db_session=db_session, carrier_id=carrier_id, field="document_number",
                               value=document.index_key)


def seal_context(carrier_id: uuid.UUID, record_id: uuid.UUID) -> bytes:
    """The associated data a sealed record is bound to: it opens only as this carrier's record."""
    return f"{SEAL_CONTEXT}|{carrier_id}|{record_id}".encode()


def registration_context(carrier_id: uuid.UUID, registration_id: uuid.UUID) -> bytes:
    """The associated data of a sender registration's seal (carried by each of its parcels' records)."""
    return f"{SEAL_CONTEXT}|{carrier_id}|registration:{registration_id}".encode()


def _sealed_payload(document: CheckedDocument, name: str) -> bytes:
    return json.dumps({"doc_type": document.doc_type, "doc_number": document.number, "name": name.strip()},
                      sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True)
class SenderRecord:
    """What the carrier keeps of one sender's identity (the row of `RealNameRecord` minus the seal)."""

    id: uuid.UUID
    shipment_id: uuid.UUID
    doc_type: str
    doc_masked: str
    name_masked: str
    blind_index: bytes


@dataclass(frozen=True)
class TypedSender:
    """A sender whose document the courier entered at pickup."""

    document: CheckedDocument
    name: str


@dataclass(frozen=True)
class PresealedSender:
    """A sender whose document was checked and sealed before the parcel: a registered sender (real-name
    QR) or a contract customer's agreement. Each parcel's record carries that seal, with its context."""

    doc_type: str
    doc_masked: str
    name_masked: str
    blind_index: bytes
    sealed: bytes
    seal_context: bytes


def presealed(registration: SenderRegistration) -> PresealedSender:
    return PresealedSender(doc_type=registration.doc_type, doc_masked=registration.doc_masked,
                           name_masked=registration.name_masked, blind_index=registration.blind_index,
                           sealed=registration.sealed,
                           seal_context=registration_context(registration.carrier_id, registration.id))


def agreement_context(carrier_id: uuid.UUID, agreement_id: uuid.UUID) -> bytes:
    """The associated data of a contract customer's seal (carried by each of its parcels' records)."""
    return f"{SEAL_CONTEXT}|{carrier_id}|agreement:{agreement_id}".encode()


def seal_organisation(*, regulator_public_key: bytes, carrier_id: uuid.UUID, agreement_id: uuid.UUID,
                      organisation: CheckedDocument, organisation_name: str, responsible: CheckedDocument,
                      responsible_name: str) -> bytes:
    """An organisation sender's identity for the regulator: its unified social credit code and name, and
    the document of the person responsible for it (GB 32100-2015; the rules ask for both)."""
    payload = json.loads(_sealed_payload(organisation, organisation_name))
    payload["responsible"] = json.loads(_sealed_payload(responsible, responsible_name))
    return sealing.seal(regulator_public_key,
                        json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(),
                        agreement_context(carrier_id, agreement_id))


def record_senders(
    *, db_session: Session, keyring: Keyring, carrier_id: uuid.UUID,
    senders: Sequence[tuple[uuid.UUID, TypedSender | SenderRegistration | PresealedSender]],
    regulator_public_key: bytes, sealer: sealing.SealingSession | None = None,
) -> list[SenderRecord]:
    """For each (shipment id, sender): seal `{doc_type, doc_number, name}` to the regulator (a registered
    sender's or a contract customer's record carries the seal made before), keep the masked view and
    blind index, and queue the record for upload; bulk, in the caller's transaction."""
    sealer = sealer or sealing.SealingSession(regulator_public_key, max_records=max(len(senders), 1))
    moment = now()
    records, rows, outbox = [], [], []
    for shipment_id, sender in senders:
        record_id = uuid.uuid4()
        if isinstance(sender, SenderRegistration):
            sender = presealed(sender)
        if isinstance(sender, PresealedSender):
            record = SenderRecord(id=record_id, shipment_id=shipment_id, doc_type=sender.doc_type,
                                  doc_masked=sender.doc_masked, name_masked=sender.name_masked,
                                  blind_index=sender.blind_index)
            sealed, context = sender.sealed, sender.seal_context
        else:
            document = sender.document
            record = SenderRecord(
                id=record_id, shipment_id=shipment_id, doc_type=document.doc_type, doc_masked=document.masked,
                name_masked=mask_name(sender.name),
                blind_index=blind_index(db_session=db_session, keyring=keyring, carrier_id=carrier_id,
                                        document=document),
            )
            context = seal_context(carrier_id, record_id)
            sealed = sealer.seal(_sealed_payload(document, sender.name), context)
        records.append(record)
        rows.append({"id": record.id, "carrier_id": carrier_id, "shipment_id": shipment_id,
                     "doc_type": record.doc_type, "doc_masked": record.doc_masked, "name_masked": record.name_masked,
                     "blind_index": record.blind_index, "created_at": moment, "sealed": sealed,
                     "seal_context": context.decode()})
        outbox.append({"carrier_id": carrier_id, "record_id": record.id, "created_at": moment, "attempts": 0})
    db.bulk_insert(db_session, RealNameRecord, rows)
    db.bulk_insert(db_session, OutboxEntry, outbox)
    return records


@dataclass(frozen=True)
class SealedForUpload:
    """A real-name record as the regulator's platform receives it: the seal and what it is bound to."""

    record_id: uuid.UUID
    shipment_id: uuid.UUID
    doc_type: str
    sealed: bytes
    seal_context: str
    created_at: datetime


def sealed_records(*, db_session: Session, carrier_id: uuid.UUID,
                   record_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, SealedForUpload]:
    """The records still holding their sealed copy, by id (one query)."""
    rows = db_session.execute(select(
        RealNameRecord.id, RealNameRecord.shipment_id, RealNameRecord.doc_type, RealNameRecord.sealed,
        RealNameRecord.seal_context, RealNameRecord.created_at,
    ).where(RealNameRecord.carrier_id == carrier_id, RealNameRecord.id.in_(record_ids),
            RealNameRecord.sealed.is_not(None)))
    return {row[0]: SealedForUpload(*row) for row in rows}


def drop_seals(*, db_session: Session, carrier_id: uuid.UUID, record_ids: Sequence[uuid.UUID],
               receipt_at: datetime) -> int:
    """The regulator's signed receipt names these records: delete the carrier's sealed copies (the
    data flows one way) and note when. Answers how many were dropped."""
    if not record_ids:
        return 0
    result = db_session.execute(update(RealNameRecord).where(
        RealNameRecord.carrier_id == carrier_id, RealNameRecord.id.in_(record_ids),
        RealNameRecord.sealed.is_not(None)).values(sealed=None, receipt_at=receipt_at))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def check_senders(*, db_session: Session, carrier_id: uuid.UUID, records: Sequence[SenderRecord],
                  takers: Sequence[tuple[Actor, str | None]]) -> dict[uuid.UUID, list[str]]:
    """Raise the alerts these intakes deserve (two queries, whatever their number); answers the alert
    kinds by record id. `takers`: each record's courier and request id. A courier who enters their own
    document as the sender's (`courier_own_id`), and one document behind an unusual number of parcels in a
    day (`document_overused`)."""
    raised: dict[uuid.UUID, list[str]] = {r.id: [] for r in records}
    indexes = {r.blind_index for r in records}
    if not indexes:
        return raised
    own = own_documents_of(db_session=db_session, carrier_id=carrier_id,
                           pairs={(actor.user_id, r.blind_index) for r, (actor, _) in zip(records, takers, strict=True)})
    for record, (actor, request_id) in zip(records, takers, strict=True):
        if (actor.user_id, record.blind_index) in own:
            audit.raise_alert(db_session=db_session, carrier_id=carrier_id, kind="courier_own_id",
                              dedupe_key=f"courier_own_id:{record.id}", actor_id=actor.user_id,
                              detail={"shipment_id": str(record.shipment_id), "station_id": str(actor.station_id),
                                      "request_id": request_id})
            raised[record.id].append("courier_own_id")
    used = {index: count for index, count in db_session.execute(
        select(RealNameRecord.blind_index, func.count()).where(
            RealNameRecord.carrier_id == carrier_id, RealNameRecord.blind_index.in_(indexes),
            RealNameRecord.created_at >= now() - timedelta(days=1))
        .group_by(RealNameRecord.blind_index))}
    alerted: set[bytes] = set()
    for record, (actor, _) in zip(records, takers, strict=True):
        count = used.get(record.blind_index, 0)
        if count > DOCUMENT_DAILY_ALERT and record.blind_index not in alerted:
            alerted.add(record.blind_index)  # one alert a day per document: the rest would be no-ops
            audit.raise_alert(db_session=db_session, carrier_id=carrier_id, kind="document_overused",
                              dedupe_key=f"document_overused:{record.blind_index.hex()[:32]}:{now().date()}",
                              actor_id=actor.user_id,
                              detail={"parcels_in_24h": int(count), "latest_shipment_id": str(record.shipment_id)})
            raised[record.id].append("document_overused")
    return raised


def own_documents_of(*, db_session: Session, carrier_id: uuid.UUID,
                     pairs: set[tuple[uuid.UUID, bytes]]) -> set[tuple[uuid.UUID, bytes]]:
    """Which of these (staff member, blind index) pairs are a staff member's own registered document: one query
    for the couriers of a whole batch."""
    if not pairs:
        return set()
    users, indexes = {user for user, _ in pairs}, {index for _, index in pairs}
    found = db_session.execute(select(StaffDocument.user_id, StaffDocument.blind_index).where(
        StaffDocument.carrier_id == carrier_id, StaffDocument.user_id.in_(users),
        StaffDocument.blind_index.in_(indexes)))
    return {(user, index) for user, index in found} & pairs


FROM_SETTINGS = object()  # `register_staff_document`'s blacklist: as the process's settings configure it


def register_staff_document(*, db_session: Session, keyring: Keyring, actor: Actor, user_id: uuid.UUID,
                            doc_type: str | None, number: str,
                            blacklist: blacklist_service.Industry | None | object = FROM_SETTINGS,
                            request_id: str | None = None) -> None:
    """Keep a staff member's own document as a blind index (at onboarding), so intake can tell when a
    courier enters it as a sender's. A station manager registers their own station's staff.

    With the industry blacklist on (`blacklist`, by default as the process's settings configure it), the
    document's industry hash is kept too and the blacklist is asked first; the carrier's `blacklist_policy`
    decides what a listed person, or an unanswered question, does (`blacklist.service.screen_staff`)."""
    if actor.carrier_id is None:
        raise NotFound("No such user.", code="user_unknown")
    user = accounts.get_user(db_session=db_session, carrier_id=actor.carrier_id, user_id=user_id)
    if actor.role == Role.STATION_MANAGER and user.station_id != actor.station_id:
        raise NotFound("No such user.", code="user_unknown")
    try:
        document = parse_document(doc_type, number)
    except Invalid as exc:
        raise Invalid(exc.detail, code=exc.code, errors=[document_error(exc, "")]) from None
    index = blind_index(db_session=db_session, keyring=keyring, carrier_id=actor.carrier_id, document=document)
    industry = blacklist_client.configured() if blacklist is FROM_SETTINGS else blacklist
    industry_index = None
    if isinstance(industry, blacklist_service.Industry):
        industry_index = industry.person(document.index_key)
        blacklist_service.screen_staff(db_session=db_session, keyring=keyring, industry=industry, actor=actor,
                                       user_id=user.id, station_id=user.station_id, person=industry_index,
                                       request_id=request_id)
    row = db_session.get(StaffDocument, user.id)
    if row is None:
        db_session.add(StaffDocument(user_id=user.id, carrier_id=actor.carrier_id, blind_index=index,
                                     industry_index=industry_index))
    else:
        row.blind_index, row.industry_index, row.registered_at = index, industry_index, now()
    db_session.flush()


def staff_industry_index(*, db_session: Session, carrier_id: uuid.UUID, user_id: uuid.UUID) -> bytes | None:
    """The industry blacklist's hash of a staff member's registered document (None: none on file, or registered
    while the blacklist was off): what the carrier reports them by."""
    return db_session.scalar(select(StaffDocument.industry_index).where(
        StaffDocument.carrier_id == carrier_id, StaffDocument.user_id == user_id))


def staff_documents_on_file(*, db_session: Session, carrier_id: uuid.UUID,
                            user_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, datetime]:
    """Which of these staff members have their own document on file, and since when (registered or last
    replaced); those without are left out. Only the date: the document itself is a blind index."""
    if not user_ids:
        return {}
    return dict(db_session.execute(select(StaffDocument.user_id, StaffDocument.registered_at).where(
        StaffDocument.carrier_id == carrier_id, StaffDocument.user_id.in_(list(user_ids)))).tuples().all())


# -- courier QR: the public can tell a genuine courier from a fake one -----------------------------

COURIER_TOKEN_PURPOSE = "token:courier"


@dataclass(frozen=True)
class CourierToken:
    token: str
    expires_at: int  # POSIX seconds


def courier_token(*, db_session: Session, keyring: Keyring, actor: Actor) -> CourierToken:
    """A short-lived signed token for the courier's QR code: it names the courier's account, nothing else."""
    if actor.role != Role.COURIER or actor.carrier_id is None:
        raise Forbidden("Only a courier shows a courier QR code.", code="role_not_allowed")
    signer = keyring.signing_key(db_session=db_session, carrier_id=actor.carrier_id, purpose=COURIER_TOKEN_PURPOSE)
    token = tokens.issue(signer, kind="courier", subject=actor.user_id)
    return CourierToken(token=token, expires_at=tokens.verify(token, {signer.key_id: signer.public_key},
                                                              kind="courier").expires_at)


@dataclass(frozen=True)
class CourierCheck:
    """The public answer, the same shape whether or not the courier is genuine."""

    genuine: bool
    reason: str | None = None
    carrier: str | None = None
    station: str | None = None
    courier: str | None = None  # masked name
    status: str | None = None  # active | inactive


def verify_courier(*, db_session: Session, keyring: Keyring, token: str) -> CourierCheck:
    try:
        owner = keyring.signing_key_owner(db_session=db_session, key_id=tokens.key_id_of(token))
        if owner is None or owner[1] != COURIER_TOKEN_PURPOSE:
            raise tokens.TokenInvalid("token_signature")
        carrier_id, _, public = owner
        verified = tokens.verify(token, {tokens.key_id_of(token): public}, kind="courier")
    except tokens.TokenInvalid as exc:
        return CourierCheck(genuine=False, reason=exc.reason)
    try:
        user = accounts.get_user(db_session=db_session, carrier_id=carrier_id, user_id=verified.subject_uuid)
    except NotFound:
        return CourierCheck(genuine=False, reason="courier_unknown")
    carrier = accounts.get_carrier(db_session=db_session, carrier_id=carrier_id)
    station = (accounts.get_station(db_session=db_session, carrier_id=carrier_id, station_id=user.station_id)
               if user.station_id else None)
    if user.role != Role.COURIER:
        return CourierCheck(genuine=False, reason="courier_unknown")
    return CourierCheck(genuine=user.active, reason=None if user.active else "courier_inactive", carrier=carrier.name,
                        station=station.name if station else None, courier=mask_name(user.display_name),
                        status="active" if user.active else "inactive")


# -- real-name QR: a sender registers once and shows a signed, short-lived token ------------------

REALNAME_TOKEN_PURPOSE = "token:realname"


@dataclass(frozen=True)
class RealNameToken:
    registration_id: uuid.UUID
    token: str
    expires_at: int  # POSIX seconds
    refresh_secret: str | None = None  # given once, when the phone is proved: it fetches fresh tokens


def register_sender(*, db_session: Session, keyring: Keyring, sms: SmsSender, policy: otp.Policy, carrier_slug: str,
                    doc_type: str | None, number: str, name: str, phone: str,
                    regulator_public_key: bytes) -> otp.CodeSent:
    """A sender registers once: the document is checked and sealed to the regulator, name and phone are
    encrypted for the carrier, and a code goes to the phone by SMS; `verify_sender` then gives the token."""
    carrier = accounts.get_carrier_by_slug(db_session=db_session, slug=carrier_slug)
    if carrier is None:
        raise NotFound("No such carrier.", code="carrier_unknown")
    errors: list[FieldError] = []
    document = None
    try:
        document = parse_document(doc_type, number)
    except Invalid as exc:
        errors.append(document_error(exc, "/document"))
    try:
        phone = check_phone(phone)
    except PhoneRefused as exc:
        errors.append(FieldError("/phone", exc.code, exc.detail))
    if not name.strip() or len(name) > 64:
        errors.append(FieldError("/document/name", "field_length", "Between 1 and 64 characters."))
    if errors or document is None:
        raise Invalid("The registration cannot be accepted: see errors.", code="registration_invalid",
                      errors=errors)
    registration_id = uuid.uuid4()
    table = SenderRegistration.__tablename__
    db_session.add(registration := SenderRegistration(
        id=registration_id, carrier_id=carrier.id, doc_type=document.doc_type, doc_masked=document.masked,
        name_masked=mask_name(name),
        blind_index=blind_index(db_session=db_session, keyring=keyring, carrier_id=carrier.id, document=document),
        sealed=sealing.seal(regulator_public_key, _sealed_payload(document, name),
                            registration_context(carrier.id, registration_id)),
        name=keyring.encrypt(db_session=db_session, carrier_id=carrier.id, plaintext=name.strip(),
                             aad=Aad(table, "name", registration_id), data_class=classes.REALNAME_REGISTRATION.name),
        phone=keyring.encrypt(db_session=db_session, carrier_id=carrier.id, plaintext=phone,
                              aad=Aad(table, "phone", registration_id), data_class=classes.REALNAME_REGISTRATION.name),
    ))
    db_session.flush()
    return otp.send_code(db_session=db_session, keyring=keyring, sender=sms, registration=registration,
                         carrier_slug=carrier.slug, carrier_name=carrier.name, policy=policy, phone=phone)


def verify_sender(*, db_session: Session, keyring: Keyring, policy: otp.Policy, carrier_slug: str,
                  registration_id: uuid.UUID, code: str) -> RealNameToken:
    """The code sent to the phone proves it: the registration becomes usable, and the answer is its first
    token plus the secret that refreshes it (given once)."""
    _, row = otp.pending_registration(db_session=db_session, carrier_slug=carrier_slug, registration_id=registration_id)
    otp.verify_code(db_session=db_session, keyring=keyring, registration=row, given=code, policy=policy)
    secret = secrets.token_urlsafe(32)
    row.refresh_hash = hashlib.sha256(secret.encode()).digest()
    issued = _realname_token(db_session, keyring, row.carrier_id, row.id)
    return RealNameToken(row.id, issued.token, issued.expires_at, refresh_secret=secret)


def refresh_realname_token(*, db_session: Session, keyring: Keyring, carrier_slug: str,
                           registration_id: uuid.UUID, secret: str) -> RealNameToken:
    """A fresh token for a verified registration whose sender holds the refresh secret; else unknown."""
    carrier = accounts.get_carrier_by_slug(db_session=db_session, slug=carrier_slug)
    row = None if carrier is None else db_session.scalar(select(SenderRegistration).where(
        SenderRegistration.id == registration_id, SenderRegistration.carrier_id == carrier.id))
    stored = row.refresh_hash if row is not None and row.verified_at is not None else None
    if not hmac.compare_digest(stored or bytes(32), hashlib.sha256(secret.encode()).digest()) or row is None:
        raise NotFound("No such registration.", code="registration_unknown")
    return _realname_token(db_session, keyring, row.carrier_id, row.id)


def _realname_token(db_session: Session, keyring: Keyring, carrier_id: uuid.UUID,
                    registration_id: uuid.UUID) -> RealNameToken:
    signer = keyring.signing_key(db_session=db_session, carrier_id=carrier_id, purpose=REALNAME_TOKEN_PURPOSE)
    token = tokens.issue(signer, kind="realname", subject=registration_id)
    expires = tokens.verify(token, {signer.key_id: signer.public_key}, kind="realname").expires_at
    return RealNameToken(registration_id, token, expires)


def resolve_realname_token(*, db_session: Session, keyring: Keyring, carrier_id: uuid.UUID,
                           token: str) -> SenderRegistration:
    """The registration a scanned real-name QR names, for this carrier; `Invalid` with the token's
    reason code (`token_expired`, `token_signature`, ...) or `realname_token_unknown`."""
    keys = keyring.public_keys(db_session=db_session, carrier_id=carrier_id, purpose=REALNAME_TOKEN_PURPOSE)
    try:
        verified = tokens.verify(token, keys, kind="realname")
    except tokens.TokenInvalid as exc:
        raise Invalid("The real-name QR code cannot be used: ask the sender to refresh it.", code=exc.reason,
                      field="/sender/realname_token") from None
    row = db_session.scalar(select(SenderRegistration).where(SenderRegistration.id == verified.subject_uuid,
                                                             SenderRegistration.carrier_id == carrier_id))
    if row is None or row.verified_at is None:
        raise Invalid("The real-name QR code names no registration.", code="realname_token_unknown",
                      field="/sender/realname_token")
    return row


def registration_field(registration: SenderRegistration, field: str) -> tuple[bytes, Aad]:
    """A registration's encrypted name or phone with the associated data it is bound to (for
    `Keyring.rebind`: it moves to a shipment unread)."""
    return getattr(registration, field), Aad(SenderRegistration.__tablename__, field, registration.id)
