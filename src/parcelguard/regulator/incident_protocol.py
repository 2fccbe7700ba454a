"""The wire format of an incident report (carrier → regulator's platform), version 1.

The 2014 rules (寄递服务用户个人信息安全管理规定) require a carrier to remedy a leak of users' personal data and
report it to the postal regulator. The report travels the feed's signed channel: signed with the carrier's
upload key (the one its batches are signed with and the platform holds registered), answered with a receipt
signed by the regulator's receipt key. Both sides use this module; pure: JSON and Ed25519.

A **report** (`POST /api/v1/incident-reports`) is

    {"protocol": "parcelguard-incident/1", "carrier": "<code>", "report_id": "<uuid>",
     "incident": "<the carrier's reference, e.g. INC-20261206-0001>", "reported_at": "<UTC time>",
     "key_id": "<carrier key id>", "kind": "<what raised it: honeytoken, bulk_reads, manual, ...>",
     "opened_at": "<UTC time>", "contained_at": "<UTC time>" | null,
     "window": {"since": "<UTC time>", "until": "<UTC time>"},
     "accounts": <accounts involved>, "accounts_contained": <of them disabled>,
     "stations": ["<station code>", ...],
     "reveals": <personal data reveals by them in the window>, "subjects": <distinct parcels revealed>,
     "fields": {"<field>": <reveals>, ...}, "denied": <refused reveals>,
     "remedy": {"actions": ["<action code>", ...], "note": "<text>"},
     "summary": "<text>", "signature": "<base64>"}

Counts only: no document number, name, phone or address; the texts are refused by the carrier when they
look like one. The regulator asks the carrier for the parcels themselves through its own channels.

A **receipt** (the answer, 200) is

    {"protocol": "parcelguard-incident/1", "carrier": "<code>", "report_id": "<uuid>",
     "received_at": "<UTC time>", "key_id": "<regulator key id>", "signature": "<base64>"}

Signatures are Ed25519 over `b"parcelguard/regulator/incident/v1\\n" + canonical(body)` for a report and
`b"parcelguard/regulator/incident-receipt/v1\\n" + canonical(body)` for a receipt, with `protocol.canonical`
(keys sorted, no white space, UTF-8). The same report sent again is answered again; another report under a
stored report id is refused (409 `report_conflict`).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime
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
    verify_signed,
)

PROTOCOL = "parcelguard-incident/1"
REPORT_DOMAIN = b"parcelguard/regulator/incident/v1\n"
RECEIPT_DOMAIN = b"parcelguard/regulator/incident-receipt/v1\n"
# What a carrier did about it (the report's `remedy.actions`): stable codes the regulator's console names.
REMEDY_ACTIONS = ("accounts_disabled", "tokens_revoked", "subjects_notified", "credentials_reset",
                  "staff_dismissed", "police_informed", "retrained", "contract_terminated", "other")
MAX_TEXT = 2000
MAX_STATIONS = 200
# Matched whole (`fullmatch`): `match` with `$` would let a trailing newline through.
_KEY_ID = re.compile(r"[0-9a-f]{16}")
_WORD = re.compile(r"[a-z][a-z0-9_]{0,63}")
_INCIDENT = re.compile(r"[A-Za-z0-9-]{1,40}")
_STATION = re.compile(r"[A-Za-z0-9_-]{1,32}")
_REPORT_KEYS = frozenset({"protocol", "carrier", "report_id", "incident", "reported_at", "key_id", "kind",
                          "opened_at", "contained_at", "window", "accounts", "accounts_contained", "stations",
                          "reveals", "subjects", "fields", "denied", "remedy", "summary", "signature"})
_RECEIPT_KEYS = frozenset({"protocol", "carrier", "report_id", "received_at", "key_id", "signature"})


@dataclass(frozen=True)
class Report:
    carrier: str
    report_id: uuid.UUID
    incident: str
    reported_at: datetime
    key_id: str
    kind: str
    opened_at: datetime
    contained_at: datetime | None
    since: datetime
    until: datetime
    accounts: int
    accounts_contained: int
    stations: tuple[str, ...]
    reveals: int
    subjects: int
    fields: dict[str, int]
    denied: int
    actions: tuple[str, ...]
    note: str
    summary: str

    def body(self) -> dict[str, Any]:
        return {"protocol": PROTOCOL, "carrier": self.carrier, "report_id": str(self.report_id),
                "incident": self.incident, "reported_at": format_time(self.reported_at), "key_id": self.key_id,
                "kind": self.kind, "opened_at": format_time(self.opened_at),
                "contained_at": format_time(self.contained_at) if self.contained_at else None,
                "window": {"since": format_time(self.since), "until": format_time(self.until)},
                "accounts": self.accounts, "accounts_contained": self.accounts_contained,
                "stations": list(self.stations), "reveals": self.reveals, "subjects": self.subjects,
                "fields": dict(sorted(self.fields.items())), "denied": self.denied,
                "remedy": {"actions": list(self.actions), "note": self.note}, "summary": self.summary}

    def signed(self, sign: Any) -> dict[str, Any]:
        """The wire object, signed by `sign(message) -> signature` (the carrier's upload key)."""
        body = self.body()
        return {**body, "signature": b64(sign(REPORT_DOMAIN + canonical(body)))}


@dataclass(frozen=True)
class Receipt:
    carrier: str
    report_id: uuid.UUID
    received_at: datetime
    key_id: str

    def body(self) -> dict[str, Any]:
        return {"protocol": PROTOCOL, "carrier": self.carrier, "report_id": str(self.report_id),
                "received_at": format_time(self.received_at), "key_id": self.key_id}

    def signed(self, private_key: bytes) -> dict[str, Any]:
        body = self.body()
        return {**body, "signature": b64(signing.sign(private_key, RECEIPT_DOMAIN + canonical(body)))}


def parse_report(wire: object) -> tuple[Report, bytes]:
    """A report from its wire object, with its signature (not yet verified: `verify_report`)."""
    obj = _object(wire, "", _REPORT_KEYS)
    missing = _REPORT_KEYS - set(obj)
    if missing:
        raise ProtocolError("member_missing", f"/{min(missing)}", "A required member.")
    if obj["protocol"] != PROTOCOL:
        raise ProtocolError("protocol_version", "/protocol", f"This platform speaks {PROTOCOL}.")
    carrier = obj["carrier"]
    if not isinstance(carrier, str) or not CARRIER_CODE.fullmatch(carrier):
        raise ProtocolError("carrier_format", "/carrier", "A carrier code: 1-32 lower-case letters, digits, dashes.")
    window = _object(obj["window"], "/window", frozenset({"since", "until"}))
    since, until = parse_time(window.get("since"), "/window/since"), parse_time(window.get("until"), "/window/until")
    if until < since:
        raise ProtocolError("window_order", "/window/until", "The window ends before it starts.")
    remedy = _object(obj["remedy"], "/remedy", frozenset({"actions", "note"}))
    actions = remedy.get("actions")
    if (not isinstance(actions, list) or len(actions) > len(REMEDY_ACTIONS)
            or any(a not in REMEDY_ACTIONS for a in actions) or len(set(actions)) != len(actions)):
        raise ProtocolError("remedy_actions", "/remedy/actions", "Distinct codes from: " + ", ".join(REMEDY_ACTIONS))
    fields = obj["fields"]
    if (not isinstance(fields, dict) or len(fields) > 64
            or any(not isinstance(k, str) or not _WORD.fullmatch(k) or not _count(v) for k, v in fields.items())):
        raise ProtocolError("fields_format", "/fields", "Field names (lower-case words) with counts.")
    stations = obj["stations"]
    if (not isinstance(stations, list) or len(stations) > MAX_STATIONS
            or any(not isinstance(s, str) or not _STATION.fullmatch(s) for s in stations)):
        raise ProtocolError("stations_format", "/stations", f"At most {MAX_STATIONS} station codes.")
    counts = {}
    for name in ("accounts", "accounts_contained", "reveals", "subjects", "denied"):
        if not _count(obj[name]):
            raise ProtocolError("count_format", f"/{name}", "A count: a whole number, 0 or more.")
        counts[name] = obj[name]
    report = Report(
        carrier=carrier, report_id=_uuid(obj["report_id"], "/report_id"),
        incident=_text(obj["incident"], "/incident", _INCIDENT, "The carrier's reference: 1-40 letters, digits, dashes."),
        reported_at=parse_time(obj["reported_at"], "/reported_at"),
        key_id=_text(obj["key_id"], "/key_id", _KEY_ID, "A key id: 16 lower-case hex digits."),
        kind=_text(obj["kind"], "/kind", _WORD, "A kind: a lower-case word."),
        opened_at=parse_time(obj["opened_at"], "/opened_at"),
        contained_at=None if obj["contained_at"] is None else parse_time(obj["contained_at"], "/contained_at"),
        since=since, until=until, stations=tuple(stations), fields=dict(fields), actions=tuple(actions),
        note=_free(remedy.get("note"), "/remedy/note"), summary=_free(obj["summary"], "/summary"), **counts)
    return report, unb64(obj["signature"], "/signature", limit=64)


def verify_report(report: Report, signature: bytes, public_key: bytes) -> None:
    """Raise `ProtocolError` `report_signature` unless the carrier's key signed exactly this report."""
    verify_signed(public_key, REPORT_DOMAIN, report.body(), signature, code="report_signature",
                  detail="The signature does not verify with the carrier's registered key.")


def parse_receipt(wire: object) -> tuple[Receipt, bytes]:
    obj = _object(wire, "", _RECEIPT_KEYS)
    if obj.get("protocol") != PROTOCOL:
        raise ProtocolError("protocol_version", "/protocol", f"This platform speaks {PROTOCOL}.")
    carrier = obj.get("carrier")
    if not isinstance(carrier, str):
        raise ProtocolError("carrier_format", "/carrier", "A carrier code.")
    receipt = Receipt(carrier=carrier, report_id=_uuid(obj.get("report_id"), "/report_id"),
                      received_at=parse_time(obj.get("received_at"), "/received_at"),
                      key_id=_text(obj.get("key_id"), "/key_id", _KEY_ID, "A key id: 16 lower-case hex digits."))
    return receipt, unb64(obj.get("signature"), "/signature", limit=64)


def verify_receipt(receipt: Receipt, signature: bytes, public_keys: dict[str, bytes]) -> None:
    """Raise `ProtocolError` `receipt_signature` unless one of the regulator's keys signed exactly this receipt."""
    verify_signed(public_keys.get(receipt.key_id), RECEIPT_DOMAIN, receipt.body(), signature,
                  code="receipt_signature", detail="The receipt is not signed by the regulator's key.")


def _object(value: object, at: str, keys: frozenset[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ProtocolError("not_an_object", at or "/", "A JSON object.")
    unknown = set(value) - keys
    if unknown:
        raise ProtocolError("member_unknown", f"{at}/{min(unknown)}", "A member this version does not know.")
    return value


def _count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**53


def _text(value: object, pointer: str, pattern: re.Pattern[str], detail: str) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise ProtocolError("report_format", pointer, detail)
    return value


def _free(value: object, pointer: str) -> str:
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        raise ProtocolError("report_format", pointer, f"A text of at most {MAX_TEXT} characters.")
    return value


def _uuid(value: object, pointer: str) -> uuid.UUID:
    try:
        if isinstance(value, str):
            return uuid.UUID(value)
    except ValueError:
        pass
    raise ProtocolError("uuid_format", pointer, "A UUID.")
