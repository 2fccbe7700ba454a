"""Virtual numbers: the binding of shipments to (number, extension) pairs, and what every part of the
service shares (limits, outcomes, errors).

Allocation is the database's job, not this module's: candidate pairs are inserted with
`INSERT ... ON CONFLICT DO NOTHING` against the partial unique index on live pairs, so two shipments
never hold one pair whatever the concurrency; the rows that lost are tried again with other pairs.
"""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, NoReturn

from sqlalchemy import Table, Uuid, bindparam, event, func, or_, select, text, update
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from parcelguard.audit import service as audit
from parcelguard.core import db
from parcelguard.core.clock import now
from parcelguard.core.config import Rate
from parcelguard.core.db import UTCDateTime
from parcelguard.core.errors import (
    DomainError,
    NotFound,
    ServiceUnavailable,
    Unauthorized,
)
from parcelguard.core.logging import get_logger
from parcelguard.crypto.blind_index import NotNormalisable, normalise_phone
from parcelguard.privacy_numbers.models import CallRecord, NumberBinding, PrivacyNumber

EXTENSIONS = 10_000  # 0000-9999 behind each number
MAX_NUMBERS_PER_REQUEST = 1000
INSERT_CHUNK = 1000  # rows per INSERT statement (bind parameters stay far below both engines' limits)
RANDOM_ROUNDS = 2  # rounds of random candidates before the free pairs are read exactly
RELEASE_EVERY = 10.0  # seconds between sweeps of expired bindings per carrier and process (while pairs are easy)
MAX_ROUNDS = 64  # rounds lost to concurrent allocators before the pool counts as exhausted
PROVIDER_KEY_PURPOSE = "telephony_provider"
SIGNATURE_HEADER = "X-Parcelguard-Signature"
SIGNATURE_TOLERANCE_SECONDS = 300
MAX_SECRET_OVERLAP = timedelta(days=7)  # how long a rotated-out provider secret may keep working
# Requests a carrier's provider may make per minute (route and call records counted apart). A safety
# valve against a runaway provider; the gate's own ceilings for the telephony role bound the reveals.
PROVIDER_RATE = Rate(6000, 60)
_random = secrets.SystemRandom()
log = get_logger("parcelguard.privacy_numbers")
_bindings: Table = NumberBinding.__table__  # type: ignore[assignment]
_numbers: Table = PrivacyNumber.__table__  # type: ignore[assignment]
_calls: Table = CallRecord.__table__  # type: ignore[assignment]


class Outcome(StrEnum):
    ANSWERED = "answered"
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    POWERED_OFF = "powered_off"
    UNREACHABLE = "unreachable"
    NUMBER_INVALID = "number_invalid"


# -- errors ---------------------------------------------------------------------------------------

class NumberPoolExhausted(ServiceUnavailable):
    code = "number_pool_exhausted"

    def __init__(self) -> None:
        super().__init__("Every virtual number of this carrier is bound: add numbers to the pool "
                         "(`parcelguard numbers add`); HQ security is alerted.",
                         headers={"Retry-After": "60"})


class BindingUnknown(NotFound):
    code = "binding_unknown"

    def __init__(self) -> None:
        super().__init__("No shipment is bound to this number and extension.")


class BindingExpired(DomainError):
    status = 410
    code = "binding_expired"

    def __init__(self) -> None:
        super().__init__("This number and extension no longer route: the parcel was delivered and its grace "
                         "period is over.")


class SignatureInvalid(Unauthorized):
    code = "signature_invalid"

    def __init__(self) -> None:
        super().__init__(f"The {SIGNATURE_HEADER} header is missing, stale, or not a signature of this body under "
                         "the secret of the called number's carrier.",
                         headers={"WWW-Authenticate": f'HMAC-SHA256 header="{SIGNATURE_HEADER}"'})


# -- bindings -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Binding:
    """A shipment's (number, extension) pair, as a label prints it.

    `dial` is what a phone dials to reach the recipient: the number in E.164, two pauses, the
    extension (`+8657112345678,,0421`). Phone dialers read each `,` as a pause of about two seconds,
    time for the provider's voice menu to answer before the extension is keyed in; a person dials the
    number and types the extension when asked (转 0421)."""

    number: str
    extension: str
    bound_at: datetime
    expires_at: datetime | None

    @property
    def dial(self) -> str:
        return f"{self.number},,{self.extension}"


def _binding(row: Any) -> Binding:
    return Binding(number=row.number, extension=row.extension, bound_at=row.bound_at, expires_at=row.expires_at)


