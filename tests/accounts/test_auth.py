"""Signing in, tokens, lockout and terminals, over real HTTP against the platform process."""

from __future__ import annotations

import hashlib
import uuid
from datetime import timedelta

import httpx
from sqlalchemy import Engine, func, select, update

from parcelguard.accounts.models import AuthToken, LoginThrottle, Terminal
from parcelguard.core import db
from parcelguard.core.auth import Role
from parcelguard.core.clock import now
from tests.tenants import Tenant


def _problem(r: httpx.Response, status: int, code: str) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["code"] == code, body
    assert body["status"] == status
    return body


def test_a_courier_signs_in_and_sees_who_they_are(http: httpx.Client, tenant: Tenant) -> None:
    headers = tenant.login(http, Role.COURIER)
    me = http.get("/api/v1/me", headers=headers).json()
    account = tenant.account(Role.COURIER)
    assert me["username"] == account.username
    assert me["role"] == "courier"
    assert me["carrier_id"] == str(tenant.carrier_id)
    assert me["station_id"] == str(account.station_id)


def test_the_database_keeps_only_a_hash_of_the_token(http: httpx.Client, tenant: Tenant, engine: Engine) -> None:
    token = tenant.login(http, Role.AUDITOR)["Authorization"].removeprefix("Bearer ")
    user_id = tenant.account(Role.AUDITOR).user_id
    with engine.connect() as conn:
        stored = conn.execute(select(AuthToken.token_hash).where(AuthToken.user_id == user_id)).scalars().all()
    assert stored == [hashlib.sha256(token.encode()).digest()]


def test_a_wrong_password_is_refused_without_saying_which_part_was_wrong(http: httpx.Client, tenant: Tenant) -> None:
    account = tenant.account(Role.COURIER)
    wrong = http.post("/api/v1/auth/token", data={"username": account.username, "password": "not the password"})
    unknown = http.post("/api/v1/auth/token", data={"username": "nobody-" + tenant.slug, "password": "whatever123"})
    assert _problem(wrong, 401, "login_failed")["detail"] == _problem(unknown, 401, "login_failed")["detail"]


def test_no_token_and_a_bad_token_get_401_problems(http: httpx.Client) -> None:
    r = http.get("/api/v1/me")
    _problem(r, 401, "unauthenticated")
    assert r.headers["www-authenticate"] == "Bearer"
    _problem(http.get("/api/v1/me", headers={"Authorization": "Bearer pgt_forged"}), 401, "token_invalid")


def test_logout_revokes_the_token(http: httpx.Client, tenant: Tenant) -> None:
    headers = tenant.login(http, Role.HQ_SECURITY)
    assert http.post("/api/v1/auth/logout", headers=headers).status_code == 204
    _problem(http.get("/api/v1/me", headers=headers), 401, "token_revoked")


def test_an_expired_token_is_refused(http: httpx.Client, tenant: Tenant, engine: Engine) -> None:
    headers = tenant.login(http, Role.ENTERPRISE)
    with engine.begin() as conn:
        conn.execute(update(AuthToken).where(AuthToken.user_id == tenant.account(Role.ENTERPRISE).user_id)
                     .values(expires_at=now() - timedelta(seconds=1)))
    _problem(http.get("/api/v1/me", headers=headers), 401, "token_expired")


def test_repeated_failures_lock_the_username_even_for_the_right_password(
    http: httpx.Client, tenant: Tenant, engine: Engine
) -> None:
    account = tenant.account(Role.STATION_MANAGER)
    for _ in range(5):
        _problem(http.post("/api/v1/auth/token", data={"username": account.username, "password": "bad-password"}),
                 401, "login_failed")
    locked = http.post("/api/v1/auth/token", data={"username": account.username, "password": account.password})
    _problem(locked, 429, "login_locked")
    assert int(locked.headers["retry-after"]) > 0
    # The count lives in the database, so every process sees the lock.
    with engine.connect() as conn:
        row = conn.execute(select(LoginThrottle).where(LoginThrottle.username == account.username)).one()
    assert row.locked_until is not None and row.locked_until > now()


