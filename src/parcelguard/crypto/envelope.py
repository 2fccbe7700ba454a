"""The field ciphertext format and key wrapping, over AES-256-GCM (NIST SP 800-38D).

A ciphertext is `0x01 | data key id (8, big-endian) | nonce (12) | ciphertext and tag`. GCM's
associated data is the header followed by the encoded `Aad`, so altering the header or moving the
ciphertext to another table, column or row fails authentication.
"""

from __future__ import annotations

import os
from collections.abc import Callable

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


def field_sealer(aead: AESGCM, key_id: int) -> Callable[[bytes, Aad], Encrypted]:
    """A function that encrypts field values under the data key `key_id` (whose AESGCM is `aead`).

    A closure rather than a function taking the key, because it sits on the hot path of every
    write: everything that does not change per value is bound once.
    """
    header = header_of(key_id)
    encrypt = aead.encrypt
    urandom = os.urandom

    def seal(plaintext: bytes, aad: Aad) -> Encrypted:
        nonce = urandom(NONCE_BYTES)
        return Encrypted(header + nonce + encrypt(nonce, plaintext, header + aad.encoded))

    return seal


def field_opener(aead: AESGCM) -> Callable[[bytes, Aad], bytes]:
    """A function that decrypts field values made by `field_sealer` with the same key."""
    decrypt = aead.decrypt

    def open_(ciphertext: bytes, aad: Aad) -> bytes:
        try:
            return decrypt(ciphertext[HEADER_BYTES:_BODY], ciphertext[_BODY:], ciphertext[:HEADER_BYTES] + aad.encoded)
        except (InvalidTag, ValueError):  # ValueError: a nonce cut short
            raise DecryptionFailed() from None

    return open_


def key_id_of(ciphertext: bytes) -> int:
    """The data key a ciphertext names; DecryptionFailed if it is not in our format."""
    if len(ciphertext) < _MIN_CIPHERTEXT or ciphertext[0] != FORMAT_VERSION:
        raise DecryptionFailed()
    return int.from_bytes(ciphertext[1 : HEADER.size], "big")


def key_id_of_header(header: bytes) -> int:
    """The data key a ciphertext header (`header_of`) names."""
    return int.from_bytes(header[1 : HEADER.size], "big")


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
