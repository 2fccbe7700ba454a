"""The platform's tables, on a declarative base of their own: its database holds only these.

Nothing here holds a document number or a name in clear: a record keeps its opened payload encrypted
at rest (`keys.PlatformKeys.encrypt_record`) and blind indexes of the document numbers in it; the lookup
log keeps a keyed digest of what an official asked, never the number.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from parcelguard.core.db import NAMING_CONVENTION, UTCDateTime


class PlatformBase(DeclarativeBase):
    """The platform's own metadata (never the carrier's `core.db.Base`): its migrations see only these."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime()}  # noqa: RUF012  (SQLAlchemy reads it from the class)


class RegisteredCarrier(PlatformBase):
    """A carrier the platform takes batches from. `id` is the carrier's own UUID, as its seal contexts
    name it (`parcelguard/realname/v1|<id>|...`); `code` is how its batches name it."""

    __tablename__ = "registered_carriers"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    registered_at: Mapped[datetime]


class CarrierKey(PlatformBase):
    """A carrier's Ed25519 key for signing batches; a carrier may hold several (rotation). A revoked key
    verifies nothing from then on. `revoked_by` is the official who revoked it on the console or the API,
    None when the platform's operator did at the command line (platform_0004); `revoke_reason` why."""

    __tablename__ = "carrier_keys"

    carrier_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("registered_carriers.id"), primary_key=True)
    key_id: Mapped[str] = mapped_column(String(16), primary_key=True)  # `crypto.signing.key_id(public_key)`
    public_key: Mapped[bytes] = mapped_column(LargeBinary(32))
    added_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    revoked_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("officials.id"))
    revoke_reason: Mapped[str | None] = mapped_column(String(200))


class ReceivedBatch(PlatformBase):
    """A batch as first received (sending it again changes nothing): its counts as first answered."""

    __tablename__ = "received_batches"
    # each key's newest batch, for the carriers' page (platform_0004)
    __table_args__ = (Index(None, "carrier_id", "key_id", "received_at"),)

    carrier_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("registered_carriers.id"), primary_key=True)
    batch_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    key_id: Mapped[str] = mapped_column(String(16))
    sent_at: Mapped[datetime]
    received_at: Mapped[datetime]
    record_count: Mapped[int] = mapped_column(Integer)
    accepted_count: Mapped[int] = mapped_column(Integer)


class ReceivedRecord(PlatformBase):
    """One real-name record (实名信息), stored once per (carrier, record id) whatever was sent again.

    `payload` is the opened `{doc_type, doc_number, name[, responsible]}` encrypted at rest;
    `document_index` and `responsible_index` are blind indexes of the document numbers (the
    responsible person's for an organisation), one key for both, so a lookup by number finds a person as
    a sender and as an organisation's responsible person. `record_digest` is the SHA-256 of the record as
    first sent (canonical JSON, seal included): a resend must match it.

    On PostgreSQL the table is partitioned by UTC month of `taken_at` (platform_0008, `partitions`), so the
    primary key holds `taken_at`: the carrier signs it with the record, so a resend carries the same value and
    is stored once; SQLite keeps one ordinary table with the same key.
    """

    __tablename__ = "received_records"
    __table_args__ = (
        # the batch it first arrived in, which names the carrier
        ForeignKeyConstraint(["carrier_id", "batch_id"],
                             ["received_batches.carrier_id", "received_batches.batch_id"]),
        Index(None, "waybill_no"),
        Index(None, "document_index"),
        Index(None, "responsible_index"),
        Index(None, "carrier_id", "received_at"),
        Index(None, "taken_at"),  # the figures' windows (platform_0002)
    )

    carrier_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    record_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    batch_id: Mapped[uuid.UUID]
    waybill_no: Mapped[str] = mapped_column(String(20))
    station: Mapped[str] = mapped_column(String(32))
    region: Mapped[str] = mapped_column(String(6))
    doc_type: Mapped[str] = mapped_column(String(32))
    taken_at: Mapped[datetime] = mapped_column(primary_key=True)  # the partition key (platform_0008)
    received_at: Mapped[datetime]
    document_index: Mapped[bytes] = mapped_column(LargeBinary(17))
    responsible_index: Mapped[bytes | None] = mapped_column(LargeBinary(17))
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    record_digest: Mapped[bytes] = mapped_column(LargeBinary(32))


# -- the regulator's officials and their lookups (platform_0002) --------------------------------------

class Official(PlatformBase):
    """A regulator official (邮政管理部门工作人员) who signs in to the platform: its own accounts, never the
    carrier platform's. Every official has the role `regulator`."""

    __tablename__ = "officials"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(200))  # Argon2id (`core.auth.hash_password`)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime]


class OfficialToken(PlatformBase):
    """An official's bearer token: only its SHA-256 digest is kept, so a database dump signs nobody in."""

    __tablename__ = "official_tokens"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    official_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("officials.id"), index=True)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    issued_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class OfficialLoginThrottle(PlatformBase):
    """Failed sign-ins per username (whether or not an official has it), so a lock holds across
    processes and does not tell which usernames exist."""

    __tablename__ = "official_login_throttle"

    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    last_failure_at: Mapped[datetime | None]
    locked_until: Mapped[datetime | None]


