"""Opening an incident, by hand or by the gate (issue 14): a touched honeytoken is an incident at once, opened
in the same transaction as the touch's alert. Imports only incidents' tables and `core`, so the gate
(`audit.service.trip_honeytokens`) may call it without a cycle; the workflow after opening is `service`'s.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import exists, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from parcelguard.core.clock import now
from parcelguard.incidents.models import Incident, IncidentAccount, IncidentAlert

OPEN = ("open", "contained", "assessed", "remedied")  # statuses before the report (or a dismissal) ends one
BEIJING = timedelta(hours=8)
HONEYTOKEN = "honeytoken"


def reference_day(moment: datetime) -> str:
    return (moment + BEIJING).strftime("%Y%m%d")


def open_incident(*, db_session: Session, carrier_id: uuid.UUID, kind: str, source: str, summary: str,
                  opened_by: uuid.UUID | None, account_ids: Sequence[uuid.UUID] = (),
                  alert_ids: Sequence[uuid.UUID] = ()) -> Incident:
    """A new incident with the next reference of the Beijing day (`INC-20261206-0001`). Two openings at
    once may pick the same number: the loser's savepoint rolls back and it counts again."""
    at = now()
    prefix = f"INC-{reference_day(at)}-"
    for _ in range(20):
        taken = db_session.scalar(select(func.count()).select_from(Incident).where(
            Incident.carrier_id == carrier_id, Incident.reference.like(prefix + "%")))
        incident = Incident(id=uuid.uuid4(), carrier_id=carrier_id, reference=f"{prefix}{int(taken or 0) + 1:04d}",
                            kind=kind, source=source, status="open", summary=summary, opened_at=at,
                            opened_by=opened_by)
        try:
            with db_session.begin_nested():
                db_session.add(incident)
                db_session.flush()
        except IntegrityError:
            continue
        break
    else:  # pragma: no cover  (twenty openings in the same instant)
        raise RuntimeError("could not number a new incident")
    for user_id in dict.fromkeys(account_ids):
        db_session.add(IncidentAccount(incident_id=incident.id, user_id=user_id, added_at=at))
    for alert_id in dict.fromkeys(alert_ids):
        db_session.add(IncidentAlert(alert_id=alert_id, incident_id=incident.id))
    db_session.flush()
    return incident


def open_for_honeytoken(*, db_session: Session, carrier_id: uuid.UUID, alert_id: uuid.UUID,
                        actor_id: uuid.UUID | None) -> Incident:
    """The incident of a honeytoken alert: the account's open honeytoken incident takes the alert in (one
    person touching three decoys is one incident), else a new one concerning the account. A touch by the
    public tracking lookup (no account) joins the day's open honeytoken incident without accounts."""
    query = select(Incident).where(Incident.carrier_id == carrier_id, Incident.source == HONEYTOKEN,
                                   Incident.status.in_(OPEN))
    has_account = exists().where(IncidentAccount.incident_id == Incident.id)
    if actor_id is not None:
        query = query.where(exists().where(IncidentAccount.incident_id == Incident.id,
                                           IncidentAccount.user_id == actor_id))
    else:
        query = query.where(~has_account, Incident.reference.like(f"INC-{reference_day(now())}-%"))
    incident = db_session.scalars(query.order_by(Incident.opened_at).limit(1)).first()
    if incident is not None:
        db_session.add(IncidentAlert(alert_id=alert_id, incident_id=incident.id))
        db_session.flush()
        return incident
    summary = ("A decoy parcel was revealed, printed or looked up by a staff account." if actor_id is not None
               else "A decoy parcel was looked up in public tracking.")
    return open_incident(db_session=db_session, carrier_id=carrier_id, kind=HONEYTOKEN, source=HONEYTOKEN,
                         summary=summary, opened_by=None, account_ids=[actor_id] if actor_id else [],
                         alert_ids=[alert_id])
