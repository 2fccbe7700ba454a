"""API shapes of scans. A delivery scan answers the address detail and a virtual number to call: never
the recipient's phone, never a full name."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from parcelguard.shipments.schemas import ItemProblemOut
from parcelguard.tracking.service import Event


class ScanIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: str | None = Field(default=None, max_length=400, description="The label's QR code, as scanned. "
                              "`delivery` and `delivered` go by it; other events by it or by `waybill_no`.")
    waybill_no: str | None = Field(default=None, max_length=64, description="The waybill number, as a hub's "
                                   "barcode reader reads it (not for `delivery` or `delivered`).")
    event: Event = Field(default=Event.DELIVERY, description="`delivery`: scanned to deliver (the address is "
                         "revealed through the gate); `delivered`: handed over; `arrived`/`departed`: at a hub or "
                         "station; `out_for_delivery`; `attempted` (with a reason); `exception` (with a reason).")
    reason: str | None = Field(default=None, max_length=24, description="For `attempted`: not_home, refused, "
                               "address_wrong, unreachable; for `exception`: damaged, lost, held, address_unknown, "
                               "weather, other.")
    at: AwareDatetime | None = Field(default=None, description="When the scanner saw the parcel, if not now "
                                     "(within the last 72 hours).")


class BatchScanIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    waybill_no: str = Field(max_length=64)
    event: Event
    reason: str | None = Field(default=None, max_length=24)
    at: AwareDatetime | None = None


class ScanBatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scans: list[BatchScanIn] = Field(min_length=1, max_length=1000)


class CallActionOut(BaseModel):
    number: str = Field(description="The virtual number (E.164); it routes to the recipient until delivery "
                        "plus the grace period.")
    extension: str = Field(description="Four digits, dialled after the number connects.")
    dial: str = Field(description="What a phone dials in one go: the number, a pause, the extension.")
    expires_at: datetime | None


class CallOutcomeOut(BaseModel):
    started_at: datetime
    ended_at: datetime | None
    duration_s: int | None
    outcome: str


class ScanRecipientOut(BaseModel):
    name: str = Field(description="Masked: the surname only.")
    province: str
    city: str
    district: str
    address_detail: str | None = Field(description="Revealed through the gate (purpose delivery) to the "
                                       "courier who holds the delivery; absent from a `delivered` scan.")


class ScanOut(BaseModel):
    scan_id: uuid.UUID
    event: Event
    reason: str | None = None
    at: datetime
    shipment_id: uuid.UUID
    waybill_no: str | None
    status: str
    recipient: ScanRecipientOut | None = Field(default=None, description="For `delivery` and `delivered` only.")
    call: CallActionOut | None = Field(default=None, description="Call the recipient through this; null when "
                                       "the carrier has no virtual numbers, after delivery, and for network scans.")
    calls: list[CallOutcomeOut] = Field(default=[], description="Earlier calls through the virtual number: "
                                        "outcomes only.")
    log_index: int | None = Field(default=None, description="The gate's log entry of the reveal.")


class ScanResultOut(BaseModel):
    index: int
    status: int = Field(description="201 recorded, or the status the scan alone would have had (404, 409, 422).")
    scan: ScanOut | None = None
    problem: ItemProblemOut | None = None


class ScanBatchOut(BaseModel):
    recorded: int
    refused: int
    results: list[ScanResultOut]


class JourneyEventOut(BaseModel):
    at: datetime
    event: str = Field(description="accepted, arrived, departed, out_for_delivery, attempted, delivered, "
                       "exception (staff also see `delivery`, the label scanned to deliver).")
    reason: str | None
    city: str


class PublicRecipientOut(BaseModel):
    name: str = Field(description="Masked: the surname only.")
    city: str
    district: str


class TrackOut(BaseModel):
    """The same shape for every well-formed number, whether or not it names a parcel."""

    waybill_no: str
    status: str = Field(description="The parcel's status, or `no_record` for a number that names no parcel "
                        "(and for a wrong phone tail).")
    events: list[JourneyEventOut]
    recipient: PublicRecipientOut | None = Field(description="Only with the right `phone_tail`.")


class StationOut(BaseModel):
    id: uuid.UUID
    code: str
    name: str


class StaffEventOut(JourneyEventOut):
    station_id: uuid.UUID | None
    actor_id: uuid.UUID | None


class ItemSummaryOut(BaseModel):
    category: str
    quantity: int


class StaffRecipientOut(BaseModel):
    name: str = Field(description="Masked: the surname only.")
    phone_tail: str = Field(description="The last four digits only.")
    province: str
    city: str
    district: str


class ShipmentOut(BaseModel):
    """A shipment as staff see it: masked; plaintext only ever through the gate (`POST /reveals`)."""

    id: uuid.UUID
    waybill_no: str | None
    status: str
    sender_kind: str
    sender_name: str = Field(description="Masked.")
    recipient: StaffRecipientOut
    origin_station: StationOut
    destination_station: StationOut | None
    items: list[ItemSummaryOut]
    inspection_draw: str | None
    inspected: bool
    created_at: datetime
    delivered_at: datetime | None
    events: list[StaffEventOut]
