"""Routes for virtual numbers: the telephony provider's webhooks (call routing, call records), a
courier's view of the calls to a parcel, and the pool. Thin: parse, call, shape.

The provider's routes take no bearer token: each request is signed (`X-Parcelguard-Signature`, see
`service.signature_header`). The signature is checked, and the carrier's request counted, before the
request's own transaction begins; a request that fails the check writes nothing and logs nothing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool

from parcelguard.audit import service as audit
from parcelguard.core import ratelimit
from parcelguard.core.auth import Actor, CurrentActor, Role, require
from parcelguard.core.db import SessionDep
from parcelguard.core.errors import TooManyRequests
from parcelguard.privacy_numbers import service
from parcelguard.privacy_numbers.schemas import (
    CallOutcomeOut,
    CallRecordIn,
    CallRecordOut,
    PoolIn,
    PoolNumberOut,
    PoolOut,
    ProviderSecretOut,
    RouteIn,
    RouteOut,
    SecretGenerationOut,
    SecretRotationIn,
    SecretRotationOut,
    ShipmentCallsOut,
)

router = APIRouter(tags=["virtual numbers"])
Admin = Annotated[Actor, require(Role.ADMIN)]
T = TypeVar("T", bound=BaseModel)


@dataclass(frozen=True)
class ProviderRequest:
    """A request the carrier's telephony provider signed: whose it is, and its body as signed."""

    carrier_id: uuid.UUID
    body: bytes

    def parse(self, model: type[T]) -> T:
        try:
            return model.model_validate_json(self.body)
        except ValidationError as exc:
            raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]) from None


def _authenticate(app: FastAPI, header: str | None, body: bytes, scope: str) -> uuid.UUID:
    """Check the signature in a short read of its own, then count the carrier's request: both before
    the route's session begins (on SQLite a writing request holds the write lock from its start)."""
    with app.state.sessionmaker() as session:
        carrier_id = service.authenticate_provider(db_session=session, keyring=app.state.keyring, header=header,
                                                   body=body)
        session.rollback()
    limiter = ratelimit.limiter_of(app)
    [decision] = limiter.count([(limiter.key(scope, str(carrier_id)), service.PROVIDER_RATE)])
    if not decision.allowed:
        raise TooManyRequests(f"Too many requests; try again in {decision.retry_after} seconds.", code="rate_limited",
                              headers={"Retry-After": str(decision.retry_after)},
                              extensions={"retry_after": decision.retry_after})
    return carrier_id


def _provider(scope: str) -> Any:
    async def signed(request: Request) -> ProviderRequest:
        body = await request.body()
        carrier_id = await run_in_threadpool(_authenticate, request.app, request.headers.get(service.SIGNATURE_HEADER),
                                             body, scope)
        return ProviderRequest(carrier_id=carrier_id, body=body)

    return Depends(signed)


def _signed_body(model: type[BaseModel]) -> dict[str, Any]:
    """The body of a signed route, which the route reads itself (the signature covers its exact bytes)."""
    return {
        "requestBody": {"required": True, "content": {"application/json": {"schema": model.model_json_schema()}}},
        "parameters": [{"name": service.SIGNATURE_HEADER, "in": "header", "required": True,
                        "schema": {"type": "string"},
                        "description": "`t=<unix seconds>,v1=<hex HMAC-SHA256(secret, \"<t>.\" + body)>`, "
                                       "within 300 s of the server's clock"}],
    }


Routing = Annotated[ProviderRequest, _provider("telephony-route")]
Recording = Annotated[ProviderRequest, _provider("telephony-records")]


@router.post("/privacy-numbers/route", response_model=RouteOut, openapi_extra=_signed_body(RouteIn),
             summary="Telephony provider: where to connect a call to a virtual number and extension",
             responses={401: {"description": "`signature_invalid`"}, 404: {"description": "`binding_unknown`"},
                        410: {"description": "`binding_expired`"}})
def route_call(provider: Routing, request: Request, db_session: SessionDep) -> RouteOut:
    """Answers `connect` with the recipient's real number, read through the gate (purpose
    `call_routing`, logged first) as the carrier's telephony service account; or a refusal:
    404 `binding_unknown` (no shipment was bound to the pair), 410 `binding_expired` (delivered and past
    the grace period). The caller's number is neither stored nor logged."""
    body = provider.parse(RouteIn)
    routed = service.route_call(
        db_session=db_session, keyring=request.app.state.keyring, carrier_id=provider.carrier_id, called=body.called,
        extension=body.extension, request_id=getattr(request.state, "request_id", None),
        gate_options=audit.GateOptions(head_every=request.app.state.settings.audit_head_every))
    return RouteOut(target=routed.target, binding=routed.binding_id, expires_at=routed.expires_at)


@router.post("/privacy-numbers/call-records", response_model=CallRecordOut, status_code=201,
             openapi_extra=_signed_body(CallRecordIn),
             summary="Telephony provider: the record of a call (stored once per call id)",
             responses={200: {"description": "Stored before: `{\"stored\": false}`, nothing changed"}})
