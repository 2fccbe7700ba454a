"""The wire format between a carrier and the industry blacklist, version 1. Both sides use this module; a
third party implements it from docs/blacklist.md. Pure: HMAC, JSON and Ed25519, no database, no HTTP.

**The person** is never named on the wire: a carrier sends `person`, HMAC-SHA256 under the **industry key**
(which every carrier holds and the blacklist does not) of `PERSON_DOMAIN` and the document's normalised form
(`identity.documents.parse(...).index_key`, e.g. `citizen:11010519491231002X`), as base64 of its 32 bytes.
The same document typed any way (15 or 18 digits, spaces, full-width, `x`) is one `person`.

A **report** (`POST /api/v1/reports`) and a **query** (`POST /api/v1/queries`) are JSON objects

    {"protocol": "parcelguard-blacklist/1", "carrier": "<code>", "key_id": "<key id>", "entry_id": "<uuid>",
     "person": "<base64>", "reason_code": "<code>", "evidence_ref": "<case id>", "reported_at": "<UTC time>",
     "signature": "<base64>"}
    {"protocol": "parcelguard-blacklist/1", "carrier": "<code>", "key_id": "<key id>", "query_id": "<uuid>",
     "person": "<base64>", "sent_at": "<UTC time>", "signature": "<base64>"}

signed with the carrier's registered Ed25519 key over a domain line and the canonical JSON of the object
without `signature` (`REPORT_DOMAIN`, `QUERY_DOMAIN`), as the regulator's batches are
(`regulator.protocol`: canonical JSON, times, base64).
"""

from __future__ import annotations

import hmac
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from parcelguard.crypto import signing
from parcelguard.regulator.protocol import (
    CARRIER_CODE,
    ProtocolError,
    b64,
    canonical,
    format_time,
    parse_time,
    unb64,
)

PROTOCOL = "parcelguard-blacklist/1"
REPORT_DOMAIN = b"parcelguard/blacklist/report/v1\n"
QUERY_DOMAIN = b"parcelguard/blacklist/query/v1\n"
PERSON_DOMAIN = b"parcelguard/blacklist/person/v1\n"
PERSON_BYTES = 32
KEY_BYTES = 32
_KEY_ID = re.compile(r"^[0-9a-f]{16}$")  # `crypto.signing.key_id`
_REPORT_KEYS = frozenset({"protocol", "carrier", "key_id", "entry_id", "person", "reason_code", "evidence_ref",
                          "reported_at", "signature"})
_QUERY_KEYS = frozenset({"protocol", "carrier", "key_id", "query_id", "person", "sent_at", "signature"})

__all__ = ["CARRIER_CODE", "PROTOCOL", "REASON_CODES", "ProtocolError", "Query", "Reason", "Report", "b64",
           "check_evidence_ref", "check_reason", "format_time", "parse_query", "parse_report", "person_hash"]


class Reason(StrEnum):
    """Why a person is reported: a fixed list, so an entry carries no free text about anyone."""

    SOLD_USER_DATA = "sold_user_data"  # sold or handed over users' data (贩卖用户信息)
    LEAKED_USER_DATA = "leaked_user_data"  # disclosed users' data without authority (泄露用户信息)
    UNAUTHORISED_ACCESS = "unauthorised_access"  # looked up or read users' data in bulk without a task (违规查询)
    WAYBILL_THEFT = "waybill_theft"  # took, copied or photographed waybills (盗取面单)


REASON_CODES = frozenset(r.value for r in Reason)


def person_hash(industry_key: bytes, index_key: str) -> bytes:
    """HMAC-SHA256(industry key, `PERSON_DOMAIN` + the document's normalised form): what a carrier sends."""
    if len(industry_key) != KEY_BYTES:
        raise ValueError("the industry key must be 32 bytes")
    return hmac.digest(industry_key, PERSON_DOMAIN + index_key.encode(), "sha256")


# An evidence reference is a case id or a reference of the reporting carrier's own (`CASE-2026-0042`, a UUID):
# never a name (letters of ASCII only) and never a number that could be a document or a phone (no run of 11 or
# more digits, outside a UUID).
EVIDENCE_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/#-]{0,63}$")
_DIGIT_RUN = re.compile(r"\d{11,}")
_UUID = re.compile(r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}")


def check_evidence_ref(value: object, pointer: str = "/evidence_ref") -> str:
    if not isinstance(value, str) or not EVIDENCE_REF.match(value):
        raise ProtocolError("evidence_ref_format", pointer, "An evidence reference: 1-64 ASCII letters, digits and "
                            "`._:/#-`, such as a case id; never personal data.")
    if _DIGIT_RUN.search(_UUID.sub("-", value)):
        raise ProtocolError("evidence_ref_personal", pointer, "An evidence reference holds no run of 11 or more "
                            "digits: that could be a document or a phone number.")
    return value


def check_reason(value: object, pointer: str = "/reason_code") -> str:
    if not isinstance(value, str) or value not in REASON_CODES:
        raise ProtocolError("reason_code_unknown", pointer, "A reason code: " + ", ".join(sorted(REASON_CODES)) + ".")
    return value


