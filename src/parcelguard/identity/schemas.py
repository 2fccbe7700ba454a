"""API shapes for identity: the courier QR and its public check."""

from __future__ import annotations

from pydantic import BaseModel, Field


class CourierTokenOut(BaseModel):
    token: str = Field(description="Opaque, signed, short-lived; show it as a QR code (alphanumeric mode).")
    expires_at: int = Field(description="POSIX seconds.")


class CourierCheckOut(BaseModel):
    genuine: bool
    reason: str | None = Field(description="Why not genuine: token_format, token_signature, token_kind, "
                                           "token_expired, token_not_yet_valid, courier_unknown, courier_inactive.")
    carrier: str | None
    station: str | None
    courier: str | None = Field(description="The courier's name, masked (surname only).")
    status: str | None