def bind_many(*, db_session: Session, carrier_id: uuid.UUID, shipment_ids: Sequence[uuid.UUID],
              new: bool = False) -> dict[uuid.UUID, Binding]:
    """Bind each shipment to a free (number, extension) pair of the carrier's pool, in the caller's
    transaction; a shipment that holds a live binding keeps it (`new`: the caller just made them, so
    none does and the check is skipped). Empty when the carrier has no active number (intake works
    without a pool). A batch of 1,000 costs a handful of statements.

    Expired bindings are released at most every RELEASE_EVERY seconds per carrier and process while
    random pairs win, and always before the free pairs are read exactly: a pool with room does not pay
    for the sweep on every intake, a full one always gets it.

    Raises `NumberPoolExhausted` (503) when the pool cannot take them all (and alerts HQ security once
    an hour, in a transaction of its own once the caller's ends). The caller's transaction is intact
    but holds part of the batch's bindings: it is meant to fail whole."""
    wanted = list(dict.fromkeys(shipment_ids))
    if not wanted:
        return {}
    numbers = list(db_session.scalars(select(PrivacyNumber.number).where(
        PrivacyNumber.carrier_id == carrier_id, PrivacyNumber.active.is_(True))))
    if not numbers:
        return {}
    at = now()
    swept = _sweep_due(db_session, carrier_id)
    if swept:
        release_expired(db_session=db_session, carrier_id=carrier_id, at=at)
    bound = {} if new else bindings_for(db_session=db_session, carrier_id=carrier_id, shipment_ids=wanted,
                                        routable_only=False)
    remaining = [sid for sid in wanted if sid not in bound]
    lost: set[tuple[str, str]] = set()  # pairs another binding holds, as learnt in this call
    rounds = 0
    exact = False
    while remaining:
        rounds += 1
        if rounds > MAX_ROUNDS:
            _exhausted(db_session, carrier_id, numbers, len(remaining))
        if exact:
            if not swept:
                release_expired(db_session=db_session, carrier_id=carrier_id, at=at)
                swept = True
            candidates = _free_pairs(db_session, numbers, len(remaining), lost)
            if not candidates:
                _exhausted(db_session, carrier_id, numbers, len(remaining))
        else:
            candidates = _random_pairs(numbers, len(remaining), lost)
        assigned = list(zip(remaining, candidates, strict=False))
        won, settled = _insert_pairs(db_session, carrier_id, assigned, at, guard=rounds > 1)
        bound.update(won)
        lost.update(pair for sid, pair in assigned if sid not in won and sid in settled)
        remaining = [sid for sid in remaining if sid not in bound]
        # Random pairs are cheap while the pool is roomy; once many lose (or keep losing), read which
        # pairs are free instead.
        if remaining and not exact and (rounds >= RANDOM_ROUNDS or len(remaining) * 4 > len(assigned)):
            exact = True
    return {sid: bound[sid] for sid in wanted}


_last_sweep: dict[tuple[int, uuid.UUID], float] = {}  # (engine, carrier) -> monotonic time of the last sweep


def _sweep_due(db_session: Session, carrier_id: uuid.UUID) -> bool:
    key = (id(db_session.get_bind()), carrier_id)
    moment = time.monotonic()
    if moment - _last_sweep.get(key, -RELEASE_EVERY) < RELEASE_EVERY:
        return False
    _last_sweep[key] = moment
    return True


def _random_pairs(numbers: Sequence[str], count: int, exclude: set[tuple[str, str]]) -> list[tuple[str, str]]:
    """`count` distinct random pairs of the pool (uniform over pairs), none of `exclude`."""
    room = len(numbers) * EXTENSIONS - len(exclude)
    count = min(count, max(room, 0))
    picked: set[tuple[str, str]] = set()
    while len(picked) < count:
        pair = (numbers[_random.randrange(len(numbers))], f"{_random.randrange(EXTENSIONS):04d}")
        if pair not in exclude:
            picked.add(pair)
    out = list(picked)
    _random.shuffle(out)
    return out


def _free_pairs(db_session: Session, numbers: Sequence[str], count: int,
                exclude: set[tuple[str, str]]) -> list[tuple[str, str]]:
    """Up to `count` random pairs that no live binding holds (as this transaction sees them), read from
    the roomiest numbers first; none of `exclude`."""
    live = dict(db_session.execute(
        select(_bindings.c.number, func.count()).where(_bindings.c.number.in_(numbers),
                                                       _bindings.c.released_at.is_(None))
        .group_by(_bindings.c.number)).all())
    order = list(numbers)
    _random.shuffle(order)
    order.sort(key=lambda n: live.get(n, 0))
    chosen, room = [], 0
    for number in order:
        free = EXTENSIONS - live.get(number, 0)
        if free <= 0:
            break
        chosen.append(number)
        room += free
        if room >= 2 * count + 64:
            break
    if not chosen:
        return []
    taken = set(db_session.execute(select(_bindings.c.number, _bindings.c.extension).where(
        _bindings.c.number.in_(chosen), _bindings.c.released_at.is_(None))).all())
    free_pairs = [(n, f"{e:04d}") for n in chosen for e in range(EXTENSIONS)]
    free_pairs = [p for p in free_pairs if p not in taken and p not in exclude]
    return _random.sample(free_pairs, min(count, len(free_pairs)))


