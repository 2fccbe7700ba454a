"""Virtual numbers (隐私号, AXN with extension): a carrier's pool, the binding of shipments to
(number, extension) pairs, call routing through the gate, and call records. Knows nothing of HTTP.

A label carries `number,,extension`; the telephony provider asks `route_call` where to connect a call
to that pair, and the answer (the recipient's real number) comes out of `audit.service.reveal` as the
carrier's telephony service account, purpose `call_routing`, logged before it is read. A pair routes
only while its binding is live: until delivery plus the grace period (`start_grace`), after which the
next allocation releases it for reuse.

Allocation is the database's job, not this module's: candidate pairs are inserted with
`INSERT ... ON CONFLICT DO NOTHING` against the partial unique index on live pairs, so two shipments
never hold one pair whatever the concurrency; the rows that lost are tried again with other pairs.

The provider authenticates each request with an HMAC-SHA256 signature (RFC 2104) under the carrier's
provider secret; the wire format (`signature_header`, `check_signature`) is apart from the logic.
"""

from __future__ import annotations

import hmac
import json
import secrets
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, NoReturn

from sqlalchemy import Table, event, func, or_, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from parcelguard.accounts import service as accounts
from parcelguard.audit import service as audit
from parcelguard.core import db
from parcelguard.core.auth import Actor, Role
from parcelguard.core.clock import now
from parcelguard.core.config import Rate
from parcelguard.core.errors import (
    Conflict,
    DomainError,
    FieldError,
    Invalid,
    NotFound,
    ServiceUnavailable,
    Unauthorized,
)
from parcelguard.core.logging import get_logger
from parcelguard.crypto.blind_index import NotNormalisable, normalise_phone
from parcelguard.crypto.keyring import Keyring
from parcelguard.privacy_numbers.models import CallRecord, NumberBinding, PrivacyNumber, ProviderSecret
from parcelguard.shipments import service as shipments

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
    insert = postgresql.insert if postgres else sqlite.insert
    won: dict[uuid.UUID, Binding] = {}
    settled: set[uuid.UUID] = set()
    # In index order, chunks included, so concurrent allocators take the index's entries in one order.
    ordered = sorted(assigned, key=lambda item: item[1])
    for start in range(0, len(ordered), INSERT_CHUNK):
        chunk = ordered[start:start + INSERT_CHUNK]
        statement = insert(_bindings).values([
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
        number = _normalise_number(raw)
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


def _normalise_number(raw: str) -> str | None:
    try:
        number = normalise_phone(raw.strip())
    except NotNormalisable:
        return None
    return number if len(number) <= 16 else None


def list_numbers(*, db_session: Session, carrier_id: uuid.UUID) -> list[PoolNumber]:
    """The carrier's pool, with how many extensions of each number are bound."""
    live = dict(db_session.execute(
        select(_bindings.c.number, func.count()).where(_bindings.c.carrier_id == carrier_id,
                                                       _bindings.c.released_at.is_(None))
        .group_by(_bindings.c.number)).all())
    rows = db_session.execute(select(PrivacyNumber.number, PrivacyNumber.active, PrivacyNumber.added_at)
                              .where(PrivacyNumber.carrier_id == carrier_id).order_by(PrivacyNumber.number))
    return [PoolNumber(number=n, active=a, added_at=t, live_bindings=int(live.get(n, 0))) for n, a, t in rows]


# -- the telephony provider -----------------------------------------------------------------------

@dataclass(frozen=True)
class SecretGeneration:
    """A generation of the provider secret: the current one (`retires_at` None) or the one it replaced,
    still accepted until `retires_at`."""

    generation: int
    secret: str = field(repr=False)
    created_at: datetime | None
    retires_at: datetime | None


def _derived_secret(keyring: Keyring, db_session: Session, carrier_id: uuid.UUID, generation: int) -> str:
    # Derived, never stored: the carrier's stable key for the purpose, one per generation (generation 0 is
    # the secret carriers had before rotation existed). 64 hex digits; the HMAC key is their ASCII bytes.
    purpose = PROVIDER_KEY_PURPOSE if generation == 0 else f"{PROVIDER_KEY_PURPOSE}:{generation}"
    return keyring.stable_key(db_session=db_session, carrier_id=carrier_id, purpose=purpose).hex()


def provider_secrets(*, db_session: Session, keyring: Keyring, carrier_id: uuid.UUID,
                     at: datetime | None = None) -> list[SecretGeneration]:
    """The secrets a request of the carrier's provider may be signed with at `at`: the current one
    first, then the one it replaced while its overlap lasts."""
    at = at or now()
    rows = db_session.scalars(select(ProviderSecret).where(ProviderSecret.carrier_id == carrier_id)
                              .order_by(ProviderSecret.generation.desc())).all()
    if not rows:
        return [SecretGeneration(0, _derived_secret(keyring, db_session, carrier_id, 0), None, None)]
    # Generation 0's row is written when it is first rotated out; the secret itself is older than that.
    return [SecretGeneration(r.generation, _derived_secret(keyring, db_session, carrier_id, r.generation),
                             r.created_at if r.generation else None, r.retires_at)
            for r in rows if r.retires_at is None or r.retires_at > at]


def provider_secret(*, db_session: Session, keyring: Keyring, carrier_id: uuid.UUID) -> str:
    """The secret the carrier's provider signs requests with now (the current generation)."""
    return provider_secrets(db_session=db_session, keyring=keyring, carrier_id=carrier_id)[0].secret


def rotate_provider_secret(*, db_session: Session, keyring: Keyring, carrier_id: uuid.UUID,
                           overlap: timedelta = timedelta(hours=24)) -> SecretGeneration:
    """Make a new current secret and answer it. The one it replaces keeps working for `overlap` (0 to
    7 days: 0 when the old one leaked), so the provider can switch without dropping calls; any older one
    stops at once, so at most two ever work. Two rotations racing: one wins, the other is a Conflict
    (`rotation_in_progress`) and writes nothing. On SQLite take the write lock first (`db.begin_write`)."""
    if not timedelta(0) <= overlap <= MAX_SECRET_OVERLAP:
        raise Invalid(f"The overlap is 0 to {MAX_SECRET_OVERLAP.days * 24} hours.", code="overlap_range",
                      field="/overlap_hours")
    at = now()
    rows = db_session.scalars(select(ProviderSecret).where(ProviderSecret.carrier_id == carrier_id)
                              .order_by(ProviderSecret.generation.desc())).all()
    current = rows[0].generation if rows else 0
    try:
        with db_session.begin_nested():
            if not rows:  # the generation carriers signed with before rotation existed
                db_session.add(ProviderSecret(carrier_id=carrier_id, generation=0, created_at=at,
                                              retires_at=at + overlap))
            for row in rows:
                if row.generation == current:
                    row.retires_at = at + overlap
                elif row.retires_at is None or row.retires_at > at:
                    row.retires_at = at
            new = ProviderSecret(carrier_id=carrier_id, generation=current + 1, created_at=at, retires_at=None)
            db_session.add(new)
            db_session.flush()
    except IntegrityError:
        raise Conflict("Another rotation of this secret is under way; read the current one and try again.",
                       code="rotation_in_progress") from None
    return SecretGeneration(current + 1, _derived_secret(keyring, db_session, carrier_id, current + 1), at, None)


def signature_header(secret: str, body: bytes, *, timestamp: int | None = None) -> str:
    """`t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>`: what the provider sends as
    `X-Parcelguard-Signature` (the scheme Stripe's webhooks use)."""
    t = int(time.time()) if timestamp is None else timestamp
    return f"t={t},v1={_mac(secret, t, body)}"


def _mac(secret: str, t: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{t}.".encode() + body, "sha256").hexdigest()


def _parse_signature(header: str | None) -> tuple[int, list[str]] | None:
    if not header or len(header) > 1024:
        return None
    t: int | None = None
    macs = []
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t" and value.isdigit() and len(value) <= 12:
            t = int(value)
        elif key == "v1":
            macs.append(value.lower())
    return (t, macs) if t is not None and macs else None


def check_signature(secret: str, header: str | None, body: bytes, *, at: datetime | None = None) -> bool:
    """The header is fresh (within 300 s of `at`) and one of its `v1` values signs `body` (compared in
    constant time)."""
    parsed = _parse_signature(header)
    if parsed is None:
        return False
    t, macs = parsed
    if abs((at or now()).timestamp() - t) > SIGNATURE_TOLERANCE_SECONDS:
        return False
    expected = _mac(secret, t, body)
    return any(hmac.compare_digest(expected, mac) for mac in macs)


def authenticate_provider(*, db_session: Session, keyring: Keyring, header: str | None, body: bytes) -> uuid.UUID:
    """The carrier whose telephony provider signed this request: the one owning the `called` number of
    the body. Raises `SignatureInvalid`, also when the header is stale or no pool holds the number
    (without a carrier there is no secret to check against, and an unauthenticated caller learns nothing)."""
    at = now()
    parsed = _parse_signature(header)
    if parsed is None or abs(at.timestamp() - parsed[0]) > SIGNATURE_TOLERANCE_SECONDS:
        raise SignatureInvalid()
    try:
        called = json.loads(body).get("called")
    except (ValueError, AttributeError):
        raise SignatureInvalid() from None
    number = _normalise_number(called) if isinstance(called, str) and len(called) <= 32 else None
    carrier_id = None if number is None else db_session.scalar(
        select(PrivacyNumber.carrier_id).where(PrivacyNumber.number == number))
    if carrier_id is None:
        raise SignatureInvalid()
    # The current secret and, during a rotation's overlap, the one it replaced.
    if not any(check_signature(g.secret, header, body, at=at)
               for g in provider_secrets(db_session=db_session, keyring=keyring, carrier_id=carrier_id, at=at)):
        raise SignatureInvalid()
    return carrier_id


def telephony_actor(*, db_session: Session, carrier_id: uuid.UUID) -> Actor:
    """The carrier's telephony service account as the gate sees it, made on first need: role
    `telephony`, no station, and a random password nobody is told, so it cannot sign in."""
    username = f"telephony.{carrier_id.hex}"
    user = accounts.get_user_by_username(db_session=db_session, username=username)
    if user is None:
        try:
            with db_session.begin_nested():
                user = accounts.create_user(db_session=db_session, username=username,
                                            password=secrets.token_urlsafe(32), role=Role.TELEPHONY,
                                            display_name="Telephony provider (service account)",
                                            carrier_id=carrier_id)
        except (Conflict, IntegrityError):  # made meanwhile by a concurrent request
            user = accounts.get_user_by_username(db_session=db_session, username=username)
    if user is None or user.carrier_id != carrier_id or user.role != Role.TELEPHONY:
        raise Conflict("The telephony service account's username is taken by another account.",
                       code="telephony_account_conflict")
    return Actor(user_id=user.id, username=user.username, role=Role.TELEPHONY, carrier_id=carrier_id,
                 station_id=None, token_id=uuid.UUID(int=0))


@dataclass(frozen=True)
class Routed:
    """Where to connect a call: the recipient's real number (plaintext, from the gate)."""

    target: str
    binding_id: uuid.UUID
    expires_at: datetime | None
    log_index: int

    def __repr__(self) -> str:
        return f"Routed(target=<hidden>, binding_id={self.binding_id})"


def route_call(*, db_session: Session, keyring: Keyring, carrier_id: uuid.UUID, called: str, extension: str,
               request_id: str | None = None, gate_options: audit.GateOptions | None = None) -> Routed:
    """Where a call to (called, extension) goes: the recipient of the shipment bound to the pair,
    revealed through the gate (purpose `call_routing`) as the carrier's telephony service account.
    Raises `BindingUnknown` (404) when no shipment was ever bound to the pair, `BindingExpired` (410)
    when its binding is past the grace period or released. The caller's number is not an input."""
    number = _normalise_number(called)
    if number is None:
        raise BindingUnknown()
    at = now()
    pair = (_bindings.c.carrier_id == carrier_id, _bindings.c.number == number, _bindings.c.extension == extension)
    live = db_session.execute(select(_bindings.c.id, _bindings.c.shipment_id, _bindings.c.expires_at)
                              .where(*pair, _bindings.c.released_at.is_(None))).first()
    if live is None or (live.expires_at is not None and live.expires_at <= at):
        if live is not None or db_session.scalar(select(_bindings.c.id).where(*pair).limit(1)) is not None:
            raise BindingExpired()
        raise BindingUnknown()
    actor = telephony_actor(db_session=db_session, carrier_id=carrier_id)
    revealed = audit.reveal(db_session, actor, f"shipment:{live.shipment_id}", ["recipient_phone"], "call_routing",
                            keyring=keyring, request_id=request_id, options=gate_options or audit.GateOptions())
    phone = revealed.fields["recipient_phone"]
    try:
        target = normalise_phone(phone)
    except NotNormalisable:
        target = phone.strip()
    return Routed(target=target, binding_id=live.id, expires_at=live.expires_at, log_index=revealed.log_index)


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
    number = _normalise_number(called)
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
