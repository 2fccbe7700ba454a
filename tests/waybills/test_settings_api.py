"""The label settings routes over real HTTP, against the platform running in its own process: the admin
replaces the settings and every save is in the audit log; managers and HQ security read them; a refused
PUT writes nothing; one carrier's settings are not another's."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select

from parcelguard.core import db
from parcelguard.core.auth import Role
from parcelguard.core.errors import Forbidden
from parcelguard.crypto.keyring import Keyring
from parcelguard.waybills import settings_store
from parcelguard.waybills.models import WaybillSettings
from parcelguard.waybills.policy import LabelSettings, parse_settings
from tests.tenants import Tenant, writing

URL = "/api/v1/carrier/waybill-settings"
DEFAULTS = {"masking": {"latin_names": "initials", "phone": "none", "address_detail": "clear"}, "sorting": []}
EDITED = {
    "masking": {"latin_names": "surname_initial", "phone": "last4", "address_detail": "hide_door"},
    "sorting": [
        {"province": "上海市", "city": None, "district": "浦东新区", "code": "021-PD-07"},
        {"province": "广东省", "city": "深圳市", "district": None, "code": "755"},
    ],
}


def stored_row(engine: Engine, tenant: Tenant) -> tuple[Any, ...] | None:
    with db.make_sessionmaker(engine)() as s:
        row = s.execute(select(WaybillSettings.data, WaybillSettings.saved_by, WaybillSettings.saved_at)
                        .where(WaybillSettings.carrier_id == tenant.carrier_id)).first()
        return None if row is None else tuple(row)


def settings_entries(http: httpx.Client, tenant: Tenant) -> list[dict[str, Any]]:
    auditor = tenant.login(http, Role.AUDITOR)
    r = http.get("/api/v1/audit/entries", params={"subject": "settings:waybill"}, headers=auditor)
    assert r.status_code == 200, r.text
    return [e["entry"] for e in r.json()["items"]]


def test_until_an_admin_saves_the_defaults_apply(http: httpx.Client, engine: Engine, tenant: Tenant) -> None:
    for role in (Role.ADMIN, Role.HQ_SECURITY, Role.STATION_MANAGER):
        r = http.get(URL, headers=tenant.login(http, role))
        assert r.status_code == 200 and r.json() == DEFAULTS, (role, r.text)
    assert stored_row(engine, tenant) is None


def test_an_admins_save_is_read_back_logged_and_overwritten_by_the_next(
    http: httpx.Client, engine: Engine, tenant: Tenant, other_tenant: Tenant
) -> None:
    admin = tenant.login(http, Role.ADMIN)
    r = http.put(URL, json=EDITED, headers=admin)
    assert r.status_code == 200, r.text
    assert r.json() == EDITED
    for role in (Role.ADMIN, Role.HQ_SECURITY, Role.STATION_MANAGER):
        assert http.get(URL, headers=tenant.login(http, role)).json() == EDITED
    assert http.get(URL, headers=other_tenant.login(http, Role.ADMIN)).json() == DEFAULTS

    data, saved_by, _ = stored_row(engine, tenant) or (None, None, None)
    admin_id = tenant.actor(Role.ADMIN).user_id
    assert saved_by == admin_id and LabelSettings.model_validate_json(data) == parse_settings(EDITED)
    [entry] = settings_entries(http, tenant)
    assert (entry["subject"], entry["purpose"], entry["actor"], entry["role"], entry["decision"]) == (
        "settings:waybill", "waybill_settings_change", str(admin_id), "admin", "allow")
    assert entry["request_id"] and entry["fields"] == []

    # The whole document is replaced: fields left out take their defaults. Each save is logged.
    r = http.put(URL, json={"masking": {"phone": "last4"}}, headers=admin)
    assert r.status_code == 200 and r.json() == {
        "masking": {"latin_names": "initials", "phone": "last4", "address_detail": "clear"}, "sorting": []}
    assert http.get(URL, headers=admin).json() == r.json()
    assert len(settings_entries(http, tenant)) == 2
    assert settings_entries(http, other_tenant) == []


def test_a_refused_put_writes_nothing(http: httpx.Client, engine: Engine, tenant: Tenant) -> None:
    admin = tenant.login(http, Role.ADMIN)
    assert http.put(URL, json=EDITED, headers=admin).status_code == 200
    before, logged = stored_row(engine, tenant), settings_entries(http, tenant)

    bad = {**EDITED, "sorting": [*EDITED["sorting"],
                                 {"province": "上海", "city": "上海市", "district": "浦东新区", "code": "021"},
                                 {"province": "北京", "code": "beijing"}],
           "masking": {"phone": "all"}}
    r = http.put(URL, json=bad, headers=admin)
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    assert r.json()["code"] == "waybill_settings_invalid"
    assert [(e["pointer"], e["code"]) for e in r.json()["errors"]] == [
        ("/masking/phone", "literal_error"), ("/sorting/3/code", "string_pattern_mismatch")]
    # Duplicates are found once every rule is well-formed.
    bad["sorting"].pop()
    bad["masking"] = EDITED["masking"]
    r = http.put(URL, json=bad, headers=admin)
    assert r.status_code == 422 and r.json()["errors"] == [
        {"pointer": "/sorting/2", "code": "sorting_duplicate",
         "detail": "The same place as /sorting/0: one rule per place."}]
    for body in ([], "settings", {"sorting": {}}, {**EDITED, "version": 1}):
        r = http.put(URL, json=body, headers=admin)
        assert r.status_code == 422 and r.json()["code"] == "waybill_settings_invalid", (body, r.text)
    r = http.put(URL, headers=admin)  # no body at all: the framework's answer
    assert r.status_code == 422 and [(e["pointer"], e["code"]) for e in r.json()["errors"]] == [("/", "missing")]
    r = http.put(URL, content=b"{", headers={**admin, "content-type": "application/json"})
    assert r.status_code == 400 and r.json()["code"] == "malformed_json"
    r = http.put(URL, json={"sorting": [{"province": "上海", "code": "021"}] * 5001}, headers=admin)
    assert r.status_code == 422 and [(e["pointer"], e["code"]) for e in r.json()["errors"]] == [
        ("/sorting", "too_long")]

    for role in (Role.HQ_SECURITY, Role.STATION_MANAGER, Role.COURIER, Role.AUDITOR):
        r = http.put(URL, json=DEFAULTS, headers=tenant.login(http, role))
        assert r.status_code == 403 and r.json()["code"] == "role_not_allowed", (role, r.text)
    assert http.put(URL, json=DEFAULTS).status_code == 401

    assert stored_row(engine, tenant) == before
    assert settings_entries(http, tenant) == logged
    assert http.get(URL, headers=admin).json() == EDITED


def test_couriers_auditors_and_strangers_cannot_read_the_settings(http: httpx.Client, tenant: Tenant) -> None:
    for role in (Role.COURIER, Role.AUDITOR, Role.REGULATOR):
        r = http.get(URL, headers=tenant.login(http, role))
        assert r.status_code == 403 and r.json()["code"] == "role_not_allowed", (role, r.text)
    r = http.get(URL)
    assert r.status_code == 401 and r.json()["code"] == "unauthenticated"


def test_a_save_made_in_another_process_is_read_at_once(
    http: httpx.Client, engine: Engine, keyring: Keyring, tenant: Tenant
) -> None:
    admin = tenant.login(http, Role.ADMIN)
    assert http.get(URL, headers=admin).json() == DEFAULTS
    actor = tenant.actor(Role.ADMIN)
    for edited in (parse_settings(EDITED), LabelSettings()):
        with writing(engine) as s:
            settings_store.save(db_session=s, keyring=keyring, actor=actor, settings=edited)
        assert http.get(URL, headers=admin).json() == edited.model_dump(mode="json")
    with db.make_sessionmaker(engine)() as s:
        assert settings_store.current(db_session=s, carrier_id=tenant.carrier_id) == LabelSettings()
    assert len(settings_entries(http, tenant)) == 2


def test_the_store_refuses_a_save_by_anyone_but_the_admin(engine: Engine, keyring: Keyring, tenant: Tenant) -> None:
    for role in (Role.HQ_SECURITY, Role.STATION_MANAGER):
        actor = tenant.actor(role)  # made before the write lock: it writes on its own connection
        with writing(engine) as s, pytest.raises(Forbidden) as refused:
            settings_store.save(db_session=s, keyring=keyring, actor=actor, settings=LabelSettings())
        assert refused.value.code == "role_not_allowed"
    assert stored_row(engine, tenant) is None
