"""The platform's end of the feed on NATS JetStream (issue 17; `regulator.jetstream` has the names): a task of
the regulator app, started when PARCELGUARD_REGULATOR_FEED (or PARCELGUARD_FEED) is "jetstream".

For each batch: ingest it in a worker thread with its own session and transaction (as `POST /batches` does),
publish the signed receipt to the carrier's receipts subject (`Nats-Msg-Id: receipt-<batch id>`), wait for
its PubAck, and only then ack the batch. A crash before the ack redelivers the batch: ingest stores a record
once, and JetStream keeps one receipt per batch within the duplicate window. A refused batch (a domain error:
bad format, unknown key, bad signature) is answered with a problem document the same way and acked. Any other
error is logged and the batch not acked: it comes again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from typing import Any

import nats.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext, api
from sqlalchemy.orm import Session, sessionmaker

from parcelguard.core.db import begin_write
from parcelguard.core.errors import DomainError, Forbidden
from parcelguard.core.logging import get_logger
from parcelguard.regulator import jetstream
from parcelguard.regulator.platform import service
from parcelguard.regulator.platform.keys import PlatformKeys

log = get_logger("parcelguard.regulator.feed")
ACK_WAIT_SECONDS = 30.0
MAX_ACK_PENDING = 64
FETCH_BATCHES = 1  # batches a worker takes per pull (more would wait in the worker while others idle)
BACKOFF_MAX_SECONDS = 10.0
_BATCH_ID = re.compile(r"^[0-9a-f-]{36}$")


async def consume(*, url: str, sessionmaker: sessionmaker[Session], keys: PlatformKeys, workers: int = 1,
                  replicas: int = 1) -> None:
    """Take batches in until cancelled, `workers` at once (PARCELGUARD_REGULATOR_FEED_WORKERS): each worker pulls
    from the one durable consumer (as other platform processes may) and ingests in a thread and a transaction
    of its own. JetStream gives a batch to one worker at a time; one that comes again (a worker or a process
    died before its ack, or the carrier sent it again) stores nothing twice: ingest inserts a record once by its
    id (ON CONFLICT DO NOTHING, so two transactions on the same records wait for each other rather than fail)
    and answers the same ids, and the receipt's `Nats-Msg-Id` keeps one receipt per batch. While NATS is down
    it tries again, backing off; it never raises."""
    wait = 0.5
    while True:
        client = None
        try:
            client = await jetstream.connect(url, name="parcelguard-platform")
            js = client.jetstream(timeout=10.0)
            await jetstream.ensure_streams(js, replicas=replicas, owner=True)
            subscriptions = [await js.pull_subscribe(
                jetstream.BATCH_SUBJECTS, durable=jetstream.PLATFORM_CONSUMER, stream=jetstream.BATCH_STREAM,
                config=api.ConsumerConfig(ack_policy=api.AckPolicy.EXPLICIT, ack_wait=ACK_WAIT_SECONDS,
                                          max_ack_pending=MAX_ACK_PENDING)) for _ in range(workers)]
            log.info("feed_consuming", stream=jetstream.BATCH_STREAM, workers=workers)
            wait = 0.5
            async with asyncio.TaskGroup() as workers_group:  # one failing stops the others: all start again
                for batches in subscriptions:
                    workers_group.create_task(_work(client, js, batches, sessionmaker=sessionmaker, keys=keys))
        except asyncio.CancelledError:
            raise
        except jetstream.StreamConfigError as exc:  # the operator's setting: say so, and try again later
            log.error("feed_streams_refused", error=str(exc), retry_in=wait)
        except Exception as exc:  # noqa: BLE001  (NATS away or a broken connection: try again, never crash the app)
            first = exc.exceptions[0] if isinstance(exc, ExceptionGroup) else exc
            log.warning("feed_unavailable", error=type(first).__name__, retry_in=wait)
        finally:
            await jetstream.close_quietly(client)
        _raise_if_cancelled()
        await asyncio.sleep(wait)
        wait = min(BACKOFF_MAX_SECONDS, wait * 2)


async def _work(client: Client, js: JetStreamContext, batches: JetStreamContext.PullSubscription, *,
                sessionmaker: sessionmaker[Session], keys: PlatformKeys) -> None:
    """One worker: pull a few batches, handle them one after the other; returns when the connection is closed."""
    while True:
        _raise_if_cancelled()
        try:
            messages = await batches.fetch(FETCH_BATCHES, timeout=1.0)
        except nats.errors.TimeoutError:
            if client.is_closed:
                return
            continue
        for message in messages:
            await handle(js, message, sessionmaker=sessionmaker, keys=keys)


def _raise_if_cancelled() -> None:
    """Python 3.11's `asyncio.wait_for` (inside nats-py's fetch) can swallow a cancellation that arrives as its
    wait ends; the task still counts it (`cancelling()`), so a loop that checks stops all the same, and the
    app's shutdown does not wait for ever while its workers go on taking batches."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


async def handle(js: JetStreamContext, message: Msg, *, sessionmaker: sessionmaker[Session],
                 keys: PlatformKeys) -> None:
    """One batch: ingest, publish the answer, wait for its PubAck, then ack the batch."""
    code = jetstream.carrier_of(message.subject)
    sent_id = (message.headers or {}).get(jetstream.MSG_ID, "")
    batch_id = sent_id if _BATCH_ID.match(sent_id) else f"seq-{message.metadata.sequence.stream}"
    try:
        answer = await asyncio.to_thread(_ingest, sessionmaker, keys, message.data, code)
    except DomainError as exc:
        answer = jetstream.problem(exc.code, exc.status)
        log.info("feed_batch_refused", carrier=code, batch_id=batch_id, code=exc.code, status=exc.status)
    except Exception:
        log.exception("feed_batch_failed", carrier=code, batch_id=batch_id)  # not acked: it comes again
        await _nak(message)
        return
    try:
        await js.publish(jetstream.receipt_subject(code), jetstream.encode(answer), stream=jetstream.RECEIPT_STREAM,
                         headers={jetstream.MSG_ID: jetstream.RECEIPT_ID_PREFIX + batch_id})
        await message.ack_sync()
    except Exception as exc:  # noqa: BLE001  (NATS went away: the batch comes again, ingest is idempotent)
        log.warning("feed_answer_unsent", carrier=code, batch_id=batch_id, error=type(exc).__name__)
        await _nak(message)
        return
    if "problem" not in answer:
        log.info("feed_batch_receipted", carrier=code, batch_id=batch_id, accepted=len(answer["accepted"]),
                 rejected=len(answer["rejected"]))


def _ingest(sessionmaker: sessionmaker[Session], keys: PlatformKeys, data: bytes, code: str) -> dict[str, Any]:
    """A batch in one transaction of its own; answers the signed receipt's wire object."""
    try:
        wire = json.loads(data)
    except ValueError:
        raise DomainError("The batch is not valid JSON.", code="malformed_json") from None
    if isinstance(wire, dict) and isinstance(wire.get("carrier"), str) and wire["carrier"] != code:
        # The receipt goes to the subject's carrier: a batch must come on its own carrier's subject.
        raise Forbidden("The batch names another carrier than its subject.", code="carrier_subject_mismatch")
    with sessionmaker() as session, session.begin():
        begin_write(session)
        return service.ingest(db_session=session, keys=keys, batch_wire=wire)


async def _nak(message: Msg) -> None:
    with contextlib.suppress(Exception):  # then it comes again after ack_wait
        await message.nak(delay=1.0)
