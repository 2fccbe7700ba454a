"""App assembly for the industry blacklist (`parcelguard blacklist run`): its own settings, database, root key
and routes; nothing of the carrier platform or the regulator's."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from fastapi_offline import FastAPIOffline

from parcelguard import __version__
from parcelguard.blacklist.platform.api import router as blacklist_router
from parcelguard.blacklist.platform.keys import BlacklistKeys
from parcelguard.blacklist.platform.migrations import MIGRATIONS_DIR
from parcelguard.core import db, errors
from parcelguard.core.config import BlacklistSettings, ConfigError
from parcelguard.core.logging import configure as configure_logging
from parcelguard.core.middleware import RequestContext
from parcelguard.core.openapi import document_problems
from parcelguard.web.probes import probes

API_PREFIX = "/api/v1"


def create_blacklist_app(settings: BlacklistSettings | None = None) -> FastAPI:
    settings = settings or BlacklistSettings()
    problems = settings.production_problems()
    if problems:
        raise ConfigError(problems[0])
    configure_logging(settings.log_level)
    keys = BlacklistKeys.from_settings(settings)  # a missing key stops the start (ConfigError, one line)
    engine = db.make_engine(settings.resolved_database_url)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        engine.dispose()

    app = FastAPIOffline(
        title="parcelguard industry blacklist",
        version=__version__,
        summary="The industry's self-discipline platform (行业安全自律平台): carriers report those who sold users' "
                "data and ask, at hiring, whether a person is listed; signed requests, keyed hashes, never a "
                "document number.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessionmaker = db.make_sessionmaker(engine)
    app.state.blacklist_keys = keys
    app.state.head_revision = db.head_revision(MIGRATIONS_DIR)

    errors.install(app)
    app.add_middleware(RequestContext, max_body_bytes=settings.max_body_bytes)
    app.include_router(probes("The blacklist's", "parcelguard blacklist init"))
    api = APIRouter(prefix=API_PREFIX)
    api.include_router(blacklist_router)
    app.include_router(api)
    document_problems(app)
    return app
