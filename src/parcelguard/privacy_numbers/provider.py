"""Virtual numbers: the telephony provider. Its secret (rotated with an overlap), the HMAC-SHA256 signature
(RFC 2104) it signs each request with, its service account, and call routing through the gate: the
recipient's real number comes out of `audit.service.reveal`, purpose `call_routing`, logged before it
is read."""

from __future__ import annotations

import json
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from parcelguard.accounts import service as accounts
from parcelguard.audit import service as audit
from parcelguard.core.auth import Actor, Role
from parcelguard.core.clock import now
from parcelguard.core.errors import (
    Conflict,
    Invalid,
)
from parcelguard.crypto.blind_index import NotNormalisable, normalise_phone
from parcelguard.crypto.keyring import Keyring
from parcelguard.crypto.request_signing import check_signature, parse_signature
from parcelguard.privacy_numbers.bindings import (
    MAX_SECRET_OVERLAP,
    PROVIDER_KEY_PURPOSE,
    SIGNATURE_TOLERANCE_SECONDS,
    BindingExpired,
    BindingUnknown,
    SignatureInvalid,
    _bindings,
    normalise_number,
)
from parcelguard.privacy_numbers.models import PrivacyNumber, ProviderSecret

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


def authenticate_provider(*, db_session: Session, keyring: Keyring, header: str | None, body: bytes) -> uuid.UUID:
    """The carrier whose telephony provider signed this request: the one owning the `called` number of
    the body. Raises `SignatureInvalid`, also when the header is stale or no pool holds the number
    (without a carrier there is no secret to check against, and an unauthenticated caller learns nothing)."""
    at = now()
    parsed = parse_signature(header)
    if parsed is None or abs(at.timestamp() - parsed[0]) > SIGNATURE_TOLERANCE_SECONDS:
        raise SignatureInvalid()
    try:
        called = json.loads(body).get("called")
    except (ValueError, AttributeError):
        raise SignatureInvalid() from None
    number = normalise_number(called) if isinstance(called, str) and len(called) <= 32 else None
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
    number = normalise_number(called)
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