class LookupLogEntry(PlatformBase):
    """One lookup an official made (by waybill number or by document number), written before the answer.

    `query_digest` is HMAC-SHA256 of what was asked, in normalised form, under a key of the lookup log's
    own (`keys.PlatformKeys.lookup_digest`): the same person typed two ways is one digest, and the number
    itself is never stored. `entry_hash` chains the log: SHA-256 of the previous entry's hash and this
    entry's canonical content (`lookup_log.entry_content`), so an edited or deleted entry shows.
    """

    __tablename__ = "lookup_log"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)  # 0, 1, 2, ...
    at: Mapped[datetime]
    official_id: Mapped[uuid.UUID]  # no foreign key: the log outlives what it names
    username: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))  # waybill | document
    doc_type: Mapped[str | None] = mapped_column(String(32))  # the type asked for, if one was
    query_digest: Mapped[bytes] = mapped_column(LargeBinary(32))
    found: Mapped[int] = mapped_column(Integer)
    request_id: Mapped[str | None] = mapped_column(String(64))
    # Why the official looked: stated at the lookup, chained with the entry (None before purposes existed).
    purpose: Mapped[str | None] = mapped_column(String(200))
    entry_hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class LookupLogHead(PlatformBase):
    """The log's one head row: its size and newest hash, signed with the platform's signing key. Appenders
    lock it, so entries are appended one after another; it shows a deleted newest entry too."""

    __tablename__ = "lookup_log_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)  # always 1
    size: Mapped[int] = mapped_column(BigInteger)
    head_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    key_id: Mapped[str | None] = mapped_column(String(16))
    signature: Mapped[bytes | None] = mapped_column(LargeBinary(64))


# -- running totals for the officials' figures (platform_0005) -----------------------------------------

class RecordRollup(PlatformBase):
    """Records per carrier, UTC hour of intake (`taken_at`), station and region: `rollups` keeps it in the
    transaction that stores the records."""

    __tablename__ = "record_rollups"
    __table_args__ = (Index(None, "hour"),)

    carrier_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("registered_carriers.id"), primary_key=True)
    hour: Mapped[datetime] = mapped_column(primary_key=True)
    station: Mapped[str] = mapped_column(String(32), primary_key=True)
    region: Mapped[str] = mapped_column(String(6), primary_key=True)
    records: Mapped[int] = mapped_column(BigInteger)


class DelayRollup(PlatformBase):
    """Upload delays per carrier and UTC hour of intake as a histogram: records per bucket, the bucket being
    the delay in milliseconds rounded up to three significant digits (`rollups.bucket_ms`)."""

    __tablename__ = "delay_rollups"
    __table_args__ = (Index(None, "hour"),)

    carrier_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("registered_carriers.id"), primary_key=True)
    hour: Mapped[datetime] = mapped_column(primary_key=True)
    bucket_ms: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    records: Mapped[int] = mapped_column(BigInteger)


# -- carriers' incident reports (platform_0006) --------------------------------------------------------

class ReceivedIncidentReport(PlatformBase):
    """An incident report a carrier sent (`regulator.incident_protocol`), stored once per report id: counts
    only, no personal data. `body` is the canonical JSON the carrier signed (without its signature) and
    `signature` its Ed25519 signature, as they came, so an official or an auditor can verify the report
    again later; the columns beside them are what the console lists. `receipt` is the signed receipt as
    first answered (canonical JSON): a resend of the same report is answered with it again."""

    __tablename__ = "received_incident_reports"  # not `incident_reports`: the carrier's table of that name is its own
    __table_args__ = (Index(None, "carrier_id", "received_at"),)

    report_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    carrier_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("registered_carriers.id"))
    incident: Mapped[str] = mapped_column(String(40))  # the carrier's reference
    kind: Mapped[str] = mapped_column(String(64))  # what raised it: honeytoken, manual, ...
    reported_at: Mapped[datetime]
    received_at: Mapped[datetime]
    opened_at: Mapped[datetime]
    contained_at: Mapped[datetime | None]
    window_since: Mapped[datetime]
    window_until: Mapped[datetime]
    accounts: Mapped[int] = mapped_column(BigInteger)
    accounts_contained: Mapped[int] = mapped_column(BigInteger)
    reveals: Mapped[int] = mapped_column(BigInteger)
    subjects: Mapped[int] = mapped_column(BigInteger)
    denied: Mapped[int] = mapped_column(BigInteger)
    stations: Mapped[list[str]] = mapped_column(JSON)
    fields: Mapped[dict[str, Any]] = mapped_column(JSON)  # field name -> reveals
    actions: Mapped[list[str]] = mapped_column(JSON)  # `incident_protocol.REMEDY_ACTIONS` codes
    note: Mapped[str] = mapped_column(Text)
    summary: Mapped[str] = mapped_column(Text)
    key_id: Mapped[str] = mapped_column(String(16))  # the carrier key that signed it
    body: Mapped[bytes] = mapped_column(LargeBinary)
    signature: Mapped[bytes] = mapped_column(LargeBinary(64))
    receipt: Mapped[bytes] = mapped_column(LargeBinary)


# -- retention of the platform's own records (platform_0007) ------------------------------------------------

class RecordKey(PlatformBase):
    """The key a month's received records are encrypted under at rest (`keys.MONTH_FORMAT`), by the month the
    record was taken in (UTC), wrapped by a key derived from the platform's root key. Destroying it (the wrapped
    key gone, `destroyed_at` set) makes the month's payloads unreadable: the platform's crypto-shredding."""

    __tablename__ = "record_keys"
    __table_args__ = (Index(None, "period"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    period: Mapped[str] = mapped_column(String(16))
    wrapped_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]
    destroyed_at: Mapped[datetime | None]


class PlatformDestruction(PlatformBase):
    """A month of received records destroyed at the end of their retention: the canonical JSON body and the
    platform's Ed25519 signature (its receipt key) over it (`retention`)."""

    __tablename__ = "platform_destructions"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    period: Mapped[str] = mapped_column(String(16), index=True)
    created_at: Mapped[datetime]
    body: Mapped[bytes] = mapped_column(LargeBinary)
    signature: Mapped[bytes] = mapped_column(LargeBinary(64))
