"""The public tracking lookup, on both engines: events only; the phone tail unlocks a masked line; an
unknown, a well-formed foreign and a real number answer in one shape and status; a wrong tail answers as
an unknown number; 10,000 guesses find nothing and the rate limit stops them; lookups are counted."""

from __future__ import annotations

import secrets
from pathlib import Path

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select

from parcelguard.tracking.models import LookupCounter
from parcelguard.tracking.public import check_number
from parcelguard.waybills.numbers import damm_check_digit
from tests.conftest import TEST_ROOT_KEY
from tests.servers import platform_process
from tests.tenants import Tenant, writing
from tests.tracking.test_network import unissued
from tests.waybills.test_label_api import CANARY_DIGITS, CANARY_TEXT, RECIPIENT_PHONE, take_in, terminal_login


def shape(value: object) -> object:
    """The structure of a JSON value: keys and types, not values (an empty list as a list of nothing)."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return ["list"]
    return type(value).__name__


def test_the_public_sees_events_and_the_right_phone_tail_unlocks_a_masked_line(
    http: httpx.Client, tenant: Tenant, other_tenant: Tenant
) -> None:
    courier = terminal_login(http, tenant)
    number = str(take_in(http, courier)["waybill_no"])
    tail = RECIPIENT_PHONE[-4:]
    real = http.get(f"/api/v1/public/track/{number}")
    assert real.status_code == 200 and real.headers["cache-control"] == "no-store"
    assert real.json()["status"] == "accepted" and real.json()["recipient"] is None
    assert [(e["event"], e["city"]) for e in real.json()["events"]] == [("accepted", "北京市")]
    unlocked = http.get(f"/api/v1/public/track/{number}", params={"phone_tail": tail})
    assert unlocked.json()["recipient"] == {"name": unlocked.json()["recipient"]["name"], "city": "上海市",
                                            "district": "浦东新区"}
    assert unlocked.json()["recipient"]["name"].startswith("司马") and "*" in unlocked.json()["recipient"]["name"]
    for response in (real, unlocked):
        for canary in CANARY_DIGITS + CANARY_TEXT + ["收件大道", "寄件路"]:
            assert canary not in response.text, canary
            assert all(canary not in v for v in response.headers.values())

    # An unknown number of the carrier, a well-formed number of no carrier, and a real one with a wrong
    # tail: the same status and shape as a real one, and byte for byte the same as each other.
    wrong_tail = f"{(int(tail) + 1) % 10000:04d}"
    digits = number[len(tenant.prefix):-1]
    foreign_prefix = "QQ" if tenant.prefix != "QQ" else "QX"
    answers = {
        "unknown": http.get(f"/api/v1/public/track/{unissued(tenant)}"),
        "other carrier's prefix": http.get(f"/api/v1/public/track/{other_tenant.prefix}{digits}{number[-1]}"),
        "no carrier": http.get(f"/api/v1/public/track/{foreign_prefix}{digits}{number[-1]}"),
        "wrong tail": http.get(f"/api/v1/public/track/{number}", params={"phone_tail": wrong_tail}),
        "unknown with a tail": http.get(f"/api/v1/public/track/{unissued(tenant)}", params={"phone_tail": tail}),
    }
    for name, answer in answers.items():
        assert answer.status_code == 200, name
        assert shape(answer.json()) == {**shape(real.json()), "recipient": "NoneType"}, name
        assert {k: v for k, v in answer.json().items() if k != "waybill_no"} == {
            "status": "no_record", "events": [], "recipient": None}, name
        assert set(answer.headers) == set(real.headers), name


def test_malformed_numbers_and_tails_are_refused_before_any_lookup(http: httpx.Client, tenant: Tenant) -> None:
    digits = f"{secrets.randbelow(10**12):012d}"
    good = tenant.prefix + digits + damm_check_digit(digits)
    wrong = good[:-1] + str((int(good[-1]) + 1) % 10)
    for path, code in [(f"/api/v1/public/track/{wrong}", "waybill_check_digit"),
                       ("/api/v1/public/track/12345", "waybill_format"),
                       ("/api/v1/public/track/" + "A" * 70, "waybill_format")]:
        r = http.get(path)
        assert (r.status_code, r.json()["code"]) == (422, code), r.text
        assert r.json()["errors"][0]["pointer"] == "/waybill_no"
    for tail in ("12", "abcd", "12345"):
        r = http.get(f"/api/v1/public/track/{good}", params={"phone_tail": tail})
        assert (r.status_code, r.json()["code"]) == (422, "phone_tail_format"), tail


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_the_number_check_accepts_exactly_the_well_formed_numbers(text: str) -> None:
    """Whatever is typed, the lookup either refuses it with a stable code or looks up a canonical number."""
    from parcelguard.core.errors import Invalid
    from parcelguard.waybills import numbers

    try:
        canonical = check_number(text)
    except Invalid as exc:
        assert exc.code in {"waybill_format", "waybill_check_digit"}
    else:
        assert numbers.parse(canonical).value == canonical


def test_ten_thousand_guessed_numbers_find_nothing_in_one_shape_and_the_rate_limit_stops_them(
    database_url: str, engine: Engine, tenant: Tenant, tmp_path: Path
) -> None:
    """An enumeration: guesses with the carrier's real prefix and a right check digit (the best a guesser
    can do). On a server whose limit is 2,000 a day (a day: no window rolls over mid-test), the first 2,000 are answered `no_record` and the
    rest refused; the client's lookups and misses are counted."""
    limit = 2000
    before = lookup_counts(engine)
    with platform_process(database_url=database_url, root_key=TEST_ROOT_KEY, log_path=tmp_path / "server.log",
                          PARCELGUARD_RATE_LIMIT_TRACK_PER_ADDRESS="100000/minute",
                          PARCELGUARD_RATE_LIMIT_TRACK_PER_ADDRESS_HOURLY=f"{limit}/day") as live, \
            httpx.Client(base_url=live.url, timeout=30) as http:
        courier = terminal_login(http, tenant)
        real = [str(take_in(http, courier)["waybill_no"]) for _ in range(3)]
        statuses: dict[int, int] = {}
        shapes, hits = set(), 0
        for _ in range(10_000):
            guess = unissued(tenant)
            if guess in real:
                continue
            r = http.get(f"/api/v1/public/track/{guess}")
            statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
            if r.status_code == 200:
                shapes.add(repr(shape(r.json())))
                hits += r.json()["status"] != "no_record"
            else:
                assert r.json()["code"] == "rate_limited" and int(r.headers["retry-after"]) > 0
        assert hits == 0
        assert statuses == {200: limit, 429: 10_000 - limit}
        assert len(shapes) == 1
        # Even a real number is refused now: the limit is the client's, not the number's.
        assert http.get(f"/api/v1/public/track/{real[0]}").status_code == 429
    after = lookup_counts(engine)
    assert (after[0] - before[0], after[1] - before[1]) == (limit, limit)


def lookup_counts(engine: Engine) -> tuple[int, int]:
    """Lookups and misses counted for every client (the tests all come from 127.0.0.1)."""
    with writing(engine) as s:
        rows = s.execute(select(LookupCounter.lookups, LookupCounter.misses)
                         .where(LookupCounter.key.like("track/lookups:%"))).all()
    return sum(r[0] for r in rows), sum(r[1] for r in rows)


@pytest.mark.parametrize("path", ["/api/v1/public/track/by-phone/13911112222", "/api/v1/public/track?phone=13911112222"])
def test_there_is_no_lookup_by_phone_number(http: httpx.Client, path: str) -> None:
    r = http.get(path)
    assert r.status_code in (404, 422) and "events" not in r.text
