"""The one interface the enterprise console talks to a carrier through, in the manner of Karrio's carrier
plugins: a carrier is an adapter, and the console knows nothing of its API. docs/enterprise.md ("Adapters") is
this interface in words, for whoever writes the next one.

Rules every adapter keeps:
- Personal data travels only in `NewShipment.parties` to `create_shipment`, over HTTPS in production, and is
  never logged or put in an error: an adapter's `CarrierError` carries a stable code and a message of its own.
- Each call is bounded by the console's timeout (`PARCELGUARD_ENTERPRISE_CARRIER_TIMEOUT_SECONDS`); a carrier
  that does not answer is a `CarrierError` with `retryable=True`, not a hang.
- `create_shipment` (and `create_shipments`, for each parcel) is idempotent on `NewShipment.reference` (the console's order id): a retry after a lost
  answer gets the same shipment, never a second parcel.
- `quote` may answer None: the console then prices with the company's imported rate table (the agreed price is
  the contract, not what the carrier's public API says).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol


class CarrierError(Exception):
    """A carrier refused or failed a call: `code` is stable (`carrier_unreachable`, `carrier_refused`,
    `carrier_auth_failed`, `shipment_not_cancellable`, ...), `message` safe to show (no personal data)."""

    def __init__(self, code: str, message: str, *, retryable: bool = False, status: int | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code, self.message, self.retryable, self.status = code, message, retryable, status


@dataclass(frozen=True)
class Parties:
    sender_name: str
    sender_phone: str
    sender_address: str
    recipient_name: str
    recipient_phone: str
    recipient_address: str


@dataclass(frozen=True)
class Item:
    category: str
    description: str
    quantity: int = 1
    declared_value_fen: int = 0


@dataclass(frozen=True)
class NewShipment:
    reference: str  # the console's order id: the idempotency key at the carrier
    parties: Parties
    recipient_province: str
    recipient_city: str
    weight_g: int
    items: tuple[Item, ...] = field(default_factory=tuple)
    # The recipient's address in parts, as a carrier's intake takes it (`parties.recipient_address` is it whole).
    recipient_district: str = ""
    recipient_detail: str = ""


@dataclass(frozen=True)
class Created:
    carrier_shipment_id: str
    waybill_no: str


@dataclass(frozen=True)
class TrackEvent:
    at: datetime
    event: str
    city: str | None


@dataclass(frozen=True)
class Tracking:
    waybill_no: str
    status: str
    events: tuple[TrackEvent, ...]


@dataclass(frozen=True)
class CarrierQuote:
    total_fen: int
    transit_days_min: int
    transit_days_max: int


MAX_BATCH = 1000  # the parcels of one `create_shipments` call


class CarrierAdapter(Protocol):
    """What the console asks of a carrier. One instance per connection (its address and the company's
    credentials there); methods are synchronous and safe to call from worker threads."""

    kind: str  # the adapter's name in `carrier_connections.adapter`

    def quote(self, *, origin_province: str, destination_province: str, destination_city: str | None,
              weight_g: int) -> CarrierQuote | None: ...

    def create_shipment(self, shipment: NewShipment) -> Created: ...

    def create_shipments(self, shipments: Sequence[NewShipment]) -> list[Created | CarrierError]:
        """Up to `MAX_BATCH` parcels in one call, each answered on its own in order: a refused parcel is its
        `CarrierError` in the list; a call that fails as a whole raises (`retryable` when it may be sent again,
        idempotent on each reference as `create_shipment`)."""
        ...

    def label(self, *, carrier_shipment_id: str, format: Literal["pdf", "zpl"] = "pdf") -> bytes: ...

    def track(self, *, waybill_no: str, phone_tail: str | None = None) -> Tracking: ...

    def cancel(self, *, carrier_shipment_id: str) -> None: ...
