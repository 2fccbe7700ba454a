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


class StreamConfigError(Exception):
    """The streams cannot be made or brought to the configuration asked for (e.g. 3 replicas on a single server):
    one line for an operator, with JetStream's own error code."""


def stream_configs(replicas: int = 1) -> list[api.StreamConfig]:
    return [api.StreamConfig(name=name, subjects=[subjects], retention=api.RetentionPolicy.WORK_QUEUE,
                             storage=api.StorageType.FILE, duplicate_window=DUPLICATE_WINDOW_SECONDS,
                             num_replicas=replicas)
            for name, subjects in ((BATCH_STREAM, BATCH_SUBJECTS), (RECEIPT_STREAM, RECEIPT_SUBJECTS))]


async def ensure_streams(js: JetStreamContext, *, replicas: int = 1, owner: bool = True) -> None:
    """Create both streams with `replicas` copies (PARCELGUARD_NATS_REPLICAS). A stream that exists with another
    configuration is brought to this one by its owner, the platform (`owner`: in a cluster JetStream changes a
    stream's replicas in place); a carrier's uploader leaves it as it is and logs what differs, so that carriers
    with other settings cannot undo the regulator's replication between them."""
    for config in stream_configs(replicas):
        try:
            existing = (await js.stream_info(config.name)).config
        except nats.js.errors.NotFoundError:
            try:
                await js.add_stream(config)
            except nats.js.errors.APIError as exc:
                if exc.err_code != _STREAM_NAME_IN_USE:  # (in use: the other end made it meanwhile)
                    raise _refused(config, exc) from None
            continue
        if not owner:
            if existing.num_replicas != replicas:
                log.info("feed_stream_differs", stream=config.name, replicas=existing.num_replicas,
                         replicas_asked=replicas)
            continue
        try:
            await js.update_stream(config)  # the same configuration: nothing changes
        except nats.js.errors.APIError as exc:
            raise _refused(config, exc) from None
        if existing.num_replicas != replicas:
            log.info("feed_stream_updated", stream=config.name, replicas_was=existing.num_replicas, replicas=replicas)


_STREAM_NAME_IN_USE = 10058  # JSStreamNameExistErr: the name is taken by a stream with another configuration


