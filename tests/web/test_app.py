"""The platform's front door: probes, home page, API docs, and problem+json for every error."""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
from fastapi import APIRouter
from pydantic import SecretStr
from sqlalchemy import func, select

from parcelguard.accounts import service as accounts_service
from parcelguard.accounts.models import Station
from parcelguard.core import db
from parcelguard.core.auth import Role
from parcelguard.core.config import Settings, encode_root_key
from parcelguard.core.db import SessionDep
from parcelguard.core.errors import Invalid
from parcelguard.core.logging import configure as configure_logging
from parcelguard.web.app import create_app
from tests.conftest import TEST_ROOT_KEY
from tests.servers import LiveServer, app_in_thread
from tests.tenants import Tenant

ID_NUMBER = "11010519491231002X"
PHONE = "13812345678"


def _problem(r: httpx.Response, status: int, code: str) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["code"] == code
    assert body["status"] == status
    assert body["type"].endswith(code)
    assert body["title"] and body["detail"]
    assert body["instance"].startswith("urn:parcelguard:request:")
    return body


def _settings(url: str) -> Settings:
    return Settings(database_url=url, root_key=SecretStr(encode_root_key(TEST_ROOT_KEY)), max_body_bytes=4096)


def test_the_probes_answer(http: httpx.Client) -> None:
    assert http.get("/healthz").json() == {"status": "ok"}
    ready = http.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["revision"] == db.head_revision()


def test_the_home_page_says_what_this_is_and_links_to_the_docs(http: httpx.Client) -> None:
    page = http.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "parcelguard" in page.text and 'href="/docs"' in page.text
    assert http.get("/docs").status_code == 200
    spec = http.get("/openapi.json").json()
    assert "/api/v1/me" in spec["paths"] and "/api/v1/auth/token" in spec["paths"]


def test_every_kind_of_client_mistake_is_a_problem_document(http: httpx.Client, tenant: Tenant) -> None:
    _problem(http.get("/api/v1/no-such-thing"), 404, "not_found")
    _problem(http.delete("/api/v1/me"), 405, "method_not_allowed")
    headers = tenant.login(http, Role.STATION_MANAGER)
    malformed = http.post("/api/v1/terminals", content=b'{"serial": ', headers={**headers,
                          "content-type": "application/json"})
    _problem(malformed, 400, "malformed_json")
    invalid = http.post("/api/v1/terminals", json={"serial": "ok-serial"}, headers=headers)
    body = _problem(invalid, 422, "validation_failed")
    assert {"pointer": "/label", "code": "missing", "detail": "Field required"} in body["errors"]
    _problem(http.get("/api/v1/terminals/not-a-uuid", headers=headers), 422, "validation_failed")
    too_big = http.post("/api/v1/terminals", content=b"x" * (Settings().max_body_bytes + 1),
                        headers={**headers, "content-type": "application/json"})
    _problem(too_big, 413, "body_too_large")
    _problem(http.get("/api/v1/me"), 401, "unauthenticated")


def test_a_body_that_streams_past_the_limit_is_refused(http: httpx.Client, tenant: Tenant) -> None:
    headers = tenant.login(http, Role.STATION_MANAGER)

    def chunks() -> Iterator[bytes]:
        for _ in range(Settings().max_body_bytes // 65536 + 2):
            yield b"y" * 65536

    r = http.post("/api/v1/terminals", content=chunks(), headers={**headers, "content-type": "application/json"})
    _problem(r, 413, "body_too_large")


def test_personal_data_in_a_refused_body_reaches_neither_the_log_nor_the_response(
    http: httpx.Client, server: LiveServer, tenant: Tenant
) -> None:
    headers = tenant.login(http, Role.STATION_MANAGER)
    body = {"serial": ID_NUMBER, "label": f"call {PHONE}", "owner": {"id": ID_NUMBER, "phone": PHONE}}
    r = http.post("/api/v1/terminals", json=body, headers=headers)
    problem = _problem(r, 422, "validation_failed")
    request_id = problem["instance"].rsplit(":", 1)[1]
    log = server.wait_for_log(request_id)
    assert request_id in log, "the problem's instance id is in the server log"
    for secret in (ID_NUMBER, PHONE):
        assert secret not in r.text
        assert secret not in log



# -- in-process app with extra routes, still served over real HTTP ------------------------------------

def test_readyz_is_503_until_the_migrations_are_applied(fresh_url: str) -> None:
    app = create_app(_settings(fresh_url))
    with app_in_thread(app) as url:
        _problem(httpx.get(url + "/readyz"), 503, "migrations_pending")
        db.upgrade(fresh_url)
        assert httpx.get(url + "/readyz").status_code == 200


def test_readyz_is_503_when_the_database_does_not_answer(tmp_path: Path) -> None:
    app = create_app(_settings("postgresql+psycopg://postgres@127.0.0.1:1/nothing?connect_timeout=1"))
    with app_in_thread(app) as url:
        _problem(httpx.get(url + "/readyz"), 503, "database_unreachable")


def test_an_unexpected_error_is_a_500_without_internals_and_a_failed_request_writes_nothing(
    fresh_url: str,
) -> None:
    db.upgrade(fresh_url)
    app = create_app(_settings(fresh_url))
    stream = io.StringIO()
    configure_logging("info", stream=stream)
    router = APIRouter()
    carrier_slug = "c-" + uuid.uuid4().hex[:8]

    @router.post("/boom/{how}")
    def boom(how: str, db_session: SessionDep) -> dict[str, str]:
        carrier = accounts_service.create_carrier(db_session=db_session, slug=carrier_slug, name="X",
                                                  waybill_prefix="XX")
        accounts_service.create_station(db_session=db_session, carrier_id=carrier.id, code="ST-1", name="S",
                                        region_code="110105")
        if how == "crash":
            raise RuntimeError(f"internal detail {ID_NUMBER} at /srv/secret/path")
        raise Invalid("Refused after writing.", code="refused_late", field="/how")

    app.include_router(router)
    with app_in_thread(app) as url:
        crash = httpx.post(url + "/boom/crash")
        body = _problem(crash, 500, "internal_error")
        assert "internal detail" not in crash.text and "Traceback" not in crash.text and "/srv" not in crash.text
        _problem(httpx.post(url + "/boom/refuse"), 422, "refused_late")

    engine = db.make_engine(fresh_url)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Station)).scalar_one() == 0
    engine.dispose()
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    crash_lines = [ln for ln in lines if ln.get("event") == "unhandled_error"]
    assert crash_lines and crash_lines[0]["request_id"] == body["instance"].rsplit(":", 1)[1]
    assert "RuntimeError" in crash_lines[0]["exception"]
    assert ID_NUMBER not in stream.getvalue()
    configure_logging("info")


def test_the_request_log_names_the_route_template_and_the_actor_not_the_path(
    http: httpx.Client, server: LiveServer, tenant: Tenant
) -> None:
    headers = tenant.login(http, Role.STATION_MANAGER)
    missing = "0f0e0d0c-0b0a-4908-8706-050403020100"
    r = http.get(f"/api/v1/terminals/{missing}", headers=headers)
    request_id = r.headers["x-request-id"]
    log = server.wait_for_log(request_id)
    line = json.loads(next(ln for ln in log.splitlines() if request_id in ln and '"request"' in ln))
    assert line["route"] == "/api/v1/terminals/{terminal_id}"
    assert line["status"] == 404 and line["method"] == "GET" and line["duration_ms"] >= 0
    assert line["actor_id"] == str(tenant.account(Role.STATION_MANAGER).user_id)
    assert missing not in log
