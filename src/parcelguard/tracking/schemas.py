"""API shapes of scans. A delivery scan answers the address detail and a virtual number to call: never
the recipient's phone, never a full name."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from parcelguard.tracking.service import Event


class ScanIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: str = Field(max_length=400, description="The label's QR code, as scanned.")
    event: Event = Field(default=Event.DELIVERY, description="`delivery`: scanned to deliver (the address is "
                         "revealed through the gate); `delivered`: handed over.")


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
    at: datetime
    shipment_id: uuid.UUID
    waybill_no: str | None
    status: str
    recipient: ScanRecipientOut
    call: CallActionOut | None = Field(description="Call the recipient through this; null when the carrier "
                                       "has no virtual numbers or after delivery.")
    calls: list[CallOutcomeOut] = Field(description="Earlier calls through the virtual number: outcomes only.")
    log_index: int | None = Field(description="The gate's log entry of the reveal.")
