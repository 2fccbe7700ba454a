"""API shapes for shipments' assignments. A shipment's personal fields never appear here: they come
out only through the gate (`POST /api/v1/reveals`)."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from parcelguard.shipments.service import Task


class AssignmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    courier_id: uuid.UUID
    task: Task


class AssignmentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    shipment_id: uuid.UUID
    courier_id: uuid.UUID
    task: Task
    opened_at: datetime
    closed_at: datetime | None
