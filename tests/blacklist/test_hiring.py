"""The blacklist at hiring, end to end over real HTTP on both engines: the carrier platform as `parcelguard run`
starts it (the blacklist on by its environment) registers staff documents and asks the blacklist; the carrier's
report route (in this process) reports a staff member. A listed person is refused where the carrier's policy
refuses (nothing written) and flagged where it flags; an appeal's removal lets them be hired again."""

from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy import Engine, func, select

from parcelguard.accounts import flows as account_flows
from parcelguard.audit.models import Alert, AuditEntry
from parcelguard.blacklist.client import BlacklistClient
from parcelguard.blacklist.platform import appeals
from parcelguard.blacklist.platform.keys import BlacklistKeys
from parcelguard.blacklist.service import Industry
from parcelguard.core import db
from parcelguard.core.auth import Role
from parcelguard.core.errors import ServiceUnavailable
from parcelguard.crypto.keyring import Keyring
from parcelguard.identity import service as identity
from parcelguard.identity.models import StaffDocument
from tests.blacklist.conftest import (
    TEST_INDUSTRY_KEY,
    Serve,
    forms,
    id_number,
    person_of,
    register_on_blacklist,
    staff,
)
from tests.servers import LiveServer
from tests.tenants import Tenant, writing


def written(engine: Engine, carrier_id: uuid.UUID) -> tuple[int, int, int]:
    """(staff documents, alerts, audit log entries) of a carrier."""
    with engine.connect() as conn:
        return tuple(int(conn.scalar(select(func.count()).select_from(m).where(m.carrier_id == carrier_id)) or 0)
                     for m in (StaffDocument, Alert, AuditEntry))  # type: ignore[return-value]


def industry_index(engine: Engine, user_id: uuid.UUID) -> bytes | None:
    with engine.connect() as conn:
        return conn.scalar(select(StaffDocument.industry_index).where(StaffDocument.user_id == user_id))


def register_document(http: httpx.Client, tenant: Tenant, user_id: uuid.UUID, number: str) -> httpx.Response:
    manager = tenant.login(http, Role.STATION_MANAGER)
    return http.put(f"/api/v1/staff/{user_id}/document", json={"number": number}, headers=manager)


@pytest.fixture
def http(hiring: LiveServer) -> httpx.Client:
    with httpx.Client(base_url=hiring.url, timeout=30) as client:
        yield client  # type: ignore[misc]


