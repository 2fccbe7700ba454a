"""Entries as the platform's operator sees them, and appeals: a listed person appeals against an entry through
a carrier or the operator; the operator decides `upheld` (the entry stays listed) or `removed` (the entry is
marked removed, with the appeal, the time and the reason, and answers `listed: false` from then on). Nothing is
deleted: the entry, its signature and the appeal stay on record. No HTTP: `parcelguard blacklist entries ...`
and `... appeals ...`.

To find a person's entries the operator needs their `person` (the carriers' keyed hash of the document, which
a carrier computes with `parcelguard blacklist person-hash`): the platform cannot compute it, by design.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from parcelguard.blacklist import protocol
from parcelguard.blacklist.platform.keys import BlacklistKeys
from parcelguard.blacklist.platform.models import (
    LISTED,
    OPEN,
    REMOVED,
    UPHELD,
    Appeal,
    CarrierKey,
    Entry,
    RegisteredCarrier,
)
from parcelguard.core.clock import now
from parcelguard.core.errors import Conflict, Invalid, NotFound

DECISIONS = (UPHELD, REMOVED)
MAX_TEXT = 500
_DIGIT_RUN = re.compile(r"\d{11,}")


def check_text(value: str | None, *, code: str, field: str) -> str:
    """An appeal's grounds or a decision's reason: 2 to 500 characters, white space folded, and no run of 11
    or more digits (a document or a phone number has no place here; the person is the entry's, not a text's)."""
    text = " ".join(value.split()) if isinstance(value, str) else ""
    if not 2 <= len(text) <= MAX_TEXT:
        raise Invalid(f"Write 2 to {MAX_TEXT} characters.", code=code, field=field)
    if _DIGIT_RUN.search(text):
        raise Invalid("No document or phone numbers here: the entry names the person.", code="text_personal",
                      field=field)
    return text


@dataclass(frozen=True)
class EntryView:
    entry_id: uuid.UUID
    carrier: str
    key_id: str
    reason_code: str
    evidence_ref: str
    reported_at: datetime
    received_at: datetime
    status: str
    removed_at: datetime | None
    removed_by_appeal: uuid.UUID | None


def _entries(db_session: Session, *where: object) -> list[EntryView]:
    rows = db_session.execute(select(Entry, RegisteredCarrier.code).join(RegisteredCarrier)
                              .where(*where).order_by(Entry.received_at, Entry.entry_id)).all()
    return [EntryView(entry_id=e.entry_id, carrier=code, key_id=e.key_id, reason_code=e.reason_code,
                      evidence_ref=e.evidence_ref, reported_at=e.reported_at, received_at=e.received_at,
                      status=e.status, removed_at=e.removed_at, removed_by_appeal=e.removed_by_appeal)
            for e, code in rows]


def list_entries(*, db_session: Session, carrier: str | None = None, status: str | None = None) -> list[EntryView]:
    """Entries, oldest first, of one carrier (its code) and/or one status (listed, removed)."""
    where: list[object] = []
    if carrier is not None:
        where.append(RegisteredCarrier.code == carrier)
    if status is not None:
        where.append(Entry.status == status)
    return _entries(db_session, *where)


def find_entries(*, db_session: Session, keys: BlacklistKeys, person: bytes) -> list[EntryView]:
    """Every entry, listed or removed, about the person whose keyed hash is `person`."""
    return _entries(db_session, Entry.person_index == keys.person_index(person))


def get_entry(*, db_session: Session, entry_id: uuid.UUID) -> EntryView:
    found = _entries(db_session, Entry.entry_id == entry_id)
    if not found:
        raise NotFound("No such entry.", code="entry_unknown")
    return found[0]


def entry_signed(*, db_session: Session, keys: BlacklistKeys, entry_id: uuid.UUID, person: bytes) -> bool:
    """Whether the stored entry is about `person` and its stored signature is its carrier's over the report as
    sent: the audit that attributes an entry to the carrier that reported it (a revoked key still verifies
    what it signed before)."""
    entry = db_session.get(Entry, entry_id)
    if entry is None:
        raise NotFound("No such entry.", code="entry_unknown")
    if keys.person_index(person) != entry.person_index:
        return False
    carrier = db_session.get(RegisteredCarrier, entry.carrier_id)
    key = db_session.get(CarrierKey, (entry.carrier_id, entry.key_id))
    assert carrier is not None and key is not None
    sent = protocol.Report(carrier=carrier.code, key_id=entry.key_id, entry_id=entry.entry_id, person=person,
                           reason_code=entry.reason_code, evidence_ref=entry.evidence_ref,
                           reported_at=entry.reported_at)
    try:
        sent.verify(entry.signature, key.public_key)
    except protocol.ProtocolError:
        return False
    return True


@dataclass(frozen=True)
class AppealView:
    appeal_id: uuid.UUID
    entry_id: uuid.UUID
    opened_at: datetime
    via_carrier: str | None  # None: opened by the platform's operator
    grounds: str
    status: str
    decided_at: datetime | None
    decision_reason: str | None


def _appeal_view(appeal: Appeal, via: str | None) -> AppealView:
    return AppealView(appeal_id=appeal.id, entry_id=appeal.entry_id, opened_at=appeal.opened_at, via_carrier=via,
                      grounds=appeal.grounds, status=appeal.status, decided_at=appeal.decided_at,
                      decision_reason=appeal.decision_reason)


def open_appeal(*, db_session: Session, entry_id: uuid.UUID, grounds: str, via_carrier: str | None = None
                ) -> AppealView:
    """Open an appeal against a listed entry, through a carrier (its code) or the operator (None). 404
    `entry_unknown` or `carrier_unknown`; 409 `entry_removed`, or `appeal_open` while another is undecided."""
    grounds = check_text(grounds, code="grounds_format", field="/grounds")
    entry = db_session.get(Entry, entry_id)
    if entry is None:
        raise NotFound("No such entry.", code="entry_unknown")
    via_id = None
    if via_carrier is not None:
        via_id = db_session.scalar(select(RegisteredCarrier.id).where(RegisteredCarrier.code == via_carrier))
        if via_id is None:
            raise NotFound("No carrier is registered with this code.", code="carrier_unknown")
    if entry.status != LISTED:
        raise Conflict("The entry was removed already.", code="entry_removed")
    if db_session.scalar(select(Appeal.id).where(Appeal.entry_id == entry_id, Appeal.status == OPEN)) is not None:
        raise Conflict("An appeal against this entry is open: decide it first.", code="appeal_open")
    appeal = Appeal(entry_id=entry_id, opened_at=now(), via_carrier_id=via_id, grounds=grounds, status=OPEN)
    db_session.add(appeal)
    db_session.flush()
    return _appeal_view(appeal, via_carrier)


def decide(*, db_session: Session, appeal_id: uuid.UUID, decision: str, reason: str) -> AppealView:
    """Decide an open appeal: `upheld` keeps the entry listed; `removed` marks it removed (never deleted) with
    this appeal and the time. 404 `appeal_unknown`; 409 `appeal_decided` (the first decision is kept)."""
    if decision not in DECISIONS:
        raise Invalid("Decide upheld or removed.", code="decision_unknown", field="/decision")
    reason = check_text(reason, code="reason_format", field="/reason")
    appeal = db_session.get(Appeal, appeal_id, with_for_update=True)
    if appeal is None:
        raise NotFound("No such appeal.", code="appeal_unknown")
    if appeal.status != OPEN:
        raise Conflict("This appeal was decided before; that decision is kept.", code="appeal_decided")
    moment = now()
    appeal.status, appeal.decided_at, appeal.decision_reason = decision, moment, reason
    if decision == REMOVED:
        entry = db_session.get(Entry, appeal.entry_id, with_for_update=True)
        assert entry is not None
        entry.status, entry.removed_at, entry.removed_by_appeal = REMOVED, moment, appeal.id
    db_session.flush()
    return get_appeal(db_session=db_session, appeal_id=appeal.id)


def get_appeal(*, db_session: Session, appeal_id: uuid.UUID) -> AppealView:
    found = list_appeals(db_session=db_session, appeal_id=appeal_id)
    if not found:
        raise NotFound("No such appeal.", code="appeal_unknown")
    return found[0]


def list_appeals(*, db_session: Session, open_only: bool = False, appeal_id: uuid.UUID | None = None
                 ) -> list[AppealView]:
    via = aliased(RegisteredCarrier)
    query = (select(Appeal, via.code).outerjoin(via, via.id == Appeal.via_carrier_id)
             .order_by(Appeal.opened_at, Appeal.id))
    if open_only:
        query = query.where(Appeal.status == OPEN)
    if appeal_id is not None:
        query = query.where(Appeal.id == appeal_id)
    return [_appeal_view(appeal, code) for appeal, code in db_session.execute(query)]
