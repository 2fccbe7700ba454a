"""The enterprise console's ship pages (寄件, issue 16): `/ship` takes the order (sender, recipient, weight, one
item), compares the company's carriers for it (the `/quote` table, a radio per carrier that can take it, the
cheapest chosen) and ships it with `orders.place`, as `POST /api/v1/orders`; the result names the waybill number,
the price, and links to the carrier's label (`/orders/{id}/label`, PDF) and tracking (`/orders/{id}/tracking`).

POST forms only, so no personal value is ever in an address (or the access log of a proxy). A bad field is named
next to it (`order_invalid`); a carrier's refusal names the fields it refused (`carrier_refused`'s pointers); a
carrier that does not answer leaves the order waiting, with a button that sends it again (`orders.submit`). The
form keeps its values on every error. Another company's order is answered 404, as one that does not exist.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import HTMLResponse, Response

from parcelguard.core.auth import Actor
from parcelguard.core.errors import DomainError
from parcelguard.enterprise.adapters.base import Item
from parcelguard.enterprise.platform import connections, employees, orders, orders_api, quotes
from parcelguard.enterprise.platform.models import Order
from parcelguard.enterprise.rates.model import FREIGHT, yuan
from parcelguard.enterprise.rates.regions import provinces
from parcelguard.shipments.catalogue import Catalogue
from parcelguard.web import i18n, session
from parcelguard.web.enterprise_pages import (
    LOGIN,
    EmployeePage,
    message,
    page_context,
    parse_id,
    refused,
    when,
)
from parcelguard.web.enterprise_quote_pages import REASONS, weight_grams
from parcelguard.web.templating import render

router = APIRouter(include_in_schema=False)
SHIP = "/ship"
# The form's fields by the service's pointers (`order_invalid`, `carrier_refused`)
FIELDS = {"/sender/name": "sender_name", "/sender/phone": "sender_phone", "/sender/address": "sender_address",
          "/sender/province": "sender_province", "/recipient/name": "recipient_name",
          "/recipient/phone": "recipient_phone", "/recipient/province": "recipient_province",
          "/recipient/city": "recipient_city", "/recipient/district": "recipient_district",
          "/recipient/detail": "recipient_detail", "/weight_kg": "weight_kg", "/items": "item_description",
          "/items/0/category": "item_category", "/items/0/description": "item_description",
          "/items/0/quantity": "item_quantity", "/connection_id": "connection_id"}
LIMITS = {"sender_name": 64, "sender_phone": 32, "sender_address": 200, "sender_province": 32, "recipient_name": 64,
          "recipient_phone": 32, "recipient_province": 32, "recipient_city": 32, "recipient_district": 32,
          "recipient_detail": 200, "weight_kg": 16, "item_category": 32, "item_description": 200,
          "item_quantity": 8, "connection_id": 64}
Text = Annotated[str, Form(max_length=400)]


def field_of(pointer: str) -> str:
    return FIELDS.get(pointer, FIELDS.get("/" + pointer.strip("/").split("/")[0], "connection_id"))


def categories(lang: str) -> list[tuple[str, str]]:
    """The catalogue's item categories (the codes a carrier's intake takes) with their labels in `lang`."""
    return [(c.code, c.label_zh if lang == "zh" else c.label_en) for c in Catalogue.default().categories()]


def order_of(values: dict[str, str], connection_id: uuid.UUID, grams: int) -> orders.OrderIn:
    quantity = int(values["item_quantity"]) if values["item_quantity"].isdigit() else 0
    return orders.OrderIn(
        connection_id=connection_id, sender_name=values["sender_name"], sender_phone=values["sender_phone"],
        sender_address=values["sender_address"], sender_province=values["sender_province"],
        recipient_name=values["recipient_name"], recipient_phone=values["recipient_phone"],
        recipient_province=values["recipient_province"], recipient_city=values["recipient_city"],
        recipient_district=values["recipient_district"], recipient_detail=values["recipient_detail"],
        weight_g=grams, items=(Item(category=values["item_category"], description=values["item_description"],
                                    quantity=quantity),))


def checked(request: Request, values: dict[str, str]) -> tuple[orders.OrderIn | None, dict[str, str]]:
    """The order as `orders.checked` takes it, or the form's errors by field (the service's, and the page's own
    for the weight, the quantity and the category, which the API's body checks)."""
    t = i18n.translator(i18n.choose(request).lang)
    errors: dict[str, str] = {}
    grams = weight_grams(values["weight_kg"])
    if grams is None:
        errors["weight_kg"] = t("code.missing") if not values["weight_kg"] else t("enterprise.quote.weight_format")
    if not values["item_quantity"].isdigit() or not 0 < int(values["item_quantity"]) <= 10_000:
        errors["item_quantity"] = t("enterprise.ship.quantity_format")
    if not Catalogue.default().is_known_category(values["item_category"]):
        errors["item_category"] = t("code.missing")
    order = order_of(values, uuid.UUID(int=0), grams or 1)
    try:
        order = orders.checked(order)
    except DomainError as exc:
        for e in exc.errors:
            errors.setdefault(field_of(e.pointer), t("code.missing") if e.code == "field_length" and not values.get(
                field_of(e.pointer)) else message(request, e.code, e.detail))
    return (None, errors) if errors else (order, errors)


