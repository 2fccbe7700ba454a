"""API shapes for printing labels and resolving found ones."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from parcelguard.waybills.labels import Layout


class LabelFormat(StrEnum):
    PDF = "pdf"
    ZPL = "zpl"
    PNG = "png"


class BatchFormat(StrEnum):
    PDF = "pdf"
    ZPL = "zpl"


class LabelBatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    shipment_ids: list[uuid.UUID] = Field(min_length=1, max_length=500)
    layout: Layout = Layout.TWO_PART
    format: BatchFormat = BatchFormat.PDF


class ResolveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    case_id: uuid.UUID = Field(description="The open investigation case this lookup belongs to.")
    waybill_no: str | None = Field(default=None, max_length=64, description="Printed on the found label.")
    label_token: str | None = Field(default=None, max_length=400,
                                    description="Decoded from the found label's QR code (any age).")
    fields: list[str] | None = Field(default=None, description="The fields to read; all the policy grants if "
                                     "left out.")


class ResolvedOut(BaseModel):
    shipment_id: uuid.UUID
    waybill_no: str | None
    status: str
    created_at: datetime
    origin_station_id: uuid.UUID
    destination_station_id: uuid.UUID | None
    fields: dict[str, str] = Field(description="Revealed through the gate, purpose investigation.")
    log_index: int
