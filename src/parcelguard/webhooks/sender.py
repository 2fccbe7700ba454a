"""Sends the queued webhook notices: claims the due ones, POSTs each signed, records each outcome.

Runs in the server's background (`web/app.py`) every second, or once from a test. A claim is a short
transaction of its own, the HTTP calls happen outside any transaction, and each outcome is recorded in
another, so a slow endpoint holds no lock. Each attempt resolves the host again and refuses a private
address unless private addresses are allowed (development), so a DNS name cannot be turned towards the
carrier's own network after it was registered.
"""

from __future__ import annotations

import ipaddress
import socket
from datetime import timedelta
from urllib.parse import urlsplit

import httpx
from sqlalchemy.orm import Session, sessionmaker

from parcelguard.core import db
from parcelguard.core.logging import get_logger
from parcelguard.crypto.keyring import Keyring
from parcelguard.crypto.request_signing import SIGNATURE_HEADER, signature_header
from parcelguard.webhooks import service

log = get_logger("parcelguard.webhooks")
BATCH = 50
LEASE = timedelta(seconds=60)
USER_AGENT = "parcelguard-webhooks/1"


def deliver_due(*, sessions: sessionmaker[Session], keyring: Keyring, client: httpx.Client, max_attempts: int,
                allow_private: bool, backoff_base: float = service.BACKOFF_BASE_SECONDS) -> int:
    """One pass: send every notice due now (up to `BATCH`); answers how many were attempted."""
    with sessions() as session, session.begin():
        db.begin_write(session)
        due = service.claim_due(db_session=session, keyring=keyring, limit=BATCH, lease=LEASE)
    for notice in due:
        status_code, error = _send(client, notice, allow_private=allow_private)
        with sessions() as session, session.begin():
            db.begin_write(session)
            outcome = service.record_attempt(db_session=session, delivery_id=notice.delivery_id,
                                             status_code=status_code, error=error, max_attempts=max_attempts,
                                             backoff_base=backoff_base)
        log.info("webhook attempt", delivery=str(notice.delivery_id), attempt=notice.attempts + 1,
                 status_code=status_code, error=error, outcome=outcome)
    return len(due)


def _send(client: httpx.Client, notice: service.Due, *, allow_private: bool) -> tuple[int | None, str | None]:
    host = urlsplit(notice.url).hostname or ""
    if not allow_private and _resolves_private(host):
        return None, "address_private"
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT,
               SIGNATURE_HEADER: signature_header(notice.secret, notice.payload)}
    try:
        response = client.post(notice.url, content=notice.payload, headers=headers)
    except httpx.TimeoutException:
        return None, "timeout"
    except httpx.HTTPError:
        return None, "connect_failed"
    if 200 <= response.status_code < 300:
        return response.status_code, None
    return response.status_code, f"http_{response.status_code}"


def _resolves_private(host: str) -> bool:
    if service.is_private_host(host):
        return True
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False  # the request itself then fails as connect_failed
    return any(not ipaddress.ip_address(info[4][0].split("%", 1)[0]).is_global for info in infos)


def client(timeout_seconds: float) -> httpx.Client:
    """The sender's HTTP client: no redirects followed (a redirect could point anywhere), a short timeout."""
    return httpx.Client(timeout=timeout_seconds, follow_redirects=False, trust_env=False)