def _form(request: Request, actor: Actor, values: dict[str, str], *, errors: dict[str, str] | None = None,
          found: quotes.Compared | None = None, notice: str | None = None, refused_fields: list[str] | None = None,
          waiting: uuid.UUID | None = None, status_code: int = 200) -> HTMLResponse:
    lang = i18n.choose(request).lang
    return render(request, "enterprise_ship.html", {
        **page_context(request, actor), "values": values, "errors": errors or {}, "found": found,
        "province_options": [(p, p) for p in provinces()], "categories": categories(lang), "yuan": yuan, "freight": FREIGHT,
        "reasons": REASONS, "pick": True, "notice": notice, "refused_fields": refused_fields or [],
        "waiting": waiting}, status_code=status_code)


def _compare(request: Request, actor: Actor, order: orders.OrderIn) -> quotes.Compared:
    with request.app.state.sessionmaker() as db_session:
        return quotes.compare(db_session=db_session, company_id=employees.company_of(actor),
                              origin_province=order.sender_province, destination_province=order.recipient_province,
                              destination_city=order.recipient_city, weight_g=order.weight_g)


def _shipped(request: Request, actor: Actor, row: Order) -> HTMLResponse:
    with request.app.state.sessionmaker() as db_session:
        connection = connections.get(db_session=db_session, company_id=employees.company_of(actor),
                                     connection_id=row.connection_id)
    return render(request, "enterprise_shipped.html", {
        **page_context(request, actor), "order": row, "carrier": connection, "yuan": yuan, "when": when})


def _waiting_order(request: Request, actor: Actor, connection_id: uuid.UUID) -> uuid.UUID | None:
    """The order `place` kept before its carrier fell silent: this employee's newest waiting one for the carrier
    (`CarrierUnavailable` does not name it)."""
    with request.app.state.sessionmaker() as db_session:
        return next((o.id for o in orders.listed(db_session=db_session, company_id=employees.company_of(actor),
                                                 limit=50)
                     if o.status == "pending" and o.created_by == actor.user_id and o.connection_id == connection_id),
                    None)


@router.get(SHIP, response_class=HTMLResponse)
def ship_page(request: Request, actor: EmployeePage) -> Response:
    if actor is None:
        return session.to_sign_in(request, LOGIN)
    return _form(request, actor, {"item_quantity": "1", "item_category": ""})


