"""Incidents (issue 14) over real HTTP on both engines: a touched honeytoken opens an incident at once; HQ security
or the admin contain it (the accounts stop signing in), assess it from the gate's own log, record the remedy and
sign the report to the regulator with the carrier's upload key; the PDF carries the same report. Refusals write
nothing; texts that look like personal data are refused; every step is in the tamper-evident log."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pypdfium2 as pdfium
import pytest
from sqlalchemy import Engine, func, select

from parcelguard.audit.models import AuditEntry
from parcelguard.core import db
from parcelguard.core.auth import Role
from parcelguard.core.errors import Invalid
from parcelguard.crypto import signing
from parcelguard.crypto.keyring import Keyring
from parcelguard.incidents.models import Incident, IncidentAccount, IncidentReport, IncidentSubject
from parcelguard.incidents.service import check_text
from parcelguard.regulator import incident_protocol
from parcelguard.regulator.flows import UPLOAD_KEY_PURPOSE
from tests.shipments.test_honeytokens import plant
from tests.tenants import CANARY, Tenant


def incidents(engine: Engine, tenant: Tenant) -> list[Incident]:
    with engine.connect() as conn:
        return list(conn.execute(select(Incident).where(Incident.carrier_id == tenant.carrier_id)
                                 .order_by(Incident.opened_at)))


def steps(engine: Engine, tenant: Tenant, incident_id: str) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(select(AuditEntry.purpose).where(
            AuditEntry.carrier_id == tenant.carrier_id, AuditEntry.subject == f"incident:{incident_id}")
            .order_by(AuditEntry.idx)).scalars())


def upload_key(engine: Engine, keyring: Keyring, tenant: Tenant) -> bytes:
    with db.make_sessionmaker(engine)() as s:
        keys = keyring.public_keys(db_session=s, carrier_id=tenant.carrier_id, purpose=UPLOAD_KEY_PURPOSE)
    assert len(keys) == 1
    return next(iter(keys.values()))


def assert_no_personal_data(text: str) -> None:
    for value in (CANARY.recipient_name, CANARY.sender_name, CANARY.recipient_phone[3:], CANARY.sender_phone[3:],
                  "收件路", "寄件路"):
        assert value not in text


def insider_touches_a_decoy(http: httpx.Client, keyring: Keyring, tenant: Tenant) -> tuple[dict[str, str], str]:
    """HQ security's second account reveals a real parcel and a decoy under a case: answers its headers and
    the real parcel's id."""
    decoy = plant(http, tenant, count=1)[0]
    real = tenant.shipment(keyring)
    insider = tenant.login(http, Role.HQ_SECURITY, n=1)
    case = http.post("/api/v1/audit/cases", headers=insider, json={"reference": f"C-{uuid.uuid4().hex[:6]}",
                                                                   "summary": "routine review"}).json()
    for subject, fields in ((real, ["recipient_name", "recipient_phone"]), (decoy["shipment_id"], ["recipient_name"])):
        r = http.post("/api/v1/reveals", headers=insider, json={
            "subject": f"shipment:{subject}", "fields": fields, "purpose": "investigation", "case_id": case["id"]})
        assert r.status_code == 200, r.text
    return insider, str(real)


