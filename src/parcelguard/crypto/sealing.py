"""Sealing a record to a recipient's public key, so only the recipient (the regulator) can open it.

ECIES-style: an ephemeral X25519 key (RFC 7748) agrees a secret with the recipient's key; HKDF-SHA256
(RFC 5869) turns it into an AES-256-GCM key, salted with both public keys. Format:
`0x01 | ephemeral public (32) | nonce (12) | ciphertext and tag`.

A `SealingSession` reuses one ephemeral key for a batch of records (each with its own random nonce
and associated data), which saves the X25519 exchange per record, the dominant cost of intake at
scale. The format does not change and each record still opens alone. What it costs: whoever reads
this process's memory while the session lives could open that batch's records, as they could read
the batch's plaintexts, which pass through the same memory at the same time. Sessions are short
(one request) and hold at most `max_records` records (far below the 2^32 random-nonce bound).
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

from parcelguard.crypto.types import DecryptionFailed, Sealed

VERSION = 1
_INFO = b"parcelguard/seal/v1"
_PUB = 32
_NONCE = 12


def generate_x25519_keypair() -> tuple[bytes, bytes]:
    """(private, public) as raw 32-byte strings."""
    private = X25519PrivateKey.generate()
    return (private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption()),
            private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))


def _key(shared: bytes, ephemeral_public: bytes, recipient_public: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=ephemeral_public + recipient_public,
                info=_INFO).derive(shared)


class SealingSession:
    """Seal many records to one recipient with one ephemeral key (see the module docstring)."""

    __slots__ = ("_aead", "_header", "_left")

    def __init__(self, recipient_public: bytes, *, max_records: int = 10_000) -> None:
        ephemeral = X25519PrivateKey.generate()
        ephemeral_public = ephemeral.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        shared = ephemeral.exchange(X25519PublicKey.from_public_bytes(recipient_public))
        self._aead = AESGCM(_key(shared, ephemeral_public, recipient_public))
        self._header = bytes([VERSION]) + ephemeral_public
        self._left = max_records

    def seal(self, plaintext: bytes, aad: bytes) -> Sealed:
        if self._left <= 0:
            raise RuntimeError("this sealing session is used up: start a new one")
        self._left -= 1
        nonce = os.urandom(_NONCE)
        return Sealed(self._header + nonce + self._aead.encrypt(nonce, plaintext, aad))


def seal(recipient_public: bytes, plaintext: bytes, aad: bytes) -> Sealed:
    """Seal one record with a fresh ephemeral key."""
    return SealingSession(recipient_public, max_records=1).seal(plaintext, aad)


class Opener:
    """The recipient's side: opens sealed records with one private key, parsed once. Records sealed in
    one `SealingSession` share their ephemeral key, so the key agreed with each ephemeral key is kept
    (at most `cache` of them, least recently used dropped): a batch of them costs one X25519 exchange,
    not one per record. The cache holds what the private key derives anyway, in the same memory."""

    __slots__ = ("_aeads", "_cache", "_lock", "_private", "_public")

    def __init__(self, recipient_private: bytes, *, cache: int = 4096) -> None:
        self._private = X25519PrivateKey.from_private_bytes(recipient_private)
        self._public = self._private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self._aeads: OrderedDict[bytes, AESGCM] = OrderedDict()
        self._cache = cache
        self._lock = threading.Lock()  # request threads share one opener

    def open(self, sealed: bytes, aad: bytes) -> bytes:
        if len(sealed) < 1 + _PUB + _NONCE + 16 or sealed[0] != VERSION:
            raise DecryptionFailed()
        ephemeral_public = bytes(sealed[1 : 1 + _PUB])
        nonce = sealed[1 + _PUB : 1 + _PUB + _NONCE]
        try:
            with self._lock:
                aead = self._aeads.get(ephemeral_public)
                if aead is not None:
                    self._aeads.move_to_end(ephemeral_public)
            if aead is None:
                shared = self._private.exchange(X25519PublicKey.from_public_bytes(ephemeral_public))
                aead = AESGCM(_key(shared, ephemeral_public, self._public))
                with self._lock:
                    self._aeads[ephemeral_public] = aead
                    if len(self._aeads) > self._cache:
                        self._aeads.popitem(last=False)
            return aead.decrypt(nonce, sealed[1 + _PUB + _NONCE :], aad)
        except (InvalidTag, ValueError):
            raise DecryptionFailed() from None


def open_sealed(recipient_private: bytes, sealed: bytes, aad: bytes) -> bytes:
    """Open one record (see `Opener` for many)."""
    return Opener(recipient_private, cache=1).open(sealed, aad)
