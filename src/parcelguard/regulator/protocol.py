"""The wire format between a carrier and the regulator's real-name platform ("总对总"), version 1.

Both sides use this module; a third party implements it from docs/regulator.md, which has a worked
example. Pure: JSON and Ed25519, no database, no HTTP.

A **batch** (carrier → platform, `POST /api/v1/batches`) is a JSON object:

    {"protocol": "parcelguard-realname/1", "carrier": "<code>", "batch_id": "<uuid>",
     "sent_at": "<UTC time>", "key_id": "<key id>", "records": [<record>, ...], "signature": "<base64>"}

and each record

    {"record_id": "<uuid>", "waybill_no": "...", "taken_at": "<UTC time>", "station": "<station code>",
     "region": "<6-digit GB/T 2260 code>", "doc_type": "...", "seal_context": "...", "sealed": "<base64>"}

`sealed` is the X25519 sealed box of `{doc_type, doc_number, name}` (`crypto.sealing`), bound to
`seal_context`. A **receipt** (platform → carrier, the answer) is

    {"protocol": "parcelguard-realname/1", "carrier": "<code>", "batch_id": "<uuid>",
     "received_at": "<UTC time>", "key_id": "<regulator key id>", "accepted": ["<record id>", ...],
     "rejected": [{"record_id": "<uuid>", "reason": "<code>"}, ...], "signature": "<base64>"}

**Signatures** are Ed25519 over a domain-separation line and the canonical JSON of the object without
its `signature` member: `b"parcelguard/regulator/batch/v1\\n" + canonical(body)` for a batch (the
carrier's key `key_id`, registered on the platform), `b"parcelguard/regulator/receipt/v1\\n" +
canonical(body)` for a receipt (the regulator's key). Canonical JSON: keys sorted, no white space
(`,` and `:` as separators), UTF-8 without escaping non-ASCII, integers as integers. Times are
`YYYY-MM-DDTHH:MM:SS.ffffffZ`; bytes are standard base64 with padding (RFC 4648 §4).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from parcelguard.crypto import signing

PROTOCOL = "parcelguard-realname/1"
BATCH_DOMAIN = b"parcelguard/regulator/batch/v1\n"
RECEIPT_DOMAIN = b"parcelguard/regulator/receipt/v1\n"
MAX_RECORDS = 1000
MAX_SEALED_BYTES = 4096  # a sealed record of an organisation and its responsible person is under 600
CARRIER_CODE = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")
_KEY_ID = re.compile(r"^[0-9a-f]{16}$")  # `crypto.signing.key_id`: 16 hex digits of the key's SHA-256
_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")
_RECORD_KEYS = frozenset({"record_id", "waybill_no", "taken_at", "station", "region", "doc_type", "seal_context",
                          "sealed"})
_BATCH_KEYS = frozenset({"protocol", "carrier", "batch_id", "sent_at", "key_id", "records", "signature"})
_RECEIPT_KEYS = frozenset({"protocol", "carrier", "batch_id", "received_at", "key_id", "accepted", "rejected",
                           "signature"})


class ProtocolError(Exception):
    """A batch or receipt that does not follow the format: `code` is stable, `pointer` names the member.
    The message never repeats a value."""

    def __init__(self, code: str, pointer: str, detail: str) -> None:
        super().__init__(detail)
        self.code, self.pointer, self.detail = code, pointer, detail


def canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def format_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: object, pointer: str) -> datetime:
    if not isinstance(text, str) or not _TIME.match(text):
        raise ProtocolError("time_format", pointer, "A time is YYYY-MM-DDTHH:MM:SS.ffffffZ (UTC).")
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    except ValueError:
        raise ProtocolError("time_format", pointer, "Not a real time.") from None


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def unb64(text: object, pointer: str, *, limit: int = MAX_SEALED_BYTES) -> bytes:
    if not isinstance(text, str) or len(text) > limit * 4 // 3 + 4:
        raise ProtocolError("base64_format", pointer, f"Standard base64 of at most {limit} bytes.")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ProtocolError("base64_format", pointer, "Not standard base64 (RFC 4648 §4).") from None


@dataclass(frozen=True)
class SealedRecord:
    record_id: uuid.UUID
    waybill_no: str
    taken_at: datetime
    station: str
    region: str
    doc_type: str
    seal_context: str
    sealed: bytes

    def wire(self) -> dict[str, Any]:
        return {"record_id": str(self.record_id), "waybill_no": self.waybill_no,
                "taken_at": format_time(self.taken_at), "station": self.station, "region": self.region,
                "doc_type": self.doc_type, "seal_context": self.seal_context, "sealed": b64(self.sealed)}


@dataclass(frozen=True)
class Batch:
    carrier: str
    batch_id: uuid.UUID
    sent_at: datetime
    key_id: str  # `crypto.signing.key_id` of the carrier's public key
    records: tuple[SealedRecord, ...]

    def body(self) -> dict[str, Any]:
        return {"protocol": PROTOCOL, "carrier": self.carrier, "batch_id": str(self.batch_id),
                "sent_at": format_time(self.sent_at), "key_id": self.key_id,
                "records": [r.wire() for r in self.records]}

    def signed(self, sign: Any) -> dict[str, Any]:
        """The wire object, signed by `sign(message) -> signature` (the carrier's upload key)."""
        body = self.body()
        return {**body, "signature": b64(sign(BATCH_DOMAIN + canonical(body)))}


@dataclass(frozen=True)
class Rejection:
    record_id: uuid.UUID
    reason: str


@dataclass(frozen=True)
class Receipt:
    carrier: str
    batch_id: uuid.UUID
    received_at: datetime
    key_id: str
    accepted: tuple[uuid.UUID, ...]
    rejected: tuple[Rejection, ...] = ()

    def body(self) -> dict[str, Any]:
        return {"protocol": PROTOCOL, "carrier": self.carrier, "batch_id": str(self.batch_id),
                "received_at": format_time(self.received_at), "key_id": self.key_id,
                "accepted": [str(r) for r in self.accepted],
                "rejected": [{"record_id": str(r.record_id), "reason": r.reason} for r in self.rejected]}

    def signed(self, private_key: bytes) -> dict[str, Any]:
        body = self.body()
        return {**body, "signature": b64(signing.sign(private_key, RECEIPT_DOMAIN + canonical(body)))}


def parse_batch(wire: object) -> tuple[Batch, bytes]:
    """A batch from its wire object, with its signature (not yet verified: `verify_batch`)."""
    obj = _object(wire, "", _BATCH_KEYS)
    _protocol(obj)
    carrier = obj.get("carrier")
    if not isinstance(carrier, str) or not CARRIER_CODE.match(carrier):
        raise ProtocolError("carrier_format", "/carrier", "A carrier code: 1-32 lower-case letters, digits, dashes.")
    key_id = obj.get("key_id")
    if not isinstance(key_id, str) or not _KEY_ID.match(key_id):
        raise ProtocolError("key_id_format", "/key_id", "A key id: 16 lower-case hex digits.")
    records = obj.get("records")
    if not isinstance(records, list) or not 1 <= len(records) <= MAX_RECORDS:
        raise ProtocolError("records_count", "/records", f"Between 1 and {MAX_RECORDS} records.")
    parsed = tuple(_record(r, f"/records/{i}") for i, r in enumerate(records))
    if len({r.record_id for r in parsed}) != len(parsed):
        raise ProtocolError("record_duplicate", "/records", "A record id appears twice in the batch.")
    batch = Batch(carrier=carrier, batch_id=_uuid(obj.get("batch_id"), "/batch_id"),
                  sent_at=parse_time(obj.get("sent_at"), "/sent_at"), key_id=key_id, records=parsed)
    return batch, unb64(obj.get("signature"), "/signature", limit=64)


def verify_signed(public_key: bytes | None, domain: bytes, body: dict[str, Any], signature: bytes, *, code: str,
                  detail: str) -> None:
    """Raise `ProtocolError` `code` (at `/signature`) unless `public_key` signed exactly `domain` and the
    canonical `body` (a missing key verifies nothing): every signed object of the channel is checked so."""
    try:
        if public_key is None:
            raise signing.BadSignature()
        signing.verify(public_key, domain + canonical(body), signature)
    except signing.BadSignature:
        raise ProtocolError(code, "/signature", detail) from None


def verify_batch(batch: Batch, signature: bytes, public_key: bytes) -> None:
    """Raise `ProtocolError` `batch_signature` unless the carrier's key signed exactly this batch."""
    verify_signed(public_key, BATCH_DOMAIN, batch.body(), signature, code="batch_signature",
                  detail="The signature does not verify with the carrier's registered key.")


def parse_receipt(wire: object) -> tuple[Receipt, bytes]:
    obj = _object(wire, "", _RECEIPT_KEYS)
    _protocol(obj)
    accepted = obj.get("accepted")
    rejected = obj.get("rejected")
    if not isinstance(accepted, list) or not isinstance(rejected, list):
        raise ProtocolError("receipt_format", "/accepted", "accepted and rejected are lists.")
    key_id = obj.get("key_id")
    if not isinstance(key_id, str) or not _KEY_ID.match(key_id):
        raise ProtocolError("key_id_format", "/key_id", "A key id: 16 lower-case hex digits.")
    rejections = []
    for i, item in enumerate(rejected):
        entry = _object(item, f"/rejected/{i}", frozenset({"record_id", "reason"}))
        reason = entry.get("reason")
        if not isinstance(reason, str) or not 0 < len(reason) <= 64:
            raise ProtocolError("receipt_format", f"/rejected/{i}/reason", "A reason code.")
        rejections.append(Rejection(_uuid(entry.get("record_id"), f"/rejected/{i}/record_id"), reason))
    carrier = obj.get("carrier")
    if not isinstance(carrier, str):
        raise ProtocolError("carrier_format", "/carrier", "A carrier code.")
    receipt = Receipt(carrier=carrier, batch_id=_uuid(obj.get("batch_id"), "/batch_id"),
                      received_at=parse_time(obj.get("received_at"), "/received_at"), key_id=key_id,
                      accepted=tuple(_uuid(r, f"/accepted/{i}") for i, r in enumerate(accepted)),
                      rejected=tuple(rejections))
    return receipt, unb64(obj.get("signature"), "/signature", limit=64)


def verify_receipt(receipt: Receipt, signature: bytes, public_keys: dict[str, bytes]) -> None:
    """Raise `ProtocolError` `receipt_signature` unless one of the regulator's keys (by key id) signed
    exactly this receipt."""
    verify_signed(public_keys.get(receipt.key_id), RECEIPT_DOMAIN, receipt.body(), signature,
                  code="receipt_signature", detail="The receipt is not signed by the regulator's key.")


def _record(value: object, at: str) -> SealedRecord:
    obj = _object(value, at, _RECORD_KEYS, exact=True)
    texts = {}
    for name, limit in (("waybill_no", 20), ("station", 32), ("region", 6), ("doc_type", 32), ("seal_context", 200)):
        text = obj.get(name)
        if not isinstance(text, str) or not 0 < len(text) <= limit:
            raise ProtocolError("record_format", f"{at}/{name}", f"A string of 1 to {limit} characters.")
        texts[name] = text
    return SealedRecord(record_id=_uuid(obj.get("record_id"), f"{at}/record_id"),
                        taken_at=parse_time(obj.get("taken_at"), f"{at}/taken_at"),
                        sealed=unb64(obj.get("sealed"), f"{at}/sealed"), **texts)


def _object(value: object, at: str, keys: frozenset[str], *, exact: bool = False) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ProtocolError("not_an_object", at or "/", "A JSON object.")
    unknown = set(value) - keys
    if unknown:
        raise ProtocolError("member_unknown", f"{at}/{min(unknown)}", "A member this version does not know.")
    if exact and set(value) != keys:
        raise ProtocolError("member_missing", f"{at}/{min(keys - set(value))}", "A required member.")
    return value


def _protocol(obj: dict[str, Any]) -> None:
    if obj.get("protocol") != PROTOCOL:
        raise ProtocolError("protocol_version", "/protocol", f"This platform speaks {PROTOCOL}.")


def _uuid(value: object, pointer: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(value)) if isinstance(value, str) else _bad_uuid(pointer)
    except ValueError:
        return _bad_uuid(pointer)


def _bad_uuid(pointer: str) -> uuid.UUID:
    raise ProtocolError("uuid_format", pointer, "A UUID.")
