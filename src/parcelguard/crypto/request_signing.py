"""Signed HTTP requests between parcelguard and the services it talks to: `X-Parcelguard-Signature:
t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>` (RFC 2104; the scheme Stripe's webhooks
use). The telephony provider signs its requests to us with it; we sign webhooks and SMS requests with it.
A receiver checks the time is within a tolerance and compares in constant time; several `v1` values may be
sent while a secret rotates."""

from __future__ import annotations

import hmac
import time
from datetime import datetime

from parcelguard.core.clock import now

SIGNATURE_HEADER = "X-Parcelguard-Signature"
TOLERANCE_SECONDS = 300


def signature_header(secret: str, body: bytes, *, timestamp: int | None = None) -> str:
    """The header's value for `body`, signed with `secret` at `timestamp` (now if None)."""
    t = int(time.time()) if timestamp is None else timestamp
    return f"t={t},v1={_mac(secret, t, body)}"


def _mac(secret: str, t: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{t}.".encode() + body, "sha256").hexdigest()


def parse_signature(header: str | None) -> tuple[int, list[str]] | None:
    """(t, [v1 values]) of a header, or None when it is not one."""
    if not header or len(header) > 1024:
        return None
    t: int | None = None
    macs = []
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t" and value.isdigit() and len(value) <= 12:
            t = int(value)
        elif key == "v1":
            macs.append(value.lower())
    return (t, macs) if t is not None and macs else None


def check_signature(secret: str, header: str | None, body: bytes, *, at: datetime | None = None,
                    tolerance_seconds: int = TOLERANCE_SECONDS) -> bool:
    """The header is fresh (within `tolerance_seconds` of `at`) and one of its `v1` values signs `body`
    (compared in constant time)."""
    parsed = parse_signature(header)
    if parsed is None:
        return False
    t, macs = parsed
    if abs((at or now()).timestamp() - t) > tolerance_seconds:
        return False
    expected = _mac(secret, t, body)
    return any(hmac.compare_digest(expected, mac) for mac in macs)
