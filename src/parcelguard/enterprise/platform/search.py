"""Finding the company's own orders (issue 16): by waybill number, by the recipient's phone, or by the recipient's
full name, through blind indexes (there is no plaintext column to search), scoped to the employee's company. Every
search and every reveal of an order's parties is an entry of the access log, written before the answer, with a
stated purpose; a search answers masked views only. This is how a lost waybill number is found again. No HTTP.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from parcelguard.core.auth import Actor
from parcelguard.core.errors import Invalid
from parcelguard.crypto import blind_index
from parcelguard.enterprise.platform import access_log, employees, orders
from parcelguard.enterprise.platform.keys import EnterpriseKeys
from parcelguard.enterprise.platform.models import Order

MAX_FOUND = 50
_WAYBILL = re.compile(r"^[A-Za-z]{1,4}\d{8,16}$")
_PHONE = re.compile(r"^\+?[\d\s-]{7,20}$")


@dataclass(frozen=True)
class Found:
    entry_seq: int
    orders: list[Order]


def classify(query: str) -> tuple[str, str]:
    """(kind, normalised query): a waybill number, a phone, or a name (422 `query_format` for none of those)."""
    text = " ".join(query.split())
    if _WAYBILL.fullmatch(text):
        return "waybill", text.upper()
    if _PHONE.fullmatch(text):
        try:
            return "phone", blind_index.normalise_phone(text.replace(" ", "").replace("-", ""))
        except blind_index.NotNormalisable:
            raise Invalid("Not a waybill number, a phone or a name.", code="query_format", field="/q") from None
    if 0 < len(text) <= 64 and not any(c.isdigit() for c in text):
        return "name", blind_index.normalise_text(text)
    raise Invalid("Not a waybill number, a phone or a name.", code="query_format", field="/q")


def _purpose(purpose: str) -> str:
    if purpose not in access_log.PURPOSES:
        raise Invalid("State why: " + ", ".join(sorted(access_log.PURPOSES)) + ".", code="purpose_unknown",
                      field="/purpose")
    return purpose


def find(*, db_session: Session, keys: EnterpriseKeys, actor: Actor, query: str, purpose: str) -> Found:
    """The company's orders the query names, newest first (at most 50), logged before they are answered."""
    company_id = employees.company_of(actor)
    purpose = _purpose(purpose)
    kind, normalised = classify(query)
    condition: Any
    if kind == "waybill":
        condition = Order.waybill_no == normalised
    elif kind == "phone":
        condition = Order.recipient_phone_index == keys.blind_index(company_id, "phone", normalised)
    else:
        condition = Order.recipient_name_index == keys.blind_index(company_id, "name", normalised)
    found = list(db_session.scalars(select(Order).where(Order.company_id == company_id, condition)
                                    .order_by(Order.created_at.desc()).limit(MAX_FOUND)))
    entry = access_log.append(db_session=db_session, company_id=company_id, employee_id=actor.user_id,
                              action="search", kind=kind, subject=keys.query_digest(company_id, kind, normalised),
                              purpose=purpose, found=len(found))
    return Found(entry_seq=entry.seq, orders=found)


def reveal(*, db_session: Session, keys: EnterpriseKeys, actor: Actor, order_id: uuid.UUID, purpose: str
           ) -> tuple[int, dict[str, Any]]:
    """An order's parties in clear, for an employee of its company with a stated purpose: logged first."""
    company_id = employees.company_of(actor)
    purpose = _purpose(purpose)
    row = orders.get(db_session=db_session, company_id=company_id, order_id=order_id)
    entry = access_log.append(db_session=db_session, company_id=company_id, employee_id=actor.user_id,
                              action="reveal", kind="order", subject=str(row.id), purpose=purpose, found=1)
    return entry.seq, orders.parties(keys, row)
