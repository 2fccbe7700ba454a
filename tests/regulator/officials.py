"""Officials on the platform in tests: accounts made in its database, signed in over HTTP; people with
document numbers of their own, so a test's lookups find its own records only."""

from __future__ import annotations

import random
import uuid
from typing import Any

import httpx
from sqlalchemy import Engine

from parcelguard.core import db
from parcelguard.identity import documents
from parcelguard.regulator import protocol
from parcelguard.regulator.platform import officials
from tests.regulator.conftest import Carrier

PASSWORD = "official-password-1"


def add_official(engine: Engine, *, username: str | None = None, password: str = PASSWORD) -> str:
    username = username or f"official-{uuid.uuid4().hex[:10]}"
    with db.make_sessionmaker(engine)() as session, session.begin():
        officials.add_official(db_session=session, username=username, display_name="王监管", password=password)
    return username


def sign_in(platform: str, username: str, password: str = PASSWORD) -> dict[str, str]:
    """The headers a signed-in official sends."""
    answer = httpx.post(platform + "/api/v1/auth/token", data={"username": username, "password": password})
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def signed_in(platform: str, engine: Engine) -> dict[str, str]:
    return sign_in(platform, add_official(engine))


def person(*, ending_in_x: bool = False) -> dict[str, str]:
    """A sender with a valid resident ID of their own, born in the 1900s (so it has a 15-digit form)."""
    while True:
        body = f"110105{random.randint(1930, 1999)}{random.randint(1, 12):02d}{random.randint(1, 28):02d}" \
               f"{random.randint(0, 999):03d}"
        number = body + documents.id_check_character(body)
        if number.endswith("X") == ending_in_x:
            return {"doc_type": "resident_id", "doc_number": number, "name": "李寄件"}


def legacy_form(number: str) -> str:
    """The first-generation 15-digit form of an 18-digit ID of someone born in the 1900s."""
    assert number[6:8] == "19"
    return number[:6] + number[8:17]


def waybill() -> str:
    return "LK" + "".join(random.choices("0123456789", k=13))


def send(platform: str, carrier: Carrier, records: list[protocol.SealedRecord]) -> protocol.Receipt:
    """Send one batch; answers its receipt (every record accepted)."""
    answer = httpx.post(platform + "/api/v1/batches", json=carrier.batch(records), timeout=60)
    assert answer.status_code == 200, answer.text
    receipt, _ = protocol.parse_receipt(answer.json())
    assert receipt.accepted == tuple(r.record_id for r in records), receipt.rejected
    return receipt


def problem(answer: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = answer.json()
    assert body["code"] == code, body
    return body
