"""Detection on a timer: the server runs it over every carrier every `PARCELGUARD_DETECTION_INTERVAL_SECONDS`
(0: never). Each carrier is read in a transaction that only reads, then its new alerts and the run's record are
written in a short one of their own, so SQLite's write lock is not held while millions of entries are counted.
Several server processes (`parcelguard run --workers N`) take turns: one runs a round, the others skip it
(`core.passes`); an alert's dedupe key would make a second one a no-op anyway."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import timedelta
from typing import Any

import structlog

from parcelguard.core import db, passes
from parcelguard.core.clock import now
from parcelguard.detection import service


def run_all(*, sessionmaker: Any, trigger: str = "schedule", carrier_ids: list[uuid.UUID] | None = None,
            window: timedelta | None = None) -> list[service.RunResult]:
    """One run over each carrier (all of them when `carrier_ids` is None), each in its own transactions."""
    with sessionmaker() as session:
        targets = carrier_ids if carrier_ids is not None else service.carrier_ids(db_session=session)
        session.rollback()
    results = []
    for carrier_id in targets:
        try:
            results.append(_run_one(sessionmaker, carrier_id, trigger, window))
        except Exception:
            if trigger != "schedule":
                raise
            # One carrier's failure must not keep the others unwatched: logged, and the next carrier runs.
            structlog.get_logger("parcelguard.detection").exception("detection run failed",
                                                                    carrier_id=str(carrier_id))
    return results


def _run_one(sessionmaker: Any, carrier_id: uuid.UUID, trigger: str, window: timedelta | None) -> service.RunResult:
    started, clock = now(), time.perf_counter()
    with sessionmaker() as session:
        detected = service.detect(db_session=session, carrier_id=carrier_id, until=started, window=window)
        session.rollback()
    with sessionmaker() as session, session.begin():
        db.begin_write(session)
        return service.record(db_session=session, detected=detected, trigger=trigger, started=started,
                              duration_ms=round((time.perf_counter() - clock) * 1000))


async def run_periodically(*, sessionmaker: Any, interval: float) -> None:
    """Sleep `interval` seconds, run over every carrier, again; a failure is logged and the next round comes.
    A round another process is running is skipped here."""
    log = structlog.get_logger("parcelguard.detection")
    while True:
        await asyncio.sleep(interval)
        try:
            results = await asyncio.to_thread(passes.run_alone, sessionmaker.kw["bind"], "detection",
                                              lambda: run_all(sessionmaker=sessionmaker)) or []
        except Exception:  # log it and keep running: a bad round must not end the loop
            log.exception("detection run failed")
        else:
            raised = sum(len(r.raised) for r in results)
            if raised:
                log.info("detection raised alerts", carriers=len(results), alerts=raised)