def test_a_honeytoken_incident_from_alert_to_signed_report(
    http: httpx.Client, engine: Engine, keyring: Keyring, tenant: Tenant
) -> None:
    insider, real = insider_touches_a_decoy(http, keyring, tenant)
    [incident] = incidents(engine, tenant)  # opened by the gate, in the touch's transaction
    assert (incident.source, incident.kind, incident.status, incident.opened_by) == ("honeytoken", "honeytoken",
                                                                                     "open", None)
    assert incident.reference.startswith("INC-")
    admin = tenant.login(http, Role.ADMIN)
    [listed] = http.get("/api/v1/incidents?status=active", headers=admin).json()["incidents"]
    assert [a["username"] for a in listed["accounts"]] == [tenant.account(Role.HQ_SECURITY, n=1).username]
    path = f"/api/v1/incidents/{listed['id']}"

    # the steps go in order: no remedy before an assessment, no report before a remedy; nothing written
    assert http.post(f"{path}:remedy", headers=admin, json={"actions": ["accounts_disabled"]}).json()["code"] \
        == "incident_not_assessed"
    assert http.post(f"{path}:report", headers=admin).json()["code"] == "incident_not_remedied"
    assert steps(engine, tenant, listed["id"]) == []

    contained = http.post(f"{path}:contain", headers=admin)
    assert contained.status_code == 200 and contained.json()["status"] == "contained"
    assert contained.json()["accounts"][0]["active"] is False
    assert http.get("/api/v1/me", headers=insider).status_code == 401  # its token was revoked

    assessed = http.post(f"{path}:assess", headers=admin).json()
    found = assessed["assessment"]
    assert (found["reveals"], found["subjects"], found["denied"]) == (2, 2, 0)
    assert found["fields"] == {"recipient_name": 2, "recipient_phone": 1}
    with engine.connect() as conn:
        parcels = set(conn.execute(select(IncidentSubject.shipment_id)
                                   .where(IncidentSubject.incident_id == incident.id)).scalars())
    assert uuid.UUID(real) in parcels and len(parcels) == 2

    bad = http.post(f"{path}:remedy", headers=admin, json={"actions": ["accounts_disabled", "apologised"]})
    assert (bad.status_code, bad.json()["code"]) == (422, "remedy_actions")
    assert bad.json()["errors"][0]["pointer"] == "/actions/1"
    quoted = http.post(f"{path}:remedy", headers=admin, json={"actions": ["subjects_notified"],
                                                              "note": "called 13787654321 to apologise"})
    assert (quoted.status_code, quoted.json()["code"]) == (422, "text_personal_data")
    assert "13787654321" not in quoted.text
    assert http.get(path, headers=admin).json()["status"] == "assessed"  # neither refusal wrote

    remedied = http.post(f"{path}:remedy", headers=admin, json={
        "actions": ["accounts_disabled", "tokens_revoked", "subjects_notified"], "note": "Two recipients told."})
    assert remedied.json()["status"] == "remedied"
    reported = http.post(f"{path}:report", headers=admin)
    assert reported.status_code == 201, reported.text
    wire: dict[str, Any] = reported.json()["report"]
    report, signature = incident_protocol.parse_report(json.loads(json.dumps(wire)))
    incident_protocol.verify_report(report, signature, upload_key(engine, keyring, tenant))
    assert (report.carrier, report.incident, report.accounts, report.accounts_contained) == (
        tenant.slug, incident.reference, 1, 1)
    assert (report.reveals, report.subjects, report.fields) == (2, 2, {"recipient_name": 2, "recipient_phone": 1})
    assert report.actions == ("accounts_disabled", "tokens_revoked", "subjects_notified")
    assert_no_personal_data(reported.text)
    assert reported.json()["receipt"] is None  # the uploader sends it (tests/incidents/test_reporting.py)

    # the record is final: a second report, another remedy are refused
    assert http.post(f"{path}:report", headers=admin).json()["code"] == "incident_reported"
    assert http.post(f"{path}:remedy", headers=admin, json={"actions": ["other"]}).json()["code"] == "incident_closed"
    assert steps(engine, tenant, listed["id"]) == ["incident_contain", "incident_assess", "incident_remedy",
                                                   "incident_report"]

    # the PDF is the same report, in words
    auditor = tenant.login(http, Role.AUDITOR)
    pdf = http.get(f"{path}/report.pdf", headers=auditor)
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    text = "".join(page.get_textpage().get_text_range() for page in pdfium.PdfDocument(pdf.content))
    assert incident.reference in text and "停用账号" in text and "告知用户" in text and wire["key_id"] in text
    assert_no_personal_data(text)
    english = http.get(f"{path}/report.pdf?lang=en", headers=auditor).content
    assert "accounts disabled" in "".join(p.get_textpage().get_text_range() for p in pdfium.PdfDocument(english))
    assert http.get(path, headers=auditor).json()["report"]["receipt_at"] is None


def test_a_second_decoy_touched_by_the_same_account_joins_its_incident(
    http: httpx.Client, engine: Engine, keyring: Keyring, tenant: Tenant
) -> None:
    insider, _ = insider_touches_a_decoy(http, keyring, tenant)
    decoy = plant(http, tenant, count=1)[0]
    assert http.get(f"/api/v1/shipments/{decoy['shipment_id']}", headers=insider).status_code == 200
    [incident] = incidents(engine, tenant)
    assert len(http.get(f"/api/v1/incidents/{incident.id}", headers=tenant.login(http, Role.AUDITOR))
               .json()["alert_ids"]) == 2


