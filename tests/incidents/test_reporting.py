"""An incident report reaches the regulator (issue 14), on both engines, over real HTTP: the uploader sends the
signed report over the feed's channel; while the platform is down the report waits (the failure counted, nothing
lost); once it is up the report is stored once, verifies there with the carrier's registered key, and the
regulator's signed receipt is kept by the carrier; sending again sends nothing."""

from __future__ import annotations

import json
import socket

from sqlalchemy import select

from parcelguard.core import db
from parcelguard.core.auth import Role
from parcelguard.crypto import signing
from parcelguard.incidents import reporting, service
from parcelguard.incidents.models import IncidentReport
from parcelguard.regulator import incident_protocol
from parcelguard.regulator.platform.models import CarrierKey, ReceivedIncidentReport
from parcelguard.web.regulator_app import create_regulator_app
from tests.regulator.test_upload_faults import RECEIPT_KEYS, Feed, feed  # noqa: F401  (feed: a fixture)
from tests.servers import app_in_thread
from tests.tenants import writing


def reported_incident(feed: Feed) -> str:  # noqa: F811
    """An incident about a courier, contained, assessed, remedied and reported, by the service functions."""
    admin, courier = feed.tenant.actor(Role.ADMIN), feed.tenant.account(Role.COURIER)
    with writing(feed.engine) as s:
        view = service.open_by_hand(db_session=s, keyring=feed.keyring, actor=admin,
                                    summary="Labels photographed at the station", accounts=[courier.username])
        incident_id = view.incident.id
        for step in (service.contain, service.assess):
            step(db_session=s, keyring=feed.keyring, actor=admin, incident_id=incident_id)
        service.remedy(db_session=s, keyring=feed.keyring, actor=admin, incident_id=incident_id,
                       actions=["accounts_disabled", "retrained"], note="Station retrained.")
        sent = reporting.report(db_session=s, keyring=feed.keyring, actor=admin, incident_id=incident_id)
    return str(sent.row.id)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_report_reaches_the_regulator_once_and_verifies_there(feed: Feed) -> None:  # noqa: F811
    report_id = reported_incident(feed)
    down = feed.uploader(f"http://127.0.0.1:{closed_port()}")
    try:
        [(failed, error)] = down.send_reports(force=True)
    finally:
        down.close()
    assert (str(failed), error) == (report_id, "regulator_unreachable")
    with feed.engine.connect() as conn:
        row = conn.execute(select(IncidentReport.attempts, IncidentReport.receipt_at)).one()
    assert tuple(row) == (1, None)

    with app_in_thread(create_regulator_app(feed.platform_settings())) as url:
        uploader = feed.uploader(url)
        try:
            [(sent, error)] = uploader.send_reports(force=True)
            assert (str(sent), error) == (report_id, None)
            assert uploader.send_reports(force=True) == []  # acknowledged: nothing left to send
        finally:
            uploader.close()

    with db.make_sessionmaker(feed.engine)() as s:
        kept = s.scalars(select(IncidentReport)).one()
    receipt, signature = incident_protocol.parse_receipt(json.loads(kept.receipt))
    incident_protocol.verify_receipt(receipt, signature, RECEIPT_KEYS)
    assert str(receipt.report_id) == report_id and kept.receipt_at is not None and kept.last_error is None

    with db.make_sessionmaker(feed.platform_engine)() as s:
        [stored] = s.scalars(select(ReceivedIncidentReport)).all()
        public = s.scalars(select(CarrierKey.public_key).where(CarrierKey.key_id == kept.key_id)).one()
    # what the regulator holds is what the carrier signed, byte for byte, and it verifies with the registered key
    assert bytes(stored.body) == bytes(kept.body) and bytes(stored.signature) == bytes(kept.signature)
    signing.verify(public, incident_protocol.REPORT_DOMAIN + bytes(stored.body), bytes(stored.signature))
    body = json.loads(stored.body)
    assert (body["carrier"], body["accounts"], body["accounts_contained"]) == (feed.tenant.slug, 1, 1)
    assert body["remedy"] == {"actions": ["accounts_disabled", "retrained"], "note": "Station retrained."}
    with db.make_sessionmaker(feed.engine)() as s:
        assert reporting.unsent(db_session=s) == []
