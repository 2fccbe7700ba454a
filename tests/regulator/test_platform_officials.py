"""Officials sign in to the regulator's platform with accounts of its own, over real HTTP on both engines;
nothing an official sees is served without a valid token."""

from __future__ import annotations

import hashlib
import os
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, select, update

from parcelguard.core.clock import now
from parcelguard.core.config import RegulatorSettings
from parcelguard.regulator.platform.models import Official, OfficialToken
from parcelguard.web.regulator_app import create_regulator_app
from tests.regulator.conftest import PERSON, Carrier
from tests.regulator.officials import PASSWORD, add_official, problem, send, sign_in, signed_in
from tests.servers import app_in_thread
from tests.support import parcelguard

OFFICIAL_ROUTES = [("GET", "/api/v1/me", None), ("GET", "/api/v1/stats/counts?by=carrier", None),
                   ("GET", "/api/v1/stats/delay", None), ("GET", "/api/v1/records?waybill_no=DE4718220365917", None),
                   ("POST", "/api/v1/records:lookup", {"number": PERSON["doc_number"]}),
                   ("GET", "/api/v1/lookups", None)]


def test_an_official_signs_in_and_sees_who_they_are(platform: str, platform_engine: Engine) -> None:
    username = add_official(platform_engine)
    answer = httpx.post(platform + "/api/v1/auth/token", data={"username": username, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["token_type"] == "bearer" and body["access_token"].startswith("pgt_")
    me = httpx.get(platform + "/api/v1/me", headers={"Authorization": f"Bearer {body['access_token']}"}).json()
    assert (me["username"], me["display_name"], me["role"]) == (username, "王监管", "regulator")


@pytest.mark.parametrize(("method", "path", "body"), OFFICIAL_ROUTES, ids=[p for _, p, _ in OFFICIAL_ROUTES])
def test_nothing_an_official_sees_is_served_without_a_token(
    platform: str, method: str, path: str, body: dict[str, str] | None,
) -> None:
    answer = httpx.request(method, platform + path, json=body)
    problem(answer, 401, "unauthenticated")
    assert answer.headers["www-authenticate"] == "Bearer"
    forged = httpx.request(method, platform + path, json=body, headers={"Authorization": "Bearer pgt_forged"})
    problem(forged, 401, "token_invalid")


def test_batches_and_receipt_keys_still_need_no_official(platform: str, carrier: Carrier) -> None:
    send(platform, carrier, [carrier.record(PERSON)])
    assert httpx.get(platform + "/api/v1/receipt-keys").status_code == 200


def test_the_platform_keeps_only_a_digest_of_the_token(platform: str, platform_engine: Engine) -> None:
    username = add_official(platform_engine)
    token = sign_in(platform, username)["Authorization"].removeprefix("Bearer ")
    with platform_engine.connect() as conn:
        stored = conn.execute(select(OfficialToken.token_hash).join(Official)
                              .where(Official.username == username)).scalars().all()
    assert stored == [hashlib.sha256(token.encode()).digest()]


def test_a_wrong_password_and_an_unknown_name_get_the_same_answer(platform: str, platform_engine: Engine) -> None:
    username = add_official(platform_engine)
    wrong = httpx.post(platform + "/api/v1/auth/token", data={"username": username, "password": "not the password"})
    unknown = httpx.post(platform + "/api/v1/auth/token", data={"username": "nobody-" + username,
                                                                 "password": PASSWORD})
    assert problem(wrong, 401, "login_failed")["detail"] == problem(unknown, 401, "login_failed")["detail"]


def test_carrier_staff_accounts_do_not_sign_in_to_the_platform(platform: str) -> None:
    """The platform's accounts are its own: the carrier platform's demo logins mean nothing here."""
    problem(httpx.post(platform + "/api/v1/auth/token", data={"username": "demo-admin", "password": "demo-password"}),
            401, "login_failed")


def test_five_failures_lock_the_username(platform: str, platform_engine: Engine) -> None:
    username = add_official(platform_engine)
    for _ in range(5):
        problem(httpx.post(platform + "/api/v1/auth/token", data={"username": username, "password": "wrong-1234"}),
                401, "login_failed")
    locked = httpx.post(platform + "/api/v1/auth/token", data={"username": username, "password": PASSWORD})
    problem(locked, 429, "login_locked")
    assert int(locked.headers["retry-after"]) > 0


def test_logout_expiry_and_a_disabled_account_stop_a_token_at_once(platform: str, platform_engine: Engine) -> None:
    username = add_official(platform_engine)
    out, expired, disabled = (sign_in(platform, username) for _ in range(3))
    assert httpx.post(platform + "/api/v1/auth/logout", headers=out).status_code == 204
    problem(httpx.get(platform + "/api/v1/me", headers=out), 401, "token_revoked")

    digest = hashlib.sha256(expired["Authorization"].removeprefix("Bearer ").encode()).digest()
    with platform_engine.begin() as conn:
        conn.execute(update(OfficialToken).where(OfficialToken.token_hash == digest)
                     .values(expires_at=now() - timedelta(seconds=1)))
    problem(httpx.get(platform + "/api/v1/me", headers=expired), 401, "token_expired")

    assert httpx.get(platform + "/api/v1/me", headers=disabled).status_code == 200
    with platform_engine.begin() as conn:
        conn.execute(update(Official).where(Official.username == username).values(active=False))
    problem(httpx.get(platform + "/api/v1/me", headers=disabled), 401, "account_disabled")
    problem(httpx.post(platform + "/api/v1/auth/token", data={"username": username, "password": PASSWORD}),
            401, "login_failed")


def test_signed_in_officials_see_the_figures(platform: str, platform_engine: Engine) -> None:
    headers = signed_in(platform, platform_engine)
    assert httpx.get(platform + "/api/v1/stats/counts?by=day", headers=headers).status_code == 200
    assert httpx.get(platform + "/api/v1/lookups", headers=headers).status_code == 200


# -- the command line -------------------------------------------------------------------------------





def test_users_add_makes_an_official_who_signs_in(tmp_path: Path, env: dict[str, str], fresh_url: str) -> None:
    assert parcelguard("regulator", "init", env=env).returncode == 0
    added = parcelguard("regulator", "users", "add", "wang.jianguan", "--display-name", "王监管", "--password-stdin",
                        env=env, stdin="a long enough password\n")
    assert added.returncode == 0, added.stderr
    assert added.stdout.startswith("official wang.jianguan (regulator) ")
    assert "a long enough password" not in added.stdout + added.stderr
    with app_in_thread(create_regulator_app(RegulatorSettings(var_dir=tmp_path / "var", database_url=fresh_url))) as url:
        me = httpx.get(url + "/api/v1/me", headers=sign_in(url, "wang.jianguan", "a long enough password")).json()
        assert me["display_name"] == "王监管"

    disabled = parcelguard("regulator", "users", "disable", "wang.jianguan", env=env)
    assert disabled.returncode == 0 and "disabled" in disabled.stdout


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (("Not A Name",), "a long enough password\n", "A username is"),
        (("short.password",), "short\n", "at least 10 characters"),
        (("taken",), "a long enough password\n", "This username is taken"),
        (("nobody",), None, "No official has this username"),
    ],
)
def test_a_users_mistake_is_one_line_and_a_non_zero_exit(
    env: dict[str, str], args: tuple[str, ...], stdin: str | None, message: str,
) -> None:
    assert parcelguard("regulator", "init", env=env).returncode == 0
    first = parcelguard("regulator", "users", "add", "taken", "--display-name", "甲", "--password-stdin", env=env,
                        stdin="a long enough password\n")
    assert first.returncode == 0, first.stderr
    if stdin is None:
        r = parcelguard("regulator", "users", "disable", *args, env=env)
    else:
        r = parcelguard("regulator", "users", "add", *args, "--display-name", "乙", "--password-stdin", env=env,
                        stdin=stdin)
    assert r.returncode == 1
    assert len(r.stderr.strip().splitlines()) == 1 and message in r.stderr and "Traceback" not in r.stderr


def test_every_new_regulator_command_has_useful_help() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARCELGUARD_")}
    for args in (("regulator", "users"), ("regulator", "users", "add"), ("regulator", "users", "disable"),
                 ("regulator", "lookups"), ("regulator", "lookups", "verify")):
        r = parcelguard(*args, "--help", env=env)
        assert r.returncode == 0 and "Usage" in r.stdout, args
