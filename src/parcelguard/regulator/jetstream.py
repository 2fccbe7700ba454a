"""The feed on NATS JetStream (issue 17), beside the HTTP one: names both ends share, and the carrier's side.

A carrier publishes a signed batch (the wire object of `protocol`) to `parcelguard.feed.batches.<carrier code>`
with the header `Nats-Msg-Id: <batch id>`, so JetStream stores a batch sent twice within the duplicate window
once. The regulator's platform (`regulator.platform.jetstream`) consumes them, stores the records, publishes
the signed receipt (or a problem document `{"problem": {"code", "status"}}` for a refused batch) to
`parcelguard.feed.receipts.<carrier code>` with `Nats-Msg-Id: receipt-<batch id>`, and only then acks the
batch. Both streams are work queues on file storage: a message leaves once its one consumer acks it.

Pure of carrier domains: the platform imports this module (tests/regulator/test_platform_app.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections.abc import Coroutine
from typing import Any

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext, api

from parcelguard.core.logging import get_logger

BATCH_STREAM = "PG_BATCHES"
RECEIPT_STREAM = "PG_RECEIPTS"
BATCH_SUBJECTS = "parcelguard.feed.batches.*"  # the last token is the carrier's code
RECEIPT_SUBJECTS = "parcelguard.feed.receipts.*"
PLATFORM_CONSUMER = "platform"
DUPLICATE_WINDOW_SECONDS = 120.0
MSG_ID = "Nats-Msg-Id"
RECEIPT_ID_PREFIX = "receipt-"
CONNECT_TIMEOUT_SECONDS = 2.0
# A batch of 1,000 sealed records is about 1 MiB, past NATS's default `max_payload` (1 MiB): the server the
# feed uses is configured with this (`parcelguard run-all`, tests/nats_server.py, docs/operations.md).
MAX_PAYLOAD_BYTES = 8 * 1024 * 1024

log = get_logger("parcelguard.feed")


def batch_subject(carrier_code: str) -> str:
    return f"parcelguard.feed.batches.{carrier_code}"


def receipt_subject(carrier_code: str) -> str:
    return f"parcelguard.feed.receipts.{carrier_code}"


def uploader_consumer(carrier_code: str) -> str:
    return f"uploader-{carrier_code}"


def carrier_of(subject: str) -> str:
    """The carrier's code a batch subject names (its last token)."""
    return subject.rsplit(".", 1)[-1]


def problem(code: str, status: int) -> dict[str, Any]:
    """A refusal as it travels on the receipts subject: the stable code and the status, never a value."""
    return {"problem": {"code": code, "status": status}}


