"""The console's order routes (issue 16): ship with one of the company's carriers, send a waiting order again,
list, find (by waybill number, phone or name, logged), reveal an order's parties (logged), the carrier's label and
tracking, cancel; the access log and its check for the admin. Thin: `orders`, `search`, `access_log` and the
connection's adapter do the rest."""

from __future__ import annotations

import json
import threading
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field
from starlette.responses import Response

from parcelguard.core.auth import Actor, Role, require
from parcelguard.core.db import SessionDep
from parcelguard.core.errors import Conflict
from parcelguard.enterprise.adapters import registry
from parcelguard.enterprise.adapters.base import CarrierAdapter, CarrierError, Item
from parcelguard.enterprise.platform import access_log, connections, employees, orders, search
from parcelguard.enterprise.platform.keys import EnterpriseKeys
from parcelguard.enterprise.platform.models import CarrierConnection, Order

router = APIRouter(tags=["orders"])
Employee = Annotated[Actor, require(Role.ADMIN, Role.ENTERPRISE)]
Admin = Annotated[Actor, require(Role.ADMIN)]
NO_STORE = {"Cache-Control": "no-store"}
_adapters_lock = threading.Lock()


def adapter_source(request: Request) -> orders.AdapterFor:
    """The connection's adapter, one per connection and process (it keeps its carrier token)."""
    state = request.app.state
    keys: EnterpriseKeys = state.enterprise_keys
    # connection id → (what the adapter was made from, the adapter); a changed connection gets a new one
    cache: dict[uuid.UUID, tuple[tuple[str, str, bytes], CarrierAdapter]] = state.__dict__.setdefault(
        "_adapters", {})

    def adapter_for(connection: CarrierConnection) -> CarrierAdapter:
        made_from = (connection.adapter, connection.base_url, connection.credentials)
        with _adapters_lock:
            found = cache.get(connection.id)
            if found is not None and found[0] == made_from:
                return found[1]
            creds = connections.credentials_of(keys, connection)
            adapter = registry.adapter_for(connection.adapter, connection.base_url, creds.username, creds.password,
                                           state.settings.carrier_timeout_seconds)
            cache[connection.id] = (made_from, adapter)
        # The old one is left to the garbage collector, not closed: a request in flight may still be using it.
        return adapter

    return adapter_for


class PartyIn(BaseModel):
    name: str = Field(max_length=64)
    phone: str = Field(max_length=32)
    address: str = Field(max_length=200)
    province: str = Field(max_length=32)


class RecipientIn(BaseModel):
    name: str = Field(max_length=64)
    phone: str = Field(max_length=32)
    province: str = Field(max_length=32)
    city: str = Field(max_length=32)
    district: str = Field(max_length=32)
    detail: str = Field(max_length=200)


class ItemIn(BaseModel):
    category: str = Field(pattern=r"^[a-z][a-z_]{0,31}$", examples=["clothing"])
    description: str = Field(max_length=200)
    quantity: int = Field(default=1, ge=1, le=10_000)
    declared_value_fen: int = Field(default=0, ge=0, le=10**11)


class OrderIn(BaseModel):
    connection_id: uuid.UUID
    sender: PartyIn
    recipient: RecipientIn
    weight_kg: Decimal = Field(gt=0, le=1000, decimal_places=3)
    items: list[ItemIn] = Field(min_length=1, max_length=100)


class OrderOut(BaseModel):
    id: uuid.UUID
    connection_id: uuid.UUID
    status: str
    failure_code: str | None
    waybill_no: str | None
    price_fen: int | None
    weight_g: int
    origin_province: str
    destination_province: str
    destination_city: str
    recipient_name: str = Field(description="Masked")
    recipient_phone_tail: str
    created_at: datetime


def order_out(row: Order) -> OrderOut:
    return OrderOut(id=row.id, connection_id=row.connection_id, status=row.status, failure_code=row.failure_code,
                    waybill_no=row.waybill_no, price_fen=row.price_fen, weight_g=row.weight_g,
                    origin_province=row.origin_province, destination_province=row.destination_province,
                    destination_city=row.destination_city, recipient_name=row.recipient_name_masked,
                    recipient_phone_tail=row.recipient_phone_tail, created_at=row.created_at)


