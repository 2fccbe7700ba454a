"""Enterprise webhooks over real HTTP, on both engines: a status change of a customer's parcel reaches its
endpoint signed and timestamped, a failing endpoint is tried again with backoff until it answers, every
attempt is in the visible delivery log, and a notice never carries personal data."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from parcelguard.core import db
from parcelguard.core.auth import Role
from parcelguard.core.errors import Invalid
from parcelguard.crypto.keyring import Keyring
from parcelguard.crypto.request_signing import SIGNATURE_HEADER, check_signature
from parcelguard.webhooks import service
from parcelguard.webhooks.models import WebhookEndpoint
from tests.conftest import TEST_ROOT_KEY
from tests.servers import LiveServer, platform_process
from tests.shipments.test_contract_intake import CANARIES, make_agreement, parcel
from tests.support import count_rows, migrated_database
from tests.tenants import Tenant


class Receiver:
    """An endpoint on loopback that answers the given statuses in turn (the last one from then on) and
    keeps every request it got."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses
        self.got: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.got.append(({k.lower(): v for k, v in self.headers.items()}, body))
                status = receiver.statuses[min(len(receiver.got), len(receiver.statuses)) - 1]
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/parcels"

    def wait_for(self, n: int, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.got) < n and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(self.got) >= n, f"{len(self.got)} of {n} requests arrived"


