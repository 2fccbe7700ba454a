"""API shapes for shipments' assignments. A shipment's personal fields never appear here: they come
out only through the gate (`POST /api/v1/reveals`)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from parcelguard.identity.schemas import DocumentIn
from parcelguard.shipments.service import Task


class AssignmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    courier_id: uuid.UUID
    task: Task = Field(default=Task.DELIVERY, description="delivery (the default) or pickup")


class AssignmentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    shipment_id: uuid.UUID
    courier_id: uuid.UUID
    task: Task
    opened_at: datetime
    closed_at: datetime | None


# -- intake ---------------------------------------------------------------------------------------

class SenderIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    document: DocumentIn | None = Field(default=None, description="Typed at pickup; or give realname_token.")
    realname_token: str | None = Field(default=None, max_length=400,
                                       description="The sender's real-name QR, scanned: name and phone come with it.")
    phone: str | None = Field(default=None, max_length=32, description="Needed with a typed document, and "
                              "from a contract customer (the contact's phone).")
    address: str = Field(max_length=200)
    name: str | None = Field(default=None, max_length=64, description="A contract customer's contact person "
                             "(the organisation's name when left out); walk-in senders' names come with their "
                             "document or QR.")


class AddressIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    province: str = Field(max_length=32)
    city: str = Field(max_length=32)
    district: str = Field(max_length=32)
    detail: str = Field(max_length=200)


class RecipientIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=64)
    phone: str = Field(max_length=32)
    address: AddressIn


class ItemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: str = Field(max_length=200)
    category: str = Field(pattern=r"^[a-z][a-z_]{0,31}$", examples=["clothing"])
    quantity: int = Field(ge=1, le=10_000)
    declared_value_cents: int = Field(default=0, ge=0, le=10**11)


class InspectionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    inspected: bool = Field(description="The courier opened and checked the parcel (开箱验视). Photos "
                            "taken at it go as `photos` parts of a multipart/form-data request.")


class IntakeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sender: SenderIn
    recipient: RecipientIn
    items: list[ItemIn] = Field(min_length=1, max_length=100)
    inspection: InspectionIn = InspectionIn(inspected=False)
    destination_station_id: uuid.UUID | None = None
    reference: str | None = Field(
        default=None, pattern=r"^[\x21-\x7e]{1,64}$", description="A contract customer's own id for the parcel (its "
        "order number; printable ASCII, no spaces): a parcel sent again with a reference the customer used before "
        "is not taken in twice; the answer is the parcel taken in before (status 200 in a batch's results).")


class MaskedSenderOut(BaseModel):
    name: str = Field(description="Masked: the surname only.")
    document_type: str
    document: str = Field(description="Masked document number.")


class MaskedRecipientOut(BaseModel):
    name: str = Field(description="Masked: the surname only.")
    province: str
    city: str
    district: str


class IntakeOut(BaseModel):
    id: uuid.UUID
    waybill_no: str
    sender: MaskedSenderOut
    recipient: MaskedRecipientOut
    inspection_draw: Literal["random", "restricted"] | None = Field(
        default=None, description="A contract customer's parcel drawn for inspection at pickup: at random "
        "(the agreement's share) or because an item is restricted. None for walk-in parcels (inspected at intake).")
    photos: int = Field(default=0, description="Inspection photos stored (encrypted).")
    reference: str | None = Field(default=None, description="The contract customer's own id for the parcel.")
    status: str = Field(default="accepted", description="The parcel's status (`accepted` when just taken in; a "
                        "parcel answered again by its reference has its current one, e.g. `cancelled`).")


class BatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    shipments: list[dict[str, Any]] = Field(
        min_length=1, max_length=1000, description="Up to 1,000 parcels, each in the shape of "
        "`POST /api/v1/shipments`; each is checked on its own.")


class ItemProblemOut(BaseModel):
    code: str
    detail: str
    errors: list[dict[str, str]] = Field(default_factory=list, description="`{pointer, code, detail}`, the "
                                         "pointer relative to the parcel.")


class BatchResultOut(BaseModel):
    index: int
    status: int = Field(description="201 taken in; 200 taken in before under the same `reference` (nothing new "
                        "written); or the status the parcel alone would have had (422, ...).")
    shipment: IntakeOut | None = None
    problem: ItemProblemOut | None = None


class BatchOut(BaseModel):
    accepted: int
    refused: int
    results: list[BatchResultOut]


class InspectionRecordIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    passed: bool = Field(description="False: the parcel holds what may not be sent, and is refused.")


class InspectionOut(BaseModel):
    shipment_id: uuid.UUID
    status: str
    inspected_at: datetime
    photos: int
