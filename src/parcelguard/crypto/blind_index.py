"""Blind indexes: a keyed hash of a normalised value, to find equal values without decrypting them.

Format (after Acra): one algorithm-id byte, then HMAC-SHA256 (RFC 2104) truncated to 16 bytes
(128 bits: collisions among a carrier's values are negligible, and the index reveals no more than
equality). Each field has its own key, derived from the carrier's index key with HKDF-SHA256, so an
index of one field cannot be matched against another's.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Callable

import phonenumbers
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from parcelguard.crypto.types import BlindIndex

ALGORITHM_HMAC_SHA256_128 = 0x01
INDEX_BYTES = 16
_ALG = bytes([ALGORITHM_HMAC_SHA256_128])


class NotNormalisable(ValueError):
    """The value cannot be put in canonical form for this field (says which field, never the value)."""


def normalise_id_number(value: str) -> str:
    """Document numbers: no white space, capital X (GB 11643 check character)."""
    return "".join(value.split()).upper()


# Mainland mobile numbers: 1, then 3-9, then 9 digits (10x-12x are service and test ranges, which the
# full parser reads differently, so they take the slow path).
_CN_MOBILE = re.compile(r"1[3-9]\d{9}")
_CN_MOBILE_E164 = re.compile(r"\+861[3-9]\d{9}")


def normalise_phone(value: str, default_region: str = "CN") -> str:
    """E.164 (`+8613812345678`). The two shapes nearly every value has skip the full parser."""
    if _CN_MOBILE.fullmatch(value) and default_region == "CN":
        return "+86" + value
    if _CN_MOBILE_E164.fullmatch(value):
        return value
    try:
        parsed = phonenumbers.parse(value, default_region)
    except phonenumbers.NumberParseException:
        raise NotNormalisable("phone") from None
    if not phonenumbers.is_possible_number(parsed):
        raise NotNormalisable("phone")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def normalise_text(value: str) -> str:
    """Names and free text: white space folded, case kept (Chinese names have none to fold)."""
    return " ".join(value.split())


# Which normaliser a field uses. A field not listed here cannot be indexed.
NORMALISERS: dict[str, Callable[[str], str]] = {
    "id_number": normalise_id_number,
    "document_number": normalise_id_number,
    "phone": normalise_phone,
    "name": normalise_text,
}


def field_key(index_key: bytes, field: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                info=b"parcelguard/blind-index/v1|" + field.encode()).derive(index_key)


def compute(key: bytes, normalised: str) -> BlindIndex:
    return BlindIndex(_ALG + hmac.digest(key, normalised.encode(), "sha256")[:INDEX_BYTES])
