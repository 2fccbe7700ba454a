"""API shapes of the carrier's reports to the industry blacklist."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from parcelguard.blacklist.protocol import Reason


class ReportIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: uuid.UUID = Field(description="The staff member's account; their document must be on file")
    reason_code: Reason = Field(description="Why, from the fixed list")
    evidence_ref: str = Field(min_length=1, max_length=64,
                              description="A case id or a reference of the carrier's own (ASCII letters, digits, "
                                          "`._:/#-`); never personal data: no run of 11 or more digits")


class ReportOut(BaseModel):
    entry_id: uuid.UUID = Field(description="The entry's id on the blacklist")
    user_id: uuid.UUID
    reason_code: Reason
    evidence_ref: str
    reported_at: datetime
    status: Literal["listed", "removed"] = Field(description="The blacklist's answer")
    log_index: int = Field(description="The carrier's audit log entry of the report and its answer")
