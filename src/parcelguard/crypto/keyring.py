"""The keyring: the one object that holds the root key and hands out field encryption, blind
indexes and signing keys. Callers never see a key, a nonce or a KEK.

Hierarchy: root key → per-carrier key-encryption keys (versioned; one primary) → data keys, one per
(carrier, data class, UTC month), each wrapped under its KEK and the shredding key of its class and month
(`crypto.keystore`; HKDF over both) → field values (AES-256-GCM). A ciphertext names its data key, so
rotating the KEK and re-wrapping data keys never rewrites row data, and destroying a shredding key
(`crypto.shredding`) destroys a month of one class.

Keys created inside a session become visible to the rest of the process only when that session
commits: a key made in a transaction that rolls back is never used again (it does not exist).
"""

from __future__ import annotations

import calendar
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from parcelguard.core.clock import now
from parcelguard.crypto import blind_index as bi
from parcelguard.crypto import envelope, signing
from parcelguard.crypto.keystore import InDatabase, KeyStore
from parcelguard.crypto.models import DataKey, IndexKey, KeyEncryptionKey, SigningKey
from parcelguard.crypto.types import Aad, BlindIndex, DecryptionFailed, Encrypted, KeyUnavailable

PRIMARY, ACTIVE = "primary", "active"
Sealer = Callable[[bytes, Aad], Encrypted]
Opener = Callable[[bytes, Aad], bytes]
_PENDING = "parcelguard.keyring.pending"


def _new_key_id() -> int:
    return secrets.randbelow(2**63 - 1) + 1


def _period_and_lifetime() -> tuple[str, float]:
    """The current UTC month (`YYYY-MM`) and the seconds left in it: a cached current data key
    expires no later than its month, so the hot path needs no calendar arithmetic."""
    moment = time.time()
    tm = time.gmtime(moment)
    year, month = (tm.tm_year + 1, 1) if tm.tm_mon == 12 else (tm.tm_year, tm.tm_mon + 1)
    next_month = calendar.timegm((year, month, 1, 0, 0, 0, 0, 0, 0))
    return f"{tm.tm_year:04d}-{tm.tm_mon:02d}", next_month - moment


@dataclass(frozen=True)
class Signer:
    """A signing key ready to use: its id and raw public key may be published."""

    key_id: int
    public_key: bytes
    _private: bytes = field(repr=False)

    def sign(self, message: bytes) -> bytes:
        return signing.sign(self._private, message)


@dataclass
class _Pending:
    """Keys a session created and has not committed: usable inside it, published on commit."""

    local: dict[Any, Any] = field(default_factory=dict)
    publish: list[Callable[[], None]] = field(default_factory=list)


