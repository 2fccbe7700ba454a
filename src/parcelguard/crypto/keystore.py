"""Where the shredding keys live (issue 15): one key per (carrier, data class, UTC month), taking part in wrapping
every data key of that class and month (`Keyring`), so deleting it destroys a month of one class at once.

Two stores, one interface; they hold the keys wrapped by the root key, as opaque bytes:
- `InDatabase`: the table `crypto_shred_keys` of the carrier database, in the caller's transaction. Shredding
  reaches the live database only: a backup taken before still holds the key.
- `Separate`: a database of its own (`PARCELGUARD_KEYSTORE_URL`), kept out of the main database's backups (and
  backed up, if at all, no longer than the shortest retention). Shredding deletes the row and then its bytes
  (SQLite: `secure_delete` and a WAL checkpoint that truncates; PostgreSQL: `VACUUM FULL` of the one small
  table, which rewrites it into a new file), so a copy of the main database taken before no longer opens the
  shredded month. Its writes are short transactions of their own: a key made for a transaction that then rolls
  back stays, unused and harmless.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Engine,
    Index,
    LargeBinary,
    MetaData,
    String,
    Table,
    Uuid,
    delete,
    event,
    select,
    text,
)
from sqlalchemy.orm import Session

from parcelguard.core.clock import now

if TYPE_CHECKING:
    from parcelguard.crypto.models import ShredKey


@dataclass(frozen=True)
class Held:
    """A shredding key as a store lists it: no key material."""

    key_id: int
    carrier_id: uuid.UUID
    data_class: str
    period: str


class KeyStore(Protocol):
    separate: bool

    def get(self, db_session: Session, key_id: int) -> bytes | None: ...

    def find(self, db_session: Session, carrier_id: uuid.UUID, data_class: str, period: str
             ) -> tuple[int, bytes] | None: ...

    def add(self, db_session: Session, key_id: int, carrier_id: uuid.UUID, data_class: str, period: str,
            wrapped: bytes) -> tuple[int, bytes]: ...

    def destroy(self, db_session: Session, carrier_id: uuid.UUID, data_class: str, periods: Sequence[str]
                ) -> list[Held]: ...

    def held(self, db_session: Session, carrier_id: uuid.UUID) -> list[Held]: ...


def _shred_keys() -> type[ShredKey]:
    """The carrier database's table, imported when first used: the regulator's platform uses `Separate` only and
    loads none of the carrier's tables."""
    from parcelguard.crypto.models import ShredKey

    return ShredKey


class InDatabase:
    """The shredding keys in the carrier database's own table, in the caller's transaction."""

    separate = False

    def get(self, db_session: Session, key_id: int) -> bytes | None:
        ShredKey = _shred_keys()
        return db_session.scalar(select(ShredKey.wrapped_key).where(ShredKey.id == key_id))

    def find(self, db_session: Session, carrier_id: uuid.UUID, data_class: str, period: str
             ) -> tuple[int, bytes] | None:
        ShredKey = _shred_keys()
        row = db_session.execute(select(ShredKey.id, ShredKey.wrapped_key).where(
            ShredKey.carrier_id == carrier_id, ShredKey.data_class == data_class, ShredKey.period == period)
            .order_by(ShredKey.created_at, ShredKey.id).limit(1)).first()
        return None if row is None else (row[0], row[1])

    def add(self, db_session: Session, key_id: int, carrier_id: uuid.UUID, data_class: str, period: str,
            wrapped: bytes) -> tuple[int, bytes]:
        # In the caller's transaction, as the data key it wraps: both exist, or neither.
        ShredKey = _shred_keys()
        db_session.add(ShredKey(id=key_id, carrier_id=carrier_id, data_class=data_class, period=period,
                                wrapped_key=wrapped, created_at=now()))
        db_session.flush()
        return key_id, wrapped

    def destroy(self, db_session: Session, carrier_id: uuid.UUID, data_class: str, periods: Sequence[str]
                ) -> list[Held]:
        ShredKey = _shred_keys()
        gone = [Held(i, carrier_id, data_class, p) for i, p in db_session.execute(
            select(ShredKey.id, ShredKey.period).where(ShredKey.carrier_id == carrier_id,
                                                        ShredKey.data_class == data_class,
                                                        ShredKey.period.in_(periods)))]
        if gone:
            db_session.execute(delete(ShredKey).where(ShredKey.id.in_([g.key_id for g in gone])))
        return gone

    def held(self, db_session: Session, carrier_id: uuid.UUID) -> list[Held]:
        ShredKey = _shred_keys()
        return [Held(i, carrier_id, c, p) for i, c, p in db_session.execute(
            select(ShredKey.id, ShredKey.data_class, ShredKey.period).where(ShredKey.carrier_id == carrier_id))]


