"""API shapes for the gate, the log, cases, policy and alerts. Hashes and signatures in lowercase hex."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class RevealIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject: str = Field(max_length=200, examples=["shipment:0b7c2f0e-6a55-4f36-9d54-8f6a1c1f3b2a"])
    fields: list[str] = Field(min_length=1, max_length=16, examples=[["recipient_name", "recipient_address"]])
    purpose: str = Field(max_length=64, examples=["delivery"])
    case_id: uuid.UUID | None = None


class RevealOut(BaseModel):
    subject: str
    purpose: str
    case_id: uuid.UUID | None
    fields: dict[str, str]
    log_index: int


class TreeHeadOut(BaseModel):
    tree_size: int
    root_hash: str
    timestamp: int = Field(description="Milliseconds since the Unix epoch.")
    signature: str
    key_id: int


class EntryOut(BaseModel):
    index: int
    leaf_hash: str = Field(description="SHA-256(0x00 || canonical JSON of `entry`).")
    entry: dict[str, Any]


class EntriesPage(BaseModel):
    items: list[EntryOut]
    next_after: int | None = Field(description="Pass as `after` for the next page; null on the last.")


class InclusionProofOut(BaseModel):
    leaf_index: int
    tree_size: int
    leaf_hash: str
    proof: list[str]
    root_hash: str


class ConsistencyProofOut(BaseModel):
    first: int
    second: int
    proof: list[str]
    first_root: str
    second_root: str


class PublicKeysOut(BaseModel):
    keys: dict[str, str] = Field(description="Ed25519 public keys of the carrier's log, raw 32 bytes in hex, by key id.")


class CaseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reference: str = Field(max_length=64, examples=["SEC-2026-0042"])
    summary: str = Field(max_length=500, description="What is investigated; never personal data.")


class CaseOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    reference: str
    summary: str
    opened_by: uuid.UUID
    opened_at: datetime
    closed_by: uuid.UUID | None
    closed_at: datetime | None


class AlertOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    kind: str
    actor_id: uuid.UUID | None
    raised_at: datetime
    detail: dict[str, Any]
    audit_index: int | None
    acknowledged_by: uuid.UUID | None
    acknowledged_at: datetime | None


class RuleDoc(BaseModel):
    model_config = ConfigDict(extra="forbid", from_attributes=True)

    role: str
    purpose: str
    scope: str
    fields: list[str]
    requires_case: bool = False
    grace_seconds: int = 0


class LimitDoc(BaseModel):
    model_config = ConfigDict(extra="forbid", from_attributes=True)

    role: str
    period: str
    base: int
    per_assignment: int = 0


class PolicyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rules: list[RuleDoc] = Field(max_length=200)
    limits: list[LimitDoc] = Field(default_factory=list, max_length=200)


class PolicyOut(BaseModel):
    source: str = Field(description="`default` (the platform's) or `carrier` (this carrier's own set).")
    rules: list[RuleDoc]
    limits: list[LimitDoc]
