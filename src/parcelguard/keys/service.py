"""A carrier's keys as its HQ security officer manages them (issue 13): which key-encryption key (KEK) versions
exist and how many data keys each wraps, how far re-wrapping has come after a rotation, the blind-index and
signing keys; rotating the KEK and re-wrapping data keys in batches. Ids and counts only: no key material
leaves `crypto.keyring`.

Every rotation and every batch re-wrapped is an entry of the carrier's tamper-evident log
(`audit.service.log_event`): subject `keys:kek:v<new version>`, purpose `key_rotate`; subject
`keys:rewrapped:<count>:to:v<primary version>`, purpose `key_rewrap`. From the command line the entry's actor is
empty and its role `command_line`. Knows nothing of HTTP.

Reads the key tables of `crypto/` directly: crypto is no domain with a service of its own, and it may import no
domain, so the carrier-facing view of its tables lives here.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from parcelguard.accounts import service as accounts
from parcelguard.audit import service as audit
from parcelguard.core.auth import Actor, Role
from parcelguard.core.errors import Conflict, DomainError, Forbidden, NotFound
from parcelguard.crypto.keyring import PRIMARY, Keyring
from parcelguard.crypto.models import DataKey, IndexKey, KeyEncryptionKey, SigningKey

READERS = frozenset({Role.HQ_SECURITY, Role.AUDITOR, Role.ADMIN})
# HQ security rotates (issue 13); the carrier's admin too, as it rotates the telephony provider's secret.
KEEPERS = frozenset({Role.HQ_SECURITY, Role.ADMIN})
DEFAULT_BATCH = 500
MAX_BATCH = 10_000
ROTATE, REWRAP = "key_rotate", "key_rewrap"


@dataclass(frozen=True)
class KekVersion:
    version: int
    state: str  # primary | active | disabled | destroyed
    created_at: datetime
    data_keys: int  # live data keys it wraps


@dataclass(frozen=True)
class SigningKeyInfo:
    purpose: str
    key_id: int
    version: int
    state: str
    created_at: datetime


@dataclass(frozen=True)
class DataKeyCounts:
    total: int  # live: wrapped and not destroyed
    primary: int  # live, under the primary version
    older: int  # live, under an older version: what re-wrapping has left to do
    destroyed: int  # crypto-shredded

    @property
    def progress(self) -> float:
        """The share of live data keys under the primary version (1.0 when there are none)."""
        return 1.0 if self.total == 0 else self.primary / self.total


@dataclass(frozen=True)
class Overview:
    versions: list[KekVersion]  # oldest first
    primary_version: int
    data_keys: DataKeyCounts
    index_key_version: int | None
    index_key_created_at: datetime | None
    signing_keys: list[SigningKeyInfo]


@dataclass(frozen=True)
class Rotated:
    version: int
    log_index: int


@dataclass(frozen=True)
class Rewrapped:
    count: int
    version: int  # the primary version they are wrapped under now
    data_keys: DataKeyCounts  # after this batch
    log_index: int | None  # None when there was nothing to re-wrap (nothing is logged)


def overview(*, db_session: Session, actor: Actor) -> Overview:
    """The carrier's keys for an HQ security officer, an auditor or an admin."""
    return _overview(db_session, _carrier(actor, READERS))


def rotate(*, db_session: Session, keyring: Keyring, actor: Actor, request_id: str | None = None) -> Rotated:
    """A new KEK version becomes primary: new data keys are wrapped under it at once. Logged."""
    return _rotate(db_session, keyring, _carrier(actor, KEEPERS), actor, request_id)


def rewrap(*, db_session: Session, keyring: Keyring, actor: Actor, limit: int = DEFAULT_BATCH,
           request_id: str | None = None) -> Rewrapped:
    """Re-wrap up to `limit` of the carrier's data keys under older versions to the primary one (one batch, in
    the caller's transaction: commit it, then ask for the next). Logged when it re-wrapped any."""
    return _rewrap(db_session, keyring, _carrier(actor, KEEPERS), actor, limit, request_id)


# -- from the command line (an operator with the root key, no account) ---------------------------------------

def rotate_from_command_line(*, db_session: Session, keyring: Keyring, carrier_id: uuid.UUID) -> Rotated:
    return _rotate(db_session, keyring, carrier_id, None, None)


def rewrap_from_command_line(*, db_session: Session, keyring: Keyring, carrier_id: uuid.UUID,
                             limit: int = DEFAULT_BATCH) -> Rewrapped:
    """One batch of `carrier_id`'s data keys, logged in its log if it is a carrier (key owners that are not, such
    as a test's, have no log and are re-wrapped unlogged)."""
    try:
        accounts.get_carrier(db_session=db_session, carrier_id=carrier_id)
    except DomainError:
        count = keyring.rewrap(db_session=db_session, carrier_id=carrier_id, limit=limit)
        return Rewrapped(count=count, version=_primary_version(db_session, carrier_id),
                         data_keys=_counts(db_session, carrier_id), log_index=None)
    return _rewrap(db_session, keyring, carrier_id, None, limit, None)


def rotate_signing_from_command_line(*, db_session: Session, keyring: Keyring, carrier_id: uuid.UUID,
                                    purpose: str) -> Rotated:
    """A new primary signing key for `purpose` (`parcelguard uploader rotate-key`: the batch-signing key the
    regulator registers); the older ones keep verifying what they signed. Logged (subject
    `keys:signing:<purpose>:v<N>`, purpose `key_rotate`)."""
    signer = keyring.rotate_signing_key(db_session=db_session, carrier_id=carrier_id, purpose=purpose)
    version = db_session.scalar(select(SigningKey.version).where(SigningKey.id == signer.key_id))
    index = audit.log_event(db_session=db_session, keyring=keyring, carrier_id=carrier_id, actor=None,
                            subject=f"keys:signing:{purpose}:v{version}", purpose=ROTATE)
    return Rotated(version=int(version or 0), log_index=index)


