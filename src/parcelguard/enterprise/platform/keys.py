"""The enterprise console's key: one root key (`EnterpriseSettings`), from which HKDF-SHA256 derives the key the
companies' carrier credentials are encrypted under (AES-256-GCM, bound to their connection's id). Nothing here
prints a key."""

from __future__ import annotations

import os
import uuid

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from parcelguard.crypto.types import DecryptionFailed
from parcelguard.enterprise.platform.settings import EnterpriseSettings

_CREDENTIALS_LABEL = b"parcelguard/enterprise/credentials/v1"
_NONCE = 12


class EnterpriseKeys:
    __slots__ = ("_credentials",)

    def __init__(self, *, root_key: bytes) -> None:
        if len(root_key) != 32:
            raise ValueError("the enterprise root key must be 32 bytes")
        derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_CREDENTIALS_LABEL).derive(root_key)
        self._credentials = AESGCM(derived)

    @classmethod
    def from_settings(cls, settings: EnterpriseSettings) -> EnterpriseKeys:
        return cls(root_key=settings.load_root_key())

    def __repr__(self) -> str:
        return "EnterpriseKeys(<root key hidden>)"

    def seal_credentials(self, connection_id: uuid.UUID, plaintext: bytes) -> bytes:
        nonce = os.urandom(_NONCE)
        return nonce + self._credentials.encrypt(nonce, plaintext, b"connection|" + connection_id.bytes)

    def open_credentials(self, connection_id: uuid.UUID, sealed: bytes) -> bytes:
        try:
            return self._credentials.decrypt(sealed[:_NONCE], sealed[_NONCE:], b"connection|" + connection_id.bytes)
        except InvalidTag:
            raise DecryptionFailed() from None
