"""API shapes for identity: the courier QR and its public check, the sender's real-name QR."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


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


class DocumentIn(BaseModel):
    """An identity document as a person gives it: a sender at intake or registration, an organisation's
    responsible person."""

    model_config = ConfigDict(extra="forbid")

    type: str | None = Field(default=None, max_length=32, description="Document type; detected from the number "
                             "when left out (see docs/intake.md).", examples=["resident_id"])
    number: str = Field(max_length=40)
    name: str = Field(max_length=64, description="The name on the document.")


class RegistrationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    document: DocumentIn
    phone: str = Field(max_length=32)


class RefreshIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    refresh_secret: str = Field(max_length=100)


class CodeSentOut(BaseModel):
    registration_id: uuid.UUID
    status: Literal["code_sent"] = Field(description="A one-time code went to the phone by SMS; give it to "
                                                     "`.../realname/{registration_id}/verify`.")
    code_expires_at: int = Field(description="POSIX seconds: the code is refused (`otp_expired`) from then.")
    resend_at: int = Field(description="POSIX seconds: `.../realname/{registration_id}/code` sends another "
                                       "no sooner (`otp_too_soon`).")


class ResendIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    phone: str = Field(max_length=32, description="The phone number given at registration: another code goes "
                                                  "only there.")


class CodeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(max_length=16, description="The six digits of the SMS; spaces are ignored.",
                      examples=["123456"])


class RealNameTokenOut(BaseModel):
    registration_id: uuid.UUID
    token: str = Field(description="Show it as a QR code; valid 10 minutes; no personal data in it.")
    expires_at: int
    refresh_secret: str | None = Field(default=None, description="Given once, when the phone is proved: keep "
                                                                 "it to fetch fresh tokens.")


class StaffDocumentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: str | None = Field(default=None, max_length=32, examples=["resident_id"])
    number: str = Field(max_length=40, description="Kept only as a blind index; never shown again.")
