"""Value types for protected data. None of them prints plaintext: a log line or a traceback that
holds one shows only its kind, key id and size (or, for `Masked`, the masked form)."""

from __future__ import annotations

import struct
import uuid

FORMAT_VERSION = 1
# version byte + 8-byte key id
HEADER = struct.Struct(">BQ")


class DecryptionFailed(Exception):
    """A ciphertext did not open: wrong key, wrong place (AAD), or altered. Says nothing more."""

    def __init__(self) -> None:
        super().__init__("decryption failed")


class KeyUnavailable(Exception):
    """The key a ciphertext names is unknown to this carrier or has been destroyed."""

    def __init__(self, key_id: int) -> None:
        super().__init__(f"key {key_id} is not available")
        self.key_id = key_id


class Aad:
    """Where a value lives: a ciphertext opens only at the same table, column and row id.

    Encoded once, at construction, as `table|column|row id`. Table and column are names from the
    code and may not hold `|`; the row id comes last, so the encoding is unambiguous whatever it holds.
    """

    __slots__ = ("column", "encoded", "row_id", "table")

    def __init__(self, table: str, column: str, row_id: str | uuid.UUID | int) -> None:
        if "|" in table or "|" in column:
            raise ValueError("a table or column name in an Aad cannot contain '|'")
        self.table = table
        self.column = column
        self.row_id = row_id
        self.encoded = f"{table}|{column}|{row_id}".encode()

    def encode(self) -> bytes:
        """The bytes GCM authenticates (also on `.encoded`, read on the hot path)."""
        return self.encoded

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Aad) and self.encoded == other.encoded

    def __hash__(self) -> int:
        return hash(self.encoded)

    def __repr__(self) -> str:
        return f"Aad({self.table!r}, {self.column!r}, {self.row_id!r})"


class Encrypted(bytes):
    """A field ciphertext: `version | key id | nonce | AES-256-GCM ciphertext and tag`."""

    __slots__ = ()

    @property
    def key_id(self) -> int:
        return HEADER.unpack_from(self)[1]

    @property
    def data(self) -> bytes:
        return bytes(self)

    def __repr__(self) -> str:
        try:
            key = self.key_id
        except struct.error:
            key = None
        return f"Encrypted(key_id={key}, {len(self)} bytes)"

    __str__ = __repr__


class Sealed(bytes):
    """A record sealed to a recipient's X25519 key: `version | ephemeral public | nonce | ciphertext`."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"Sealed({len(self)} bytes)"

    __str__ = __repr__


class BlindIndex(bytes):
    """A keyed hash for matching without decrypting: `algorithm id | truncated HMAC-SHA256`."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"BlindIndex({self.hex()[:8]}…)"

    __str__ = __repr__


class Masked(str):
    """A display form with the personal part hidden (张*, 1101**********002X): safe to show and log."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"Masked({str.__repr__(self)})"
