"""The blacklist's logic, no HTTP: register carriers and their keys, take in a signed report, answer a signed
query (listed or not, nothing more) and log it.

A request that does not parse is refused (422, the protocol's code and pointer); one whose carrier or key is
unknown or revoked (one answer for all three, 403 `carrier_key_unknown`), whose signature does not verify
(403 `request_signature`) or whose time is more than the tolerance from the platform's clock (403
`request_stale`) is refused too, and nothing is stored. A report sent again as it was (its entry id, same
content) is answered as the first time; another report under a stored entry id is refused (409
`entry_conflict`). A query is logged in the transaction that answers it; a query id used before is refused
(409 `query_replayed`), so a captured query cannot be replayed into the log as the carrier's.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session

from parcelguard.blacklist import protocol
from parcelguard.blacklist.platform.keys import BlacklistKeys
from parcelguard.blacklist.platform.models import LISTED, CarrierKey, Entry, QueryLogEntry, RegisteredCarrier
from parcelguard.core.clock import now
from parcelguard.core.db import begin_write
from parcelguard.core.errors import Conflict, Forbidden, Invalid, NotFound
from parcelguard.crypto import signing

DEFAULT_TOLERANCE = timedelta(seconds=300)


# -- carriers and their keys ------------------------------------------------------------------------

@dataclass(frozen=True)
class Registration:
    carrier_id: uuid.UUID
    code: str
    key_id: str
    carrier_created: bool
    key_added: bool


def register_carrier(*, db_session: Session, code: str, carrier_uuid: uuid.UUID, name: str,
                     public_key: bytes) -> Registration:
    """Register a carrier with an Ed25519 key for its reports and queries, or add a key to a registered one.
    The same registration again changes nothing; a revoked key cannot come back."""
    if not isinstance(code, str) or not protocol.CARRIER_CODE.match(code):
        raise Invalid("A carrier code: 1-32 lower-case letters, digits, dashes.", code="carrier_code_format",
                      field="/code")
    name = name.strip() if isinstance(name, str) else ""
    if not 0 < len(name) <= 200:
        raise Invalid("A carrier's name: 1 to 200 characters.", code="carrier_name_format", field="/name")
    if len(public_key) != 32:
        raise Invalid("An Ed25519 public key is 32 bytes.", code="public_key_format", field="/public_key")
    by_code = db_session.scalar(select(RegisteredCarrier).where(RegisteredCarrier.code == code))
    if by_code is not None and by_code.id != carrier_uuid:
        raise Conflict("Another carrier is registered with this code.", code="carrier_code_taken", field="/code")
    carrier = by_code or db_session.get(RegisteredCarrier, carrier_uuid)
    created = carrier is None
    if carrier is None:
        db_session.add(RegisteredCarrier(id=carrier_uuid, code=code, name=name, registered_at=now()))
    elif carrier.code != code:
        raise Conflict("This carrier is registered with another code.", code="carrier_registered",
                       field="/carrier_id")
    else:
        carrier.name = name
    key_id = signing.key_id(public_key)
    held = db_session.scalars(select(CarrierKey).where(CarrierKey.key_id == key_id)).all()
    if any(k.carrier_id != carrier_uuid for k in held):
        raise Conflict("This key is registered for another carrier.", code="carrier_key_taken", field="/public_key")
    key = next(iter(held), None)
    if key is not None and key.revoked_at is not None:
        raise Conflict("This key was revoked: register a new one.", code="carrier_key_revoked", field="/public_key")
    if key is None:
        db_session.flush()  # the carrier row first: the key names it
        db_session.add(CarrierKey(carrier_id=carrier_uuid, key_id=key_id, public_key=public_key, added_at=now()))
    db_session.flush()
    return Registration(carrier_id=carrier_uuid, code=code, key_id=key_id, carrier_created=created,
                        key_added=key is None)


def revoke_key(*, db_session: Session, code: str, key_id: str, reason: str | None = None) -> bool:
    """Revoke a carrier's key: what it signs is refused from now on (the entries it signed stay, attributable).
    False if it was revoked before (that revocation is kept). 404 `carrier_unknown`, `carrier_key_unknown`."""
    if reason is not None:
        reason = " ".join(reason.split())
        if not 2 <= len(reason) <= 200:
            raise Invalid("State the reason in 2 to 200 characters.", code="reason_format", field="/reason")
    if not db_session.in_transaction():
        begin_write(db_session)
    carrier_id = db_session.scalar(select(RegisteredCarrier.id).where(RegisteredCarrier.code == code))
    if carrier_id is None:
        raise NotFound("No carrier is registered with this code.", code="carrier_unknown")
    done = db_session.execute(
        update(CarrierKey)
        .where(CarrierKey.carrier_id == carrier_id, CarrierKey.key_id == key_id, CarrierKey.revoked_at.is_(None))
        .values(revoked_at=now(), revoke_reason=reason).execution_options(synchronize_session=False))
    if done.rowcount == 1:  # type: ignore[attr-defined]  (a CursorResult for an UPDATE)
        return True
    if db_session.get(CarrierKey, (carrier_id, key_id)) is None:
        raise NotFound("No such key for this carrier.", code="carrier_key_unknown")
    return False


@dataclass(frozen=True)
class CarrierView:
    code: str
    carrier_id: uuid.UUID
    name: str
    registered_at: datetime
    keys: tuple[tuple[str, datetime, datetime | None], ...]  # (key id, added, revoked), oldest first


def list_carriers(*, db_session: Session) -> list[CarrierView]:
    rows = db_session.execute(select(RegisteredCarrier, CarrierKey)
                              .outerjoin(CarrierKey, CarrierKey.carrier_id == RegisteredCarrier.id)
                              .order_by(RegisteredCarrier.code, CarrierKey.added_at)).all()
    found: dict[uuid.UUID, tuple[RegisteredCarrier, list[tuple[str, datetime, datetime | None]]]] = {}
    for carrier, key in rows:
        keys = found.setdefault(carrier.id, (carrier, []))[1]
        if key is not None:
            keys.append((key.key_id, key.added_at, key.revoked_at))
    return [CarrierView(code=c.code, carrier_id=c.id, name=c.name, registered_at=c.registered_at, keys=tuple(k))
            for c, k in found.values()]


# -- reports and queries ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Reported:
    entry_id: uuid.UUID
    status: str
    received_at: datetime
    created: bool  # False: the same report again, answered as the first time

    def wire(self) -> dict[str, Any]:
        return {"entry_id": str(self.entry_id), "status": self.status,
                "received_at": protocol.format_time(self.received_at)}


def report(*, db_session: Session, keys: BlacklistKeys, wire: object,
           tolerance: timedelta = DEFAULT_TOLERANCE) -> Reported:
    """Take in a carrier's signed report and store it as an entry (listed), with its signature."""
    try:
        parsed, signature = protocol.parse_report(wire)
    except protocol.ProtocolError as exc:
        raise Invalid(exc.detail, code=exc.code, field=exc.pointer) from None
    carrier_id = _verified(db_session, parsed, signature)
    index = keys.person_index(parsed.person)
    row = {"entry_id": parsed.entry_id, "carrier_id": carrier_id, "key_id": parsed.key_id, "person_index": index,
           "reason_code": parsed.reason_code, "evidence_ref": parsed.evidence_ref,
           "reported_at": parsed.reported_at, "signature": signature}
    stored = db_session.get(Entry, parsed.entry_id)
    if stored is None:
        _fresh(parsed.reported_at, tolerance)
        received_at = now()
        if _insert_new(db_session, Entry, {**row, "received_at": received_at, "status": LISTED}):
            return Reported(parsed.entry_id, LISTED, received_at, created=True)
        stored = db_session.get(Entry, parsed.entry_id)  # the same report, stored meanwhile
        assert stored is not None
    if any(getattr(stored, name) != value for name, value in row.items()):
        raise Conflict("Another report is stored under this entry id.", code="entry_conflict", field="/entry_id")
    return Reported(stored.entry_id, stored.status, stored.received_at, created=False)


