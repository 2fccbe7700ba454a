"""A real-name registration is usable once the sender proves the phone with a one-time code sent by SMS.

The code: 6 digits from the CSPRNG, kept only as an HMAC, dead after 5 wrong tries or 5 minutes, another no
sooner than a minute after the last and at most 5 an hour. Over HTTP on both engines: the code reaches the
log sender's line without the phone; a wrong, expired or dead code is refused and writes nothing but its
count; an unverified registration is as unknown as a missing one, at refresh and at intake; the HTTP
sender signs what it posts. No phone number, document number or name reaches a log line."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from unittest import mock

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import SecretStr
from sqlalchemy import Engine, func, select

from parcelguard.core.auth import Role
from parcelguard.core.config import ConfigError, Settings
from parcelguard.crypto import tokens
from parcelguard.crypto.keyring import Keyring
from parcelguard.crypto.request_signing import check_signature
from parcelguard.identity import otp, service, sms
from parcelguard.identity.models import RealNameRecord, RegistrationCode, SenderRegistration
from tests.conftest import TEST_ROOT_KEY
from tests.identity.realname import (
    AGAIN,
    SENDER_PHONE,
    T0,
    Clock,
    RecordingSender,
    Serve,
    code_from_text,
    code_in_log,
    realname_path,
    registration_body,
    sms_lines,
    valid_id,
)
from tests.identity.test_realname_qr import parcel
from tests.servers import LiveServer, platform_process
from tests.tenants import Tenant, writing

POLICY = otp.Policy()
AT = datetime(2030, 1, 1, tzinfo=UTC)
codes = st.from_regex(r"[0-9]{6}", fullmatch=True)
keys = st.binary(min_size=32, max_size=32)


def other_code(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def verdict(key: bytes, code_id: uuid.UUID, code: str, given: str, *, failures: int = 0,
            at: datetime = AT) -> otp.Verdict:
    return otp.judge(key=key, code_id=code_id, stored_mac=otp.code_mac(key, code_id, code),
                     expires_at=AT + timedelta(seconds=POLICY.ttl_seconds), failures=failures, given=given, at=at,
                     max_attempts=POLICY.max_attempts)


# -- the code, without a server ----------------------------------------------------------------------

@given(st.integers(min_value=0, max_value=999_999))
def test_a_code_is_six_digits_whatever_the_csprng_draws(drawn: int) -> None:
    with mock.patch("parcelguard.identity.otp.secrets.randbelow", return_value=drawn) as randbelow:
        code = otp.new_code()
    randbelow.assert_called_once_with(1_000_000)
    assert len(code) == 6 and code.isdigit() and int(code) == drawn


def test_codes_are_drawn_afresh_each_time() -> None:
    drawn = {otp.new_code() for _ in range(2000)}
    assert len(drawn) > 1990 and all(len(c) == 6 and c.isdigit() for c in drawn)
    assert any(c.startswith("0") for c in drawn)


@given(keys, st.uuids(), codes, st.text(max_size=12))
def test_only_the_code_sent_passes_and_only_while_it_lives(key: bytes, code_id: uuid.UUID, code: str,
                                                            typed: str) -> None:
    stored = otp.code_mac(key, code_id, code)
    assert len(stored) == 32 and code.encode() not in stored
    assert verdict(key, code_id, code, code) is otp.Verdict.OK
    assert verdict(key, code_id, code, f" {code[:3]} {code[3:]} ") is otp.Verdict.OK  # as a person types it
    if otp.normalise(typed) != code:
        assert verdict(key, code_id, code, typed) is otp.Verdict.INVALID
    # The MAC is bound to its row and its key: copied elsewhere it matches nothing.
    assert otp.judge(key=key, code_id=uuid.uuid4(), stored_mac=stored, expires_at=AT + timedelta(minutes=5),
                     failures=0, given=code, at=AT, max_attempts=5) is otp.Verdict.INVALID
    assert otp.judge(key=bytes(b ^ 1 for b in key), code_id=code_id, stored_mac=stored, given=code, at=AT,
                     expires_at=AT + timedelta(minutes=5), failures=0, max_attempts=5) is otp.Verdict.INVALID
    # An expired or dead code is refused even when right.
    assert verdict(key, code_id, code, code, at=AT + timedelta(seconds=300)) is otp.Verdict.EXPIRED
    assert verdict(key, code_id, code, code, failures=5) is otp.Verdict.EXHAUSTED


@given(keys, codes, st.lists(st.booleans(), max_size=12))
def test_whatever_the_tries_at_most_five_are_wrong_before_the_code_is_dead(key: bytes, code: str,
                                                                          tries: list[bool]) -> None:
    code_id, failures = uuid.uuid4(), 0
    for right in tries:
        answer = verdict(key, code_id, code, code if right else other_code(code), failures=failures)
        if failures >= 5:
            assert answer is otp.Verdict.EXHAUSTED
        elif right:
            assert answer is otp.Verdict.OK
        else:
            assert answer is otp.Verdict.INVALID
            failures += 1
    assert failures <= 5


@settings(max_examples=300)
@given(st.lists(st.integers(min_value=0, max_value=3599), max_size=8, unique=True))
def test_another_code_waits_a_minute_after_the_last_and_for_room_in_the_hour(ago: list[int]) -> None:
    sent = sorted(AT - timedelta(seconds=s) for s in ago)
    wait = otp.wait_seconds(sent, AT, POLICY)
    allowed_now = (not sent or (AT - sent[-1]).total_seconds() >= 60) and len(sent) < 5
    assert (wait == 0) == allowed_now
    later = AT + timedelta(seconds=wait)
    assert otp.wait_seconds([s for s in sent if s > later - timedelta(hours=1)], later, POLICY) == 0
    if wait > 1:  # a second sooner is still too soon
        sooner = later - timedelta(seconds=1)
        assert otp.wait_seconds([s for s in sent if s > sooner - timedelta(hours=1)], sooner, POLICY) > 0


def test_production_refuses_the_log_sender_and_an_http_sender_without_a_provider() -> None:
    ready = {"root_key": SecretStr("A" * 43), "regulator_public_key": "B" * 43,
             "database_url": "postgresql+psycopg://app@db/parcelguard"}
    assert any("SMS sender `log`" in p for p in Settings(env="prod", **ready).production_problems())
    assert any("no SMS provider" in p for p in Settings(env="prod", sms_sender="http",
                                                         **ready).production_problems())
    assert Settings(env="prod", sms_sender="http", sms_http_url="https://sms.example/send",
                    sms_http_secret=SecretStr("s"), **ready).production_problems() == []
    assert isinstance(sms.sender_from(Settings()), sms.LogSender)
    with pytest.raises(ConfigError):
        sms.sender_from(Settings(sms_sender="http"))
    sender = sms.sender_from(Settings(sms_sender="http", sms_http_url="https://sms.example/send",
                                      sms_http_secret=SecretStr("the secret")))
    assert isinstance(sender, sms.HttpSender) and "the secret" not in repr(sender)


# -- over HTTP, on both engines -------------------------------------------------------------------------

def registration_state(engine: Engine, registration_id: str) -> tuple[tuple, list[tuple]]:
    """The registration's row and its codes' rows, as stored."""
    with engine.connect() as conn:
        row = conn.execute(select(SenderRegistration).where(
            SenderRegistration.id == uuid.UUID(registration_id))).one()
        code_rows = conn.execute(select(RegistrationCode.id, RegistrationCode.code_mac, RegistrationCode.sent_at,
                                        RegistrationCode.expires_at, RegistrationCode.failures)
                                 .where(RegistrationCode.registration_id == uuid.UUID(registration_id))
                                 .order_by(RegistrationCode.sent_at)).all()
    return tuple(row), [tuple(r) for r in code_rows]


def count(engine: Engine, model: type, *where: object) -> int:
    with engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(model).where(*where)) or 0


def without_instance(answer: httpx.Response) -> tuple[int, str, dict]:
    body = answer.json()
    body.pop("instance", None)
    return answer.status_code, answer.headers["content-type"], body


def assert_refused(answer: httpx.Response, code: str, status: int = 422) -> dict:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    body = dict(answer.json())
    assert body["code"] == code
    if status == 422:
        assert [(e["pointer"], e["code"]) for e in body["errors"]] == [("/code", code)]
    return body


def assert_no_personal_data(log: str, *secrets: str) -> None:
    phone = SENDER_PHONE
    for secret in (phone, phone[3:], phone[-8:], "+86" + phone, *secrets):
        assert secret not in log


def courier_of(http: httpx.Client, tenant: Tenant) -> dict[str, str]:
    manager = tenant.login(http, Role.STATION_MANAGER)
    terminal = http.post("/api/v1/terminals", headers=manager,
                         json={"serial": f"PDA-{uuid.uuid4().hex[:8]}", "label": "handheld"}).json()["id"]
    return tenant.login(http, Role.COURIER, terminal_id=terminal)


def test_a_sender_proves_the_phone_with_the_sms_code_and_the_token_is_taken_at_intake(
    http: httpx.Client, server: LiveServer, engine: Engine, tenant: Tenant
) -> None:
    number = valid_id()
    registered = http.post(realname_path(tenant.slug), json=registration_body(number))
    assert registered.status_code == 202, registered.text
    answer = registered.json()
    assert set(answer) == {"registration_id", "status", "code_expires_at", "resend_at"}
    assert answer["status"] == "code_sent" and answer["code_expires_at"] - answer["resend_at"] == 240
    registration_id = answer["registration_id"]

    # The code arrives in the log sender's line, which names the carrier and the registration, not the phone.
    [line] = sms_lines(server, registration_id)
    assert line["carrier"] == tenant.slug and line["sender"] == "log"
    code = code_from_text(line["text"])
    assert_no_personal_data(json.dumps(line, ensure_ascii=False), number, "慕容寄件")
    assert registration_state(engine, registration_id)[0][-1] is None  # verified_at

    # Unverified, it is as unknown as a registration that does not exist.
    unverified = http.post(realname_path(tenant.slug, registration_id, "token"), json={"refresh_secret": "x" * 43})
    missing = http.post(realname_path(tenant.slug, str(uuid.uuid4()), "token"), json={"refresh_secret": "x" * 43})
    assert without_instance(unverified) == without_instance(missing)
    assert unverified.json()["code"] == "registration_unknown"

    # Another code goes only to the phone registered: any other number is told the registration is unknown.
    elsewhere = http.post(realname_path(tenant.slug, registration_id, "code"), json={"phone": "13800138000"})
    nowhere = http.post(realname_path(tenant.slug, str(uuid.uuid4()), "code"), json=AGAIN)
    assert without_instance(elsewhere) == without_instance(nowhere)
    assert elsewhere.json()["code"] == "registration_unknown"
    too_soon = http.post(realname_path(tenant.slug, registration_id, "code"), json=AGAIN)
    body = assert_refused(too_soon, "otp_too_soon", 429)
    wait = int(too_soon.headers["retry-after"])
    assert 1 <= wait <= 60 and body["retry_after"] == wait
    assert len(sms_lines(server, registration_id)) == 1

    verified = http.post(realname_path(tenant.slug, registration_id, "verify"), json={"code": code})
    assert verified.status_code == 201, verified.text
    issued = verified.json()
    assert set(issued) == {"registration_id", "token", "expires_at", "refresh_secret"}
    assert issued["registration_id"] == registration_id and issued["refresh_secret"]
    row, code_rows = registration_state(engine, registration_id)
    assert row[-1] is not None and code_rows == []  # verified; the code is gone
    refreshed = http.post(realname_path(tenant.slug, registration_id, "token"),
                          json={"refresh_secret": issued["refresh_secret"]})
    assert refreshed.status_code == 200, refreshed.text

    taken = http.post("/api/v1/shipments", json=parcel(issued["token"]), headers=courier_of(http, tenant))
    assert taken.status_code == 201, taken.text
    assert taken.json()["sender"]["name"] == "慕容**"

    # The code step is over: neither another code nor another try.
    assert_refused(http.post(realname_path(tenant.slug, registration_id, "verify"), json={"code": code}),
                   "registration_verified", 409)
    assert_refused(http.post(realname_path(tenant.slug, registration_id, "code"), json=AGAIN),
                   "registration_verified", 409)
    assert_no_personal_data(server.log_text(), number, "慕容寄件")


def test_a_wrong_code_writes_nothing_but_its_count_and_five_kill_the_code(
    http: httpx.Client, server: LiveServer, engine: Engine, tenant: Tenant
) -> None:
    registration_id = http.post(realname_path(tenant.slug), json=registration_body()).json()["registration_id"]
    code = code_in_log(server, registration_id)
    row, [first] = registration_state(engine, registration_id)
    path = realname_path(tenant.slug, registration_id, "verify")

    wrong = assert_refused(http.post(path, json={"code": other_code(code)}), "otp_invalid")
    assert wrong["attempts_left"] == 4 and code not in json.dumps(wrong)
    after_row, [after] = registration_state(engine, registration_id)
    assert after_row == row and after == (*first[:4], 1)  # the count, and nothing else
    assert count(engine, SenderRegistration, SenderRegistration.carrier_id == tenant.carrier_id) == 1
    assert count(engine, RealNameRecord, RealNameRecord.carrier_id == tenant.carrier_id) == 0

    left = [assert_refused(http.post(path, json={"code": typed}), "otp_invalid")["attempts_left"]
            for typed in (other_code(other_code(code)), "12", "abcdef", "1234567")]
    assert left == [3, 2, 1, 0]
    assert_refused(http.post(path, json={"code": code}), "otp_exhausted")  # dead, even the right code
    after_row, [after] = registration_state(engine, registration_id)
    assert after_row == row and after == (*first[:4], 5)
    refresh = http.post(realname_path(tenant.slug, registration_id, "token"), json={"refresh_secret": "x"})
    assert refresh.json()["code"] == "registration_unknown"


def test_a_token_naming_an_unverified_registration_is_refused_at_intake(
    http: httpx.Client, server: LiveServer, keyring: Keyring, tenant: Tenant
) -> None:
    """No token is ever issued before the code; one made by other means still names nothing."""
    registration_id = http.post(realname_path(tenant.slug), json=registration_body()).json()["registration_id"]
    with writing(tenant.engine) as session:
        signer = keyring.signing_key(db_session=session, carrier_id=tenant.carrier_id,
                                     purpose=service.REALNAME_TOKEN_PURPOSE)
    courier = courier_of(http, tenant)
    answers = []
    for subject in (uuid.UUID(registration_id), uuid.uuid4()):
        token = tokens.issue(signer, kind="realname", subject=subject)
        taken = http.post("/api/v1/shipments", json=parcel(token), headers=courier)
        assert taken.status_code == 422, taken.text
        answers.append([(e["pointer"], e["code"]) for e in taken.json()["errors"]])
    assert answers[0] == answers[1] == [("/sender/realname_token", "realname_token_unknown")]


def test_an_expired_code_is_refused_and_a_new_one_works(
    serve: Serve, clock: Clock, sms: RecordingSender, engine: Engine, tenant: Tenant
) -> None:
    with httpx.Client(base_url=serve(), timeout=30) as http:
        registration_id = http.post(realname_path(tenant.slug), json=registration_body()).json()["registration_id"]
        [(phone, text)] = sms.sent
        assert phone == "+86" + SENDER_PHONE and "5分钟" in text and f"Carrier {tenant.slug}" in text
        code = sms.last_code()
        clock.advance(299)
        verify = realname_path(tenant.slug, registration_id, "verify")
        assert_refused(http.post(verify, json={"code": other_code(code)}), "otp_invalid")
        clock.advance(1)
        assert_refused(http.post(verify, json={"code": code}), "otp_expired")
        assert registration_state(engine, registration_id)[1][-1][-1] == 1  # an expired try is not counted

        assert http.post(realname_path(tenant.slug, registration_id, "code"), json=AGAIN).status_code == 202
        fresh = sms.last_code()
        if fresh != code:  # the one before is dead
            assert_refused(http.post(verify, json={"code": code}), "otp_invalid")
        verified = http.post(verify, json={"code": fresh})
        assert verified.status_code == 201, verified.text


def test_a_dead_code_is_replaced_by_asking_for_another(
    serve: Serve, clock: Clock, sms: RecordingSender, tenant: Tenant
) -> None:
    with httpx.Client(base_url=serve(), timeout=30) as http:
        registration_id = http.post(realname_path(tenant.slug), json=registration_body()).json()["registration_id"]
        path = realname_path(tenant.slug, registration_id, "verify")
        code = sms.last_code()
        for _ in range(5):
            assert_refused(http.post(path, json={"code": other_code(code)}), "otp_invalid")
        assert_refused(http.post(path, json={"code": code}), "otp_exhausted")
        clock.advance(60)
        assert http.post(realname_path(tenant.slug, registration_id, "code"), json=AGAIN).status_code == 202
        assert http.post(path, json={"code": sms.last_code()}).status_code == 201


def test_another_code_too_soon_is_refused_with_retry_after_and_five_an_hour_at_most(
    serve: Serve, clock: Clock, sms: RecordingSender, tenant: Tenant
) -> None:
    with httpx.Client(base_url=serve(), timeout=30) as http:
        registered = http.post(realname_path(tenant.slug), json=registration_body()).json()
        resend = realname_path(tenant.slug, registered["registration_id"], "code")
        assert registered["resend_at"] == clock.moment + 60 and registered["code_expires_at"] == clock.moment + 300
        clock.advance(20)
        refused = http.post(resend, json=AGAIN)
        body = assert_refused(refused, "otp_too_soon", 429)
        assert refused.headers["retry-after"] == "40" and body["retry_after"] == 40 and len(sms.sent) == 1
        clock.advance(40)
        for n in range(4):  # sent at 0 s (registration), 60, 120, 180, 240 s
            again = http.post(resend, json=AGAIN)
            assert again.status_code == 202, again.text
            assert again.json()["resend_at"] == (clock.moment + 60 if n < 3 else T0 + 3600)
            clock.advance(60)
        refused = http.post(resend, json=AGAIN)  # the sixth in an hour: room when the first is an hour old
        assert_refused(refused, "otp_too_soon", 429)
        assert refused.headers["retry-after"] == str(3600 - 300) and len(sms.sent) == 5
        clock.advance(3600 - 300)
        assert http.post(resend, json=AGAIN).status_code == 202 and len(sms.sent) == 6
        unknown = http.post(realname_path(tenant.slug, str(uuid.uuid4()), "code"), json=AGAIN)
        assert_refused(unknown, "registration_unknown", 404)


# -- the HTTP sender ------------------------------------------------------------------------------------

@dataclass
class Receiver:
    """A stand-in SMS provider on loopback: records each request and answers `status`."""

    url: str
    status: int = 200
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)


@contextmanager
def sms_provider() -> Iterator[Receiver]:
    receiver = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            receiver.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(receiver.status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.url = f"http://127.0.0.1:{httpd.server_address[1]}/sms"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


def test_the_http_sender_posts_a_signed_request_with_the_phone_and_the_code(
    database_url: str, tmp_path: Path, engine: Engine, tenant: Tenant
) -> None:
    secret = "sms relay secret"
    number = valid_id()
    with sms_provider() as provider, platform_process(
        database_url=database_url, root_key=TEST_ROOT_KEY, log_path=tmp_path / "server.log",
        PARCELGUARD_SMS_SENDER="http", PARCELGUARD_SMS_HTTP_URL=provider.url, PARCELGUARD_SMS_HTTP_SECRET=secret,
    ) as live, httpx.Client(base_url=live.url, timeout=30) as http:
        registered = http.post(realname_path(tenant.slug), json=registration_body(number))
        assert registered.status_code == 202, registered.text
        [(headers, body)] = provider.requests
        assert headers["content-type"] == "application/json"
        assert check_signature(secret, headers["x-parcelguard-signature"], body)
        sent = json.loads(body)
        assert set(sent) == {"message_id", "to", "text"} and sent["to"] == "+86" + SENDER_PHONE
        assert number not in body.decode() and "慕容寄件" not in body.decode()
        registration_id = registered.json()["registration_id"]
        verified = http.post(realname_path(tenant.slug, registration_id, "verify"),
                             json={"code": code_from_text(sent["text"])})
        assert verified.status_code == 201, verified.text

        # The provider fails: the registration answers 503 and writes nothing.
        provider.status = 500
        failed = http.post(realname_path(tenant.slug), json=registration_body())
        assert_refused(failed, "sms_unavailable", 503)
        assert count(engine, SenderRegistration, SenderRegistration.carrier_id == tenant.carrier_id) == 1
        log = live.wait_for_log('"sms_failed"')
    assert '"sms_sent"' in log and '"sms_failed"' in log
    assert "验证码" not in log  # the HTTP sender logs no text
    assert_no_personal_data(log, number, "慕容寄件", secret)
