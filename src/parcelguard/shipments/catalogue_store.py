"""A carrier's prohibited and restricted items catalogue as its admin last saved it (`CatalogueVersion`),
or the one shipped with parcelguard. Knows nothing of HTTP.

Every save is a new version, never an update, so what intake checked a parcel against can be found
again; a version whose `data` is NULL is the shipped catalogue (a reset). Version 0 means nothing was
ever saved. Saves and resets are entries in the carrier's tamper-evident log, made as the gate's policy
edits are (`audit.service.log_admin_change`): purpose `catalogue_save` with subject
`catalogue:<version>:sha256:<hex>`, the SHA-256 of the JSON stored as that version (never the catalogue
itself), or purpose `catalogue_reset` with subject `catalogue:<version>:shipped`.

Cache. Compiling a catalogue (its Aho-Corasick automaton) takes tens of milliseconds and intake asks on
every request, so compiled catalogues are kept per process. Which version is current is not cached:
`current` reads the newest version number with one query on the primary key, so a save takes effect
at once in every process. The cache key holds `saved_at` beside the number because a number is final
only once committed: a save read back in its own transaction and then rolled back must not leave its
catalogue cached under a number a later save reuses.
"""

from __future__ import annotations

import hashlib
import json
import threading
import uuid
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from parcelguard.accounts import service as accounts
from parcelguard.audit import service as audit
from parcelguard.core.auth import Actor, Role
from parcelguard.core.clock import now
from parcelguard.core.errors import Conflict, FieldError, Forbidden, NotFound
from parcelguard.crypto.keyring import Keyring
from parcelguard.shipments import catalogue
from parcelguard.shipments.catalogue import Catalogue, CatalogueInvalid
from parcelguard.shipments.models import CatalogueVersion

CACHE_SIZE = 32  # compiled catalogues per process; the shipped one takes about 1.3 MB compiled
HISTORY_READERS = frozenset({Role.ADMIN, Role.HQ_SECURITY})
SAVE_PURPOSE, RESET_PURPOSE = "catalogue_save", "catalogue_reset"


class CatalogueConflict(Conflict):
    """Another save took the version number first, or the edit started from a version that is no
    longer the newest. Nothing was written; reload and save again."""

    code = "catalogue_conflict"

    def __init__(self, version: int | None = None) -> None:
        super().__init__("The catalogue was saved by someone else meanwhile: reload it and save again.",
                         extensions={} if version is None else {"current_version": version})


@dataclass(frozen=True)
class Version:
    """One saved version: who saved it, when, and the SHA-256 of its stored JSON (None: the shipped one)."""

    version: int
    saved_by: uuid.UUID | None
    saved_at: datetime
    sha256: str | None

    @property
    def shipped(self) -> bool:
        return self.sha256 is None


@dataclass(frozen=True)
class Current:
    """The catalogue intake uses now, and its version (0: the carrier never saved one)."""

    version: int
    shipped: bool
    catalogue: Catalogue


class _CompiledCache:
    """Least recently used compiled catalogues, shared by the request threads of one process."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._entries: OrderedDict[tuple[uuid.UUID, int, datetime], Catalogue] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[uuid.UUID, int, datetime]) -> Catalogue | None:
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
            return found

    def put(self, key: tuple[uuid.UUID, int, datetime], compiled: Catalogue) -> None:
        with self._lock:
            self._entries[key] = compiled
            self._entries.move_to_end(key)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


_compiled = _CompiledCache(CACHE_SIZE)


# -- reading --------------------------------------------------------------------------------------

def current(*, db_session: Session, carrier_id: uuid.UUID) -> Catalogue:
    """The catalogue intake checks this carrier's parcels against."""
    return current_version(db_session=db_session, carrier_id=carrier_id).catalogue


def current_version(*, db_session: Session, carrier_id: uuid.UUID) -> Current:
    """The carrier's newest version, compiled: one indexed query, plus a read and a compile the first
    time this process meets the version."""
    latest = db_session.execute(
        select(CatalogueVersion.version, CatalogueVersion.saved_at, CatalogueVersion.data.is_(None))
        .where(CatalogueVersion.carrier_id == carrier_id)
        .order_by(CatalogueVersion.version.desc()).limit(1)
    ).first()
    if latest is None:
        return Current(version=0, shipped=True, catalogue=Catalogue.default())
    version, saved_at, shipped = int(latest[0]), latest[1], bool(latest[2])
    if shipped:
        return Current(version=version, shipped=True, catalogue=Catalogue.default())
    key = (carrier_id, version, saved_at)
    compiled = _compiled.get(key)
    if compiled is None:
        text = db_session.scalar(select(CatalogueVersion.data).where(
            CatalogueVersion.carrier_id == carrier_id, CatalogueVersion.version == version))
        # Saved data was validated; a row edited by hand that no longer is raises `CatalogueInvalid`,
        # so intake refuses rather than checking parcels against nothing.
        compiled = Catalogue.from_data(json.loads(text or "null"))
        _compiled.put(key, compiled)
    return Current(version=version, shipped=False, catalogue=compiled)


def current_for_slug(*, db_session: Session, carrier_slug: str) -> Current:
    """A carrier's current catalogue by its public slug; 404 `carrier_unknown` when there is none."""
    carrier = accounts.get_carrier_by_slug(db_session=db_session, slug=carrier_slug)
    if carrier is None:
        raise NotFound("No such carrier.", code="carrier_unknown")
    return current_version(db_session=db_session, carrier_id=carrier.id)


