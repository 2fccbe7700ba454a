"""API shapes of the officials' side of the platform: sign-in, figures, lookups and their log, carriers and
their keys."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from parcelguard.core.auth import Role
from parcelguard.regulator.platform import carriers, lookup_log
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


# -- carriers and their keys ---------------------------------------------------------------------------

class BatchSeenOut(BaseModel):
    """The newest batch, as first received."""

    batch_id: uuid.UUID
    key_id: str
    received_at: datetime
    records: int = Field(description="Records in the batch")
    accepted: int = Field(description="Of them accepted")

    @classmethod
    def of(cls, batch: carriers.BatchSeen | None) -> BatchSeenOut | None:
        if batch is None:
            return None
        return cls(batch_id=batch.batch_id, key_id=batch.key_id, received_at=batch.received_at,
                   records=batch.records, accepted=batch.accepted)


class RevokedByOut(BaseModel):
    id: uuid.UUID
    username: str
    display_name: str


class CarrierKeyOut(BaseModel):
    key_id: str = Field(description="16 hex digits: the start of the SHA-256 of the Ed25519 public key")
    added_at: datetime = Field(description="When it was registered")
    active: bool = Field(description="Not revoked: batches it signs are taken in")
    revoked_at: datetime | None
    revoked_by: RevokedByOut | None = Field(description="The official who revoked it; null for a key in force "
                                            "or one the platform's operator revoked at the command line")
    revoke_reason: str | None
    last_batch: BatchSeenOut | None = Field(description="The newest batch signed with it")

    @classmethod
    def of(cls, key: carriers.KeyView) -> CarrierKeyOut:
        by = key.revoked_by
        return cls(key_id=key.key_id, added_at=key.added_at, active=key.active, revoked_at=key.revoked_at,
                   revoked_by=RevokedByOut(id=by.official_id, username=by.username, display_name=by.display_name)
                   if by else None, revoke_reason=key.revoke_reason, last_batch=BatchSeenOut.of(key.last_batch))


class CarrierOut(BaseModel):
    code: str = Field(description="How the carrier's batches name it")
    name: str
    carrier_id: uuid.UUID = Field(description="The carrier's own UUID, as its seal contexts name it")
    registered_at: datetime
    active_keys: int = Field(description="Keys in force; at 0 the carrier cannot upload until a new key is "
                                         "registered")
    last_batch: BatchSeenOut | None = Field(description="The newest batch of the carrier, with any key")
    keys: list[CarrierKeyOut] = Field(description="Keys in force first (newest first), then revoked ones")

    @classmethod
    def of(cls, carrier: carriers.CarrierView) -> CarrierOut:
        return cls(code=carrier.code, name=carrier.name, carrier_id=carrier.carrier_id,
                   registered_at=carrier.registered_at, active_keys=carrier.active_keys,
                   last_batch=BatchSeenOut.of(carrier.last_batch), keys=[CarrierKeyOut.of(k) for k in carrier.keys])


class CarriersOut(BaseModel):
    carriers: list[CarrierOut]


class RevokeKeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(description="Why, 2 to 200 characters (white space folded), else 422 `reason_format`; "
                                    "kept with the revocation")


class RevocationOut(BaseModel):
    carrier: str = Field(description="The carrier's code")
    active_keys: int = Field(description="Keys the carrier still holds in force; at 0 it cannot upload")
    key: CarrierKeyOut