def _refused(config: api.StreamConfig, exc: nats.js.errors.APIError) -> StreamConfigError:
    return StreamConfigError(f"JetStream refused stream {config.name} with {config.num_replicas} replica(s) "
                             f"(PARCELGUARD_NATS_REPLICAS): {exc.description} (error {exc.err_code})")


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
    runs one event loop in a daemon thread of its own and calls into it. Several threads may send at once
    (`upload_in_flight`): one reader per carrier takes the receipts and hands each to the send waiting for it."""

    def __init__(self, url: str, *, timeout: float = 10.0, replicas: int = 1) -> None:
        self._url = url
        self._timeout = timeout
        self._replicas = replicas
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="jetstream-feed", daemon=True)
        self._thread.start()
        self._client: Client | None = None
        self._js: JetStreamContext | None = None
        self._connecting: asyncio.Lock | None = None
        self._readers: dict[str, asyncio.Task[None]] = {}  # by carrier code
        self._waiting: dict[str, asyncio.Future[tuple[str | None, Any]]] = {}  # by batch id

    def send(self, carrier_code: str, batch_id: object, wire: dict[str, Any]) -> tuple[str | None, Any]:
        """Publish a batch and wait for the platform's answer: (error code, None) or (None, the receipt's wire
        object, not yet verified). Errors: `regulator_unreachable` (NATS), `receipt_timeout` (no answer in
        time), `receipt_format`, `batch_too_large`, `jetstream_streams` (the streams cannot be made as asked),
        `jetstream_<status>:<code>` (the platform refused it)."""
        try:
            return self._run(self._send(carrier_code, str(batch_id), wire),
                             self._timeout * 2 + CONNECT_TIMEOUT_SECONDS * 2 + 5)
        except StreamConfigError as exc:
            log.error("feed_streams_refused", error=str(exc))
            return "jetstream_streams", None
        except _UNREACHABLE:
            return "regulator_unreachable", None

    def close(self) -> None:
        if self._loop.is_closed():
            return
        with contextlib.suppress(Exception):  # closing: the process may be going anyway
            self._run(self._close(), 10)
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

    async def _close(self) -> None:
        for reader in self._readers.values():
            reader.cancel()
        self._readers.clear()
        await close_quietly(self._client)

    async def _jetstream(self) -> JetStreamContext:
        if self._connecting is None:
            self._connecting = asyncio.Lock()
        async with self._connecting:  # concurrent sends share one connection
            if self._client is None or self._client.is_closed or self._js is None:
                for reader in self._readers.values():
                    reader.cancel()
                self._readers.clear()
                self._js = None
                await close_quietly(self._client)
                self._client = await connect(self._url, name="parcelguard-uploader")
                js = self._client.jetstream(timeout=self._timeout)
                await ensure_streams(js, replicas=self._replicas, owner=False)
                self._js = js
            return self._js

    async def _reader(self, js: JetStreamContext, carrier_code: str) -> None:
        """Take the carrier's receipts and hand each to its waiting send. A receipt nobody waits for answers a
        batch of before a restart or one given up on: its records are still in the outbox and go again (the
        platform answers them once more without storing them twice), so it is acked and dropped."""
        receipts = await js.pull_subscribe(
            receipt_subject(carrier_code), durable=uploader_consumer(carrier_code), stream=RECEIPT_STREAM,
            config=api.ConsumerConfig(ack_policy=api.AckPolicy.EXPLICIT, ack_wait=10.0, max_ack_pending=100))
        while True:
            try:
                messages = await receipts.fetch(16, timeout=1.0)
            except nats.errors.TimeoutError:
                continue
            for message in messages:
                await message.ack()
                named, answer = _answer_of(message)
                waiter = self._waiting.get(named)
                if waiter is not None and not waiter.done():
                    waiter.set_result(answer)
                else:
                    log.info("receipt_dropped", reason="another_batch")

    async def _send(self, carrier_code: str, batch_id: str, wire: dict[str, Any]) -> tuple[str | None, Any]:
        js = await self._jetstream()
        reader = self._readers.get(carrier_code)
        if reader is None or reader.done():
            if reader is not None and not reader.cancelled() and reader.exception() is not None:
                log.info("receipt_reader_ended", error=type(reader.exception()).__name__)
            self._readers[carrier_code] = asyncio.create_task(self._reader(js, carrier_code))
        waiter = self._waiting[batch_id] = asyncio.get_running_loop().create_future()
        try:
            try:
                await js.publish(batch_subject(carrier_code), encode(wire), timeout=self._timeout,
                                 stream=BATCH_STREAM, headers={MSG_ID: batch_id})
            except nats.errors.MaxPayloadError:
                return "batch_too_large", None
            try:
                return await asyncio.wait_for(waiter, self._timeout)
            except TimeoutError:
                return "receipt_timeout", None
        finally:
            self._waiting.pop(batch_id, None)


def _answer_of(message: Msg) -> tuple[str, tuple[str | None, Any]]:
    """(the batch id a receipt message answers, the answer it gives)."""
    try:
        body = json.loads(message.data)
    except ValueError:
        body = None
    named = (message.headers or {}).get(MSG_ID, "")
    if named.startswith(RECEIPT_ID_PREFIX):
        named = named[len(RECEIPT_ID_PREFIX):]
    elif isinstance(body, dict):
        named = str(body.get("batch_id", ""))
    if not isinstance(body, dict):
        return named, ("receipt_format", None)
    refusal = body.get("problem")
    if isinstance(refusal, dict):
        return named, (f"jetstream_{refusal.get('status')}:{refusal.get('code')}", None)
    return named, (None, body)
