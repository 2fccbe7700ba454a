"""The uploader: sends the outbox's sealed records to the regulator's platform in signed batches and
applies its signed receipts (`parcelguard uploader run`, its own process).

A batch goes as soon as a carrier has `batch_records` records waiting, or when its oldest has waited
`linger` seconds (1,000 records or 1 s by default). The sending holds no database transaction: the
batch is built and committed first, then sent, then the receipt is applied in a transaction of its
own. So a crash anywhere loses nothing (records stay in the outbox until a receipt names them) and
duplicates nothing (the platform stores a record once by its id and answers the same ids again).
Only a receipt signed by the regulator's key, naming this batch, marks records delivered and deletes
the sealed copies. With `in_flight` > 1 (PARCELGUARD_UPLOAD_IN_FLIGHT) as many threads send a carrier's
batches at once; a batch is built under a lock that leaves out the records of batches still on their way,
so two batches never carry the same record unless one was given up on (then the platform answers it twice
and stores it once). Failures back off exponentially with full jitter, up to `backoff_max` seconds,
each carrier on its own.

The batches travel over HTTP (`POST /api/v1/batches` on the platform, the default) or, given a `feed`
(`regulator.jetstream.JetStreamFeed`, issue 17), over NATS JetStream; either way the receipt is verified
and applied here, in one place.

Incident reports (`incidents.reporting`) take HTTP in both cases: every second the uploader sends each
signed report the regulator has not acknowledged, and keeps the receipt once it verifies; a report that
fails backs off as a carrier's batches do.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
from sqlalchemy.orm import Session

from parcelguard.core.clock import now
from parcelguard.core.db import begin_write
from parcelguard.core.logging import get_logger
from parcelguard.crypto.keyring import Keyring
from parcelguard.incidents import reporting
from parcelguard.regulator import flows, protocol, service

log = get_logger("parcelguard.uploader")
BATCHES_PATH = "/api/v1/batches"
POLL_SECONDS = 0.1  # how often an idle uploader looks at the outbox
ALERT_CHECK_SECONDS = 5.0
REPORT_CHECK_SECONDS = 1.0  # how often the uploader looks for incident reports to send


class BatchFeed(Protocol):
    """A way for batches to reach the platform other than HTTP (`regulator.jetstream.JetStreamFeed`)."""

    def send(self, carrier_code: str, batch_id: object, wire: dict[str, Any]) -> tuple[str | None, Any]:
        """(error code, None) or (None, the platform's answer: a receipt's wire object, not yet verified)."""

    def close(self) -> None: ...


@dataclass(frozen=True)
class Sent:
    records: int
    delivered: int
    rejected: int
    error: str | None = None


class Uploader:
    def __init__(self, *, sessionmaker: Callable[[], Session], keyring: Keyring, url: str,
                 receipt_keys: dict[str, bytes], batch_records: int = protocol.MAX_RECORDS, linger: float = 1.0,
                 timeout: float = 10.0, backoff_max: float = 30.0, alert_seconds: float = 30.0,
                 client: httpx.Client | None = None, feed: BatchFeed | None = None, in_flight: int = 1) -> None:
        self._sessionmaker = sessionmaker
        self._keyring = keyring
        self._receipt_keys = receipt_keys
        self._batch_records = batch_records
        self._linger = linger
        self._backoff_max = backoff_max
        self._alert_seconds = alert_seconds
        self._client = client or httpx.Client(base_url=url.rstrip("/"), timeout=timeout)
        self._feed = feed  # None: batches take HTTP as reports do
        self._failures: dict[uuid.UUID, int] = {}  # failures in a row, by carrier
        self._next_try: dict[uuid.UUID, float] = {}  # monotonic time a backing-off carrier may send again
        self._report_failures: dict[uuid.UUID, int] = {}  # by incident report
        self._report_next_try: dict[uuid.UUID, float] = {}
        self.failures_in_a_row = 0  # the most of any carrier
        self._in_flight = in_flight  # batches of one carrier on their way at once, each sent by its own thread
        self._lock = threading.Lock()  # a batch is built under it, so two batches never share a record
        self._on_the_way: dict[uuid.UUID, set[uuid.UUID]] = {}  # record ids of batches sent, not yet answered

    def close(self) -> None:
        self._client.close()
        if self._feed is not None:
            self._feed.close()

    def run(self, stop: threading.Event) -> None:
        """Send until `stop` is set. Each carrier backs off on its own: one carrier's refused key does
        not hold up another's records. An idle outbox is polled. With `in_flight` > 1, as many threads send
        batches (this one also does the alerts and the incident reports), each batch of other records."""
        helpers = [threading.Thread(target=self._send_batches, args=(stop,), name=f"uploader-{i}", daemon=True)
                   for i in range(1, self._in_flight)]
        for helper in helpers:
            helper.start()
        try:
            self._send_batches(stop, chores=True)
        finally:
            for helper in helpers:
                helper.join()

    def _send_batches(self, stop: threading.Event, *, chores: bool = False) -> None:
        last_alert_check = last_report_check = 0.0
        while not stop.is_set():
            if chores and time.monotonic() - last_alert_check >= ALERT_CHECK_SECONDS:
                last_alert_check = time.monotonic()
                self._check_delay()
            if chores and time.monotonic() - last_report_check >= REPORT_CHECK_SECONDS:
                last_report_check = time.monotonic()
                try:
                    self.send_reports()
                except Exception:  # as for batches: log it, the next check tries again
                    log.exception("report_pass_failed")
            try:
                sent = self.run_once()
            except Exception:  # a database hiccup must not end the uploader: log it, back off
                log.exception("upload_pass_failed")
                stop.wait(self._backoff_max / 10)
                continue
            if not any(s.records for s in sent):  # nothing went (or only records already on their way)
                with self._lock:  # other sending threads change it
                    upcoming = [t for t in self._next_try.values() if t > time.monotonic()]
                stop.wait(min([POLL_SECONDS, *(t - time.monotonic() for t in upcoming)]))

    def backoff(self, failures: int | None = None) -> float:
        """Full jitter: a uniform wait up to 0.5 s x 2^(failures - 1), capped at `backoff_max`."""
        failures = self.failures_in_a_row if failures is None else failures
        ceiling = min(self._backoff_max, 0.5 * 2 ** max(0, failures - 1))
        return random.uniform(0, ceiling)  # jitter, not a secret

    def run_once(self, *, force: bool = False) -> list[Sent]:
        """One batch for each carrier that is due and not backing off (`force`: every carrier with
        records waiting, backoff or not)."""
        moment = time.monotonic()
        with self._sessionmaker() as session:
            waiting = service.waiting(db_session=session)
        with self._lock:
            left = {w.carrier_id: w.records - len(self._on_the_way.get(w.carrier_id, ())) for w in waiting}
        due = [w for w in waiting
               if force or (self._next_try.get(w.carrier_id, 0.0) <= moment and left[w.carrier_id] > 0
                            and (left[w.carrier_id] >= self._batch_records
                                 or (now() - w.oldest).total_seconds() >= self._linger))]
        results = []
        for w in due:
            sent = self.send(w.carrier_id)
            results.append(sent)
            with self._lock:
                if sent.error:
                    self._failures[w.carrier_id] = self._failures.get(w.carrier_id, 0) + 1
                    self._next_try[w.carrier_id] = time.monotonic() + self.backoff(self._failures[w.carrier_id])
                else:
                    self._failures.pop(w.carrier_id, None)
                    self._next_try.pop(w.carrier_id, None)
                self.failures_in_a_row = max(self._failures.values(), default=0)
        return results

    def send(self, carrier_id: uuid.UUID) -> Sent:
        with self._lock:  # one build at a time: leave out the records of batches on their way
            on_the_way = self._on_the_way.setdefault(carrier_id, set())
            with self._sessionmaker() as session, session.begin():
                begin_write(session)  # the upload key may be made on first use
                outgoing = flows.build_batch(db_session=session, keyring=self._keyring, carrier_id=carrier_id,
                                             limit=self._batch_records, exclude=set(on_the_way))
            if outgoing is None:
                return Sent(0, 0, 0)
            ids = {r.record_id for r in outgoing.batch.records}
            on_the_way |= ids
        try:
            return self._send(carrier_id, outgoing)
        finally:
            with self._lock:
                on_the_way -= ids

    def _send(self, carrier_id: uuid.UUID, outgoing: flows.Outgoing) -> Sent:
        batch = outgoing.batch
        started = time.perf_counter()
        error, receipt = self._deliver(outgoing)
        duration_ms = int((time.perf_counter() - started) * 1000)
        with self._sessionmaker() as session, session.begin():
            begin_write(session)
            if receipt is not None:
                try:
                    applied = flows.apply_receipt(db_session=session, carrier_id=carrier_id, batch=batch,
                                                  receipt=receipt, duration_ms=duration_ms)
                except flows.ReceiptMismatch as exc:
                    error = exc.code
                else:
                    log.info("batch_receipted", batch_id=str(batch.batch_id), records=len(batch.records),
                             accepted=applied.delivered, rejected=applied.rejected, ms=duration_ms)
                    return Sent(len(batch.records), applied.delivered, applied.rejected)
            assert error is not None
            flows.record_failure(db_session=session, carrier_id=carrier_id, batch=batch, error=error,
                                 duration_ms=duration_ms)
        log.warning("batch_failed", batch_id=str(batch.batch_id), records=len(batch.records), error=error,
                    ms=duration_ms)
        return Sent(len(batch.records), 0, 0, error=error)

    def _deliver(self, outgoing: flows.Outgoing) -> tuple[str | None, protocol.Receipt | None]:
        """Send a batch (HTTP, or the feed); answers (error code, None) or (None, a receipt whose signature
        verified)."""
        if self._feed is not None:
            error, answer = self._feed.send(outgoing.batch.carrier, outgoing.batch.batch_id, outgoing.wire)
        else:
            error, answer = self._post(outgoing.wire)
        if error is not None:
            return error, None
        try:
            receipt, signature = protocol.parse_receipt(answer)
            protocol.verify_receipt(receipt, signature, self._receipt_keys)
        except ValueError:
            return "receipt_format", None
        except protocol.ProtocolError as exc:
            return exc.code, None
        return None, receipt

    def _post(self, wire: dict[str, Any]) -> tuple[str | None, object]:
        try:
            response = self._client.post(BATCHES_PATH, json=wire)
        except httpx.HTTPError:
            return "regulator_unreachable", None
        if response.status_code != 200:
            return _http_error(response), None
        try:
            return None, response.json()
        except ValueError:
            return "receipt_format", None

    def send_reports(self, *, force: bool = False) -> list[tuple[uuid.UUID, str | None]]:
        """Send each incident report without a receipt that is not backing off (`force`: every one); answers
        (report id, error or None) for each sent."""
        moment = time.monotonic()
        with self._sessionmaker() as session:
            due = [(s.row.id, s.wire) for s in reporting.unsent(db_session=session)
                   if force or self._report_next_try.get(s.row.id, 0.0) <= moment]
        results = []
        for report_id, wire in due:
            error, answer = self._post_report(wire)
            with self._sessionmaker() as session, session.begin():
                begin_write(session)
                if answer is not None:
                    try:
                        reporting.apply_receipt(db_session=session, report_id=report_id, receipt_wire=answer,
                                                receipt_keys=self._receipt_keys)
                    except protocol.ProtocolError as exc:
                        error = exc.code
                if error is not None:
                    reporting.record_failure(db_session=session, report_id=report_id, error=error)
            if error is None:
                self._report_failures.pop(report_id, None)
                self._report_next_try.pop(report_id, None)
                log.info("incident_report_receipted", report_id=str(report_id))
            else:
                failures = self._report_failures[report_id] = self._report_failures.get(report_id, 0) + 1
                self._report_next_try[report_id] = time.monotonic() + self.backoff(failures)
                log.warning("incident_report_failed", report_id=str(report_id), error=error)
            results.append((report_id, error))
        return results

    def _post_report(self, wire: dict[str, object]) -> tuple[str | None, object | None]:
        try:
            response = self._client.post(reporting.REPORTS_PATH, json=wire)
        except httpx.HTTPError:
            return "regulator_unreachable", None
        if response.status_code != 200:
            return _http_error(response), None
        try:
            return None, response.json()
        except ValueError:
            return "receipt_format", None

    def _check_delay(self) -> None:
        try:
            flows.check_delay(sessionmaker=self._sessionmaker, threshold_seconds=self._alert_seconds)
        except Exception:  # the check runs again in a few seconds
            log.exception("delay_check_failed")


def _http_error(response: httpx.Response) -> str:
    """`http_<status>`, with the problem's code when the platform answered one (`http_403:batch_signature`)."""
    code = None
    if response.headers.get("content-type", "").startswith("application/problem+json"):
        try:
            code = response.json().get("code")
        except ValueError:
            code = None
    return f"http_{response.status_code}" + (f":{code}" if isinstance(code, str) else "")
