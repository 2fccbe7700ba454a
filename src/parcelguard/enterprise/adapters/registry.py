"""The adapters the console knows, by the name a carrier connection stores (`carrier_connections.adapter`)."""

from __future__ import annotations

from collections.abc import Callable

from parcelguard.enterprise.adapters.base import CarrierAdapter
from parcelguard.enterprise.adapters.parcelguard import ParcelguardAdapter

ADAPTERS: dict[str, Callable[[str, str, str, float], CarrierAdapter]] = {
    ParcelguardAdapter.kind: ParcelguardAdapter,
}


def adapter_for(kind: str, base_url: str, username: str, password: str, timeout: float) -> CarrierAdapter:
    """A new adapter of `kind` for one connection (its address, the company's account there, the timeout of
    each call); ValueError for a kind the console does not know."""
    try:
        make = ADAPTERS[kind]
    except KeyError:
        raise ValueError(f"unknown carrier adapter {kind!r} (known: {', '.join(sorted(ADAPTERS))})") from None
    return make(base_url, username, password, timeout)
