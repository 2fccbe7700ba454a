"""The enterprise console's keys: one root key (`EnterpriseSettings`), from which HKDF-SHA256 derives, each under a
label of its own: the key the companies' carrier credentials are encrypted under (AES-256-GCM, bound to their
connection's id); the key orders' parties are sealed under (AES-256-GCM, bound to the order); the blind-index key,
from which each company's index key is derived again (so one company's index says nothing about another's); and
the key the access log's query digests are made under. Nothing here prints a key."""

from __future__ import annotations

import hmac
import os
import uuid

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from parcelguard.crypto import blind_index
from parcelguard.crypto.types import DecryptionFailed
from parcelguard.enterprise.platform.settings import EnterpriseSettings

_CREDENTIALS_LABEL = b"parcelguard/enterprise/credentials/v1"
_ORDERS_LABEL = b"parcelguard/enterprise/orders/v1"
_INDEX_LABEL = b"parcelguard/enterprise/blind-index/v1"
_QUERY_LABEL = b"parcelguard/enterprise/access-log/v1"
_NONCE = 12


def _derive(key: bytes, label: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=label).derive(key)


class EnterpriseKeys:
    __slots__ = ("_credentials", "_field_keys", "_index", "_orders", "_query")

    def __init__(self, *, root_key: bytes) -> None:
        if len(root_key) != 32:
            raise ValueError("the enterprise root key must be 32 bytes")
        self._credentials = AESGCM(_derive(root_key, _CREDENTIALS_LABEL))
        self._orders = AESGCM(_derive(root_key, _ORDERS_LABEL))
        self._index = _derive(root_key, _INDEX_LABEL)
        self._query = _derive(root_key, _QUERY_LABEL)
        self._field_keys: dict[tuple[uuid.UUID, str], bytes] = {}  # two HKDFs a value cost more than its HMAC

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

    def seal_order(self, order_id: uuid.UUID, plaintext: bytes) -> bytes:
        nonce = os.urandom(_NONCE)
        return nonce + self._orders.encrypt(nonce, plaintext, b"order|" + order_id.bytes)

    def open_order(self, order_id: uuid.UUID, sealed: bytes) -> bytes:
        try:
            return self._orders.decrypt(sealed[:_NONCE], sealed[_NONCE:], b"order|" + order_id.bytes)
        except InvalidTag:
            raise DecryptionFailed() from None

    def blind_index(self, company_id: uuid.UUID, field: str, normalised: str) -> bytes:
        """The company's blind index of a normalised value (`crypto.blind_index`'s format)."""
        key = self._field_keys.get((company_id, field))
        if key is None:
            company_key = _derive(self._index, b"company|" + company_id.bytes)
            key = self._field_keys[(company_id, field)] = blind_index.field_key(company_key, field)
        return bytes(blind_index.compute(key, normalised))

    def query_digest(self, company_id: uuid.UUID, kind: str, normalised: str) -> str:
        """What the access log keeps of a query: a keyed digest (hex), never the query."""
        return hmac.new(self._query, company_id.bytes + kind.encode() + b"|" + normalised.encode(),
                        "sha256").hexdigest()[:64]