_metadata = MetaData()
_keys = Table(
    "shred_keys", _metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("carrier_id", Uuid, nullable=False),
    Column("data_class", String(64), nullable=False),
    Column("period", String(16), nullable=False),
    Column("wrapped_key", LargeBinary, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
Index(None, _keys.c.carrier_id, _keys.c.data_class, _keys.c.period)


class Separate:
    """The shredding keys in a database of their own. One table, made on first use (it is the whole schema)."""

    separate = True

    def __init__(self, url: str) -> None:
        from parcelguard.core import db

        self.engine: Engine = db.make_engine(url)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _secure_delete)
        _metadata.create_all(self.engine, checkfirst=True)

    def __repr__(self) -> str:
        return f"Separate({self.engine.url.render_as_string(hide_password=True)})"

    def close(self) -> None:
        self.engine.dispose()

    def get(self, db_session: Session, key_id: int) -> bytes | None:
        with self.engine.connect() as conn:
            return conn.scalar(select(_keys.c.wrapped_key).where(_keys.c.id == key_id))

    def find(self, db_session: Session, carrier_id: uuid.UUID, data_class: str, period: str
             ) -> tuple[int, bytes] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(_keys.c.id, _keys.c.wrapped_key).where(
                _keys.c.carrier_id == carrier_id, _keys.c.data_class == data_class, _keys.c.period == period)
                .order_by(_keys.c.created_at, _keys.c.id).limit(1)).first()
        return None if row is None else (row[0], row[1])

    def add(self, db_session: Session, key_id: int, carrier_id: uuid.UUID, data_class: str, period: str,
            wrapped: bytes) -> tuple[int, bytes]:
        """Store a new key, committed at once (two processes that both make one for a month each use their
        own: shredding the month destroys every key it has)."""
        with self.engine.begin() as conn:
            conn.execute(_keys.insert().values(id=key_id, carrier_id=carrier_id, data_class=data_class,
                                               period=period, wrapped_key=wrapped, created_at=now()))
        return key_id, wrapped

    def destroy(self, db_session: Session, carrier_id: uuid.UUID, data_class: str, periods: Sequence[str]
                ) -> list[Held]:
        with self.engine.begin() as conn:
            gone = [Held(i, carrier_id, data_class, p) for i, p in conn.execute(
                select(_keys.c.id, _keys.c.period).where(_keys.c.carrier_id == carrier_id,
                                                         _keys.c.data_class == data_class,
                                                         _keys.c.period.in_(periods)))]
            if gone:
                conn.execute(delete(_keys).where(_keys.c.id.in_([g.key_id for g in gone])))
        if gone:
            self._erase()
        return gone

    def held(self, db_session: Session, carrier_id: uuid.UUID) -> list[Held]:
        with self.engine.connect() as conn:
            return [Held(i, carrier_id, c, p) for i, c, p in conn.execute(
                select(_keys.c.id, _keys.c.data_class, _keys.c.period).where(_keys.c.carrier_id == carrier_id))]

    def _erase(self) -> None:
        """Remove a deleted row's bytes from the files, not only from the table's view."""
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            if self.engine.dialect.name == "sqlite":
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            else:
                conn.execute(text("VACUUM FULL shred_keys"))


def _secure_delete(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()


def open_store(url: str | None) -> KeyStore:
    """The store `PARCELGUARD_KEYSTORE_URL` names, or the carrier database itself when it names none."""
    return Separate(url) if url else InDatabase()