def record_call(provider: Recording, response: Response, db_session: SessionDep) -> CallRecordOut:
    """Times and outcome only; the binding is the one that held the number and extension when the call
    started (so a late record still finds its parcel). A record no binding matches is kept without a
    parcel. Pushing the same call id again answers 200 `stored: false` and changes nothing."""
    body = provider.parse(CallRecordIn)
    stored = service.record_call(db_session=db_session, carrier_id=provider.carrier_id, call_id=body.call_id,
                                 called=body.called, extension=body.extension, started_at=body.started_at,
                                 ended_at=body.ended_at, outcome=body.outcome)
    if not stored:
        response.status_code = 200
    return CallRecordOut(stored=stored)


@router.get("/shipments/{shipment_id}/calls", response_model=ShipmentCallsOut,
            summary="The calls to a parcel's virtual number: times, duration and outcome, never a number")
def shipment_calls(shipment_id: uuid.UUID, actor: CurrentActor, db_session: SessionDep) -> ShipmentCallsOut:
    """For the courier who holds (or held) the parcel's delivery, and the station managers of its
    stations. Anyone else: 404 `shipment_unknown`."""
    calls = service.visible_call_outcomes(db_session=db_session, actor=actor, shipment_id=shipment_id)
    return ShipmentCallsOut(shipment_id=shipment_id, calls=[
        CallOutcomeOut(started_at=c.started_at, ended_at=c.ended_at, duration_s=c.duration_s, outcome=c.outcome)
        for c in calls])


def _pool_out(db_session: SessionDep, carrier_id: uuid.UUID, added: list[str] | None = None) -> PoolOut:
    return PoolOut(added=added or [], numbers=[
        PoolNumberOut(number=n.number, active=n.active, added_at=n.added_at, live_bindings=n.live_bindings,
                      free=n.free) for n in service.list_numbers(db_session=db_session, carrier_id=carrier_id)])


@router.get("/privacy-numbers/pool", response_model=PoolOut, summary="The carrier's pool of virtual numbers")
def list_pool(actor: Admin, db_session: SessionDep) -> PoolOut:
    assert actor.carrier_id is not None
    return _pool_out(db_session, actor.carrier_id)


@router.post("/privacy-numbers/pool", response_model=PoolOut, status_code=201,
             summary="Add numbers to the carrier's pool (all or none)")
def add_to_pool(body: PoolIn, actor: Admin, request: Request, db_session: SessionDep) -> PoolOut:
    """A bad item fails the request with 422 `numbers_invalid` and one error per item
    (`/numbers/<i>`: `number_format`, `number_duplicate`, `number_taken`); nothing is added. A number
    already in the pool is no error. Adding numbers is an entry of the audit log (`privacy_numbers:pool`):
    the pool decides where calls to the carrier's labels can be routed."""
    assert actor.carrier_id is not None
    added = service.add_numbers(db_session=db_session, carrier_id=actor.carrier_id, numbers=body.numbers)
    if added:
        audit.log_admin_change(db_session=db_session, keyring=request.app.state.keyring, actor=actor,
                               subject="privacy_numbers:pool", purpose="pool_add",
                               request_id=getattr(request.state, "request_id", None))
    return _pool_out(db_session, actor.carrier_id, added)


def _secrets_out(generations: list[service.SecretGeneration]) -> dict[str, Any]:
    shapes = [SecretGenerationOut(generation=g.generation, created_at=g.created_at, retires_at=g.retires_at)
              for g in generations]
    return {"current": shapes[0], "previous": shapes[1] if len(shapes) > 1 else None}


@router.get("/privacy-numbers/provider-secret", response_model=ProviderSecretOut,
            summary="Which telephony provider secrets work now (not the secrets)")
def provider_secret_status(actor: Admin, request: Request, db_session: SessionDep) -> ProviderSecretOut:
    assert actor.carrier_id is not None
    return ProviderSecretOut(**_secrets_out(service.provider_secrets(
        db_session=db_session, keyring=request.app.state.keyring, carrier_id=actor.carrier_id)))


@router.post("/privacy-numbers/provider-secret:rotate", response_model=SecretRotationOut, status_code=201,
             summary="Make a new telephony provider secret; the old one works for the overlap",
             responses={409: {"description": "`rotation_in_progress`"}})
def rotate_provider_secret(body: SecretRotationIn, actor: Admin, request: Request, response: Response,
                           db_session: SessionDep) -> SecretRotationOut:
    """The answer holds the new secret, once (`Cache-Control: no-store`). The replaced secret keeps
    working for `overlap_hours`; one replaced before it stops at once. A rotation is an entry of the
    audit log (`privacy_numbers:provider_secret`): the secret decides who may ask where calls route."""
    assert actor.carrier_id is not None
    keyring = request.app.state.keyring
    new = service.rotate_provider_secret(db_session=db_session, keyring=keyring, carrier_id=actor.carrier_id,
                                         overlap=timedelta(hours=body.overlap_hours))
    audit.log_admin_change(db_session=db_session, keyring=keyring, actor=actor,
                           subject="privacy_numbers:provider_secret", purpose="secret_rotate",
                           request_id=getattr(request.state, "request_id", None))
    response.headers["Cache-Control"] = "no-store"
    return SecretRotationOut(secret=new.secret, **_secrets_out(service.provider_secrets(
        db_session=db_session, keyring=keyring, carrier_id=actor.carrier_id)))
