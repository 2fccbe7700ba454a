"""Orders (issue 16): an employee ships a parcel with a carrier of the company's, at the price of its table in
force; the console keeps the order (parties sealed, recipient findable by blind index, masked views) and has the
carrier take it in through the connection's adapter. No HTTP.

An order is written `pending` and committed before the carrier is called, and answered in a second transaction:
`created` (waybill number), `failed` (the carrier refused it: its codes and pointers, never values) or, when the
carrier does not answer, left `pending` for `submit` to send again. The adapter is idempotent on the order's id,
so a second send after a lost answer finds the same parcel.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from parcelguard.core.auth import Actor
from parcelguard.core.clock import now
from parcelguard.core.db import begin_write
from parcelguard.core.errors import Conflict, DomainError, FieldError, Invalid, NotFound
from parcelguard.crypto import blind_index
from parcelguard.enterprise.adapters.base import (
    CarrierAdapter,
    CarrierError,
    Created,
    Item,
    NewShipment,
    Parties,
)
from parcelguard.enterprise.platform import connections, employees, rate_tables
from parcelguard.enterprise.platform.keys import EnterpriseKeys
from parcelguard.enterprise.platform.models import CarrierConnection, Order
from parcelguard.enterprise.rates import pricing
from parcelguard.enterprise.rates.model import beijing_date
from parcelguard.enterprise.rates.regions import canonical_province
from parcelguard.waybills.masking import mask_name

AdapterFor = Callable[[CarrierConnection], CarrierAdapter]
MAX_WEIGHT_G = 1_000_000


class CarrierUnavailable(DomainError):
    status = 503
    code = "carrier_unreachable"


class CarrierRefused(DomainError):
    status = 422
    code = "carrier_refused"


@dataclass(frozen=True)
class OrderIn:
    connection_id: uuid.UUID
    sender_name: str
    sender_phone: str
    sender_address: str
    sender_province: str
    recipient_name: str
    recipient_phone: str
    recipient_province: str
    recipient_city: str
    recipient_district: str
    recipient_detail: str
    weight_g: int
    items: tuple[Item, ...] = field(default_factory=tuple)


def _text(errors: list[FieldError], pointer: str, value: str, limit: int) -> str:
    value = " ".join(value.split())
    if not 0 < len(value) <= limit:
        errors.append(FieldError(pointer=pointer, code="field_length", detail=f"1 to {limit} characters."))
    return value


def _phone(errors: list[FieldError], pointer: str, value: str) -> str:
    try:
        return blind_index.normalise_phone(value.strip())
    except blind_index.NotNormalisable:
        errors.append(FieldError(pointer=pointer, code="phone_format", detail="Not a phone number."))
        return ""


def _province(errors: list[FieldError], pointer: str, value: str) -> str:
    found = canonical_province(value)
    if found is None:
        errors.append(FieldError(pointer=pointer, code="province_unknown", detail="Not a province-level division."))
    return found or ""


def checked(order: OrderIn, *, sender_checked: bool = False) -> OrderIn:
    """The order with its fields normalised, or 422 `order_invalid` naming every bad field (never a value).
    `sender_checked`: the sender's fields are this function's output already (a file's rows share one sender)."""
    errors: list[FieldError] = []
    clean = OrderIn(
        connection_id=order.connection_id,
        sender_name=order.sender_name if sender_checked else _text(errors, "/sender/name", order.sender_name, 64),
        sender_phone=order.sender_phone if sender_checked else _phone(errors, "/sender/phone", order.sender_phone),
        sender_address=order.sender_address if sender_checked else _text(errors, "/sender/address",
                                                                          order.sender_address, 200),
        sender_province=order.sender_province if sender_checked else _province(errors, "/sender/province",
                                                                               order.sender_province),
        recipient_name=_text(errors, "/recipient/name", order.recipient_name, 64),
        recipient_phone=_phone(errors, "/recipient/phone", order.recipient_phone),
        recipient_province=_province(errors, "/recipient/province", order.recipient_province),
        recipient_city=_text(errors, "/recipient/city", order.recipient_city, 32),
        recipient_district=_text(errors, "/recipient/district", order.recipient_district, 32),
        recipient_detail=_text(errors, "/recipient/detail", order.recipient_detail, 200),
        weight_g=order.weight_g, items=order.items,
    )
    if not 0 < order.weight_g <= MAX_WEIGHT_G:
        errors.append(FieldError(pointer="/weight_kg", code="weight_format", detail="More than 0 and at most 1,000 kg."))
    if not 0 < len(order.items) <= 100:
        errors.append(FieldError(pointer="/items", code="items_count", detail="1 to 100 items."))
    for i, item in enumerate(order.items):
        if not 0 < len(item.description.strip()) <= 200:
            errors.append(FieldError(pointer=f"/items/{i}/description", code="field_length", detail="1 to 200."))
        if not 0 < item.quantity <= 10_000:
            errors.append(FieldError(pointer=f"/items/{i}/quantity", code="quantity_format", detail="1 to 10,000."))
    if errors:
        raise Invalid("The order is not valid.", code="order_invalid", errors=errors)
    return clean


def _sealed_document(order: OrderIn) -> bytes:
    # What `asdict` gives, byte for byte, without its deep copy (a third of a bulk import's time).
    document = {k: v for k, v in vars(order).items() if k != "connection_id"}
    document["items"] = [vars(i) for i in order.items]
    return json.dumps(document, ensure_ascii=False, default=str).encode()


def order_values(*, keys: EnterpriseKeys, company_id: uuid.UUID, connection_id: uuid.UUID, order: OrderIn,
                 price_fen: int, created_by: uuid.UUID, moment: datetime,
                 import_id: uuid.UUID | None = None, import_row: int | None = None) -> dict[str, Any]:
    """A checked order's `orders` row, `pending`: its document sealed under its new id, the recipient's blind
    indexes and masked views. One order (`place`) and an import's rows (`bulk`) are written from it alike."""
    order_id = uuid.uuid4()
    return {"id": order_id, "company_id": company_id, "connection_id": connection_id, "import_id": import_id,
            "import_row": import_row, "status": "pending", "failure_code": None, "carrier_shipment_id": None,
            "waybill_no": None,
            "price_fen": price_fen, "weight_g": order.weight_g, "origin_province": order.sender_province,
            "destination_province": order.recipient_province, "destination_city": order.recipient_city,
            "recipient_name_masked": str(mask_name(order.recipient_name)),
            "recipient_phone_tail": order.recipient_phone[-4:],
            "recipient_name_index": keys.blind_index(company_id, "name", order.recipient_name),
            "recipient_phone_index": keys.blind_index(company_id, "phone", order.recipient_phone),
            "sealed": keys.seal_order(order_id, _sealed_document(order)), "created_by": created_by,
            "created_at": moment, "updated_at": moment}


def place(*, sessionmaker: Callable[[], Session], keys: EnterpriseKeys, adapter_for: AdapterFor, actor: Actor,
          order: OrderIn) -> Order:
    """Price, keep and send an order (see the module's docstring for its states and answers)."""
    company_id = employees.company_of(actor)
    order = checked(order)
    with sessionmaker() as session, session.begin():
        begin_write(session)
        connection = connections.usable(db_session=session, company_id=company_id, connection_id=order.connection_id)
        table = rate_tables.in_force(db_session=session, company_id=company_id,
                                     on=beijing_date(now())).get(connection.id)
        quote = None if table is None else pricing.price(table, order.sender_province, order.recipient_province,
                                                         order.recipient_city, order.weight_g)
        if quote is None:
            raise Invalid("This carrier's table has no price for this parcel.", code="carrier_cannot_take",
                          field="/connection_id")
        row = Order(**order_values(keys=keys, company_id=company_id, connection_id=connection.id, order=order,
                                   price_fen=quote.total_fen, created_by=actor.user_id, moment=now()))
        order_id = row.id
        session.add(row)
    return submit(sessionmaker=sessionmaker, keys=keys, adapter_for=adapter_for, actor=actor, order_id=order_id)


def submit(*, sessionmaker: Callable[[], Session], keys: EnterpriseKeys, adapter_for: AdapterFor, actor: Actor,
           order_id: uuid.UUID) -> Order:
    """Send a pending order to its carrier (again, after a lost answer: the carrier answers the same parcel)."""
    company_id = employees.company_of(actor)
    with sessionmaker() as session:
        row = get(db_session=session, company_id=company_id, order_id=order_id)
        if row.status != "pending":
            raise Conflict("This order is not waiting for its carrier.", code="order_not_pending")
        connection = session.get(CarrierConnection, row.connection_id)
        assert connection is not None
        shipment = shipment_of(keys, row)
        session.expunge_all()
    adapter = adapter_for(connection)
    failure: CarrierError | None = None
    created: Created | None = None
    try:
        created = adapter.create_shipment(shipment)
    except CarrierError as exc:
        if exc.retryable:
            raise CarrierUnavailable("The carrier does not answer; the order waits and can be sent again.",
                                     field="/connection_id", extensions={"order_id": str(order_id)}) from None
        failure = exc
    with sessionmaker() as session, session.begin():
        begin_write(session)
        row = get(db_session=session, company_id=company_id, order_id=order_id)
        row.updated_at = now()
        if created is not None:
            row.status, row.carrier_shipment_id, row.waybill_no = "created", created.carrier_shipment_id, \
                created.waybill_no
        else:
            assert failure is not None
            row.status, row.failure_code = "failed", failure.code
        session.flush()
        session.expunge(row)
    if failure is not None:
        errors = [FieldError(pointer=str(e.get("pointer", "")), code=str(e.get("code", "")),
                             detail="The carrier refused this field.") for e in getattr(failure, "errors", [])]
        raise CarrierRefused(f"The carrier refused the parcel ({failure.code}).", errors=errors)
    return row


def shipment_of(keys: EnterpriseKeys, row: Order) -> NewShipment:
    data: dict[str, Any] = json.loads(keys.open_order(row.id, row.sealed))
    return NewShipment(
        reference=str(row.id),
        parties=Parties(sender_name=data["sender_name"], sender_phone=data["sender_phone"],
                        sender_address=data["sender_address"], recipient_name=data["recipient_name"],
                        recipient_phone=data["recipient_phone"],
                        recipient_address=" ".join((data["recipient_district"], data["recipient_detail"]))),
        recipient_province=data["recipient_province"], recipient_city=data["recipient_city"],
        recipient_district=data["recipient_district"], recipient_detail=data["recipient_detail"],
        weight_g=row.weight_g, items=tuple(Item(**i) for i in data["items"]))


def get(*, db_session: Session, company_id: uuid.UUID, order_id: uuid.UUID) -> Order:
    found = db_session.get(Order, order_id)
    if found is None or found.company_id != company_id:
        raise NotFound("The company has no order with this id.", code="order_unknown")
    return found


def listed(*, db_session: Session, company_id: uuid.UUID, limit: int = 100) -> list[Order]:
    return list(db_session.scalars(select(Order).where(Order.company_id == company_id)
                                   .order_by(Order.created_at.desc()).limit(limit)))


def parties(keys: EnterpriseKeys, row: Order) -> dict[str, Any]:
    """The order's sealed document, opened (only `search.reveal` calls it, after logging)."""
    opened: dict[str, Any] = json.loads(keys.open_order(row.id, row.sealed))
    return opened


class CarrierCallFailed(DomainError):
    """A carrier call for an order failed: the carrier's code, with 503 when it may be tried again."""

    status = 502
    code = "carrier_failed"

    def __init__(self, detail: str, *, status: int, code: str) -> None:
        super().__init__(detail)
        self.status, self.code = status, code


def mark_cancelled(*, sessionmaker: Callable[[], Session], actor: Actor, order_id: uuid.UUID) -> Order:
    company_id = employees.company_of(actor)
    with sessionmaker() as session, session.begin():
        begin_write(session)
        row = get(db_session=session, company_id=company_id, order_id=order_id)
        row.status, row.updated_at = "cancelled", now()
        session.flush()
        session.expunge(row)
    return row
