"""API shapes of webhooks. A secret appears only in the answer that creates or rotates it."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class EndpointIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(max_length=500, description="Where to POST notices: an https URL.")


class EndpointOut(BaseModel):
    id: uuid.UUID
    url: str
    events: list[str] = Field(description="What it is sent: `shipment.status_changed`.")
    created_at: datetime


class EndpointSecretOut(EndpointOut):
    secret: str = Field(description="Shown once: verify `X-Parcelguard-Signature: t=<unix>,v1=<hex>` as "
                        "HMAC-SHA256(secret, \"<t>.\" + body) and refuse a `t` older than 5 minutes.")


class DeliveryOut(BaseModel):
    id: uuid.UUID
    event: str
    shipment_id: uuid.UUID
    status: str = Field(description="pending, delivered or failed.")
    attempts: int
    last_status_code: int | None
    last_error: str | None = Field(description="timeout, connect_failed, address_private, http_<status>, "
                                   "endpoint_disabled.")
    created_at: datetime
    last_attempt_at: datetime | None
    next_attempt_at: datetime | None = Field(description="When the next attempt is due, while pending.")
    delivered_at: datetime | None
