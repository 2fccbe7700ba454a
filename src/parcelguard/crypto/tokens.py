"""Opaque, signed, expiring tokens for QR codes: the sender's real-name QR (实名码), the courier's
identity QR and the label QR. A token names an opaque random subject and nothing personal; the
server maps the subject to its row. Tokens are stateless: refreshing means issuing a new one, and
`token_id` gives a stable id to record single use or revocation where that is needed.

Layout, version 1 (96 bytes), every field big-endian:

    version << 4 | kind code   1 byte   version 1; kind codes in KINDS (never reuse a code)
    key id                     8 bytes  the signing key (keyring ids are 63-bit)
    issued at                  4 bytes  Unix seconds, unsigned (good until 2106)
    ttl                        3 bytes  seconds, 1 .. 16_777_215 (194 days)
    subject                   16 bytes  an opaque random id (a UUID's bytes)
    signature                 64 bytes  Ed25519 (RFC 8032) over CONTEXT + the 32 bytes above

The text form is base32 (RFC 4648 §6), upper case, without padding: 154 characters, all in the QR
alphanumeric set, so a code holds it at version 5-L or 6-M. Version and kind share a byte because
the one byte saved is what keeps 6-M: 97 bytes would be 156 characters and need 7-M (45×45
modules instead of 41×41). Base32 rather than base45 (RFC 9285, 146 characters) because it has no
space, `+`, `/` or `%`: it survives a URL query string, a trimmed scan and a lower-casing scanner.

The subject is opaque, not secret: anyone can base32-decode it. Give each token a subject that
means nothing outside this server.
"""

from __future__ import annotations

import base64
import hashlib
import re
import struct
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from parcelguard.crypto import signing

