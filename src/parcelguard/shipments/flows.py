"""Steps that span domains: real-name intake (validate → number → encrypt → seal → outbox), and the
demo shipments for `parcelguard init --demo` (plainly fictitious people, so the tour can reveal)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from parcelguard.accounts import service as accounts
from parcelguard.core.auth import Actor, Role
from parcelguard.core.errors import DomainError, FieldError, Forbidden, Invalid
from parcelguard.crypto import sealing
from parcelguard.crypto.blind_index import NotNormalisable, normalise_phone
from parcelguard.crypto.keyring import Keyring
from parcelguard.identity import service as identity_service
from parcelguard.identity.models import SenderRegistration
from parcelguard.shipments import catalogue_store, service
from parcelguard.shipments.catalogue import Catalogue
from parcelguard.shipments.models import Shipment
from parcelguard.waybills import service as waybill_service
from parcelguard.waybills.masking import mask_name

# Names from no one's ID card; phone numbers in the 13800000xxx range the trade uses for examples.
_DEMO_PARTIES = (
    service.Parties("演示寄件人甲", "+8613800000001", "北京市朝阳区演示路1号", "演示收件人乙", "+8613800000002",
                    "上海市浦东新区示例路2号 1单元 101"),
    service.Parties("演示寄件人丙", "+8613800000003", "北京市朝阳区演示路3号", "欧阳演示", "+8613800000004",
                    "上海市浦东新区示例路4号 2单元 202"),
    service.Parties("演示商家", "+8613800000005", "北京市朝阳区演示路5号", "司马演示", "+8613800000006",
                    "北京市朝阳区示例路6号 3单元 303"),
)


def seed_demo_shipments(*, db_session: Session, keyring: Keyring, carrier_id: uuid.UUID, origin: uuid.UUID,
                        destination: uuid.UUID, courier: uuid.UUID, manager: Actor, shop: uuid.UUID) -> int:
    """Three shipments: two from `origin` for the courier to deliver at `destination`, and one the demo
    shop sends from `destination` for the courier to pick up. Idempotent: a carrier that has shipments
    gets none."""
    if db_session.scalar(select(Shipment.id).where(Shipment.carrier_id == carrier_id).limit(1)) is not None:
        return 0
    assert manager.role == Role.STATION_MANAGER
    made = [
        service.create(db_session=db_session, keyring=keyring, carrier_id=carrier_id, parties=parties,
                       origin_station_id=destination if n == 2 else origin,
                       destination_station_id=origin if n == 2 else destination, customer_id=shop if n == 2 else None)
        for n, parties in enumerate(_DEMO_PARTIES)
    ]
    for shipment, task in zip(made, (service.Task.DELIVERY, service.Task.DELIVERY, service.Task.PICKUP), strict=True):
        service.assign(db_session=db_session, actor=manager, shipment_id=shipment.id, courier_id=courier, task=task)
    return len(made)


# -- intake (实名收寄) ------------------------------------------------------------------------------

@dataclass(frozen=True)
class SenderDocument:
    doc_type: str
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


def take_in(*, db_session: Session, keyring: Keyring, actor: Actor, request: IntakeRequest,
            regulator_public_key: bytes, sealer: sealing.SealingSession | None = None,
            request_id: str | None = None) -> Intake:
    """One parcel (see `take_in_batch`); raises `Invalid` with every field's problem."""
    [result] = take_in_batch(db_session=db_session, keyring=keyring, actor=actor, requests=[request],
                             regulator_public_key=regulator_public_key, sealer=sealer, request_id=request_id)
    if isinstance(result, DomainError):
        raise result
    return result


