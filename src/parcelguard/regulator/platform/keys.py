"""The platform's keys: the X25519 key that opens sealed records, the Ed25519 seed that signs receipts,
and the root key that records are encrypted and indexed under at rest. Loaded once per process from
`RegulatorSettings`; nothing here prints a key.

At rest (after Tink's derived-key AEADs): the root key gives, by HKDF-SHA256 (RFC 5869) with a label of
its own, a records key and an index key. Each record is encrypted with AES-256-GCM under a key of its
own, HKDF-Expand of the records key over (carrier, record id), with a random 96-bit nonce and
associated data binding carrier and record id. A key per record keeps every key far below the 2^32
random-nonce bound, whatever the volume (5 million records a day in 2017; every parcel of China is
over 500 million), and costs one HMAC. Format: `0x01 | nonce (12) | ciphertext and tag`.

The lookup log (`lookup_log`) keeps, for each lookup an official made, HMAC-SHA256 of what was asked under
a third derived key (label `parcelguard/regulator/lookup-log/v1`), and its head is signed with the receipt
seed under a domain line of its own, so a log head can never pass for a receipt or the other way round.
"""

from __future__ import annotations

import hmac
import os
import uuid
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF, HKDFExpand

from parcelguard.core.config import RegulatorSettings
from parcelguard.crypto import blind_index, sealing, signing
from parcelguard.crypto.types import BlindIndex, DecryptionFailed
from parcelguard.identity import documents
from parcelguard.regulator import incident_protocol, protocol

RECORD_FORMAT = 1
_NONCE = 12
_RECORDS_LABEL = b"parcelguard/regulator/records/v1"
_INDEX_LABEL = b"parcelguard/regulator/blind-index/v1"
_LOOKUP_LABEL = b"parcelguard/regulator/lookup-log/v1"
LOOKUP_HEAD_DOMAIN = b"parcelguard/regulator/lookup-log-head/v1\n"
_RECORD_AAD = "parcelguard/regulator/record/v1"


def _derive(root_key: bytes, label: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=label).derive(root_key)


def record_aad(carrier_id: uuid.UUID, record_id: uuid.UUID) -> bytes:
    """Where a stored payload belongs: it opens only as this carrier's record with this id."""
    return f"{_RECORD_AAD}|{carrier_id}|{record_id}".encode()


def index_form(number: str, doc_type: str | None = None) -> str:
    """The form a document number's blind index hashes: `identity.documents`' `index_key` when the number
    parses (so a 15-digit ID and its 18-digit form, or `南1234567` and `南字第1234567号`, are one document),
    else the type and the cleaned number (a record is stored whatever its number; the carrier checked it)."""
    try:
        return documents.parse(number, doc_type).index_key
    except documents.InvalidDocument:
        return f"{doc_type or 'unknown'}:{documents.clean(number)[:documents.MAX_INPUT]}"


class PlatformKeys:
    __slots__ = ("_index_key", "_lookup_key", "_opener", "_records_key", "_signing", "receipt_key_id",
                 "receipt_public_key", "sealing_public_key")

    def __init__(self, *, private_key: bytes, signing_key: bytes, root_key: bytes) -> None:
        if len(root_key) != 32:
            raise ValueError("the platform root key must be 32 bytes")
        self._opener = sealing.Opener(private_key)
        self._signing = signing_key
        self._records_key = _derive(root_key, _RECORDS_LABEL)
        self._index_key = blind_index.field_key(_derive(root_key, _INDEX_LABEL), "document_number")
        self._lookup_key = _derive(root_key, _LOOKUP_LABEL)
        self.receipt_public_key = signing.public_of(signing_key)
        self.receipt_key_id = signing.key_id(self.receipt_public_key)
        self.sealing_public_key = X25519PrivateKey.from_private_bytes(private_key).public_key().public_bytes_raw()

    @classmethod
    def from_settings(cls, settings: RegulatorSettings) -> PlatformKeys:
        """The keys `settings` name (ConfigError, one line, when one is missing or malformed)."""
        return cls(private_key=settings.load_private_key(), signing_key=settings.load_signing_key(),
                   root_key=settings.load_root_key())

    def __repr__(self) -> str:
        return f"PlatformKeys(receipt_key_id={self.receipt_key_id!r})"

    def open(self, sealed: bytes, context: bytes) -> bytes:
        """A sealed record's plaintext; `DecryptionFailed` if it was not sealed to us under `context`."""
        return self._opener.open(sealed, context)

    def sign_receipt(self, receipt: protocol.Receipt | incident_protocol.Receipt) -> dict[str, Any]:
        """A receipt's wire object, signed with the receipt key under the receipt's own domain line."""
        return receipt.signed(self._signing)

    def document_index(self, number: str, doc_type: str | None = None) -> BlindIndex:
        """The blind index a record's document number is stored and looked up by."""
        return blind_index.compute(self._index_key, index_form(number, doc_type))

    def lookup_digest(self, kind: str, normalised: str) -> bytes:
        """What an official asked, as the lookup log keeps it: HMAC-SHA256 of `kind|normalised` (32 bytes).
        Without the root key nobody can test a guessed number against the log."""
        return hmac.digest(self._lookup_key, f"{kind}|{normalised}".encode(), "sha256")

    def sign_lookup_head(self, message: bytes) -> bytes:
        """Ed25519 signature of the lookup log's head (`LOOKUP_HEAD_DOMAIN` + message)."""
        return signing.sign(self._signing, LOOKUP_HEAD_DOMAIN + message)

    def lookup_head_signed(self, message: bytes, signature: bytes) -> bool:
        """Whether `signature` is this platform's over the lookup log head `message`."""
        try:
            signing.verify(self.receipt_public_key, LOOKUP_HEAD_DOMAIN + message, signature)
        except signing.BadSignature:
            return False
        return True

    def _record_aead(self, aad: bytes) -> AESGCM:
        return AESGCM(HKDFExpand(algorithm=hashes.SHA256(), length=32, info=aad).derive(self._records_key))

    def encrypt_record(self, carrier_id: uuid.UUID, record_id: uuid.UUID, plaintext: bytes) -> bytes:
        aad = record_aad(carrier_id, record_id)
        nonce = os.urandom(_NONCE)
        return bytes([RECORD_FORMAT]) + nonce + self._record_aead(aad).encrypt(nonce, plaintext, aad)

    def decrypt_record(self, carrier_id: uuid.UUID, record_id: uuid.UUID, ciphertext: bytes) -> bytes:
        """The stored payload; `DecryptionFailed` if it is not this record's, or was altered."""
        if len(ciphertext) < 1 + _NONCE + 16 or ciphertext[0] != RECORD_FORMAT:
            raise DecryptionFailed()
        aad = record_aad(carrier_id, record_id)
        try:
            return self._record_aead(aad).decrypt(ciphertext[1:1 + _NONCE], ciphertext[1 + _NONCE:], aad)
        except InvalidTag:
            raise DecryptionFailed() from None
