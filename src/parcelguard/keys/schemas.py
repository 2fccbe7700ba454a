"""API shapes for a carrier's keys: ids, versions, states and counts; never key material."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from parcelguard.keys import service


class KekVersionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    version: int
    state: str = Field(description="`primary` (wraps new data keys), `active` (unwraps only), `disabled`, "
                                   "`destroyed`.")
    created_at: datetime
    data_keys: int = Field(description="Live data keys this version wraps.")


class DataKeysOut(BaseModel):
    total: int = Field(description="Live data keys (wrapped, not destroyed).")
    primary: int = Field(description="Live data keys under the primary version.")
    older: int = Field(description="Live data keys under an older version: what re-wrapping has left to do.")
    destroyed: int = Field(description="Data keys destroyed (crypto-shredding).")
    rewrap_progress: float = Field(ge=0, le=1, description="primary / total; 1 when there are none.")

    @classmethod
    def of(cls, counts: service.DataKeyCounts) -> DataKeysOut:
        return cls(total=counts.total, primary=counts.primary, older=counts.older, destroyed=counts.destroyed,
                   rewrap_progress=counts.progress)


class SigningKeyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    purpose: str
    key_id: int
    version: int
    state: str
    created_at: datetime


class IndexKeyOut(BaseModel):
    version: int
    created_at: datetime


class KeysOut(BaseModel):
    primary_version: int
    versions: list[KekVersionOut] = Field(description="Key-encryption key versions, oldest first.")
    data_keys: DataKeysOut
    index_key: IndexKeyOut | None = Field(description="The blind-index key: it does not rotate with the KEKs.")
    signing_keys: list[SigningKeyOut]

    @classmethod
    def of(cls, o: service.Overview) -> KeysOut:
        index = (IndexKeyOut(version=o.index_key_version, created_at=o.index_key_created_at)
                 if o.index_key_version is not None and o.index_key_created_at is not None else None)
        return cls(primary_version=o.primary_version,
                   versions=[KekVersionOut.model_validate(v) for v in o.versions],
                   data_keys=DataKeysOut.of(o.data_keys), index_key=index,
                   signing_keys=[SigningKeyOut.model_validate(k) for k in o.signing_keys])


class RotatedOut(BaseModel):
    version: int = Field(description="The new primary version.")
    log_index: int = Field(description="The audit-log entry that records the rotation.")


class RewrapIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: int = Field(default=service.DEFAULT_BATCH, ge=1, le=service.MAX_BATCH,
                       description="At most this many data keys in this call.")


class RewrappedOut(BaseModel):
    rewrapped: int = Field(description="Data keys re-wrapped by this call.")
    version: int = Field(description="The primary version they are wrapped under now.")
    data_keys: DataKeysOut = Field(description="After this call.")
    log_index: int | None = Field(description="The audit-log entry that records this batch; null when there was "
                                              "nothing to re-wrap (nothing is logged).")
