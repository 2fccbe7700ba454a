"""Real-name intake's parts that touch no table of their own: what a terminal or an enterprise asks
(`IntakeRequest`), what it gets back (`Intake`), and the checks of each parcel before anything is written
(`check_walk_in`, `check_contract`). `flows` runs them; split from it to keep each module small."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from parcelguard.contracts import service as contracts
from parcelguard.contracts.models import Agreement
from parcelguard.core.errors import DomainError, FieldError, Invalid
from parcelguard.core.phones import PhoneRefused, check_phone
from parcelguard.crypto.keyring import Keyring
from parcelguard.identity import service as identity_service
from parcelguard.identity.documents import DocType
from parcelguard.identity.models import SenderRegistration
from parcelguard.shipments import photos, service
from parcelguard.shipments.catalogue import Catalogue


@dataclass(frozen=True)
class SenderDocument:
    doc_type: str | None
    number: str
    name: str


@dataclass(frozen=True)
class IntakeRequest:
    sender_document: SenderDocument | None  # typed at pickup, or ...
    sender_phone: str | None
    sender_address: str
    recipient_name: str
    recipient_phone: str
    recipient_region: service.Region
    recipient_detail: str
    items: list[service.Item]
    destination_station_id: uuid.UUID | None = None
    realname_token: str | None = None  # ... the sender's real-name QR (name and phone come with it)
    inspected: bool = False  # the courier opened and checked the parcel (开箱验视)
    photos: Sequence[photos.Photo] = ()  # taken at that inspection
    # A contract customer's parcel: the contact person who hands it over (the organisation when left out),
    # and the customer's own id for it (its order number).
    sender_name: str | None = None
    reference: str | None = None


@dataclass(frozen=True)
class Intake:
    """What the terminal gets back: nothing it shows can identify anyone."""

    shipment_id: uuid.UUID
    waybill_no: str
    sender_name_masked: str
    sender_doc_type: str
    sender_doc_masked: str
    recipient_name_masked: str
    recipient_region: service.Region
    alerts: list[str]
    inspection_draw: str | None = None  # a contract parcel drawn for inspection at pickup: random | restricted


class OwnDocumentRefused(Invalid):
    """The carrier refuses intakes whose sender document is the taking courier's own. The alert raised
    with the refusal must outlive the failed request (`take_in` commits it before raising)."""


Sender = identity_service.TypedSender | SenderRegistration | identity_service.PresealedSender


@dataclass(frozen=True)
class Checked:
    index: int
    request: IntakeRequest
    sender: Sender
    sender_phone: str | None
    recipient_phone: str
    draw: str | None = None


def check_walk_in(db_session: Session, keyring: Keyring, carrier_id: uuid.UUID, index: int,
                   request: IntakeRequest, catalogue: Catalogue) -> Checked:
    """A parcel a courier takes in: every field checked before anything is written, all the problems at
    once, each with its code. The sender is typed at pickup or named by a real-name QR."""
    errors: list[FieldError] = []
    sender: Sender | None = None
    sender_phone = None
    typed = request.sender_document
    if (typed is None) == (request.realname_token is None):
        errors.append(FieldError("/sender", "sender_identity_required",
                                 "Give the sender's real-name QR token or their document, not both."))
    elif request.realname_token is not None:
        try:
            sender = identity_service.resolve_realname_token(db_session=db_session, keyring=keyring,
                                                             carrier_id=carrier_id, token=request.realname_token)
        except Invalid as exc:
            errors.extend(exc.errors)
    if typed is not None:
        try:
            sender = identity_service.TypedSender(
                identity_service.parse_document(typed.doc_type, typed.number), typed.name)
            if sender.document.doc_type == DocType.USCC:
                sender = None
                errors.append(FieldError("/sender/document/number", "document_not_personal",
                                         "An organisation sends under an agreement (协议客户), or through the person "
                                         "who hands the parcel in: enter that person's own document."))
        except DomainError as exc:
            errors.append(identity_service.document_error(exc, "/sender/document"))
        if not typed.name.strip() or len(typed.name) > 64:
            errors.append(FieldError("/sender/document/name", "field_length", "Between 1 and 64 characters."))
        try:
            sender_phone = check_phone(request.sender_phone or "")
        except PhoneRefused as exc:
            errors.append(FieldError("/sender/phone", exc.code, exc.detail))
    recipient_phone, restricted = _check_parcel(request, catalogue, errors)
    if restricted is not None and not request.inspected:
        errors.append(FieldError("/inspection/inspected", "inspection_required",
                                 f"Item {restricted[0]} falls under the restricted rule {restricted[1]}: open and "
                                 "check the parcel, then record the inspection."))
    if request.photos and not request.inspected:
        errors.append(FieldError("/inspection/photos", "photos_without_inspection",
                                 "Photos are taken at an inspection: record it (inspected: true)."))
    errors.extend(photos.check(request.photos))
    if errors or sender is None:
        raise Invalid("The parcel cannot be taken in: see errors.", code="intake_invalid", errors=errors)
    return Checked(index, request, sender, sender_phone, recipient_phone)


def check_contract(agreement: Agreement, index: int, request: IntakeRequest, catalogue: Catalogue) -> Checked:
    """A contract customer's parcel: the sender is the organisation its agreement verified, so no
    document is asked; the customer gives the contact phone (and may name the contact person). A
    restricted item, or the agreement's share drawn at random, marks it for inspection at pickup."""
    errors: list[FieldError] = []
    if request.sender_document is not None or request.realname_token is not None:
        errors.append(FieldError("/sender", "sender_identity_by_agreement",
                                 "A contract customer's parcels are sent under its agreement: leave out the "
                                 "sender's document and real-name token."))
    if request.sender_name is not None and not 0 < len(request.sender_name.strip()) <= 64:
        errors.append(FieldError("/sender/name", "field_length", "Between 1 and 64 characters."))
    sender_phone = None
    try:
        sender_phone = check_phone(request.sender_phone or "")
    except PhoneRefused as exc:
        errors.append(FieldError("/sender/phone", exc.code, exc.detail))
    if request.inspected or request.photos:
        errors.append(FieldError("/inspection", "inspection_by_courier",
                                 "The courier records the inspection at pickup, not the sender."))
    recipient_phone, restricted = _check_parcel(request, catalogue, errors)
    if errors:
        raise Invalid("The parcel cannot be taken in: see errors.", code="intake_invalid", errors=errors)
    draw = ("restricted" if restricted is not None else
            "random" if contracts.draw_for_inspection(agreement.inspection_permille) else None)
    return Checked(index, request, contracts.sender(agreement), sender_phone, recipient_phone, draw)


