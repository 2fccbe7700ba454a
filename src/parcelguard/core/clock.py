"""One clock for the whole platform: aware UTC datetimes."""

from __future__ import annotations

from datetime import UTC, datetime


def now() -> datetime:
    return datetime.now(UTC)