class Keyring:
    __slots__ = ("_current", "_data_keys", "_field_keys", "_root", "_signers", "_ttl", "keystore")

    def __init__(self, root_key: bytes, *, cache_ttl_seconds: float = 60.0, keystore: KeyStore | None = None) -> None:
        if len(root_key) != 32:
            raise ValueError("the root key must be 32 bytes")
        self._root = root_key
        self._ttl = cache_ttl_seconds
        self.keystore: KeyStore = keystore or InDatabase()
        # ciphertext header (version + data key id) -> (carrier id, opener, expiry on the monotonic clock)
        self._data_keys: dict[bytes, tuple[uuid.UUID, Opener, float]] = {}
        # (carrier, data class) -> (data key id, sealer, expiry, ciphertext header); the expiry
        # falls at the latest at the end of the key's month
        self._current: dict[tuple[uuid.UUID, str], tuple[int, Sealer, float, bytes]] = {}
        self._field_keys: dict[tuple[uuid.UUID, str], bytes] = {}
        # (carrier, purpose) -> (the primary signer, expiry): after a rotation elsewhere, this process signs
        # with the new key within the cache's lifetime
        self._signers: dict[tuple[uuid.UUID, str], tuple[Signer, float]] = {}

    def __repr__(self) -> str:
        return "Keyring(<root key hidden>)"

    # -- carriers ---------------------------------------------------------------------------------

    def ensure_carrier_keys(self, *, db_session: Session, carrier_id: uuid.UUID) -> None:
        """Give a carrier its first key-encryption key and its blind-index key (idempotent)."""
        if db_session.scalar(select(KeyEncryptionKey.id).where(KeyEncryptionKey.carrier_id == carrier_id)) is None:
            self._add_kek(db_session, carrier_id, version=1)
        if db_session.scalar(select(IndexKey.id).where(IndexKey.carrier_id == carrier_id)) is None:
            key_id = _new_key_id()
            db_session.add(IndexKey(id=key_id, carrier_id=carrier_id, version=1,
                                    wrapped_key=envelope.wrap(secrets.token_bytes(32), self._root,
                                                              _index_context(carrier_id, 1))))
        db_session.flush()

    def rotate(self, *, db_session: Session, carrier_id: uuid.UUID) -> int:
        """A new KEK version becomes primary; the old one stays to unwrap. Returns the new version."""
        keks = list(db_session.scalars(select(KeyEncryptionKey).where(KeyEncryptionKey.carrier_id == carrier_id)
                                       .with_for_update()))
        if not keks:
            raise KeyUnavailable(0)
        for kek in keks:
            if kek.state == PRIMARY:
                kek.state = ACTIVE
        version = max(k.version for k in keks) + 1
        db_session.flush()
        self._add_kek(db_session, carrier_id, version=version)
        # This process stops handing out data keys under the old KEK at once (and again when this
        # session commits, after anything it made earlier is published); others within the TTL.
        self._forget_current(carrier_id)
        pending = self._pending(db_session)
        for key in [k for k in pending.local if k[0] == "current" and k[1][0] == carrier_id]:
            del pending.local[key]
        pending.publish.append(lambda: self._forget_current(carrier_id))
        return version

    def _forget_current(self, carrier_id: uuid.UUID) -> None:
        for ck in [ck for ck in self._current if ck[0] == carrier_id]:
            self._current.pop(ck, None)

    def rewrap(self, *, db_session: Session, carrier_id: uuid.UUID | None = None, limit: int | None = None) -> int:
        """Re-wrap data keys not under their carrier's primary KEK to it; row data is untouched. With `limit`,
        at most that many (lowest ids first): a caller that commits after each call re-wraps a large key set
        in chunks, shows progress, and resumes after a crash where it stopped. Returns how many it re-wrapped."""
        if limit is not None and limit < 1:
            raise ValueError("a rewrap limit is at least 1")
        stmt = (select(DataKey).join(KeyEncryptionKey, KeyEncryptionKey.id == DataKey.kek_id)
                .where(KeyEncryptionKey.state != PRIMARY, DataKey.wrapped_key.is_not(None),
                       DataKey.destroyed_at.is_(None)))
        if carrier_id is not None:
            stmt = stmt.where(DataKey.carrier_id == carrier_id)
        stmt = stmt.order_by(DataKey.id)
        if limit is not None:
            stmt = stmt.limit(limit)
        primaries: dict[uuid.UUID, tuple[int, bytes]] = {}
        count = 0
        for dek in db_session.scalars(stmt.with_for_update(of=DataKey)):
            if dek.carrier_id not in primaries:
                primaries[dek.carrier_id] = self._primary_kek(db_session, dek.carrier_id)
            kek_id, kek = primaries[dek.carrier_id]
            if dek.kek_id == kek_id:
                continue
            assert dek.wrapped_key is not None
            try:
                shred = self._shred_of(db_session, dek)
            except KeyUnavailable:  # its month was shredded and this row not yet marked: it is gone
                dek.wrapped_key, dek.destroyed_at = None, dek.destroyed_at or now()
                continue
            raw = envelope.unwrap(dek.wrapped_key, _wrapping(self._kek_by_id(db_session, dek.kek_id), shred, dek),
                                  _dek_context(dek))
            dek.wrapped_key = envelope.wrap(raw, _wrapping(kek, shred, dek), _dek_context(dek))
            dek.kek_id = kek_id
            count += 1
        db_session.flush()
        return count

    # -- field encryption -------------------------------------------------------------------------

    def encrypt(self, *, db_session: Session, carrier_id: uuid.UUID, plaintext: bytes | str, aad: Aad,
                data_class: str = "default") -> Encrypted:
        if plaintext.__class__ is str:
            plaintext = plaintext.encode()  # type: ignore[union-attr]
        entry = self._current.get((carrier_id, data_class))
        if entry is None or entry[2] < time.monotonic():
            entry = self._current_data_key(db_session, carrier_id, data_class)
        return entry[1](plaintext, aad)  # type: ignore[arg-type]

    def decrypt(self, *, db_session: Session, carrier_id: uuid.UUID, ciphertext: bytes, aad: Aad) -> bytes:
        # Cached keys are found by the ciphertext's header bytes, which name format and key at once.
        entry = self._data_keys.get(ciphertext[: envelope.HEADER_BYTES])
        if entry is None or entry[2] < time.monotonic():
            entry = self._load_data_key(db_session, envelope.key_id_of(ciphertext))
        if entry[0] is not carrier_id and entry[0] != carrier_id:
            raise KeyUnavailable(envelope.key_id_of(ciphertext))
        return entry[1](ciphertext, aad)

    def can_open(self, *, db_session: Session, carrier_id: uuid.UUID, ciphertext: bytes) -> bool:
        """Whether the data key `ciphertext` names is this carrier's and still exists (not shredded), without
        opening the value: the gate asks before it logs a reveal."""
        entry = self._data_keys.get(ciphertext[: envelope.HEADER_BYTES])
        if entry is None or entry[2] < time.monotonic():
            try:
                entry = self._load_data_key(db_session, envelope.key_id_of(ciphertext))
            except KeyUnavailable:
                return False
        return entry[0] == carrier_id

    def rebind(self, *, db_session: Session, carrier_id: uuid.UUID, ciphertext: bytes, aad: Aad, to: Aad,
               data_class: str = "default") -> Encrypted:
        """The same plaintext bound to another (table, column, row), without handing it to the caller:
        a field moves from one row to another (a sender's registration to a shipment) unread."""
        return self.encrypt(db_session=db_session, carrier_id=carrier_id, aad=to, data_class=data_class,
                            plaintext=self.decrypt(db_session=db_session, carrier_id=carrier_id,
                                                   ciphertext=ciphertext, aad=aad))

    def _current_data_key(
        self, db_session: Session, carrier_id: uuid.UUID, data_class: str
    ) -> tuple[int, Sealer, float, bytes]:
        ck = (carrier_id, data_class)
        period, month_left = _period_and_lifetime()
        pending = self._pending(db_session)
        if ("current", ck, period) in pending.local:
            return pending.local[("current", ck, period)]
        kek_id, kek = self._primary_kek(db_session, carrier_id)
        shred_id, shred = self._month_shred_key(db_session, carrier_id, data_class, period)
        dek = db_session.scalar(
            select(DataKey).where(DataKey.carrier_id == carrier_id, DataKey.data_class == data_class,
                                  DataKey.period == period, DataKey.kek_id == kek_id,
                                  DataKey.shred_key_id == shred_id, DataKey.destroyed_at.is_(None))
            .order_by(DataKey.created_at.desc()).limit(1)
        )
        expiry = time.monotonic() + min(self._ttl, month_left)
        if dek is not None and dek.wrapped_key is not None:
            aead = AESGCM(envelope.unwrap(dek.wrapped_key, _wrapping(kek, shred, dek), _dek_context(dek)))
            entry = (dek.id, envelope.field_sealer(aead, dek.id), expiry, envelope.header_of(dek.id))
            self._current[ck] = entry
            self._data_keys[entry[3]] = (carrier_id, envelope.field_opener(aead), expiry)
            return entry
        raw = secrets.token_bytes(envelope.KEY_BYTES)
        dek = DataKey(id=_new_key_id(), carrier_id=carrier_id, kek_id=kek_id, data_class=data_class, period=period,
                      shred_key_id=shred_id)
        dek.wrapped_key = envelope.wrap(raw, _wrapping(kek, shred, dek), _dek_context(dek))
        db_session.add(dek)
        db_session.flush()
        aead = AESGCM(raw)
        entry = (dek.id, envelope.field_sealer(aead, dek.id), expiry, envelope.header_of(dek.id))
        opener = (carrier_id, envelope.field_opener(aead), expiry)
        pending.local[("current", ck, period)] = entry
        pending.local[("data", dek.id)] = opener

        def publish() -> None:
            self._current[ck] = entry
            self._data_keys[entry[3]] = opener

        pending.publish.append(publish)
        return entry

    def _load_data_key(self, db_session: Session, key_id: int) -> tuple[uuid.UUID, Opener, float]:
        pending = self._pending(db_session)
        if ("data", key_id) in pending.local:
            return pending.local[("data", key_id)]
        dek = db_session.get(DataKey, key_id)
        if dek is None or dek.wrapped_key is None or dek.destroyed_at is not None:
            raise KeyUnavailable(key_id)
        raw = envelope.unwrap(dek.wrapped_key, _wrapping(self._kek_by_id(db_session, dek.kek_id),
                                                         self._shred_of(db_session, dek), dek), _dek_context(dek))
        entry = (dek.carrier_id, envelope.field_opener(AESGCM(raw)), time.monotonic() + self._ttl)
        self._data_keys[envelope.header_of(key_id)] = entry
        return entry

    def forget_data_keys(self, key_ids: set[int]) -> None:
        """Drop these data keys from this process's caches (they were shredded)."""
        for header in [h for h in self._data_keys if envelope.key_id_of_header(h) in key_ids]:
            self._data_keys.pop(header, None)
        for ck in [ck for ck, entry in self._current.items() if entry[0] in key_ids]:
            self._current.pop(ck, None)

    # -- shredding keys (crypto.keystore) ---------------------------------------------------------

    def _month_shred_key(self, db_session: Session, carrier_id: uuid.UUID, data_class: str,
                         period: str) -> tuple[int, bytes]:
        """The shredding key of a class and month, made on first use."""
        pending = self._pending(db_session)
        if ("shred", carrier_id, data_class, period) in pending.local:
            return pending.local[("shred", carrier_id, data_class, period)]
        found = self.keystore.find(db_session, carrier_id, data_class, period)
        if found is None:
            key_id, raw = _new_key_id(), secrets.token_bytes(32)
            found = self.keystore.add(db_session, key_id, carrier_id, data_class, period, envelope.wrap(
                raw, self._root, _shred_context(key_id, carrier_id, data_class, period)))
        key_id, wrapped = found
        entry = (key_id, envelope.unwrap(wrapped, self._root, _shred_context(key_id, carrier_id, data_class, period)))
        pending.local[("shred", carrier_id, data_class, period)] = entry
        return entry

    def _shred_of(self, db_session: Session, dek: DataKey) -> bytes | None:
        """The shredding key that takes part in wrapping `dek` (None for a data key made before them);
        KeyUnavailable when it was destroyed."""
        if dek.shred_key_id is None:
            return None
        wrapped = self.keystore.get(db_session, dek.shred_key_id)
        if wrapped is None:
            raise KeyUnavailable(dek.id)
        return envelope.unwrap(wrapped, self._root, _shred_context(dek.shred_key_id, dek.carrier_id, dek.data_class,
                                                                   dek.period))

    # -- key-encryption keys ----------------------------------------------------------------------

    def _add_kek(self, db_session: Session, carrier_id: uuid.UUID, *, version: int) -> None:
        db_session.add(KeyEncryptionKey(
            id=_new_key_id(), carrier_id=carrier_id, version=version, state=PRIMARY,
            wrapped_key=envelope.wrap(secrets.token_bytes(32), self._root, _kek_context(carrier_id, version)),
        ))
        db_session.flush()

    def _primary_kek(self, db_session: Session, carrier_id: uuid.UUID) -> tuple[int, bytes]:
        kek = db_session.scalar(select(KeyEncryptionKey).where(KeyEncryptionKey.carrier_id == carrier_id,
                                                               KeyEncryptionKey.state == PRIMARY))
        if kek is None:
            raise KeyUnavailable(0)
        return kek.id, envelope.unwrap(kek.wrapped_key, self._root, _kek_context(carrier_id, kek.version))

    def _kek_by_id(self, db_session: Session, kek_id: int) -> bytes:
        kek = db_session.get(KeyEncryptionKey, kek_id)
        if kek is None or kek.state not in (PRIMARY, ACTIVE):
            raise KeyUnavailable(kek_id)
        return envelope.unwrap(kek.wrapped_key, self._root, _kek_context(kek.carrier_id, kek.version))

    # -- blind indexes ----------------------------------------------------------------------------

    def blind_index(self, *, db_session: Session, carrier_id: uuid.UUID, field: str, value: str) -> BlindIndex:
        """The carrier's blind index of `value` as field `field` (which picks the normaliser)."""
        normalise = bi.NORMALISERS.get(field)
        if normalise is None:
            raise ValueError(f"no blind index is defined for field {field!r}")
        key = self._field_keys.get((carrier_id, field))
        if key is None:
            key = self._field_key(db_session, carrier_id, field)
        return bi.compute(key, normalise(value))

    def _field_key(self, db_session: Session, carrier_id: uuid.UUID, field: str) -> bytes:
        pending = self._pending(db_session)
        if ("field", carrier_id, field) in pending.local:
            return pending.local[("field", carrier_id, field)]
        index_key = db_session.scalar(select(IndexKey).where(IndexKey.carrier_id == carrier_id)
                                      .order_by(IndexKey.version.desc()).limit(1))
        if index_key is None:
            raise KeyUnavailable(0)
        raw = envelope.unwrap(index_key.wrapped_key, self._root, _index_context(carrier_id, index_key.version))
        key = bi.field_key(raw, field)
        # The index key may be this session's own, not yet committed: cache it once the session commits.
        pending.local[("field", carrier_id, field)] = key
        pending.publish.append(lambda: self._field_keys.__setitem__((carrier_id, field), key))
        return key

    def stable_key(self, *, db_session: Session, carrier_id: uuid.UUID, purpose: str) -> bytes:
        """A 32-byte key for `purpose` that never changes for this carrier (waybill numbering: a new key
        would renumber, and old and new numbers could collide). Derived from the carrier's first index
        key, which rotation keeps."""
        cached = self._field_keys.get((carrier_id, "stable:" + purpose))
        if cached is not None:
            return cached
        first = db_session.scalar(select(IndexKey).where(IndexKey.carrier_id == carrier_id)
                                  .order_by(IndexKey.version).limit(1))
        if first is None:
            raise KeyUnavailable(0)
        raw = envelope.unwrap(first.wrapped_key, self._root, _index_context(carrier_id, first.version))
        key = bi.field_key(raw, "stable:" + purpose)
        self._field_keys[(carrier_id, "stable:" + purpose)] = key
        return key

    # -- signing ----------------------------------------------------------------------------------

    def signing_key(self, *, db_session: Session, carrier_id: uuid.UUID, purpose: str) -> Signer:
        """The carrier's current (primary) Ed25519 key for `purpose`, made on first need."""
        cached = self._signers.get((carrier_id, purpose))
        if cached is not None and cached[1] >= time.monotonic():
            return cached[0]
        pending = self._pending(db_session)
        if ("signer", carrier_id, purpose) in pending.local:
            signer: Signer = pending.local[("signer", carrier_id, purpose)]
            return signer
        row = db_session.scalar(select(SigningKey).where(SigningKey.carrier_id == carrier_id,
                                                         SigningKey.purpose == purpose, SigningKey.state == PRIMARY)
                                .order_by(SigningKey.version.desc()).limit(1))
        if row is not None:
            private = envelope.unwrap(row.wrapped_private_key, self._root, _signing_context(row))
            signer = Signer(row.id, row.public_key, private)
            self._signers[(carrier_id, purpose)] = (signer, time.monotonic() + self._ttl)
            return signer
        return self._new_signer(db_session, carrier_id, purpose, version=1)

    def rotate_signing_key(self, *, db_session: Session, carrier_id: uuid.UUID, purpose: str) -> Signer:
        """A new key version becomes primary for `purpose` (its first if it had none); the older ones stay
        `active`, so what they signed still verifies (`public_keys`). This process signs with the new one
        at once (at its commit), others within the cache's lifetime."""
        rows = list(db_session.scalars(select(SigningKey).where(SigningKey.carrier_id == carrier_id,
                                                                SigningKey.purpose == purpose).with_for_update()))
        for row in rows:
            if row.state == PRIMARY:
                row.state = ACTIVE
        db_session.flush()
        self._signers.pop((carrier_id, purpose), None)
        return self._new_signer(db_session, carrier_id, purpose, version=max((r.version for r in rows), default=0) + 1)

    def _new_signer(self, db_session: Session, carrier_id: uuid.UUID, purpose: str, *, version: int) -> Signer:
        private, public = signing.generate()
        row = SigningKey(id=_new_key_id(), carrier_id=carrier_id, purpose=purpose, version=version, state=PRIMARY,
                         public_key=public, wrapped_private_key=b"")
        row.wrapped_private_key = envelope.wrap(private, self._root, _signing_context(row))
        db_session.add(row)
        db_session.flush()
        signer = Signer(row.id, public, private)
        pending = self._pending(db_session)
        pending.local[("signer", carrier_id, purpose)] = signer
        pending.publish.append(lambda: self._signers.__setitem__((carrier_id, purpose),
                                                                 (signer, time.monotonic() + self._ttl)))
        return signer

    def signing_key_owner(self, *, db_session: Session, key_id: int) -> tuple[uuid.UUID, str, bytes] | None:
        """(carrier, purpose, public key) of a signing key, by its id: how a token names its issuer."""
        row = db_session.execute(select(SigningKey.carrier_id, SigningKey.purpose, SigningKey.public_key)
                                 .where(SigningKey.id == key_id)).first()
        return None if row is None else (row[0], row[1], row[2])

    def public_keys(self, *, db_session: Session, carrier_id: uuid.UUID, purpose: str) -> dict[int, bytes]:
        """Every public key the carrier has used for `purpose`, by key id (to verify old signatures)."""
        rows = db_session.execute(select(SigningKey.id, SigningKey.public_key)
                                  .where(SigningKey.carrier_id == carrier_id, SigningKey.purpose == purpose))
        return {key_id: public for key_id, public in rows}

    # -- session-scoped pending keys --------------------------------------------------------------

    def _pending(self, db_session: Session) -> _Pending:
        key = (_PENDING, id(self))
        pending = db_session.info.get(key)
        if pending is None:
            pending = db_session.info[key] = _Pending()

            def committed(_session: Session) -> None:
                for publish in pending.publish:
                    publish()
                pending.publish.clear()
                pending.local.clear()

            def rolled_back(_session: Session, *_args: Any) -> None:
                pending.publish.clear()
                pending.local.clear()

            event.listen(db_session, "after_commit", committed)
            event.listen(db_session, "after_rollback", rolled_back)
            event.listen(db_session, "after_soft_rollback", rolled_back)
        return pending


