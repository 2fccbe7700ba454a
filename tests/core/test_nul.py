"""A NUL character in a request is refused as a validation error, alike on both engines and for every
route (PostgreSQL cannot store one: it answered 500 there and was stored on SQLite), and nothing is
written. Found by the OpenAPI fuzzer (tests/web/test_openapi.py)."""

from __future__ import annotations

import json

import httpx
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import text

from parcelguard.accounts.models import Terminal
from parcelguard.core import nul
from parcelguard.core.auth import Role
from tests.support import count_rows
from tests.tenants import Tenant


def _refused(r: httpx.Response, pointer: str) -> None:
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["code"] == "validation_failed"
    assert {"pointer": pointer, "code": "nul_character", "detail": nul.DETAIL} in body["errors"]


def test_a_nul_in_a_json_body_is_refused_and_nothing_is_written(http: httpx.Client, tenant: Tenant,
                                                                database_url: str) -> None:
    headers = tenant.login(http, Role.STATION_MANAGER)
    r = http.post("/api/v1/terminals", headers=headers, json={"serial": f"NUL-{tenant.slug}", "label": "pda\x00"})
    _refused(r, "/label")
    assert count_rows(database_url, Terminal, Terminal.carrier_id == tenant.carrier_id) == 0
    # The text `\u0000` (a backslash and five characters) is no NUL: it is stored as it was sent.
    ok = http.post("/api/v1/terminals", headers=headers,
                   json={"serial": f"NUL-{tenant.slug}", "label": "pda\\u0000"})
    assert ok.status_code == 201, ok.text
    assert ok.json()["label"] == "pda\\u0000"


def test_a_nul_in_a_query_a_path_or_a_form_is_refused(http: httpx.Client, tenant: Tenant) -> None:
    auditor = tenant.login(http, Role.AUDITOR)
    _refused(http.get("/api/v1/audit/entries", params={"purpose": "deli\x00very"}, headers=auditor),
             "#query/purpose")
    _refused(http.get("/api/v1/stations/%00", headers=auditor), "#path")
    _refused(http.post("/api/v1/auth/token", data={"username": "demo\x00", "password": "x"}), "/username")


def test_a_log_index_beyond_a_64_bit_column_is_a_validation_error(http: httpx.Client, tenant: Tenant) -> None:
    auditor = tenant.login(http, Role.AUDITOR)
    for path in ("/api/v1/audit/entries/9223372036854775808",
                 "/api/v1/audit/entries/1/inclusion-proof?tree_size=99999999999999999999",
                 "/api/v1/audit/consistency-proof?first=1&second=9223372036854775808"):
        r = http.get(path, headers=auditor)
        assert r.status_code == 422, (path, r.text)
        assert r.json()["code"] == "validation_failed"


def test_a_database_error_never_prints_the_values_of_its_statement(engine) -> None:  # type: ignore[no-untyped-def]
    secret = "13812345678"
    with engine.connect() as conn:
        try:
            conn.execute(text("SELECT CAST(:v AS INTEGER) FROM no_such_table"), {"v": secret})
        except Exception as exc:  # noqa: BLE001  (whatever the driver raises)
            assert secret not in str(exc)
            assert "hidden due to hide_parameters" in str(exc)
        else:
            raise AssertionError("the statement should have failed")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    # Keys are never empty here: the body's root is written "/" (as validation errors write it), which
    # RFC 6901 reads as the key "".
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(min_size=1, max_size=6), inner,
                                                                max_size=4),
    max_leaves=20,
)


def _resolve(document: object, pointer: str) -> object:
    for part in [p.replace("~1", "/").replace("~0", "~") for p in pointer.split("/")[1:]]:
        document = document[int(part)] if isinstance(document, list) else document[part]  # type: ignore[index]
    return document


def _holds_nul(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, list):
        return any(_holds_nul(v) for v in value)
    if isinstance(value, dict):
        return any("\x00" in k or _holds_nul(v) for k, v in value.items())
    return False


@given(json_values)
def test_every_pointer_found_names_a_nul_and_every_nul_is_found(document: object) -> None:
    found = nul.in_json(json.dumps(document).encode())
    assert bool(found) == _holds_nul(document)
    for error in found:
        target = _resolve(document, "" if error.pointer == "/" else error.pointer)
        assert (isinstance(target, str) and "\x00" in target) or (
            isinstance(target, dict) and any("\x00" in k for k in target))
