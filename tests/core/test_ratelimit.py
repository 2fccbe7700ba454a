"""The rate limiter: fixed windows counted in the database, keys that hold no address, and the settings."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError
from sqlalchemy import Engine, select
from starlette.requests import Request

from parcelguard.core.config import MAX_RATE_WINDOW_SECONDS, Rate, Settings, parse_networks, parse_rate
from parcelguard.core.ratelimit import RateCounter, RateLimiter, client_address, counter_key, hit, sweep

T0 = 2_000_000_000 // 86400 * 86400 + 86400  # a UTC midnight in 2033: windows of a minute, hour and day start


def rows(engine: Engine, key: str) -> list[tuple[int, int]]:
    with engine.connect() as conn:
        found = conn.execute(select(RateCounter.window_start, RateCounter.count)
                             .where(RateCounter.key == key).order_by(RateCounter.window_start))
        return [tuple(r) for r in found]


def test_a_key_is_allowed_its_limit_in_a_window_then_refused_until_the_window_ends(engine: Engine) -> None:
    key = "test:" + uuid.uuid4().hex
    decisions = [hit(engine, key, 3, 3600, now=T0 + 600 + i) for i in range(5)]
    assert [d.allowed for d in decisions] == [True, True, True, False, False]
    assert [d.remaining for d in decisions] == [2, 1, 0, 0, 0]
    assert decisions[3].retry_after == 3000 - 3  # seconds to T0 + 3600
    assert hit(engine, key, 3, 3600, now=T0 + 3599.5).retry_after == 1  # never 0: "now" is still refused
    assert hit(engine, key, 3, 3600, now=T0 + 3600).allowed
    # The new window deleted the old one: a key keeps one row while it is busy.
    assert rows(engine, key) == [(T0 + 3600, 1)]


def test_concurrent_hits_on_one_key_are_each_counted_once(engine: Engine) -> None:
    key = "test:" + uuid.uuid4().hex
    allowed: list[bool] = []

    def client() -> None:
        for _ in range(5):
            allowed.append(hit(engine, key, 40, 60, now=T0 + 1).allowed)

    threads = [threading.Thread(target=client) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(allowed).count(True) == 40 and len(allowed) == 50
    assert rows(engine, key) == [(T0, 50)]


def test_a_sweep_deletes_only_windows_that_have_ended(engine: Engine) -> None:
    old, live = "test:" + uuid.uuid4().hex, "test:" + uuid.uuid4().hex
    hit(engine, old, 5, 86400, now=T0 - 86400 + 5)  # yesterday's window
    hit(engine, live, 5, 86400, now=T0 + 5)
    sweep(engine, before=T0 + 10 - 86400)  # now, less the longest window in use (a day)
    assert rows(engine, old) == [] and rows(engine, live) == [(T0, 1)]


def test_the_limiter_sweeps_now_and_then_not_on_every_hit(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    moment = [float(T0)]
    monkeypatch.setattr("parcelguard.core.clock.now", lambda: datetime.fromtimestamp(moment[0], UTC))
    limiter = RateLimiter(engine, b"k" * 32, horizon_seconds=3600, sweep_every=300)
    stale = "test:" + uuid.uuid4().hex
    limiter.count([(limiter.key("test", "a"), Rate(5, 60))])  # the first hit of a process sweeps
    hit(engine, stale, 5, 60, now=T0 - 7200)
    moment[0] += 299
    limiter.count([(limiter.key("test", "a"), Rate(5, 60))])
    assert rows(engine, stale) == [(T0 - 7200, 1)]
    moment[0] += 1
    limiter.count([(limiter.key("test", "a"), Rate(5, 60))])
    assert rows(engine, stale) == []


def test_a_counter_key_names_its_scope_and_hides_what_it_counts() -> None:
    key = counter_key(b"s" * 32, "register/address", "203.0.113.7")
    assert key.startswith("register/address:") and len(key) <= 96 and "203.0.113.7" not in key
    assert key == counter_key(b"s" * 32, "register/address", "203.0.113.7")
    assert key != counter_key(b"t" * 32, "register/address", "203.0.113.7")
    assert key != counter_key(b"s" * 32, "verify/address", "203.0.113.7")
    assert counter_key(b"s" * 32, "x", "a", "bc") != counter_key(b"s" * 32, "x", "ab", "c")


def request_from(peer: str, *forwarded: str) -> Request:
    headers = [(b"x-forwarded-for", value.encode()) for value in forwarded]
    return Request({"type": "http", "method": "GET", "path": "/", "headers": headers, "client": (peer, 5000)})


PROXIES = parse_networks("10.0.0.0/8, 2001:db8:ffff::1")


@pytest.mark.parametrize(("peer", "forwarded", "trusted", "counted_as"), [
    ("203.0.113.7", (), (), "203.0.113.7"),
    ("203.0.113.7", ("198.51.100.1",), (), "203.0.113.7"),           # anyone can write the header
    ("127.0.0.1", ("198.51.100.1",), (), "127.0.0.1"),               # loopback is no proxy unless named
    ("203.0.113.7", ("198.51.100.1",), PROXIES, "203.0.113.7"),      # not a trusted proxy
    ("10.1.2.3", ("198.51.100.1",), PROXIES, "198.51.100.1"),
    ("10.1.2.3", ("1.1.1.1, 198.51.100.1",), PROXIES, "198.51.100.1"),  # the client wrote 1.1.1.1
    ("10.1.2.3", ("1.1.1.1", "198.51.100.1, 10.9.9.9"), PROXIES, "198.51.100.1"),  # two proxies, two headers
    ("10.1.2.3", ("198.51.100.1:4711",), PROXIES, "198.51.100.1"),
    ("10.1.2.3", ("garbage",), PROXIES, "10.1.2.3"),                 # the proxy's own address then
    ("10.1.2.3", (), PROXIES, "10.1.2.3"),
    ("10.1.2.3", ("10.2.2.2",), PROXIES, "10.2.2.2"),                # only proxies: the leftmost
    ("2001:db8:1:2:3:4:5:6", (), (), "2001:db8:1:2::/64"),           # a subscriber holds a whole /64
    ("2001:db8:ffff::1", ("[2001:db8:7::9]:443",), PROXIES, "2001:db8:7::/64"),
    ("::ffff:203.0.113.7", (), (), "203.0.113.7"),
])
def test_a_client_is_counted_by_the_address_that_connected_unless_a_trusted_proxy_names_it(
    peer: str, forwarded: tuple[str, ...], trusted: tuple, counted_as: str
) -> None:
    assert client_address(request_from(peer, *forwarded), trusted) == counted_as


def test_limits_and_trusted_proxies_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    defaults = Settings()
    assert {name: str(rate) for name, rate in defaults.rate_limits.items()} == {
        "register_per_address": "10/hour", "register_per_carrier_address": "30/day",
        "refresh_per_registration": "30/hour", "refresh_per_address": "120/hour",
        "verify_per_address": "120/minute", "otp_send_per_address": "20/hour",
        "otp_verify_per_registration": "30/hour", "otp_verify_per_address": "120/hour",
        "track_per_address": "60/minute", "track_per_address_hourly": "600/hour"}
    assert defaults.trusted_proxies == ()
    monkeypatch.setenv("PARCELGUARD_RATE_LIMIT_REGISTER_PER_ADDRESS", "5/10min")
    monkeypatch.setenv("PARCELGUARD_RATE_LIMIT_VERIFY_PER_ADDRESS", "off")
    monkeypatch.setenv("PARCELGUARD_TRUSTED_PROXIES", "10.0.0.5, 192.168.0.0/16")
    settings = Settings()
    assert settings.rate_limit_register_per_address == Rate(5, 600)
    assert "verify_per_address" not in settings.rate_limits
    assert [str(n) for n in settings.trusted_proxies] == ["10.0.0.5/32", "192.168.0.0/16"]


@pytest.mark.parametrize("text", ["0/hour", "ten/hour", "5/fortnight", "5", "5/8d"])
def test_a_malformed_limit_is_refused_at_start(text: str) -> None:
    with pytest.raises(ValidationError, match="rate limit"):
        Settings(rate_limit_register_per_address=text)


def test_a_malformed_trusted_proxy_is_refused_at_start() -> None:
    with pytest.raises(ValidationError, match="trusted proxies"):
        Settings(trusted_proxies="10.0.0.1, proxy.internal")


@given(st.integers(1, 10**6), st.integers(1, MAX_RATE_WINDOW_SECONDS))
def test_a_rate_reads_back_as_written(limit: int, window: int) -> None:
    rate = Rate(limit, window)
    assert parse_rate(str(rate)) == rate