def test_a_reported_person_is_refused_where_the_policy_refuses_flagged_where_it_flags_and_hired_after_appeal(
    http: httpx.Client, serve: Serve, blacklist: str, engine: Engine, keyring: Keyring, blacklist_engine: Engine,
    blacklist_keys: BlacklistKeys,
) -> None:
    reporter, refuser, flagger = (Tenant.create(engine=engine, keyring=keyring) for _ in range(3))
    for tenant in (reporter, refuser, flagger):
        register_on_blacklist(engine, keyring, tenant, blacklist_engine)
    number = id_number()

    # Onboarding at the reporting carrier: not listed, registered, its industry hash kept.
    insider = staff(engine, reporter, "诸葛泄密")
    assert register_document(http, reporter, insider, number).status_code == 204
    assert industry_index(engine, insider) == person_of(number)

    # HQ security reports them; the report and the answer are one entry of the carrier's audit log.
    with httpx.Client(base_url=serve(blacklist_url=blacklist), timeout=30) as app:
        officer = reporter.login(app, Role.HQ_SECURITY)
        reported = app.post("/api/v1/blacklist/reports", headers=officer, json={
            "user_id": str(insider), "reason_code": "sold_user_data", "evidence_ref": "CASE-2026-0042"})
    assert reported.status_code == 201, reported.text
    out = reported.json()
    assert (out["status"], out["user_id"], out["reason_code"]) == ("listed", str(insider), "sold_user_data")
    with engine.connect() as conn:
        entry = conn.execute(select(AuditEntry).where(AuditEntry.carrier_id == reporter.carrier_id,
                                                      AuditEntry.idx == out["log_index"])).one()
    assert entry.purpose == "blacklist_reported" and entry.subject == (
        f"user:{insider}|blacklist_entry:{out['entry_id']}|reason:sold_user_data|evidence:CASE-2026-0042")

    # A carrier that refuses: the setting is changed by an admin and logged ...
    admin = refuser.login(http, Role.ADMIN)
    assert http.get("/api/v1/carrier/settings", headers=admin).json()["blacklist_policy"] == "flag"
    assert http.patch("/api/v1/carrier/settings", json={"blacklist_policy": "maybe"}, headers=admin).status_code == 422
    assert http.patch("/api/v1/carrier/settings", json={"blacklist_policy": "refuse"},
                      headers=refuser.login(http, Role.HQ_SECURITY)).status_code == 403
    changed = http.patch("/api/v1/carrier/settings", json={"blacklist_policy": "refuse"}, headers=admin)
    assert changed.status_code == 200 and changed.json()["blacklist_policy"] == "refuse"
    with engine.connect() as conn:
        assert conn.execute(select(AuditEntry.subject, AuditEntry.purpose).where(
            AuditEntry.carrier_id == refuser.carrier_id)).all() == [("setting:blacklist_policy", "setting_refuse")]
    # ... and the listed person, typed another way, is refused with nothing written.
    recruit = staff(engine, refuser, "司马应聘")
    before = written(engine, refuser.carrier_id)
    refused = register_document(http, refuser, recruit, forms(number)[3])  # `110105 19xxxxxx 123X`
    assert refused.status_code == 409 and refused.json()["code"] == "staff_blacklisted", refused.text
    assert written(engine, refuser.carrier_id) == before and industry_index(engine, recruit) is None
    for secret in (reporter.slug, str(reporter.carrier_id), "sold_user_data", "CASE-2026-0042", out["entry_id"],
                   *forms(number)):
        assert secret not in refused.text
    clean = staff(engine, refuser, "东方清白")
    assert register_document(http, refuser, clean, id_number()).status_code == 204

    # A carrier that flags: registered (the 15-digit form), logged, and HQ security alerted.
    flagged_recruit = staff(engine, flagger, "欧阳应聘")
    assert register_document(http, flagger, flagged_recruit, number[:6] + number[8:17]).status_code == 204
    assert industry_index(engine, flagged_recruit) == person_of(number)
    alerts = http.get("/api/v1/alerts", headers=flagger.login(http, Role.HQ_SECURITY)).json()
    assert [(a["kind"], a["actor_id"]) for a in alerts] == [("staff_blacklisted", str(flagged_recruit))]
    with engine.connect() as conn:
        logged = conn.execute(select(AuditEntry.subject, AuditEntry.purpose).where(
            AuditEntry.carrier_id == flagger.carrier_id)).all()
    assert logged == [(f"user:{flagged_recruit}", "staff_blacklisted")]

    # The person appeals; the operator removes the entry; the refusing carrier may hire them now.
    with db.make_sessionmaker(blacklist_engine)() as s, s.begin():
        [entry_view] = appeals.find_entries(db_session=s, keys=blacklist_keys, person=person_of(number))
        assert entry_view.carrier == reporter.slug and entry_view.status == "listed"
        opened = appeals.open_appeal(db_session=s, entry_id=entry_view.entry_id, grounds="Acquitted on appeal.",
                                     via_carrier=refuser.slug)
        appeals.decide(db_session=s, appeal_id=opened.appeal_id, decision="removed", reason="Court judgment.")
    assert register_document(http, refuser, recruit, number).status_code == 204
    with db.make_sessionmaker(blacklist_engine)() as s:
        [kept] = appeals.find_entries(db_session=s, keys=blacklist_keys, person=person_of(number))
        assert kept.status == "removed" and kept.removed_by_appeal == opened.appeal_id