def current_data(*, db_session: Session, actor: Actor) -> tuple[int, dict[str, Any]]:
    """The actor's carrier's current version and its data, keywords included, as `save` takes it back:
    what an admin edits. The shipped catalogue's data when the newest version is a reset or none."""
    carrier_id = _admin_carrier(actor)
    latest = db_session.execute(
        select(CatalogueVersion.version, CatalogueVersion.data).where(CatalogueVersion.carrier_id == carrier_id)
        .order_by(CatalogueVersion.version.desc()).limit(1)
    ).first()
    if latest is None or latest[1] is None:
        return (0 if latest is None else int(latest[0])), catalogue.default_data()
    return int(latest[0]), json.loads(latest[1])


def history(*, db_session: Session, actor: Actor, limit: int = 100) -> list[Version]:
    """The carrier's versions, newest first: who saved each, when, and the digest the log recorded."""
    if actor.role not in HISTORY_READERS or actor.carrier_id is None:
        raise Forbidden("Your role may not read the catalogue's history.", code="role_not_allowed")
    rows = db_session.execute(
        select(CatalogueVersion.version, CatalogueVersion.saved_by, CatalogueVersion.saved_at,
               CatalogueVersion.data)
        .where(CatalogueVersion.carrier_id == actor.carrier_id)
        .order_by(CatalogueVersion.version.desc()).limit(limit))
    return [Version(version=int(v), saved_by=by, saved_at=at, sha256=None if data is None else _digest(data))
            for v, by, at, data in rows]


# -- writing --------------------------------------------------------------------------------------

def save(*, db_session: Session, keyring: Keyring, actor: Actor, data: object, base_version: int | None = None,
         request_id: str | None = None) -> Version:
    """Save `data` (the shape of `data/prohibited.toml`) as the carrier's next version, and log it.

    Only the carrier's admin. Data `catalogue.validate` refuses raises `CatalogueInvalid` (422, every
    error with its pointer) and writes nothing. `base_version`, when given, is the version the edit
    started from: if another has been saved since, `CatalogueConflict` (409). Two saves at once never
    share a number: the second gets `CatalogueConflict` (on SQLite a writing transaction waits for the
    first to commit and simply takes the next number)."""
    carrier_id = _admin_carrier(actor)
    errors = catalogue.validate(data)
    if errors:
        raise CatalogueInvalid(errors)
    assert isinstance(data, Mapping)
    stored = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return _append_version(db_session, keyring, actor, carrier_id, stored, base_version, request_id)


def reset(*, db_session: Session, keyring: Keyring, actor: Actor, request_id: str | None = None) -> Version:
    """Back to the catalogue shipped with parcelguard, as a new version (data NULL); logged. Only the
    carrier's admin."""
    carrier_id = _admin_carrier(actor)
    return _append_version(db_session, keyring, actor, carrier_id, None, None, request_id)


def parse_edit(body: object) -> tuple[object, int | None]:
    """An edit as `PUT /catalogue` sends it: the catalogue, with the `version` it was read at (as
    `current_data` gives it) when the client wants `save` to refuse a lost update. A `version` that is
    not a version number is a 422 together with the catalogue's own errors."""
    if not isinstance(body, Mapping) or "version" not in body:
        return body, None
    data = {key: value for key, value in body.items() if key != "version"}
    base = body["version"]
    if isinstance(base, bool) or not isinstance(base, int) or base < 0:
        raise CatalogueInvalid([FieldError("/version", "field_type", "The version the edit started from: "
                                           "an integer, 0 or more."), *catalogue.validate(data)])
    return data, base


def _append_version(db_session: Session, keyring: Keyring, actor: Actor, carrier_id: uuid.UUID,
                    stored: str | None, base_version: int | None, request_id: str | None) -> Version:
    newest = db_session.scalar(select(CatalogueVersion.version).where(CatalogueVersion.carrier_id == carrier_id)
                               .order_by(CatalogueVersion.version.desc()).limit(1)) or 0
    if base_version is not None and base_version != newest:
        raise CatalogueConflict(newest)
    version, saved_at = newest + 1, now()
    insert = postgresql.insert if db_session.get_bind().dialect.name == "postgresql" else sqlite.insert
    # The primary key settles a race: a concurrent save of the same number commits first, this one
    # inserts nothing (on PostgreSQL it waits for the other transaction to end, then skips).
    written = db_session.execute(
        insert(CatalogueVersion).values(carrier_id=carrier_id, version=version, data=stored,
                                        saved_by=actor.user_id, saved_at=saved_at)
        .on_conflict_do_nothing(index_elements=["carrier_id", "version"])
        .returning(CatalogueVersion.version)
    ).first()
    if written is None:
        raise CatalogueConflict()
    digest = None if stored is None else _digest(stored)
    audit.log_admin_change(db_session=db_session, keyring=keyring, actor=actor,
                           subject=f"catalogue:{version}:" + ("shipped" if digest is None else f"sha256:{digest}"),
                           purpose=RESET_PURPOSE if digest is None else SAVE_PURPOSE, request_id=request_id)
    return Version(version=version, saved_by=actor.user_id, saved_at=saved_at, sha256=digest)


def _admin_carrier(actor: Actor) -> uuid.UUID:
    if actor.role != Role.ADMIN or actor.carrier_id is None:
        raise Forbidden("Only the carrier's admin edits its catalogue.", code="role_not_allowed")
    return actor.carrier_id


def _digest(stored: str) -> str:
    return hashlib.sha256(stored.encode()).hexdigest()
