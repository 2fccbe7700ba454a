"""A sender's real-name registration as a sender's app makes it: register, receive the SMS code, give it
back for the token. Every test that needs a registered sender goes through `register_verified`."""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable
from datetime import UTC, datetime

import httpx

from parcelguard.identity.documents import id_check_character
from tests.servers import LiveServer

SENDER_PHONE = "13966667777"
AGAIN = {"phone": SENDER_PHONE}  # the body asking for another code: the phone given at registration
CODE_IN_TEXT = re.compile(r"验证码：(\d{6})")
Serve = Callable[..., str]  # the `serve` fixture: start the platform with these settings, get its URL

# A UTC midnight a month ahead: hour and day windows start exactly there, so Retry-After is known.
T0 = (int(datetime.now(UTC).timestamp()) // 86400 + 30) * 86400


class Clock:
    """The platform's clock (parcelguard.core.clock.now), moved by the test."""

    def __init__(self) -> None:
        self.moment = float(T0)

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.moment, UTC)

    def advance(self, seconds: float) -> None:
        self.moment += seconds


def new_address() -> str:
    """A loopback address of this test's own (the whole of 127/8 reaches the server), so its counters are
    its own in the shared test database."""
    return f"127.{secrets.randbelow(254) + 1}.{secrets.randbelow(256)}.{secrets.randbelow(254) + 1}"


def valid_id() -> str:
    body = "11010519800101" + f"{secrets.randbelow(1000):03d}"  # region, birth date, sequence
    return body + id_check_character(body)


def registration_body(number: str | None = None, *, name: str = "慕容寄件", phone: str = SENDER_PHONE) -> dict:
    return {"document": {"type": "resident_id", "number": number or valid_id(), "name": name}, "phone": phone}


def realname_path(slug: str, registration_id: str | None = None, step: str | None = None) -> str:
    path = f"/api/v1/public/carriers/{slug}/realname"
    return path + "".join(f"/{part}" for part in (registration_id, step) if part)


def code_from_text(text: str) -> str:
    match = CODE_IN_TEXT.search(text)
    assert match is not None, "no code in the SMS text"
    return match.group(1)


def sms_lines(server: LiveServer, registration_id: str) -> list[dict]:
    """The log sender's lines for a registration, oldest first (each a parsed JSON log line)."""
    text = server.wait_for_log(registration_id)
    lines = []
    for raw in text.splitlines():
        if registration_id in raw and '"sms_sent"' in raw:
            lines.append(json.loads(raw))
    return lines


def code_in_log(server: LiveServer, registration_id: str) -> str:
    """The newest code the log sender wrote for the registration."""
    lines = sms_lines(server, registration_id)
    assert lines, "the log sender wrote no code for this registration"
    return code_from_text(lines[-1]["text"])


class RecordingSender:
    """An SMS sender for an app served in this process: keeps what it was asked to send."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def send(self, phone_e164: str, text: str) -> None:
        self.sent.append((phone_e164, text))

    def last_code(self) -> str:
        assert self.sent, "no SMS was sent"
        return code_from_text(self.sent[-1][1])


def register_verified(http: httpx.Client, slug: str, code_of: Callable[[str], str],
                      body: dict | None = None) -> dict:
    """Register a sender and give back the code the phone received (`code_of(registration_id)`): the
    answer of `.../verify`, `{registration_id, token, expires_at, refresh_secret}`."""
    registered = http.post(realname_path(slug), json=body or registration_body())
    assert registered.status_code == 202, registered.text
    registration_id = registered.json()["registration_id"]
    verified = http.post(realname_path(slug, registration_id, "verify"), json={"code": code_of(registration_id)})
    assert verified.status_code == 201, verified.text
    return dict(verified.json())
