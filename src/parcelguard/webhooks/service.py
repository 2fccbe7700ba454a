"""Webhooks for enterprise shippers: endpoints, their secrets, the notices of status changes and the
delivery log. Knows nothing of HTTP routes; the sending lives in `sender.py`.

A notice is queued in the very transaction that changed the parcel's status (an outbox), so a status
change and its notice exist together or not at all. It is signed like every request parcelguard signs
(`crypto.request_signing`: `X-Parcelguard-Signature: t=,v1=`, HMAC-SHA256 over the timestamp and the
body) with the endpoint's secret, which is derived, never stored, and shown only at creation and
rotation. Retries back off exponentially with full jitter; every attempt's outcome is in the log.
"""

from __future__ import annotations

import ipaddress
import json
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from parcelguard.core import db
from parcelguard.core.auth import Actor, Role
from parcelguard.core.clock import now
from parcelguard.core.errors import Forbidden, Invalid, NotFound
from parcelguard.crypto.keyring import Keyring
from parcelguard.webhooks.models import WebhookDelivery, WebhookEndpoint

KEY_PURPOSE = "webhook_secret"
EVENT_STATUS_CHANGED = "shipment.status_changed"
MAX_ENDPOINTS = 5  # per customer
BACKOFF_BASE_SECONDS = 10.0
BACKOFF_CAP_SECONDS = 6 * 3600.0


@dataclass(frozen=True)
class StatusChange:
    """What a notice says: no personal data, the parcel named by its waybill number."""

    carrier_id: uuid.UUID
    customer_id: uuid.UUID
    shipment_id: uuid.UUID
    waybill_no: str | None
    status: str
    event: str
    reason: str | None
    at: datetime
    city: str


def _secret(keyring: Keyring, db_session: Session, endpoint: WebhookEndpoint) -> str:
    # Derived from the carrier's stable key per endpoint and generation: a database dump holds no secret.
    purpose = f"{KEY_PURPOSE}:{endpoint.id}:{endpoint.generation}"
    return keyring.stable_key(db_session=db_session, carrier_id=endpoint.carrier_id, purpose=purpose).hex()


def secret_of(*, db_session: Session, keyring: Keyring, endpoint: WebhookEndpoint) -> str:
    return _secret(keyring, db_session, endpoint)


def check_url(url: str, *, allow_private: bool) -> str:
    """An endpoint's URL: https (http only where private addresses are allowed, i.e. development), a host,
    no credentials; a literal address in a private, loopback or link-local range only if allowed (the
    sender checks the resolved addresses again before each attempt)."""
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises ValueError for a port that is not a number in range
    except ValueError:
        raise Invalid("The URL must be an absolute https URL.", code="webhook_url_invalid", field="/url") from None
    if parts.scheme not in ("https", "http") or not parts.hostname or len(url) > 500:
        raise Invalid("The URL must be an absolute https URL.", code="webhook_url_invalid", field="/url")
    if parts.username or parts.password or parts.fragment:
        raise Invalid("The URL may not hold credentials or a fragment.", code="webhook_url_invalid", field="/url")
    if parts.scheme == "http" and not allow_private:
        raise Invalid("The URL must use https.", code="webhook_url_insecure", field="/url")
    if not allow_private and is_private_host(parts.hostname):
        raise Invalid("The URL's host is a private or local address.", code="webhook_url_private", field="/url")
    return url


def is_private_host(host: str) -> bool:
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return host.lower() in ("localhost",) or host.lower().endswith(".localhost")
    return not address.is_global


def _customer(actor: Actor) -> uuid.UUID:
    if actor.role != Role.ENTERPRISE or actor.carrier_id is None:
        raise Forbidden("Enterprise accounts keep webhooks.", code="role_not_allowed")
    return actor.user_id


@dataclass(frozen=True)
class Created:
    endpoint: WebhookEndpoint
    secret: str  # shown once