def test_the_report_route_checks_who_what_and_says_when_the_blacklist_did_not_take_it(
    http: httpx.Client, serve: Serve, blacklist: str, engine: Engine, keyring: Keyring, blacklist_engine: Engine,
) -> None:
    tenant = Tenant.create(engine=engine, keyring=keyring)
    register_on_blacklist(engine, keyring, tenant, blacklist_engine)
    on_file, no_document = staff(engine, tenant, "上官在册"), staff(engine, tenant, "慕容无档")
    number = id_number()
    assert register_document(http, tenant, on_file, number).status_code == 204

    def report(url: str, role: Role, **body: str) -> httpx.Response:
        with httpx.Client(base_url=url, timeout=30) as app:
            return app.post("/api/v1/blacklist/reports", headers=tenant.login(app, role), json={
                "user_id": str(on_file), "reason_code": "leaked_user_data", "evidence_ref": "CASE-7", **body})

    url = serve(blacklist_url=blacklist)
    assert report(url, Role.COURIER).status_code == 403
    assert report(url, Role.ADMIN, user_id=str(uuid.uuid4())).json()["code"] == "user_unknown"
    missing = report(url, Role.HQ_SECURITY, user_id=str(no_document))
    assert (missing.status_code, missing.json()["code"]) == (422, "staff_document_missing")
    personal = report(url, Role.HQ_SECURITY, evidence_ref=f"ID-{number}")
    assert (personal.status_code, personal.json()["code"]) == (422, "evidence_ref_personal")
    assert not any(form in personal.text for form in forms(number))
    assert report(url, Role.HQ_SECURITY, reason_code="gossip").status_code == 422
    assert report(serve(), Role.HQ_SECURITY).json()["code"] == "blacklist_off"

    before = written(engine, tenant.carrier_id)
    down = report(serve(blacklist_url="http://127.0.0.1:9"), Role.HQ_SECURITY)  # nothing listens on port 9
    assert (down.status_code, down.json()["code"], down.json()["cause"]) == (503, "blacklist_unreachable",
                                                                             "unreachable")
    with engine.connect() as conn:  # the attempt is in the audit log all the same
        logged = conn.execute(select(AuditEntry.subject, AuditEntry.purpose).where(
            AuditEntry.carrier_id == tenant.carrier_id, AuditEntry.idx == down.json()["log_index"])).one()
    assert logged.purpose == "blacklist_report_unanswered" and down.json()["entry_id"] in logged.subject
    assert written(engine, tenant.carrier_id)[2] == before[2] + 1
    assert register_document(http, tenant, no_document, number).status_code == 204  # still not listed


@pytest.mark.parametrize("cause", ["unreachable", "carrier_key_unknown"])
def test_a_blacklist_that_cannot_answer_stops_hiring_under_refuse_and_raises_an_alert_under_flag(
    cause: str, blacklist: str, engine: Engine, keyring: Keyring, blacklist_engine: Engine,
) -> None:
    """Down (nothing listens), or refusing this carrier (its key is not registered there): under `refuse` the
    registration fails with 503 and writes nothing; under `flag` it is written, logged and alerted as unchecked."""
    tenant = Tenant.create(engine=engine, keyring=keyring)  # not registered on the blacklist
    url = "http://127.0.0.1:9" if cause == "unreachable" else blacklist
    industry = Industry(key=TEST_INDUSTRY_KEY, port=BlacklistClient(url=url, timeout=5))
    manager, admin = tenant.actor(Role.STATION_MANAGER), tenant.actor(Role.ADMIN)  # accounts made before writing
    recruit = staff(engine, tenant, "令狐待查")
    sessions = db.make_sessionmaker(engine)

    with writing(engine) as s:
        account_flows.change_carrier_settings(db_session=s, keyring=keyring, actor=admin,
                                              refuse_courier_own_id=None, blacklist_policy="refuse")
    before = written(engine, tenant.carrier_id)
    with pytest.raises(ServiceUnavailable) as refused, sessions() as s, s.begin():
        db.begin_write(s)
        identity.register_staff_document(db_session=s, keyring=keyring, actor=manager, user_id=recruit,
                                         doc_type=None, number=id_number(), blacklist=industry)
    assert (refused.value.code, refused.value.extensions) == ("blacklist_unreachable", {"cause": cause})
    assert written(engine, tenant.carrier_id) == before

    with writing(engine) as s:
        account_flows.change_carrier_settings(db_session=s, keyring=keyring, actor=admin,
                                              refuse_courier_own_id=None, blacklist_policy="flag")
        identity.register_staff_document(db_session=s, keyring=keyring, actor=manager, user_id=recruit,
                                         doc_type=None, number=(number := id_number()), blacklist=industry)
    assert industry_index(engine, recruit) == person_of(number)
    with engine.connect() as conn:
        alert = conn.execute(select(Alert).where(Alert.carrier_id == tenant.carrier_id)).one()
    assert (alert.kind, alert.actor_id, alert.detail["cause"]) == ("staff_blacklist_unchecked", recruit, cause)
    assert alert.audit_index is not None


def test_with_the_blacklist_off_a_staff_document_keeps_no_industry_hash(engine: Engine, keyring: Keyring) -> None:
    tenant = Tenant.create(engine=engine, keyring=keyring)
    recruit, manager = staff(engine, tenant, "皇甫照旧"), tenant.actor(Role.STATION_MANAGER)
    with writing(engine) as s:
        identity.register_staff_document(db_session=s, keyring=keyring, actor=manager,
                                         user_id=recruit, doc_type=None, number=id_number(), blacklist=None)
    assert industry_index(engine, recruit) is None
    assert written(engine, tenant.carrier_id) == (1, 0, 0)