FORMAT_VERSION = 1
CONTEXT = b"parcelguard/token/v1\x00"  # domain separation: nothing else we sign starts so (tree heads are JSON)
_PAYLOAD = struct.Struct(">BQI3s16s")
PAYLOAD_BYTES = _PAYLOAD.size  # 32
SIGNATURE_BYTES = 64
TOKEN_BYTES = PAYLOAD_BYTES + SIGNATURE_BYTES  # 96
TOKEN_LENGTH = -(-TOKEN_BYTES * 8 // 5)  # 154 characters
_PADDING = "=" * (-TOKEN_LENGTH % 8)
MAX_TTL_SECONDS = 2**24 - 1
TOKEN_ID_BYTES = 16
_B32_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"  # RFC 4648 §6, values 0..31
# 96 bytes fill 153 characters and 3 bits of the 154th: its 2 low bits must be zero, or two strings
# would decode to the same token (A, E, I, M, Q, U, Y, 4). ASCII only: a Unicode case fold would let
# `ſ` stand for `S`.
_UNUSED_BITS = TOKEN_LENGTH * 5 - TOKEN_BYTES * 8
_TOKEN_TEXT = re.compile(rf"[A-Z2-7]{{{TOKEN_LENGTH - 1}}}[{_B32_ALPHABET[::1 << _UNUSED_BITS]}]",
                         re.ASCII | re.IGNORECASE)


@dataclass(frozen=True)
class Kind:
    """What a token is for, with its wire code and the lifetime a token gets unless told otherwise."""

    name: str
    code: int
    default_ttl_seconds: int

    def __post_init__(self) -> None:
        if not 0 < self.code < 16:
            raise ValueError("a kind code is 1 to 15: it shares a byte with the format version")


KINDS: dict[str, Kind] = {k.name: k for k in (
    Kind("realname", 1, 10 * 60),       # the sender's real-name QR: shown at pickup, refreshed on the phone
    Kind("courier", 2, 10 * 60),        # the courier's QR: the public checks the courier is genuine
    Kind("label", 3, 30 * 24 * 3600),   # printed on the label: must outlive the parcel's journey
)}
_KINDS_BY_CODE = {k.code: k for k in KINDS.values()}

REASONS = {
    "token_format": "the token is not a valid token",
    "token_kind": "the token is not of the expected kind",
    "token_signature": "the token's signature does not verify",
    "token_expired": "the token has expired",
    "token_not_yet_valid": "the token is not valid yet",
}


class TokenInvalid(Exception):
    """A token was refused. `reason` is one of REASONS; the message never holds the token or subject."""

    def __init__(self, reason: str) -> None:
        super().__init__(REASONS[reason])
        self.reason = reason


class TokenSigner(Protocol):
    """What issuing needs: `keyring.Signer` is one."""

    @property
    def key_id(self) -> int: ...

    def sign(self, message: bytes) -> bytes: ...


@dataclass(frozen=True, slots=True)
class VerifiedToken:
    """A token that verified: its kind, subject, lifetime (Unix seconds), signing key and id."""

    kind: str
    subject: bytes = field(repr=False)
    issued_at: int
    expires_at: int
    key_id: int
    token_id: bytes

    @property
    def subject_uuid(self) -> uuid.UUID:
        return uuid.UUID(bytes=self.subject)


def issue(signer: TokenSigner, *, kind: str, subject: bytes | uuid.UUID, ttl_seconds: int | None = None,
          now: float | None = None) -> str:
    """A token for `subject`, valid from `now` for `ttl_seconds` (the kind's default if not given)."""
    spec = KINDS.get(kind)
    if spec is None:
        raise ValueError(f"unknown token kind {kind!r}")
    raw_subject = subject.bytes if isinstance(subject, uuid.UUID) else bytes(subject)
    if len(raw_subject) != 16:
        raise ValueError("a token subject is 16 bytes")
    ttl = spec.default_ttl_seconds if ttl_seconds is None else ttl_seconds
    if not 0 < ttl <= MAX_TTL_SECONDS:
        raise ValueError(f"a token's ttl is 1 to {MAX_TTL_SECONDS} seconds")
    issued_at = int(time.time() if now is None else now)
    if not 0 <= issued_at < 2**32:
        raise ValueError("the issue time is out of range")
    payload = _PAYLOAD.pack(FORMAT_VERSION << 4 | spec.code, signer.key_id, issued_at, ttl.to_bytes(3, "big"),
                            raw_subject)
    signature = signer.sign(CONTEXT + payload)
    return base64.b32encode(payload + signature).decode("ascii").rstrip("=")


def verify(token: str, public_keys: Mapping[int, bytes], *, kind: str, now: float | None = None,
           leeway_seconds: int = 30) -> VerifiedToken:
    """The token's contents if it is well formed, signed by one of `public_keys` (looked up by the
    token's key id with `.get`), of `kind`, and valid at `now`; TokenInvalid otherwise.

    Valid means issued_at - leeway <= now < expires_at + leeway. Checks run format, signature, kind,
    time, so only a genuine token can learn it is of another kind or out of its time.
    """
    spec = KINDS.get(kind)
    if spec is None:
        raise ValueError(f"unknown token kind {kind!r}")
    if leeway_seconds < 0:
        raise ValueError("the leeway cannot be negative")
    raw = _decode(token)
    payload, signature = raw[:PAYLOAD_BYTES], raw[PAYLOAD_BYTES:]
    head, key_id, issued_at, ttl, subject = _PAYLOAD.unpack(payload)
    public_key = public_keys.get(key_id)
    if public_key is None:
        raise TokenInvalid("token_signature")
    message = CONTEXT + payload
    try:
        signing.verify(public_key, message, signature)
    except signing.BadSignature:
        raise TokenInvalid("token_signature") from None
    if head & 0x0F != spec.code:
        raise TokenInvalid("token_kind")
    expires_at = issued_at + int.from_bytes(ttl, "big")
    t = time.time() if now is None else now
    if t >= expires_at + leeway_seconds:
        raise TokenInvalid("token_expired")
    if t < issued_at - leeway_seconds:
        raise TokenInvalid("token_not_yet_valid")
    return VerifiedToken(kind=kind, subject=subject, issued_at=issued_at, expires_at=expires_at, key_id=key_id,
                         token_id=_token_id(message))


def token_id(token: str) -> bytes:
    """A 16-byte id of the token (truncated SHA-256 of the signed bytes), to record single use or
    revocation. Checks only the format: verify the token first. Equal for the same token in any case."""
    return _token_id(CONTEXT + _decode(token)[:PAYLOAD_BYTES])


def key_id_of(token: str) -> int:
    """The signing key a token names, to find whose public keys to verify it with. Checks only the format."""
    return int(_PAYLOAD.unpack_from(_decode(token))[1])


def _token_id(message: bytes) -> bytes:
    # Over the signed message, not the signature: Ed25519 is deterministic and the payload alone decides
    # what a token means, so no re-encoded signature can give a used token a fresh id.
    return hashlib.sha256(message).digest()[:TOKEN_ID_BYTES]


def _decode(token: str) -> bytes:
    """The token's bytes if its text is canonical and its header names a version and kind we know."""
    text = token.strip() if isinstance(token, str) else ""
    if _TOKEN_TEXT.fullmatch(text) is None:
        raise TokenInvalid("token_format")
    raw = base64.b32decode(text.upper() + _PADDING)
    if raw[0] >> 4 != FORMAT_VERSION or raw[0] & 0x0F not in _KINDS_BY_CODE:
        raise TokenInvalid("token_format")
    return raw


__all__ = ["KINDS", "MAX_TTL_SECONDS", "REASONS", "TOKEN_LENGTH", "Kind", "TokenInvalid", "TokenSigner",
           "VerifiedToken", "issue", "key_id_of", "token_id", "verify"]
