"""The delivery scan over HTTP on both engines: the label's token is checked, the courier who holds the
delivery gets the address and a virtual number through the gate (purpose delivery), anyone else is
refused as for a label of no parcel and logged with the real reason, and `delivered` starts the virtual number's grace period."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import Engine, select, update

from parcelguard.core.auth import Role
from parcelguard.crypto import tokens
from parcelguard.privacy_numbers.models import NumberBinding
from parcelguard.shipments.models import Shipment
from parcelguard.tracking.models import ScanEvent
from parcelguard.waybills import service as waybills
from tests.privacy_numbers.pool import post_signed, secret_of
from tests.servers import LiveServer
from tests.support import count_rows
from tests.tenants import Tenant, writing
from tests.waybills.test_label_api import (
    CANARY_DIGITS,
    CANARY_TEXT,
    decoded,
    pdf_images,
    take_in,
    terminal_login,
    with_pool,
)


def scanned_token(http: httpx.Client, courier: dict[str, str], shipment_id: str) -> str:
    label = http.get(f"/api/v1/shipments/{shipment_id}/label", headers=courier)
    assert label.status_code == 200, label.text
    return decoded(pdf_images(label.content)[0])["QRCode"]


def test_the_assigned_courier_scans_to_deliver_and_calls_through_the_virtual_number(
    http: httpx.Client, server: LiveServer, engine: Engine, keyring, database_url: str, tenant: Tenant  # type: ignore[no-untyped-def]
) -> None:
    pool = with_pool(engine, tenant)
    courier = terminal_login(http, tenant)
    sid = take_in(http, courier, destination_station_id=str(tenant.stations[1]))["id"]
    token = scanned_token(http, courier, sid)
    deliverer = terminal_login(http, tenant, station=1)
    other = terminal_login(http, tenant, station=1, n=1)
    # Before the assignment, and for a colleague, the scan is refused as for a label of no parcel (so the
    # answer does not say the parcel exists), and the refusal logged with its real reason.
    before = http.post("/api/v1/scans", json={"token": token}, headers=deliverer)
    assert (before.status_code, before.json()["code"], before.json()["reason"]) == (
        404, "subject_unknown", "subject_unknown")
    manager = tenant.login(http, Role.STATION_MANAGER, station=1)
    courier_id = tenant.account(Role.COURIER, station=1).user_id
    assigned = http.post(f"/api/v1/shipments/{sid}/assign", json={"courier_id": str(courier_id)}, headers=manager)
    assert assigned.status_code == 201 and assigned.json()["task"] == "delivery"
    r = http.post("/api/v1/scans", json={"token": token}, headers=deliverer)
    assert r.status_code == 201, r.text
    got = r.json()
    assert got["recipient"]["name"] == "司马***" and got["recipient"]["address_detail"] == "收件大道9号 1单元 1202室"
    assert got["call"]["number"] == pool and re.fullmatch(r"\d{4}", got["call"]["extension"])
    assert got["call"]["extension"] in got["call"]["dial"] and got["status"] == "out_for_delivery"
    digits = re.sub(r"\D", "", r.text)
    assert not [c for c in CANARY_DIGITS if c in digits] and not [c for c in CANARY_TEXT if c in r.text]
    refused = http.post("/api/v1/scans", json={"token": token}, headers=other)
    assert refused.status_code == 404 and refused.json()["code"] == "subject_unknown"
    entries = http.get("/api/v1/audit/entries", params={"subject": f"shipment:{sid}"},
                       headers=tenant.login(http, Role.AUDITOR)).json()["items"]
    assert [(e["entry"]["decision"], e["entry"]["reason"]) for e in entries if e["entry"]["purpose"] == "delivery"
            ] == [("deny", "not_assigned"), ("allow", None), ("deny", "not_assigned")]
    assert count_rows(database_url, ScanEvent, ScanEvent.shipment_id == uuid.UUID(sid)) == 1
    # Delivered: the task closes, the binding gets its end (delivery + grace), the parcel is delivered.
    done = http.post("/api/v1/scans", json={"token": token, "event": "delivered"}, headers=deliverer)
    assert done.status_code == 201 and done.json()["status"] == "delivered" and done.json()["call"] is None
    with engine.connect() as conn:
        binding = conn.execute(select(NumberBinding).where(NumberBinding.shipment_id == uuid.UUID(sid))).one()
    assert binding.expires_at is not None
    again = http.post("/api/v1/scans", json={"token": token, "event": "delivered"}, headers=deliverer)
    assert again.status_code == 409 and again.json()["code"] == "already_delivered"
    assert not [c for c in CANARY_DIGITS + CANARY_TEXT if c in server.log_text()]


def test_a_bad_or_expired_token_is_refused_with_its_reason_and_nothing_recorded(
    http: httpx.Client, engine: Engine, keyring, database_url: str, tenant: Tenant, other_tenant: Tenant  # type: ignore[no-untyped-def]
) -> None:
    sid = take_in(http, terminal_login(http, tenant))["id"]
    courier = terminal_login(http, tenant, station=1)
    with writing(engine) as s:
        subject = s.scalar(select(Shipment.label_subject).where(Shipment.id == uuid.UUID(sid)))
        signer = keyring.signing_key(db_session=s, carrier_id=tenant.carrier_id, purpose=waybills.LABEL_TOKEN_PURPOSE)
        expired = tokens.issue(signer, kind="label", subject=subject, ttl_seconds=60, now=1_700_000_000)
    with writing(engine) as s:
        foreign_signer = keyring.signing_key(db_session=s, carrier_id=other_tenant.carrier_id,
                                             purpose=waybills.LABEL_TOKEN_PURPOSE)
        foreign = tokens.issue(foreign_signer, kind="label", subject=subject)
    for token, code in ((expired, "token_expired"), (foreign, "token_signature"), ("NOT-A-TOKEN", "token_format")):
        r = http.post("/api/v1/scans", json={"token": token}, headers=courier)
        assert r.status_code == 422 and r.json()["errors"][0]["code"] == code, r.text
    # Only a courier on a registered terminal scans.
    no_terminal = http.post("/api/v1/scans", json={"token": expired}, headers=tenant.login(http, Role.COURIER, n=2))
    assert no_terminal.status_code == 403 and no_terminal.json()["code"] == "terminal_required"
    assert count_rows(database_url, ScanEvent, ScanEvent.shipment_id == uuid.UUID(sid)) == 0


def test_a_courier_delivers_by_scanning_and_calling_through_the_virtual_number(
    http: httpx.Client, engine: Engine, keyring, tenant: Tenant  # type: ignore[no-untyped-def]
) -> None:
    """The whole delivery: scan the label, dial the call action, the provider asks where to connect (the
    recipient's real number, never shown to the courier), reports the call, and the courier sees its
    outcome on the next scan; after delivery plus the grace period the number stops routing."""
    with_pool(engine, tenant)
    courier = terminal_login(http, tenant)
    sid = take_in(http, courier, destination_station_id=str(tenant.stations[1]))["id"]
    token = scanned_token(http, courier, sid)
    deliverer = terminal_login(http, tenant, station=1)
    http.post(f"/api/v1/shipments/{sid}/assign", headers=tenant.login(http, Role.STATION_MANAGER, station=1),
              json={"courier_id": str(tenant.account(Role.COURIER, station=1).user_id)})
    call = http.post("/api/v1/scans", json={"token": token}, headers=deliverer).json()["call"]
    secret = secret_of(engine, keyring, tenant)
    routed = post_signed(http, "/api/v1/privacy-numbers/route", {
        "called": call["number"], "extension": call["extension"], "caller": "+8613000000000",
        "call_id": "c-" + uuid.uuid4().hex}, secret)
    assert routed.status_code == 200 and routed.json()["target"] == "+8613733334444"
    started = datetime.now(UTC)  # just now: after the binding was made, as a real call would be
    record = {"call_id": "c-" + uuid.uuid4().hex, "called": call["number"], "extension": call["extension"],
              "started_at": started.isoformat(), "ended_at": (started + timedelta(seconds=90)).isoformat(),
              "outcome": "answered"}
    stored = post_signed(http, "/api/v1/privacy-numbers/call-records", record, secret)
    assert stored.status_code == 201, stored.text
    again = http.post("/api/v1/scans", json={"token": token}, headers=deliverer).json()
    assert [(c["outcome"], c["duration_s"]) for c in again["calls"]] == [("answered", 90)]
    assert "13733334444" not in re.sub(r"\D", "", json.dumps(again))
    http.post("/api/v1/scans", json={"token": token, "event": "delivered"}, headers=deliverer)
    with engine.begin() as conn:  # the grace period passes
        conn.execute(update(NumberBinding).where(NumberBinding.shipment_id == uuid.UUID(sid))
                     .values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    late = post_signed(http, "/api/v1/privacy-numbers/route", {
        "called": call["number"], "extension": call["extension"], "caller": "+8613000000000",
        "call_id": "c-" + uuid.uuid4().hex}, secret)
    assert late.status_code == 410 and late.json()["code"] == "binding_expired"
