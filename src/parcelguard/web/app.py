"""App assembly: settings, database, keyring, middleware, error mapping and every domain's routes."""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import structlog
from fastapi import APIRouter, FastAPI, Request
from fastapi_offline import FastAPIOffline
from pydantic import BaseModel
from starlette.responses import JSONResponse, Response
from starlette.staticfiles import StaticFiles

from parcelguard import __version__, partitions
from parcelguard.accounts import auth_epoch
from parcelguard.accounts import service as accounts_service
from parcelguard.accounts.api import router as accounts_router
from parcelguard.accounts.obligations_api import router as obligations_router
from parcelguard.audit import service as audit_service
from parcelguard.audit.api import router as audit_router
from parcelguard.blacklist.api import router as blacklist_router
from parcelguard.contracts.api import router as contracts_router
from parcelguard.core import db, errors, passes
from parcelguard.core import partitions as core_partitions
from parcelguard.core.auth import ActorCache
from parcelguard.core.config import ConfigError, Settings, get_settings
from parcelguard.core.logging import configure as configure_logging
from parcelguard.core.middleware import RequestContext
from parcelguard.core.openapi import document_problems
from parcelguard.crypto.keyring import Keyring
from parcelguard.crypto.keystore import open_store
from parcelguard.detection import schedule as detection_schedule
from parcelguard.detection.api import router as detection_router
from parcelguard.identity import sms
from parcelguard.identity.api import router as identity_router
from parcelguard.incidents.api import router as incidents_router
from parcelguard.keys.api import router as keys_router
from parcelguard.privacy_numbers.api import router as privacy_numbers_router
from parcelguard.regulator import flows as regulator_flows
from parcelguard.regulator import service as regulator_service
from parcelguard.retention import schedule as retention_schedule
from parcelguard.retention.api import router as retention_router
from parcelguard.shipments import combining
from parcelguard.shipments.api import BODY_MODELS
from parcelguard.shipments.api import router as shipments_router
from parcelguard.shipments.catalogue_api import router as catalogue_router
from parcelguard.shipments.dispatch_api import router as dispatch_router
from parcelguard.shipments.honeytokens_api import router as honeytokens_router
from parcelguard.tracking.api import router as tracking_router
from parcelguard.waybills.api import router as waybill_settings_router
from parcelguard.waybills.labels_api import router as labels_router
from parcelguard.web import (
    courier_delivery,
    courier_pages,
    courier_pickup,
    hq_incidents,
    hq_keys,
    hq_pages,
    hq_retention,
    hq_staff,
    station_customers,
    station_pages,
)
from parcelguard.web.pages import router as pages_router
from parcelguard.web.public_pages import router as public_pages_router
from parcelguard.web.register_pages import router as register_pages_router
from parcelguard.web.register_qr import router as register_qr_router
from parcelguard.web.templating import STATIC_DIR
from parcelguard.web.track_pages import router as track_pages_router
from parcelguard.webhooks import sender as webhook_sender
from parcelguard.webhooks.api import router as webhooks_router

