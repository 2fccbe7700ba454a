"""One-time codes (短信验证码) that prove a sender's phone before a real-name registration is usable.

A code is 6 digits from `secrets`, sent by SMS (identity/sms.py) and kept only as an HMAC-SHA256 under the
carrier's key for the purpose (`Keyring.stable_key`: HKDF with a label of its own), bound to the code's
row. It lives `otp_ttl_seconds`; after `otp_max_attempts` wrong tries it is dead (`otp_exhausted`); a new
one is sent no sooner than `otp_resend_seconds` after the last and at most `otp_sends_per_hour` times an
hour (`otp_too_soon`, 429 with Retry-After), and replaces the one before. Knows nothing of HTTP.
"""

from __future__ import annotations

import hmac
import math
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

import structlog
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from parcelguard.accounts import service as accounts
from parcelguard.core import clock
from parcelguard.core.config import Settings
from parcelguard.core.errors import Conflict, Invalid, NotFound, TooManyRequests
from parcelguard.core.phones import PhoneRefused, check_phone
from parcelguard.crypto.keyring import Keyring
from parcelguard.identity.models import RegistrationCode, SenderRegistration
from parcelguard.identity.sms import SmsSender

if TYPE_CHECKING:  # a type only: another domain's tables are reached through its service
    from parcelguard.accounts.models import Carrier

CODE_DIGITS = 6
KEY_PURPOSE = "realname-otp"
MAC_LABEL = b"parcelguard/otp/v1|"
HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class Policy:
    """The code's limits (settings `otp_*`)."""

    ttl_seconds: int = 300
    max_attempts: int = 5
    resend_seconds: int = 60
    sends_per_hour: int = 5

    @classmethod
    def of(cls, settings: Settings) -> Policy:
        return cls(ttl_seconds=settings.otp_ttl_seconds, max_attempts=settings.otp_max_attempts,
                   resend_seconds=settings.otp_resend_seconds, sends_per_hour=settings.otp_sends_per_hour)


# -- the code itself: pure functions ----------------------------------------------------------------

def new_code() -> str:
    """Six decimal digits, uniformly from the operating system's CSPRNG."""
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def code_mac(key: bytes, code_id: uuid.UUID, code: str) -> bytes:
    """What is stored of a code: its HMAC, bound to its row (a MAC copied to another row matches nothing)."""
    return hmac.digest(key, MAC_LABEL + code_id.bytes + code.encode(), "sha256")


def phone_mac(key: bytes, registration_id: uuid.UUID, phone_e164: str) -> bytes:
    """What a registration keeps to recognise its phone when a sender asks for another code: bound to the
    registration, so it links no two registrations of one number."""
    return hmac.digest(key, MAC_LABEL + b"phone|" + registration_id.bytes + phone_e164.encode(), "sha256")


def normalise(given: str) -> str | None:
    """The code a person typed, without spaces (`123 456`); None when it is not six ASCII digits."""
    code = "".join(given.split())
    return code if len(code) == CODE_DIGITS and code.isascii() and code.isdigit() else None


class Verdict(StrEnum):
    OK = "ok"
    INVALID = "otp_invalid"  # wrong: counts as a failure
    EXPIRED = "otp_expired"
    EXHAUSTED = "otp_exhausted"


def judge(*, key: bytes, code_id: uuid.UUID, stored_mac: bytes, expires_at: datetime, failures: int,
          given: str, at: datetime, max_attempts: int) -> Verdict:
    """The verdict on `given` for a code in this state. A dead or expired code is refused before any
    comparison; the comparison is of MACs, in constant time, a malformed answer included."""
    if failures >= max_attempts:
        return Verdict.EXHAUSTED
    if at >= expires_at:
        return Verdict.EXPIRED
    code = normalise(given)
    matches = hmac.compare_digest(code_mac(key, code_id, code or ""), stored_mac)
    return Verdict.OK if matches and code is not None else Verdict.INVALID


