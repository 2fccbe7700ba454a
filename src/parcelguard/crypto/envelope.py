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
_MIN_CIPHERTEXT = HEADER.size + NONCE_BYTES + 16


def seal_field(aead: AESGCM, key_id: int, plaintext: bytes, aad: Aad) -> Encrypted:
    header = HEADER.pack(FORMAT_VERSION, key_id)
    nonce = os.urandom(NONCE_BYTES)
    return Encrypted(header + nonce + aead.encrypt(nonce, plaintext, header + aad.encode()))


def key_id_of(ciphertext: bytes) -> int:
    """The data key a ciphertext names; DecryptionFailed if it is not in our format."""
    if len(ciphertext) < _MIN_CIPHERTEXT:
        raise DecryptionFailed()
    version, key_id = HEADER.unpack_from(ciphertext)
    if version != FORMAT_VERSION:
        raise DecryptionFailed()
    return int(key_id)


def open_field(aead: AESGCM, ciphertext: bytes, aad: Aad) -> bytes:
    header = ciphertext[: HEADER.size]
    nonce = ciphertext[HEADER.size : HEADER.size + NONCE_BYTES]
    try:
        return aead.decrypt(nonce, ciphertext[HEADER.size + NONCE_BYTES :], header + aad.encode())
    except InvalidTag:
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
