"""The OpenAPI documents of both platforms describe what the servers send, errors included, as an outside
client reads them: every error is application/problem+json with the one Problem schema, and an outside
conformance fuzzer (schemathesis) finds no server error, no undocumented status or content type and no
body that breaks its schema, as an anonymous caller and as every role that signs in."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from parcelguard.core.auth import Role
from parcelguard.core.config import Settings, encode_root_key
from parcelguard.web.app import create_app
from parcelguard.web.regulator_app import create_regulator_app
from tests.conftest import TEST_ROOT_KEY
from tests.regulator.conftest import platform_settings
from tests.servers import LiveServer
from tests.support import fuzz_openapi
from tests.tenants import Tenant

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}


def _documents(tmp_path: Path) -> dict[str, dict[str, Any]]:
    carrier = create_app(Settings(database_url=f"sqlite:///{tmp_path}/c.db",
                                  root_key=SecretStr(encode_root_key(TEST_ROOT_KEY))))
    regulator = create_regulator_app(platform_settings(f"sqlite:///{tmp_path}/r.db"))
    return {"carrier": carrier.openapi(), "regulator": regulator.openapi()}


def _operations(spec: dict[str, Any]):  # type: ignore[no-untyped-def]
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            yield f"{method.upper()} {path}", operation


def test_every_error_of_every_route_is_documented_as_problem_json(tmp_path: Path) -> None:
    for platform, spec in _documents(tmp_path).items():
        assert "HTTPValidationError" not in spec["components"]["schemas"], platform
        problem = spec["components"]["schemas"]["Problem"]
        assert set(problem["required"]) == {"type", "title", "status", "detail", "code"}
        assert {"instance", "errors"} <= set(problem["properties"])
        assert problem["properties"]["errors"]["items"]["required"] == ["pointer", "code", "detail"]
        for name, operation in _operations(spec):
            errors = {status: r for status, r in operation["responses"].items() if status[0] in "45"}
            assert {"4XX", "5XX"} <= set(errors), (platform, name)
            for status, response in errors.items():
                assert response["content"] == {"application/problem+json": {"schema": PROBLEM_REF}}, \
                    (platform, name, status)
                assert response["description"] and response["description"] != "Validation Error"
            if operation.get("requestBody") or operation.get("parameters"):
                assert "422" in errors, (platform, name)
            if operation.get("security"):
                assert {"401", "403"} <= set(errors), (platform, name)


def test_a_route_keeps_its_own_words_for_its_errors(tmp_path: Path) -> None:
    spec = _documents(tmp_path)
    assert "reveal_denied" in spec["carrier"]["paths"]["/api/v1/reveals"]["post"]["responses"]["403"]["description"]
    assert "login_locked" in spec["regulator"]["paths"]["/api/v1/auth/token"]["post"]["responses"]["429"][
        "description"]


def test_an_error_the_server_sends_matches_the_documented_schema(http: httpx.Client) -> None:
    spec = http.get("/openapi.json").json()
    answer = http.get("/api/v1/public/couriers/verify")  # the query parameter is missing
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    documented = spec["paths"]["/api/v1/public/couriers/verify"]["get"]["responses"]["422"]["content"]
    assert list(documented) == ["application/problem+json"]
    body = answer.json()
    assert set(spec["components"]["schemas"]["Problem"]["required"]) <= set(body)
    assert body["errors"][0]["pointer"] == "#query/token"


# Every role that signs in on the carrier platform (telephony never signs in: its two routes are fuzzed
# anonymously, where a missing signature must answer a documented 401).
ROLES = [Role.COURIER, Role.STATION_MANAGER, Role.HQ_SECURITY, Role.AUDITOR, Role.ENTERPRISE, Role.ADMIN,
         Role.REGULATOR]


@pytest.mark.e2e
@pytest.mark.parametrize("role", [None, *ROLES], ids=lambda r: "anonymous" if r is None else r.value)
def test_the_fuzzer_finds_nothing_on_the_carrier_platform(role: Role | None, server: LiveServer,
                                                          http: httpx.Client, tenant: Tenant) -> None:
    headers: dict[str, str] = {}
    if role == Role.COURIER:
        manager = tenant.login(http, Role.STATION_MANAGER)
        terminal = http.post("/api/v1/terminals", headers=manager, json={"serial": f"FUZZ-{tenant.slug}",
                                                                        "label": "fuzzer"})
        assert terminal.status_code == 201, terminal.text
        headers = tenant.login(http, role, terminal_id=terminal.json()["id"])
    elif role is not None:
        headers = tenant.login(http, role)
    # Signing out mid-run would leave the rest of the run anonymous; it is fuzzed anonymously. The suite's
    # server has no industry blacklist configured, so reporting to it is 503 `blacklist_off` by design (the
    # route against a live blacklist is tested in tests/blacklist, the blacklist's own API fuzzed there).
    excluded = ("/api/v1/blacklist/reports",) + (("/api/v1/auth/logout",) if role else ())
    fuzz_openapi(server.url, headers, exclude=excluded)