Sign = Callable[[bytes], bytes]


@dataclass(frozen=True)
class Report:
    """An entry as the reporting carrier signs it. `person` never shows in a repr."""

    carrier: str
    key_id: str
    entry_id: uuid.UUID
    person: bytes = field(repr=False)
    reason_code: str
    evidence_ref: str
    reported_at: datetime

    def body(self) -> dict[str, Any]:
        return {"protocol": PROTOCOL, "carrier": self.carrier, "key_id": self.key_id,
                "entry_id": str(self.entry_id), "person": b64(self.person), "reason_code": self.reason_code,
                "evidence_ref": self.evidence_ref, "reported_at": format_time(self.reported_at)}

    def signed(self, sign: Sign) -> dict[str, Any]:
        body = self.body()
        return {**body, "signature": b64(sign(REPORT_DOMAIN + canonical(body)))}

    def verify(self, signature: bytes, public_key: bytes) -> None:
        """Raise `ProtocolError` `request_signature` unless `public_key` signed exactly this report."""
        _verify(REPORT_DOMAIN + canonical(self.body()), signature, public_key)


@dataclass(frozen=True)
class Query:
    """Is this person listed? As the asking carrier signs it."""

    carrier: str
    key_id: str
    query_id: uuid.UUID
    person: bytes = field(repr=False)
    sent_at: datetime

    def body(self) -> dict[str, Any]:
        return {"protocol": PROTOCOL, "carrier": self.carrier, "key_id": self.key_id,
                "query_id": str(self.query_id), "person": b64(self.person), "sent_at": format_time(self.sent_at)}

    def signed(self, sign: Sign) -> dict[str, Any]:
        body = self.body()
        return {**body, "signature": b64(sign(QUERY_DOMAIN + canonical(body)))}

    def verify(self, signature: bytes, public_key: bytes) -> None:
        _verify(QUERY_DOMAIN + canonical(self.body()), signature, public_key)


def parse_report(wire: object) -> tuple[Report, bytes]:
    """A report from its wire object, with its signature (not yet verified: `Report.verify`)."""
    obj = _object(wire, _REPORT_KEYS)
    carrier, key_id = _signer(obj)
    report = Report(carrier=carrier, key_id=key_id, entry_id=_uuid(obj["entry_id"], "/entry_id"),
                    person=_person(obj["person"]), reason_code=check_reason(obj["reason_code"]),
                    evidence_ref=check_evidence_ref(obj["evidence_ref"]),
                    reported_at=parse_time(obj["reported_at"], "/reported_at"))
    return report, unb64(obj["signature"], "/signature", limit=64)


def parse_query(wire: object) -> tuple[Query, bytes]:
    obj = _object(wire, _QUERY_KEYS)
    carrier, key_id = _signer(obj)
    query = Query(carrier=carrier, key_id=key_id, query_id=_uuid(obj["query_id"], "/query_id"),
                  person=_person(obj["person"]), sent_at=parse_time(obj["sent_at"], "/sent_at"))
    return query, unb64(obj["signature"], "/signature", limit=64)


def _verify(message: bytes, signature: bytes, public_key: bytes) -> None:
    try:
        signing.verify(public_key, message, signature)
    except signing.BadSignature:
        raise ProtocolError("request_signature", "/signature", "The signature does not verify with the carrier's "
                            "registered key.") from None


def _object(wire: object, keys: frozenset[str]) -> dict[str, Any]:
    if not isinstance(wire, dict):
        raise ProtocolError("not_an_object", "/", "A JSON object.")
    unknown = set(wire) - keys
    if unknown:
        raise ProtocolError("member_unknown", f"/{min(unknown)}", "A member this version does not know.")
    missing = keys - set(wire)
    if missing:
        raise ProtocolError("member_missing", f"/{min(missing)}", "A required member.")
    if wire["protocol"] != PROTOCOL:
        raise ProtocolError("protocol_version", "/protocol", f"This platform speaks {PROTOCOL}.")
    return wire


def _signer(obj: dict[str, Any]) -> tuple[str, str]:
    carrier, key_id = obj["carrier"], obj["key_id"]
    if not isinstance(carrier, str) or not CARRIER_CODE.match(carrier):
        raise ProtocolError("carrier_format", "/carrier", "A carrier code: 1-32 lower-case letters, digits, dashes.")
    if not isinstance(key_id, str) or not _KEY_ID.match(key_id):
        raise ProtocolError("key_id_format", "/key_id", "A key id: 16 lower-case hex digits.")
    return carrier, key_id


def _person(value: object) -> bytes:
    person = unb64(value, "/person", limit=PERSON_BYTES)
    if len(person) != PERSON_BYTES:
        raise ProtocolError("person_format", "/person", "A person is base64 of a 32-byte keyed hash.")
    return person


def _uuid(value: object, pointer: str) -> uuid.UUID:
    """A UUID in its canonical form (lower case, dashes): what the signature was made over."""
    try:
        if isinstance(value, str) and str(parsed := uuid.UUID(value)) == value:
            return parsed
    except ValueError:
        pass
    raise ProtocolError("uuid_format", pointer, "A UUID, lower case with dashes.")
