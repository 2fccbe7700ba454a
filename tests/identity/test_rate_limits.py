"""The public routes are rate limited: registration per address and per carrier, refresh per registration
and per address, trying SMS codes per registration and per address, asking for them per address, the
courier check per address. A refused request answers 429 `rate_limited` with
Retry-After and writes nothing; the next window lets the client in again; the counters hold no address."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
from sqlalchemy import Engine, func, select

from parcelguard.core.ratelimit import RateCounter
from parcelguard.identity.models import SenderRegistration
from tests.conftest import TEST_ROOT_KEY
from tests.identity.realname import (
    AGAIN,
    T0,
    Clock,
    RecordingSender,
    Serve,
    new_address,
    realname_path,
    register_verified,
    registration_body,
)
from tests.servers import platform_process
from tests.tenants import Tenant


def register(http: httpx.Client, tenant: Tenant) -> httpx.Response:
    return http.post(f"/api/v1/public/carriers/{tenant.slug}/realname", json=registration_body())


def verified(http: httpx.Client, tenant: Tenant, sms: RecordingSender) -> dict:
    """A registration whose phone is proved (the code read from what the server sent)."""
    return register_verified(http, tenant.slug, lambda _id: sms.last_code())


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
        assert register(http, tenant).status_code == 202
    clock.advance(1200)
    refused = register(http, tenant)
    assert_rate_limited(refused, 2400)
    assert registrations(engine, tenant) == 10
    assert "registration_id" not in refused.text

    # Another address is not affected; this one is let in again when the hour is over.
    assert register(client(url, new_address()), tenant).status_code == 202
    clock.advance(2399)
    assert_rate_limited(register(http, tenant), 1)
    clock.advance(1)
    assert register(http, tenant).status_code == 202
    assert registrations(engine, tenant) == 12


def test_limits_come_from_the_settings_and_count_per_carrier_for_the_day(
    serve: Serve, client: Callable[[str, str], httpx.Client], clock: Clock, engine: Engine, tenant: Tenant,
    other_tenant: Tenant,
) -> None:
    url = serve(rate_limit_register_per_address="100/hour", rate_limit_register_per_carrier_address="2/day")
    http = client(url, new_address())
    assert [register(http, tenant).status_code for _ in range(2)] == [202, 202]
    clock.advance(3600 * 5)
    assert_rate_limited(register(http, tenant), 86400 - 3600 * 5)
    assert register(http, other_tenant).status_code == 202  # the limit is per carrier
    clock.advance(86400 - 3600 * 5)
    assert register(http, tenant).status_code == 202
    assert registrations(engine, tenant) == 3


def test_a_refused_request_counts_even_when_it_was_invalid(
    serve: Serve, client: Callable[[str, str], httpx.Client], clock: Clock, tenant: Tenant
) -> None:
    """Malformed registrations and unknown carriers cost their sender the same: no free probing."""
    url = serve(rate_limit_register_per_address="2/hour")
    http = client(url, new_address())
    malformed = http.post(f"/api/v1/public/carriers/{tenant.slug}/realname", json={"document": {}})
    assert malformed.status_code == 422
    unknown = http.post("/api/v1/public/carriers/no-such-carrier/realname", json=registration_body())
    assert unknown.status_code == 404
    assert_rate_limited(register(http, tenant), 3600)


def test_guessing_a_refresh_secret_is_stopped_per_registration(
    serve: Serve, client: Callable[[str, str], httpx.Client], clock: Clock, tenant: Tenant, sms: RecordingSender
) -> None:
    url = serve(rate_limit_refresh_per_registration="3/hour")
    sender = client(url, new_address())
    registered = verified(sender, tenant, sms)
    path = f"/api/v1/public/carriers/{tenant.slug}/realname/{registered['registration_id']}/token"

    guesser = client(url, new_address())
    for _ in range(3):
        assert guesser.post(path, json={"refresh_secret": secrets.token_urlsafe(32)}).status_code == 404
    # Past the limit even the right secret is refused, from any address, however the id is spelt:
    # a guess that happens to be right cannot tell.
    assert_rate_limited(guesser.post(path, json={"refresh_secret": registered["refresh_secret"]}), 3600)
    spelt = path.replace(registered["registration_id"], registered["registration_id"].upper())
    assert_rate_limited(sender.post(spelt, json={"refresh_secret": registered["refresh_secret"]}), 3600)
    other = verified(sender, tenant, sms)  # another registration is not affected
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


def test_trying_codes_is_stopped_per_registration_and_per_address(
    serve: Serve, client: Callable[[str, str], httpx.Client], clock: Clock, tenant: Tenant, sms: RecordingSender
) -> None:
    """The code's own 5 tries end one code; the route's limit ends the hour's tries at a registration,
    across codes: past it even the right code is refused, so a lucky guess cannot tell."""
    url = serve(rate_limit_otp_verify_per_registration="3/hour", rate_limit_otp_verify_per_address="4/hour")
    http = client(url, new_address())
    registration_id = register(http, tenant).json()["registration_id"]
    code, path = sms.last_code(), realname_path(tenant.slug, registration_id, "verify")
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    assert [http.post(path, json={"code": wrong}).json()["code"] for _ in range(2)] == ["otp_invalid"] * 2
    assert http.post(path, json={"code": "12"}).status_code == 422
    assert_rate_limited(http.post(path, json={"code": code}), 3600)
    spelt = path.replace(registration_id, registration_id.upper())
    assert_rate_limited(client(url, new_address()).post(spelt, json={"code": code}), 3600)
    # The same address at another registration: past its own limit, whoever's code it tries.
    other = register(http, tenant).json()["registration_id"]
    assert_rate_limited(http.post(realname_path(tenant.slug, other, "verify"), json={"code": wrong}), 3600)
    clock.advance(3600)
    assert http.post(realname_path(tenant.slug, registration_id, "code"), json=AGAIN).status_code == 202
    assert http.post(path, json={"code": sms.last_code()}).status_code == 201


def test_asking_for_codes_is_limited_per_address(
    serve: Serve, client: Callable[[str, str], httpx.Client], clock: Clock, tenant: Tenant
) -> None:
    """Each code is an SMS someone pays for: one address cannot have codes sent to many registrations."""
    url = serve(rate_limit_otp_send_per_address="2/hour")
    sender = client(url, new_address())
    ids = [register(sender, tenant).json()["registration_id"] for _ in range(3)]
    clock.advance(60)
    pump = client(url, new_address())
    asked = [pump.post(realname_path(tenant.slug, i, "code"), json=AGAIN).status_code for i in ids[:2]]
    assert asked == [202, 202]
    assert_rate_limited(pump.post(realname_path(tenant.slug, ids[2], "code"), json=AGAIN), 3600 - 60)
    assert sender.post(realname_path(tenant.slug, ids[2], "code"), json=AGAIN).status_code == 202


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
    serve: Serve, client: Callable[[str, str], httpx.Client], clock: Clock, engine: Engine, tenant: Tenant,
    sms: RecordingSender,
) -> None:
    url = serve()
    address = new_address()
    http = client(url, address)
    registered = verified(http, tenant, sms)
    http.post(realname_path(tenant.slug, registered["registration_id"], "code"), json=AGAIN)
    http.post(f"/api/v1/public/carriers/{tenant.slug}/realname/{registered['registration_id']}/token",
              json={"refresh_secret": registered["refresh_secret"]})
    http.get("/api/v1/public/couriers/verify", params={"token": "not-a-token"})
    with engine.connect() as conn:
        stored = [(r.key, r.window_start, r.count) for r in conn.execute(select(RateCounter))]
    mine = [row for row in stored if row[1] >= T0]
    scopes = {"register/address", "register/carrier-address", "refresh/registration", "refresh/address",
              "verify/address", "otp-send/address", "otp-verify/registration", "otp-verify/address"}
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
