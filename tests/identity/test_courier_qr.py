"""The courier QR over HTTP: a genuine courier checks out; a fake, expired or revoked one does not."""

from __future__ import annotations

import httpx
from sqlalchemy import Engine, update

from parcelguard.accounts.models import User
from parcelguard.core.auth import Role
from parcelguard.crypto import tokens
from parcelguard.waybills.masking import mask_name
from tests.tenants import Tenant


def test_the_public_can_tell_a_genuine_courier(http: httpx.Client, engine: Engine, tenant: Tenant) -> None:
    courier = tenant.login(http, Role.COURIER)
    issued = http.post("/api/v1/couriers/me/qr-token", headers=courier)
    assert issued.status_code == 200, issued.text
    token = issued.json()["token"]
    assert len(token) == tokens.TOKEN_LENGTH and token.isalnum()
    check = http.get("/api/v1/public/couriers/verify", params={"token": token.lower()}).json()
    account = tenant.account(Role.COURIER)
    assert check["genuine"] is True and check["status"] == "active"
    assert check["courier"] == mask_name(account.username) and check["courier"].startswith("t*")
    assert check["station"] == "Station 1" and check["carrier"] == f"Carrier {tenant.slug}"
    assert account.username not in str(check) and str(account.user_id) not in str(check)

    # Tampered, or not a courier token at all: the same shape, genuine false, and a reason.
    forged = token[:40] + ("A" if token[40] != "A" else "B") + token[41:]
    for bad, reason in ((forged, "token_signature"), ("not-a-token", "token_format")):
        answer = http.get("/api/v1/public/couriers/verify", params={"token": bad})
        assert answer.status_code == 200 and set(answer.json()) == set(check)
        assert answer.json()["genuine"] is False and answer.json()["reason"] in (reason, "token_format")

    # A courier whose account is disabled is shown as such.
    with engine.begin() as conn:
        conn.execute(update(User).where(User.id == account.user_id).values(active=False))
    check = http.get("/api/v1/public/couriers/verify", params={"token": token}).json()
    assert (check["genuine"], check["status"], check["reason"]) == (False, "inactive", "courier_inactive")


def test_only_couriers_get_a_courier_token(http: httpx.Client, tenant: Tenant) -> None:
    manager = tenant.login(http, Role.STATION_MANAGER)
    assert http.post("/api/v1/couriers/me/qr-token", headers=manager).status_code == 403