def encode(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


async def ensure_streams(js: JetStreamContext) -> None:
    """Create both streams, or bring an existing one to this configuration (both ends call it at start)."""
    for config in (
        api.StreamConfig(name=BATCH_STREAM, subjects=[BATCH_SUBJECTS], retention=api.RetentionPolicy.WORK_QUEUE,
                         storage=api.StorageType.FILE, duplicate_window=DUPLICATE_WINDOW_SECONDS),
        api.StreamConfig(name=RECEIPT_STREAM, subjects=[RECEIPT_SUBJECTS], retention=api.RetentionPolicy.WORK_QUEUE,
                         storage=api.StorageType.FILE, duplicate_window=DUPLICATE_WINDOW_SECONDS),
    ):
        try:
            await js.add_stream(config)
        except nats.js.errors.BadRequestError:  # it exists (with another configuration): update it
            await js.update_stream(config)


async def connect(url: str, *, name: str) -> Client:
    """A client that reconnects by itself once connected; the first connection waits `CONNECT_TIMEOUT_SECONDS`
    at most (nats-py would otherwise try for ever)."""
    async def quiet(exc: Exception) -> None:  # nats-py logs every failed attempt as an error by default
        log.debug("nats_error", error=type(exc).__name__)

    client = Client()
    try:
        await asyncio.wait_for(client.connect(url, name=name, allow_reconnect=True, max_reconnect_attempts=-1,
                                              reconnect_time_wait=0.5, connect_timeout=CONNECT_TIMEOUT_SECONDS,
                                              error_cb=quiet), CONNECT_TIMEOUT_SECONDS * 2)
    except BaseException:
        await close_quietly(client)
        raise
    return client


async def close_quietly(client: Client | None) -> None:
    if client is not None and not client.is_closed:
        with contextlib.suppress(Exception):  # closing a broken connection: nothing left to save
            await asyncio.wait_for(client.close(), 5)


_UNREACHABLE = (OSError, TimeoutError, nats.errors.Error)


class JetStreamFeed:
    """The carrier's end, with a synchronous API for the threaded uploader: nats-py is asyncio, so the object
    runs one event loop in a daemon thread of its own and calls into it."""

    def __init__(self, url: str, *, timeout: float = 10.0) -> None:
        self._url = url
        self._timeout = timeout
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="jetstream-feed", daemon=True)
        self._thread.start()
        self._client: Client | None = None
        self._js: JetStreamContext | None = None
        self._subscriptions: dict[str, JetStreamContext.PullSubscription] = {}

    def send(self, carrier_code: str, batch_id: object, wire: dict[str, Any]) -> tuple[str | None, Any]:
        """Publish a batch and wait for the platform's answer: (error code, None) or (None, the receipt's wire
        object, not yet verified). Errors: `regulator_unreachable` (NATS), `receipt_timeout` (no answer in
        time), `receipt_format`, `batch_too_large`, `jetstream_<status>:<code>` (the platform refused it)."""
        try:
            return self._run(self._send(carrier_code, str(batch_id), wire),
                             self._timeout * 2 + CONNECT_TIMEOUT_SECONDS * 2 + 5)
        except _UNREACHABLE:
            return "regulator_unreachable", None

    def close(self) -> None:
        if self._loop.is_closed():
            return
        with contextlib.suppress(Exception):  # closing: the process may be going anyway
            self._run(close_quietly(self._client), 10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        if not self._thread.is_alive():
            self._loop.close()

    def _run(self, coroutine: Coroutine[Any, Any, Any], timeout: float) -> Any:
        future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        try:
            return future.result(timeout)
        except TimeoutError:  # concurrent.futures': give up on the call, report NATS as unreachable
            future.cancel()
            raise

    async def _jetstream(self) -> JetStreamContext:
        if self._client is None or self._client.is_closed or self._js is None:
            self._subscriptions.clear()
            self._client = await connect(self._url, name="parcelguard-uploader")
            self._js = self._client.jetstream(timeout=self._timeout)
            await ensure_streams(self._js)
        return self._js

    async def _subscription(self, js: JetStreamContext, carrier_code: str) -> JetStreamContext.PullSubscription:
        if carrier_code not in self._subscriptions:
            self._subscriptions[carrier_code] = await js.pull_subscribe(
                receipt_subject(carrier_code), durable=uploader_consumer(carrier_code), stream=RECEIPT_STREAM,
                config=api.ConsumerConfig(ack_policy=api.AckPolicy.EXPLICIT, ack_wait=10.0, max_ack_pending=100))
        return self._subscriptions[carrier_code]

    async def _send(self, carrier_code: str, batch_id: str, wire: dict[str, Any]) -> tuple[str | None, Any]:
        js = await self._jetstream()
        receipts = await self._subscription(js, carrier_code)
        try:
            await js.publish(batch_subject(carrier_code), encode(wire), timeout=self._timeout, stream=BATCH_STREAM,
                             headers={MSG_ID: batch_id})
        except nats.errors.MaxPayloadError:
            return "batch_too_large", None
        deadline = time.monotonic() + self._timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                messages = await receipts.fetch(1, timeout=max(0.1, min(left, 1.0)))
            except nats.errors.TimeoutError:
                continue
            for message in messages:
                await message.ack()
                answer = _answer_to(message, batch_id)
                if answer is not None:
                    return answer
                # A receipt of an earlier batch (before a restart): its records are still in the outbox and
                # go again; the platform answers them once more without storing them twice.
                log.info("receipt_dropped", reason="another_batch")
        return "receipt_timeout", None


def _answer_to(message: Msg, batch_id: str) -> tuple[str | None, Any] | None:
    """The answer this message gives to batch `batch_id`, or None when it answers another batch."""
    try:
        body = json.loads(message.data)
    except ValueError:
        body = None
    named = (message.headers or {}).get(MSG_ID, "")
    if named.startswith(RECEIPT_ID_PREFIX):
        named = named[len(RECEIPT_ID_PREFIX):]
    elif isinstance(body, dict):
        named = str(body.get("batch_id", ""))
    if named != batch_id:
        return None
    if not isinstance(body, dict):
        return "receipt_format", None
    refusal = body.get("problem")
    if isinstance(refusal, dict):
        return f"jetstream_{refusal.get('status')}:{refusal.get('code')}", None
    return None, body
