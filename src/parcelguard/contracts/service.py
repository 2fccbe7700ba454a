"""Agreements with contract customers (协议客户): verify an organisation once, then take its parcels in
without asking each for a document, drawing a share of them for inspection. Knows nothing of HTTP.

Verifying an agreement checks the organisation's unified social credit code and the document of the
person responsible for it, seals both to the regulator (each parcel sent under the agreement carries
that seal in its real-name record), and keeps only masked views and blind indexes of the person's
document. The code and the organisation's name are public (printed on the business licence) and kept
in clear.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from parcelguard.accounts import service as accounts
from parcelguard.audit import service as audit
from parcelguard.contracts.models import Agreement
from parcelguard.core.auth import Actor, Role
from parcelguard.core.clock import now
from parcelguard.core.errors import Conflict, FieldError, Forbidden, Invalid, NotFound
from parcelguard.crypto.keyring import Keyring
from parcelguard.identity import documents
from parcelguard.identity import service as identity
from parcelguard.waybills.masking import mask_name

# The share of a contract customer's parcels drawn for inspection when the agreement names none.
DEFAULT_INSPECTION_PERMILLE = 50
MAX_ORGANISATION_NAME = 200
MAX_NAME_MASKED = 64


@dataclass(frozen=True)
class NewAgreement:
    customer_id: uuid.UUID
    station_id: uuid.UUID
    organisation_name: str
    uscc: str
    responsible_doc_type: str | None
    responsible_number: str
    responsible_name: str
    inspection_permille: int = DEFAULT_INSPECTION_PERMILLE


def create(*, db_session: Session, keyring: Keyring, actor: Actor, agreement: NewAgreement,
           regulator_public_key: bytes, request_id: str | None = None) -> Agreement:
    """Verify a contract customer and record the agreement. A station manager signs customers whose
    parcels their own station picks up; an admin any. Every problem is answered at once."""
    carrier_id = _carrier_of(actor)
    if actor.role not in (Role.STATION_MANAGER, Role.ADMIN):
        raise Forbidden("A station manager or an admin makes agreements.", code="role_not_allowed")
    if actor.role == Role.STATION_MANAGER and agreement.station_id != actor.station_id:
        raise Forbidden("A station manager signs agreements for their own station.", code="not_own_station")
    accounts.get_station(db_session=db_session, carrier_id=carrier_id, station_id=agreement.station_id)
    errors: list[FieldError] = []
    try:
        customer = accounts.get_user(db_session=db_session, carrier_id=carrier_id, user_id=agreement.customer_id)
        if customer.role != Role.ENTERPRISE or not customer.active:
            errors.append(FieldError("/customer_id", "customer_not_enterprise",
                                     "An agreement is made with an active enterprise account."))
    except NotFound:
        errors.append(FieldError("/customer_id", "user_unknown", "No such user."))
    organisation = responsible = None
    try:
        organisation = identity.parse_document(documents.DocType.USCC.value, agreement.uscc)
    except Invalid as exc:
        errors.append(FieldError("/organisation/uscc", exc.code, exc.detail))
    if not agreement.organisation_name.strip() or len(agreement.organisation_name) > MAX_ORGANISATION_NAME:
        errors.append(FieldError("/organisation/name", "field_length",
                                 f"Between 1 and {MAX_ORGANISATION_NAME} characters."))
    try:
        responsible = identity.parse_document(agreement.responsible_doc_type, agreement.responsible_number)
        if responsible.doc_type == documents.DocType.USCC.value:
            responsible = None
            errors.append(FieldError("/responsible/document/number", "document_not_personal",
                                     "The responsible person's own identity document, not an organisation's code."))
    except Invalid as exc:
        errors.append(identity.document_error(exc, "/responsible/document"))
    if not agreement.responsible_name.strip() or len(agreement.responsible_name) > 64:
        errors.append(FieldError("/responsible/document/name", "field_length", "Between 1 and 64 characters."))
    if not 0 <= agreement.inspection_permille <= 1000:
        errors.append(FieldError("/inspection_permille", "share_out_of_range", "Between 0 and 1000 (thousandths)."))
    if errors or organisation is None or responsible is None:
        raise Invalid("The agreement cannot be made: see errors.", code="agreement_invalid", errors=errors)
    if active_for(db_session=db_session, carrier_id=carrier_id, customer_id=agreement.customer_id) is not None:
        raise Conflict("This customer has an agreement in force: revoke it first.", code="agreement_exists",
                       field="/customer_id")
    agreement_id = uuid.uuid4()
    row = Agreement(
        id=agreement_id, carrier_id=carrier_id, customer_id=agreement.customer_id, station_id=agreement.station_id,
        organisation_name=agreement.organisation_name.strip(), uscc=organisation.number,
        uscc_index=identity.blind_index(db_session=db_session, keyring=keyring, carrier_id=carrier_id,
                                        document=organisation),
        responsible_doc_type=responsible.doc_type, responsible_doc_masked=responsible.masked,
        responsible_name_masked=mask_name(agreement.responsible_name),
        responsible_index=identity.blind_index(db_session=db_session, keyring=keyring, carrier_id=carrier_id,
                                               document=responsible),
        sealed=identity.seal_organisation(
            regulator_public_key=regulator_public_key, carrier_id=carrier_id, agreement_id=agreement_id,
            organisation=organisation, organisation_name=agreement.organisation_name,
            responsible=responsible, responsible_name=agreement.responsible_name),
        inspection_permille=agreement.inspection_permille, verified_by=actor.user_id, created_at=now(),
    )
    db_session.add(row)
    try:
        db_session.flush()
    except IntegrityError:  # a concurrent agreement for the same customer won (the partial unique index)
        raise Conflict("This customer has an agreement in force: revoke it first.", code="agreement_exists",
                       field="/customer_id") from None
    _log(db_session, keyring, actor, row, "agreement_made", request_id)
    return row


def active_for(*, db_session: Session, carrier_id: uuid.UUID, customer_id: uuid.UUID) -> Agreement | None:
    """The customer's agreement in force, if any."""
    return db_session.scalar(select(Agreement).where(Agreement.carrier_id == carrier_id,
                                                     Agreement.customer_id == customer_id,
                                                     Agreement.revoked_at.is_(None)))