@router.post(SHIP, response_class=HTMLResponse)
def ship(request: Request, actor: EmployeePage, csrf: Annotated[str, Form(max_length=128)] = "",
         step: Annotated[str, Form(max_length=16)] = "compare", sender_name: Text = "", sender_phone: Text = "",
         sender_address: Text = "", sender_province: Text = "", recipient_name: Text = "", recipient_phone: Text = "",
         recipient_province: Text = "", recipient_city: Text = "", recipient_district: Text = "",
         recipient_detail: Text = "", weight_kg: Text = "", item_category: Text = "", item_description: Text = "",
         item_quantity: Text = "1", connection_id: Text = "") -> Response:
    """Step `compare`: check the order and show the carriers that can take it; step `ship`: `orders.place`."""
    if actor is None or not session.csrf_ok(request, csrf):
        return session.to_sign_in(request, LOGIN)
    raw = {"sender_name": sender_name, "sender_phone": sender_phone, "sender_address": sender_address,
           "sender_province": sender_province, "recipient_name": recipient_name, "recipient_phone": recipient_phone,
           "recipient_province": recipient_province, "recipient_city": recipient_city,
           "recipient_district": recipient_district, "recipient_detail": recipient_detail, "weight_kg": weight_kg,
           "item_category": item_category, "item_description": item_description, "item_quantity": item_quantity,
           "connection_id": connection_id}
    values = {k: v.strip()[:LIMITS[k]] for k, v in raw.items()}
    t = i18n.translator(i18n.choose(request).lang)
    order, errors = checked(request, values)
    if order is None:
        return _form(request, actor, values, errors=errors, status_code=422)
    values.update(sender_province=order.sender_province, recipient_province=order.recipient_province)
    found = _compare(request, actor, order)
    chosen = parse_id(values["connection_id"])
    if step != "ship" or chosen is None:
        if chosen is None or not any(q["connection_id"] == chosen for q in found.quotes):
            values["connection_id"] = str(found.quotes[0]["connection_id"]) if found.quotes else ""
        if step == "ship":
            errors["connection_id"] = t("enterprise.ship.choose_carrier")
        return _form(request, actor, values, errors=errors, found=found, status_code=422 if errors else 200)
    keys, sessionmaker = request.app.state.enterprise_keys, request.app.state.sessionmaker
    try:
        row = orders.place(sessionmaker=sessionmaker, keys=keys, adapter_for=orders_api.adapter_source(request),
                           actor=actor, order=order_of(values, chosen, order.weight_g))
    except orders.CarrierUnavailable:
        return _form(request, actor, values, found=found, notice=t("enterprise.ship.waiting"),
                     waiting=_waiting_order(request, actor, chosen), status_code=503)
    except orders.CarrierRefused as exc:
        names = sorted({field_of(e.pointer) for e in exc.errors}) or ["connection_id"]
        for name in names:
            errors[name] = t("enterprise.ship.refused_field")
        return _form(request, actor, values, errors=errors, found=found, refused_fields=names,
                     notice=t("enterprise.ship.refused"), status_code=exc.status)
    except DomainError as exc:
        if exc.status in (403, 404):
            return refused(request, actor, exc)
        for e in exc.errors:
            errors.setdefault(field_of(e.pointer), message(request, e.code, e.detail))
        return _form(request, actor, values, errors=errors, found=found, status_code=exc.status)
    return _shipped(request, actor, row)


@router.post("/orders/{order_id}/submit", response_class=HTMLResponse)
def send_again(request: Request, actor: EmployeePage, order_id: str,
               csrf: Annotated[str, Form(max_length=128)] = "") -> Response:
    """`orders.submit`, as `POST /api/v1/orders/{id}:submit`: a waiting order sent to its carrier again."""
    if actor is None or not session.csrf_ok(request, csrf):
        return session.to_sign_in(request, LOGIN)
    t = i18n.translator(i18n.choose(request).lang)
    try:
        row = orders.submit(sessionmaker=request.app.state.sessionmaker, keys=request.app.state.enterprise_keys,
                            adapter_for=orders_api.adapter_source(request), actor=actor,
                            order_id=parse_id(order_id) or uuid.UUID(int=0))
    except orders.CarrierUnavailable:
        return _form(request, actor, {}, notice=t("enterprise.ship.waiting"), waiting=parse_id(order_id),
                     status_code=503)
    except DomainError as exc:
        return refused(request, actor, exc)
    return _shipped(request, actor, row)


@router.get("/orders/{order_id}/label")
def label(request: Request, actor: EmployeePage, order_id: str) -> Response:
    """The carrier's label (PDF), as `GET /api/v1/orders/{id}/label`: the company's own orders only (404)."""
    if actor is None:
        return session.to_sign_in(request, LOGIN)
    try:
        row, adapter = orders_api.carrier_order(request, actor, parse_id(order_id) or uuid.UUID(int=0))
        pdf = orders_api.carrier_call(lambda: adapter.label(carrier_shipment_id=str(row.carrier_shipment_id),
                                                             format="pdf"))
    except DomainError as exc:
        return refused(request, actor, exc)
    return Response(pdf, media_type="application/pdf", headers={
        **orders_api.NO_STORE, "Content-Disposition": f'inline; filename="{row.waybill_no}.pdf"'})


@router.get("/orders/{order_id}/tracking", response_class=HTMLResponse)
def tracking(request: Request, actor: EmployeePage, order_id: str) -> Response:
    """The carrier's events for the order, as `GET /api/v1/orders/{id}/tracking`."""
    if actor is None:
        return session.to_sign_in(request, LOGIN)
    try:
        row, adapter = orders_api.carrier_order(request, actor, parse_id(order_id) or uuid.UUID(int=0))
        found = orders_api.carrier_call(lambda: adapter.track(waybill_no=str(row.waybill_no),
                                                               phone_tail=row.recipient_phone_tail))
    except DomainError as exc:
        return refused(request, actor, exc)
    return render(request, "enterprise_tracking.html", {
        **page_context(request, actor), "order": row, "tracking": found, "when": when,
        "known": {k for k in i18n.ZH if k.startswith(("track.status.", "track.event."))}})
