"""Virtual numbers: a carrier's pool of numbers."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from parcelguard.core.clock import now
from parcelguard.core.errors import (
    FieldError,
    Invalid,
)
from parcelguard.privacy_numbers.bindings import (
    EXTENSIONS,
    MAX_NUMBERS_PER_REQUEST,
    _bindings,
    _numbers,
    normalise_number,
)
from parcelguard.privacy_numbers.models import PrivacyNumber
from parcelguard.privacy_numbers.provider import telephony_actor

# -- the pool -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PoolNumber:
    number: str
    active: bool
    added_at: datetime
    live_bindings: int  # of EXTENSIONS

    @property
    def free(self) -> int:
        return EXTENSIONS - self.live_bindings


def add_numbers(*, db_session: Session, carrier_id: uuid.UUID, numbers: Sequence[str]) -> list[str]:
    """Add numbers (E.164, or national mainland forms) to the carrier's pool; answers those newly added,
    normalised. A number already in this pool is no error. Any bad item fails the whole call with one
    field error per item (`/numbers/<i>`: `number_format`, `number_duplicate`, `number_taken` for a
    number of another carrier) and writes nothing. Makes the carrier's telephony service account."""
    if isinstance(numbers, str) or not numbers:
        raise Invalid("Give at least one number.", code="numbers_empty", field="/numbers")
    if len(numbers) > MAX_NUMBERS_PER_REQUEST:
        raise Invalid(f"Give at most {MAX_NUMBERS_PER_REQUEST} numbers at once.", code="numbers_too_many",
                      field="/numbers")
    errors: list[FieldError] = []
    normalised: dict[str, int] = {}
    for i, raw in enumerate(numbers):
        number = normalise_number(raw)
        if number is None:
            errors.append(FieldError(f"/numbers/{i}", "number_format", "Not a phone number (E.164: +8657112345678)."))
        elif number in normalised:
            errors.append(FieldError(f"/numbers/{i}", "number_duplicate",
                                     f"The same number as /numbers/{normalised[number]}."))
        else:
            normalised[number] = i
    owners = dict(db_session.execute(select(PrivacyNumber.number, PrivacyNumber.carrier_id)
                                     .where(PrivacyNumber.number.in_(list(normalised)))).all())
    for number, i in normalised.items():
        if owners.get(number, carrier_id) != carrier_id:
            errors.append(FieldError(f"/numbers/{i}", "number_taken", "Another carrier's pool holds this number."))
    if errors:
        raise Invalid("Some numbers cannot be added: see errors; none was added.", code="numbers_invalid",
                      errors=sorted(errors, key=lambda e: int(e.pointer.rsplit("/", 1)[1])))
    new = [number for number in normalised if number not in owners]
    added: list[str] = []
    if new:
        insert = postgresql.insert if db_session.get_bind().dialect.name == "postgresql" else sqlite.insert
        at = now()
        added = list(db_session.scalars(insert(_numbers).values([
            {"number": number, "carrier_id": carrier_id, "active": True, "added_at": at} for number in new
        ]).on_conflict_do_nothing(index_elements=["number"]).returning(_numbers.c.number)))
        raced = [normalised[number] for number in new if number not in added]
        if raced:  # another carrier took it between the read and the write
            raise Invalid("Some numbers cannot be added: see errors; none was added.", code="numbers_invalid",
                          errors=[FieldError(f"/numbers/{i}", "number_taken",
                                             "Another carrier's pool holds this number.") for i in sorted(raced)])
    telephony_actor(db_session=db_session, carrier_id=carrier_id)
    return [number for number in new if number in added]




def list_numbers(*, db_session: Session, carrier_id: uuid.UUID) -> list[PoolNumber]:
    """The carrier's pool, with how many extensions of each number are bound."""
    live = dict(db_session.execute(
        select(_bindings.c.number, func.count()).where(_bindings.c.carrier_id == carrier_id,
                                                       _bindings.c.released_at.is_(None))
        .group_by(_bindings.c.number)).all())
    rows = db_session.execute(select(PrivacyNumber.number, PrivacyNumber.active, PrivacyNumber.added_at)
                              .where(PrivacyNumber.carrier_id == carrier_id).order_by(PrivacyNumber.number))
    return [PoolNumber(number=n, active=a, added_at=t, live_bindings=int(live.get(n, 0))) for n, a, t in rows]
