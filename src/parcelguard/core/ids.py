"""Time-ordered row ids: UUID version 7 (RFC 9562 §5.7), the first 48 bits the Unix time in milliseconds, then
74 random bits. Shipments are partitioned by ranges of their id on PostgreSQL (issue 17, `core.partitions`): an
id made at a moment lies in that moment's month's range, so the primary key stays `id` alone and every foreign
key to it stays as it was.

Written by hand: the standard library gains `uuid.uuid7` only in Python 3.14, and the bit layout is ten lines.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime

from parcelguard.core.clock import now

_VERSION = 0x7 << 76  # RFC 9562 §4.2: bits 48-51
_VARIANT = 0b10 << 62  # RFC 9562 §4.1: bits 64-65
_RAND_B = (1 << 62) - 1  # 62 random bits after the variant


def _millis(moment: datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    # whole milliseconds, rounded down (microseconds // 1000), so a moment and its id share a month boundary
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    millis = (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000
    if not 0 <= millis < 1 << 48:
        raise ValueError("A UUIDv7 holds a time from 1970 to 10889.")
    return millis


def uuid7(at: datetime | None = None) -> uuid.UUID:
    """A fresh UUIDv7 of the moment `at` (now by `core.clock` when None), with 74 random bits."""
    random = secrets.randbits(74)
    return uuid.UUID(int=(_millis(at or now()) << 80) | _VERSION | ((random >> 62) << 64) | _VARIANT
                     | (random & _RAND_B))


def uuid7_floor(moment: datetime) -> uuid.UUID:
    """The smallest UUIDv7 of `moment`'s millisecond (its random bits all zero): a partition's bound."""
    return uuid.UUID(int=(_millis(moment) << 80) | _VERSION | _VARIANT)


def uuid7_time(value: uuid.UUID) -> datetime:
    """The millisecond a UUIDv7 was made in (UTC)."""
    millis = value.int >> 80
    return datetime.fromtimestamp(millis // 1000, tz=UTC).replace(microsecond=(millis % 1000) * 1000)


__all__ = ["uuid7", "uuid7_floor", "uuid7_time"]