def order_in(body: OrderIn) -> orders.OrderIn:
    return orders.OrderIn(
        connection_id=body.connection_id, sender_name=body.sender.name, sender_phone=body.sender.phone,
        sender_address=body.sender.address, sender_province=body.sender.province, recipient_name=body.recipient.name,
        recipient_phone=body.recipient.phone, recipient_province=body.recipient.province,
        recipient_city=body.recipient.city, recipient_district=body.recipient.district,
        recipient_detail=body.recipient.detail, weight_g=int(body.weight_kg * 1000),
        items=tuple(Item(category=i.category, description=i.description, quantity=i.quantity,
                         declared_value_fen=i.declared_value_fen) for i in body.items))


@router.post("/orders", response_model=OrderOut, status_code=201,
             summary="Ship a parcel with one of the company's carriers, at its table's price",
             responses={422: {"description": "order_invalid naming each field; carrier_cannot_take; carrier_refused "
                                             "with the carrier's codes and pointers (the order is kept as failed)"},
                        503: {"description": "carrier_unreachable: the order waits (pending); send it again"}})
def place_order(body: OrderIn, request: Request, actor: Employee) -> OrderOut:
    return order_out(orders.place(sessionmaker=request.app.state.sessionmaker, keys=request.app.state.enterprise_keys,
                                  adapter_for=adapter_source(request), actor=actor, order=order_in(body)))


@router.post("/orders/{order_id}:submit", response_model=OrderOut,
             summary="Send a waiting order to its carrier again (the carrier answers the same parcel)")
def submit_order(order_id: uuid.UUID, request: Request, actor: Employee) -> OrderOut:
    return order_out(orders.submit(sessionmaker=request.app.state.sessionmaker, keys=request.app.state.enterprise_keys,
                                   adapter_for=adapter_source(request), actor=actor, order_id=order_id))


@router.get("/orders", response_model=list[OrderOut], summary="The company's orders, newest first (masked)")
def list_orders(actor: Employee, db_session: SessionDep,
                limit: Annotated[int, Query(ge=1, le=500)] = 100) -> list[OrderOut]:
    return [order_out(o) for o in orders.listed(db_session=db_session, company_id=employees.company_of(actor),
                                                limit=limit)]


class FoundOut(BaseModel):
    log_seq: int = Field(description="The access log entry this search wrote")
    orders: list[OrderOut]


Purpose = Literal["customer_service", "lost_waybill", "claim", "audit"]


@router.get("/orders:search", response_model=FoundOut,
            summary="Find the company's orders by waybill number, recipient phone or full name (logged first)",
            responses={422: {"description": "query_format, purpose_unknown"}})
def search_orders(request: Request, actor: Employee, db_session: SessionDep,
                  q: Annotated[str, Query(max_length=64)], purpose: Purpose) -> Response:
    found = search.find(db_session=db_session, keys=request.app.state.enterprise_keys, actor=actor, query=q,
                        purpose=purpose)
    out = FoundOut(log_seq=found.entry_seq, orders=[order_out(o) for o in found.orders])
    return Response(out.model_dump_json(), media_type="application/json", headers=NO_STORE)


@router.get("/orders/{order_id}/parties", summary="An order's sender and recipient in clear (logged first)")
def reveal_parties(order_id: uuid.UUID, request: Request, actor: Employee, db_session: SessionDep,
                   purpose: Purpose) -> Response:
    seq, opened = search.reveal(db_session=db_session, keys=request.app.state.enterprise_keys, actor=actor,
                                order_id=order_id, purpose=purpose)
    return Response(json.dumps({"log_seq": seq, "parties": opened}, ensure_ascii=False), headers=NO_STORE,
                    media_type="application/json")


