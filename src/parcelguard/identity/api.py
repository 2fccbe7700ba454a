"""Routes for the courier QR: a courier shows a signed token; anyone can check it. Thin."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from parcelguard.blacklist import client as blacklist_client
from parcelguard.core.auth import Actor, Role, require
from parcelguard.core.db import SessionDep
from parcelguard.core.errors import ServiceUnavailable
from parcelguard.core.ratelimit import Rule, per_address, rate_limit
from parcelguard.identity import otp, service
from parcelguard.identity.schemas import (
    CodeIn,
    CodeSentOut,
    CourierCheckOut,
    CourierTokenOut,
    RealNameTokenOut,
    RefreshIn,
    RegistrationIn,
    ResendIn,
    StaffDocumentIn,
)

router = APIRouter(tags=["couriers"])
Courier = Annotated[Actor, require(Role.COURIER)]
StaffManager = Annotated[Actor, require(Role.STATION_MANAGER, Role.HQ_SECURITY, Role.ADMIN)]


def _per_carrier_and_address(request: Request, address: str) -> Sequence[str]:
    return (request.path_params["carrier"], address)


def _per_registration(request: Request, _address: str) -> Sequence[str] | None:
    try:  # one counter per registration however its id is spelt; a malformed id goes nowhere (422)
        return (str(uuid.UUID(request.path_params["registration_id"])),)
    except ValueError:
        return None


# The public routes' limits (settings `rate_limit_*`; see docs/security.md). Counted before the route's
# transaction begins: a refused request writes nothing.
REGISTER_LIMITS = rate_limit(Rule("register/address", "rate_limit_register_per_address", per_address),
                             Rule("register/carrier-address", "rate_limit_register_per_carrier_address",
                                  _per_carrier_and_address))
REFRESH_LIMITS = rate_limit(Rule("refresh/registration", "rate_limit_refresh_per_registration",
                                 _per_registration),
                            Rule("refresh/address", "rate_limit_refresh_per_address", per_address))
VERIFY_LIMITS = rate_limit(Rule("verify/address", "rate_limit_verify_per_address", per_address))
CODE_LIMITS = rate_limit(Rule("otp-send/address", "rate_limit_otp_send_per_address", per_address))
CODE_CHECK_LIMITS = rate_limit(Rule("otp-verify/registration", "rate_limit_otp_verify_per_registration",
                                    _per_registration),
                               Rule("otp-verify/address", "rate_limit_otp_verify_per_address", per_address))


def _code_sent(sent: otp.CodeSent) -> CodeSentOut:
    return CodeSentOut(registration_id=sent.registration_id, status="code_sent",
                       code_expires_at=int(sent.expires_at.timestamp()), resend_at=int(sent.resend_at.timestamp()))


@router.put("/staff/{user_id}/document", status_code=204, tags=["staff"],
            summary="Register a staff member's own identity document (kept as a blind index only)")
def register_staff_document(user_id: uuid.UUID, body: StaffDocumentIn, request: Request, actor: StaffManager,
                            db_session: SessionDep) -> Response:
    """At onboarding: an intake whose sender document equals the taking courier's own then raises the
    alert `courier_own_id`. A station manager registers their own station's staff. With the industry
    blacklist configured, the document's industry hash is kept and the blacklist asked: a listed person is
    409 `staff_blacklisted` (nothing written) or an alert for HQ security, as the carrier's
    `blacklist_policy` says; 503 `blacklist_unreachable` when it cannot answer under `refuse`."""
    service.register_staff_document(db_session=db_session, keyring=request.app.state.keyring, actor=actor,
                                    user_id=user_id, doc_type=body.type, number=body.number,
                                    blacklist=blacklist_client.configured(request.app.state.settings),
                                    request_id=getattr(request.state, "request_id", None))
    return Response(status_code=204)


@router.post("/couriers/me/qr-token", response_model=CourierTokenOut,
             summary="A short-lived signed token for the courier's QR code")
def courier_token(request: Request, actor: Courier, db_session: SessionDep) -> CourierTokenOut:
    issued = service.courier_token(db_session=db_session, keyring=request.app.state.keyring, actor=actor)
    return CourierTokenOut(token=issued.token, expires_at=issued.expires_at)


@router.get("/public/couriers/verify", response_model=CourierCheckOut, dependencies=[VERIFY_LIMITS],
            summary="Is this courier genuine? (public: no sign-in; the same answer shape either way)")
def verify_courier(request: Request, db_session: SessionDep,
                   token: Annotated[str, Query(max_length=400)]) -> CourierCheckOut:
    check = service.verify_courier(db_session=db_session, keyring=request.app.state.keyring, token=token)
    return CourierCheckOut(genuine=check.genuine, reason=check.reason, carrier=check.carrier, station=check.station,
                           courier=check.courier, status=check.status)


@router.post("/public/carriers/{carrier}/realname", response_model=CodeSentOut, status_code=202,
             dependencies=[REGISTER_LIMITS], tags=["real-name QR"],
             summary="A sender registers once; a one-time code goes to the phone by SMS (public)")
def register_sender(carrier: str, body: RegistrationIn, request: Request, db_session: SessionDep) -> CodeSentOut:
    """The document is checked and sealed for the regulator at once; the carrier keeps a masked view. The
    registration is usable once the code sent to the phone comes back to `.../verify`."""
    key = request.app.state.regulator_public_key
    if key is None:
        raise ServiceUnavailable("Registration is off: no regulator public key is configured.",
                                 code="regulator_key_missing")
    sent = service.register_sender(db_session=db_session, keyring=request.app.state.keyring,
                                   sms=request.app.state.sms_sender, policy=otp.Policy.of(request.app.state.settings),
                                   carrier_slug=carrier, doc_type=body.document.type, number=body.document.number,
                                   name=body.document.name, phone=body.phone, regulator_public_key=key)
    return _code_sent(sent)


@router.post("/public/carriers/{carrier}/realname/{registration_id}/code", response_model=CodeSentOut,
             status_code=202, dependencies=[CODE_LIMITS], tags=["real-name QR"],
             summary="Send another one-time code to a registration's phone (public)")
def resend_code(carrier: str, registration_id: uuid.UUID, body: ResendIn, request: Request,
                db_session: SessionDep) -> CodeSentOut:
    """To the phone given at registration, which the sender gives again (another is answered as an unknown
    registration); the code before it stops working. No sooner than a minute after the last, at most 5
    an hour (`otp_too_soon`, with Retry-After)."""
    sent = otp.resend_code(db_session=db_session, keyring=request.app.state.keyring,
                           sender=request.app.state.sms_sender, policy=otp.Policy.of(request.app.state.settings),
                           carrier_slug=carrier, registration_id=registration_id, phone=body.phone)
    return _code_sent(sent)


@router.post("/public/carriers/{carrier}/realname/{registration_id}/verify", response_model=RealNameTokenOut,
             status_code=201, dependencies=[CODE_CHECK_LIMITS], tags=["real-name QR"],
             summary="Prove the phone with the SMS code; get the real-name QR token and refresh secret (public)")
def verify_sender(carrier: str, registration_id: uuid.UUID, body: CodeIn, request: Request,
                  db_session: SessionDep) -> RealNameTokenOut:
    """A wrong code is 422 `otp_invalid` (5 wrong kill the code: `otp_exhausted`); an old one `otp_expired`.
    The token (10 minutes) goes in a QR code the courier scans at pickup; `refresh_secret` fetches new ones."""
    issued = service.verify_sender(db_session=db_session, keyring=request.app.state.keyring,
                                   policy=otp.Policy.of(request.app.state.settings), carrier_slug=carrier,
                                   registration_id=registration_id, code=body.code)
    return RealNameTokenOut(registration_id=issued.registration_id, token=issued.token,
                            expires_at=issued.expires_at, refresh_secret=issued.refresh_secret)


@router.post("/public/carriers/{carrier}/realname/{registration_id}/token", response_model=RealNameTokenOut,
             dependencies=[REFRESH_LIMITS], tags=["real-name QR"],
             summary="A fresh real-name QR token (public; needs the refresh secret)")
def refresh_token(carrier: str, registration_id: uuid.UUID, body: RefreshIn, request: Request,
                  db_session: SessionDep) -> RealNameTokenOut:
    issued = service.refresh_realname_token(db_session=db_session, keyring=request.app.state.keyring,
                                            carrier_slug=carrier, registration_id=registration_id,
                                            secret=body.refresh_secret)
    return RealNameTokenOut(registration_id=issued.registration_id, token=issued.token, expires_at=issued.expires_at)
