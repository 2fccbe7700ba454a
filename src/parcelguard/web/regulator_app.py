"""App assembly for the regulator's real-name platform (`parcelguard regulator run`): its own settings,
database, keys, officials and routes; nothing of the carrier platform."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastapi import APIRouter, FastAPI
from fastapi_offline import FastAPIOffline
from starlette.staticfiles import StaticFiles

from parcelguard import __version__
from parcelguard.core import db, errors
from parcelguard.core import partitions as core_partitions
from parcelguard.core.auth import ActorCache
from parcelguard.core.config import ConfigError, RegulatorSettings
from parcelguard.core.logging import configure as configure_logging
from parcelguard.core.middleware import RequestContext
from parcelguard.core.openapi import document_problems
from parcelguard.regulator.platform import jetstream as feed_jetstream
from parcelguard.regulator.platform import officials, partitions, retention
from parcelguard.regulator.platform.api import router as platform_router
from parcelguard.regulator.platform.incidents_api import router as incidents_router
from parcelguard.regulator.platform.keys import PlatformKeys
from parcelguard.regulator.platform.migrations import MIGRATIONS_DIR
from parcelguard.web import regulator_incidents, regulator_keys, regulator_pages
from parcelguard.web.probes import probes
from parcelguard.web.templating import STATIC_DIR

API_PREFIX = "/api/v1"


def create_regulator_app(settings: RegulatorSettings | None = None) -> FastAPI:
    settings = settings or RegulatorSettings()
    problems = settings.production_problems()
    if problems:
        raise ConfigError(problems[0])
    configure_logging(settings.log_level)
    keys = PlatformKeys.from_settings(settings)  # a missing key stops the start (ConfigError, one line)
    engine = db.make_engine(settings.resolved_database_url)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        tasks = [asyncio.create_task(core_partitions.keep_ahead(  # this month's partitions and ahead (issue 17)
            lambda: partitions.ensure_partitions(app.state.engine), logger="parcelguard.regulator"))]
        if settings.retention_interval_seconds > 0:
            tasks.append(asyncio.create_task(_destroy_expired_periodically(app)))
        if settings.feed == "jetstream":  # batches also arrive over NATS JetStream (issue 17)
            tasks.append(asyncio.create_task(feed_jetstream.consume(
                url=settings.nats_url, sessionmaker=app.state.sessionmaker, keys=app.state.platform_keys,
                workers=settings.feed_workers, replicas=settings.nats_replicas)))
        yield
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        engine.dispose()

    app = FastAPIOffline(
        title="parcelguard regulator platform",
        version=__version__,
        summary="The regulator's real-name platform: signed batches of sealed records in, signed receipts out; "
                "officials' figures and logged lookups; carriers' signed incident reports.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessionmaker = db.make_sessionmaker(engine)
    app.state.platform_keys = keys
    app.state.authenticator = officials.authenticate
    # Every request of an official checks the token in the database: there are few officials, and a
    # disabled account or a revoked token then stops at once.
    app.state.actor_cache = ActorCache(0)
    app.state.head_revision = db.head_revision(MIGRATIONS_DIR)

    errors.install(app)
    app.add_middleware(RequestContext, max_body_bytes=settings.max_body_bytes)
    app.include_router(probes("The platform's", "parcelguard regulator init"))
    app.include_router(regulator_pages.router)
    app.include_router(regulator_keys.router)
    app.include_router(regulator_incidents.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")  # the console's CSS: no CDN
    api = APIRouter(prefix=API_PREFIX)
    api.include_router(platform_router)
    api.include_router(incidents_router)
    app.include_router(api)
    document_problems(app)
    return app


async def _destroy_expired_periodically(app: FastAPI) -> None:
    """Destroy the months of records past their retention, every `retention_interval_seconds` (issue 15)."""
    settings: RegulatorSettings = app.state.settings
    while True:
        await asyncio.sleep(settings.retention_interval_seconds)
        try:
            await asyncio.to_thread(retention.run, sessionmaker=app.state.sessionmaker, keys=app.state.platform_keys,
                                    months=settings.retention_months)
        except Exception:  # noqa: BLE001  (log it and keep going: a bad day must not end the loop)
            structlog.get_logger("parcelguard.regulator").exception("retention run failed")