def create_endpoint(*, db_session: Session, keyring: Keyring, actor: Actor, url: str,
                    allow_private: bool) -> Created:
    customer_id = _customer(actor)
    url = check_url(url, allow_private=allow_private)
    count = len(list_endpoints(db_session=db_session, actor=actor))
    if count >= MAX_ENDPOINTS:
        raise Invalid(f"An account keeps at most {MAX_ENDPOINTS} webhooks.", code="webhook_limit", field="/url")
    endpoint = WebhookEndpoint(id=uuid.uuid4(), carrier_id=actor.carrier_id, customer_id=customer_id, url=url,
                               generation=0, active=True, created_at=now())
    db_session.add(endpoint)
    db_session.flush()
    return Created(endpoint, _secret(keyring, db_session, endpoint))


def list_endpoints(*, db_session: Session, actor: Actor) -> list[WebhookEndpoint]:
    customer_id = _customer(actor)
    return list(db_session.scalars(select(WebhookEndpoint).where(
        WebhookEndpoint.carrier_id == actor.carrier_id, WebhookEndpoint.customer_id == customer_id,
        WebhookEndpoint.active.is_(True)).order_by(WebhookEndpoint.created_at)))


def get_endpoint(*, db_session: Session, actor: Actor, endpoint_id: uuid.UUID) -> WebhookEndpoint:
    """The caller's own endpoint; another's is as unknown as a missing one."""
    customer_id = _customer(actor)
    endpoint = db_session.scalar(select(WebhookEndpoint).where(
        WebhookEndpoint.id == endpoint_id, WebhookEndpoint.carrier_id == actor.carrier_id,
        WebhookEndpoint.customer_id == customer_id, WebhookEndpoint.active.is_(True)))
    if endpoint is None:
        raise NotFound("No such webhook.", code="webhook_unknown")
    return endpoint


def rotate_secret(*, db_session: Session, keyring: Keyring, actor: Actor, endpoint_id: uuid.UUID) -> Created:
    """A new secret at once (the old one stops): the receiver takes the new one from the answer."""
    endpoint = get_endpoint(db_session=db_session, actor=actor, endpoint_id=endpoint_id)
    endpoint.generation += 1
    db_session.flush()
    return Created(endpoint, _secret(keyring, db_session, endpoint))


def disable_endpoint(*, db_session: Session, actor: Actor, endpoint_id: uuid.UUID) -> None:
    """Stop an endpoint; its pending notices fail at once (kept in the log)."""
    endpoint = get_endpoint(db_session=db_session, actor=actor, endpoint_id=endpoint_id)
    endpoint.active, endpoint.disabled_at = False, now()
    db_session.execute(update(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint.id,
                                                     WebhookDelivery.status == "pending")
                       .values(status="failed", last_error="endpoint_disabled"))


def deliveries(*, db_session: Session, actor: Actor, endpoint_id: uuid.UUID, limit: int = 100) -> list[WebhookDelivery]:
    """The endpoint's delivery log, newest first."""
    endpoint = get_endpoint(db_session=db_session, actor=actor, endpoint_id=endpoint_id)
    return list(db_session.scalars(select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint.id)
                                   .order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id).limit(limit)))


