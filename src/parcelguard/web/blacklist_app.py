"""App assembly for the industry blacklist (`parcelguard blacklist run`): its own settings, database, root key
and routes; nothing of the carrier platform or the regulator's."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI, Request
from fastapi_offline import FastAPIOffline
from starlette.responses import JSONResponse, Response

from parcelguard import __version__
from parcelguard.blacklist.platform.api import router as blacklist_router
from parcelguard.blacklist.platform.keys import BlacklistKeys
from parcelguard.blacklist.platform.migrations import MIGRATIONS_DIR
from parcelguard.core import db, errors
from parcelguard.core.config import BlacklistSettings, ConfigError
from parcelguard.core.logging import configure as configure_logging
from parcelguard.core.middleware import RequestContext
from parcelguard.core.openapi import document_problems

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
    app.include_router(_probes())
    api = APIRouter(prefix=API_PREFIX)
    api.include_router(blacklist_router)
    app.include_router(api)
    document_problems(app)
    return app


def _probes() -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/healthz", summary="The process is up")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz", summary="The blacklist's database is reachable and at its newest migration")
    def readyz(request: Request) -> Response:
        state = request.app.state
        instance = errors.instance_of(request.state.request_id)
        try:
            current = db.current_revision(state.engine)
        except Exception:  # noqa: BLE001  (whatever the driver raises, the answer is: not ready)
            return errors.problem(503, "database_unreachable", "The database does not answer.", instance=instance)
        if current != state.head_revision:
            return errors.problem(503, "migrations_pending", "The blacklist's database is not at its newest "
                                  "migration: run `parcelguard blacklist init`.", instance=instance)
        return JSONResponse({"status": "ready", "revision": current})

    return router