def _insert_pairs(db_session: Session, carrier_id: uuid.UUID, assigned: Sequence[tuple[uuid.UUID, tuple[str, str]]],
                  at: datetime, *, guard: bool = True) -> tuple[dict[uuid.UUID, Binding], set[uuid.UUID]]:
    """Insert the bindings; those whose pair is live already are skipped. Answers the ones written, and
    the shipments whose try was decided (won, or lost to a live pair; not undone by a deadlock).

    `guard` runs each statement under a savepoint so a deadlock costs a round, not the transaction. The
    first round needs none: its pairs are taken in index order by one statement per chunk and chunks go
    in order too, while the transaction holds no pair yet, so no two allocators can wait on each other
    in a cycle (ordered locking). Only a later round, holding pairs from the first, can deadlock."""
    postgres = db_session.get_bind().dialect.name == "postgresql"
    won: dict[uuid.UUID, Binding] = {}
    settled: set[uuid.UUID] = set()
    # In index order, chunks included, so concurrent allocators take the index's entries in one order.
    ordered = sorted(assigned, key=lambda item: item[1])
    for start in range(0, len(ordered), INSERT_CHUNK):
        chunk = ordered[start:start + INSERT_CHUNK]
        statement: Any
        if postgres:  # one statement text whatever the count: prepared once, nothing compiled per row
            statement = _PG_INSERT.bindparams(
                ids=[uuid.uuid4() for _ in chunk], carrier_id=carrier_id, shipments=[sid for sid, _ in chunk],
                numbers=[number for _, (number, _) in chunk], extensions=[extension for _, (_, extension) in chunk],
                at=at)
        else:
            statement = sqlite.insert(_bindings).values([
                {"id": uuid.uuid4(), "carrier_id": carrier_id, "shipment_id": sid, "number": number,
                 "extension": extension, "bound_at": at, "expires_at": None, "released_at": None}
                for sid, (number, extension) in chunk
            ]).on_conflict_do_nothing(index_elements=["number", "extension"], index_where=text("released_at IS NULL")
                                      ).returning(_bindings.c.shipment_id, _bindings.c.number, _bindings.c.extension,
                                                  _bindings.c.bound_at, _bindings.c.expires_at)
        if not postgres or not guard:  # SQLite: one writer at a time, nothing to wait for or deadlock
            rows: list[Any] | None = list(db_session.execute(statement).all())
        else:
            rows = _insert_unless_deadlocked(db_session, statement)
        if rows is not None:
            won.update({row.shipment_id: _binding(row) for row in rows})
            settled.update(sid for sid, _ in chunk)
    return won, settled


# PostgreSQL: the chunk as arrays, inserted in their order (the ordered locking above), skipping live pairs.
_PG_INSERT = text("""
    INSERT INTO number_bindings (id, carrier_id, shipment_id, number, extension, bound_at)
    SELECT pair.id, :carrier_id, pair.shipment_id, pair.number, pair.extension, :at
    FROM unnest(CAST(:ids AS uuid[]), CAST(:shipments AS uuid[]), CAST(:numbers AS text[]),
                CAST(:extensions AS text[])) WITH ORDINALITY AS pair(id, shipment_id, number, extension, n)
    ORDER BY pair.n
    ON CONFLICT (number, extension) WHERE released_at IS NULL DO NOTHING
    RETURNING shipment_id, number, extension, bound_at, expires_at
""").bindparams(bindparam("carrier_id", type_=Uuid()), bindparam("at", type_=UTCDateTime())).columns(
    shipment_id=Uuid(), bound_at=UTCDateTime(), expires_at=UTCDateTime())


def _insert_unless_deadlocked(db_session: Session, statement: Any) -> list[Any] | None:
    """On PostgreSQL an insert waits on a concurrent transaction's uncommitted row for the same pair. Two
    allocators that each hold a pair the other wants (from earlier rounds) deadlock, and PostgreSQL
    cancels one statement: under a savepoint, that statement is undone and answers None, so its
    shipments go round again."""
    try:
        with db_session.begin_nested():
            return list(db_session.execute(statement).all())
    except DBAPIError as exc:
        if getattr(exc.orig, "sqlstate", None) != "40P01":  # deadlock_detected
            raise
        return None