API_PREFIX = "/api/v1"
UPLOAD_DELAY_CHECK_SECONDS = 5.0


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    problems = settings.production_problems()
    if problems:
        raise ConfigError(problems[0])
    configure_logging(settings.log_level)
    engine = db.make_engine(settings.resolved_database_url)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        tasks = [asyncio.create_task(_sign_heads_periodically(app)),
                 asyncio.create_task(_watch_upload_delay(app)),
                 asyncio.create_task(_deliver_webhooks_periodically(app)),
                 asyncio.create_task(core_partitions.keep_ahead(  # this month's partitions and ahead (issue 17)
                     lambda: partitions.ensure_partitions(app.state.engine), logger="parcelguard"))]
        if settings.detection_interval_seconds > 0:  # detection over every carrier's log (issue 14)
            tasks.append(asyncio.create_task(detection_schedule.run_periodically(
                sessionmaker=app.state.sessionmaker, interval=settings.detection_interval_seconds)))
        if settings.retention_interval_seconds > 0:  # destroy what is past its retention (issue 15)
            tasks.append(asyncio.create_task(retention_schedule.run_periodically(
                sessionmaker=app.state.sessionmaker, keyring=app.state.keyring,
                interval=settings.retention_interval_seconds)))
        yield
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        engine.dispose()

    # Swagger UI and ReDoc from the package, not a CDN: a carrier's network often has no way out.
    app = FastAPIOffline(
        title="parcelguard",
        version=__version__,
        summary="Real-name parcel intake and privacy waybills for express carriers and their regulator.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessionmaker = db.make_sessionmaker(engine)
    app.state.keyring = Keyring(settings.load_root_key(), keystore=open_store(settings.keystore_url))
    app.state.regulator_public_key = _regulator_key(settings)
    app.state.intake_combiner = combining.Combiner(app.state.sessionmaker, app.state.keyring)
    app.state.sms_sender = sms.sender_from(settings)
    app.state.authenticator = accounts_service.authenticate
    app.state.actor_cache = ActorCache(settings.auth_cache_seconds)
    app.state.auth_epoch = auth_epoch.current  # a cached actor counts while no revocation came since
    app.state.head_revision = db.head_revision()

    errors.install(app)
    app.add_middleware(RequestContext, max_body_bytes=settings.max_body_bytes,
                       max_upload_bytes=settings.max_upload_bytes)

    api = APIRouter(prefix=API_PREFIX)
    api.include_router(accounts_router)
    api.include_router(obligations_router)
    api.include_router(audit_router)
    api.include_router(blacklist_router)
    api.include_router(shipments_router)
    api.include_router(catalogue_router)
    api.include_router(waybill_settings_router)
    api.include_router(identity_router)
    api.include_router(contracts_router)
    api.include_router(privacy_numbers_router)
    api.include_router(labels_router)
    api.include_router(tracking_router)
    api.include_router(dispatch_router)
    api.include_router(honeytokens_router)
    api.include_router(detection_router)
    api.include_router(webhooks_router)
    api.include_router(keys_router)
    api.include_router(incidents_router)
    api.include_router(retention_router)
    # First: routes are matched in order, and the API (terminals, enterprises, the uploader's peers) is where the
    # traffic is; no page lies under /api/v1, so the order changes no match, only the walk to it.
    app.include_router(api)
    app.include_router(pages_router)
    app.include_router(public_pages_router)
    for pages in (courier_pages.router, courier_pickup.router, courier_delivery.router, station_pages.router,
                  station_customers.router, hq_pages.router, hq_keys.router, hq_staff.router,
                  hq_incidents.router, hq_retention.router):
        app.include_router(pages)
    app.include_router(track_pages_router)
    app.include_router(register_pages_router)
    app.include_router(register_qr_router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")  # the pages' CSS and JS: no CDN
    app.include_router(_probes())
    _declare_schemas(app, BODY_MODELS)
    document_problems(app)
    return app


def _declare_schemas(app: FastAPI, models: tuple[type[BaseModel], ...]) -> None:
    """Add the schemas of bodies that routes parse themselves (JSON or multipart) to the OpenAPI
    components, where their `openapi_extra` refers to them."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            for model in models:
                own = model.model_json_schema(ref_template="#/components/schemas/{model}")
                for name, definition in own.pop("$defs", {}).items():
                    components.setdefault(name, definition)
                components.setdefault(model.__name__, own)
        return app.openapi_schema or generate()

    app.openapi = openapi  # type: ignore[method-assign]


def _regulator_key(settings: Settings) -> bytes | None:
    """None when none is configured (development without `parcelguard init`): intake answers 503 then.
    Production refuses to start without one (`Settings.production_problems`)."""
    try:
        return settings.load_regulator_public_key()
    except ConfigError:
        return None


async def _sign_heads_periodically(app: FastAPI) -> None:
    """Sign a tree head for every log with unsigned entries, every `audit_head_seconds` (one process at a time:
    two would sign the same size twice, each chained to the same previous head)."""
    state = app.state
    while True:
        await asyncio.sleep(state.settings.audit_head_seconds)
        try:
            await asyncio.to_thread(passes.run_alone, state.engine, "sign-heads", lambda: _sign_due_heads(state))
        except Exception:  # noqa: BLE001  (log it and keep signing: a bad minute must not end the loop)
            structlog.get_logger("parcelguard.audit").exception("tree head signing failed")


async def _watch_upload_delay(app: FastAPI) -> None:
    """Raise `upload_delayed` when the regulator's records wait longer than the rule allows: here too,
    not only in the uploader, since a dead uploader is the likeliest cause."""
    state = app.state
    while True:
        await asyncio.sleep(UPLOAD_DELAY_CHECK_SECONDS)
        try:
            await asyncio.to_thread(passes.run_alone, state.engine, "upload-delay", lambda: _raise_delay_alerts(state))
        except Exception:  # noqa: BLE001  (log it and keep watching)
            structlog.get_logger("parcelguard.regulator").exception("upload delay check failed")


async def _deliver_webhooks_periodically(app: FastAPI) -> None:
    """Send the enterprise shippers' due webhook notices, every `webhook_poll_seconds`. A claim leases its
    notices (SKIP LOCKED on PostgreSQL), so two passes never send one notice; one process at a time anyway."""
    settings = app.state.settings
    with webhook_sender.client(settings.webhook_timeout_seconds) as client:
        while True:
            await asyncio.sleep(settings.webhook_poll_seconds)
            try:
                await asyncio.to_thread(passes.run_alone, app.state.engine, "webhooks", functools.partial(
                    webhook_sender.deliver_due, sessions=app.state.sessionmaker, keyring=app.state.keyring,
                    client=client, max_attempts=settings.webhook_max_attempts,
                    allow_private=settings.webhook_allow_private_addresses,
                    backoff_base=settings.webhook_backoff_base_seconds))
            except Exception:  # noqa: BLE001  (log it and keep sending)
                structlog.get_logger("parcelguard.webhooks").exception("webhook delivery failed")


def _raise_delay_alerts(state: object) -> None:
    regulator_flows.check_delay(sessionmaker=state.sessionmaker,  # type: ignore[attr-defined]
                                threshold_seconds=state.settings.upload_alert_seconds)  # type: ignore[attr-defined]


def _sign_due_heads(state: object) -> None:
    with state.sessionmaker() as session, session.begin():  # type: ignore[attr-defined]
        db.begin_write(session)  # SQLite: it reads what is due, then writes
        signed = audit_service.sign_due_heads(db_session=session, keyring=state.keyring)  # type: ignore[attr-defined]
    if signed:
        structlog.get_logger("parcelguard.audit").info("tree heads signed", logs=signed)


def _probes() -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/metrics", summary="The regulator feed's figures (Prometheus text format)",
                response_class=Response)
    def metrics(request: Request) -> Response:
        """Aggregates only: records pending, the oldest unsent record's age, batches by outcome."""
        with request.app.state.sessionmaker() as session:
            text = regulator_service.prometheus(regulator_service.figures(db_session=session))
        return Response(text, media_type="text/plain; version=0.0.4; charset=utf-8")

    @router.get("/healthz", summary="The process is up")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz", summary="The database is reachable and its schema is at the newest migration")
    def readyz(request: Request) -> Response:
        state = request.app.state
        try:
            current = db.current_revision(state.engine)
        except Exception:  # noqa: BLE001  (whatever the driver raises, the answer is: not ready)
            return errors.problem(503, "database_unreachable", "The database does not answer.",
                                  instance=errors.instance_of(request.state.request_id))
        if current != state.head_revision:
            return errors.problem(503, "migrations_pending",
                                  "The database schema is not at the newest migration: run `parcelguard db upgrade`.",
                                  instance=errors.instance_of(request.state.request_id))
        return JSONResponse({"status": "ready", "revision": current})

    return router
