"""Routes for an enterprise shipper's webhooks. Thin: parse, call, shape."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Request, Response

from parcelguard.core.auth import Actor, Role, require
from parcelguard.core.db import SessionDep
from parcelguard.webhooks import service
from parcelguard.webhooks.models import WebhookEndpoint
from parcelguard.webhooks.schemas import DeliveryOut, EndpointIn, EndpointOut, EndpointSecretOut

router = APIRouter(tags=["webhooks"])
Enterprise = Annotated[Actor, require(Role.ENTERPRISE)]


def _out(endpoint: WebhookEndpoint) -> EndpointOut:
    return EndpointOut(id=endpoint.id, url=endpoint.url, events=[service.EVENT_STATUS_CHANGED],
                       created_at=endpoint.created_at)


def _with_secret(created: service.Created, response: Response) -> EndpointSecretOut:
    response.headers["Cache-Control"] = "no-store"
    return EndpointSecretOut(**_out(created.endpoint).model_dump(), secret=created.secret)


@router.post("/webhooks", response_model=EndpointSecretOut, status_code=201,
             summary="Be told of your parcels' status changes: a signed POST to your URL")
def create_webhook(body: EndpointIn, actor: Enterprise, request: Request, response: Response,
                   db_session: SessionDep) -> EndpointSecretOut:
    """Every status change of the account's parcels (in transit, out for delivery, attempted, delivered,
    exception) is POSTed to the URL as JSON, signed with the secret answered here once. A notice not
    answered 2xx is tried again with exponential backoff (full jitter) up to
    `PARCELGUARD_WEBHOOK_MAX_ATTEMPTS` times; `GET /webhooks/{id}/deliveries` shows every attempt."""
    created = service.create_endpoint(db_session=db_session, keyring=request.app.state.keyring, actor=actor,
                                      url=body.url,
                                      allow_private=request.app.state.settings.webhook_allow_private_addresses)
    return _with_secret(created, response)


@router.get("/webhooks", response_model=list[EndpointOut], summary="Your webhooks (never their secrets)")
def list_webhooks(actor: Enterprise, db_session: SessionDep) -> list[EndpointOut]:
    return [_out(e) for e in service.list_endpoints(db_session=db_session, actor=actor)]


@router.post("/webhooks/{endpoint_id}/secret:rotate", response_model=EndpointSecretOut,
             summary="A new signing secret, at once (the old one stops)")
def rotate_webhook_secret(endpoint_id: uuid.UUID, actor: Enterprise, request: Request, response: Response,
                          db_session: SessionDep) -> EndpointSecretOut:
    created = service.rotate_secret(db_session=db_session, keyring=request.app.state.keyring, actor=actor,
                                    endpoint_id=endpoint_id)
    return _with_secret(created, response)


@router.delete("/webhooks/{endpoint_id}", status_code=204, summary="Stop a webhook; its pending notices fail")
def delete_webhook(endpoint_id: uuid.UUID, actor: Enterprise, db_session: SessionDep) -> Response:
    service.disable_endpoint(db_session=db_session, actor=actor, endpoint_id=endpoint_id)
    return Response(status_code=204)


@router.get("/webhooks/{endpoint_id}/deliveries", response_model=list[DeliveryOut],
            summary="The delivery log: each notice, its attempts and outcome, newest first")
def list_deliveries(endpoint_id: uuid.UUID, actor: Enterprise, db_session: SessionDep) -> list[DeliveryOut]:
    return [DeliveryOut(id=d.id, event=d.event, shipment_id=d.shipment_id, status=d.status, attempts=d.attempts,
                        last_status_code=d.last_status_code, last_error=d.last_error, created_at=d.created_at,
                        last_attempt_at=d.last_attempt_at,
                        next_attempt_at=d.next_attempt_at if d.status == "pending" else None,
                        delivered_at=d.delivered_at)
            for d in service.deliveries(db_session=db_session, actor=actor, endpoint_id=endpoint_id)]