def test_an_unknown_username_locks_the_same_way(http: httpx.Client, tenant: Tenant) -> None:
    name = "ghost-" + tenant.slug
    for _ in range(5):
        http.post("/api/v1/auth/token", data={"username": name, "password": "bad-password"})
    _problem(http.post("/api/v1/auth/token", data={"username": name, "password": "bad-password"}), 429, "login_locked")


def test_a_success_clears_earlier_failures(http: httpx.Client, tenant: Tenant, engine: Engine) -> None:
    account = tenant.account(Role.AUDITOR, n=1)
    for _ in range(4):
        http.post("/api/v1/auth/token", data={"username": account.username, "password": "bad-password"})
    tenant.login(http, Role.AUDITOR, n=1)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(LoginThrottle)
                            .where(LoginThrottle.username == account.username)).scalar_one() == 0


# -- terminals ------------------------------------------------------------------------------------

def _register(http: httpx.Client, headers: dict[str, str], serial: str) -> str:
    r = http.post("/api/v1/terminals", json={"serial": serial, "label": "handheld"}, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()["id"]


def test_a_token_bound_to_a_terminal_works_only_from_it_and_stops_when_it_is_revoked(
    http: httpx.Client, tenant: Tenant
) -> None:
    manager = tenant.login(http, Role.STATION_MANAGER)
    terminal_id = _register(http, manager, f"PDA-{tenant.slug}")
    courier = tenant.login(http, Role.COURIER, terminal_id=terminal_id)
    assert http.get("/api/v1/me", headers=courier).json()["terminal_id"] == terminal_id

    without = {"Authorization": courier["Authorization"]}
    _problem(http.get("/api/v1/me", headers=without), 401, "terminal_mismatch")

    assert http.post(f"/api/v1/terminals/{terminal_id}/revoke", headers=manager).status_code == 200
    _problem(http.get("/api/v1/me", headers=courier), 401, "terminal_revoked")
    account = tenant.account(Role.COURIER)
    again = http.post("/api/v1/auth/token", data={"username": account.username, "password": account.password},
                      headers={"X-Terminal-Id": terminal_id})
    _problem(again, 401, "terminal_revoked")


def test_signing_in_from_an_unregistered_terminal_is_refused(http: httpx.Client, tenant: Tenant) -> None:
    account = tenant.account(Role.COURIER)
    r = http.post("/api/v1/auth/token", data={"username": account.username, "password": account.password},
                  headers={"X-Terminal-Id": "6f1c2f3e-8d1e-4c44-9d7e-2a0d4b9d1e10"})
    _problem(r, 401, "terminal_unknown")


def test_a_courier_cannot_use_a_terminal_of_another_station(http: httpx.Client, tenant: Tenant) -> None:
    manager_2 = tenant.login(http, Role.STATION_MANAGER, station=1)
    terminal_id = _register(http, manager_2, f"PDA-2-{tenant.slug}")
    account = tenant.account(Role.COURIER, station=0)
    r = http.post("/api/v1/auth/token", data={"username": account.username, "password": account.password},
                  headers={"X-Terminal-Id": terminal_id})
    _problem(r, 401, "terminal_other_station")


def test_a_courier_cannot_register_a_terminal(http: httpx.Client, tenant: Tenant, engine: Engine) -> None:
    r = http.post("/api/v1/terminals", json={"serial": f"X-{tenant.slug}", "label": "mine"},
                  headers=tenant.login(http, Role.COURIER))
    _problem(r, 403, "role_not_allowed")
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Terminal)
                            .where(Terminal.carrier_id == tenant.carrier_id)).scalar_one() == 0


