"""The public routes are rate limited: registration per address and per carrier, refresh per registration
and per address, the courier check per address. A refused request answers 429 `rate_limited` with
Retry-After and writes nothing; the next window lets the client in again; the counters hold no address."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import Engine, func, select

from parcelguard.core.config import Settings, encode_root_key
from parcelguard.core.ratelimit import RateCounter
from parcelguard.identity.documents import id_check_character
from parcelguard.identity.models import SenderRegistration
from parcelguard.web.app import create_app
from tests.conftest import TEST_ROOT_KEY
from tests.servers import TEST_REGULATOR_PUBLIC, app_in_thread, platform_process
from tests.tenants import Tenant

# A UTC midnight a month ahead: hour and day windows start exactly there, so Retry-After is known.
T0 = (int(datetime.now(UTC).timestamp()) // 86400 + 30) * 86400


class Clock:
    """The limiter's clock (parcelguard.core.clock.now), moved by the test."""

    def __init__(self) -> None:
        self.moment = float(T0)

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.moment, UTC)

    def advance(self, seconds: float) -> None:
        self.moment += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    moved = Clock()
    monkeypatch.setattr("parcelguard.core.clock.now", moved.now)
    return moved


Serve = Callable[..., str]


@pytest.fixture
def serve(database_url: str) -> Iterator[Serve]:
    """Start the platform with the given settings on the test database (in this process, so the clock
    fixture moves its limiter's clock); returns its URL."""
    with ExitStack() as stack:
        def start(**settings: object) -> str:
            keys = {"root_key": SecretStr(encode_root_key(TEST_ROOT_KEY)),
                    "regulator_public_key": encode_root_key(TEST_REGULATOR_PUBLIC)}
            app = create_app(Settings(database_url=database_url, **keys, **settings))
            return stack.enter_context(app_in_thread(app))
        yield start


def new_address() -> str:
    """A loopback address of this test's own (the whole of 127/8 reaches the server), so its counters are
    its own in the shared test database."""
    return f"127.{secrets.randbelow(254) + 1}.{secrets.randbelow(256)}.{secrets.randbelow(254) + 1}"


@pytest.fixture
def client() -> Iterator[Callable[[str, str], httpx.Client]]:
    """`client(url, address)`: an HTTP client whose requests come from `address`."""
    with ExitStack() as stack:
        def make(url: str, address: str) -> httpx.Client:
            transport = httpx.HTTPTransport(local_address=address)
            return stack.enter_context(httpx.Client(base_url=url, transport=transport, timeout=30))
        yield make


def registration() -> dict:
    body = "11010519800101" + f"{secrets.randbelow(1000):03d}"
    return {"document": {"type": "resident_id", "number": body + id_check_character(body), "name": "慕容寄件"},
            "phone": "13966667777"}


def register(http: httpx.Client, tenant: Tenant) -> httpx.Response:
    return http.post(f"/api/v1/public/carriers/{tenant.slug}/realname", json=registration())


def registrations(engine: Engine, tenant: Tenant) -> int:
    with engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(SenderRegistration)
                           .where(SenderRegistration.carrier_id == tenant.carrier_id)) or 0


def assert_rate_limited(r: httpx.Response, retry_after: int) -> None:
    assert r.status_code == 429, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.headers["retry-after"] == str(retry_after)
    body = r.json()
    assert (body["code"], body["status"], body["retry_after"]) == ("rate_limited", 429, retry_after)
    assert body["type"].endswith(":rate_limited") and f"{retry_after} seconds" in body["detail"]


def test_the_eleventh_registration_from_one_address_in_an_hour_is_refused_and_writes_nothing(
    serve: Serve, client: Callable[[str, str], httpx.Client], clock: Clock, engine: Engine, tenant: Tenant
) -> None:
    url = serve()  # the default limits
    http = client(url, new_address())
    for _ in range(10):
        assert register(http, tenant).status_code == 201
    clock.advance(1200)
    refused = register(http, tenant)
    assert_rate_limited(refused, 2400)
    assert registrations(engine, tenant) == 10
    assert "registration_id" not in refused.text

    # Another address is not affected; this one is let in again when the hour is over.
    assert register(client(url, new_address()), tenant).status_code == 201
    clock.advance(2399)
    assert_rate_limited(register(http, tenant), 1)
    clock.advance(1)
    assert register(http, tenant).status_code == 201
    assert registrations(engine, tenant) == 12