def get(*, db_session: Session, actor: Actor, agreement_id: uuid.UUID) -> Agreement:
    """An agreement the actor may see: their own (enterprise), their station's (station manager), or any
    of the carrier's (admin, HQ security, auditor). Anything else is as unknown as a missing one."""
    row = db_session.scalar(select(Agreement).where(Agreement.id == agreement_id,
                                                    Agreement.carrier_id == _carrier_of(actor)))
    if row is None or not _may_see(actor, row):
        raise NotFound("No such agreement.", code="agreement_unknown")
    return row


def list_for(*, db_session: Session, actor: Actor, include_revoked: bool = False,
             limit: int = 200) -> list[Agreement]:
    query = select(Agreement).where(Agreement.carrier_id == _carrier_of(actor))
    if actor.role == Role.ENTERPRISE:
        query = query.where(Agreement.customer_id == actor.user_id)
    elif actor.role == Role.STATION_MANAGER:
        query = query.where(Agreement.station_id == actor.station_id)
    if not include_revoked:
        query = query.where(Agreement.revoked_at.is_(None))
    return list(db_session.scalars(query.order_by(Agreement.created_at.desc()).limit(limit)))


def set_inspection_share(*, db_session: Session, keyring: Keyring, actor: Actor, agreement_id: uuid.UUID,
                         permille: int, request_id: str | None = None) -> Agreement:
    """Change the share of the customer's parcels drawn for inspection; a change is logged."""
    row = _for_change(db_session, actor, agreement_id)
    if not 0 <= permille <= 1000:
        raise Invalid("Between 0 and 1000 (thousandths).", code="share_out_of_range", field="/inspection_permille")
    if row.inspection_permille != permille:
        row.inspection_permille = permille
        db_session.flush()
        _log(db_session, keyring, actor, row, "inspection_share", request_id)
    return row


def revoke(*, db_session: Session, keyring: Keyring, actor: Actor, agreement_id: uuid.UUID,
           request_id: str | None = None) -> Agreement:
    """End an agreement: its customer's parcels are refused until a new one is made. Idempotent; logged."""
    row = _for_change(db_session, actor, agreement_id)
    if row.revoked_at is None:
        row.revoked_at, row.revoked_by = now(), actor.user_id
        db_session.flush()
        _log(db_session, keyring, actor, row, "agreement_revoked", request_id)
    return row


def _log(db_session: Session, keyring: Keyring, actor: Actor, row: Agreement, purpose: str,
         request_id: str | None) -> None:
    """Who verified, changed or ended an agreement: an entry of the carrier's tamper-evident log (an
    agreement decides whose parcels are taken in without a document each)."""
    audit.log_admin_change(db_session=db_session, keyring=keyring, actor=actor, subject=f"agreement:{row.id}",
                           purpose=purpose, request_id=request_id)


def draw_for_inspection(permille: int, roll: int | None = None) -> bool:
    """Whether a parcel is drawn for inspection: for exactly `permille` of the thousand equally likely
    rolls, from the operating system's CSPRNG, so the customer cannot tell which parcels will be opened.
    (`roll` in 0..999 is for tests.)"""
    return (secrets.randbelow(1000) if roll is None else roll) < permille


def sender(agreement: Agreement) -> identity.PresealedSender:
    """The sender every parcel under this agreement names for the regulator: the organisation."""
    name = agreement.organisation_name
    return identity.PresealedSender(
        doc_type=documents.DocType.USCC.value, doc_masked=agreement.uscc,
        name_masked=name if len(name) <= MAX_NAME_MASKED else name[: MAX_NAME_MASKED - 1] + "…",
        blind_index=agreement.uscc_index, sealed=agreement.sealed,
        seal_context=identity.agreement_context(agreement.carrier_id, agreement.id))


def _for_change(db_session: Session, actor: Actor, agreement_id: uuid.UUID) -> Agreement:
    if actor.role not in (Role.STATION_MANAGER, Role.ADMIN):
        raise Forbidden("A station manager or an admin changes agreements.", code="role_not_allowed")
    return get(db_session=db_session, actor=actor, agreement_id=agreement_id)


def _may_see(actor: Actor, row: Agreement) -> bool:
    match actor.role:
        case Role.ENTERPRISE:
            return row.customer_id == actor.user_id
        case Role.STATION_MANAGER:
            return row.station_id == actor.station_id
        case Role.ADMIN | Role.HQ_SECURITY | Role.AUDITOR:
            return True
        case _:
            return False


def _carrier_of(actor: Actor) -> uuid.UUID:
    if actor.carrier_id is None:
        raise NotFound("No such agreement.", code="agreement_unknown")
    return actor.carrier_id