def _exhausted(db_session: Session, carrier_id: uuid.UUID, numbers: Sequence[str], wanted: int) -> NoReturn:
    """Raise `NumberPoolExhausted`. HQ security's alert (once an hour) is written in a transaction of its
    own once the caller's ends (the failed request rolls back; on SQLite its write lock is released only
    then), so the alert outlives the request and the caller's transaction is left to the caller."""
    at = now()
    alert = {"carrier_id": carrier_id, "kind": "number_pool_exhausted",
             "dedupe_key": f"number_pool_exhausted:{audit.period_start(at, audit.Period.HOUR).isoformat()}",
             "detail": {"numbers": len(numbers), "pairs": len(numbers) * EXTENSIONS, "unbound": wanted,
                        "action": "add numbers: `parcelguard numbers add` or POST /api/v1/privacy-numbers/pool"}}
    _alert_when_transaction_ends(db_session, alert)
    raise NumberPoolExhausted()


_PENDING_ALERTS = "parcelguard.privacy_numbers.pending_alerts"


def _alert_when_transaction_ends(db_session: Session, alert: dict[str, Any]) -> None:
    pending: list[dict[str, Any]] | None = db_session.info.get(_PENDING_ALERTS)
    if pending is None:
        pending = db_session.info[_PENDING_ALERTS] = []
        engine = db_session.get_bind()

        def write(_session: Session, transaction: Any) -> None:
            if transaction.parent is not None or not pending:  # a savepoint ended, or nothing to write
                return
            alerts = list(pending)
            pending.clear()
            try:
                with Session(bind=engine) as own, own.begin():
                    db.begin_write(own)
                    for item in alerts:
                        audit.raise_alert(db_session=own, **item)
            except Exception:  # a lost alert must not hide the refusal the caller handles
                log.exception("alert not written", kinds=[item["kind"] for item in alerts])

        event.listen(db_session, "after_transaction_end", write)
    pending.append(alert)


def release_expired(*, db_session: Session, carrier_id: uuid.UUID, at: datetime | None = None) -> int:
    """Release the carrier's bindings past their grace period: their pairs may be bound again. Rows
    another transaction is releasing are skipped, not waited for."""
    at = at or now()
    expired = select(_bindings.c.id).where(_bindings.c.carrier_id == carrier_id, _bindings.c.released_at.is_(None),
                                           _bindings.c.expires_at < at).with_for_update(skip_locked=True)
    result = db_session.execute(update(_bindings).where(_bindings.c.id.in_(expired)).values(released_at=at))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def binding_for(*, db_session: Session, carrier_id: uuid.UUID, shipment_id: uuid.UUID) -> Binding | None:
    """The shipment's binding while it routes calls (bound, not released, not past its grace period)."""
    return bindings_for(db_session=db_session, carrier_id=carrier_id, shipment_ids=[shipment_id]).get(shipment_id)


def bindings_for(*, db_session: Session, carrier_id: uuid.UUID, shipment_ids: Sequence[uuid.UUID],
                 routable_only: bool = True) -> dict[uuid.UUID, Binding]:
    """`binding_for` of many shipments (a batch of labels): one query per 500 shipments. With
    `routable_only=False` a binding past its grace period but not yet released counts too."""
    at = now()
    found: dict[uuid.UUID, Binding] = {}
    ids = list(dict.fromkeys(shipment_ids))
    for start in range(0, len(ids), 500):
        query = select(_bindings.c.shipment_id, _bindings.c.number, _bindings.c.extension, _bindings.c.bound_at,
                       _bindings.c.expires_at).where(_bindings.c.carrier_id == carrier_id,
                                                     _bindings.c.shipment_id.in_(ids[start:start + 500]),
                                                     _bindings.c.released_at.is_(None))
        if routable_only:
            query = query.where(or_(_bindings.c.expires_at.is_(None), _bindings.c.expires_at > at))
        found.update({row.shipment_id: _binding(row) for row in db_session.execute(query)})
    return found


def start_grace(*, db_session: Session, carrier_id: uuid.UUID, shipment_id: uuid.UUID, delivered_at: datetime,
                grace: timedelta) -> None:
    """The parcel was delivered: its binding routes calls for `grace` more (`Settings.binding_grace_hours`),
    then stops (410) and is released at the next allocation. A shipment without a binding is left be."""
    if delivered_at.tzinfo is None:
        raise ValueError("delivered_at must be timezone-aware")
    db_session.execute(update(_bindings).where(_bindings.c.carrier_id == carrier_id,
                                               _bindings.c.shipment_id == shipment_id,
                                               _bindings.c.released_at.is_(None))
                       .values(expires_at=delivered_at + grace))

def normalise_number(raw: str) -> str | None:
    """A pool number in E.164, or None if it is none (the pool, routing and call records read numbers alike)."""
    try:
        number = normalise_phone(raw.strip())
    except NotNormalisable:
        return None
    return number if len(number) <= 16 else None
