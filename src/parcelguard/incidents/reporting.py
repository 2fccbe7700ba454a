"""Reporting an incident to the regulator (issue 14): the report (`regulator.incident_protocol`) is built from the
incident's record, signed with the carrier's upload key (the feed's key, registered on the regulator's
platform) and kept exactly as signed; the uploader (`regulator.uploader`) sends every report without a
receipt, and only a receipt signed by the regulator's key that names the report marks it received. So a
report made while the platform is unreachable goes when it comes back, and a report is never sent twice
with different contents. Knows nothing of HTTP.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from parcelguard.accounts import service as accounts
from parcelguard.core.auth import Actor
from parcelguard.core.clock import now
from parcelguard.core.errors import Conflict, NotFound
from parcelguard.crypto import signing
from parcelguard.crypto.keyring import Keyring
from parcelguard.incidents import service
from parcelguard.incidents.models import IncidentReport
from parcelguard.regulator import incident_protocol as wire
from parcelguard.regulator.flows import UPLOAD_KEY_PURPOSE
from parcelguard.regulator.protocol import ProtocolError, b64, canonical

REPORTS_PATH = "/api/v1/incident-reports"


@dataclass(frozen=True)
class Sent:
    """A stored report: its wire object as sent, and the receipt when the regulator answered."""

    row: IncidentReport

    @property
    def wire(self) -> dict[str, Any]:
        return {**json.loads(self.row.body), "signature": b64(self.row.signature)}

    @property
    def receipt(self) -> dict[str, Any] | None:
        return json.loads(self.row.receipt) if self.row.receipt is not None else None


def report(*, db_session: Session, keyring: Keyring, actor: Actor, incident_id: uuid.UUID,
           request_id: str | None = None) -> Sent:
    """Sign the incident's report and queue it for the uploader. Needs the remedy recorded, and every account
    of the incident contained; the incident's record is final afterwards."""
    service.require_actor(actor)
    view = service.get(db_session=db_session, actor=actor, incident_id=incident_id)
    incident = view.incident
    if incident.status == "reported":
        raise Conflict("The incident was reported already.", code="incident_reported")
    if incident.status != "remedied":
        raise Conflict("Assess the incident and record the remedy before reporting it.",
                       code="incident_not_remedied")
    if view.accounts and any(view.disabled.get(a.user_id) is None for a in view.accounts):
        raise Conflict("Contain the incident first: an account it concerns is still enabled.",
                       code="incident_not_contained")
    carrier = accounts.get_carrier(db_session=db_session, carrier_id=incident.carrier_id)
    stations = {s.id: s.code for s in accounts.list_stations(db_session=db_session, carrier_id=incident.carrier_id)}
    found = incident.assessment or {}
    signer = keyring.signing_key(db_session=db_session, carrier_id=incident.carrier_id, purpose=UPLOAD_KEY_PURPOSE)
    at = now()
    body = wire.Report(
        carrier=carrier.slug, report_id=uuid.uuid4(), incident=incident.reference, reported_at=at,
        key_id=signing.key_id(signer.public_key), kind=incident.kind, opened_at=incident.opened_at,
        contained_at=incident.contained_at, since=datetime.fromisoformat(found["since"]),
        until=datetime.fromisoformat(found["until"]), accounts=len(view.accounts),
        accounts_contained=sum(1 for a in view.accounts if view.disabled.get(a.user_id) is not None),
        stations=tuple(sorted({stations[a.station_id] for a in view.accounts if a.station_id in stations})),
        reveals=int(found["reveals"]), subjects=int(found["subjects"]), fields=dict(found["fields"]),
        denied=int(found["denied"]), actions=tuple(incident.remedy_actions or ()), note=incident.remedy_note or "",
        summary=incident.summary)
    message = body.body()
    row = IncidentReport(id=body.report_id, incident_id=incident.id, carrier_id=incident.carrier_id, created_at=at,
                         created_by=actor.user_id, body=canonical(message),
                         signature=signer.sign(wire.REPORT_DOMAIN + canonical(message)), key_id=body.key_id)
    db_session.add(row)
    incident.status, incident.reported_at = "reported", at
    service.log_step(db_session, keyring, actor, incident, "report", request_id)
    db_session.flush()
    return Sent(row)


def report_of(*, db_session: Session, actor: Actor, incident_id: uuid.UUID) -> Sent:
    view = service.get(db_session=db_session, actor=actor, incident_id=incident_id)
    row = db_session.scalar(select(IncidentReport).where(IncidentReport.incident_id == view.incident.id))
    if row is None:
        raise NotFound("The incident has not been reported yet.", code="report_unknown")
    return Sent(row)


# -- the uploader's side ------------------------------------------------------------------------------

def unsent(*, db_session: Session, limit: int = 20) -> list[Sent]:
    """Reports the regulator has not acknowledged, oldest first, across carriers."""
    return [Sent(r) for r in db_session.scalars(select(IncidentReport).where(IncidentReport.receipt_at.is_(None))
                                               .order_by(IncidentReport.created_at).limit(limit))]


def apply_receipt(*, db_session: Session, report_id: uuid.UUID, receipt_wire: object,
                  receipt_keys: dict[str, bytes]) -> None:
    """Keep the regulator's receipt once it verifies and names this report and its carrier; else raise
    `ProtocolError` (the report stays unsent)."""
    row = db_session.get(IncidentReport, report_id)
    if row is None:
        raise ProtocolError("report_unknown", "/report_id", "No such report here.")
    receipt, signature = wire.parse_receipt(receipt_wire)
    wire.verify_receipt(receipt, signature, receipt_keys)
    sent = json.loads(row.body)
    if receipt.report_id != row.id or receipt.carrier != sent["carrier"]:
        raise ProtocolError("receipt_mismatch", "/report_id", "The receipt names another report.")
    row.receipt, row.receipt_at = canonical(receipt_wire), now()
    row.attempts, row.last_attempt_at, row.last_error = row.attempts + 1, now(), None


def record_failure(*, db_session: Session, report_id: uuid.UUID, error: str) -> None:
    db_session.execute(update(IncidentReport).where(IncidentReport.id == report_id).values(
        attempts=IncidentReport.attempts + 1, last_attempt_at=now(), last_error=error[:200]))
