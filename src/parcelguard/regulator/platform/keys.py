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
from collections.abc import Callable
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF, HKDFExpand

from parcelguard.core.config import RegulatorSettings
from parcelguard.crypto import blind_index, sealing, signing
from parcelguard.crypto.keystore import Separate
from parcelguard.crypto.types import BlindIndex, DecryptionFailed
from parcelguard.identity import documents
from parcelguard.regulator import incident_protocol, protocol

RECORD_FORMAT = 1  # a key per record derived from the root key: goes only with its row
MONTH_FORMAT = 2  # under the month's record key (`record_keys`): goes with the key (crypto-shredding)
_NONCE = 12
_RECORDS_LABEL = b"parcelguard/regulator/records/v1"
_INDEX_LABEL = b"parcelguard/regulator/blind-index/v1"
_LOOKUP_LABEL = b"parcelguard/regulator/lookup-log/v1"
_MONTH_KEYS_LABEL = b"parcelguard/regulator/record-keys/v1"
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
    __slots__ = ("_index_key", "_lookup_key", "_month_wrap", "_opener", "_records_key", "_signing", "keystore",
                 "receipt_key_id", "receipt_public_key", "sealing_public_key")

    def __init__(self, *, private_key: bytes, signing_key: bytes, root_key: bytes,
                 keystore: Separate | None = None) -> None:
        if len(root_key) != 32:
            raise ValueError("the platform root key must be 32 bytes")
        self._opener = sealing.Opener(private_key)
        self._signing = signing_key
        self._records_key = _derive(root_key, _RECORDS_LABEL)
        self._index_key = blind_index.field_key(_derive(root_key, _INDEX_LABEL), "document_number")
        self._lookup_key = _derive(root_key, _LOOKUP_LABEL)
        self._month_wrap = AESGCM(_derive(root_key, _MONTH_KEYS_LABEL))
        self.receipt_public_key = signing.public_of(signing_key)
        self.receipt_key_id = signing.key_id(self.receipt_public_key)
        self.sealing_public_key = X25519PrivateKey.from_private_bytes(private_key).public_key().public_bytes_raw()
        # Where the month keys live: a key store of its own (`PARCELGUARD_REGULATOR_KEYSTORE_URL`, out of the
        # platform database's backups), else the platform database (`record_keys.wrapped_key`).
        self.keystore = keystore

    @classmethod
    def from_settings(cls, settings: RegulatorSettings) -> PlatformKeys:
        """The keys `settings` name (ConfigError, one line, when one is missing or malformed)."""
        return cls(private_key=settings.load_private_key(), signing_key=settings.load_signing_key(),
                   root_key=settings.load_root_key(),
                   keystore=Separate(settings.keystore_url) if settings.keystore_url else None)

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

    def wrap_month_key(self, key_id: int, key: bytes) -> bytes:
        nonce = os.urandom(_NONCE)
        return nonce + self._month_wrap.encrypt(nonce, key, f"record-key|{key_id}".encode())

    def unwrap_month_key(self, key_id: int, wrapped: bytes) -> bytes:
        try:
            return self._month_wrap.decrypt(wrapped[:_NONCE], wrapped[_NONCE:], f"record-key|{key_id}".encode())
        except InvalidTag:
            raise DecryptionFailed() from None

    def sign(self, domain: bytes, message: bytes) -> bytes:
        """The platform's Ed25519 signature (its receipt key) over `domain` + `message`."""
        return signing.sign(self._signing, domain + message)

    def _record_aead(self, aad: bytes) -> AESGCM:
        return AESGCM(HKDFExpand(algorithm=hashes.SHA256(), length=32, info=aad).derive(self._records_key))

    def encrypt_record(self, carrier_id: uuid.UUID, record_id: uuid.UUID, plaintext: bytes,
                       month: tuple[int, bytes] | None = None) -> bytes:
        """A payload encrypted at rest: under the month's record key `(id, key)` when given (format 2: it goes
        when that key is destroyed), else under a key derived from the root key for the record (format 1)."""
        aad = record_aad(carrier_id, record_id)
        nonce = os.urandom(_NONCE)
        if month is None:
            return bytes([RECORD_FORMAT]) + nonce + self._record_aead(aad).encrypt(nonce, plaintext, aad)
        key_id, key = month
        header = bytes([MONTH_FORMAT]) + key_id.to_bytes(8, "big")
        return header + nonce + _month_aead(key, aad).encrypt(nonce, plaintext, header + aad)

    def decrypt_record(self, carrier_id: uuid.UUID, record_id: uuid.UUID, ciphertext: bytes,
                       month_key: Callable[[int], bytes | None] | None = None) -> bytes:
        """The stored payload; `DecryptionFailed` if it is not this record's, was altered, or its month's key
        was destroyed (`month_key(id)` answers None)."""
        if len(ciphertext) > 9 + _NONCE + 16 and ciphertext[0] == MONTH_FORMAT and month_key is not None:
            key = month_key(int.from_bytes(ciphertext[1:9], "big"))
            if key is None:
                raise DecryptionFailed()
            aad = record_aad(carrier_id, record_id)
            try:
                return _month_aead(key, aad).decrypt(ciphertext[9:9 + _NONCE], ciphertext[9 + _NONCE:],
                                                     ciphertext[:9] + aad)
            except InvalidTag:
                raise DecryptionFailed() from None
        if len(ciphertext) < 1 + _NONCE + 16 or ciphertext[0] != RECORD_FORMAT:
            raise DecryptionFailed()
        aad = record_aad(carrier_id, record_id)
        try:
            return self._record_aead(aad).decrypt(ciphertext[1:1 + _NONCE], ciphertext[1 + _NONCE:], aad)
        except InvalidTag:
            raise DecryptionFailed() from None


def _month_aead(key: bytes, aad: bytes) -> AESGCM:
    return AESGCM(HKDFExpand(algorithm=hashes.SHA256(), length=32, info=aad).derive(key))