def _kek_context(carrier_id: uuid.UUID, version: int) -> bytes:
    return f"kek|{carrier_id}|{version}".encode()


def _index_context(carrier_id: uuid.UUID, version: int) -> bytes:
    return f"index|{carrier_id}|{version}".encode()


def _dek_context(dek: DataKey) -> bytes:
    return f"dek|{dek.id}|{dek.carrier_id}|{dek.data_class}|{dek.period}".encode()


def _shred_context(key_id: int, carrier_id: uuid.UUID, data_class: str, period: str) -> bytes:
    return f"shred|{key_id}|{carrier_id}|{data_class}|{period}".encode()


def _wrapping(kek: bytes, shred: bytes | None, dek: DataKey) -> bytes:
    """The key a data key is wrapped under: its KEK alone (made before shredding keys), or HKDF-SHA256 over its
    KEK and its month's shredding key, so that either one gone leaves it unreadable."""
    if shred is None:
        return kek
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                info=b"parcelguard/dek-wrap/v2|" + _dek_context(dek)).derive(kek + shred)


def _signing_context(row: SigningKey) -> bytes:
    return f"signing|{row.id}|{row.carrier_id}|{row.purpose}|{row.version}".encode()


__all__ = ["Aad", "DecryptionFailed", "Encrypted", "KeyUnavailable", "Keyring", "Signer"]
