"""API shapes of the officials' side of the platform: sign-in, figures, lookups and their log."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from parcelguard.core.auth import Role
from parcelguard.regulator.platform import lookup_log
from parcelguard.regulator.platform.figures import Delays
from parcelguard.regulator.platform.service import FoundRecord


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_at: datetime


class MeOut(BaseModel):
    id: uuid.UUID
    username: str
    display_name: str
    role: Role


class CountRowOut(BaseModel):
    key: str = Field(description="The carrier's code, the station's code, the region code (GB/T 2260) or the "
                                 "Beijing day (YYYY-MM-DD)")
    carrier: str | None = Field(default=None, description="By station only: the station's carrier")
    records: int


class CountsOut(BaseModel):
    by: Literal["carrier", "station", "region", "day"]
    since: datetime
    until: datetime
    rows: list[CountRowOut]


class DelayOut(BaseModel):
    """Upload delays (received_at - taken_at) in seconds, nearest-rank percentiles; null when count is 0."""

    count: int
    p50: float | None
    p90: float | None
    p99: float | None
    max: float | None

    @classmethod
    def of(cls, delays: Delays) -> DelayOut:
        return cls(count=delays.count, p50=delays.p50, p90=delays.p90, p99=delays.p99, max=delays.max)


class CarrierDelayOut(DelayOut):
    carrier: str = Field(description="The carrier's code")

    @classmethod
    def of(cls, delays: Delays) -> CarrierDelayOut:
        return cls(carrier=delays.carrier or "", **DelayOut.of(delays).model_dump())


class DelaysOut(BaseModel):
    since: datetime
    until: datetime
    unit: Literal["seconds"] = "seconds"
    carriers: list[CarrierDelayOut]
    overall: DelayOut


class DocumentLookupIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    doc_type: str | None = Field(default=None, max_length=32,
                                 description="resident_id, uscc, ...; taken from the number's shape when left out")
    number: str = Field(min_length=1, max_length=64, description="As typed: spaces, a lower-case x, full-width "
                                                                 "digits and a 15-digit ID are fine")
    purpose: str | None = Field(default=None, max_length=200, description="Why: written to the lookup log "
                                "with the query (the console requires it)")


class PersonOut(BaseModel):
    doc_type: str
    doc_number: str
    name: str


class PayloadOut(PersonOut):
    """What the carrier sealed to the regulator: the sender's document, and an organisation's responsible
    person."""

    responsible: PersonOut | None = None


class RecordOut(BaseModel):
    carrier: str
    record_id: uuid.UUID
    waybill_no: str
    station: str
    region: str
    doc_type: str
    taken_at: datetime
    received_at: datetime
    payload: PayloadOut

    @classmethod
    def of(cls, record: FoundRecord) -> RecordOut:
        return cls(carrier=record.carrier, record_id=record.record_id, waybill_no=record.waybill_no,
                   station=record.station, region=record.region, doc_type=record.doc_type,
                   taken_at=record.taken_at, received_at=record.received_at,
                   payload=PayloadOut.model_validate(record.payload))


class LookupOut(BaseModel):
    lookup: int = Field(description="The sequence number of this lookup's entry in the lookup log")
    found: int = Field(description="How many records matched (all of them, even when `truncated`)")
    truncated: bool = Field(description="More matched than are answered (the newest 1,000 are)")
    records: list[RecordOut]


class LookupEntryOut(BaseModel):
    seq: int
    at: datetime
    official_id: uuid.UUID
    username: str
    kind: Literal["waybill", "document"]
    doc_type: str | None
    query_digest: str = Field(description="HMAC-SHA256 of what was asked (hex); never the number")
    found: int
    request_id: str | None
    purpose: str | None = Field(default=None, description="The purpose stated at the lookup")
    entry_hash: str = Field(description="SHA-256 of the previous entry's hash and this entry's content (hex)")

    @classmethod
    def of(cls, entry: lookup_log.EntryView) -> LookupEntryOut:
        return cls(seq=entry.seq, at=entry.at, official_id=entry.official_id, username=entry.username,
                   kind=entry.kind, doc_type=entry.doc_type, query_digest=entry.query_digest.hex(),
                   found=entry.found, request_id=entry.request_id, purpose=entry.purpose,
                   entry_hash=entry.entry_hash.hex())


class LookupHeadOut(BaseModel):
    size: int
    head_hash: str = Field(description="The newest entry's hash (hex); 64 zeros for an empty log")
    key_id: str | None
    signature: str | None = Field(description="Ed25519 (base64) over `lookup-log-head/v1` + `size|head_hash`")


class LookupsOut(BaseModel):
    head: LookupHeadOut
    entries: list[LookupEntryOut]
