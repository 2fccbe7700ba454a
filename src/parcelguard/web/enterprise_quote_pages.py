"""The enterprise console's compare page (`/quote`, 比价): origin and destination province, an optional city,
the weight and an optional day; every connected carrier's price and transit time under its table in force,
cheapest first, the cheapest and the fastest marked, and the carriers that cannot take the parcel with why.
`quotes.compare`, as `POST /api/v1/quotes`, for every employee. A GET form: asking changes nothing, and a
quote's address can be sent to a colleague.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse, Response

from parcelguard.core.db import SessionDep
from parcelguard.core.errors import DomainError
from parcelguard.enterprise.platform import employees, quotes
from parcelguard.enterprise.rates.model import FREIGHT, yuan
from parcelguard.enterprise.rates.regions import canonical_province, provinces
from parcelguard.web import i18n, session
from parcelguard.web.enterprise_pages import LOGIN, EmployeePage, message, page_context
from parcelguard.web.templating import render

router = APIRouter(include_in_schema=False)
MAX_WEIGHT_KG = Decimal(1000)  # as the API's QuoteIn
FIELDS = ("origin_province", "destination_province", "destination_city", "weight_kg", "on")
REASONS = ("no_table", "no_lane", "too_heavy")


def weight_grams(text: str) -> int | None:
    """Kilograms as the API takes them (more than 0, at most 1000, at most 3 decimals) in grams; else None."""
    try:
        kg = Decimal(text)
    except InvalidOperation:
        return None
    exponent = kg.as_tuple().exponent
    if not kg.is_finite() or not isinstance(exponent, int) or exponent < -3 or not 0 < kg <= MAX_WEIGHT_KG:
        return None
    return int(kg * 1000)


@router.get("/quote", response_class=HTMLResponse)
def quote_page(request: Request, actor: EmployeePage, db_session: SessionDep, origin_province: str = "",
               destination_province: str = "", destination_city: str = "", weight_kg: str = "",
               on: str = "") -> Response:
    if actor is None:
        return session.to_sign_in(request, LOGIN)
    t = i18n.translator(i18n.choose(request).lang)
    values = {"origin_province": origin_province[:32].strip(), "destination_province": destination_province[:32].strip(),
              "destination_city": destination_city[:32].strip(), "weight_kg": weight_kg[:16].strip(),
              "on": on[:10].strip()}
    asked = any(values.values())
    errors: dict[str, str] = {}
    found = None
    if asked:
        origin, destination = canonical_province(values["origin_province"]), canonical_province(
            values["destination_province"])
        grams = weight_grams(values["weight_kg"])
        day = None
        for field, bad in (("origin_province", origin is None), ("destination_province", destination is None)):
            if bad:
                errors[field] = t("code.missing") if not values[field] else t("enterprise.code.province_unknown")
        if grams is None:
            errors["weight_kg"] = t("code.missing") if not values["weight_kg"] else t("enterprise.quote.weight_format")
        if values["on"]:
            try:
                day = date.fromisoformat(values["on"])
            except ValueError:
                errors["on"] = t("enterprise.rates.date_format")
        if not errors:
            assert origin is not None and destination is not None and grams is not None
            # the canonical names in the form, so the select lists show what was asked
            values.update(origin_province=origin, destination_province=destination)
            try:
                found = quotes.compare(db_session=db_session, company_id=employees.company_of(actor),
                                       origin_province=origin, destination_province=destination,
                                       destination_city=values["destination_city"] or None, weight_g=grams, on=day)
            except DomainError as exc:
                errors = {e.pointer.strip("/") if e.pointer.strip("/") in FIELDS else "weight_kg":
                          message(request, e.code, e.detail) for e in exc.errors}
    return render(request, "enterprise_quote.html", {
        **page_context(request, actor), "values": values, "errors": errors, "found": found,
        "provinces": provinces(), "yuan": yuan, "freight": FREIGHT, "reasons": REASONS},
        status_code=422 if errors else 200)
