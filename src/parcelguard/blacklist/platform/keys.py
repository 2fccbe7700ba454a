"""The blacklist's keys: one root key (`BlacklistSettings`), from which HKDF-SHA256 (RFC 5869) derives, each
under a label of its own, the key entries are indexed under and the key the query log's digests are made
under. Loaded once per process; nothing here prints a key.

`person_index(person)` = HMAC-SHA256(entries key, person): what an entry stores and a query looks up, where
`person` is the carriers' HMAC of the document under the industry key (`blacklist.protocol.person_hash`).
The industry key keeps the platform from guessing numbers; this second key keeps a copy of the platform's
database, even with the industry key beside it, from answering a guess.

`query_digest(carrier, person)` = HMAC-SHA256(query-log key, carrier id bytes | person): the query log's
"hash of the hash", per asking carrier, so the log alone does not show that one person applied at several
carriers.
"""

from __future__ import annotations

import hmac
import uuid

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from parcelguard.core.config import BlacklistSettings

_ENTRIES_LABEL = b"parcelguard/blacklist/entries/v1"
_QUERY_LOG_LABEL = b"parcelguard/blacklist/query-log/v1"


def _derive(root_key: bytes, label: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=label).derive(root_key)


class BlacklistKeys:
    __slots__ = ("_entries_key", "_query_key")

    def __init__(self, *, root_key: bytes) -> None:
        if len(root_key) != 32:
            raise ValueError("the blacklist root key must be 32 bytes")
        self._entries_key = _derive(root_key, _ENTRIES_LABEL)
        self._query_key = _derive(root_key, _QUERY_LOG_LABEL)

    @classmethod
    def from_settings(cls, settings: BlacklistSettings) -> BlacklistKeys:
        """The keys `settings` name (ConfigError, one line, when the root key is missing or malformed)."""
        return cls(root_key=settings.load_root_key())

    def __repr__(self) -> str:
        return "BlacklistKeys(<root key hidden>)"

    def person_index(self, person: bytes) -> bytes:
        return hmac.digest(self._entries_key, person, "sha256")

    def query_digest(self, carrier_id: uuid.UUID, person: bytes) -> bytes:
        return hmac.digest(self._query_key, carrier_id.bytes + person, "sha256")