def test_opening_by_hand_and_dismissing(http: httpx.Client, engine: Engine, tenant: Tenant) -> None:
    officer = tenant.login(http, Role.HQ_SECURITY)
    courier = tenant.account(Role.COURIER)
    quoted = http.post("/api/v1/incidents", headers=officer, json={
        "summary": "courier photographed label of 110105194912310021", "accounts": [courier.username]})
    assert (quoted.status_code, quoted.json()["code"], quoted.json()["errors"][0]["pointer"]) == (
        422, "text_personal_data", "/summary")
    unknown = http.post("/api/v1/incidents", headers=officer, json={"summary": "photos of labels",
                                                                    "accounts": [courier.username, "nobody-here"]})
    assert (unknown.status_code, unknown.json()["code"]) == (422, "account_unknown")
    assert incidents(engine, tenant) == []  # neither refusal wrote

    opened = http.post("/api/v1/incidents", headers=officer, json={"summary": "Photos of labels in a chat group",
                                                                   "accounts": [courier.username]})
    assert opened.status_code == 201, opened.text
    body = opened.json()
    assert (body["source"], body["kind"], body["status"]) == ("manual", "manual", "open")
    path = f"/api/v1/incidents/{body['id']}"
    courier_headers = tenant.login(http, Role.COURIER)
    assert http.get(path, headers=courier_headers).status_code == 403
    assert http.post(f"{path}:dismiss", headers=tenant.login(http, Role.AUDITOR),
                     json={"reason": "x"}).status_code == 403
    for since, code in (("2026-12-01T00:00:00", "time_offset_missing"), ("2099-01-01T00:00:00Z", "window_invalid")):
        refused = http.post(f"{path}:assess", headers=officer, json={"since": since})
        assert (refused.status_code, refused.json()["code"], refused.json()["errors"][0]["pointer"]) == (
            422, code, "/since")
    assert http.get(path, headers=officer).json()["assessed_at"] is None
    dismissed = http.post(f"{path}:dismiss", headers=officer, json={"reason": "The photos showed masked labels."})
    assert dismissed.json()["status"] == "dismissed"
    assert http.post(f"{path}:contain", headers=officer).json()["code"] == "incident_closed"
    assert http.get("/api/v1/me", headers=courier_headers).status_code == 200  # never contained
    assert steps(engine, tenant, body["id"]) == ["incident_open", "incident_dismiss"]


def test_an_officer_cannot_contain_an_incident_about_themselves(http: httpx.Client, engine: Engine,
                                                               tenant: Tenant) -> None:
    officer = tenant.login(http, Role.HQ_SECURITY)
    me = tenant.account(Role.HQ_SECURITY)
    opened = http.post("/api/v1/incidents", headers=officer, json={"summary": "My own laptop was stolen",
                                                                   "accounts": [me.username]}).json()
    refused = http.post(f"/api/v1/incidents/{opened['id']}:contain", headers=officer)
    assert (refused.status_code, refused.json()["code"]) == (403, "contain_self")
    with engine.connect() as conn:
        disabled = conn.execute(select(func.count()).select_from(IncidentAccount).where(
            IncidentAccount.incident_id == uuid.UUID(opened["id"]), IncidentAccount.disabled_at.is_not(None))).scalar()
    assert disabled == 0 and http.get("/api/v1/me", headers=officer).status_code == 200
    admin = tenant.login(http, Role.ADMIN)
    assert http.post(f"/api/v1/incidents/{opened['id']}:contain", headers=admin).json()["status"] == "contained"


@pytest.mark.parametrize("text", ["call +86 137 8765 4321", "id 11010519491231002X", "13912345678"])
def test_texts_shaped_like_personal_data_are_refused(text: str) -> None:
    with pytest.raises(Invalid) as refused:
        check_text(text, "/note")
    assert refused.value.code == "text_personal_data" and text not in str(refused.value)
    assert check_text("Two recipients told; courier dismissed.", "/note") == "Two recipients told; courier dismissed."


def test_no_report_row_for_a_refused_report(http: httpx.Client, engine: Engine, tenant: Tenant) -> None:
    officer = tenant.login(http, Role.HQ_SECURITY)
    opened = http.post("/api/v1/incidents", headers=officer, json={"summary": "Lost scanner"}).json()
    assert http.post(f"/api/v1/incidents/{opened['id']}:report", headers=officer).status_code == 409
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(IncidentReport).where(
            IncidentReport.incident_id == uuid.UUID(opened["id"]))).scalar() == 0


def test_the_report_verifies_only_as_signed() -> None:
    private, public = signing.generate()

    at = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)
    report = incident_protocol.Report(
        carrier="zt", report_id=uuid.uuid4(), incident="INC-20261206-0001", reported_at=at,
        key_id=signing.key_id(public), kind="honeytoken", opened_at=at, contained_at=at, since=at, until=at,
        accounts=1, accounts_contained=1, stations=("ST-1",), reveals=2, subjects=2, fields={"recipient_name": 2},
        denied=0, actions=("accounts_disabled",), note="", summary="A decoy was revealed.")
    wire = report.signed(lambda m: signing.sign(private, m))
    wire["reveals"] = 1
    parsed, signature = incident_protocol.parse_report(wire)
    with pytest.raises(incident_protocol.ProtocolError) as bad:
        incident_protocol.verify_report(parsed, signature, public)
    assert bad.value.code == "report_signature"