@contextmanager
def receiving(statuses: list[int]) -> Iterator[Receiver]:
    receiver = Receiver(statuses)
    thread = threading.Thread(target=receiver.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.server.shutdown()


@dataclass
class Live:
    server: LiveServer
    tenant: Tenant


@pytest.fixture
def live(database_url: str, keyring: Keyring, tmp_path: Path) -> Iterator[Live]:
    """The platform with webhooks allowed to loopback (as in development), quick polls and short backoff,
    on a database of its own: every platform process sends the due notices of its database, and the suite's
    shared server (loopback refused) must not take this test's."""
    kind = "sqlite" if database_url.startswith("sqlite") else "postgresql"
    with migrated_database(kind, tmp_path) as url:
        engine = db.make_engine(url)
        try:
            tenant = Tenant.create(engine=engine, keyring=keyring)
            with platform_process(database_url=url, root_key=TEST_ROOT_KEY, log_path=tmp_path / "server.log",
                                  PARCELGUARD_WEBHOOK_ALLOW_PRIVATE_ADDRESSES="true",
                                  PARCELGUARD_WEBHOOK_POLL_SECONDS="0.2", PARCELGUARD_WEBHOOK_BACKOFF_BASE_SECONDS="0.5",
                                  PARCELGUARD_WEBHOOK_MAX_ATTEMPTS="3") as server:
                yield Live(server, tenant)
        finally:
            engine.dispose()


def settled_log(http: httpx.Client, endpoint: str, shop: dict[str, str], timeout: float = 30.0) -> list[dict]:
    """The endpoint's delivery log once no notice in it is pending any more (the sender records an
    attempt's outcome just after the endpoint answers)."""
    deadline = time.monotonic() + timeout
    while True:
        r = http.get(f"/api/v1/webhooks/{endpoint}/deliveries", headers=shop)
        assert r.status_code == 200
        log = r.json()
        if (log and all(d["status"] != "pending" for d in log)) or time.monotonic() > deadline:
            return list(log)
        time.sleep(0.2)


def shop_parcel(http: httpx.Client, tenant: Tenant) -> tuple[dict[str, str], dict[str, object]]:
    """The tenant's enterprise customer under an agreement, and a parcel it sent."""
    make_agreement(http, tenant, inspection_permille=0)
    shop = tenant.login(http, Role.ENTERPRISE)
    r = http.post("/api/v1/shipments:batch", json={"shipments": [parcel()]}, headers=shop)
    assert r.status_code == 200 and r.json()["accepted"] == 1, r.text
    return shop, r.json()["results"][0]["shipment"]


def test_a_status_change_reaches_the_endpoint_signed_after_a_failure_and_the_log_shows_both_attempts(
    live: Live,
) -> None:
    tenant = live.tenant
    with httpx.Client(base_url=live.server.url, timeout=30) as http, receiving([503, 200]) as receiver:
        shop, shipment = shop_parcel(http, tenant)
        created = http.post("/api/v1/webhooks", json={"url": receiver.url}, headers=shop)
        assert created.status_code == 201, created.text
        assert created.headers["cache-control"] == "no-store"
        endpoint, secret = created.json()["id"], created.json()["secret"]
        listed = http.get("/api/v1/webhooks", headers=shop).json()
        assert [e["id"] for e in listed] == [endpoint] and "secret" not in listed[0]

        sorter = tenant.login(http, Role.SORTER, station=1)
        scanned = http.post("/api/v1/scans", json={"waybill_no": shipment["waybill_no"], "event": "arrived"},
                            headers=sorter)
        assert scanned.status_code == 201, scanned.text
        # A second arrival is no status change: no second notice.
        assert http.post("/api/v1/scans", json={"waybill_no": shipment["waybill_no"], "event": "departed"},
                         headers=sorter).status_code == 201
        receiver.wait_for(2)
        time.sleep(1.5)
        assert len(receiver.got) == 2
        (_, first), (headers, body) = receiver.got
        assert first == body  # the retry sends the very same notice
        assert check_signature(secret, headers[SIGNATURE_HEADER.lower()], body)
        assert not check_signature(secret + "0", headers[SIGNATURE_HEADER.lower()], body)
        notice = json.loads(body)
        assert notice["type"] == "shipment.status_changed"
        assert notice["data"] | {"at": None} == {
            "shipment_id": shipment["id"], "waybill_no": shipment["waybill_no"], "status": "in_transit",
            "event": "arrived", "reason": None, "at": None, "city": "北京市"}
        for canary in CANARIES:
            assert canary not in body.decode()

        log = settled_log(http, endpoint, shop)
        assert [(d["status"], d["attempts"], d["last_status_code"]) for d in log] == [("delivered", 2, 200)]

        # Rotating the secret answers the new one once; notices are then signed with it.
        rotated = http.post(f"/api/v1/webhooks/{endpoint}/secret:rotate", headers=shop).json()["secret"]
        assert rotated != secret
        # Another account sees nothing of this endpoint; another role may not keep webhooks at all.
        other_shop = tenant.login(http, Role.ENTERPRISE, n=1)
        assert http.get(f"/api/v1/webhooks/{endpoint}/deliveries", headers=other_shop).json()["code"] == "webhook_unknown"
        assert http.get("/api/v1/webhooks", headers=sorter).json()["code"] == "role_not_allowed"


def test_a_notice_the_endpoint_never_takes_fails_after_the_last_attempt(live: Live) -> None:
    tenant = live.tenant
    with httpx.Client(base_url=live.server.url, timeout=30) as http, receiving([500]) as receiver:
        shop, shipment = shop_parcel(http, tenant)
        endpoint = http.post("/api/v1/webhooks", json={"url": receiver.url}, headers=shop).json()["id"]
        sorter = tenant.login(http, Role.SORTER)
        assert http.post("/api/v1/scans", json={"waybill_no": shipment["waybill_no"], "event": "exception",
                                                "reason": "damaged"}, headers=sorter).status_code == 201
        receiver.wait_for(3)
        log = settled_log(http, endpoint, shop)
        assert [(d["status"], d["attempts"], d["last_error"]) for d in log] == [("failed", 3, "http_500")]
        time.sleep(1)
        assert len(receiver.got) == 3


def test_bad_urls_are_refused_with_their_reason_and_nothing_is_written(
    http: httpx.Client, tenant: Tenant, database_url: str
) -> None:
    make_agreement(http, tenant)
    shop = tenant.login(http, Role.ENTERPRISE)
    before = count_rows(database_url, WebhookEndpoint, WebhookEndpoint.carrier_id == tenant.carrier_id)
    for url, code in [("ftp://example.com/x", "webhook_url_invalid"), ("not a url", "webhook_url_invalid"),
                      ("https://user:pw@example.com/", "webhook_url_invalid"),
                      ("http://example.com/hook", "webhook_url_insecure"),
                      ("https://127.0.0.1/hook", "webhook_url_private"), ("https://10.1.2.3/x", "webhook_url_private"),
                      ("https://[::1]/x", "webhook_url_private"), ("https://localhost/x", "webhook_url_private"),
                      ("https://example.com:99999/x", "webhook_url_invalid")]:
        r = http.post("/api/v1/webhooks", json={"url": url}, headers=shop)
        assert (r.status_code, r.json()["code"], r.json()["errors"][0]["pointer"]) == (422, code, "/url"), url
    assert count_rows(database_url, WebhookEndpoint, WebhookEndpoint.carrier_id == tenant.carrier_id) == before
    assert http.get(f"/api/v1/webhooks/{uuid.uuid4()}/deliveries", headers=shop).json()["code"] == "webhook_unknown"


@given(st.text(max_size=80), st.booleans())
def test_any_url_is_accepted_or_refused_with_a_stable_code(url: str, allow_private: bool) -> None:
    try:
        assert service.check_url(url, allow_private=allow_private) == url
    except Invalid as exc:
        assert exc.code in {"webhook_url_invalid", "webhook_url_insecure", "webhook_url_private"}


@given(st.integers(min_value=1, max_value=200), st.floats(min_value=0.1, max_value=100))
def test_backoff_stays_below_its_exponential_ceiling_and_the_cap(attempts: int, base: float) -> None:
    wait = service.backoff(attempts, base)
    assert 0 <= wait <= min(service.BACKOFF_CAP_SECONDS, base * 2 ** min(attempts - 1, 30))
