"""Retention on a timer: the server runs `service.run` over every carrier each
`PARCELGUARD_RETENTION_INTERVAL_SECONDS` (a day by default). Of several worker processes one runs a round, the
others skip it (`core.passes`); two at once would do no harm anyway: a month destroyed by one is no longer due for
the other, and each month is one transaction."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable

import structlog
from sqlalchemy.orm import Session

from parcelguard.accounts import service as accounts
from parcelguard.core import passes
from parcelguard.crypto.keyring import Keyring
from parcelguard.retention import service


def run_all(*, sessionmaker: Callable[[], Session], keyring: Keyring, carrier_ids: list[uuid.UUID] | None = None,
            strict: bool = False) -> dict[uuid.UUID, service.Done]:
    """A run over each carrier (every one when None). One carrier's failure is logged and the next runs,
    unless `strict` (the command line), where it is raised."""
    with sessionmaker() as session:
        targets = carrier_ids if carrier_ids is not None else accounts.carrier_ids(db_session=session)
    done = {}
    for carrier_id in targets:
        try:
            done[carrier_id] = service.run(sessionmaker=sessionmaker, keyring=keyring, carrier_id=carrier_id)
        except Exception:
            if strict:
                raise
            structlog.get_logger("parcelguard.retention").exception("retention run failed",
                                                                    carrier_id=str(carrier_id))
    return done


async def run_periodically(*, sessionmaker: Callable[[], Session], keyring: Keyring, interval: float) -> None:
    log = structlog.get_logger("parcelguard.retention")
    while True:
        await asyncio.sleep(interval)
        try:
            done = await asyncio.to_thread(passes.run_alone, sessionmaker.kw["bind"], "retention",  # type: ignore[attr-defined]
                                           lambda: run_all(sessionmaker=sessionmaker, keyring=keyring)) or {}
        except Exception:  # log it and keep running: a bad round must not end the loop
            log.exception("retention run failed")
        else:
            destroyed = sum(len(d.records) for d in done.values())
            if destroyed:
                log.info("retention destroyed", carriers=len(done), months=destroyed)
