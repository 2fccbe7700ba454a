"""App assembly for the enterprise console (`parcelguard enterprise run`, issue 16): its own settings, database,
key, employees and routes; it reaches carriers only through their APIs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from fastapi_offline import FastAPIOffline
from starlette.staticfiles import StaticFiles

from parcelguard import __version__
from parcelguard.core import db, errors
from parcelguard.core.auth import ActorCache
from parcelguard.core.config import ConfigError
from parcelguard.core.logging import configure as configure_logging
from parcelguard.core.middleware import RequestContext
from parcelguard.core.openapi import document_problems
from parcelguard.enterprise.platform import employees
from parcelguard.enterprise.platform.api import router as enterprise_router
from parcelguard.enterprise.platform.bulk_api import router as bulk_router
from parcelguard.enterprise.platform.keys import EnterpriseKeys
from parcelguard.enterprise.platform.migrations import MIGRATIONS_DIR
from parcelguard.enterprise.platform.orders_api import router as orders_router
from parcelguard.enterprise.platform.settings import EnterpriseSettings
from parcelguard.web import (
    enterprise_connection_pages,
    enterprise_find_pages,
    enterprise_import_pages,
    enterprise_order_pages,
    enterprise_pages,
    enterprise_quote_pages,
    enterprise_rates_pages,
)
from parcelguard.web.probes import probes
from parcelguard.web.templating import STATIC_DIR

API_PREFIX = "/api/v1"


def create_enterprise_app(settings: EnterpriseSettings | None = None) -> FastAPI:
    settings = settings or EnterpriseSettings()
    problems = settings.production_problems()
    if problems:
        raise ConfigError(problems[0])
    configure_logging(settings.log_level)
    keys = EnterpriseKeys.from_settings(settings)  # a missing key stops the start (ConfigError, one line)
    engine = db.make_engine(settings.resolved_database_url)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        engine.dispose()

    app = FastAPIOffline(
        title="parcelguard enterprise console",
        version=__version__,
        summary="A company's one place to ship with several carriers: their agreed rate tables, quotes side by "
                "side, and (next) orders, labels, tracking and its own shipments found again.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessionmaker = db.make_sessionmaker(engine)
    app.state.enterprise_keys = keys
    app.state.authenticator = employees.authenticate
    app.state.actor_cache = ActorCache(30)
    app.state.head_revision = db.head_revision(MIGRATIONS_DIR)

    errors.install(app)
    app.add_middleware(RequestContext, max_body_bytes=settings.max_body_bytes)
    app.include_router(probes("The console's", "parcelguard enterprise init"))
    # The console's pages (signed in with a session cookie, as the regulator's) and their CSS: no CDN
    app.include_router(enterprise_pages.router)
    app.include_router(enterprise_rates_pages.router)
    app.include_router(enterprise_connection_pages.router)
    app.include_router(enterprise_quote_pages.router)
    app.include_router(enterprise_order_pages.router)
    app.include_router(enterprise_import_pages.router)
    app.include_router(enterprise_find_pages.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    api = APIRouter(prefix=API_PREFIX)
    api.include_router(enterprise_router)
    api.include_router(orders_router)
    api.include_router(bulk_router)
    app.include_router(api)
    document_problems(app)
    return app