def test_limits_come_from_the_settings_and_count_per_carrier_for_the_day(
    serve: Serve, client: Callable[[str, str], httpx.Client], clock: Clock, engine: Engine, tenant: Tenant,
    other_tenant: Tenant,
) -> None:
    url = serve(rate_limit_register_per_address="100/hour", rate_limit_register_per_carrier_address="2/day")
    http = client(url, new_address())
    assert [register(http, tenant).status_code for _ in range(2)] == [201, 201]
    clock.advance(3600 * 5)
    assert_rate_limited(register(http, tenant), 86400 - 3600 * 5)
    assert register(http, other_tenant).status_code == 201  # the limit is per carrier
    clock.advance(86400 - 3600 * 5)
    assert register(http, tenant).status_code == 201
    assert registrations(engine, tenant) == 3


def test_a_refused_request_counts_even_when_it_was_invalid(
    serve: Serve, client: Callable[[str, str], httpx.Client], clock: Clock, tenant: Tenant
) -> None:
    """Malformed registrations and unknown carriers cost their sender the same: no free probing."""
    url = serve(rate_limit_register_per_address="2/hour")
    http = client(url, new_address())
    malformed = http.post(f"/api/v1/public/carriers/{tenant.slug}/realname", json={"document": {}})
    assert malformed.status_code == 422
    unknown = http.post("/api/v1/public/carriers/no-such-carrier/realname", json=registration())
    assert unknown.status_code == 404
    assert_rate_limited(register(http, tenant), 3600)


def test_guessing_a_refresh_secret_is_stopped_per_registration(
    serve: Serve, client: Callable[[str, str], httpx.Client], clock: Clock, tenant: Tenant
) -> None:
    url = serve(rate_limit_refresh_per_registration="3/hour")
    sender = client(url, new_address())
    registered = register(sender, tenant).json()
    path = f"/api/v1/public/carriers/{tenant.slug}/realname/{registered['registration_id']}/token"

    guesser = client(url, new_address())
    for _ in range(3):
        assert guesser.post(path, json={"refresh_secret": secrets.token_urlsafe(32)}).status_code == 404
    # Past the limit even the right secret is refused, from any address, however the id is spelt:
    # a guess that happens to be right cannot tell.
    assert_rate_limited(guesser.post(path, json={"refresh_secret": registered["refresh_secret"]}), 3600)
    spelt = path.replace(registered["registration_id"], registered["registration_id"].upper())
    assert_rate_limited(sender.post(spelt, json={"refresh_secret": registered["refresh_secret"]}), 3600)
    other = register(sender, tenant).json()  # another registration is not affected
    assert sender.post(f"/api/v1/public/carriers/{tenant.slug}/realname/{other['registration_id']}/token",
                       json={"refresh_secret": other["refresh_secret"]}).status_code == 200

    clock.advance(3600)
    refreshed = sender.post(path, json={"refresh_secret": registered["refresh_secret"]})
    assert refreshed.status_code == 200 and refreshed.json()["token"]


def test_one_address_cannot_spread_guesses_over_many_registrations(
    serve: Serve, client: Callable[[str, str], httpx.Client], clock: Clock, tenant: Tenant
) -> None:
    url = serve(rate_limit_refresh_per_address="3/hour")
    http = client(url, new_address())
    for _ in range(3):
        answer = http.post(f"/api/v1/public/carriers/{tenant.slug}/realname/{uuid.uuid4()}/token",
                           json={"refresh_secret": "guess"})
        assert answer.json()["code"] == "registration_unknown"
    assert_rate_limited(http.post(f"/api/v1/public/carriers/{tenant.slug}/realname/{uuid.uuid4()}/token",
                                  json={"refresh_secret": "guess"}), 3600)