def enqueue(*, db_session: Session, changes: Sequence[StatusChange]) -> int:
    """Queue a notice of each change for every active endpoint of the parcel's customer, in the caller's
    transaction. Changes of parcels without a customer queue nothing (and cost no query)."""
    wanted = [c for c in changes if c.customer_id is not None]
    if not wanted:
        return 0
    customers = {(c.carrier_id, c.customer_id) for c in wanted}
    endpoints: dict[tuple[uuid.UUID, uuid.UUID], list[uuid.UUID]] = {}
    rows = db_session.execute(select(WebhookEndpoint.carrier_id, WebhookEndpoint.customer_id, WebhookEndpoint.id)
                              .where(WebhookEndpoint.customer_id.in_([c for _, c in customers]),
                                     WebhookEndpoint.active.is_(True)))
    for carrier_id, customer_id, endpoint_id in rows:
        if (carrier_id, customer_id) in customers:
            endpoints.setdefault((carrier_id, customer_id), []).append(endpoint_id)
    moment = now()
    queued = []
    for change in wanted:
        for endpoint_id in endpoints.get((change.carrier_id, change.customer_id), []):
            delivery_id = uuid.uuid4()
            queued.append({
                "id": delivery_id, "carrier_id": change.carrier_id, "endpoint_id": endpoint_id,
                "shipment_id": change.shipment_id, "event": EVENT_STATUS_CHANGED,
                "payload": _payload(delivery_id, change, moment), "status": "pending", "attempts": 0,
                "next_attempt_at": moment, "last_attempt_at": None, "last_status_code": None, "last_error": None,
                "delivered_at": None, "created_at": moment,
            })
    db.bulk_insert(db_session, WebhookDelivery, queued)
    return len(queued)


def _payload(delivery_id: uuid.UUID, change: StatusChange, moment: datetime) -> str:
    return json.dumps({
        "id": str(delivery_id), "type": EVENT_STATUS_CHANGED, "created_at": moment.isoformat(),
        "data": {"shipment_id": str(change.shipment_id), "waybill_no": change.waybill_no, "status": change.status,
                 "event": change.event, "reason": change.reason, "at": change.at.isoformat(), "city": change.city},
    }, ensure_ascii=False, separators=(",", ":"))


# -- what the sender needs ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Due:
    delivery_id: uuid.UUID
    url: str
    secret: str
    payload: bytes
    attempts: int  # made before this one


def claim_due(*, db_session: Session, keyring: Keyring, limit: int, lease: timedelta) -> list[Due]:
    """Pending notices whose time has come, taken for `lease` (their next attempt moves past it, so another
    process does not send them meanwhile; PostgreSQL skips rows another claim holds)."""
    moment = now()
    query = (select(WebhookDelivery, WebhookEndpoint).join(WebhookEndpoint,
                                                           WebhookEndpoint.id == WebhookDelivery.endpoint_id)
             .where(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= moment)
             .order_by(WebhookDelivery.next_attempt_at).limit(limit))
    if db_session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(of=WebhookDelivery, skip_locked=True)
    due = []
    for delivery, endpoint in db_session.execute(query).all():
        delivery.next_attempt_at = moment + lease
        due.append(Due(delivery.id, endpoint.url, _secret(keyring, db_session, endpoint), delivery.payload.encode(),
                       delivery.attempts))
    db_session.flush()
    return due


def record_attempt(*, db_session: Session, delivery_id: uuid.UUID, status_code: int | None, error: str | None,
                   max_attempts: int, backoff_base: float = BACKOFF_BASE_SECONDS) -> str:
    """An attempt's outcome: delivered on a 2xx; else tried again after a backoff, failed after the last."""
    delivery = db_session.get(WebhookDelivery, delivery_id)
    if delivery is None or delivery.status != "pending":
        return delivery.status if delivery else "unknown"
    moment = now()
    delivery.attempts += 1
    delivery.last_attempt_at, delivery.last_status_code, delivery.last_error = moment, status_code, error
    if status_code is not None and 200 <= status_code < 300 and error is None:
        delivery.status, delivery.delivered_at = "delivered", moment
    elif delivery.attempts >= max_attempts:
        delivery.status = "failed"
    else:
        delivery.next_attempt_at = moment + timedelta(seconds=backoff(delivery.attempts, backoff_base))
    db_session.flush()
    return delivery.status


def backoff(attempts: int, base: float = BACKOFF_BASE_SECONDS) -> float:
    """Seconds before the next try after `attempts` failed ones: exponential with full jitter (a random
    point below min(cap, base * 2^(attempts-1))), so many endpoints failing together do not retry in step."""
    ceiling = min(BACKOFF_CAP_SECONDS, base * 2 ** min(max(0, attempts - 1), 30))
    return secrets.SystemRandom().uniform(0, ceiling)
