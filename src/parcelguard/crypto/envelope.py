"""The field ciphertext format and key wrapping, over AES-256-GCM (NIST SP 800-38D).

A ciphertext is `0x01 | data key id (8, big-endian) | nonce (12) | ciphertext and tag`. GCM's
associated data is the header followed by the encoded `Aad`, so altering the header or moving the
ciphertext to another table, column or row fails authentication.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from parcelguard.crypto.types import FORMAT_VERSION, HEADER, Aad, DecryptionFailed, Encrypted

NONCE_BYTES = 12
KEY_BYTES = 32
HEADER_BYTES = HEADER.size
_BODY = HEADER.size + NONCE_BYTES
_MIN_CIPHERTEXT = _BODY + 16


def header_of(key_id: int) -> bytes:
    return HEADER.pack(FORMAT_VERSION, key_id)


def seal_field(aead: AESGCM, header: bytes, plaintext: bytes, aad: Aad) -> Encrypted:
    """Encrypt under the data key named by `header` (see `header_of`), bound to `aad`."""
    nonce = os.urandom(NONCE_BYTES)
    return Encrypted(header + nonce + aead.encrypt(nonce, plaintext, header + aad.encoded))


def key_id_of(ciphertext: bytes) -> int:
    """The data key a ciphertext names; DecryptionFailed if it is not in our format."""
    if len(ciphertext) < _MIN_CIPHERTEXT or ciphertext[0] != FORMAT_VERSION:
        raise DecryptionFailed()
    return int.from_bytes(ciphertext[1 : HEADER.size], "big")


def open_field(aead: AESGCM, ciphertext: bytes, aad: Aad) -> bytes:
    try:
        return aead.decrypt(ciphertext[HEADER.size : _BODY], ciphertext[_BODY:],
                            ciphertext[: HEADER.size] + aad.encoded)
    except (InvalidTag, ValueError):  # ValueError: a nonce cut short
        raise DecryptionFailed() from None


def wrap(key: bytes, wrapping_key: bytes, context: bytes) -> bytes:
    """`key` encrypted under `wrapping_key`; `context` names what is wrapped (it must match to unwrap)."""
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(wrapping_key).encrypt(nonce, key, b"parcelguard/wrap/v1|" + context)


def unwrap(wrapped: bytes, wrapping_key: bytes, context: bytes) -> bytes:
    try:
        return AESGCM(wrapping_key).decrypt(wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:],
                                            b"parcelguard/wrap/v1|" + context)
    except (InvalidTag, ValueError):
        raise DecryptionFailed() from None
