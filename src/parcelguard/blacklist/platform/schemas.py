"""API shapes of the blacklist's answers. Requests are parsed by `blacklist.protocol` (their signature covers
their exact members), so only answers are models here."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field


class ReportOut(BaseModel):
    entry_id: uuid.UUID = Field(description="The reporting carrier's id for the entry, as sent")
    status: Literal["listed", "removed"] = Field(description="`removed` only for a report sent again after an "
                                                             "appeal removed its entry")
    received_at: datetime


class QueryOut(BaseModel):
    """Listed or not: never who reported, never why, never when."""

    listed: bool