def owners_behind(*, db_session: Session) -> list[uuid.UUID]:
    """Every key owner with live data keys under a KEK that is not its primary one (`keys rewrap` for all)."""
    return list(db_session.scalars(
        select(DataKey.carrier_id).join(KeyEncryptionKey, KeyEncryptionKey.id == DataKey.kek_id)
        .where(KeyEncryptionKey.state != PRIMARY, *_live()).distinct().order_by(DataKey.carrier_id)))


# -- the work ------------------------------------------------------------------------------------------------

def _rotate(db_session: Session, keyring: Keyring, carrier_id: uuid.UUID, actor: Actor | None,
            request_id: str | None) -> Rotated:
    try:
        with db_session.begin_nested():
            version = keyring.rotate(db_session=db_session, carrier_id=carrier_id)
    except IntegrityError:  # two rotations racing on PostgreSQL: both read the same newest version
        raise Conflict("Another rotation of this carrier's key is under way; reload and try again.",
                       code="rotation_in_progress") from None
    index = audit.log_event(db_session=db_session, keyring=keyring, carrier_id=carrier_id, actor=actor,
                            subject=f"keys:kek:v{version}", purpose=ROTATE, request_id=request_id)
    return Rotated(version=version, log_index=index)


def _rewrap(db_session: Session, keyring: Keyring, carrier_id: uuid.UUID, actor: Actor | None, limit: int,
            request_id: str | None) -> Rewrapped:
    limit = max(1, min(limit, MAX_BATCH))
    count = keyring.rewrap(db_session=db_session, carrier_id=carrier_id, limit=limit)
    version = _primary_version(db_session, carrier_id)
    index = None
    if count:
        index = audit.log_event(db_session=db_session, keyring=keyring, carrier_id=carrier_id, actor=actor,
                                subject=f"keys:rewrapped:{count}:to:v{version}", purpose=REWRAP,
                                request_id=request_id)
    return Rewrapped(count=count, version=version, data_keys=_counts(db_session, carrier_id), log_index=index)


def _overview(db_session: Session, carrier_id: uuid.UUID) -> Overview:
    per_kek = _per_kek(db_session, carrier_id)
    keks = db_session.execute(
        select(KeyEncryptionKey.id, KeyEncryptionKey.version, KeyEncryptionKey.state, KeyEncryptionKey.created_at)
        .where(KeyEncryptionKey.carrier_id == carrier_id).order_by(KeyEncryptionKey.version)).all()
    if not keks:
        raise NotFound("This carrier has no keys yet.", code="keys_unknown")
    versions = [KekVersion(version=v, state=state, created_at=at, data_keys=per_kek.get(kek_id, 0))
                for kek_id, v, state, at in keks]
    index_key = db_session.execute(
        select(IndexKey.version, IndexKey.created_at).where(IndexKey.carrier_id == carrier_id)
        .order_by(IndexKey.version.desc()).limit(1)).first()
    signing = db_session.execute(
        select(SigningKey.purpose, SigningKey.id, SigningKey.version, SigningKey.state, SigningKey.created_at)
        .where(SigningKey.carrier_id == carrier_id).order_by(SigningKey.purpose, SigningKey.version)).all()
    return Overview(
        versions=versions, primary_version=next((v.version for v in versions if v.state == PRIMARY), 0),
        data_keys=_counts(db_session, carrier_id, per_kek=per_kek),
        index_key_version=index_key[0] if index_key else None,
        index_key_created_at=index_key[1] if index_key else None,
        signing_keys=[SigningKeyInfo(purpose=p, key_id=k, version=v, state=s, created_at=at)
                      for p, k, v, s, at in signing])


def _counts(db_session: Session, carrier_id: uuid.UUID, *, per_kek: dict[int, int] | None = None) -> DataKeyCounts:
    if per_kek is None:
        per_kek = _per_kek(db_session, carrier_id)
    primary_id = db_session.scalar(select(KeyEncryptionKey.id).where(KeyEncryptionKey.carrier_id == carrier_id,
                                                                    KeyEncryptionKey.state == PRIMARY))
    destroyed = db_session.scalar(select(func.count()).select_from(DataKey).where(
        DataKey.carrier_id == carrier_id, or_(DataKey.destroyed_at.is_not(None), DataKey.wrapped_key.is_(None))))
    total = sum(per_kek.values())
    primary = per_kek.get(primary_id, 0) if primary_id is not None else 0
    return DataKeyCounts(total=total, primary=primary, older=total - primary, destroyed=int(destroyed or 0))


def _per_kek(db_session: Session, carrier_id: uuid.UUID) -> dict[int, int]:
    """KEK id -> live data keys it wraps."""
    rows = db_session.execute(select(DataKey.kek_id, func.count()).where(DataKey.carrier_id == carrier_id, *_live())
                              .group_by(DataKey.kek_id))
    return {kek_id: int(count) for kek_id, count in rows}


def _live() -> tuple[ColumnElement[bool], ...]:
    return DataKey.wrapped_key.is_not(None), DataKey.destroyed_at.is_(None)


def _primary_version(db_session: Session, carrier_id: uuid.UUID) -> int:
    return int(db_session.scalar(select(KeyEncryptionKey.version).where(
        KeyEncryptionKey.carrier_id == carrier_id, KeyEncryptionKey.state == PRIMARY)) or 0)


def _carrier(actor: Actor, roles: frozenset[Role]) -> uuid.UUID:
    if actor.role not in roles or actor.carrier_id is None:
        raise Forbidden("Your role may not do this.", code="role_not_allowed")
    return actor.carrier_id
