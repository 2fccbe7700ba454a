"""Virtual numbers: the records of calls, as the provider reports them, and who may read them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from parcelguard.core.auth import Actor, Role
from parcelguard.core.clock import now
from parcelguard.core.errors import (
    FieldError,
    Invalid,
)
from parcelguard.privacy_numbers.bindings import (
    SIGNATURE_TOLERANCE_SECONDS,
    Outcome,
    _bindings,
    _calls,
    normalise_number,
)
from parcelguard.shipments import service as shipments

# -- call records ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class CallOutcome:
    """One call to a shipment's virtual number as a courier may see it: never a number."""

    started_at: datetime
    ended_at: datetime | None
    duration_s: int | None
    outcome: str


def record_call(*, db_session: Session, carrier_id: uuid.UUID, call_id: str, called: str, extension: str,
                started_at: datetime, ended_at: datetime | None, outcome: Outcome | str) -> bool:
    """Store the provider's record of a call, once per (carrier, call id): answers whether this push
    stored it (a re-push answers False and changes nothing, whatever it says). The shipment is the one
    whose binding held (number, extension) at `started_at`, released or not, so a late record still
    finds it; a record that matches no binding is kept all the same, with no shipment (the provider
    bills it, and the carrier can reconcile), and no courier sees it. No number is stored."""
    errors = []
    if started_at.tzinfo is None or (ended_at is not None and ended_at.tzinfo is None):
        errors.append(FieldError("/started_at", "timezone_required", "Times carry a UTC offset (RFC 3339)."))
    elif ended_at is not None and ended_at < started_at:
        errors.append(FieldError("/ended_at", "ended_before_start", "A call ends after it starts."))
    elif started_at > now() + timedelta(seconds=SIGNATURE_TOLERANCE_SECONDS):
        errors.append(FieldError("/started_at", "started_in_future", "The call starts in the future."))
    if outcome not in Outcome._value2member_map_:
        errors.append(FieldError("/outcome", "outcome_unknown", f"One of {', '.join(Outcome)}."))
    number = normalise_number(called)
    if number is None:
        errors.append(FieldError("/called", "number_format", "Not a phone number."))
    if errors:
        raise Invalid("The call record is invalid: see errors.", code="call_record_invalid", errors=errors)
    binding = db_session.execute(
        select(_bindings.c.id, _bindings.c.shipment_id).where(
            _bindings.c.carrier_id == carrier_id, _bindings.c.number == number, _bindings.c.extension == extension,
            _bindings.c.bound_at <= started_at,
            or_(_bindings.c.released_at.is_(None), _bindings.c.released_at > started_at))
        .order_by(_bindings.c.bound_at.desc()).limit(1)).first()
    insert = postgresql.insert if db_session.get_bind().dialect.name == "postgresql" else sqlite.insert
    stored = db_session.execute(insert(_calls).values(
        id=uuid.uuid4(), carrier_id=carrier_id, provider_call_id=call_id,
        binding_id=None if binding is None else binding.id, shipment_id=None if binding is None else binding.shipment_id,
        started_at=started_at, ended_at=ended_at, outcome=str(outcome), received_at=now(),
    ).on_conflict_do_nothing(index_elements=["carrier_id", "provider_call_id"]).returning(_calls.c.id)).first()
    return stored is not None


def call_outcomes(*, db_session: Session, carrier_id: uuid.UUID, shipment_id: uuid.UUID) -> list[CallOutcome]:
    """The calls to a shipment's virtual number, oldest first: times, duration and outcome only."""
    rows = db_session.execute(select(_calls.c.started_at, _calls.c.ended_at, _calls.c.outcome).where(
        _calls.c.carrier_id == carrier_id, _calls.c.shipment_id == shipment_id).order_by(_calls.c.started_at))
    return [CallOutcome(started_at=s, ended_at=e, duration_s=None if e is None else int((e - s).total_seconds()),
                        outcome=o) for s, e, o in rows]


def visible_call_outcomes(*, db_session: Session, actor: Actor, shipment_id: uuid.UUID) -> list[CallOutcome]:
    """`call_outcomes` for a courier who holds or held the shipment's delivery, or a station manager of
    one of its stations. Anyone else (another role, another station, a courier never given the delivery):
    404, the very answer for a shipment that does not exist."""
    if actor.carrier_id is None or actor.role not in (Role.COURIER, Role.STATION_MANAGER):
        raise shipments.unknown_shipment()
    shipment = shipments.get(db_session=db_session, carrier_id=actor.carrier_id, shipment_id=shipment_id)
    if actor.role == Role.COURIER:
        allowed = bool(shipments.assignment_windows(db_session=db_session, carrier_id=actor.carrier_id,
                                                    shipment_id=shipment_id, courier_id=actor.user_id,
                                                    task=shipments.Task.DELIVERY.value))
    else:
        allowed = actor.station_id is not None and actor.station_id in (shipment.origin_station_id,
                                                                        shipment.destination_station_id)
    if not allowed:
        raise shipments.unknown_shipment()
    return call_outcomes(db_session=db_session, carrier_id=actor.carrier_id, shipment_id=shipment_id)
