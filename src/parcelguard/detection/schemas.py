"""API shapes for detection: thresholds, runs and what they found, departure reports. Counts, statistics, ids and
times only: no personal data."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from parcelguard.detection import thresholds
from parcelguard.detection.baselines import Finding
from parcelguard.detection.service import RunResult

ThresholdsDoc = thresholds.Thresholds  # the body of PUT /detection/settings, every knob with its bounds


class SettingsOut(BaseModel):
    source: str = Field(description="`default` (the thresholds in code) or `carrier` (the carrier's own set).")
    updated_at: datetime | None = Field(description="When the carrier's set was last replaced; null for defaults.")
    thresholds: ThresholdsDoc

    @classmethod
    def of(cls, found: thresholds.Effective) -> SettingsOut:
        return cls(source=found.source, updated_at=found.updated_at, thresholds=found.thresholds)


class RunIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    hours: int | None = Field(default=None, ge=1, le=168,
                              description="The window, ending now; the carrier's `window_hours` when omitted.")


class FindingOut(BaseModel):
    kind: str = Field(description="The alert kind: `reveal_volume_outlier`, `untasked_bulk_reads`, "
                                  "`off_shift_reveals`, `denied_reveals`, `tracking_enumeration`.")
    actor_id: uuid.UUID | None = Field(description="The account it is about; null for a public lookup client.")
    dedupe_key: str = Field(description="One alert per rule, account (or client digest) and Beijing day.")
    new: bool = Field(description="Raised by this run (false: alerted before).")
    audit_index: int | None = Field(description="The account's newest entry in the window.")
    detail: dict[str, Any] = Field(description="Counts, robust statistics and the thresholds judged by.")

    @classmethod
    def of(cls, finding: Finding, new: bool) -> FindingOut:
        return cls(kind=finding.kind, actor_id=finding.actor_id, dedupe_key=finding.dedupe_key, new=new,
                   audit_index=finding.audit_index, detail=finding.detail)


class RunOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    trigger: str = Field(description="`schedule`, `command_line` or `api`.")
    started_at: datetime
    window_start: datetime
    window_end: datetime
    history_start: datetime
    actors: int = Field(description="Accounts with entries in the window.")
    findings: int
    alerts_raised: int = Field(description="New alerts; a finding alerted before is not raised again.")
    duration_ms: int


class RunDoneOut(RunOut):
    found: list[FindingOut]

    @classmethod
    def of(cls, result: RunResult) -> RunDoneOut:
        raised = {f.dedupe_key for f in result.raised}
        return cls(**RunOut.model_validate(result.run).model_dump(),
                   found=[FindingOut.of(f, f.dedupe_key in raised) for f in result.findings])


class DepartureOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    user_id: uuid.UUID
    role: str
    retired_by: uuid.UUID | None
    created_at: datetime
    period_start: datetime
    period_end: datetime
    entries: int = Field(description="Every entry of theirs in the period: reveals, refusals, changes.")
    reveals: int = Field(description="Allowed reveals of parcels.")
    distinct_subjects: int = Field(description="Distinct parcels revealed.")
    denied: int = Field(description="Refused reveals.")
    off_shift: int = Field(description="Reveals outside the shift their own 90 days show.")
    untasked: int = Field(description="Reveals of parcels they held no task for.")
    last_index: int | None = Field(description="Their newest entry in the period.")


class DepartureDetailOut(DepartureOut):
    breakdown: dict[str, Any] = Field(description="`by_purpose` (allow/deny counts), `by_day` (Beijing days, by "
                                                  "purpose), `reveals_by_hour` (Beijing hours), `shift_hours`.")