def message(carrier_name: str, code: str, policy: Policy) -> str:
    """The SMS text: the carrier's name as its signature (签名), the code, how long it lives."""
    minutes = max(1, policy.ttl_seconds // 60)
    return f"【{carrier_name}】实名登记验证码：{code}，{minutes}分钟内有效。请勿告诉他人；如非本人操作，请忽略。"


def wait_seconds(sent: list[datetime], at: datetime, policy: Policy) -> int:
    """Whole seconds before another code may be sent, given the send times of the last hour (oldest
    first); 0 when one may be sent now."""
    waits = [0.0]
    if sent:
        waits.append((sent[-1] + timedelta(seconds=policy.resend_seconds) - at).total_seconds())
    if len(sent) >= policy.sends_per_hour:
        waits.append((sent[len(sent) - policy.sends_per_hour] + HOUR - at).total_seconds())
    wait = max(waits)
    return max(1, math.ceil(wait)) if wait > 0 else 0


# -- codes of registrations ----------------------------------------------------------------------------

@dataclass(frozen=True)
class CodeSent:
    registration_id: uuid.UUID
    expires_at: datetime  # of the code
    resend_at: datetime  # when another may be sent (a minute on, or when the hour has room)


def _key(db_session: Session, keyring: Keyring, carrier_id: uuid.UUID) -> bytes:
    return keyring.stable_key(db_session=db_session, carrier_id=carrier_id, purpose=KEY_PURPOSE)


def _current(db_session: Session, registration_id: uuid.UUID) -> RegistrationCode | None:
    return db_session.scalar(select(RegistrationCode).where(RegistrationCode.registration_id == registration_id)
                             .order_by(RegistrationCode.sent_at.desc()).limit(1))


def pending_registration(*, db_session: Session, carrier_slug: str,
                         registration_id: uuid.UUID) -> tuple[Carrier, SenderRegistration]:
    """The carrier and a registration still waiting for its code, locked for the code's checks (two
    requests for one registration take turns); `registration_verified` once its phone is proved."""
    carrier = accounts.get_carrier_by_slug(db_session=db_session, slug=carrier_slug)
    row = None if carrier is None else db_session.scalar(select(SenderRegistration).where(
        SenderRegistration.id == registration_id, SenderRegistration.carrier_id == carrier.id).with_for_update())
    if carrier is None or row is None:
        raise NotFound("No such registration.", code="registration_unknown")
    if row.verified_at is not None:
        raise Conflict("This registration's phone is already proved: refresh its token instead.",
                       code="registration_verified")
    return carrier, row


def resend_code(*, db_session: Session, keyring: Keyring, sender: SmsSender, policy: Policy, carrier_slug: str,
                registration_id: uuid.UUID, phone: str) -> CodeSent:
    """Another code for a registration whose phone is not proved yet, to `phone` if it is the phone
    registered (compared by MAC: the stored number is not decrypted, promise 3); any other phone is
    answered as an unknown registration."""
    carrier, row = pending_registration(db_session=db_session, carrier_slug=carrier_slug,
                                        registration_id=registration_id)
    try:
        phone = check_phone(phone)
    except PhoneRefused as exc:
        raise Invalid(exc.detail, code=exc.code, field="/phone") from None
    given = phone_mac(_key(db_session, keyring, row.carrier_id), row.id, phone)
    if not hmac.compare_digest(row.phone_mac or bytes(32), given) or row.phone_mac is None:
        raise NotFound("No such registration.", code="registration_unknown")
    return send_code(db_session=db_session, keyring=keyring, sender=sender, registration=row,
                     carrier_slug=carrier.slug, carrier_name=carrier.name, policy=policy, phone=phone)


def send_code(*, db_session: Session, keyring: Keyring, sender: SmsSender, registration: SenderRegistration,
              carrier_slug: str, carrier_name: str, policy: Policy, phone: str) -> CodeSent:
    """Send a new code to `phone` (E.164: at registration the one just given, whose MAC the registration
    keeps from then on; at a resend the one `resend_code` checked) and keep the code's HMAC; the code
    before it is dead. Raises `otp_too_soon` (with Retry-After) within `resend_seconds` of the last or
    past `sends_per_hour`, and `sms_unavailable` when the SMS cannot go: the caller's transaction then
    writes nothing."""
    at = clock.now()
    codes = RegistrationCode.registration_id == registration.id
    sent = list(db_session.scalars(select(RegistrationCode.sent_at).where(codes, RegistrationCode.sent_at > at - HOUR)
                                   .order_by(RegistrationCode.sent_at)))
    wait = wait_seconds(sent, at, policy)
    if wait:
        raise TooManyRequests(f"A new code can be sent in {wait} seconds.", code="otp_too_soon",
                              headers={"Retry-After": str(wait)}, extensions={"retry_after": wait})
    db_session.execute(delete(RegistrationCode).where(codes, RegistrationCode.sent_at <= at - HOUR))
    key = _key(db_session, keyring, registration.carrier_id)
    code, code_id = new_code(), uuid.uuid4()
    expires_at = at + timedelta(seconds=policy.ttl_seconds)
    db_session.add(RegistrationCode(id=code_id, registration_id=registration.id, sent_at=at, expires_at=expires_at,
                                    code_mac=code_mac(key, code_id, code), failures=0))
    registration.phone_mac = registration.phone_mac or phone_mac(key, registration.id, phone)
    db_session.flush()
    # The log sender's line names the carrier and the registration through the log context; no sender
    # logs the number.
    with structlog.contextvars.bound_contextvars(carrier=carrier_slug, registration_id=str(registration.id)):
        sender.send(phone, message(carrier_name, code, policy))
    return CodeSent(registration.id, expires_at, at + timedelta(seconds=wait_seconds([*sent, at], at, policy)))


_REFUSALS = {
    Verdict.INVALID: "The code is wrong.",
    Verdict.EXPIRED: "The code has expired: ask for a new one.",
    Verdict.EXHAUSTED: "Too many wrong codes: ask for a new one.",
}


def verify_code(*, db_session: Session, keyring: Keyring, registration: SenderRegistration, given: str,
                policy: Policy) -> None:
    """Pass when `given` is the registration's current code: the registration is verified and its codes
    deleted. Otherwise raise `otp_invalid` (the failure is committed though the request fails: the
    count must hold), `otp_expired` or `otp_exhausted`, each at `/code`."""
    at = clock.now()
    current = _current(db_session, registration.id)
    if current is None:  # never sent (a registration older than codes) or long gone: as expired
        raise Invalid(_REFUSALS[Verdict.EXPIRED], code=Verdict.EXPIRED.value, field="/code")
    verdict = judge(key=_key(db_session, keyring, registration.carrier_id), code_id=current.id,
                    stored_mac=current.code_mac, expires_at=current.expires_at, failures=current.failures,
                    given=given, at=at, max_attempts=policy.max_attempts)
    if verdict is Verdict.OK:
        db_session.execute(delete(RegistrationCode).where(RegistrationCode.registration_id == registration.id))
        registration.verified_at = at
        db_session.flush()
        return
    extensions = {}
    if verdict is Verdict.INVALID:
        current.failures += 1
        extensions["attempts_left"] = max(0, policy.max_attempts - current.failures)
        db_session.commit()
    raise Invalid(_REFUSALS[verdict], code=verdict.value, field="/code", extensions=extensions)