def test_checking_couriers_is_limited_per_address_per_minute(
    serve: Serve, client: Callable[[str, str], httpx.Client], clock: Clock
) -> None:
    url = serve(rate_limit_verify_per_address="2/minute")
    http = client(url, new_address())
    clock.advance(15)
    for _ in range(2):
        check = http.get("/api/v1/public/couriers/verify", params={"token": "not-a-token"})
        assert check.json()["genuine"] is False
    assert_rate_limited(http.get("/api/v1/public/couriers/verify", params={"token": "not-a-token"}), 45)
    assert client(url, new_address()).get("/api/v1/public/couriers/verify",
                                          params={"token": "not-a-token"}).status_code == 200
    clock.advance(45)
    assert http.get("/api/v1/public/couriers/verify", params={"token": "not-a-token"}).status_code == 200


def test_the_counters_hold_no_client_address_nor_registration_id(
    serve: Serve, client: Callable[[str, str], httpx.Client], clock: Clock, engine: Engine, tenant: Tenant
) -> None:
    url = serve()
    address = new_address()
    http = client(url, address)
    registered = register(http, tenant).json()
    http.post(f"/api/v1/public/carriers/{tenant.slug}/realname/{registered['registration_id']}/token",
              json={"refresh_secret": registered["refresh_secret"]})
    http.get("/api/v1/public/couriers/verify", params={"token": "not-a-token"})
    with engine.connect() as conn:
        stored = [(r.key, r.window_start, r.count) for r in conn.execute(select(RateCounter))]
    mine = [row for row in stored if row[1] >= T0]
    scopes = {"register/address", "register/carrier-address", "refresh/registration", "refresh/address",
              "verify/address"}
    assert {key.split(":")[0] for key, _, _ in mine} >= scopes
    dump = repr(stored)
    for secret in (address, address.replace(".", ""), registered["registration_id"],
                   registered["registration_id"].replace("-", ""), tenant.slug):
        assert secret not in dump


def test_x_forwarded_for_counts_only_from_a_trusted_proxy(
    serve: Serve, client: Callable[[str, str], httpx.Client], clock: Clock
) -> None:
    verify = "/api/v1/public/couriers/verify"

    def check(http: httpx.Client, forwarded: str) -> int:
        return http.get(verify, params={"token": "x"}, headers={"X-Forwarded-For": forwarded}).status_code

    # No trusted proxy: a client that writes a new address in the header each time is still one client.
    http = client(serve(rate_limit_verify_per_address="2/minute"), new_address())
    assert [check(http, f"198.51.100.{n}") for n in range(3)] == [200, 200, 429]

    # Behind a trusted proxy, clients are told apart by the address the proxy appended, never by
    # what a client wrote to its left.
    proxy_address = new_address()
    behind = serve(rate_limit_verify_per_address="2/minute", trusted_proxies=proxy_address)
    proxy = client(behind, proxy_address)
    assert [check(proxy, f"{n}.1.1.1, 203.0.113.9") for n in range(3)] == [200, 200, 429]
    assert check(proxy, "203.0.113.10") == 200


def test_the_platform_process_does_not_believe_x_forwarded_for_from_loopback(
    database_url: str, tmp_path: Path
) -> None:
    """`parcelguard run` leaves the client address alone: uvicorn's own default would believe the header
    from 127.0.0.1. Other tests may have counted 127.0.0.1 this hour, so this asks only that a limit is
    reached at all, and that a new address in the header does not get round it."""
    with platform_process(database_url=database_url, root_key=TEST_ROOT_KEY, log_path=tmp_path / "server.log",
                          PARCELGUARD_RATE_LIMIT_VERIFY_PER_ADDRESS="3/hour") as live:
        def check(forwarded: str) -> httpx.Response:
            return httpx.get(live.url + "/api/v1/public/couriers/verify", params={"token": "x"},
                             headers={"X-Forwarded-For": forwarded}, timeout=30)

        assert 429 in [check(f"198.51.100.{n}").status_code for n in range(4)]
        after = check("198.51.100.200")
        assert after.status_code == 429 and after.json()["code"] == "rate_limited"