def _check_parcel(request: IntakeRequest, catalogue: Catalogue,
                  errors: list[FieldError]) -> tuple[str, tuple[int, str] | None]:
    """The checks every parcel takes, whoever sends it: the recipient, the address, the items against
    the catalogue. Appends to `errors`; answers the recipient's phone (E.164) and the first item the
    catalogue restricts (its index and rule), if any."""
    recipient_phone = ""
    try:
        recipient_phone = check_phone(request.recipient_phone)
    except PhoneRefused as exc:
        errors.append(FieldError("/recipient/phone", exc.code, exc.detail))
    for pointer, value, limit in (
        ("/sender/address", request.sender_address, 200),
        ("/recipient/name", request.recipient_name, 64),
        ("/recipient/address/province", request.recipient_region.province, 32),
        ("/recipient/address/city", request.recipient_region.city, 32),
        ("/recipient/address/district", request.recipient_region.district, 32),
        ("/recipient/address/detail", request.recipient_detail, 200),
    ):
        if not value.strip() or len(value) > limit:
            errors.append(FieldError(pointer, "field_length", f"Between 1 and {limit} characters."))
    if not request.items:
        errors.append(FieldError("/items", "items_empty", "Name at least one item."))
    restricted = None
    for i, item in enumerate(request.items):
        if not item.description.strip() or len(item.description) > 200:
            errors.append(FieldError(f"/items/{i}/description", "field_length", "Between 1 and 200 characters."))
        elif not catalogue.is_known_category(item.category):
            errors.append(FieldError(f"/items/{i}/category", "category_unknown",
                                     "Not a known item category (GET /api/v1/catalogue lists them)."))
        else:
            hit = catalogue.match(item.category, item.description)
            if hit is not None and hit.level == "prohibited":
                rule = catalogue.rule(hit.rule_id)
                errors.append(FieldError(f"/items/{i}/description", "item_prohibited",
                                         f"Prohibited by rule {hit.rule_id} ({rule.label_zh}, {rule.label_en}); "
                                         f"matched on the {hit.matched_on} {hit.term!r}."))
            elif hit is not None and restricted is None:
                restricted = (i, hit.rule_id)
        if not 1 <= item.quantity <= 10_000:
            errors.append(FieldError(f"/items/{i}/quantity", "quantity_out_of_range", "Between 1 and 10000."))
        if not 0 <= item.declared_value_cents <= 10**11:
            errors.append(FieldError(f"/items/{i}/declared_value_cents", "value_out_of_range",
                                     "Not negative, at most 10^9 yuan."))
    return recipient_phone, restricted
