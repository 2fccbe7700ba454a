"""Servers of the identity tests' own: the platform in this process (so a test moves its clock and reads
the SMS it sends), with the settings a test gives, on the shared test database."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack

import httpx
import pytest
from pydantic import SecretStr

from parcelguard.core.config import Settings, encode_root_key
from parcelguard.web.app import create_app
from tests.conftest import TEST_ROOT_KEY
from tests.identity.realname import Clock, RecordingSender, Serve
from tests.servers import TEST_REGULATOR_PUBLIC, app_in_thread


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    moved = Clock()
    monkeypatch.setattr("parcelguard.core.clock.now", moved.now)
    return moved


@pytest.fixture
def sms() -> RecordingSender:
    return RecordingSender()


@pytest.fixture
def serve(database_url: str, sms: RecordingSender) -> Iterator[Serve]:
    """Start the platform with the given settings on the test database (in this process, so the clock
    fixture moves its clock); its SMS go to the `sms` fixture. Returns its URL."""
    with ExitStack() as stack:
        def start(**settings: object) -> str:
            keys = {"root_key": SecretStr(encode_root_key(TEST_ROOT_KEY)),
                    "regulator_public_key": encode_root_key(TEST_REGULATOR_PUBLIC)}
            app = create_app(Settings(database_url=database_url, **keys, **settings))
            app.state.sms_sender = sms
            return stack.enter_context(app_in_thread(app))
        yield start


@pytest.fixture
def client() -> Iterator[Callable[[str, str], httpx.Client]]:
    """`client(url, address)`: an HTTP client whose requests come from `address`."""
    with ExitStack() as stack:
        def make(url: str, address: str) -> httpx.Client:
            transport = httpx.HTTPTransport(local_address=address)
            return stack.enter_context(httpx.Client(base_url=url, transport=transport, timeout=30))
        yield make
