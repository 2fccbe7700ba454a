"""API shapes for virtual numbers: the telephony provider's call routing and call records, a courier's
view of the calls to a parcel, and the pool. No shape a courier or the pool admin reads carries a
recipient's or a caller's number."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

Phone = Annotated[str, Field(min_length=3, max_length=32, description="A virtual number, E.164: +8657112345678")]
Extension = Annotated[str, Field(pattern=r"^\d{4}$", description="The 4-digit extension, 0000-9999")]
CallId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$",
                              description="The provider's id of the call")]


class RouteIn(BaseModel):
    """What the provider sends when someone dials a virtual number and keys an extension."""

    model_config = ConfigDict(extra="ignore")

    called: Phone
    extension: Extension
    caller: str | None = Field(default=None, max_length=32,
                               description="The caller's number: accepted, never stored or logged, not used.")
    call_id: CallId | None = None


class RouteOut(BaseModel):
    action: Literal["connect"] = "connect"
    target: str = Field(description="The recipient's real number (E.164): connect the call to it, keep it nowhere.")
    binding: uuid.UUID = Field(description="The binding's id (opaque), as the call record may name it.")
    expires_at: datetime | None = Field(description="When the pair stops routing (null until delivery).")


class CallRecordIn(BaseModel):
    """The provider's record of a call, pushed once it ended (again, if unsure it arrived)."""

    model_config = ConfigDict(extra="ignore")

    call_id: CallId
    called: Phone
    extension: Extension
    started_at: AwareDatetime
    ended_at: AwareDatetime | None = None
    outcome: Literal["answered", "busy", "no_answer", "powered_off", "unreachable", "number_invalid"]


class CallRecordOut(BaseModel):
    stored: bool = Field(description="true the first time (201); false for a call id already stored (200).")


class CallOutcomeOut(BaseModel):
    started_at: datetime
    ended_at: datetime | None
    duration_s: int | None
    outcome: str


class ShipmentCallsOut(BaseModel):
    shipment_id: uuid.UUID
    calls: list[CallOutcomeOut]


class PoolIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    numbers: list[str] = Field(min_length=1, max_length=1000, description="E.164 numbers to add to the pool")


class PoolNumberOut(BaseModel):
    number: str
    active: bool
    added_at: datetime
    live_bindings: int = Field(description="Extensions bound to a live shipment (of 10,000)")
    free: int


class PoolOut(BaseModel):
    added: list[str] = Field(default_factory=list, description="Numbers this request added (POST)")
    numbers: list[PoolNumberOut]


class SecretRotationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    overlap_hours: int = Field(default=24, ge=0, le=168,
                               description="How long the replaced secret keeps working, so the provider can "
                                           "switch without dropping calls (0 to 168; 0 when it leaked)")


class SecretGenerationOut(BaseModel):
    generation: int
    created_at: datetime | None = Field(description="None for generation 0, the carrier's first secret")
    retires_at: datetime | None = Field(description="None for the current secret")


class ProviderSecretOut(BaseModel):
    """Which provider secrets work now. The secrets themselves are shown once, when made."""

    current: SecretGenerationOut
    previous: SecretGenerationOut | None = Field(description="The replaced secret, while its overlap lasts")


class SecretRotationOut(ProviderSecretOut):
    secret: str = Field(description="The new secret (64 hex digits): give it to the telephony provider. "
                                    "It is not shown again; `parcelguard numbers secret` prints it on the server.")
