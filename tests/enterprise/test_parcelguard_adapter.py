"""The parcelguard adapter against two real carrier platforms (each its own process and database, on each
engine): shipments with the carriers' own waybill numbers, idempotent on the order reference, refusals with
pointers and codes and no personal data, labels, tracking, cancellation; a wrong password; a carrier that is down
or never answers, cut off by the timeout. A stub carrier for what a real one will not do on demand (a stale token,
a 5xx)."""

from __future__ import annotations

import logging
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from parcelguard.enterprise.adapters.base import CarrierAdapter, CarrierError, Item, NewShipment, Parties
from parcelguard.enterprise.adapters.parcelguard import (
    CarrierRefused,
    ParcelguardAdapter,
    parcel_body,
    split_address,
)
from parcelguard.enterprise.adapters.registry import adapter_for
from tests.enterprise.carriers import CarrierPlatform
from tests.servers import app_in_thread, free_port

TIMEOUT = 10.0
PARTIES = Parties(sender_name="仓库联系人", sender_phone="13922223333", sender_address="北京市朝阳区仓储路1号",
                  recipient_name="司马收件人", recipient_phone="13744445555",
                  recipient_address="上海市浦东新区收件大道7号 1202室")
# No message, attribute or log line of the adapter may hold one of these.
CANARIES = ["仓库联系人", "13922223333", "8613922223333", "仓储路", "司马收件人", "司马", "13744445555",
            "8613744445555", "收件大道", "1202室", "烟花", "call me"]


def order(reference: str | None = None, *, parties: Parties = PARTIES, items: tuple[Item, ...] | None = None,
          ) -> NewShipment:
    return NewShipment(reference=reference or f"ORD-{uuid.uuid4().hex[:12]}", parties=parties,
                       recipient_province="上海市", recipient_city="上海市", weight_g=1200,
                       items=items or (Item(category="clothing", description="羽绒服", declared_value_fen=59900),))


@contextmanager
def adapter(carrier: CarrierPlatform, *, password: str | None = None, timeout: float = TIMEOUT,
            ) -> Iterator[ParcelguardAdapter]:
    with ParcelguardAdapter(carrier.url, carrier.username, password or carrier.password, timeout) as a:
        yield a


def seen(exc: CarrierError) -> str:
    return " ".join([str(exc), repr(exc), exc.message, exc.code, repr(vars(exc)), repr(exc.args)])