def carrier_order(request: Request, actor: Actor, order_id: uuid.UUID) -> tuple[Order, CarrierAdapter]:
    """The company's order the carrier has taken in, and its connection's adapter (409 `order_not_created`
    before that): what the label, tracking and cancel routes and pages call the carrier with."""
    with request.app.state.sessionmaker() as session:
        row = orders.get(db_session=session, company_id=employees.company_of(actor), order_id=order_id)
        if row.carrier_shipment_id is None:
            raise Conflict("The carrier has not taken this order in.", code="order_not_created")
        connection = session.get(CarrierConnection, row.connection_id)
        assert connection is not None
        session.expunge_all()
    return row, adapter_source(request)(connection)


def carrier_call(fn: Any) -> Any:
    """`fn()`, a call to the carrier, its `CarrierError` answered as the console's own (503 when it may be tried
    again, the carrier's 404 and 409 as they are, 502 otherwise), with the carrier's code."""
    try:
        return fn()
    except CarrierError as exc:
        status = 503 if exc.retryable else (exc.status if exc.status in (404, 409) else 502)
        raise orders.CarrierCallFailed(f"The carrier answered {exc.code}.", status=status, code=exc.code) from None


@router.get("/orders/{order_id}/label", summary="The carrier's label for the order (PDF)")
def order_label(order_id: uuid.UUID, request: Request, actor: Employee) -> Response:
    row, adapter = carrier_order(request, actor, order_id)
    pdf = carrier_call(lambda: adapter.label(carrier_shipment_id=str(row.carrier_shipment_id), format="pdf"))
    return Response(pdf, media_type="application/pdf", headers=NO_STORE)


class TrackEventOut(BaseModel):
    at: datetime
    event: str
    city: str | None


class TrackingOut(BaseModel):
    waybill_no: str
    status: str
    events: list[TrackEventOut]


@router.get("/orders/{order_id}/tracking", response_model=TrackingOut,
            summary="The order's tracking, from the carrier's public lookup")
def order_tracking(order_id: uuid.UUID, request: Request, actor: Employee) -> TrackingOut:
    row, adapter = carrier_order(request, actor, order_id)
    found = carrier_call(lambda: adapter.track(waybill_no=str(row.waybill_no), phone_tail=row.recipient_phone_tail))
    return TrackingOut(waybill_no=found.waybill_no, status=found.status,
                       events=[TrackEventOut(at=e.at, event=e.event, city=e.city) for e in found.events])


@router.post("/orders/{order_id}:cancel", response_model=OrderOut,
             summary="Cancel the order at its carrier (before a courier has it)")
def cancel_order(order_id: uuid.UUID, request: Request, actor: Employee) -> OrderOut:
    row, adapter = carrier_order(request, actor, order_id)
    carrier_call(lambda: adapter.cancel(carrier_shipment_id=str(row.carrier_shipment_id)))
    return order_out(orders.mark_cancelled(sessionmaker=request.app.state.sessionmaker, actor=actor,
                                           order_id=order_id))


class AccessEntryOut(BaseModel):
    seq: int
    at: datetime
    employee_id: uuid.UUID
    action: str
    kind: str
    subject: str
    purpose: str
    found: int


class AccessLogOut(BaseModel):
    verified: bool
    entries: int
    broken_at: int | None
    latest: list[AccessEntryOut]


@router.get("/access-log", response_model=AccessLogOut,
            summary="The access log (searches and reveals), newest first, and whether its chain holds (admin)")
def get_access_log(actor: Admin, db_session: SessionDep) -> AccessLogOut:
    company_id = employees.company_of(actor, admin=True)
    checked = access_log.verify(db_session=db_session, company_id=company_id)
    return AccessLogOut(verified=checked.ok, entries=checked.entries, broken_at=checked.broken_at, latest=[
        AccessEntryOut(seq=e.seq, at=e.at, employee_id=e.employee_id, action=e.action, kind=e.kind,
                       subject=e.subject, purpose=e.purpose, found=e.found)
        for e in access_log.listed(db_session=db_session, company_id=company_id)])