def query(*, db_session: Session, keys: BlacklistKeys, wire: object,
          tolerance: timedelta = DEFAULT_TOLERANCE) -> bool:
    """Whether the person a carrier's signed query names is listed (an entry not removed). Logged first."""
    try:
        parsed, signature = protocol.parse_query(wire)
    except protocol.ProtocolError as exc:
        raise Invalid(exc.detail, code=exc.code, field=exc.pointer) from None
    carrier_id = _verified(db_session, parsed, signature)
    _fresh(parsed.sent_at, tolerance)
    listed = bool(db_session.scalar(select(exists().where(Entry.person_index == keys.person_index(parsed.person),
                                                          Entry.status == LISTED))))
    logged = _insert_new(db_session, QueryLogEntry, {
        "carrier_id": carrier_id, "query_id": parsed.query_id, "key_id": parsed.key_id, "sent_at": parsed.sent_at,
        "at": now(), "person_digest": keys.query_digest(carrier_id, parsed.person), "listed": listed})
    if not logged:
        raise Conflict("This query id was used before.", code="query_replayed", field="/query_id")
    return listed


def _verified(db_session: Session, request: protocol.Report | protocol.Query, signature: bytes) -> uuid.UUID:
    """The carrier's id, once its key in force verified the request; 403 otherwise (nothing stored)."""
    found = db_session.execute(
        select(CarrierKey.carrier_id, CarrierKey.public_key).join(RegisteredCarrier)
        .where(RegisteredCarrier.code == request.carrier, CarrierKey.key_id == request.key_id,
               CarrierKey.revoked_at.is_(None))).first()
    if found is None:
        raise Forbidden("The request names no key registered and in force for this carrier.",
                        code="carrier_key_unknown", field="/key_id")
    try:
        request.verify(signature, found[1])
    except protocol.ProtocolError as exc:
        raise Forbidden(exc.detail, code=exc.code, field=exc.pointer) from None
    carrier_id: uuid.UUID = found[0]
    return carrier_id


def _fresh(moment: datetime, tolerance: timedelta) -> None:
    if abs(now() - moment) > tolerance:
        raise Forbidden(f"The request's time is more than {int(tolerance.total_seconds())} s from the platform's "
                        "clock: send it anew.", code="request_stale")


def _insert_new(db_session: Session, model: Any, row: dict[str, Any]) -> bool:
    """INSERT ... ON CONFLICT (primary key) DO NOTHING; True if the row was written."""
    table = model.__table__
    if db_session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    keys = [c.name for c in table.primary_key]
    statement = insert(table).values(row).on_conflict_do_nothing(index_elements=keys).returning(*table.primary_key)
    return db_session.execute(statement).first() is not None  # (rowcount is -1 here on psycopg)