def take_in_batch(*, db_session: Session, keyring: Keyring, actor: Actor, requests: Sequence[IntakeRequest],
                  regulator_public_key: bytes, sealer: sealing.SealingSession | None = None,
                  request_id: str | None = None) -> list[Intake | Invalid]:
    """Real-name intake of many parcels in the caller's transaction; one answer per request, in order:
    the `Intake`, or the `Invalid` with every problem of that parcel (a bad parcel does not sink the
    good ones). For the good ones: allocate the waybill numbers, encrypt the contact fields, seal each
    sender's document for the regulator under one sealing session, keep only masked views and blind
    indexes, and write the shipments, their real-name records and outbox rows in bulk. Any failure past
    validation raises, so the caller's rollback leaves nothing behind."""
    if actor.role != Role.COURIER or actor.carrier_id is None or actor.station_id is None:
        raise Forbidden("Only a courier takes parcels in.", code="role_not_allowed")
    if actor.terminal_id is None:
        raise Forbidden("Intake runs on a registered terminal: sign in with X-Terminal-Id.",
                        code="terminal_required")
    results: list[Intake | Invalid | None] = [None] * len(requests)
    good = []
    catalogue = catalogue_store.current(db_session=db_session, carrier_id=actor.carrier_id)
    for i, request in enumerate(requests):
        registration, problem = None, None
        if request.realname_token is not None and request.sender_document is None:
            try:
                registration = identity_service.resolve_realname_token(
                    db_session=db_session, keyring=keyring, carrier_id=actor.carrier_id, token=request.realname_token)
            except Invalid as exc:
                problem = exc
        try:
            sender, sender_phone, recipient_phone = _validate(request, registration, problem, catalogue)
            good.append((i, request, sender, sender_phone, recipient_phone))
        except Invalid as exc:
            results[i] = exc
    if good:
        carrier = accounts.get_carrier(db_session=db_session, carrier_id=actor.carrier_id)
        numbers = waybill_service.allocate(db_session=db_session, keyring=keyring, carrier_id=carrier.id,
                                           prefix=carrier.waybill_prefix, count=len(good))
        specs = [_new_shipment(actor, r, sender, sender_phone, recipient_phone, number)
                 for (_, r, sender, sender_phone, recipient_phone), number in zip(good, numbers, strict=True)]
        shipment_ids = service.create_many(db_session=db_session, keyring=keyring, carrier_id=carrier.id,
                                           shipments=specs)
        records = identity_service.record_senders(
            db_session=db_session, keyring=keyring, carrier_id=carrier.id, regulator_public_key=regulator_public_key,
            sealer=sealer, senders=[(sid, sender) for (_, _, sender, _, _), sid in zip(good, shipment_ids, strict=True)],
        )
        alerts = identity_service.check_senders(db_session=db_session, carrier_id=carrier.id, actor=actor,
                                                records=records, request_id=request_id)
        for (i, r, *_), number, record in zip(good, numbers, records, strict=True):
            results[i] = Intake(shipment_id=record.shipment_id, waybill_no=number,
                                sender_name_masked=record.name_masked, sender_doc_type=record.doc_type,
                                sender_doc_masked=record.doc_masked, recipient_name_masked=mask_name(r.recipient_name),
                                recipient_region=r.recipient_region, alerts=alerts[record.id])
    return [r for r in results if r is not None]


def _new_shipment(actor: Actor, r: IntakeRequest, sender: identity_service.TypedSender | SenderRegistration,
                  sender_phone: str | None, recipient_phone: str, number: str) -> service.NewShipment:
    region = r.recipient_region
    registered = isinstance(sender, SenderRegistration)
    return service.NewShipment(
        parties=service.Parties(
            # A registered sender's name and phone move over encrypted (below); "-" stands in for them here.
            sender_name="-" if registered else sender.name, sender_phone=sender_phone or "-",
            sender_address=r.sender_address, recipient_name=r.recipient_name, recipient_phone=recipient_phone,
            recipient_address=" ".join(p for p in (region.province, region.city, region.district,
                                                   r.recipient_detail.strip()) if p),
        ),
        encrypted_fields={f"sender_{f}": identity_service.registration_field(sender, f) for f in ("name", "phone")}
        if registered else {},
        sender_name_masked=sender.name_masked if registered else None,
        origin_station_id=actor.station_id, destination_station_id=r.destination_station_id,  # type: ignore[arg-type]
        waybill_no=number, taken_in_by=actor.user_id, recipient_region=region, items=r.items, inspected=r.inspected,
    )


def _validate(request: IntakeRequest, registration: SenderRegistration | None, token_problem: Invalid | None,
              catalogue: Catalogue):  # type: ignore[no-untyped-def]
    """Every field checked before anything is written; all the problems at once, each with its code.
    Answers the sender (typed, or the registration a real-name QR named) and the normalised phones."""
    errors: list[FieldError] = []
    sender: identity_service.TypedSender | SenderRegistration | None = registration
    sender_phone = None
    typed = request.sender_document
    if (typed is None) == (request.realname_token is None):
        errors.append(FieldError("/sender", "sender_identity_required",
                                 "Give the sender's real-name QR token or their document, not both."))
    elif token_problem is not None:
        errors.extend(token_problem.errors)
    if typed is not None:
        try:
            sender = identity_service.TypedSender(
                identity_service.parse_document(typed.doc_type, typed.number), typed.name)
        except DomainError as exc:
            errors.append(FieldError("/sender/document/number", exc.code, exc.detail))
        if not typed.name.strip() or len(typed.name) > 64:
            errors.append(FieldError("/sender/document/name", "field_length", "Between 1 and 64 characters."))
        try:
            sender_phone = normalise_phone(request.sender_phone or "")
        except NotNormalisable:
            errors.append(FieldError("/sender/phone", "phone_invalid", "Not a phone number."))
    recipient_phone = ""
    try:
        recipient_phone = normalise_phone(request.recipient_phone)
    except NotNormalisable:
        errors.append(FieldError("/recipient/phone", "phone_invalid", "Not a phone number."))
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
            elif hit is not None and not request.inspected:
                errors.append(FieldError("/inspection/inspected", "inspection_required",
                                         f"Item {i} falls under the restricted rule {hit.rule_id}: open and check "
                                         "the parcel, then record the inspection."))
        if not 1 <= item.quantity <= 10_000:
            errors.append(FieldError(f"/items/{i}/quantity", "quantity_out_of_range", "Between 1 and 10000."))
        if not 0 <= item.declared_value_cents <= 10**11:
            errors.append(FieldError(f"/items/{i}/declared_value_cents", "value_out_of_range",
                                     "Not negative, at most 10^9 yuan."))
    if errors or sender is None:
        raise Invalid("The parcel cannot be taken in: see errors.", code="intake_invalid", errors=errors)
    return sender, sender_phone, recipient_phone
