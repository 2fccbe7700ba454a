"""Legal holds (issue 15): HQ security or the admin holds a case's parcels so that their data outlives their
classes' retention while the case needs it. Placing a hold moves the parcels' encrypted values, unread, to the
class `legal_hold` (`shipments.reclass`), whose month is not shredded while any hold that moved data into it is in
force; releasing the case's holds lets that month go when its own retention is over. Both are entries of the
carrier's audit log (subject `hold:<case id>:<count>`). Knows nothing of HTTP.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from parcelguard.audit import service as audit
from parcelguard.core.auth import Actor, Role
from parcelguard.core.clock import now
from parcelguard.core.errors import DomainError, Forbidden, Invalid, NotFound
from parcelguard.crypto.keyring import Keyring
from parcelguard.retention.models import LegalHold
from parcelguard.shipments import reclass

HOLDERS = frozenset({Role.HQ_SECURITY, Role.ADMIN})
READERS = HOLDERS | {Role.AUDITOR}
MAX_HOLD = 500


class TooLate(DomainError):
    status = 410
    code = "data_destroyed"


def _carrier(actor: Actor, roles: frozenset[Role]) -> uuid.UUID:
    if actor.role not in roles or actor.carrier_id is None:
        raise Forbidden("Only HQ security and the admin place or release legal holds; auditors read them.",
                        code="role_forbidden")
    return actor.carrier_id


def readable_carrier(actor: Actor) -> uuid.UUID:
    """The actor's carrier, when they may read retention's plan, records and holds (403 otherwise)."""
    return _carrier(actor, READERS)


def _open_case(db_session: Session, actor: Actor, case_id: uuid.UUID) -> None:
    if case_id not in {c.id for c in audit.list_cases(db_session=db_session, actor=actor, open_only=True)}:
        raise NotFound("No open investigation case has this id.", code="case_unknown")


def place(*, db_session: Session, keyring: Keyring, actor: Actor, case_id: uuid.UUID,
          shipment_ids: Sequence[uuid.UUID], request_id: str | None = None) -> list[LegalHold]:
    """Hold these parcels for the case (an open one). A parcel already held for the case is not held twice."""
    carrier_id = _carrier(actor, HOLDERS)
    wanted = list(dict.fromkeys(shipment_ids))
    if not 0 < len(wanted) <= MAX_HOLD:
        raise Invalid(f"Hold 1 to {MAX_HOLD} parcels at once.", code="hold_count", field="/shipment_ids")
    _open_case(db_session, actor, case_id)
    held = set(db_session.scalars(select(LegalHold.shipment_id).where(
        LegalHold.case_id == case_id, LegalHold.released_at.is_(None), LegalHold.shipment_id.in_(wanted))))
    new = [s for s in wanted if s not in held]
    try:
        found = reclass.move_to_legal_hold(db_session=db_session, keyring=keyring, carrier_id=carrier_id,
                                           shipment_ids=new) if new else set()
    except reclass.ValuesGone:
        raise TooLate("A parcel's data was destroyed at the end of its retention already: it cannot be held.",
                      field="/shipment_ids") from None
    missing = [i for i, s in enumerate(wanted) if s not in held and s not in found]
    if missing:
        raise Invalid("No parcel of this carrier has this id.", code="shipment_unknown",
                      field=f"/shipment_ids/{missing[0]}")
    period, moment = now().strftime("%Y-%m"), now()
    rows = [LegalHold(carrier_id=carrier_id, case_id=case_id, shipment_id=s, moved_period=period,
                      placed_by=actor.user_id, placed_at=moment) for s in new]
    db_session.add_all(rows)
    db_session.flush()
    if rows:
        audit.log_event(db_session=db_session, keyring=keyring, carrier_id=carrier_id, actor=actor,
                        subject=f"hold:{case_id}:{len(rows)}", purpose="legal_hold_place", request_id=request_id)
    return rows


def release(*, db_session: Session, keyring: Keyring, actor: Actor, case_id: uuid.UUID,
            request_id: str | None = None) -> int:
    """Release every hold of the case; answers how many were in force."""
    carrier_id = _carrier(actor, HOLDERS)
    released = db_session.execute(update(LegalHold).where(
        LegalHold.carrier_id == carrier_id, LegalHold.case_id == case_id, LegalHold.released_at.is_(None))
        .values(released_at=now(), released_by=actor.user_id)).rowcount or 0
    if released:
        audit.log_event(db_session=db_session, keyring=keyring, carrier_id=carrier_id, actor=actor,
                        subject=f"hold:{case_id}:{released}", purpose="legal_hold_release", request_id=request_id)
    return int(released)


def listed(*, db_session: Session, actor: Actor, active_only: bool = True) -> list[LegalHold]:
    query = select(LegalHold).where(LegalHold.carrier_id == _carrier(actor, READERS))
    if active_only:
        query = query.where(LegalHold.released_at.is_(None))
    return list(db_session.scalars(query.order_by(LegalHold.placed_at.desc()).limit(1000)))


def held_months(*, db_session: Session, carrier_id: uuid.UUID) -> set[str]:
    """The months of `legal_hold` that a hold in force moved data into: not shredded."""
    return set(db_session.scalars(select(LegalHold.moved_period).where(
        LegalHold.carrier_id == carrier_id, LegalHold.released_at.is_(None)).distinct()))