def test_each_carrier_takes_the_parcel_with_its_own_waybill_number_and_a_repeat_takes_nothing_new(
    carriers: list[CarrierPlatform], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    made = {}
    for carrier in carriers:
        with adapter(carrier) as a:
            before = carrier.shipments()
            reference = f"ORD-{uuid.uuid4().hex[:12]}"
            created = a.create_shipment(order(reference))
            assert created.waybill_no.startswith(carrier.waybill_prefix)
            uuid.UUID(created.carrier_shipment_id)
            assert carrier.shipments() == before + 1
            # the answer was lost; the console sends the order again: the same parcel, nothing new
            assert a.create_shipment(order(reference)) == created
            assert carrier.shipments() == before + 1
            made[carrier.waybill_prefix] = created
    assert len(made) == 2 and len({c.waybill_no for c in made.values()}) == 2
    assert not [c for c in CANARIES if c in caplog.text]


def test_one_adapter_serves_several_threads_at_once(carriers: list[CarrierPlatform]) -> None:
    carrier = carriers[0]
    before = carrier.shipments()
    with adapter(carrier) as a, ThreadPoolExecutor(max_workers=4) as pool:
        created = list(pool.map(lambda _: a.create_shipment(order()), range(6)))
    assert len({c.waybill_no for c in created}) == 6
    assert carrier.shipments() == before + 6


def test_a_refused_parcel_is_carrier_refused_with_pointers_and_codes_and_no_personal_data(
    carriers: list[CarrierPlatform], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    carrier = carriers[1]
    before = carrier.shipments()
    bad = order(parties=Parties(**{**vars(PARTIES), "recipient_phone": "call me"}),
                items=(Item(category="household", description="烟花"),))
    with adapter(carrier) as a, pytest.raises(CarrierRefused) as refused:
        a.create_shipment(bad)
    exc = refused.value
    assert isinstance(exc, CarrierError)
    assert (exc.code, exc.status, exc.retryable) == ("carrier_refused", 422, False)
    assert {(e["pointer"], e["code"]) for e in exc.errors} == {("/items/0/description", "item_prohibited"),
                                                                ("/recipient/phone", "phone_format")}
    assert all(set(e) == {"pointer", "code"} for e in exc.errors)
    assert "/recipient/phone phone_format" in exc.message
    assert not [c for c in CANARIES if c in seen(exc) + caplog.text]
    assert carrier.shipments() == before


def test_label_tracking_and_cancel_of_a_parcel(carriers: list[CarrierPlatform]) -> None:
    here, there = carriers
    with adapter(here) as a, adapter(there) as b:
        created = a.create_shipment(order())
        pdf = a.label(carrier_shipment_id=created.carrier_shipment_id)
        assert pdf.startswith(b"%PDF")
        zpl = a.label(carrier_shipment_id=created.carrier_shipment_id, format="zpl")
        assert b"^XA" in zpl and zpl.rstrip().endswith(b"^XZ")  # after the font download (~DY)

        tracking = a.track(waybill_no=created.waybill_no)
        assert (tracking.waybill_no, tracking.status) == (created.waybill_no, "accepted")
        assert all(e.at.tzinfo is not None and e.at <= datetime.now(UTC) + timedelta(minutes=1)
                   for e in tracking.events)
        assert not [c for c in CANARIES if c in repr(tracking)]
        assert a.track(waybill_no=created.waybill_no, phone_tail="5555").status == "accepted"
        with pytest.raises(CarrierError) as wrong_tail:  # answered as a number the carrier does not know
            a.track(waybill_no=created.waybill_no, phone_tail="4444")
        assert wrong_tail.value.code == "carrier_shipment_unknown"

        a.cancel(carrier_shipment_id=created.carrier_shipment_id)
        assert a.track(waybill_no=created.waybill_no).status == "cancelled"
        with pytest.raises(CarrierError) as again:
            a.cancel(carrier_shipment_id=created.carrier_shipment_id)
        assert (again.value.code, again.value.status, again.value.retryable) == ("already_cancelled", 409, False)

        # the other carrier knows neither the parcel nor its number; nor is a non-id sent at all
        for call in (lambda: b.label(carrier_shipment_id=created.carrier_shipment_id),
                     lambda: b.cancel(carrier_shipment_id=created.carrier_shipment_id),
                     lambda: b.track(waybill_no=created.waybill_no),
                     lambda: a.label(carrier_shipment_id="../auth/token")):
            with pytest.raises(CarrierError) as unknown:
                call()
            assert (unknown.value.code, unknown.value.status) == ("carrier_shipment_unknown", 404)


def test_a_wrong_password_is_carrier_auth_failed(carriers: list[CarrierPlatform]) -> None:
    carrier = carriers[0]
    with adapter(carrier, password="not the password") as a, pytest.raises(CarrierError) as failed:
        a.create_shipment(order())
    assert (failed.value.code, failed.value.status, failed.value.retryable) == ("carrier_auth_failed", 401, False)
    assert "not the password" not in seen(failed.value)


def test_the_registry_makes_the_parcelguard_adapter_and_no_other(carriers: list[CarrierPlatform]) -> None:
    carrier = carriers[0]
    made: CarrierAdapter = adapter_for("parcelguard", carrier.url, carrier.username, carrier.password, TIMEOUT)
    assert isinstance(made, ParcelguardAdapter) and made.kind == "parcelguard"
    assert made.quote(origin_province="北京市", destination_province="上海市", destination_city=None,
                      weight_g=1000) is None
    assert made.create_shipment(order()).waybill_no.startswith(carrier.waybill_prefix)
    assert carrier.password not in repr(made)
    with pytest.raises(ValueError, match="unknown carrier adapter"):
        adapter_for("karrio", carrier.url, carrier.username, carrier.password, TIMEOUT)


# -- carriers that do not answer ------------------------------------------------------------------


def test_a_carrier_that_is_down_is_unreachable_at_once() -> None:
    started = time.monotonic()
    with ParcelguardAdapter(f"http://127.0.0.1:{free_port()}", "shop", "secret", 2.0) as a, \
            pytest.raises(CarrierError) as down:
        a.track(waybill_no="ABCD0000000000")
    assert (down.value.code, down.value.retryable) == ("carrier_unreachable", True)
    assert time.monotonic() - started < 2.0


def test_a_carrier_that_never_answers_is_cut_off_by_the_timeout() -> None:
    with socket.socket() as silent:  # accepts connections (the kernel's backlog) and never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        with ParcelguardAdapter(url, "shop", "secret", 0.5) as a:
            for call in (lambda: a.create_shipment(order()), lambda: a.track(waybill_no="ABCD0000000000")):
                started = time.monotonic()
                with pytest.raises(CarrierError) as hung:
                    call()
                assert (hung.value.code, hung.value.retryable) == ("carrier_unreachable", True)
                assert time.monotonic() - started < 2.0
                assert not [c for c in CANARIES if c in seen(hung.value)]


# -- a stub carrier: stale tokens and failures ----------------------------------------------------


class Stub:
    """The carrier's routes the adapter uses, answering as told; counts sign-ins."""

    def __init__(self) -> None:
        self.sign_ins = 0
        self.stale = 0  # answer this many calls 401 token_expired
        self.fail_with = 0
        self.lock = threading.Lock()

    async def token(self, request: Request) -> Response:
        form = await request.form()
        if form.get("password") != "secret":
            return JSONResponse({"code": "login_failed", "detail": "wrong"}, status_code=401)
        with self.lock:
            self.sign_ins += 1
            n = self.sign_ins
        expires = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
        return JSONResponse({"access_token": f"t{n}", "token_type": "bearer", "expires_at": expires})

    async def batch(self, request: Request) -> Response:
        with self.lock:
            if self.stale:
                self.stale -= 1
                return JSONResponse({"code": "token_expired", "detail": "old"}, status_code=401)
        if self.fail_with:
            return JSONResponse({"code": "internal_error", "detail": "13744445555 broke it"},
                                status_code=self.fail_with)
        assert request.headers["authorization"] == f"Bearer t{self.sign_ins}"
        return JSONResponse({"accepted": 1, "refused": 0, "results": [{"index": 0, "status": 201, "shipment": {
            "id": str(uuid.uuid4()), "waybill_no": "STUB0000000001"}}]})


@pytest.fixture
def stub() -> Iterator[tuple[Stub, str]]:
    s = Stub()
    app = Starlette(routes=[Route("/api/v1/auth/token", s.token, methods=["POST"]),
                            Route("/api/v1/shipments:batch", s.batch, methods=["POST"]),
                            Route("/healthz", lambda _: JSONResponse({"ok": True}))])
    with app_in_thread(app) as url:
        yield s, url


def test_a_stale_token_is_renewed_once_and_the_call_goes_through(stub: tuple[Stub, str]) -> None:
    s, url = stub
    with ParcelguardAdapter(url, "shop", "secret", TIMEOUT) as a:
        a.create_shipment(order())
        a.create_shipment(order())
        assert s.sign_ins == 1  # the token is kept between calls
        s.stale = 1
        assert a.create_shipment(order()).waybill_no == "STUB0000000001"
        assert s.sign_ins == 2
        s.stale = 2  # renewed, and refused again: the account is what is wrong, not the token
        with pytest.raises(CarrierError) as refused:
            a.create_shipment(order())
        assert (refused.value.code, s.sign_ins) == ("carrier_auth_failed", 3)


def test_a_carrier_failing_is_carrier_failed_and_retryable_without_its_detail(stub: tuple[Stub, str]) -> None:
    s, url = stub
    s.fail_with = 503
    with ParcelguardAdapter(url, "shop", "secret", TIMEOUT) as a, pytest.raises(CarrierError) as failed:
        a.create_shipment(order())
    assert (failed.value.code, failed.value.status, failed.value.retryable) == ("carrier_failed", 503, True)
    assert "13744445555" not in seen(failed.value)


def test_a_district_and_detail_given_go_as_they_are() -> None:
    given = NewShipment(reference="ORD-1", parties=PARTIES, recipient_province="广东省", recipient_city="东莞市",
                        weight_g=1000, recipient_district="松山湖", recipient_detail="大道1号 3栋")
    assert parcel_body(given)["recipient"]["address"] == {"province": "广东省", "city": "东莞市",
                                                          "district": "松山湖", "detail": "大道1号 3栋"}
    assert parcel_body(order())["recipient"]["address"] == {"province": "上海市", "city": "上海市",
                                                            "district": "浦东新区", "detail": "收件大道7号 1202室"}


@pytest.mark.parametrize(("line", "province", "city", "expected"), [
    ("上海市浦东新区收件大道7号 1202室", "上海市", "上海市", ("浦东新区", "收件大道7号 1202室")),
    ("北京市 北京市 朝阳区 建国路1号", "北京市", "北京市", ("朝阳区", "建国路1号")),
    ("江苏省苏州市昆山市前进路1号", "江苏省", "苏州市", ("昆山市", "前进路1号")),
    ("广东省东莞市松山湖大道1号", "广东省", "东莞市", ("东莞市", "松山湖大道1号")),  # a city without districts
    ("建国路1号", "北京市", "北京市", ("北京市", "建国路1号")),
])
def test_the_address_line_is_split_into_district_and_detail(
    line: str, province: str, city: str, expected: tuple[str, str]
) -> None:
    assert split_address(line, province=province, city=city) == expected
