"""Quotes (报价): for an origin, a destination and a weight, every connected carrier's price and transit time
under its table in force that day, cheapest first, the cheapest and the fastest marked; and the carriers that
cannot take the parcel, with why. No HTTP; the prices are `enterprise.rates.pricing`'s."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from parcelguard.core.clock import now
from parcelguard.core.errors import Invalid
from parcelguard.enterprise.platform import connections, rate_tables
from parcelguard.enterprise.rates import pricing
from parcelguard.enterprise.rates.model import beijing_date, yuan


@dataclass(frozen=True)
class Compared:
    on: date
    quotes: list[dict[str, Any]]
    unserved: list[dict[str, Any]]


def compare(*, db_session: Session, company_id: uuid.UUID, origin_province: str, destination_province: str,
            destination_city: str | None, weight_g: int, on: date | None = None) -> Compared:
    day = on or beijing_date(now())
    if weight_g <= 0:
        raise Invalid("The weight is more than 0 kg.", code="weight_format", field="/weight_kg")
    active = connections.active(db_session=db_session, company_id=company_id)
    tables = rate_tables.in_force(db_session=db_session, company_id=company_id, on=day)
    found, unserved = [], []
    for connection in active:
        table = tables.get(connection.id)
        quote = None if table is None else pricing.price(table, origin_province, destination_province,
                                                          destination_city, weight_g)
        if quote is None:
            reason = "no_table" if table is None else _why_not(table, origin_province, destination_province,
                                                              destination_city)
            unserved.append({"connection_id": connection.id, "carrier": connection.code, "reason": reason})
        else:
            found.append((connection, quote))
    found.sort(key=lambda cq: (cq[1].total_fen, cq[1].transit_days_max, cq[1].transit_days_min, cq[0].code))
    cheapest = min((q.total_fen for _, q in found), default=None)
    fastest = min(((q.transit_days_max, q.transit_days_min) for _, q in found), default=None)
    return Compared(on=day, unserved=unserved, quotes=[{
        "connection_id": c.id, "carrier": c.code, "name": c.name, "version": q.version, "total_fen": q.total_fen,
        "total_yuan": yuan(q.total_fen), "breakdown": [{"name": b.name, "fen": b.fen} for b in q.breakdown],
        "transit_days_min": q.transit_days_min, "transit_days_max": q.transit_days_max, "lane": q.matched,
        "cheapest": q.total_fen == cheapest, "fastest": (q.transit_days_max, q.transit_days_min) == fastest,
    } for c, q in found])


def _why_not(table: Any, origin: str, destination: str, city: str | None) -> str:
    from parcelguard.enterprise.rates.regions import canonical_province

    lane = table.lane_for(canonical_province(origin), canonical_province(destination), city)
    return "no_lane" if lane is None else "too_heavy"
