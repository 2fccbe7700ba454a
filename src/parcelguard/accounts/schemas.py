"""API shapes for accounts."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from parcelguard.core.auth import Role


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_at: datetime
    terminal_id: uuid.UUID | None = None


class MeOut(BaseModel):
    id: uuid.UUID
    username: str
    role: Role
    carrier_id: uuid.UUID | None
    station_id: uuid.UUID | None
    terminal_id: uuid.UUID | None


class StationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    code: str
    name: str
    region_code: str


class TerminalIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    serial: str = Field(min_length=3, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$",
                        description="The device's serial number or IMEI-free hardware id.")
    label: str = Field(min_length=1, max_length=200)
    station_id: uuid.UUID | None = Field(default=None, description="Required for HQ roles; a manager's own station otherwise.")


class TerminalOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    station_id: uuid.UUID
    serial: str
    label: str
    registered_at: datetime
    revoked_at: datetime | None
    printer: str | None = Field(default=None, description="The networked thermal printer (ZPL, raw TCP) it prints "
                                "labels on, `host:port`.")


class PrinterIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    address: str | None = Field(max_length=64, description="`host[:port]`, an IP address of the station's own "
                                "network (port 9100 unless given); null: no printer.")


class CarrierSettingsOut(BaseModel):
    refuse_courier_own_id: bool = Field(description="Refuse an intake whose sender document is the taking "
                                        "courier's own (the alert `courier_own_id` is raised either way).")
    blacklist_policy: Literal["refuse", "flag"] = Field(
        description="Staff whose document the industry blacklist lists: `refuse` (409 `staff_blacklisted`, and "
                    "503 `blacklist_unreachable` when it cannot be asked) or `flag` (registered, alert "
                    "`staff_blacklisted` or `staff_blacklist_unchecked`).")
    obligations_required: bool = Field(
        description="No reveal without a confidentiality agreement and a training in force (`reveal_denied`, "
                    "reason `obligations_missing`). On for carriers made since this was built; older carriers "
                    "turn it on once their staff's documents are on record.")


class CarrierSettingsPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    refuse_courier_own_id: bool | None = None
    blacklist_policy: Literal["refuse", "flag"] | None = None
    obligations_required: bool | None = None