def test_a_manager_of_one_carrier_gets_404_for_another_carriers_objects(
    http: httpx.Client, tenant: Tenant, other_tenant: Tenant, engine: Engine
) -> None:
    theirs = _register(http, other_tenant.login(http, Role.STATION_MANAGER), f"PDA-B-{other_tenant.slug}")
    mine = tenant.login(http, Role.STATION_MANAGER)
    _problem(http.get(f"/api/v1/terminals/{theirs}", headers=mine), 404, "terminal_unknown")
    _problem(http.post(f"/api/v1/terminals/{theirs}/revoke", headers=mine), 404, "terminal_unknown")
    _problem(http.get(f"/api/v1/stations/{other_tenant.stations[0]}", headers=mine), 404, "station_unknown")
    # A terminal that does not exist at all looks exactly the same.
    _problem(http.get("/api/v1/terminals/00000000-0000-4000-8000-000000000000", headers=mine), 404,
             "terminal_unknown")
    assert http.get("/api/v1/terminals", headers=mine).json() == []
    with engine.connect() as conn:
        assert conn.execute(select(Terminal.revoked_at).where(Terminal.id == uuid.UUID(theirs))).scalar_one() is None


def test_a_manager_sees_only_their_own_stations_terminals(http: httpx.Client, tenant: Tenant) -> None:
    manager_1 = tenant.login(http, Role.STATION_MANAGER, station=0)
    manager_2 = tenant.login(http, Role.STATION_MANAGER, station=1)
    t1 = _register(http, manager_1, f"PDA-S1-{tenant.slug}")
    _register(http, manager_2, f"PDA-S2-{tenant.slug}")
    assert [t["id"] for t in http.get("/api/v1/terminals", headers=manager_1).json()] == [t1]
    _problem(http.get(f"/api/v1/terminals/{t1}", headers=manager_2), 404, "terminal_unknown")


def test_registering_the_same_serial_twice_is_a_conflict_and_writes_once(
    http: httpx.Client, tenant: Tenant, engine: Engine
) -> None:
    manager = tenant.login(http, Role.STATION_MANAGER)
    _register(http, manager, f"PDA-DUP-{tenant.slug}")
    r = http.post("/api/v1/terminals", json={"serial": f"PDA-DUP-{tenant.slug}", "label": "again"}, headers=manager)
    assert _problem(r, 409, "terminal_exists")["errors"][0]["pointer"] == "/serial"
    with db.make_sessionmaker(engine)() as s:
        assert s.scalar(select(func.count()).select_from(Terminal)
                        .where(Terminal.carrier_id == tenant.carrier_id)) == 1


def test_a_terminal_revoked_by_another_process_stops_its_tokens_within_the_cache_lifetime(
    http: httpx.Client, tenant: Tenant, engine: Engine
) -> None:
    import time

    manager = tenant.login(http, Role.STATION_MANAGER)
    terminal_id = _register(http, manager, f"PDA-X-{tenant.slug}")
    courier = tenant.login(http, Role.COURIER, terminal_id=terminal_id)
    assert http.get("/api/v1/me", headers=courier).status_code == 200  # now cached by the server
    with engine.begin() as conn:  # another process (here: the test) revokes it in the database
        conn.execute(update(Terminal).where(Terminal.id == uuid.UUID(terminal_id)).values(revoked_at=now()))
    time.sleep(2.1)  # PARCELGUARD_AUTH_CACHE_SECONDS, default 2
    _problem(http.get("/api/v1/me", headers=courier), 401, "terminal_revoked")


def test_a_service_account_never_signs_in_even_with_its_password(http: httpx.Client, tenant: Tenant) -> None:
    # The telephony account routes calls through signed provider requests; a password, however right,
    # must not turn it into a bearer token that could call the gate's other routes.
    account = tenant.account(Role.TELEPHONY)
    r = http.post("/api/v1/auth/token", data={"username": account.username, "password": account.password})
    _problem(r, 401, "login_failed")
